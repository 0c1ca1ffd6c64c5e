"""The question grammar on its own: dates, typos and declines, with no store."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from presentation.questions import Declined, Intent, parse
from presentation.questions.lexicon import correct

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday
ZONE = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("question", "period"),
    [
        ("temperature on 03/03/2026", "on Tuesday 3 March"),
        ("temperature on 3rd March", "on Tuesday 3 March"),
        ("temperature on 4/12", "on Thursday 4 December 2025"),
        ("temperature last Tuesday", "on Tuesday 24 November"),
        ("temperature last winter", "last winter (December 2025 to February 2026)"),
        ("temperature last month", "last month (October 2026)"),
    ],
)
def test_british_and_relative_dates(question, period):
    intent = parse(question, NOW, ZONE)
    assert not isinstance(intent, Declined)
    assert intent.period is not None
    assert intent.period.words == period


def test_a_summer_time_day_part_is_on_the_local_clock():
    intent = parse("temperature on 1st July in the evening", NOW, ZONE)
    assert not isinstance(intent, Declined)
    assert intent.part is not None
    from presentation.questions.periods import windows

    ((start, end),) = windows(intent.period, intent.part, NOW)
    assert (start.astimezone(UTC).hour, end.astimezone(UTC).hour) == (16, 21)


def test_typos_are_corrected_only_when_one_word_is_near():
    assert correct("tempreture") == "temperature"
    assert correct("teusday") == "tuesday"
    assert correct("tursday") is None  # Tuesday or Thursday: not guessed


@pytest.mark.parametrize(
    "question", ["Will it be cold tomorrow?", "12/25/2026 temperature", "Is the air okay?"]
)
def test_unsure_questions_are_declined(question):
    assert isinstance(parse(question, NOW, ZONE), Declined)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=220))
def test_any_text_is_parsed_or_declined_never_raised(text):
    assert isinstance(parse(text, NOW, ZONE), Intent | Declined)


JUMBLE = (
    "when was the hall busiest too cold over 1500 co2 last tuesday evening 3rd march "
    "03/03/2026 than winter how many people came today air better now 31/02 next"
)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(JUMBLE.split()),
        max_size=12,
    )
)
def test_any_jumble_of_known_words_is_parsed_or_declined_never_raised(words):
    assert isinstance(parse(" ".join(words), NOW, ZONE), Intent | Declined)
