"""The monthly report as one accessible, self-contained HTML page (with a print stylesheet).

Headings in order (one ``h1``, an ``h2`` per section), every chart an SVG with a title and
a text alternative followed by a table of the same numbers, tables with captions and
header cells. Nothing is fetched and there is no script, so it works saved to a USB
stick, offline, with JavaScript off and on a phone. Its only styles are one ``<style>``
element, whose hash (:data:`STYLE_HASH`) a Content-Security-Policy can allow.
"""

from __future__ import annotations

import base64
import hashlib

from presentation.chart_svg import escape_text
from presentation.report_model import Bars, MonthlyReport, Table
from presentation.report_svg import chart_svg

STYLE = """
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; color: #1a1a1a;
  background: #ffffff; line-height: 1.5; margin: 0; }
main { max-width: 46rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.8rem; margin: 0.5rem 0; }
h2 { font-size: 1.35rem; margin-top: 2rem; border-bottom: 2px solid #1a1a1a; }
.lead { font-size: 1.1rem; }
figure { margin: 1rem 0; }
figcaption { font-weight: bold; }
.report-chart { width: 100%; height: auto; }
table { border-collapse: collapse; margin: 1rem 0; width: 100%; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.3rem; }
th, td { border: 1px solid #595959; padding: 0.25rem 0.5rem; text-align: left; }
td.num { text-align: right; }
.table-wrap { overflow-x: auto; }
.footnote { font-size: 0.9rem; margin-top: 2rem; }
@media print {
  @page { size: A4; margin: 15mm; }
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  figure, table { break-inside: avoid; }
}
"""

STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
"""The CSP source that allows :data:`STYLE` (``style-src 'sha256-…'``)."""


def _table(table: Table, table_id: str) -> str:
    head = "".join(f'<th scope="col">{escape_text(c)}</th>' for c in table.columns)
    rows = []
    for row in table.rows:
        cells = "".join(f'<td class="num">{escape_text(c)}</td>' for c in row[1:])
        rows.append(f'<tr><th scope="row">{escape_text(row[0])}</th>{cells}</tr>')
    return (
        f'<div class="table-wrap"><table id="{table_id}">'
        f"<caption>{escape_text(table.caption)}</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _chart_table(chart: Bars) -> Table:
    first = "Day" if chart.kind == "columns" else "Group"
    return Table(
        f"{chart.title} (the chart's numbers)",
        (first, chart.unit.capitalize()),
        tuple((bar.label, bar.text) for bar in chart.bars),
    )


def report_html(report: MonthlyReport) -> str:
    """The report as a complete HTML document (UTF-8 text)."""
    out = [
        "<!doctype html>",
        '<html lang="en-GB">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape_text(report.title)}: monthly hall report</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{escape_text(report.title)}</h1>",
        f'<p class="lead">Monthly hall report for {escape_text(report.month_label)}.</p>',
    ]
    if report.opening_hours:
        out.append(f"<p>Opening hours: {escape_text(report.opening_hours)}</p>")
    out.append('<section aria-labelledby="in-short"><h2 id="in-short">In short</h2><ul>')
    out.extend(f"<li>{escape_text(s)}</li>" for s in report.summary)
    out.append("</ul></section>")
    for section in report.sections:
        heading_id = f"section-{section.key}"
        out.append(f'<section aria-labelledby="{heading_id}">')
        out.append(f'<h2 id="{heading_id}">{escape_text(section.heading)}</h2>')
        out.extend(f"<p>{escape_text(s)}</p>" for s in section.sentences)
        for n, chart in enumerate(section.charts):
            prefix = f"chart-{section.key}-{n}"
            out.append(
                f"<figure><figcaption>{escape_text(chart.title)}</figcaption>"
                f"{chart_svg(chart, prefix)}</figure>"
            )
            out.append(_table(_chart_table(chart), f"{prefix}-table"))
        for n, table in enumerate(section.tables):
            out.append(_table(table, f"table-{section.key}-{n}"))
        out.append("</section>")
    out.append(f'<p class="footnote">{escape_text(report.footnote)}</p>')
    out.extend(["</main>", "</body>", "</html>", ""])
    return "\n".join(out)
