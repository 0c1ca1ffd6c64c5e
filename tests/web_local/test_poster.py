"""The wall poster: what a hall committee member checks, checked on the printed page.

Every QR code here is decoded for real (zxing-cpp) from the poster rasterised by the tools
a user would print or view it with: poppler's pdftoppm for the PDF and librsvg's
rsvg-convert for the SVG. Text is read back with pdftotext and an XML parser.
"""

import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import zxingcpp
from PIL import Image

from web_local.poster import build_poster, local_page_url
from web_local.poster_layout import MAX_URL_LENGTH, PAGE_HEIGHT_MM, PAGE_WIDTH_MM

URL = "http://askrigg-hall.local:8080/"
HALL = "Askrigg Village Hall"
DPI = 120
# The symbol's side as zxing-cpp finds its corners at DPI: 6 cm, less a pixel's rounding.
QR_MIN_WIDTH_MM = 60 - 25.4 / DPI
SVG_NS = "{http://www.w3.org/2000/svg}"
MM_PER_PT = 25.4 / 72
LONG_NAME = (
    "The Reverend Bartholomew Fotheringay-Smythe Memorial Village Hall and Community "
    "Recreation Ground of Upper, Middle and Lower Wallop-on-the-Wold"
)


def _tool(name: str, package: str) -> str:
    found = shutil.which(name)
    if not found:
        raise AssertionError(
            f"{name} not found: scripts/setup installs it (apt-get install {package})"
        )
    return found


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout


def rasterise(poster: bytes, fmt: str, tmp_path: Path) -> Image.Image:
    """The poster as a greyscale bitmap at DPI, rendered as a viewer or printer would."""
    source = tmp_path / f"poster.{fmt}"
    source.write_bytes(poster)
    if fmt == "pdf":
        _run(
            _tool("pdftoppm", "poppler-utils"),
            *("-r", str(DPI), "-gray", "-singlefile", "-png"),
            str(source),
            str(tmp_path / "pdf-page"),
        )
        png = tmp_path / "pdf-page.png"
    else:
        png = tmp_path / "svg-page.png"
        _run(
            _tool("rsvg-convert", "librsvg2-bin"),
            *("--dpi-x", str(DPI), "--dpi-y", str(DPI), "--background-color", "white"),
            *("--format", "png", "--output", str(png)),
            str(source),
        )
    with Image.open(png) as image:
        return image.convert("L")


def decode_qr(image: Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def qr_box_mm(barcode: zxingcpp.Barcode) -> tuple[float, float, float, float]:
    """The decoded symbol's bounding box (left, top, right, bottom) in millimetres."""
    corners = barcode.position
    points = [corners.top_left, corners.top_right, corners.bottom_left, corners.bottom_right]
    xs = [p.x * 25.4 / DPI for p in points]
    ys = [p.y * 25.4 / DPI for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def darkest_outside(image: Image.Image, border_mm: float) -> int:
    """The darkest pixel (0 black, 255 white) in the page's outer border of border_mm."""
    px = round(border_mm / 25.4 * DPI)
    width, height = image.size
    strips = [
        (0, 0, width, px),
        (0, height - px, width, height),
        (0, 0, px, height),
        (width - px, 0, width, height),
    ]
    return min(image.crop(box).getextrema()[0] for box in strips)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    return _run(_tool("pdftotext", "poppler-utils"), str(source), "-")


def pdf_words(pdf: bytes, tmp_path: Path) -> list[tuple[str, float, float, float, float]]:
    """Every word pdftotext finds, with its box (left, top, right, bottom) in millimetres."""
    source = tmp_path / "words.pdf"
    source.write_bytes(pdf)
    xhtml = _run(_tool("pdftotext", "poppler-utils"), "-bbox", str(source), "-")
    words = []
    for match in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        xhtml,
    ):
        left, top, right, bottom = (float(match.group(i)) * MM_PER_PT for i in range(1, 5))
        words.append((match.group(5), left, top, right, bottom))
    return words


def svg_lines(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)  # noqa: S314 (our own output, not untrusted input)
    return [element.text or "" for element in root.iter(f"{SVG_NS}text")]


def squeeze(text: str) -> str:
    return " ".join(text.split())


# --- the QR code decodes to the address, in both formats ---


@pytest.mark.parametrize("fmt", ["pdf", "svg"])
@pytest.mark.parametrize(
    "url",
    [
        URL,
        "http://askrigg-hall.local/",
        "http://192.168.4.1:8080/",
        "http://upper-middle-and-lower-wallop-memorial-hall.local:8080/",
    ],
)
def test_qr_code_decodes_to_the_url_and_is_at_least_6_cm_wide(fmt, url, tmp_path):
    image = rasterise(build_poster(HALL, url, fmt=fmt, wifi_name="AskriggHall"), fmt, tmp_path)

    found = decode_qr(image)

    assert [barcode.text for barcode in found] == [url]
    left, top, right, bottom = qr_box_mm(found[0])
    assert right - left >= QR_MIN_WIDTH_MM
    assert bottom - top >= QR_MIN_WIDTH_MM
    assert abs((left + right) / 2 - PAGE_WIDTH_MM / 2) < 2  # centred on the page


# --- the words on the page ---


def test_pdf_shows_title_hall_address_wifi_and_privacy_lines(tmp_path):
    pdf = build_poster(HALL, URL, fmt="pdf", wifi_name="AskriggHall-Guest")

    text = squeeze(pdf_text(pdf, tmp_path))

    assert "Village hall sensors: what the air and the footfall say" in text
    assert HALL in text
    assert URL in text  # spelt out in full, on one line
    assert "Hall Wi-Fi: AskriggHall-Guest" in text
    assert "works on the hall Wi-Fi with no internet needed" in text
    assert "No cameras and no personal data" in text


def test_svg_shows_title_hall_address_wifi_and_privacy_lines():
    svg = build_poster(HALL, URL, fmt="svg", wifi_name="AskriggHall-Guest")

    lines = svg_lines(svg)
    text = squeeze(" ".join(lines))

    assert "Village hall sensors: what the air and the footfall say" in text
    assert HALL in text
    assert URL in lines
    assert "Hall Wi-Fi: AskriggHall-Guest" in lines
    assert "works on the hall Wi-Fi with no internet needed" in text
    assert "No cameras and no personal data" in text
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    assert (root.findtext(f"{SVG_NS}title") or "").startswith(HALL)


@pytest.mark.parametrize("fmt", ["pdf", "svg"])
def test_wifi_line_only_when_a_network_name_is_given(fmt, tmp_path):
    poster = build_poster(HALL, URL, fmt=fmt)

    text = pdf_text(poster, tmp_path) if fmt == "pdf" else " ".join(svg_lines(poster))

    assert "Hall Wi-Fi:" not in text
    assert "no internet needed" in text


def test_address_is_spelt_out_large():
    root = ET.fromstring(build_poster(HALL, URL, fmt="svg"))  # noqa: S314 (our own output)

    (address,) = [e for e in root.iter(f"{SVG_NS}text") if e.text == URL]

    assert float(address.get("font-size", "0")) / MM_PER_PT >= 24  # points
    assert "mono" in address.get("font-family", "")  # l, 1 and I told apart


def test_hall_name_with_markup_characters_is_escaped_in_svg(tmp_path):
    name = 'St Mary\'s <Hall> & "Rooms"'
    wifi = "<guest> & co"

    svg = build_poster(name, URL, fmt="svg", wifi_name=wifi)

    assert b"<Hall>" not in svg
    assert b"<guest>" not in svg
    assert b"&lt;Hall&gt; &amp;" in svg
    text = squeeze(" ".join(svg_lines(svg)))  # parses: the markup is text, not elements
    assert name in text
    assert f"Hall Wi-Fi: {wifi}" in text
    assert [b.text for b in decode_qr(rasterise(svg, "svg", tmp_path))] == [URL]


def test_pdf_shows_the_same_name_with_markup_characters(tmp_path):
    name = "St Mary's <Hall> & Rooms"

    text = squeeze(pdf_text(build_poster(name, URL, fmt="pdf"), tmp_path))

    assert name in text


def test_letters_outside_the_pdf_fonts_lose_only_their_accents(tmp_path):
    # The PDF's built-in fonts cover Western European letters (cp1252); a Welsh ŷ is
    # printed as y there, while the SVG keeps every letter.
    name = "Neuadd Tŷ Croes \u2013 Café"  # an en dash, which cp1252 has

    pdf = squeeze(pdf_text(build_poster(name, URL, fmt="pdf"), tmp_path))
    svg = squeeze(" ".join(svg_lines(build_poster(name, URL, fmt="svg"))))

    assert "Neuadd Ty Croes \u2013 Café" in pdf
    assert name in svg


# --- everything stays on the page ---


@pytest.mark.parametrize("fmt", ["pdf", "svg"])
def test_long_hall_name_wraps_and_stays_on_the_page(fmt, tmp_path):
    poster = build_poster(LONG_NAME, URL, fmt=fmt, wifi_name="Wallop Memorial Hall Guests")
    image = rasterise(poster, fmt, tmp_path)

    assert darkest_outside(image, border_mm=10) == 255
    assert [barcode.text for barcode in decode_qr(image)] == [URL]
    if fmt == "pdf":
        text = squeeze(pdf_text(poster, tmp_path))
        assert LONG_NAME in text  # wrapped onto lines, not cut
        assert URL in text
    else:
        lines = svg_lines(poster)
        assert LONG_NAME in squeeze(" ".join(lines))
        assert 2 <= sum(1 for line in lines if line in LONG_NAME) <= 6


def test_long_hall_name_leaves_every_word_clear_of_the_qr_code_and_each_other(tmp_path):
    pdf = build_poster(LONG_NAME, URL, fmt="pdf", wifi_name="Wallop Memorial Hall Guests")
    words = pdf_words(pdf, tmp_path)
    (qr,) = decode_qr(rasterise(pdf, "pdf", tmp_path))
    q_left, q_top, q_right, q_bottom = qr_box_mm(qr)

    for word, left, top, right, bottom in words:
        assert left >= 10, word
        assert right <= PAGE_WIDTH_MM - 10, word
        assert top >= 10, word
        assert bottom <= PAGE_HEIGHT_MM - 10, word
        assert bottom <= q_top or top >= q_bottom, f"{word!r} runs into the QR code"
    for i, (word, left, top, right, bottom) in enumerate(words):
        for other, o_left, o_top, o_right, o_bottom in words[i + 1 :]:
            apart = right <= o_left or o_right <= left or bottom <= o_top or o_bottom <= top
            assert apart, f"{word!r} overlaps {other!r}"
    assert q_left > 10
    assert q_right < PAGE_WIDTH_MM - 10


@pytest.mark.parametrize("fmt", ["pdf", "svg"])
def test_absurdly_long_name_is_cut_short_and_the_page_still_works(fmt, tmp_path):
    name = "Hall " * 200 + "X" * 300

    poster = build_poster(name, URL, fmt=fmt)
    image = rasterise(poster, fmt, tmp_path)

    assert darkest_outside(image, border_mm=10) == 255
    (qr,) = decode_qr(image)
    assert qr.text == URL
    left, _top, right, _bottom = qr_box_mm(qr)
    assert right - left >= QR_MIN_WIDTH_MM
    text = pdf_text(poster, tmp_path) if fmt == "pdf" else " ".join(svg_lines(poster))
    assert "\u2026" in text
    assert URL in squeeze(text)


@pytest.mark.parametrize("fmt", ["pdf", "svg"])
def test_longest_accepted_url_is_spelt_out_whole_and_scans(fmt, tmp_path):
    url = "http://hall.local:8080/" + "a/" * ((MAX_URL_LENGTH - 23) // 2)
    url = url.ljust(MAX_URL_LENGTH, "b")

    poster = build_poster(LONG_NAME, url, fmt=fmt, wifi_name="W" * 32)
    image = rasterise(poster, fmt, tmp_path)

    assert [barcode.text for barcode in decode_qr(image)] == [url]
    assert darkest_outside(image, border_mm=10) == 255
    text = pdf_text(poster, tmp_path) if fmt == "pdf" else "\n".join(svg_lines(poster))
    assert url in "".join(text.split())  # on several lines, every character there
    assert "\u2026" not in text.replace(LONG_NAME, "")


# --- the page itself ---


def test_pdf_is_one_a4_page(tmp_path):
    pdf = build_poster(HALL, URL, fmt="pdf")
    source = tmp_path / "poster.pdf"
    source.write_bytes(pdf)

    info = _run(_tool("pdfinfo", "poppler-utils"), str(source))

    assert re.search(r"^Pages:\s+1$", info, re.MULTILINE)
    match = re.search(rb"/MediaBox\s*\[\s*0\.?0*\s+0\.?0*\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert match
    assert float(match.group(1)) == pytest.approx(595.28, abs=0.1)
    assert float(match.group(2)) == pytest.approx(841.89, abs=0.1)


@pytest.mark.slow
def test_svg_is_a4_and_rasterises_at_its_size(tmp_path):
    svg = build_poster(HALL, URL, fmt="svg")
    root = ET.fromstring(svg)  # noqa: S314 (our own output)

    assert (root.get("width"), root.get("height")) == ("210mm", "297mm")
    assert root.get("viewBox") == "0 0 210 297"
    width, height = rasterise(svg, "svg", tmp_path).size
    assert width == pytest.approx(210 / 25.4 * DPI, abs=1)
    assert height == pytest.approx(297 / 25.4 * DPI, abs=1)


def test_nothing_remote_and_nothing_active():
    svg = build_poster(HALL, URL, fmt="svg")
    pdf = build_poster(HALL, URL, fmt="pdf")
    root = ET.fromstring(svg)  # noqa: S314 (our own output)

    tags = {element.tag.removeprefix(SVG_NS) for element in root.iter()}
    assert tags <= {"svg", "title", "desc", "rect", "text", "path"}
    assert not [k for e in root.iter() for k in e.attrib if "href" in k or k.startswith("on")]
    assert b"/URI" not in pdf
    assert b"/JavaScript" not in pdf
    assert b"/FontFile" not in pdf  # the reader's built-in fonts: nothing to embed or fetch


def test_same_inputs_give_the_same_bytes():
    created = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    pdfs = {build_poster(HALL, URL, fmt="pdf", created=created) for _ in range(2)}
    svgs = {build_poster(HALL, URL, fmt="svg") for _ in range(2)}

    assert len(pdfs) == 1
    assert len(svgs) == 1


# --- inputs ---


@pytest.mark.parametrize(
    ("hall", "url", "fmt", "message"),
    [
        ("  ", URL, "pdf", "name is empty"),
        (HALL, "askrigg-hall.local:8080", "pdf", "not an http"),
        (HALL, "ftp://askrigg-hall.local/", "svg", "not an http"),
        (HALL, "http:///nohost", "svg", "not an http"),
        (HALL, " http://askrigg-hall.local/", "svg", "not an http"),
        (HALL, "http://neuadd-tŷ.local/", "svg", "ASCII"),
        (HALL, "http://askrigg-hall.local/a page", "svg", "ASCII"),
        (HALL, "http://a.local/" + "x" * MAX_URL_LENGTH, "pdf", "at most"),
        (HALL, URL, "png", "unknown poster format"),
    ],
)
def test_bad_inputs_are_refused_with_a_reason(hall, url, fmt, message):
    with pytest.raises(ValueError, match=message):
        build_poster(hall, url, fmt=fmt)


@pytest.mark.parametrize(
    ("hostname", "port", "expected"),
    [
        ("askrigg-hall", 8080, "http://askrigg-hall.local:8080/"),
        ("askrigg-hall", 80, "http://askrigg-hall.local/"),
        ("Askrigg-Hall", 8080, "http://askrigg-hall.local:8080/"),
        ("askrigg-hall.council.example", 8080, "http://askrigg-hall.local:8080/"),
        ("askrigg-hall.local", 8080, "http://askrigg-hall.local:8080/"),
    ],
)
def test_local_page_url(hostname, port, expected):
    assert local_page_url(hostname, port) == expected


@pytest.mark.parametrize(
    ("hostname", "port"),
    [("", 8080), ("hall_pi", 8080), ("-hall", 8080), ("hall", 0), ("hall", 65536)],
)
def test_local_page_url_refuses_what_a_phone_cannot_reach(hostname, port):
    with pytest.raises(ValueError, match=r"host name|port"):
        local_page_url(hostname, port)


@pytest.mark.parametrize("wifi", ["W" * 33, "caf\u00e9" * 9, "hall\nwifi"])
def test_wifi_name_must_be_a_real_network_name(wifi):
    with pytest.raises(ValueError, match="Wi-Fi network name"):
        build_poster(HALL, URL, fmt="svg", wifi_name=wifi)
