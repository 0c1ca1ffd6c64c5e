"""Accessible HTML data tables, and the table that says what a trend chart shows."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from presentation.chart_svg import NO_DATA, check_id, escape_text
from presentation.chart_time import PointLike, bucket_time, buckets_of, domain_of, period_text
from presentation.numbers import column_header, decimals_for, format_number
from presentation.rollup import Resolution

# A table cell that holds a number ("1,204", "21.5", "1.2 million", "1e+20").
_NUMBER = re.compile(r"-?[\d,]+(\.\d+)?( [a-z]+)?|-?\d(\.\d+)?e[+-]\d+")


def trend_table(
    points: Iterable[PointLike],
    *,
    title: str,
    unit: str,
    zone: ZoneInfo,
    resolution: Resolution | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    decimals: int | None = None,
    table_id: str | None = None,
) -> str:
    """The points of a :func:`line_chart` as a table: time, average, lowest, highest.

    Takes the same arguments as :func:`line_chart` (less the drawing ones) and shows the
    same figures formatted the same way; times are on the hall's local clock (the hour the
    clocks go back names its zone, "01:00 BST" then "01:00 GMT"). A table of a day of
    minute buckets has 1,440 rows: the page may rather pass that day's hourly rollups.
    """
    buckets, chosen = buckets_of(points, zone, resolution)
    domain = domain_of(buckets, start, end)
    if domain is not None:
        buckets = [b for b in buckets if domain[0] <= b.start < domain[1]]
        caption = f"{title}, {period_text(*domain, zone, chosen)}"
    else:
        caption = title
    places = decimals_for(unit, decimals)
    rows = [
        (
            bucket_time(b.start, zone, chosen, year=chosen == "day"),
            [
                format_number(b.mean, places),
                format_number(b.low, places) if b.has_range else "",
                format_number(b.high, places) if b.has_range else "",
            ],
        )
        for b in buckets
    ]
    columns = [
        "Date" if chosen == "day" else "Time",
        column_header("Average", unit),
        column_header("Lowest", unit),
        column_header("Highest", unit),
    ]
    return data_table(caption=caption, columns=columns, rows=rows, table_id=table_id)


def data_table(
    *,
    caption: str,
    columns: Sequence[str],
    rows: Iterable[tuple[str, Sequence[str]]],
    table_id: str | None = None,
) -> str:
    """An accessible HTML table: a caption, column headings and a heading for each row.

    Args:
        caption: what the table shows (escaped), with the period it covers.
        columns: the column headings, the first one for the row headings; put units here,
            e.g. "Average (°C)".
        rows: each row's heading (e.g. its time) and its cells, already formatted; cells
            that hold a number get the class ``hs-num``.
        table_id: an id for the ``<table>`` (letters, digits, '-' and '_'), e.g. for a
            link from its chart.

    Returns:
        A ``<table class="hs-data-table">``; with no rows, one row saying "No data for this
        period".
    """
    opening = '<table class="hs-data-table"'
    if table_id is not None:
        opening += f' id="{check_id(table_id)}"'
    head = "".join(f'<th scope="col">{escape_text(name)}</th>' for name in columns)
    parts = [
        f"{opening}>",
        f"<caption>{escape_text(caption)}</caption>",
        f"<thead><tr>{head}</tr></thead>",
        "<tbody>",
    ]
    count = 0
    for heading, cells in rows:
        tds = "".join(
            f'<td class="hs-num">{escape_text(cell)}</td>'
            if _NUMBER.fullmatch(cell)
            else f"<td>{escape_text(cell)}</td>"
            for cell in cells
        )
        parts.append(f'<tr><th scope="row">{escape_text(heading)}</th>{tds}</tr>')
        count += 1
    if not count:
        parts.append(f'<tr><td colspan="{max(len(columns), 1)}">{NO_DATA}</td></tr>')
    parts.append("</tbody></table>")
    return "\n".join(parts)
