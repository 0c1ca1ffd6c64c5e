"""The trend and busy-times charts, and their tables, as a reader and a screen reader meet them."""

import itertools
import math
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge.rollups import LocalDays
from presentation.busy_times import busy_times_chart, busy_times_table
from presentation.chart_svg import FONT_SIZE, NO_DATA
from presentation.chart_time import Point
from presentation.line_chart import line_chart
from presentation.numbers import format_value
from presentation.rollup import Rollup
from presentation.tables import data_table, trend_table

LONDON = ZoneInfo("Europe/London")
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(\"hi\")</script> & 'Hall' \x00"
HOSTILE_SHOWN = "<script>alert(\"hi\")</script> & 'Hall' "  # control characters dropped
PHONE_CHART_PX = 288  # a 320 px wide phone less 16 px of page margin each side


# --------------------------------------------------------------------------- helpers


def parse(svg):
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    assert root.tag == f"{SVG}svg"
    return root


def text_of(element):
    return "".join(element.itertext())


def svg_texts(root, kind=None):
    return [
        t for t in root.iter(f"{SVG}text") if kind is None or kind in t.get("class", "").split()
    ]


def title_and_desc(root):
    labelled, described = root.get("aria-labelledby"), root.get("aria-describedby")
    (title,) = [e for e in root if e.tag == f"{SVG}title"]
    (desc,) = [e for e in root if e.tag == f"{SVG}desc"]
    assert title.get("id") == labelled
    assert desc.get("id") == described
    return text_of(title), text_of(desc)


def plot_box(root):
    """(left, top, bottom, right) of the plot, read from the axis line."""
    (axis,) = [e for e in root.iter(f"{SVG}path") if "hs-chart-axis" in e.get("class")]
    left, top, bottom, right = map(float, re.findall(r"[-\d.]+", axis.get("d")))
    return left, top, bottom, right


def x_ticks(root):
    """The time axis's labels: (x, (line, ...)) left to right."""
    result = []
    for text in svg_texts(root, "hs-chart-tick"):
        if text.get("text-anchor") != "middle":
            continue  # the y axis's labels are anchored at their end
        spans = list(text.iter(f"{SVG}tspan"))
        lines = tuple(text_of(s) for s in spans) if spans else (text_of(text),)
        result.append((float(text.get("x")), lines))
    return sorted(result)


def x_gridlines(root):
    return sorted(
        float(line.get("x1"))
        for line in root.iter(f"{SVG}line")
        if "hs-chart-grid" in line.get("class") and line.get("x1") == line.get("x2")
    )


def tick_times(root, start, end):
    """The moment each time label marks, read from its gridline (labels at the edges are
    nudged inwards to stay inside the chart; their gridlines are not)."""
    return [time_at(root, x, start, end) for x in x_gridlines(root)]


def time_at(root, x, start, end):
    left, _top, _bottom, right = plot_box(root)
    return start + (end - start) * ((x - left) / (right - left))


def path_xs(path):
    numbers = [float(n) for n in re.findall(r"[-\d.]+", path.get("d"))]
    return numbers[0::2]


def lines_of(root):
    return [p for p in root.iter(f"{SVG}path") if "hs-chart-line" in p.get("class").split()]


def bands_of(root):
    return [e for e in root.iter() if "hs-chart-band" in e.get("class", "").split()]


def hourly(start, values, *, spread=1.0):
    return [
        Point(start + timedelta(hours=i), v, v - spread, v + spread)
        for i, v in enumerate(values)
        if v is not None
    ]


def luminance(colour):
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_with_white(colour):
    return 1.05 / (luminance(colour) + 0.05)


def table_rows(table_html):
    table = ET.fromstring(table_html)  # noqa: S314 - our own output
    (caption,) = table.iter("caption")
    heads = [(th.get("scope"), text_of(th)) for th in table.find("thead").iter("th")]
    rows = []
    for tr in table.find("tbody").iter("tr"):
        cells = list(tr)
        rows.append([(c.tag, c.get("scope"), text_of(c)) for c in cells])
    return text_of(caption), heads, rows


SPRING = datetime(2026, 3, 28, 12, tzinfo=UTC)  # clocks go forward at 01:00 UTC on the 29th
AUTUMN = datetime(2026, 10, 24, 12, tzinfo=UTC)  # clocks go back at 01:00 UTC on the 25th


def every_chart():
    """One of each kind of chart the page draws, with awkward data."""
    days = LocalDays(LONDON)
    first = date(2026, 3, 1).toordinal()
    return [
        line_chart(
            hourly(SPRING, [20 + i % 5 for i in range(24)]),
            title="Temperature",
            unit="°C",
            zone=LONDON,
            id_prefix="day",
        ),
        line_chart(
            hourly(SPRING - timedelta(days=3), [600 + i for i in range(7 * 24)], spread=50),
            title="CO2",
            unit="ppm",
            zone=LONDON,
            id_prefix="week",
        ),
        line_chart(
            [
                Rollup("s", "noise", "dBA", days.midnight(first + i), 10, 30, 70, 45 + i % 7)
                for i in range(365)
            ],
            title="Noise",
            unit="dBA",
            zone=LONDON,
            id_prefix="year",
            resolution="day",
        ),
        line_chart([], title="Nothing", unit="°C", zone=LONDON, id_prefix="none"),
        busy_times_chart(
            {(d, h): float(d * h % 9) for d in range(7) for h in range(20)},
            title="Busy times",
            id_prefix="busy",
        ),
        busy_times_chart({}, title="Busy times", id_prefix="busy-none"),
    ]


# --------------------------------------------------------------------------- every chart


@pytest.mark.parametrize("svg", every_chart())
def test_every_chart_is_an_accessible_scalable_image(svg):
    root = parse(svg)
    assert root.get("role") == "img"
    title, desc = title_and_desc(root)
    assert title
    assert desc
    assert root.get("viewBox").startswith("0 0 ")
    assert root.get("width") is None  # it fills its container
    assert root.get("height") is None
    assert "hs-chart" in root.get("class").split()


@pytest.mark.parametrize("svg", every_chart())
def test_no_inline_style_script_or_other_origin(svg):
    """The page's Content-Security-Policy has no 'unsafe-inline': styles would be blocked."""
    assert "style=" not in svg
    assert "<style" not in svg
    for element in parse(svg).iter():
        assert not element.tag.endswith(("style", "script", "foreignObject", "image"))
        assert "style" not in element.attrib
        for name, value in element.attrib.items():
            assert not name.startswith("on"), name
            assert "//" not in value
            assert "javascript:" not in value
            if "url(" in value:
                assert re.fullmatch(r"url\(#[\w-]+\)", value), value


@pytest.mark.parametrize("svg", every_chart())
def test_colours_contrast_with_white_and_text_is_big_enough_on_a_phone(svg):
    root = parse(svg)
    width = float(root.get("viewBox").split()[2])
    for element in root.iter():
        for attribute in ("fill", "stroke"):
            colour = element.get(attribute)
            if colour is None or colour == "none" or colour.startswith("url("):
                continue
            if element.tag == f"{SVG}text":
                assert contrast_with_white(colour) >= 4.5, colour
            elif colour != "#ffffff":  # white cells are outlined, and the outline contrasts
                assert contrast_with_white(colour) >= 3.0, (element.tag, colour)
            else:
                outline = element.get("stroke")
                assert element.tag == f"{SVG}rect"
                assert outline is None or contrast_with_white(outline) >= 3.0
    for text in svg_texts(root):
        assert float(text.get("font-size")) * PHONE_CHART_PX / width >= 12


def test_ids_come_from_the_prefix_and_do_not_collide():
    one = parse(line_chart(hourly(SPRING, [1, 2]), title="a", unit="%", zone=LONDON, id_prefix="a"))
    two = parse(line_chart(hourly(SPRING, [1, 2]), title="b", unit="%", zone=LONDON, id_prefix="b"))
    ids_one = {e.get("id") for e in one.iter() if e.get("id")}
    ids_two = {e.get("id") for e in two.iter() if e.get("id")}
    assert ids_one == {"a-title", "a-desc"}
    assert not ids_one & ids_two


@pytest.mark.parametrize("prefix", ["", "1chart", "a b", '"><script>', "x" * 80])
def test_an_unusable_id_prefix_is_refused(prefix):
    with pytest.raises(ValueError, match="id_prefix"):
        line_chart([], title="t", unit="%", zone=LONDON, id_prefix=prefix)
    with pytest.raises(ValueError, match="id_prefix"):
        busy_times_chart({}, title="t", id_prefix=prefix)


# --------------------------------------------------------------------------- escaping


def test_a_hostile_label_is_text_not_markup():
    points = hourly(SPRING, [20.0, 21.0])
    svg = line_chart(points, title=HOSTILE, unit="°C", zone=LONDON, id_prefix="t")
    assert "<script" not in svg
    root = parse(svg)
    title, desc = title_and_desc(root)
    assert title == HOSTILE_SHOWN
    assert desc.startswith(HOSTILE_SHOWN)
    assert not [e for e in root.iter() if e.tag.endswith("script")]

    table = trend_table(points, title=HOSTILE, unit="°C", zone=LONDON)
    assert "<script" not in table
    caption, _heads, _rows = table_rows(table)
    assert caption.startswith(HOSTILE_SHOWN)


def test_a_hostile_unit_and_busy_title_are_escaped_too():
    svg = line_chart(
        hourly(SPRING, [1.0, 2.0]), title="t", unit="<b>x</b>", zone=LONDON, id_prefix="t"
    )
    (unit,) = svg_texts(parse(svg), "hs-chart-unit")
    assert text_of(unit) == "<b>x</b>"
    busy = busy_times_chart({(0, 9): 3.0}, title=HOSTILE, id_prefix="b")
    assert "<script" not in busy
    assert title_and_desc(parse(busy))[0] == HOSTILE_SHOWN
    table = busy_times_table({(0, 9): 3.0}, title=HOSTILE)
    assert table_rows(table)[0].startswith(HOSTILE_SHOWN)


def test_data_table_escapes_headings_and_cells():
    html = data_table(caption="c", columns=["<i>", "&"], rows=[("<a>", ["<b>"])])
    for tag in ("<i>", "<a>", "<b>"):
        assert tag not in html
    _caption, heads, rows = table_rows(html)
    assert heads == [("col", "<i>"), ("col", "&")]
    assert rows == [[("th", "row", "<a>"), ("td", None, "<b>")]]


# --------------------------------------------------------------------------- line chart


def test_title_and_description_give_the_period_lowest_highest_and_latest():
    values = [20.0, 19.0, 18.5, 18.2, 19.5, 21.0, 22.5, 24.1, 23.0, 21.5]
    points = [Point(SPRING + timedelta(hours=i), v, v - 0.3, v + 0.4) for i, v in enumerate(values)]
    root = parse(
        line_chart(points, title="Main hall temperature", unit="°C", zone=LONDON, id_prefix="t")
    )
    title, desc = title_and_desc(root)
    assert title == "Main hall temperature"
    assert desc == (
        "Main hall temperature, Sat 28 Mar 2026 12:00 to Sat 28 Mar 2026 22:00. "
        "Lowest 17.9 °C (Sat 28 Mar 15:00); highest 24.5 °C (Sat 28 Mar 19:00); "
        "latest average 21.5 °C (Sat 28 Mar 21:00)."
    )


def test_the_table_has_the_same_numbers_as_the_chart():
    values = [612.0, 640.4, 1204.0, 980.0]
    points = [Point(SPRING + timedelta(hours=i), v, v - 100, v + 150) for i, v in enumerate(values)]
    svg = line_chart(points, title="CO2", unit="ppm", zone=LONDON, id_prefix="c")
    _title, desc = title_and_desc(parse(svg))
    assert "Lowest 512 ppm" in desc
    assert "highest 1,354 ppm" in desc
    assert "latest average 980 ppm" in desc

    caption, heads, rows = table_rows(trend_table(points, title="CO2", unit="ppm", zone=LONDON))
    assert caption == "CO2, Sat 28 Mar 2026 12:00 to Sat 28 Mar 2026 16:00"
    assert heads == [
        ("col", "Time"),
        ("col", "Average (ppm)"),
        ("col", "Lowest (ppm)"),
        ("col", "Highest (ppm)"),
    ]
    assert [[text for _tag, _scope, text in row] for row in rows] == [
        ["Sat 28 Mar 12:00", "612", "512", "762"],
        ["Sat 28 Mar 13:00", "640", "540", "790"],
        ["Sat 28 Mar 14:00", "1,204", "1,104", "1,354"],
        ["Sat 28 Mar 15:00", "980", "880", "1,130"],
    ]
    assert all(row[0][:2] == ("th", "row") for row in rows)


def test_a_missing_bucket_breaks_the_line():
    values = [20.0, 20.5, 21.0, None, None, 22.0, 21.5, None, 21.0]
    svg = line_chart(hourly(SPRING, values), title="t", unit="°C", zone=LONDON, id_prefix="g")
    root = parse(svg)
    paths = lines_of(root)
    assert len(paths) == 2
    assert len(bands_of(root)) == 3  # a band behind each run, a whisker on the lone point
    assert all(p.get("d").count("M") == 1 for p in paths)
    (point,) = root.iter(f"{SVG}circle")  # 21.0 at 08:00 stands alone
    first, second = (path_xs(p) for p in paths)
    assert max(first) < min(second) < max(second) < float(point.get("cx"))
    assert "Some periods have no data" in title_and_desc(root)[1]


def test_a_nan_bucket_is_a_gap_and_every_nan_is_no_data():
    points = hourly(SPRING, [20.0, 20.5, math.nan, 21.0, 21.5])
    points.append(Point(SPRING + timedelta(hours=9), math.inf))
    root = parse(line_chart(points, title="t", unit="°C", zone=LONDON, id_prefix="n"))
    assert len(lines_of(root)) == 2
    assert "nan" not in title_and_desc(root)[1].lower()

    only_nan = [Point(SPRING, math.nan, math.nan, math.nan)]
    root = parse(line_chart(only_nan, title="t", unit="°C", zone=LONDON, id_prefix="n"))
    assert "hs-chart-empty" in root.get("class").split()
    assert [text_of(t) for t in svg_texts(root)] == [NO_DATA]


def test_no_data_says_so():
    start, end = SPRING, SPRING + timedelta(days=1)
    root = parse(
        line_chart([], title="Noise", unit="dBA", zone=LONDON, id_prefix="e", start=start, end=end)
    )
    assert [text_of(t) for t in svg_texts(root)] == [NO_DATA]
    assert title_and_desc(root)[1] == (
        "Noise, Sat 28 Mar 2026 12:00 to Sun 29 Mar 2026 13:00: No data for this period."
    )
    _caption, _heads, rows = table_rows(trend_table([], title="Noise", unit="dBA", zone=LONDON))
    assert rows == [[("td", None, NO_DATA)]]


def test_points_outside_the_period_are_left_out():
    points = hourly(SPRING, [1.0, 2.0, 3.0, 4.0])
    start, end = SPRING + timedelta(hours=1), SPRING + timedelta(hours=3)
    svg = line_chart(points, title="t", unit="V", zone=LONDON, id_prefix="p", start=start, end=end)
    desc = title_and_desc(parse(svg))[1]
    assert "Lowest 1.00 V" in desc  # 2 - 1
    assert "highest 4.00 V" in desc  # 3 + 1
    _caption, _heads, rows = table_rows(
        trend_table(points, title="t", unit="V", zone=LONDON, start=start, end=end)
    )
    assert [row[1][2] for row in rows] == ["2.00", "3.00"]


@pytest.mark.parametrize(
    "points",
    [
        [Point(SPRING, 21.5, 21.5, 21.5)],
        [Point(SPRING, 21.5)],
        [Point(SPRING + timedelta(hours=i), 7.0, 7.0, 7.0) for i in range(24)],
        [Point(SPRING + timedelta(hours=i), 0.0) for i in range(24)],
        [Point(SPRING, 1e308, -1.7e308, 1.7e308), Point(SPRING + timedelta(hours=1), -1e308)],
        [Point(SPRING, 1e-300), Point(SPRING + timedelta(hours=1), 2e-300)],
        [Point(SPRING, 1e15), Point(SPRING + timedelta(days=3000), -1e15)],
        [Point(SPRING, 5.0, math.inf, -math.inf), Point(SPRING + timedelta(hours=1), 6.0)],
    ],
    ids=["one", "one-bare", "flat", "zeros", "huge", "tiny", "decade", "inf-range"],
)
def test_awkward_data_still_draws_a_chart(points):
    svg = line_chart(points, title="t", unit="ppm", zone=LONDON, id_prefix="w")
    root = parse(svg)
    assert "nan" not in svg.lower()
    assert "inf" not in svg.lower()
    left, top, bottom, right = plot_box(root)
    drawn = [*lines_of(root), *root.iter(f"{SVG}circle")]
    assert drawn
    for element in root.iter():
        for name in ("cx", "cy", "x", "y", "x1", "x2", "y1", "y2"):
            if element.get(name) is not None:
                assert math.isfinite(float(element.get(name)))
    for circle in root.iter(f"{SVG}circle"):
        assert left <= float(circle.get("cx")) <= right
        assert top <= float(circle.get("cy")) <= bottom
    y_labels = [
        text_of(t) for t in svg_texts(root, "hs-chart-tick") if t.get("text-anchor") == "end"
    ]
    assert len(y_labels) == len(set(y_labels)) >= 2  # all-equal values still get a scale


def test_rollups_from_the_store_are_drawn_as_they_are():
    rollups = [
        Rollup("bme", "temperature", "°C", SPRING + timedelta(hours=i), 60, 19.0, 22.0, 20.5)
        for i in range(3)
    ]
    svg = line_chart(rollups, title="t", unit="°C", zone=LONDON, id_prefix="r")
    desc = title_and_desc(parse(svg))[1]
    assert "Lowest 19.0 °C" in desc
    assert "highest 22.0 °C" in desc
    assert "latest average 20.5 °C (Sat 28 Mar 14:00)" in desc


def test_naive_times_are_refused():
    naive = datetime(2026, 1, 1)  # noqa: DTZ001 - the mistake under test
    with pytest.raises(ValueError, match="aware"):
        line_chart([Point(naive, 1.0)], title="t", unit="%", zone=LONDON, id_prefix="x")


# --------------------------------------------------------------------------- time axis


def assert_labels_fit(ticks):
    """Neighbouring labels do not overlap (a generous 0.6 em per character)."""
    spans = []
    for x, lines in ticks:
        half = max(len(line) for line in lines) * 0.6 * FONT_SIZE / 2
        spans.append((x - half, x + half))
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start


def test_24_hours_is_labelled_by_the_hour_on_the_local_clock_across_the_spring_change():
    points = hourly(SPRING, [20.0] * 24)
    root = parse(line_chart(points, title="t", unit="°C", zone=LONDON, id_prefix="d"))
    ticks = x_ticks(root)
    assert [lines for _x, lines in ticks] == [
        ("12:00",),
        ("18:00",),
        ("00:00", "Sun 29"),
        ("06:00",),  # 05:00 UTC: summer time began at 01:00 UTC
        ("12:00",),
    ]
    times = tick_times(root, SPRING, SPRING + timedelta(hours=24))
    assert len(times) == len(ticks)
    for moment, (_x, lines) in zip(times, ticks, strict=True):
        local = (moment + timedelta(minutes=1)).astimezone(LONDON)  # allow for rounding
        assert f"{local:%H}:00" == lines[0]
    assert round((times[3] - SPRING).total_seconds() / 3600) == 17
    assert_labels_fit(ticks)


def test_24_hours_across_the_autumn_change_puts_seven_hours_between_midnight_and_six():
    points = hourly(AUTUMN, [20.0] * 24)
    root = parse(line_chart(points, title="t", unit="°C", zone=LONDON, id_prefix="d"))
    ticks = x_ticks(root)
    assert [lines[0] for _x, lines in ticks] == ["18:00", "00:00", "06:00", "12:00"]
    times = tick_times(root, AUTUMN, AUTUMN + timedelta(hours=24))
    hours = [round((b - a).total_seconds() / 3600) for a, b in itertools.pairwise(times)]
    assert hours == [6, 7, 6]


def test_the_hour_the_clocks_go_back_is_named_twice_in_the_table():
    points = hourly(datetime(2026, 10, 24, 23, tzinfo=UTC), [10.0] * 4)
    _caption, _heads, rows = table_rows(trend_table(points, title="t", unit="%", zone=LONDON))
    assert [row[0][2] for row in rows] == [
        "Sun 25 Oct 00:00",
        "Sun 25 Oct 01:00 BST",
        "Sun 25 Oct 01:00 GMT",
        "Sun 25 Oct 02:00",
    ]


def test_a_day_of_minutes_is_labelled_by_the_hour():
    points = [Point(AUTUMN + timedelta(minutes=i), 50 + math.sin(i / 60)) for i in range(24 * 60)]
    root = parse(line_chart(points, title="t", unit="dBA", zone=LONDON, id_prefix="m"))
    assert len(lines_of(root)) == 1
    ticks = x_ticks(root)
    assert len(ticks) >= 3
    assert all(re.fullmatch(r"\d\d:00", lines[0]) for _x, lines in ticks)
    assert_labels_fit(ticks)


def test_seven_days_is_labelled_by_weekday_and_date_at_local_midnight():
    start = datetime(2026, 3, 25, tzinfo=LONDON).astimezone(UTC)
    points = [Point(start + timedelta(hours=i), 600.0) for i in range(7 * 24 - 1)]
    root = parse(line_chart(points, title="t", unit="ppm", zone=LONDON, id_prefix="w"))
    ticks = x_ticks(root)
    assert [lines for _x, lines in ticks] == [
        ("Wed", "25"),
        ("Thu", "26"),
        ("Fri", "27"),
        ("Sat", "28"),
        ("Sun", "29"),
        ("Mon", "30"),
        ("Tue", "31"),
        ("Wed", "1"),
    ]
    xs = x_gridlines(root)
    widths = [b - a for a, b in itertools.pairwise(xs)]
    # Sunday 29 March has 23 hours.
    assert widths[4] == pytest.approx(widths[3] * 23 / 24, abs=0.2)
    assert_labels_fit(ticks)


def test_thirty_days_of_daily_rollups_is_labelled_by_date_with_no_gap_at_the_change():
    days = LocalDays(LONDON)
    first = date(2026, 10, 10).toordinal()
    rollups = [
        Rollup("s", "co2", "ppm", days.midnight(first + i), 1440, 450, 900, 600 + i)
        for i in range(30)
    ]
    root = parse(
        line_chart(rollups, title="t", unit="ppm", zone=LONDON, id_prefix="m", resolution="day")
    )
    assert len(lines_of(root)) == 1  # 25 October's 25 hours are no gap
    ticks = x_ticks(root)
    assert all(re.fullmatch(r"\d{1,2} (Oct|Nov)", lines[0]) for _x, lines in ticks)
    assert len(ticks) >= 3
    assert_labels_fit(ticks)
    _caption, heads, rows = table_rows(
        trend_table(rollups, title="t", unit="ppm", zone=LONDON, resolution="day")
    )
    assert heads[0] == ("col", "Date")
    assert rows[15][0][2] == "Sun 25 Oct 2026"


def test_a_year_is_labelled_by_month_and_gaps_in_days_show():
    days = LocalDays(LONDON)
    first = date(2026, 3, 1).toordinal()
    rollups = [
        Rollup("s", "noise", "dBA", days.midnight(first + i), 10, 30, 70, 45)
        for i in range(365)
        if not 100 <= i < 110
    ]
    root = parse(line_chart(rollups, title="t", unit="dBA", zone=LONDON, id_prefix="y"))
    assert len(lines_of(root)) == 2
    ticks = x_ticks(root)
    months = [lines[0] for _x, lines in ticks]
    assert set(months) <= {
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "May",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Oct",
        "Nov",
        "Dec",
    }
    assert len(months) >= 4
    assert ("Jan", "2027") in [lines for _x, lines in ticks]
    assert_labels_fit(ticks)
    desc = title_and_desc(root)[1]
    assert desc.startswith("t, Sun 1 Mar 2026 to Sun 28 Feb 2027.")


# --------------------------------------------------------------------------- busy times


def busy_week():
    values = {(d, h): 0.0 for d in range(7) for h in range(24)}
    values.update({(1, 10): 14.2, (1, 11): 12.0, (5, 14): 8.5, (2, 19): 3.25})
    del values[(6, 23)]
    values[(6, 22)] = math.nan
    return values


def test_busy_times_is_seven_rows_of_twenty_four_hours():
    root = parse(busy_times_chart(busy_week(), title="Busy times", id_prefix="b"))
    cells = [r for r in root.iter(f"{SVG}rect") if "hs-heat-cell" in r.get("class", "")]
    (grid,) = [g for g in root.iter(f"{SVG}g") if g.get("class") == "hs-heat-cells"]
    squares = list(grid)
    assert len(squares) == 7 * 24
    assert len(cells) > len(squares)  # and the legend's swatches
    days = [text_of(t) for t in svg_texts(root, "hs-chart-tick") if t.get("text-anchor") == "end"]
    assert days == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

    def level(day, hour):
        return squares[day * 24 + hour].get("class").split()[1]

    assert level(1, 10) == "hs-heat-4"  # the busiest, 14.2: bands of 4 people
    assert level(5, 14) == "hs-heat-3"  # 8.5
    assert level(2, 19) == "hs-heat-1"  # 3.25
    assert level(0, 0) == "hs-heat-0"
    assert level(6, 23) == level(6, 22) == "hs-heat-none"
    legend = [text_of(t) for t in svg_texts(root, "hs-chart-legend-label")]
    assert legend == [
        "Average people:",
        "no data",
        "0",
        "up to 4",
        "4 to 8",
        "8 to 12",
        "12 to 16",
    ]


def test_busy_times_description_names_the_busiest_and_quietest_hours():
    svg = busy_times_chart(
        busy_week(), title="Busy times", id_prefix="b", period="the last 4 weeks"
    )
    title, desc = title_and_desc(parse(svg))
    assert title == "Busy times"
    assert desc == (
        "Busy times, the last 4 weeks. Average people by day and hour; darker is busier. "
        "Busiest: Tuesday 10:00 to 11:00, 14.2 people. "
        "Quietest: Monday 00:00 to 01:00, 0.0 people. "
        "2 of the 168 hours have no data."
    )


def test_busy_times_table_has_an_hour_per_row_and_a_day_per_column():
    caption, heads, rows = table_rows(
        busy_times_table(busy_week(), title="Busy times", period="the last 4 weeks")
    )
    assert caption == "Busy times, the last 4 weeks (average people per hour)"
    assert heads == [("col", "Hour starting")] + [
        ("col", d) for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    ]
    assert len(rows) == 24
    assert all(row[0][:2] == ("th", "row") for row in rows)
    by_hour = {row[0][2]: [text for _tag, _scope, text in row[1:]] for row in rows}
    assert by_hour["10:00"][1] == "14.2"  # Tuesday
    assert by_hour["19:00"][2] == "3.2"  # Wednesday, 3.25 rounded as in the chart
    assert by_hour["22:00"][6] == by_hour["23:00"][6] == "no data"
    assert by_hour["00:00"][0] == "0.0"


def test_busy_times_with_no_data_says_so():
    root = parse(busy_times_chart({(9, 99): 1.0}, title="Busy", id_prefix="b"))
    assert [text_of(t) for t in svg_texts(root)] == [NO_DATA]
    _caption, _heads, rows = table_rows(busy_times_table({}, title="Busy"))
    assert rows == [[("td", None, NO_DATA)]]


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (21.54, "°C", "21.5 °C"),
        (612.4, "ppm", "612 ppm"),
        (1204, "ppm", "1,204 ppm"),
        (45.2, "%", "45%"),
        (-0.04, "°C", "0.0 °C"),
        (-3.26, "°C", "-3.3 °C"),
        (12.0, "count", "12.0"),
        (3.4, "people", "3.4 people"),
        (8.3, "µg/m³", "8.3 µg/m³"),
        (4.1234, "V", "4.12 V"),
        (2.5e9, "MB", "2.5 billion MB"),
        (math.nan, "°C", "no data"),
    ],
)
def test_numbers_are_formatted_for_people(value, unit, shown):
    assert format_value(value, unit) == shown


def test_data_table_marks_numbers_and_says_when_empty():
    html = data_table(
        caption="c",
        columns=["When", "Average (°C)"],
        rows=[("Mon", ["1,204.5"]), ("Tue", ["no data"])],
    )
    table = ET.fromstring(html)  # noqa: S314 - our own output
    assert [td.get("class") for td in table.iter("td")] == ["hs-num", None]
    empty = data_table(caption="c", columns=["When", "Average"], rows=[], table_id="t-1")
    assert ET.fromstring(empty).get("id") == "t-1"  # noqa: S314 - our own output
    assert NO_DATA in empty
