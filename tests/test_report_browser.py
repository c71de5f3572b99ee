"""The HTML report in a real headless browser (Debian's chromium driven by Playwright).

It must render offline, open a failed run in the trace viewer, and show hostile model output as
text: nothing in a trace may run as script or load anything.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.reports import write_reports

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '<a href="javascript:window.__pwned=1" id="evil">click me</a>',
    '</script><script>window.__pwned=1</script>',
    "<!-- <script>window.__pwned=1</script> -->",
    '<svg onload="window.__pwned=1"></svg>',
    "<iframe src=\"https://example.com/\"></iframe>",
    "\u2028{{7*7}} ${window.__pwned=1} & &amp; &lt;",
]
PAYLOAD = " ".join(PAYLOADS)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = importlib.util.spec_from_file_location("_baton_report_factory",
                                                  Path(__file__).with_name("test_report_factory.py"))
    assert spec and spec.loader
    f = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = f
    spec.loader.exec_module(f)
    results = f.synthetic_results(payload=PAYLOAD)
    results.append(f.make_result("billing/<img src=x onerror=window.__pwned=1>", "multi_agent",
                                 "sim-frontier", status="failed", first_hop="tool",
                                 category="wrong_state", answer=PAYLOAD, hop_output=PAYLOAD))
    run = f.write_run(tmp_path_factory.mktemp("browser") / "run", results)
    return write_reports(run, formats=["html"])["html"]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/bootstrap --browser installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


def open_report(browser, report: Path, **context_args):
    context = browser.new_context(**context_args)
    requests: list[str] = []
    blocked: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        if url.startswith("file:"):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    errors: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.goto(report.as_uri())
    return context, page, requests, blocked, errors


def test_report_renders_and_the_viewer_shows_payloads_as_text(browser, report: Path, tmp_path: Path) -> None:
    context, page, requests, blocked, errors = open_report(browser, report,
                                                           viewport={"width": 1280, "height": 900})
    try:
        assert page.title().startswith("Baton report")
        assert page.locator("#card-table").is_visible()
        assert page.locator("#card-table tbody tr").count() == 9
        assert page.locator("#viewer").is_hidden()
        page.screenshot(path=str(tmp_path / "desktop.png"), full_page=True)

        hostile = page.locator("#task-matrix a[data-trace]").filter(has_text="t0").first
        link = page.locator('#task-matrix tr:has(th:text-is("billing/<img src=x onerror=window.__pwned=1>")) '
                            "a[data-trace]").first
        assert link.count() == 1 and hostile.count() == 1
        link.click()
        viewer = page.locator("#viewer")
        viewer.wait_for(state="visible")
        assert viewer.locator("h2").inner_text() == "billing/<img src=x onerror=window.__pwned=1>"
        assert viewer.locator("pre.answer").text_content() == PAYLOAD
        assert viewer.locator("li.hop").count() == 6
        assert viewer.locator("li.hop .kind").all_inner_texts()[:2] == ["ROUTE", "RETRIEVE"]
        assert "wrong arguments" in viewer.locator("li.hop.failed").first.inner_text()
        assert "state: invoice 4471" in viewer.locator("ul.checks").inner_text()
        verdicts = viewer.locator("ul.hop-verdicts li").all_inner_texts()
        assert verdicts and all(v.split(": ")[1].split(" ")[0] in ("yes", "NO", "n/a") for v in verdicts)
        output = viewer.locator("li.hop").first.locator("pre").last.text_content()
        assert PAYLOAD in output.replace('\\"', '"')
        # nothing from the payloads became an element
        assert viewer.locator("img, iframe, svg, a, script").count() == 0
        assert page.locator("#evil, iframe, img").count() == 0
        page.screenshot(path=str(tmp_path / "desktop-viewer.png"))

        page.locator("#viewer-close").click()
        assert viewer.is_hidden()
        hostile.click()
        viewer.wait_for(state="visible")
        assert PAYLOAD in viewer.locator("pre.answer").text_content()
        page.keyboard.press("Escape")
        assert viewer.is_hidden()

        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert errors == []
        assert blocked == []
        assert all(url.startswith("file:") for url in requests), requests
    finally:
        context.close()


def test_report_reads_on_a_phone(browser, report: Path, tmp_path: Path) -> None:
    context, page, requests, blocked, errors = open_report(
        browser, report, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        device_scale_factor=2)
    try:
        # wide tables scroll inside their own boxes; the page itself never scrolls sideways
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.locator("#card-table").is_visible()
        page.screenshot(path=str(tmp_path / "phone.png"))
        page.locator("#task-matrix a[data-trace]").first.tap()
        page.locator("#viewer").wait_for(state="visible")
        box = page.locator("#viewer").bounding_box()
        assert box is not None and box["width"] <= 390 and box["x"] >= 0
        page.screenshot(path=str(tmp_path / "phone-viewer.png"))
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert errors == [] and blocked == []
    finally:
        context.close()
