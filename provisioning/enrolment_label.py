"""The installer's enrolment label: the QR code's text and a printable SVG label.

The QR code carries what a node needs to enrol without typing: the hub's address, the
one-time token, the council CA's fingerprint and the device id, in the text the enrolment
contract defines (:data:`hub_sync.enrolment_contract.URI_PREFIX`).
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from urllib.parse import quote, urlencode, urlsplit
from xml.sax.saxutils import escape

import segno

from hub_sync.enrolment_contract import (
    CA_FINGERPRINT_PREFIX,
    URI_CA,
    URI_DEVICE,
    URI_HUB,
    URI_PREFIX,
    URI_TOKEN,
)
from hub_sync.fingerprints import certificate_fingerprint, normalise_fingerprint
from hub_sync.topics import check_device_id


def ca_fingerprint(ca_pem: str) -> str:
    """``sha256:<hex>`` of a PEM certificate's DER bytes (as ``openssl x509 -fingerprint``)."""
    return certificate_fingerprint(ssl.PEM_cert_to_DER_cert(ca_pem))


def qr_payload(
    hub_url: str, token: str, ca_fingerprint: str, *, device_id: str | None = None
) -> str:
    """The text of the label's QR code: ``hallsense-enrol:v1?hub=…&token=…&ca=sha256:…``.

    ``device`` is added when ``device_id`` is given. ``hub_url`` must be ``https``: the
    node enrols only over TLS, pinning the CA of the fingerprint.

    Raises:
        ValueError: the hub URL is not https, or the fingerprint is not SHA-256.
    """
    parts = urlsplit(hub_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"the hub URL must be https://host[:port], not {hub_url!r}")
    query: list[tuple[str, str]] = [(URI_HUB, hub_url.rstrip("/")), (URI_TOKEN, token)]
    if device_id is not None:
        query.append((URI_DEVICE, check_device_id(device_id)))
    query.append((URI_CA, CA_FINGERPRINT_PREFIX + normalise_fingerprint(ca_fingerprint)))
    return URI_PREFIX + urlencode(query, quote_via=quote, safe=":/")


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines


def label_svg(
    *,
    hub_url: str,
    token: str,
    ca_fingerprint: str,
    device_id: str,
    site: str,
    expires_at: datetime | None = None,
    width_mm: float = 62.0,
) -> str:
    """A printable label (SVG, sized in millimetres): the enrolment QR code, site and device.

    The QR code (segno, error correction M, four modules of quiet zone) carries
    :func:`qr_payload` with the device id; it is drawn as one path of black runs, so it
    prints sharp at any size. The token itself is not printed as text: whoever holds the
    label can enrol the device once, so it goes with the installer, not on the wall.
    """
    payload = qr_payload(hub_url, token, ca_fingerprint, device_id=device_id)
    qr = segno.make(payload, error="m", micro=False)
    modules, _ = qr.symbol_size(border=4)
    runs: list[str] = []
    for y, row in enumerate(qr.matrix_iter(border=4)):
        x = 0
        cells = [bool(v) for v in row]
        while x < len(cells):
            if cells[x]:
                start = x
                while x < len(cells) and cells[x]:
                    x += 1
                runs.append(f"M{start},{y}h{x - start}v1h-{x - start}z")
            else:
                x += 1
    margin = 3.0
    qr_mm = width_mm - 2 * margin
    scale = qr_mm / modules
    font = 3.6
    line_height = font * 1.35
    lines: list[tuple[str, str]] = [(line, "bold") for line in _wrap(site, 30)]
    lines.append((f"Device: {device_id}", "normal"))
    if expires_at is not None:
        lines.append((f"Enrol before {expires_at.astimezone(UTC):%d %b %Y %H:%M} UTC", "normal"))
    lines.append(("One-time enrolment code. Keep safe.", "normal"))
    height = margin + qr_mm + margin + len(lines) * line_height + margin
    texts = []
    y_text = margin + qr_mm + margin + font
    for text, weight in lines:
        texts.append(
            f'<text x="{width_mm / 2:.2f}" y="{y_text:.2f}" font-size="{font}" '
            f'font-weight="{weight}" text-anchor="middle">{escape(text)}</text>'
        )
        y_text += line_height
    title = escape(f"hallsense enrolment label for {device_id}, {site}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width_mm:.2f}mm" '
        f'height="{height:.2f}mm" viewBox="0 0 {width_mm:.2f} {height:.2f}" '
        'role="img" font-family="Helvetica, Arial, sans-serif">\n'
        f"<title>{title}</title>\n"
        f'<rect width="{width_mm:.2f}" height="{height:.2f}" fill="#fff"/>\n'
        f'<path class="qr" transform="translate({margin:.2f} {margin:.2f}) scale({scale:.6f})" '
        f'fill="#000" d="{"".join(runs)}"/>\n' + "\n".join(texts) + "\n</svg>\n"
    )
