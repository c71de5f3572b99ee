"""The report files: a self-contained, escaped HTML page; short Markdown; CSV and JSON tables."""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from baton.cli import main
from baton.errors import BatonError
from baton.reports import write_reports
from baton.reports.aggregate import build_card
from baton.reports.render import md_escape, render_html, render_markdown

PAYLOAD = ('<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1"> '
           '<a href="javascript:window.__pwned=1">click</a> </script><!-- <![CDATA[ \u2028 & &amp;')


@pytest.fixture(scope="module")
def f() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_baton_report_factory",
                                                  Path(__file__).with_name("test_report_factory.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hostile_html(f) -> str:
    results = f.synthetic_results(payload=PAYLOAD)
    results.append(f.make_result("t/x", "<b>sys</b>", "acme", status="failed", first_hop="generate",
                                 answer=PAYLOAD))
    return render_html(build_card(results))


def _script_blocks(html: str) -> list[tuple[str, str]]:
    return re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.S)


def test_html_has_no_markup_from_model_output(hostile_html: str) -> None:
    data = _script_blocks(hostile_html)[0][1]
    outside = hostile_html.replace(data, "")
    assert "<img" not in hostile_html and "<!--" not in hostile_html
    assert "onerror" not in outside and "javascript:" not in outside and "__pwned" not in outside
    assert "&lt;b&gt;sys&lt;/b&gt; @ acme" in hostile_html and "<b>sys" not in hostile_html
    # exactly two script elements: the JSON data and the viewer
    assert hostile_html.count("<script") == 2 and hostile_html.count("</script") == 2


def test_trace_data_is_escaped_json_that_round_trips(hostile_html: str) -> None:
    (attrs, data), (_, _) = _script_blocks(hostile_html)
    assert 'type="application/json"' in attrs
    assert "<" not in data and ">" not in data
    traces = json.loads(data)
    assert traces and all(t["answer"] == PAYLOAD for t in traces if t["status"] == "failed")
    assert any(h["output"].get("payload") == PAYLOAD for t in traces for h in t["hops"])


def test_html_is_self_contained_and_locked_down(hostile_html: str) -> None:
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in hostile_html
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:|//|javascript:)""", hostile_html, re.I)
    assert "<link" not in hostile_html and "@import" not in hostile_html and "url(" not in hostile_html
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"',
                                  hostile_html).group(1))
    assert "default-src 'none'" in csp and "unsafe-inline" not in csp.split("script-src")[1]
    script = _script_blocks(hostile_html)[1][1]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "eval(" not in script


def test_html_labels_simulated_configurations(f) -> None:
    page = render_html(build_card(f.synthetic_results()))
    rows = re.findall(r'<th scope="row"><a href="#cfg-\d+">([^<]+)</a>(.*?)</th>', page)
    assert len(rows) == 9
    for label, rest in rows:
        assert ('class="badge"' in rest) == ("@ sim-" in label), label
    assert "Coordination gap = " in page  # the definition is shown


def test_markdown_is_short_escaped_and_labels_simulated(f) -> None:
    results = f.synthetic_results()
    results.append(f.make_result("t/x", "a|b", "acme", status="failed", first_hop="generate"))
    md = render_markdown(build_card(results), title="Run <1>")
    lines = md.strip().splitlines()
    assert len(lines) < 40 and len(md) < 6000  # two rows per configuration (card, hop reliability)
    table = [line for line in lines if line.startswith("| ") and "@" in line and " n=" in line]
    assert len(table) == 10
    hop_table = [line for line in lines if line.startswith("| ") and "@" in line and " n=" not in line]
    assert len(hop_table) == 10 and any(r"| a\|b @ acme |" in line for line in hop_table)
    assert all(("(simulated)" in line) == ("@ sim-" in line) for line in table)
    assert any(line.startswith(r"| a\|b @ acme |") for line in table)
    assert "Run &lt;1&gt;" in md
    assert "Where failures start" in md


def test_md_escape() -> None:
    assert md_escape("a|b<c>*d*\n[e](f)") == r"a\|b&lt;c&gt;\*d\* \[e\](f)"
    # '&' would start an entity GitHub renders: "&lt;script&gt;" must read as typed
    assert md_escape("Tom & Jerry &lt;b&gt; ~~x~~ `c`") == r"Tom &amp; Jerry &amp;lt;b&amp;gt; \~\~x\~\~ \`c\`"
    assert md_escape(None) == ""


def test_write_reports_writes_every_format(f, tmp_path: Path) -> None:
    results = f.synthetic_results()
    run = f.write_run(tmp_path / "run", results)
    written = write_reports(run)
    assert set(written) == {"html", "md", "csv", "card_csv", "json"}
    assert all(p.parent == run and p.stat().st_size > 0 for p in written.values())
    runs = pd.read_csv(written["csv"])
    assert len(runs) == len(results)
    assert {"run_id", "config", "status", "simulated", "first_divergent_hop", "cost_usd",
            "score.tool", "metric.retrieval.recall"} <= set(runs.columns)
    assert len(pd.read_csv(written["card_csv"])) == 9
    card = json.loads(written["json"].read_text())
    assert card["run"]["trials"] == "3" and "gap" in card["definitions"]
    assert len(card["configurations"]) == 9 and card["tasks"]
    assert "fixture set" in written["html"].read_text()


def test_write_reports_to_another_directory_and_subset(f, tmp_path: Path) -> None:
    run = f.write_run(tmp_path / "run", f.synthetic_results())
    written = write_reports(run, tmp_path / "out", ["md"])
    assert list(written) == ["md"] and written["md"].parent == tmp_path / "out"
    assert not (run / "report.md").exists()
    with pytest.raises(BatonError, match="unknown format pdf"):
        write_reports(run, formats=["pdf"])


def test_report_of_a_run_without_results_yet(f, tmp_path: Path) -> None:
    run = f.write_run(tmp_path / "run", [f.make_result("t/a", "naive", "acme")])
    (run / "results.jsonl").unlink()
    page = write_reports(run, formats=["html"])["html"].read_text()
    assert "no results yet" in page


def test_cli_report(f, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = f.write_run(tmp_path / "run", f.synthetic_results())
    assert main(["report", str(run), "--out", str(tmp_path / "o"), "--format", "html,md"]) == 0
    out = capsys.readouterr().out.split()
    assert out == [str(tmp_path / "o" / "report.html"), str(tmp_path / "o" / "report.md")]
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "not a directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", str(run), "--format", "pdf"])
    assert "unknown format pdf" in capsys.readouterr().err
