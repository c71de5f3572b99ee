"""Keys never reach what Baton writes, even after a user's mistake: a key pasted where its
variable's name belongs, an ``api_key`` field, a key in ``base_url``, a model reply or an error
message that quotes the key."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from baton.cli import main
from baton.errors import ConfigError
from baton.redact import MASK, redact, redact_bytes, register_key_variables
from baton.vendor_config import load_profiles

REPO = Path(__file__).resolve().parent.parent
KEY = "sk-proj-Zx81hQ0aV3mB2nC4dE5fG6hJ7kL8"  # shaped like an OpenAI key
ODD_KEY = "zq-7f3e9a1c5b2d8e4f6a0b"  # a key with no well-known shape: redacted as api_key_env's value


import stub_vendor  # noqa: E402 - tests/ is on sys.path (conftest.py)


@pytest.mark.parametrize("table, field", [
    (f'api_key_env = "{KEY}"', "api_key_env"),
    (f'api_key_env = "{ODD_KEY}"', "api_key_env"),
    ('api_key_env = "Zx81hQ0aV3mB2nC4dE5fG6hJ7kL8"', "api_key_env"),  # a key that is a valid identifier
    (f'api_key = "{ODD_KEY}"', "api_key"),
    (f'base_url = "https://api.example.com/v1?api_key={ODD_KEY}"', "base_url"),
    (f'base_url = "https://user:{ODD_KEY}@api.example.com/v1"', "base_url"),
])
def test_a_key_in_the_profile_is_refused_without_echoing_it(tmp_path: Path, capsys, table: str, field: str):
    path = tmp_path / "vendors.toml"
    path.write_text(f'[mine]\nmodel = "m"\n{table}\n')
    with pytest.raises(ConfigError) as err:
        load_profiles(extra_file=path)
    message = str(err.value)
    assert f"{path}: vendor profile 'mine': {field}:" in message
    assert "environment variable" in message and "api_key_env" in message
    assert KEY not in message and ODD_KEY not in message and "7f3e9a1c" not in message and "hQ0aV3" not in message
    assert main(["vendors", "list", "--vendors-file", str(path)]) == 2
    captured = capsys.readouterr()
    assert ODD_KEY not in captured.err + captured.out and KEY not in captured.err + captured.out


def test_redact_removes_key_shapes_and_registered_values(monkeypatch):
    monkeypatch.setenv("BATON_T_ODD", ODD_KEY)
    register_key_variables(["BATON_T_ODD"])
    text = (f"key {KEY} and {ODD_KEY}, header Authorization: Bearer abc123def456ghi, "
            f"url https://h/v1?api_key=s3cr3tvalue&x=1, aws AKIAABCDEFGHIJKLMNOP")
    clean = redact(text)
    for secret in (KEY, ODD_KEY, "abc123def456ghi", "s3cr3tvalue", "AKIAABCDEFGHIJKLMNOP"):
        assert secret not in clean
    assert clean.count(MASK) == 5 and "&x=1" in clean
    line = json.dumps({"text": text}).encode() + b"\n"
    assert json.loads(redact_bytes(line)) == {"text": clean}  # JSON stays valid
    # Ordinary prose is left alone.
    prose = "The task-risk key facts: refund invoice 4471 (bearer of the card) via sk-ed skis."
    assert redact(prose) == prose


def test_a_reply_or_error_quoting_the_key_is_stored_redacted(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("BATON_T_ODD", ODD_KEY)
    shutil.copytree(REPO / "fixtures" / "billing", tmp_path / "fixtures" / "billing")
    seen = {"n": 0}

    def leaky(body: dict) -> tuple[int, dict]:
        seen["n"] += 1
        if seen["n"] == 1:  # an error message that echoes the key
            return stub_vendor.error_reply(500, f"invalid request for key {ODD_KEY}")(body)
        return stub_vendor.text_reply(f"Your keys are {ODD_KEY} and {KEY}.")(body)

    with stub_vendor.StubVendor(leaky) as stub:
        (tmp_path / "pyproject.toml").write_text(f"""
[tool.baton.vendors.hosted]
base_url = "{stub.base_url}"
model = "stub-model"
api_key_env = "BATON_T_ODD"
retries = 0
structured_output = "prompt"

[tool.baton.run]
systems = ["naive"]
vendors = ["hosted"]
concurrency = 1
""")
        logging.getLogger("baton").propagate = True
        code = main(["run", "--project", str(tmp_path), "--out", str(tmp_path / "run"), "--no-cache"])
        assert main(["report", str(tmp_path / "run")]) == 0
        assert stub.authorization[-1] == f"Bearer {ODD_KEY}"  # the key was used
    captured = capsys.readouterr()
    assert code == 0, captured.err
    written = [p for p in (tmp_path / "run").iterdir() if p.is_file()]
    assert {"results.jsonl", "manifest.json", "report.html", "report.md"} <= {p.name for p in written}
    for path in written:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert ODD_KEY not in text and KEY not in text, path.name
    results = (tmp_path / "run" / "results.jsonl").read_text()
    assert MASK in results
    assert ODD_KEY not in captured.out + captured.err and KEY not in captured.out + captured.err
