import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from presentation.csv_export import write_csv
from presentation.export_rows import plain_number
from presentation.reading_flags import Censor, Quality
from presentation.senml_export import write_senml


@dataclass
class Row:
    seq: int
    sensor_id: str
    metric: str
    value: float
    unit: str
    timestamp: datetime
    quality: Quality = Quality.GOOD
    censor: Censor | None = None


WINTER = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 15, 12, 0, 0, 250000, tzinfo=UTC)


def csv_rows(rows):
    out = io.StringIO(newline="")
    count = write_csv(rows, out)
    text = out.getvalue()
    assert text.startswith("\ufeff")
    assert "\r\n" in text
    parsed = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert count == len(parsed)
    return parsed


def test_csv_times_carry_the_local_offset():
    got = csv_rows(
        [
            Row(1, "t", "temperature", 4.5, "°C", WINTER),
            Row(2, "t", "temperature", 22.25, "°C", SUMMER),
        ]
    )
    assert [r["time"] for r in got] == [
        "2026-01-15T12:00:00+00:00",
        "2026-07-15T13:00:00.250000+01:00",
    ]
    assert got[0]["unit"] == "°C"
    assert got[1]["value"] == "22.25"
    assert got[0]["quality"] == "ok"


def test_csv_awkward_values():
    got = csv_rows(
        [
            Row(1, "t", "temperature", float("nan"), "°C", WINTER, Quality.NOT_A_NUMBER),
            Row(2, "t", "temperature", float("inf"), "°C", WINTER, Quality.INFINITE),
            Row(
                3, "p", "people_estimate", 3.0, "count", WINTER, Quality.CENSORED, Censor.LESS_THAN
            ),
            Row(4, "t", "temperature", 900.0, "°C", WINTER, Quality.OUT_OF_RANGE | Quality.STUCK),
            Row(5, "=cmd()", "co2", 0.00001, "ppm", WINTER),
        ]
    )
    assert [r["value"] for r in got] == ["", "inf", "<3", "900", "0.00001"]
    assert got[0]["quality"] == "not_a_number"
    assert got[2]["quality"] == "censored"
    assert got[3]["quality"] == "out_of_range;stuck"
    assert got[4]["sensor"] == "'=cmd()"


def test_plain_numbers_read_back_exactly():
    for value in (0.1, 1e-7, 123456789.123, 2.5e-10, -0.000314, 1e20):
        text = plain_number(value)
        assert "e" not in text.lower()
        assert float(text) == value


def test_an_empty_csv_is_just_the_header():
    out = io.StringIO()
    assert write_csv([], out) == 0
    assert out.getvalue() == "\ufefftime,sensor,metric,value,unit,quality,seq\r\n"


def test_senml_is_rfc8428_json_with_exact_times():
    rows = [
        Row(1, "t", "temperature", 21.5, "°C", SUMMER),
        Row(2, "o", "occupancy", 1.0, "bool", SUMMER + timedelta(microseconds=1)),
        Row(
            3,
            "t",
            "temperature",
            float("nan"),
            "°C",
            SUMMER + timedelta(seconds=90),
            Quality.NOT_A_NUMBER,
        ),
        Row(4, "p", "people_estimate", 3.0, "count", SUMMER, censor=Censor.LESS_THAN),
    ]
    out = io.StringIO()
    assert (
        write_senml(
            rows, out, base_name="urn:dev:hallsense:ab:", senml_units={"temperature": "Cel"}
        )
        == 4
    )
    records = json.loads(out.getvalue())
    assert records[0]["bn"] == "urn:dev:hallsense:ab:"
    assert all("bn" not in r and "bt" not in r for r in records[1:])
    base = records[0]["bt"]
    for row, record in zip(rows, records, strict=True):
        moment = datetime.fromtimestamp(base, UTC) + timedelta(seconds=record["t"])
        assert abs(moment - row.timestamp) < timedelta(microseconds=1)
    assert records[0]["n"] == "t:temperature"
    assert records[0]["u"] == "Cel"
    assert records[0]["v"] == 21.5
    assert records[1]["vb"] is True
    assert records[2]["vs"] == "nan"
    assert records[2]["q"] == "not_a_number"
    assert (records[3]["v"], records[3]["c"]) == (3.0, "<")
