"""A model reply cut at its output-token limit is graded as written, and the card says so.

A vendor that stops at ``max_tokens`` answers ``finish_reason: "length"``: the reply is cut
off, a fact it never reached is missing, and without a mark the run reads like a model that did
not know. The vendor here is a stub OpenAI-compatible endpoint on loopback (tests/stub_vendor.py)
that stops at the request's ``max_tokens`` words, as a real one stops at its tokens."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from baton.cli import main
from baton.reports.aggregate import build_card
from baton.reports.flatten import viewer_trace
from baton.reports.render import render_html, render_markdown
from baton.store import iter_results

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.e2e

import stub_vendor  # noqa: E402 - tests/ is on sys.path (conftest.py)

REPLY = ("We looked at your request carefully and the charge in question will be handled by our team "
         "within the time our policy sets out, and you will receive a confirmation by e-mail.")


def stops_at_max_tokens(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    words = REPLY.split()
    limit = body.get("max_tokens") or body.get("max_completion_tokens")
    cut = limit is not None and limit < len(words)
    text = " ".join(words[:limit] if cut else words)
    return 200, {"id": "stub", "object": "chat.completion", "model": "stub-model",
                 "choices": [{"index": 0, "finish_reason": "length" if cut else "stop",
                              "message": {"role": "assistant", "content": text}}],
                 "usage": {"prompt_tokens": 40, "completion_tokens": min(limit or len(words), len(words)),
                           "total_tokens": 40 + min(limit or len(words), len(words))}}


def project(root: Path, base_url: str) -> Path:
    shutil.copytree(REPO / "fixtures" / "billing", root / "fixtures" / "billing")
    profile = 'model = "stub-model"\nretries = 0\ntimeout_s = 10\nstructured_output = "prompt"\n'
    (root / "pyproject.toml").write_text(
        f'[tool.baton.vendors.short]\nbase_url = "{base_url}"\n{profile}max_output_tokens = 8\n\n'
        f'[tool.baton.vendors.roomy]\nbase_url = "{base_url}"\n{profile}\n'
        '[tool.baton.run]\ntasks = "fixtures"\nsystems = ["naive"]\ntrials = 1\nconcurrency = 4\n',
        encoding="utf-8")
    return root


def test_replies_cut_at_the_token_limit_are_marked_in_the_trace_and_on_the_card(tmp_path: Path) -> None:
    with stub_vendor.StubVendor(stops_at_max_tokens) as vendor:
        root = project(tmp_path, vendor.base_url)
        out = tmp_path / "run"
        code = main(["run", "--project", str(root), "--vendors", "short,roomy", "--no-cache",
                     "--task-filter", "billing/refund-unauthorized-4471,billing/seat-addon-billing-date",
                     "--out", str(out)])
    assert code == 0
    results = list(iter_results(out))
    assert len(results) == 4
    for result in results:
        (answer,) = [hop for hop in result.trace.hops if hop.kind == "generate"]
        assert answer.truncated == (result.key.vendor == "short"), result.key.as_str()
        assert len(result.trace.answer.split()) == (8 if result.key.vendor == "short" else len(REPLY.split()))
    card = build_card(results)
    by_vendor = {config.vendor: config for config in card.configs}
    assert by_vendor["short"].truncated_runs == 2 and by_vendor["roomy"].truncated_runs == 0
    assert by_vendor["short"].as_row()["truncated_runs"] == 2
    (short_row,) = [line for line in render_markdown(card).splitlines() if line.startswith("| naive @ short") and " n=" in line]
    assert "(2 cut at the token limit)" in short_row
    (roomy_row,) = [line for line in render_markdown(card).splitlines() if line.startswith("| naive @ roomy") and " n=" in line]
    assert "token limit" not in roomy_row
    assert "2 runs cut at the token limit" in render_html(card)
    assert "truncated" in card.definitions
    cut = next(r for r in results if r.key.vendor == "short")
    assert [h["truncated"] for h in viewer_trace(cut)["hops"] if h["kind"] == "generate"] == [True]
