"""Text as the PDF's built-in fonts can show it: the wall poster's and the monthly report's.

The built-in fonts (Helvetica, Courier) cover cp1252 only; nothing is embedded, so that
a PDF made offline on the node needs no font file.
"""

from __future__ import annotations

import unicodedata


def pdf_text(text: str) -> str:
    """Text the built-in fonts can show (cp1252): other letters lose their accents or read ?."""
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            try:
                base.encode("cp1252")
            except UnicodeEncodeError:
                base = "?"
            out.append(base or "?")
    return "".join(out)
