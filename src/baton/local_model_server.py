"""The embedded local model's server process: llama-cpp-python's OpenAI-compatible server, with
chat prompts rendered verbatim (``python -m baton.local_model_server <llama_cpp.server flags>``).

llama-cpp-python's ``chatml-function-calling`` chat handler (the one that gives a GGUF model tool
calls) renders its prompt template with Jinja's HTML autoescape on: every apostrophe, quote and
angle bracket of every message reaches the model as an HTML entity (``didn't`` becomes
``didn&#39;t``, a tool result's JSON quotes ``&#34;``). The model is then measured on a prompt
nobody sent it, and copies the entities into its tool arguments and answers. A prompt is not
HTML, so here every chat template renders with autoescape off; nothing else of the server changes.
"""

from __future__ import annotations

import runpy
import sys
from typing import Any


def render_prompts_verbatim() -> bool:
    """Make llama-cpp-python's chat handlers render prompts without HTML escaping (idempotent).

    Returns False when the installed llama-cpp-python has no such template environment to adjust."""
    from llama_cpp import llama_chat_format

    base = getattr(llama_chat_format, "ImmutableSandboxedEnvironment", None)
    if base is None:
        return False
    if getattr(base, "baton_verbatim", False):
        return True

    class VerbatimEnvironment(base):  # type: ignore[misc, valid-type]
        """A sandboxed template environment that never escapes: prompts are plain text."""

        baton_verbatim = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["autoescape"] = False
            super().__init__(*args, **kwargs)

    llama_chat_format.ImmutableSandboxedEnvironment = VerbatimEnvironment  # type: ignore[misc]
    return True


def main() -> None:
    """Run ``llama_cpp.server`` with this process's arguments, prompts rendered verbatim."""
    render_prompts_verbatim()
    sys.argv[0] = "llama_cpp.server"
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
