"""What a visitor reads: plain words for every flag, "just now", on/off states, sound."""

import math
from datetime import UTC, datetime, timedelta

import pytest

from presentation.air_quality import pm25_daqi
from presentation.numbers import format_reading
from presentation.reading_flags import FLAG_WORDS, NO_FLAGS_WORDS, Quality, flag_summary, flag_words
from presentation.rollup import Rollup
from presentation.words import ago, duration_words, on_off_words, plain_label, sound_level

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize("flag", [f for f in Quality if f])
def test_every_quality_flag_has_plain_words(flag):
    words = FLAG_WORDS[flag]
    assert words
    assert words == words.strip()
    assert "_" not in words  # never the raw name, such as clock_unsynced
    assert words != flag.name.lower().replace("_", " ")  # more than the name re-spaced
    assert flag_words(flag) == [words]


def test_flags_read_together_and_a_good_reading_reads_no_problems():
    assert flag_summary(Quality.GOOD) == NO_FLAGS_WORDS == "no problems"
    assert flag_words(Quality.GOOD) == []
    both = flag_summary(Quality.STUCK | Quality.CLOCK_UNSYNCED)
    assert both == (
        "the same value many times in a row: the sensor may be stuck; "
        "taken before the clock was set: the time may still change"
    )
    # A bit no flag names (a newer node's) still reads in words, never as a bare number.
    assert flag_words(1 << 20) == ["an unknown check (bit 20)"]


@pytest.mark.parametrize("seconds", [0, 0.4, 1, 12, 59, 59.9])
def test_under_a_minute_ago_is_just_now(seconds):
    assert ago(NOW - timedelta(seconds=seconds), NOW) == "just now"


def test_durations_in_words():
    assert ago(NOW - timedelta(seconds=60), NOW) == "1 minute ago"
    assert ago(NOW - timedelta(minutes=3, seconds=5), NOW) == "3 minutes ago"
    assert ago(NOW - timedelta(days=2), NOW) == "2 days ago"
    assert ago(NOW + timedelta(milliseconds=500), NOW) == "just now"  # clock jitter
    assert ago(NOW + timedelta(hours=1), NOW) == "in the future (clock not yet set?)"
    # The hub writes "Offline for …" and "the latest … ago" around these words.
    assert duration_words(0) == "less than a minute"
    assert duration_words(59) == "less than a minute"
    assert duration_words(-5) == "less than a minute"
    assert duration_words(math.nan) == "less than a minute"
    assert duration_words(90) == "1 minute"
    assert duration_words(7200) == "2 hours"
    assert duration_words(86400 * 1500) == "1,500 days"


@pytest.mark.parametrize("value", [0.0, 1.0, 0.0001, 0.35, 0.5, 0.999])
@pytest.mark.parametrize("metric", ["occupancy", "undervoltage", "throttled", None])
def test_an_on_off_metric_never_reads_as_a_decimal(value, metric):
    text = format_reading(value, "bool", None, metric)
    assert not any(ch.isdigit() for ch in text), text
    assert text == on_off_words(value, metric)


def test_occupancy_reads_in_use_or_not():
    assert format_reading(1.0, "bool", None, "occupancy") == "In use"
    assert format_reading(0.0, "bool", None, "occupancy") == "Not in use"
    assert format_reading(1.0, "bool", None, "throttled") == "Yes"
    assert format_reading(0.0, "bool", None) == "No"
    assert format_reading(math.nan, "bool", None, "occupancy") == "no data"
    assert plain_label("occupancy", "Someone is moving in the room now") == "Room"


def test_a_whole_count_reads_without_decimals():
    assert format_reading(0.0, "count", None) == "0"
    assert format_reading(3.0, "count", "<") == "fewer than 3"
    assert format_reading(2.5, "count", None) == "2.5"


@pytest.mark.parametrize(
    ("decibels", "text", "band"),
    [
        (28.0, "28 decibels", "Quiet"),
        (44.4, "44 decibels", "Quiet"),
        (44.5, "45 decibels", "Moderate"),
        (60.0, "60 decibels", "Moderate"),
        (72.0, "72 decibels", "Loud"),
        (85.0, "85 decibels", "Very loud"),
        (1.0, "1 decibel", "Quiet"),
    ],
)
def test_the_sound_level_in_plain_words(decibels, text, band):
    sound = sound_level(decibels)
    assert (sound.text, sound.band) == (text, band)
    assert "dBA" not in sound.text
    assert "A-weighted" not in sound.text + sound.explanation
    assert sound.explanation.endswith(".")
    assert plain_label("noise", "A-weighted sound level") == "Sound level"


def test_no_sound_level_is_no_data():
    assert sound_level(math.nan).text == "no data"
    assert sound_level(math.inf).band == ""


def _pm_hours(count: int) -> list[Rollup]:
    end = NOW.replace(minute=0)
    return [
        Rollup("pm", "pm2_5", "µg/m³", end - timedelta(hours=h + 1), 60, 5.0, 7.0, 6.0)
        for h in range(count)
    ]


def test_the_air_quality_card_leads_with_what_a_visitor_needs():
    none = pm25_daqi([], NOW)
    assert none.headline == "No air quality band yet: not enough readings"
    assert none.detail == (
        "A band needs PM2.5 readings in 18 of the last 24 hours; so far none have them."
    )
    one = pm25_daqi(_pm_hours(1), NOW)
    assert one.detail.endswith("so far 1 has them.")
    band = pm25_daqi(_pm_hours(24), NOW)
    assert band.headline == "Air pollution: Low (index 1 out of 10)"
    assert band.detail == ""


def test_an_average_of_on_off_readings_reads_as_a_share_of_the_time():
    """The hub's open data once showed an hour of occupancy as "0.33"."""
    from presentation.numbers import format_value

    assert format_value(0.33, "bool") == "33% of the time"
    assert format_value(1.0, "bool") == "100% of the time"
    assert format_value(0.0, "bool") == "0% of the time"
