from minibench.envs.base import Env


class LibraryEnv(Env):
    def __init__(self):
        super().__init__()
        self.terminate_tools = ["transfer_to_librarian"]
