"""The monthly report as an A4 PDF a clerk prints for the parish meeting.

Made with fpdf2 and the PDF's built-in fonts (Helvetica), which every PDF reader has, so
nothing is embedded and nothing is fetched. Charts are vector drawings in black, greys and
patterns (solid, striped, dotted, cross-hatched, open), every bar labelled with its value,
so they read the same printed in black and white. The words and numbers are those of the
:class:`presentation.report_model.MonthlyReport` the HTML version draws.
"""

from __future__ import annotations

from datetime import datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from presentation.pdf_text import pdf_text
from presentation.report_model import Bars, MonthlyReport, Table
from presentation.report_svg import pattern_of, unit_words

MARGIN_MM = 18.0
BODY_PT = 10.5
LINE_MM = 5.2


def _new_pdf() -> FPDF:
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.core_fonts_encoding = "cp1252"
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=MARGIN_MM)
    pdf.set_text_color(0, 0, 0)
    pdf.set_draw_color(0, 0, 0)
    return pdf


def _room(pdf: FPDF, height: float) -> None:
    """Start a new page unless ``height`` mm fit below the current position."""
    if pdf.get_y() + height > pdf.h - MARGIN_MM:
        pdf.add_page()


def _para(pdf: FPDF, text: str, *, size: float = BODY_PT, style: str = "") -> None:
    pdf.set_font("Helvetica", style, size)
    pdf.multi_cell(0, LINE_MM, pdf_text(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.2)


def _heading(pdf: FPDF, text: str) -> None:
    _room(pdf, 24)
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 8, pdf_text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = pdf.get_y()
    pdf.set_line_width(0.5)
    pdf.line(MARGIN_MM, y, pdf.w - MARGIN_MM, y)
    pdf.ln(2)


def _patterned(pdf: FPDF, x: float, y: float, w: float, h: float, pattern: str) -> None:
    """A bar with a fill pattern that prints in black and white."""
    pdf.set_line_width(0.3)
    if pattern == "solid":
        pdf.set_fill_color(40, 40, 40)
        pdf.rect(x, y, w, h, style="DF")
        return
    pdf.set_fill_color(255, 255, 255)
    pdf.rect(x, y, w, h, style="DF")
    pdf.set_line_width(0.25)
    if pattern in ("hatch", "cross"):
        step = 1.4
        at = x + step / 2
        while at < x + w:
            pdf.line(at, y, at, y + h)
            at += step
    if pattern == "cross":
        at = y + 1.0
        while at < y + h:
            pdf.line(x, at, x + w, at)
            at += 1.4
    if pattern == "dots":
        pdf.set_fill_color(0, 0, 0)
        row = y + 0.8
        while row < y + h - 0.4:
            col = x + 0.8
            while col < x + w - 0.4:
                pdf.rect(col - 0.3, row - 0.3, 0.6, 0.6, style="F")
                col += 1.5
            row += 1.5


def _rows_chart(pdf: FPDF, chart: Bars) -> None:
    row_h = 7.5
    _room(pdf, 8 + row_h * len(chart.bars))
    pdf.set_font("Helvetica", "B", BODY_PT)
    pdf.cell(0, 6, pdf_text(chart.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    label_w, bar_room = 62.0, 80.0
    top = max((b.value or 0.0 for b in chart.bars), default=0.0) or 1.0
    pdf.set_font("Helvetica", "", 9.5)
    y = pdf.get_y() + 1
    for i, bar in enumerate(chart.bars):
        pdf.set_xy(MARGIN_MM, y)
        pdf.cell(label_w, 5, pdf_text(bar.label))
        width = max(bar_room * (bar.value or 0.0) / top, 0.6)
        _patterned(pdf, MARGIN_MM + label_w, y, width, 5, pattern_of(i))
        pdf.set_xy(MARGIN_MM + label_w + width + 2, y)
        pdf.cell(30, 5, pdf_text(f"{bar.text} {unit_words(bar.value, chart.unit)}"))
        y += row_h
    pdf.set_xy(MARGIN_MM, y + 1)


def _columns_chart(pdf: FPDF, chart: Bars) -> None:
    height, left = 52.0, 12.0
    _room(pdf, height + 22)
    pdf.set_font("Helvetica", "B", BODY_PT)
    pdf.cell(0, 6, pdf_text(chart.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    values = [b.value for b in chart.bars if b.value is not None]
    highest = max(values, default=0.0)
    top = 1.0
    while top < highest:
        top *= 2 if str(int(top))[0] in "15" else 2.5
    x0, y0 = MARGIN_MM + left, pdf.get_y() + 3
    width = pdf.w - 2 * MARGIN_MM - left
    pdf.set_font("Helvetica", "", 8.5)
    for step in range(5):
        y = y0 + height - height * step / 4
        pdf.set_line_width(0.4 if step == 0 else 0.15)
        pdf.set_draw_color(0, 0, 0) if step == 0 else pdf.set_draw_color(120, 120, 120)
        pdf.line(x0, y, x0 + width, y)
        pdf.set_xy(MARGIN_MM, y - 2)
        pdf.cell(left - 1, 4, f"{top * step / 4:,.0f}", align="R")
    pdf.set_draw_color(0, 0, 0)
    slot = width / max(len(chart.bars), 1)
    for i, bar in enumerate(chart.bars):
        x = x0 + i * slot + slot * 0.15
        w = slot * 0.7
        if bar.value is None:
            _patterned(pdf, x, y0 + height - 4, w, 4, "hatch")
        elif bar.value > 0:
            h = height * bar.value / top
            _patterned(pdf, x, y0 + height - h, w, h, "solid")
        if i == 0 or (i + 1) % 5 == 0:
            pdf.set_xy(x - 2, y0 + height + 1)
            pdf.cell(w + 4, 4, pdf_text(bar.label), align="C")
    pdf.set_xy(MARGIN_MM, y0 + height + 6)
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(
        0,
        4.5,
        pdf_text(f"Day of the month; striped: no door counts. {chart.description}"),
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(2)


def _table(pdf: FPDF, table: Table) -> None:
    _room(pdf, 14 + 6 * len(table.rows))
    pdf.set_font("Helvetica", "B", BODY_PT)
    pdf.multi_cell(0, LINE_MM, pdf_text(table.caption), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9.5)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    headings = FontFace(emphasis="BOLD", color=(0, 0, 0), fill_color=(225, 225, 225))
    with pdf.table(
        first_row_as_headings=True,
        headings_style=headings,
        line_height=5.5,
        text_align="LEFT",
        borders_layout="ALL",
    ) as grid:
        for row in (table.columns, *table.rows):
            cells = grid.row()
            for value in row:
                cells.cell(pdf_text(value))
    pdf.ln(3)


def report_pdf(report: MonthlyReport, *, created: datetime | None = None) -> bytes:
    """The report as A4 PDF bytes (built-in fonts only, vector charts)."""
    pdf = _new_pdf()
    pdf.set_title(pdf_text(f"{report.title}: monthly hall report"))
    pdf.set_subject(pdf_text(f"How {report.hall_name} was used in {report.month_label}"))
    pdf.set_author("hallsense")
    pdf.set_creator("hallsense monthly report")
    pdf.set_lang("en-GB")
    if created is not None:
        pdf.set_creation_date(created)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.multi_cell(0, 9, pdf_text(report.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _para(pdf, f"Monthly hall report for {report.month_label}.", size=12)
    if report.opening_hours:
        _para(pdf, f"Opening hours: {report.opening_hours}")
    _heading(pdf, "In short")
    for sentence in report.summary:
        _para(pdf, f"- {sentence}")
    for section in report.sections:
        _heading(pdf, section.heading)
        for sentence in section.sentences:
            _para(pdf, sentence)
        for chart in section.charts:
            if chart.kind == "rows":
                _rows_chart(pdf, chart)
            else:
                _columns_chart(pdf, chart)
        for table in section.tables:
            _table(pdf, table)
    pdf.ln(2)
    _para(pdf, report.footnote, size=9, style="I")
    return bytes(pdf.output())
