"""Real headless Chromium for the page tests, and the checks those tests make with it.

Debian's ``chromium`` (``/usr/bin/chromium``, or the path in ``$HALLSENSE_CHROMIUM``) is
driven by Playwright's Python package through ``executable_path``: the ``playwright`` wheel
ships its own driver, and nothing here ever downloads a browser (``playwright install`` is
never needed). ``scripts/setup-browser`` installs Chromium; when it is missing the tests
that use it fail with a message naming that command. They never skip.

One Chromium serves the whole test session (``chromium_session``); every test gets fresh
browser contexts from the ``new_page`` factory (or the ``page`` shortcut), closed when the
test ends. To use the fixtures in a test package, import them in its ``conftest.py``::

    from tests.support.browser import (  # noqa: F401 - fixtures, found by name
        chromium_browser,
        chromium_session,
        new_page,
        page,
    )

The checks, each raising ``AssertionError`` that says what to fix:

- ``load(page, url, heading=...)``: HTTP 200 (or the status given) and the page's ``<h1>``.
- ``run_axe(page)`` / ``assert_no_axe_violations(page)``: axe-core with the WCAG 2.0, 2.1
  and 2.2 A and AA tags and no rule disabled.
- ``assert_no_horizontal_scroll(page)``: reflow at 320 CSS px (WCAG 1.4.10).
- ``assert_visible_focus(page)``: every Tab stop shows a focus indicator (WCAG 2.4.7), and
  Tab reaches every link and form control.
- ``assert_no_page_errors(page)``: no console error, uncaught exception, failed or 4xx/5xx
  request (Chromium's own unasked ``/favicon.ico`` aside), and no request to any host but
  this machine.
- ``screenshot(page, name)``: a PNG kept in ``tests/artifacts/`` (or
  ``$HALLSENSE_TEST_ARTIFACTS``).

The browser resolves no host name but ``localhost`` and loopback addresses, so a page
that refers to a CDN or remote font cannot reach it (and such a request is reported).

Playwright's sync API marks its asyncio loop as running for as long as it is started,
which breaks ``asyncio.run`` anywhere in the same thread. The session therefore marks the
loop as running only while a test (or a block under ``ChromiumSession.active()``) uses
the browser, so the rest of the suite keeps a clean thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.resources
import os
import re
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

try:
    from playwright.sync_api import (
        Browser,
        BrowserContext,
        ConsoleMessage,
        Page,
        Playwright,
        Request,
        Response,
        ViewportSize,
        sync_playwright,
    )
except ImportError as exc:  # pragma: no cover - depends on the machine
    raise ImportError(
        "the browser tests need the playwright package: run scripts/setup "
        "(pip install -e '.[dev]'), which installs it and Chromium"
    ) from exc

SETUP_COMMAND = "scripts/setup-browser"
"""What installs Chromium (scripts/setup runs it too)."""

DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ENV = "HALLSENSE_CHROMIUM"
ARTIFACTS_ENV = "HALLSENSE_TEST_ARTIFACTS"
ARTIFACTS_DEFAULT = Path(__file__).resolve().parents[1] / "artifacts"

CHROMIUM_ARGS = (
    # Tests run as root, where Chromium refuses its sandbox; it only loads our own pages.
    "--no-sandbox",
    # A container's small /dev/shm crashes Chromium; /tmp has room.
    "--disable-dev-shm-usage",
    # Offline by construction: no name but this machine's resolves, so a page that
    # refers to a CDN, a remote font or any other host gets a failed request, never traffic.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.*, EXCLUDE [::1]",
)

VIEWPORTS: dict[str, ViewportSize] = {
    "reflow": {"width": 320, "height": 640},  # WCAG 1.4.10: 1280 px at 400 % zoom
    "phone": {"width": 360, "height": 740},
    "desktop": {"width": 1280, "height": 800},
    "tv": {"width": 1920, "height": 1080},  # the hall's TV in kiosk mode
}

AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
"""WCAG 2.0, 2.1 and 2.2 at levels A and AA (2.2 AA conformance includes 2.1 A)."""

ACTION_TIMEOUT_MS = 10_000
NAVIGATION_TIMEOUT_MS = 15_000


class BrowserUnavailable(AssertionError):
    """Chromium is not installed where the tests look for it."""


# --------------------------------------------------------------------------- Chromium


def chromium_executable(path: str | None = None) -> str:
    """The Chromium to drive: ``path``, ``$HALLSENSE_CHROMIUM`` or ``/usr/bin/chromium``.

    Raises:
        BrowserUnavailable: it is missing or not executable, naming the set-up command.
    """
    chosen = path or os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    if not (os.path.isfile(chosen) and os.access(chosen, os.X_OK)):
        raise BrowserUnavailable(
            f"Chromium not found at {chosen}: run {SETUP_COMMAND} (or scripts/setup), which "
            f"installs Debian's chromium package; ${CHROMIUM_ENV} names another binary"
        )
    return chosen


def launch_chromium(playwright: Playwright, executable: str) -> Browser:
    """Launch headless Chromium from ``executable`` (never a browser Playwright downloads)."""
    return playwright.chromium.launch(
        executable_path=executable, headless=True, args=list(CHROMIUM_ARGS)
    )


class ChromiumSession:
    """One Playwright driver and one Chromium, shared by every test of a session."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self._manager = sync_playwright()
        self.playwright = self._manager.start()
        # Playwright marks its loop as running between sync calls (see the module doc).
        self._loop = asyncio._get_running_loop()
        try:
            self.browser = launch_chromium(self.playwright, executable)
        except BaseException:
            self._manager.__exit__(None, None, None)
            raise
        finally:
            self._park()
        self.version = self.browser.version

    def _park(self) -> None:
        if asyncio._get_running_loop() is self._loop:
            asyncio._set_running_loop(None)

    @contextlib.contextmanager
    def active(self) -> Iterator[Browser]:
        """Use the browser in this block; outside it, ``asyncio.run`` works as usual."""
        asyncio._set_running_loop(self._loop)
        try:
            yield self.browser
        finally:
            self._park()

    def close(self) -> None:
        """Close Chromium and stop the driver."""
        with self.active():
            self.browser.close()
            self._manager.__exit__(None, None, None)


@pytest.fixture(scope="session")
def chromium_session() -> Iterator[ChromiumSession]:
    """The session's one Chromium; fails (never skips) when it is not installed."""
    try:
        executable = chromium_executable()
    except BrowserUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    session = ChromiumSession(executable)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture
def chromium_browser(chromium_session: ChromiumSession) -> Iterator[Browser]:
    """The shared Chromium, usable for the length of one test."""
    with chromium_session.active() as browser:
        yield browser


# --------------------------------------------------------------------------- pages


@dataclass
class _PageRecord:
    javascript: bool
    problems: list[str] = field(default_factory=list)


_records: weakref.WeakKeyDictionary[Page, _PageRecord] = weakref.WeakKeyDictionary()

_LOCAL_HOST = re.compile(r"^(localhost|127(\.\d{1,3}){3}|\[::1\])$", re.IGNORECASE)


def _host_of(url: str) -> str | None:
    match = re.match(r"^[a-z][a-z0-9+.-]*://(?:[^@/]*@)?(\[[^\]]*\]|[^:/?#]*)", url, re.I)
    return match.group(1) if match else None


def _implicit_favicon(url: str) -> bool:
    # Chromium asks every origin for /favicon.ico on its own; the page did not ask.
    return re.match(r"^https?://[^/]+/favicon\.ico$", url) is not None


def _watch(page: Page, record: _PageRecord) -> None:
    def on_console(message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        if message.type == "error" and not _implicit_favicon(where):
            record.problems.append(
                f"console error: {message.text}" + (f" ({where})" if where else "")
            )

    def on_page_error(error: Exception) -> None:
        record.problems.append(f"uncaught exception: {error}")

    def on_request(request: Request) -> None:
        host = _host_of(request.url)
        if host is not None and not _LOCAL_HOST.match(host):
            record.problems.append(f"request to another host: {request.method} {request.url}")

    def on_request_failed(request: Request) -> None:
        record.problems.append(f"request failed: {request.url} ({request.failure})")

    def on_response(response: Response) -> None:
        if response.status >= 400 and not _implicit_favicon(response.url):
            record.problems.append(f"HTTP {response.status}: {response.url}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    page.on("request", on_request)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)


class PageFactory(Protocol):
    """The ``new_page`` fixture: a fresh browser context and page per call."""

    def __call__(
        self,
        viewport: str | ViewportSize = "desktop",
        *,
        javascript: bool = True,
        **context_options: Any,
    ) -> Page:
        """Open a page at a named (``VIEWPORTS``) or explicit viewport."""
        ...


@pytest.fixture
def new_page(chromium_browser: Browser) -> Iterator[PageFactory]:
    """Factory of pages, each in a new context (own cookies, cache, viewport, JS switch).

    ``context_options`` go to Playwright's ``Browser.new_context`` (e.g. ``color_scheme``,
    ``reduced_motion``, ``device_scale_factor``). Contexts are British English in
    Europe/London, like the hall. All are closed when the test ends.
    """
    contexts: list[BrowserContext] = []

    def make(
        viewport: str | ViewportSize = "desktop",
        *,
        javascript: bool = True,
        **context_options: Any,
    ) -> Page:
        size = VIEWPORTS[viewport] if isinstance(viewport, str) else viewport
        options: dict[str, Any] = {"locale": "en-GB", "timezone_id": "Europe/London"}
        options.update(context_options)
        context = chromium_browser.new_context(
            viewport=size, java_script_enabled=javascript, **options
        )
        contexts.append(context)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
        page = context.new_page()
        record = _PageRecord(javascript=javascript)
        _records[page] = record
        _watch(page, record)
        return page

    try:
        yield make
    finally:
        for context in contexts:
            context.close()


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    """A page at the desktop viewport with JavaScript on."""
    return new_page()


def load(page: Page, url: str, *, status: int = 200, heading: str | None = None) -> Response:
    """Go to ``url``; assert the HTTP status and, if given, the text of the first ``<h1>``."""
    response = page.goto(url)
    assert response is not None, f"no response for {url}"
    assert response.status == status, f"{url}: HTTP {response.status}, expected {status}"
    if heading is not None:
        found = page.evaluate(
            "() => { const h = document.querySelector('h1');"
            " return h ? h.textContent.replace(/\\s+/g, ' ').trim() : null; }"
        )
        assert found == heading, f"{url}: <h1> is {found!r}, expected {heading!r}"
    return response


def page_problems(page: Page) -> list[str]:
    """What went wrong on ``page`` so far (it must come from ``new_page``)."""
    record = _records.get(page)
    if record is None:
        raise ValueError("page_problems needs a page made by the new_page fixture")
    return list(record.problems)


def assert_no_page_errors(page: Page) -> None:
    """No console error, uncaught exception, failed or 4xx/5xx request, nor other host."""
    problems = page_problems(page)
    assert not problems, f"{page.url}: {len(problems)} problem(s):\n" + "\n".join(
        f"  - {p}" for p in problems
    )


# --------------------------------------------------------------------------- axe-core


def axe_script_path() -> Path:
    """axe.min.js as vendored by the pinned axe-playwright-python wheel."""
    resource = importlib.resources.files("axe_playwright_python") / "axe.min.js"
    return Path(str(resource))


def _axe_source() -> str:
    try:
        return axe_script_path().read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise AssertionError(
            "axe-core not installed: run scripts/setup (pip install -e '.[dev]' brings "
            "axe-playwright-python, which vendors axe.min.js)"
        ) from exc


@functools.cache
def axe_source() -> str:
    """The axe-core script (read once: it is 570 KB)."""
    return _axe_source()


def axe_version() -> str:
    """The version in the vendored axe.min.js banner, e.g. ``4.12.1``."""
    match = re.search(r"axe v(\d+\.\d+\.\d+)", axe_source()[:200])
    return match.group(1) if match else "unknown"


@dataclass(frozen=True)
class AxeNode:
    """One element that breaks a rule."""

    target: tuple[str, ...]
    html: str
    failure_summary: str


@dataclass(frozen=True, repr=False)
class AxeViolation:
    """One axe rule broken on the page, with every element that breaks it."""

    rule: str
    impact: str
    help: str
    help_url: str
    description: str
    tags: tuple[str, ...]
    nodes: tuple[AxeNode, ...]

    def __str__(self) -> str:
        lines = [f"{self.rule} ({self.impact}): {self.help} [{self.help_url}]"]
        for node in self.nodes:
            summary = "; ".join(
                " ".join(line.split()) for line in node.failure_summary.splitlines() if line.strip()
            ).replace(":;", ":")
            lines.append(f"    at {' '.join(node.target)}: {summary}")
            lines.append(f"       {node.html[:160]}")
        return "\n".join(lines)

    __repr__ = __str__


def _violation(raw: dict[str, Any]) -> AxeViolation:
    return AxeViolation(
        rule=raw["id"],
        impact=raw.get("impact") or "unknown",
        help=raw["help"],
        help_url=raw["helpUrl"],
        description=raw["description"],
        tags=tuple(raw["tags"]),
        nodes=tuple(
            AxeNode(
                target=tuple(str(t) for t in node["target"]),
                html=node.get("html", ""),
                failure_summary=node.get("failureSummary") or "",
            )
            for node in raw["nodes"]
        ),
    )


def run_axe(
    page: Page, *, context: str | None = None, include_experimental: bool = False
) -> list[AxeViolation]:
    """Run axe-core on the page as it is now; return its violations (none means it passed).

    Every rule tagged ``AXE_TAGS`` runs: no rule is disabled. axe keeps its few
    *experimental* rules off unless asked; ``include_experimental`` runs those that carry
    one of these tags as well. ``context`` is a CSS selector to check only part of the page.

    axe-core is evaluated through the DevTools protocol, so a strict Content-Security-Policy
    does not block it. It needs JavaScript: open pages with ``javascript=True`` for it.
    """
    record = _records.get(page)
    if record is not None and not record.javascript:
        raise ValueError(
            "run_axe needs JavaScript in the page (axe-core runs there); open this page "
            "with new_page(javascript=True) to check it, and javascript=False for no-JS checks"
        )
    if page.evaluate("() => typeof window.axe") == "undefined":
        page.evaluate(axe_source())
    options: dict[str, Any] = {
        "runOnly": {"type": "tag", "values": list(AXE_TAGS)},
        "resultTypes": ["violations"],
    }
    if include_experimental:
        rules = page.evaluate(
            "(tags) => axe.getRules(tags)"
            ".filter(r => r.tags.includes('experimental')).map(r => r.ruleId)",
            list(AXE_TAGS),
        )
        options["rules"] = {rule: {"enabled": True} for rule in rules}
    results = page.evaluate(
        "([context, options]) => axe.run(context === null ? document : context, options)",
        [context, options],
    )
    return [_violation(raw) for raw in results["violations"]]


def format_violations(violations: list[AxeViolation], url: str = "") -> str:
    """A report of ``violations`` that says what to fix, one rule after another."""
    where = f" on {url}" if url else ""
    head = f"axe-core {axe_version()} found {len(violations)} violation(s){where}:"
    return "\n".join([head, *(f"{n}. {v}" for n, v in enumerate(violations, 1))])


def assert_no_axe_violations(
    page: Page, *, context: str | None = None, include_experimental: bool = False
) -> None:
    """Fail with a readable report if axe-core finds any WCAG 2.2 A/AA violation."""
    violations = run_axe(page, context=context, include_experimental=include_experimental)
    assert not violations, format_violations(violations, page.url)


# --------------------------------------------------------------------------- reflow

_OVERFLOW_JS = """
(limit) => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const describe = (el) => {
    const parts = [];
    for (let e = el; e && e !== root && parts.length < 4; e = e.parentElement) {
      let part = e.localName;
      if (e.id) part += '#' + e.id;
      else if (typeof e.className === 'string' && e.className.trim())
        part += '.' + e.className.trim().split(/\\s+/).join('.');
      parts.unshift(part);
    }
    return parts.join(' > ');
  };
  const over = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && (r.right > width + 0.5 || r.left < -0.5);
  };
  const all = Array.from(document.body ? document.body.querySelectorAll('*') : []);
  const offenders = all.filter(over)
    .filter((el) => !Array.from(el.children).some(over))
    .slice(0, limit)
    .map((el) => {
      const r = el.getBoundingClientRect();
      return `${describe(el)} (left ${Math.round(r.left)}, right ${Math.round(r.right)})`;
    });
  return {scrollWidth: root.scrollWidth, clientWidth: width, offenders};
}
"""


def assert_no_horizontal_scroll(page: Page, width: int = 320) -> None:
    """At ``width`` CSS px the page must not scroll sideways (WCAG 1.4.10, reflow).

    The viewport is set to ``width`` for the check and put back afterwards. A failure
    names the elements that stick out.
    """
    before = page.viewport_size
    page.set_viewport_size({"width": width, "height": before["height"] if before else 640})
    try:
        found = page.evaluate(_OVERFLOW_JS, 5)
    finally:
        if before is not None:
            page.set_viewport_size(before)
    scroll, client = found["scrollWidth"], found["clientWidth"]
    assert scroll <= client, (
        f"{page.url} scrolls sideways at {width} CSS px: document scrollWidth {scroll} > "
        f"clientWidth {client}; elements sticking out:\n"
        + "\n".join(f"  - {o}" for o in found["offenders"] or ["(none found in <body>)"])
    )


# --------------------------------------------------------------------------- focus

_FOCUS_SETUP_JS = """
() => {
  const controls = 'a[href], area[href], button, input, select, textarea, summary';
  const styleOf = (el) => {
    const s = getComputedStyle(el);
    return {outlineStyle: s.outlineStyle, outlineWidth: s.outlineWidth,
            outlineColor: s.outlineColor, boxShadow: s.boxShadow};
  };
  const describe = (el) => {
    let d = '<' + el.localName;
    if (el.id) d += ' id="' + el.id + '"';
    const href = el.getAttribute('href');
    if (href !== null) d += ' href="' + href + '"';
    d += '>';
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '')
      .replace(/\\s+/g, ' ').trim().slice(0, 50);
    return text ? d + ' "' + text + '"' : d;
  };
  if (document.activeElement && document.activeElement !== document.body)
    document.activeElement.blur();
  const els = Array.from(document.querySelectorAll('*'))
    .filter((el) => el.tabIndex >= 0 || el.matches(controls));
  const visible = (el) => el.checkVisibility({visibilityProperty: true, checkVisibilityCSS: true});
  const mustReach = els.map((el, i) => i).filter((i) => {
    const el = els[i];
    if (!el.matches(controls) || el.matches(':disabled') || el.closest('[inert]')) return false;
    if (el.matches('input[type=hidden], input[type=radio]')) return false;
    if (el.localName === 'summary' && el.parentElement.querySelector(':scope > summary') !== el)
      return false;
    return visible(el);
  });
  window[Symbol.for('hallsense.focus')] = {els, styleOf, describe};
  return {
    unfocused: els.map(styleOf),
    names: els.map(describe),
    mustReach,
  };
}
"""

_FOCUS_STEP_JS = """
() => {
  const state = window[Symbol.for('hallsense.focus')];
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  // A focus style that fades in is judged at its end state.
  for (const a of el.getAnimations()) { try { a.finish(); } catch (e) { /* infinite */ } }
  const index = state.els.indexOf(el);
  const r = el.getBoundingClientRect();
  const onScreen = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0
    && r.top < innerHeight && r.left < innerWidth;
  return {index, name: state.describe(el), style: state.styleOf(el), onScreen};
}
"""


def _opaque(color: str) -> bool:
    color = color.strip().lower()
    if color in ("transparent", ""):
        return False
    inner = color[color.find("(") + 1 : color.rfind(")")] if "(" in color else ""
    if "/" in inner:
        alpha = inner.rsplit("/", 1)[1].strip()
    elif color.startswith("rgba(") or color.startswith("hsla("):
        alpha = inner.split(",")[-1].strip()
    else:
        return True
    try:
        return (float(alpha[:-1]) / 100 if alpha.endswith("%") else float(alpha)) > 0
    except ValueError:
        return True


def _px(length: str) -> float:
    try:
        return float(length.removesuffix("px"))
    except ValueError:
        return 0.0


def _outline(style: dict[str, str]) -> tuple[str, str, str] | None:
    if style["outlineStyle"] in ("none", "hidden") or _px(style["outlineWidth"]) <= 0:
        return None
    if not _opaque(style["outlineColor"]):
        return None
    return style["outlineStyle"], style["outlineWidth"], style["outlineColor"]


def _shadow(style: dict[str, str]) -> str | None:
    shadow = style["boxShadow"]
    return None if shadow in ("none", "") else shadow


def _focus_indicator(focused: dict[str, str], unfocused: dict[str, str] | None) -> bool:
    outline, shadow = _outline(focused), _shadow(focused)
    if unfocused is None:
        return outline is not None or shadow is not None
    return (outline is not None and outline != _outline(unfocused)) or (
        shadow is not None and shadow != _shadow(unfocused)
    )


def _show(style: dict[str, str]) -> str:
    return (
        f"outline {style['outlineStyle']} {style['outlineWidth']} {style['outlineColor']}, "
        f"box-shadow {style['boxShadow']}"
    )


def assert_visible_focus(page: Page) -> list[str]:
    """Tab through the whole page; every stop must show a visible focus indicator.

    An indicator is an outline (style not ``none``, width above 0, colour not
    transparent) or a box-shadow that the element does not have unfocused; the focused
    element must also be on screen. Tab must reach every visible link and form control
    (radio buttons, disabled and hidden controls aside). Uses the real keyboard, so
    ``:focus-visible`` styles apply. Works with JavaScript off.

    Returns:
        The Tab order, one description per stop, for tests that check it (a skip link first).
    """
    setup = page.evaluate(_FOCUS_SETUP_JS)
    unfocused: list[dict[str, str]] = setup["unfocused"]
    names: list[str] = setup["names"]
    order: list[str] = []
    reached: set[int] = set()
    faults: list[str] = []
    seen_stop: set[int | str] = set()
    cycled = False
    previous: int | str | None = None
    # A native date or time input takes one Tab per field (day, month, year): staying on
    # the same element is moving within it, not coming back round.
    for _ in range(len(names) * 4 + 8):
        page.keyboard.press("Tab")
        step = page.evaluate(_FOCUS_STEP_JS)
        if step is None:  # focus left the document; the next Tab starts it again
            previous = None
            continue
        index: int = step["index"]
        key: int | str = index if index >= 0 else step["name"]
        if key == previous:
            continue
        previous = key
        if key in seen_stop:
            cycled = True
            break
        seen_stop.add(key)
        order.append(step["name"])
        if index >= 0:
            reached.add(index)
        before = unfocused[index] if index >= 0 else None
        if not step["onScreen"]:
            faults.append(f"{step['name']}: focused but not on screen")
        elif not _focus_indicator(step["style"], before):
            was = f"; unfocused: {_show(before)}" if before else ""
            faults.append(
                f"{step['name']}: no visible focus indicator ({_show(step['style'])}{was})"
            )
    if order and not cycled:
        faults.append(f"Tab never came back round after {len(order)} stops (a keyboard trap?)")
    missed = [names[i] for i in setup["mustReach"] if i not in reached]
    faults.extend(f"{name}: never reached by Tab" for name in missed)
    assert not faults, (
        f"{page.url}: keyboard focus problems:\n"
        + "\n".join(f"  - {f}" for f in faults)
        + "\nTab order: "
        + (" → ".join(order) or "(nothing focusable)")
    )
    return order


# --------------------------------------------------------------------------- artefacts


def artifacts_dir() -> Path:
    """Where screenshots are kept: ``$HALLSENSE_TEST_ARTIFACTS`` or ``tests/artifacts``."""
    configured = os.environ.get(ARTIFACTS_ENV)
    directory = Path(configured).resolve() if configured else ARTIFACTS_DEFAULT
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save a PNG of the page as ``<artefacts>/<name>.png`` and return its path."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "page"
    path = artifacts_dir() / (stem if stem.endswith(".png") else f"{stem}.png")
    page.screenshot(path=str(path), full_page=full_page)
    return path
