"""The browser harness (tests/support/browser.py) catches what it is there to catch.

Small static pages are served by a real HTTP server on a free port, with a strict
Content-Security-Policy like the community page's, and checked in the real headless
Chromium: one accessible page passes every check, and each broken page fails the check
meant for it, with a message that says what to fix.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import browser as harness
from tests.support.browser import (
    BrowserUnavailable,
    PageFactory,
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    assert_no_page_errors,
    assert_visible_focus,
    chromium_executable,
    format_violations,
    load,
    page_problems,
    run_axe,
    screenshot,
)

# The fixtures, by name (a conftest would import them; this file stands alone).
chromium_session = harness.chromium_session
chromium_browser = harness.chromium_browser
new_page = harness.new_page
page = harness.page

REPO = Path(__file__).resolve().parents[1]

CSP = "default-src 'self'; img-src 'self'; style-src 'self'; frame-ancestors 'none'"

GOOD_CSS = """
html { font: 112.5%/1.5 "DejaVu Sans", sans-serif; color: #0b0c0c; background: #fff; }
body { margin: 0 auto; padding: 0 1rem; max-width: 40rem; }
a { color: #1d4f91; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; }
nav a { display: inline-block; min-height: 44px; padding: 0.5rem 0.25rem; }
a:focus-visible, summary:focus-visible {
  outline: 3px solid #0b0c0c; outline-offset: 2px; background: #ffdd00; color: #0b0c0c;
}
.skip { position: absolute; left: -9999px; }
.skip:focus { position: static; }
img { max-width: 100%; height: auto; }
table { border-collapse: collapse; }
th, td { border: 1px solid #505a5f; padding: 0.25rem 0.5rem; text-align: left; }
"""

LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="80" viewBox="0 0 200 80">'
    '<rect width="200" height="80" fill="#1d4f91"/></svg>'
)


def _page(title: str, body: str, css: str = "good.css") -> str:
    return textwrap.dedent(f"""\
        <!doctype html>
        <html lang="en-GB">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{title} - Millbrook Village Hall</title>
        <link rel="stylesheet" href="{css}">
        </head>
        <body>
        {body}
        </body>
        </html>
        """)


GOOD_BODY = """
<a class="skip" href="#main">Skip to main content</a>
<header>
  <p>Millbrook Village Hall</p>
  <nav aria-label="Main">
    <ul>
      <li><a href="good.html">Now</a></li>
      <li><a href="trends.html">Trends</a></li>
      <li><a href="data.html">Data</a></li>
    </ul>
  </nav>
</header>
<main id="main">
  <h1>Millbrook Village Hall</h1>
  <p><img src="logo.svg" alt="Millbrook Village Hall logo" width="200" height="80"></p>
  <p>The air is fresh. It is 19.5 °C and 48 % humidity.</p>
  <details><summary>What the numbers mean</summary><p>CO2 under 800 ppm is fresh.</p></details>
  <table>
    <caption>Today</caption>
    <tr><th scope="col">Hour</th><th scope="col">People</th></tr>
    <tr><td>10:00</td><td>12</td></tr>
  </table>
</main>
<footer><p><a href="accessibility.html">Accessibility statement</a></p></footer>
"""

PAGES: dict[str, str] = {
    "good.css": GOOD_CSS,
    "logo.svg": LOGO_SVG,
    "good.html": _page("Now", GOOD_BODY),
    "bad-a11y.css": GOOD_CSS + ".faint { color: #aaaaaa; background: #bbbbbb; }\n",
    "bad-a11y.html": _page(
        "Broken",
        '<main><h1>Broken</h1><img src="logo.svg">'
        '<p class="faint">Grey text on grey that nobody can read.</p></main>',
        css="bad-a11y.css",
    ),
    "wide.css": GOOD_CSS + ".banner { width: 600px; }\n",
    "wide.html": _page(
        "Wide",
        '<main><h1>Wide</h1><div class="banner">A fixed 600 px banner.</div></main>',
        css="wide.css",
    ),
    "no-outline.css": GOOD_CSS + "a, a:focus, a:focus-visible { outline: none; }\n",
    "no-outline.html": _page(
        "No outline",
        '<main><h1>No outline</h1><p><a href="good.html">Home</a></p>'
        '<p><a href="data.html">Data</a></p></main>',
        css="no-outline.css",
    ),
    "unreachable.html": _page(
        "Unreachable",
        '<main><h1>Unreachable</h1><p><a href="good.html">Home</a></p>'
        '<p><a href="data.html" tabindex="-1">Data</a></p></main>',
    ),
    "offsite.html": _page(
        "Offsite",
        '<main><h1>Offsite</h1><p><img src="http://cdn.example.invalid/logo.png" alt="Logo">'
        "</p></main>",
    ),
}


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with the security headers the community page sends."""

    def end_headers(self) -> None:
        if not self.path.startswith("/no-csp/"):
            self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def translate_path(self, path: str) -> str:
        return super().translate_path(path.removeprefix("/no-csp"))

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The pages above on a real HTTP server on a free loopback port; its base URL."""
    root = tmp_path_factory.mktemp("site")
    for name, text in PAGES.items():
        (root / name).write_text(text, encoding="utf-8")
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="static-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- passes


def test_accessible_page_passes_every_check(new_page: PageFactory, site: str) -> None:
    page = new_page()
    response = load(page, f"{site}/good.html", heading="Millbrook Village Hall")
    assert "default-src 'self'" in (response.headers.get("content-security-policy") or "")
    assert run_axe(page) == []
    assert_no_axe_violations(page)
    assert_no_horizontal_scroll(page)
    assert page.viewport_size == harness.VIEWPORTS["desktop"]  # put back after the check
    order = assert_visible_focus(page)
    assert order[0] == '<a href="#main"> "Skip to main content"'
    assert len(order) == 6  # skip link, 3 nav links, summary, footer link
    assert_no_page_errors(page)


def test_checks_work_with_javascript_off(new_page: PageFactory, site: str) -> None:
    page = new_page("phone", javascript=False)
    load(page, f"{site}/good.html", heading="Millbrook Village Hall")
    assert_no_horizontal_scroll(page)
    assert len(assert_visible_focus(page)) == 6
    assert_no_page_errors(page)
    with pytest.raises(ValueError, match="needs JavaScript"):
        run_axe(page)


def test_screenshot_is_kept_as_an_artefact(
    new_page: PageFactory, site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(harness.ARTIFACTS_ENV, str(tmp_path / "artefacts"))
    page = new_page("tv")
    load(page, f"{site}/good.html")
    path = screenshot(page, "harness home/TV")
    assert path == tmp_path / "artefacts" / "harness-home-TV.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 1000


def test_artefacts_default_to_tests_artifacts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(harness.ARTIFACTS_ENV, raising=False)
    assert harness.artifacts_dir() == REPO / "tests" / "artifacts"


# --------------------------------------------------------------------------- failures


def test_axe_reports_missing_alt_and_low_contrast(new_page: PageFactory, site: str) -> None:
    page = new_page()
    load(page, f"{site}/bad-a11y.html", heading="Broken")
    violations = run_axe(page)
    by_rule = {v.rule: v for v in violations}
    assert {"image-alt", "color-contrast"} <= set(by_rule)
    assert by_rule["image-alt"].impact == "critical"
    assert by_rule["image-alt"].nodes[0].target == ("img",)
    assert by_rule["color-contrast"].nodes[0].target == ("p",)
    assert 'class="faint"' in by_rule["color-contrast"].nodes[0].html
    with pytest.raises(AssertionError) as failure:
        assert_no_axe_violations(page)
    message = str(failure.value)
    assert f"axe-core {harness.axe_version()} found" in message
    assert "image-alt (critical): Images must have alternative text" in message
    assert "at img:" in message
    assert "color-contrast (serious)" in message
    assert "at p: Fix any of the following: Element has insufficient color contrast" in message
    assert "https://dequeuniversity.com/rules/axe/" in message
    assert format_violations(violations, page.url) in message


def test_axe_checks_wcag_22_target_size(new_page: PageFactory) -> None:
    page = new_page()
    page.set_content(
        '<html lang="en"><head><title>Tiny</title></head><body><main><h1>Tiny</h1>'
        '<a href="/a" style="display:inline-block;width:10px;height:10px"></a>'
        '<a href="/b" style="display:inline-block;width:10px;height:10px" aria-label="B">'
        "</a></main></body></html>"
    )
    assert "target-size" in {v.rule for v in run_axe(page)}
    assert "target-size" in {v.rule for v in run_axe(page, include_experimental=True)}


def test_scroll_check_fails_on_a_page_wider_than_320_px(new_page: PageFactory, site: str) -> None:
    page = new_page()
    load(page, f"{site}/wide.html", heading="Wide")
    assert_no_horizontal_scroll(page, width=800)  # wide enough there
    with pytest.raises(AssertionError, match="scrolls sideways at 320 CSS px") as failure:
        assert_no_horizontal_scroll(page)
    assert "main > div.banner" in str(failure.value)


def test_focus_check_fails_when_links_have_no_outline(new_page: PageFactory, site: str) -> None:
    page = new_page()
    load(page, f"{site}/no-outline.html", heading="No outline")
    with pytest.raises(AssertionError) as failure:
        assert_visible_focus(page)
    message = str(failure.value)
    assert '<a href="good.html"> "Home": no visible focus indicator (outline none' in message
    assert '<a href="data.html"> "Data": no visible focus indicator' in message


def test_focus_check_fails_when_tab_skips_a_link(new_page: PageFactory, site: str) -> None:
    page = new_page()
    load(page, f"{site}/unreachable.html", heading="Unreachable")
    with pytest.raises(AssertionError) as failure:
        assert_visible_focus(page)
    message = str(failure.value)
    assert '<a href="data.html"> "Data": never reached by Tab' in message
    assert "Home" not in message.split("Tab order:")[0]


def test_requests_to_other_hosts_are_blocked_and_reported(new_page: PageFactory, site: str) -> None:
    # Served without a CSP, so only the browser's own resolver rules stop the request.
    page = new_page()
    load(page, f"{site}/no-csp/offsite.html", heading="Offsite")
    problems = page_problems(page)
    assert "request to another host: GET http://cdn.example.invalid/logo.png" in problems
    assert any(p.startswith("request failed: http://cdn.example.invalid/") for p in problems)
    with pytest.raises(AssertionError, match=r"cdn\.example\.invalid"):
        assert_no_page_errors(page)


def test_csp_violations_and_missing_files_are_reported(new_page: PageFactory, site: str) -> None:
    page = new_page()
    load(page, f"{site}/offsite.html")
    load(page, f"{site}/missing.html", status=404)
    problems = "\n".join(page_problems(page))
    assert "Content Security Policy" in problems
    assert f"HTTP 404: {site}/missing.html" in problems


def test_load_checks_status_and_heading(new_page: PageFactory, site: str) -> None:
    page = new_page()
    with pytest.raises(AssertionError, match="HTTP 404, expected 200"):
        load(page, f"{site}/missing.html")
    with pytest.raises(AssertionError, match="<h1> is 'Millbrook Village Hall', expected 'Now'"):
        load(page, f"{site}/good.html", heading="Now")


# --------------------------------------------------------------------------- set-up


def test_asyncio_still_works_between_browser_tests(
    chromium_session: harness.ChromiumSession,
) -> None:
    # The session's Chromium is up, but no test is using it: the thread is free for asyncio.
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert asyncio.run(answer()) == 42


def test_browser_still_works_after_asyncio(new_page: PageFactory, site: str) -> None:
    page = new_page()
    load(page, f"{site}/good.html", heading="Millbrook Village Hall")


def test_missing_chromium_names_the_set_up_command(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(BrowserUnavailable, match=r"/nowhere/chromium: run scripts/setup-browser"):
        chromium_executable("/nowhere/chromium")
    monkeypatch.setenv(harness.CHROMIUM_ENV, "/nowhere/else")
    with pytest.raises(BrowserUnavailable, match="/nowhere/else"):
        chromium_executable()
    monkeypatch.delenv(harness.CHROMIUM_ENV)
    assert chromium_executable() == "/usr/bin/chromium"


def test_missing_chromium_fails_the_test_instead_of_skipping(tmp_path: Path) -> None:
    test = tmp_path / "test_needs_browser.py"
    test.write_text(
        "from tests.support.browser import chromium_browser, chromium_session, new_page\n"
        "def test_page(new_page):\n"
        "    new_page()\n"
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", str(test)],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "HALLSENSE_CHROMIUM": "/nowhere/chromium"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 error" in output, output
    assert "skipped" not in output, output
    assert "run scripts/setup-browser" in output, output
    assert time.monotonic() - started < 30
