"""The A4 wall poster for the hall: the local page's address, spelt out and as a QR code.

``hallsense edge poster`` prints it; this module only builds it, as bytes of an SVG or a
PDF, from the hall's name, the page's URL and, optionally, the hall's Wi-Fi network name.
Pure functions: no network, no files, nothing fetched (the poster is made offline).

One layout (web_local.poster_layout) serves both formats: every line of text is
measured with the metrics of the PDF's built-in fonts (Helvetica Bold, Helvetica and
Courier Bold, which every PDF reader has, so nothing is embedded and nothing is
downloaded), wrapped, and shrunk until it fits its box. An SVG is drawn by whatever fonts
the viewer has, so its text is laid out for fonts up to a quarter wider than Helvetica
(DejaVu Sans, common on a Pi, is about a fifth wider), and centred with ``text-anchor``
so it stays on the page. The QR code is made by segno and drawn as filled rectangles,
one per run of dark modules, in both formats: no bitmap, sharp at any print size, and at
least 60 mm wide without its quiet zone.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from xml.etree import ElementTree as ET

from fpdf import FPDF

from presentation.pdf_text import pdf_text
from web_local.poster_layout import (
    MARGIN_MM,
    PAGE_HEIGHT_MM,
    PAGE_WIDTH_MM,
    PRIVACY_LINES,
    PT_TO_MM,
    Face,
    Measure,
    layout_poster,
    qr_runs,
)

PosterFormat = Literal["pdf", "svg"]

_HOSTNAME_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

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
            longer than ``poster_layout.MAX_URL_LENGTH``, a Wi-Fi name longer than 32 bytes, or an
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
    pdf.set_title(f"{pdf_text(hall_name)}: the hall's sensor page")
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
        pdf.text((PAGE_WIDTH_MM - line.width_mm) / 2, line.baseline_mm, pdf_text(line.text))
    for x, y, width, height in qr_runs(layout):
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
                "font-size": _num(line.size_pt * PT_TO_MM),
                "fill": "#000",
            },
        )
        element.text = line.text
    path = "".join(
        f"M{_num(x)} {_num(y)}h{_num(width)}v{_num(height)}h{_num(-width)}z"
        for x, y, width, height in qr_runs(layout)
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
        width = float(pdf.get_string_width(pdf_text(text)))
        return width * _SVG_WIDTH_ALLOWANCE[face] if allowance else width

    return measure


def _num(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")
