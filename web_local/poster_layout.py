"""Where everything goes on the wall poster: its text fitted to the page, and its QR code.

The layout is measured, not drawn: ``layout_poster`` takes a ``measure(text, face,
size_pt)`` that gives a line's width in millimetres, so one layout serves the PDF and
the SVG (web_local.poster draws it). Every block of text is wrapped and shrunk, in whole
points, until it fits its box; the QR code (segno, error correction level Q or better)
takes the room between the top and the bottom blocks, at least ``QR_MIN_MM`` wide.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlsplit

import segno

Face = Literal["sans-bold", "sans", "mono-bold"]

#: The page, in millimetres (A4 portrait).
PAGE_WIDTH_MM = 210.0
PAGE_HEIGHT_MM = 297.0
MARGIN_MM = 14.0
CONTENT_WIDTH_MM = PAGE_WIDTH_MM - 2 * MARGIN_MM

#: The QR symbol's width without its quiet zone (4 modules each side, as the standard asks).
QR_MIN_MM = 60.0
QR_MAX_MM = 90.0
QR_QUIET_MODULES = 4

TITLE = ("Village hall sensors:", "what the air and the footfall say")
SCAN_LINE = "Scan the code with your phone's camera"
TYPE_LINE = "or type this address into your web browser:"
PRIVACY_LINES = (
    "It works on the hall Wi-Fi with no internet needed.",
    "No cameras and no personal data: the sensors measure the air, the noise level "
    "and how many people come and go, never who they are.",
)

#: The longest URL the poster accepts (a hall's page address is a few dozen characters).
MAX_URL_LENGTH = 120

PT_TO_MM = 25.4 / 72
"""Millimetres per typographic point."""
_ASCENT = 0.78  # baseline below the top of a line's em box, as a fraction of the size
_URL_BREAK = re.compile(r"[^/.:?&=#]+[/.:?&=#]*|[/.:?&=#]+")


@dataclass(frozen=True)
class TextLine:
    """One line of text, centred on the page at ``baseline_mm``."""

    text: str
    face: Face
    size_pt: float
    baseline_mm: float
    width_mm: float  # as measured for the layout


@dataclass(frozen=True)
class PosterLayout:
    """Where everything goes on the page, in millimetres from its top left corner."""

    lines: tuple[TextLine, ...]
    rules: tuple[tuple[float, float, float, float], ...]  # x, y, width, height
    qr_x_mm: float
    qr_y_mm: float
    qr_module_mm: float
    qr_rows: tuple[tuple[bool, ...], ...]  # dark modules, quiet zone excluded


Measure = Callable[[str, Face, float], float]


@dataclass(frozen=True)
class _Block:
    """A run of text to fit into the content width and at most ``max_height_mm``."""

    paragraphs: Sequence[str]
    face: Face
    max_pt: float
    min_pt: float
    max_height_mm: float
    leading: float = 1.15
    url_breaks: bool = False
    space_before_mm: float = 4.0
    rule_before_mm: float = 0.0  # a black rule's thickness, drawn in the space before
    one_line_min_pt: float | None = None  # shrink to this size before wrapping a paragraph


def layout_poster(
    hall_name: str, url: str, *, wifi_name: str | None = None, measure: Measure
) -> PosterLayout:
    """Place the poster's text and QR code; ``measure(text, face, size_pt)`` gives mm.

    From the top: the title, the hall's name, the line asking to scan; from the bottom:
    the privacy lines, the Wi-Fi name, the address and the line above it. The QR code
    takes the room between (at least ``QR_MIN_MM`` wide, at most ``QR_MAX_MM``), and the
    hall's name shrinks first when a long name would leave it too little.
    """
    hall_name = " ".join(hall_name.split())
    if not hall_name:
        raise ValueError("the hall's name is empty")
    _check_url(url)
    wifi = (wifi_name or "").strip()
    if len(wifi.encode()) > 32 or not wifi.isprintable():
        raise ValueError(f"{wifi_name!r} is not a Wi-Fi network name (at most 32 bytes)")

    title = _Block(TITLE, "sans-bold", 32, 20, 36, space_before_mm=0, one_line_min_pt=20)
    hall = _Block(
        [hall_name], "sans-bold", 60, 18, 50, leading=1.1, space_before_mm=9, rule_before_mm=1.2
    )
    scan = _Block([SCAN_LINE], "sans-bold", 22, 14, 10, space_before_mm=10, rule_before_mm=1.2)
    bottom = [
        _Block([TYPE_LINE], "sans", 20, 14, 9),
        _Block(
            [url],
            "mono-bold",
            36,
            16,
            26,
            leading=1.1,
            url_breaks=True,
            space_before_mm=2,
            one_line_min_pt=20,
        ),
    ]
    if wifi:
        wifi_line = f"Hall Wi-Fi: {wifi}"
        bottom.append(_Block([wifi_line], "sans-bold", 24, 12, 20, one_line_min_pt=16))
    bottom.append(
        _Block(
            PRIVACY_LINES, "sans", 20, 12, 36, leading=1.2, space_before_mm=6, rule_before_mm=0.6
        )
    )

    rows = _qr_rows(url)
    modules = len(rows) + 2 * QR_QUIET_MODULES
    qr_min_side = QR_MIN_MM * modules / len(rows)
    fitted = {id(block): _fit(block, measure) for block in (title, scan, *bottom)}
    others = sum(fitted[id(block)][2] + block.space_before_mm for block in (title, scan))
    others += sum(fitted[id(block)][2] + block.space_before_mm for block in bottom)
    hall_room = PAGE_HEIGHT_MM - 2 * MARGIN_MM - others - qr_min_side - hall.space_before_mm
    # What is left for the hall's name, less a little air above the QR code.
    hall = replace(hall, max_height_mm=min(hall.max_height_mm, hall_room - 8))
    fitted[id(hall)] = _fit(hall, measure)

    lines: list[TextLine] = []
    rules: list[tuple[float, float, float, float]] = []

    def place(block: _Block, top: float) -> float:
        if block.rule_before_mm:
            rule_y = top + (block.space_before_mm - block.rule_before_mm) / 2
            rules.append((MARGIN_MM, rule_y, CONTENT_WIDTH_MM, block.rule_before_mm))
        y = top + block.space_before_mm
        size, wrapped, _height = fitted[id(block)]
        size_mm = size * PT_TO_MM
        line_mm = size_mm * block.leading
        for text in wrapped:
            baseline = y + (line_mm - size_mm) / 2 + _ASCENT * size_mm
            lines.append(
                TextLine(text, block.face, size, baseline, measure(text, block.face, size))
            )
            y += line_mm
        return y

    y = MARGIN_MM
    for block in (title, hall, scan):
        y = place(block, y)
    qr_top = y + 1
    bottom_top = PAGE_HEIGHT_MM - MARGIN_MM
    bottom_top -= sum(fitted[id(block)][2] + block.space_before_mm for block in bottom)

    # The QR code takes what is left between, within its bounds, centred in that room.
    room = bottom_top - qr_top
    symbol_mm = max(QR_MIN_MM, min(QR_MAX_MM, room * len(rows) / modules))
    module_mm = symbol_mm / len(rows)
    qr_side = module_mm * modules
    qr_y = qr_top + max(0.0, (room - qr_side) / 2)

    y = max(bottom_top, qr_y + qr_side)
    for block in bottom:
        y = place(block, y)
    return PosterLayout(
        lines=tuple(lines),
        rules=tuple(rules),
        qr_x_mm=(PAGE_WIDTH_MM - qr_side) / 2 + QR_QUIET_MODULES * module_mm,
        qr_y_mm=qr_y + QR_QUIET_MODULES * module_mm,
        qr_module_mm=module_mm,
        qr_rows=rows,
    )


def _check_url(url: str) -> None:
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"the URL is {len(url)} characters; at most {MAX_URL_LENGTH} fit")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or url != url.strip():
        raise ValueError(f"{url!r} is not an http:// or https:// address")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise ValueError(f"{url!r} has characters a phone could not type: use the ASCII form")


def _qr_rows(url: str) -> tuple[tuple[bool, ...], ...]:
    # Error correction level Q at least (boosted when the version has room): a poster on a
    # wall gets scuffed, and still scans with a quarter of the code damaged.
    code = segno.make_qr(url, error="q", boost_error=True)
    return tuple(tuple(bool(dark) for dark in row) for row in code.matrix_iter(border=0))


def qr_runs(layout: PosterLayout) -> list[tuple[float, float, float, float]]:
    """Rectangles (x, y, width, height in mm) covering the dark modules, one per run."""
    runs = []
    m = layout.qr_module_mm
    for r, row in enumerate(layout.qr_rows):
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            runs.append((layout.qr_x_mm + start * m, layout.qr_y_mm + r * m, (c - start) * m, m))
    return runs


def _fit(block: _Block, measure: Measure) -> tuple[float, list[str], float]:
    """The largest size (whole points) at which a block fits its box; its lines; height.

    At the smallest size a word too long for a line is broken between characters, and
    what still does not fit the box's height is cut short with an ellipsis.
    """
    passes = [(block.min_pt, False)]
    if block.one_line_min_pt is not None:
        passes.insert(0, (block.one_line_min_pt, True))
    for floor, one_line in passes:
        size = block.max_pt
        while size >= floor:
            wrapped = _wrap(block, size, measure, break_words=False)
            height = len(wrapped or ()) * size * PT_TO_MM * block.leading
            fits = wrapped is not None and height <= block.max_height_mm
            if fits and (not one_line or len(wrapped or ()) == len(block.paragraphs)):
                return size, wrapped or [], height
            size -= 1
    size = block.min_pt
    wrapped = _wrap(block, size, measure, break_words=True) or []
    line_mm = size * PT_TO_MM * block.leading
    max_lines = max(1, int(block.max_height_mm // line_mm))
    if len(wrapped) > max_lines:
        wrapped = wrapped[:max_lines]
        last = wrapped[-1]
        while last and measure(last + "\u2026", block.face, size) > CONTENT_WIDTH_MM:
            last = last[:-1]
        wrapped[-1] = last.rstrip() + "\u2026"
    return size, wrapped, len(wrapped) * line_mm


def _wrap(block: _Block, size: float, measure: Measure, *, break_words: bool) -> list[str] | None:
    """Greedy line filling; None when a word is wider than a line and may not be broken.

    A URL breaks only after ``/``, ``.``, ``:``, ``?``, ``&``, ``=`` or ``#``, never after a
    hyphen (which would read as a word split in two) and with no hyphen added, so each line
    is typed as it stands.
    """
    out: list[str] = []
    face = block.face
    joiner = "" if block.url_breaks else " "
    for paragraph in block.paragraphs:
        words = _URL_BREAK.findall(paragraph) if block.url_breaks else paragraph.split()
        line = ""
        for word in words:
            candidate = line + joiner + word if line else word
            if measure(candidate, face, size) <= CONTENT_WIDTH_MM:
                line = candidate
                continue
            if line:
                out.append(line)
            line = word
            while measure(line, face, size) > CONTENT_WIDTH_MM:
                if not break_words:
                    return None
                cut = len(line) - 1
                while cut > 1 and measure(line[:cut], face, size) > CONTENT_WIDTH_MM:
                    cut -= 1
                out.append(line[:cut])
                line = line[cut:]
        if line:
            out.append(line)
    return out
