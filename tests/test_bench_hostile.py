"""The hostile-device benchmark (``python -m bench hostile``) in miniature, so its code cannot rot.

One round of three of its scenarios (no flood; the headline, a device flooding at its
quotas; the naive baseline, an unpaced flood with quotas off), each with a real Mosquitto,
a real ``hallsense hub run`` and the flood in a process of its own (the unpaced one cycling
ten messages, not forty), honest devices sending two batches each, and the tables. No rate
is held to the goal (that is the benchmark's job, by command, never a timed test): only
that hallsense's row and the naive baseline's are measured in the same run, with figures
that agree with what was sent.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from bench.hostile import BAD_EVERY, BATCH, FLOOD_BATCH, SCENARIOS, default_quotas, main

ROW = re.compile(
    r"^\| (.+?) \| ([\d,]+) \| (\d+)% \| ([\d,.]+|—) \| ([\d,]+|—) \| ([\d,]+) \| ([\d,]+) "
    r"\| ([\d,]+) \| ([\d,]+) \|$",
    re.MULTILINE,
)
CALM, HEADLINE, NAIVE = SCENARIOS[0], SCENARIOS[1], SCENARIOS[4]


def number(text: str) -> float:
    return float(text.replace(",", ""))


@pytest.mark.slow  # three hub processes, one after another, and two floods
def test_the_headline_and_the_naive_flood_are_measured_in_one_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (CALM.flood, HEADLINE.flood, NAIVE.flood) == ("", "quota", "unpaced")
    assert NAIVE.quotas_off
    scenarios = (CALM, replace(HEADLINE, lead_s=0.2), replace(NAIVE, lead_s=0.1))
    main(rounds=1, scenarios=scenarios, readings=2 * BATCH, cap_s=0.5, cycle=BAD_EVERY)
    out = capsys.readouterr().out

    quotas = ", ".join(f"{rate:,} {name}" for name, rate in default_quotas().items())
    assert f"Default quotas a minute per device: {quotas}; 1 rounds" in out
    rows = {label: rest for label, *rest in ROW.findall(out)}
    labels = [s.label for s in scenarios]
    assert set(rows) == {*labels, *(f"round 1: {label}" for label in labels)}, out
    assert "Best of 1 each:" in out

    honest, share, messages, sent, unread, waited, _, stored = rows[CALM.label]
    assert number(honest) > 0
    assert share == "100"
    assert (messages, sent, unread, waited, stored) == ("0.0", "0", "0", "0", "0")

    honest, share, _, _, _, _, _, stored = rows[HEADLINE.label]
    assert number(honest) > 0
    assert int(share) > 0
    # Its batches are decoded and stored as an honest device's would be.
    assert number(stored) >= FLOOD_BATCH

    honest, share, messages, sent, unread, waited, _, stored = rows[NAIVE.label]
    assert number(honest) >= 0  # the naive hub may acknowledge nothing in half a second
    assert number(messages) > 0
    assert number(sent) > 0
    assert (unread, waited) == ("0", "0")  # quotas off: nothing turned away
    assert number(stored) >= FLOOD_BATCH

    for scenario in scenarios[1:]:
        assert re.search(
            rf"^Share of the same round's rate without the flood, {re.escape(scenario.label)}: "
            r"\d+%$",
            out,
            re.MULTILINE,
        ), out
    assert re.search(
        r"^Goal at least 90% of the rate without the flood, flooding at its quotas: "
        r"(met|NOT MET) \(\d+%\)\.$",
        out,
        re.MULTILINE,
    ), out
