"""The A4 wall poster for the hall: the local page's address, spelt out and as a QR code.

``hallsense edge poster`` prints it; this module only builds it, as bytes of an SVG or a
PDF, from the hall's name, the page's URL and, optionally, the hall's Wi-Fi network name.
Pure functions: no network, no files, nothing fetched (the poster is made offline).

One layout serves both formats: every line of text is measured with the metrics of the
PDF's built-in fonts (Helvetica Bold, Helvetica and Courier Bold, which every PDF reader
has, so nothing is embedded and nothing is downloaded), wrapped, and shrunk until it fits
its box. An SVG is drawn by whatever fonts the viewer has, so its text is laid out for
fonts up to a quarter wider than Helvetica (DejaVu Sans, common on a Pi, is about a fifth
wider), and centred with ``text-anchor`` so it stays on the page. The QR code is made by
segno and drawn as filled rectangles, one per run of dark modules, in both formats: no
bitmap, sharp at any print size, and at least 60 mm wide without its quiet zone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import segno
from fpdf import FPDF

PosterFormat = Literal["pdf", "svg"]
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

_PT_TO_MM = 25.4 / 72
_PDF_FONTS: dict[Face, tuple[str, str]] = {
    "sans-bold": ("Helvetica", "B"),
    "sans": ("Helvetica", ""),
    "mono-bold": ("Courier", "B"),
}
# Metric-compatible faces first (Liberation, Arimo and Arial share Helvetica's widths,
# Liberation Mono and Cousine share Courier's), then the wider common fallbacks.
_SVG_FAMILIES: dict[Face, str] = {
    "sans-bold": "'Liberation Sans', Arimo, Arial, Helvetica, 'DejaVu Sans', sans-serif",
    "sans": "'Liberation Sans', Arimo, Arial, Helvetica, 'DejaVu Sans', sans-serif",
    "mono-bold": "'Liberation Mono', Cousine, 'Courier New', 'DejaVu Sans Mono', monospace",
}
# How much wider than the PDF font metrics the SVG viewer's fonts may be.
_SVG_WIDTH_ALLOWANCE: dict[Face, float] = {"sans-bold": 1.25, "sans": 1.25, "mono-bold": 1.02}
_ASCENT = 0.78  # baseline below the top of a line's em box, as a fraction of the size
_URL_BREAK = re.compile(r"[^/.:?&=#]+[/.:?&=#]*|[/.:?&=#]+")
_HOSTNAME_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


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


def build_poster(
    hall_name: str,
    url: str,
    *,
    fmt: PosterFormat = "pdf",
    wifi_name: str | None = None,
    created: datetime | None = None,
) -> bytes:
    """The poster as the bytes of a PDF or an SVG file.

    Args:
        hall_name: The hall's name, as large as fits (wrapped onto up to a few lines).
        url: The local page's address, e.g. ``http://askrigg-hall.local:8080/``; the QR
            code encodes exactly this text.
        fmt: ``"pdf"`` or ``"svg"``.
        wifi_name: The hall Wi-Fi network's name, printed when given.
        created: The PDF's creation date (default: now); not used for SVG.

    Raises:
        ValueError: An empty hall name, a URL that is not an http(s) address, a URL
            longer than ``MAX_URL_LENGTH``, a Wi-Fi name longer than 32 bytes, or an
            unknown format.
    """
    if fmt == "pdf":
        return poster_pdf(hall_name, url, wifi_name=wifi_name, created=created)
    if fmt == "svg":
        return poster_svg(hall_name, url, wifi_name=wifi_name)
    raise ValueError(f"unknown poster format {fmt!r}: expected 'pdf' or 'svg'")


def poster_pdf(
    hall_name: str, url: str, *, wifi_name: str | None = None, created: datetime | None = None
) -> bytes:
    """The poster as a one-page A4 PDF (vector QR code, built-in fonts, nothing embedded)."""
    pdf = _new_pdf()
    layout = layout_poster(
        hall_name, url, wifi_name=wifi_name, measure=_pdf_measure(pdf, allowance=False)
    )
    pdf.set_title(f"{_pdf_text(hall_name)}: the hall's sensor page")
    pdf.set_subject(f"Scan or type {url} on the hall Wi-Fi")
    pdf.set_author("hallsense")
    pdf.set_creator("hallsense edge poster")
    pdf.set_lang("en-GB")
    if created is not None:
        pdf.set_creation_date(created)
    pdf.add_page()
    pdf.set_fill_color(0, 0, 0)
    pdf.set_text_color(0, 0, 0)
    for x, y, width, height in layout.rules:
        pdf.rect(x, y, width, height, style="F")
    for line in layout.lines:
        family, style = _PDF_FONTS[line.face]
        pdf.set_font(family, style, line.size_pt)
        pdf.text((PAGE_WIDTH_MM - line.width_mm) / 2, line.baseline_mm, _pdf_text(line.text))
    for x, y, width, height in _qr_runs(layout):
        pdf.rect(x, y, width, height, style="F")
    return bytes(pdf.output())


def poster_svg(hall_name: str, url: str, *, wifi_name: str | None = None) -> bytes:
    """The poster as a standalone SVG document, 210 x 297 mm (no scripts, no links out)."""
    layout = layout_poster(
        hall_name, url, wifi_name=wifi_name, measure=_pdf_measure(_new_pdf(), allowance=True)
    )
    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "version": "1.1",
            "width": f"{PAGE_WIDTH_MM:g}mm",
            "height": f"{PAGE_HEIGHT_MM:g}mm",
            "viewBox": f"0 0 {PAGE_WIDTH_MM:g} {PAGE_HEIGHT_MM:g}",
            "role": "img",
            "aria-labelledby": "poster-title poster-desc",
            "{http://www.w3.org/XML/1998/namespace}lang": "en-GB",
        },
    )
    ET.SubElement(
        svg, "title", {"id": "poster-title"}
    ).text = f"{hall_name}: the hall's sensor page"
    ET.SubElement(svg, "desc", {"id": "poster-desc"}).text = (
        f"Scan the QR code or type {url} on the hall Wi-Fi. " + " ".join(PRIVACY_LINES)
    )
    ET.SubElement(
        svg,
        "rect",
        {"width": "100%", "height": "100%", "fill": "#fff"},
    )
    for x, y, width, height in layout.rules:
        ET.SubElement(
            svg,
            "rect",
            {
                "x": _num(x),
                "y": _num(y),
                "width": _num(width),
                "height": _num(height),
                "fill": "#000",
            },
        )
    for line in layout.lines:
        element = ET.SubElement(
            svg,
            "text",
            {
                "x": _num(PAGE_WIDTH_MM / 2),
                "y": _num(line.baseline_mm),
                "text-anchor": "middle",
                "font-family": _SVG_FAMILIES[line.face],
                "font-weight": "normal" if line.face == "sans" else "bold",
                "font-size": _num(line.size_pt * _PT_TO_MM),
                "fill": "#000",
            },
        )
        element.text = line.text
    path = "".join(
        f"M{_num(x)} {_num(y)}h{_num(width)}v{_num(height)}h{_num(-width)}z"
        for x, y, width, height in _qr_runs(layout)
    )
    ET.SubElement(
        svg,
        "path",
        {"d": path, "fill": "#000", "shape-rendering": "crispEdges", "aria-hidden": "true"},
    )
    ET.indent(svg)
    document: bytes = ET.tostring(svg, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def local_page_url(hostname: str, port: int) -> str:
    """The address the hall's page has on the hall network: ``http://<host>.local:<port>/``.

    The host is the machine's short name (an mDNS ``.local`` name is its first label);
    port 80 is left out, as browsers do.

    Raises:
        ValueError: A host name that is not a valid DNS label, or a port outside 1-65535.
    """
    host = hostname.strip().lower().removesuffix(".").removesuffix(".local").split(".")[0]
    if not _HOSTNAME_LABEL.fullmatch(host):
        raise ValueError(f"{hostname!r} is not a host name a phone can find as <name>.local")
    if not 1 <= port <= 65535:
        raise ValueError(f"port {port} is outside 1-65535")
    return f"http://{host}.local/" if port == 80 else f"http://{host}.local:{port}/"


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
        size_mm = size * _PT_TO_MM
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


def _qr_runs(layout: PosterLayout) -> list[tuple[float, float, float, float]]:
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
            height = len(wrapped or ()) * size * _PT_TO_MM * block.leading
            fits = wrapped is not None and height <= block.max_height_mm
            if fits and (not one_line or len(wrapped or ()) == len(block.paragraphs)):
                return size, wrapped or [], height
            size -= 1
    size = block.min_pt
    wrapped = _wrap(block, size, measure, break_words=True) or []
    line_mm = size * _PT_TO_MM * block.leading
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


def _new_pdf() -> FPDF:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    # The built-in fonts are written with WinAnsiEncoding: cp1252 gives them curly
    # quotes, dashes and the ellipsis as well as Latin-1.
    pdf.core_fonts_encoding = "cp1252"
    return pdf


def _pdf_measure(pdf: FPDF, *, allowance: bool) -> Measure:
    def measure(text: str, face: Face, size_pt: float) -> float:
        family, style = _PDF_FONTS[face]
        pdf.set_font(family, style, size_pt)
        width = float(pdf.get_string_width(_pdf_text(text)))
        return width * _SVG_WIDTH_ALLOWANCE[face] if allowance else width

    return measure


def _pdf_text(text: str) -> str:
    """Text the PDF's built-in fonts can show: letters outside cp1252 lose their accents."""
    out = []
    for char in text:
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            try:
                base.encode("cp1252")
            except UnicodeEncodeError:
                base = "?"
            out.append(base or "?")
        else:
            out.append(char)
    return "".join(out)


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")
