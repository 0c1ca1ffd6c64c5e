import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from edge.clock import (
    DRIFT_PPM,
    SystemClock,
    adjtimex_synchronised,
    read_boot_id,
    timesyncd_synchronised,
)
from presentation.reading_flags import Quality
from tests.edge.conftest import readings as conftest_readings

BOOT = "4daca612-5d4f-4dee-8e04-4b1b1ceed511"


@pytest.fixture
def boot_file(tmp_path):
    path = tmp_path / "boot_id"
    path.write_text(BOOT + "\n")
    return path


def test_the_real_kernel_answers_without_raising():
    assert adjtimex_synchronised() in (True, False, None)


def test_boot_id_is_read_and_checked(tmp_path, boot_file):
    assert read_boot_id(boot_file) == BOOT
    bad = tmp_path / "bad"
    bad.write_text("not-a-uuid")
    with pytest.raises(ValueError, match=f"^{bad} does not hold a boot id: 'not-a-uuid'$"):
        read_boot_id(bad)
    with pytest.raises(ValueError, match=f"^cannot read the boot id from {tmp_path / 'none'}"):
        read_boot_id(tmp_path / "none")


def test_the_real_boot_id_is_readable():
    assert len(read_boot_id()) == 36


@pytest.mark.parametrize(
    ("check", "marker", "kernel", "expected"),
    [
        ("trust", False, False, True),
        ("auto", True, False, True),
        ("auto", False, True, True),
        ("auto", False, False, False),
        ("auto", False, None, False),
        ("timesyncd", False, True, False),
        ("timesyncd", True, False, True),
        ("adjtimex", True, False, False),
        ("adjtimex", False, True, True),
        ("hub", True, True, False),
    ],
)
def test_each_check_mode(tmp_path, boot_file, check, marker, kernel, expected):
    marker_path = tmp_path / "synchronized"
    if marker:
        marker_path.touch()
    assert timesyncd_synchronised(marker_path) is marker
    clock = SystemClock(
        check,
        boot_id_path=boot_file,
        timesync_marker=marker_path,
        wall=lambda: datetime(2026, 11, 24, tzinfo=UTC),
        monotonic_ns=lambda: 42,
        adjtimex=lambda: kernel,
    )
    sample = clock.sample()
    assert sample.synchronised is expected
    assert (sample.monotonic_ns, sample.boot_id) == (42, BOOT)
    words = clock.describe(sample)
    assert words == (
        "Clock synchronised"
        if expected
        else "Clock not yet synchronised: readings are held back until it is"
    )


def test_an_unreadable_boot_id_gives_a_per_process_one(tmp_path):
    clock = SystemClock("trust", boot_id_path=tmp_path / "none")
    assert clock.sample().boot_id.startswith("process-")


def test_a_bad_check_is_refused():
    with pytest.raises(
        ValueError, match="clock check must be auto, adjtimex, timesyncd, trust or hub"
    ):
        SystemClock("sundial")  # type: ignore[arg-type]


# --- the hub's time standing in for NTP ---

WRONG = datetime(2025, 1, 1, tzinfo=UTC)  # fake-hwclock's restored time
TRUE = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Reference:
    unix_ns: int
    monotonic_ns: int
    error_s: float


class Moving:
    """A system clock (restored wrong) and a monotonic clock the test moves together."""

    def __init__(self, wall: datetime = WRONG, mono_ns: int = 100 * 10**9) -> None:
        self.now = wall
        self.mono_ns = mono_ns

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono_ns += int(seconds * 1e9)


def hub_clock(
    boot_file, moving, answers, *, check="hub", kernel=False, every_s=10800.0, kept_path=None
):
    """A clock whose reference answers from ``answers`` (a sample or an exception) in
    turn, fetched inline; returns (clock, list of times it was asked)."""
    asked = []

    def reference():
        asked.append(moving.mono_ns)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    clock = SystemClock(
        check,
        boot_id_path=boot_file,
        wall=lambda: moving.now,
        monotonic_ns=lambda: moving.mono_ns,
        adjtimex=lambda: kernel,
        reference=reference,
        reference_every_s=every_s,
        kept_path=kept_path,
        start=lambda work: work(),
    )
    return clock, asked


def true_at(moving):
    """A reference sample saying the true time now is TRUE, to within 50 ms."""
    return Reference((TRUE - EPOCH) // timedelta(microseconds=1) * 1000, moving.mono_ns, 0.05)


def test_a_hub_sample_makes_an_unsynchronised_clock_synchronised_and_right(boot_file, caplog):
    moving = Moving()
    clock, asked = hub_clock(boot_file, moving, [true_at(Moving())])
    caplog.set_level(logging.INFO, logger="edge.clock")
    first = clock.sample()
    assert asked == [moving.mono_ns]
    assert first.synchronised
    assert first.wall == TRUE
    assert first.correction_us == (TRUE - WRONG) // timedelta(microseconds=1)
    assert first.error_s == 0.05
    assert "taking the time from the hub, 692 d 9 h 0 min 0.000 s ahead of the system clock" in (
        caplog.text
    )
    # Carried forward on the monotonic clock, the bound growing with the crystal's drift.
    moving.advance(3600)
    later = clock.sample()
    assert later.wall == TRUE + timedelta(hours=1)
    assert later.error_s == pytest.approx(0.05 + 3600 * DRIFT_PPM / 1e6)
    assert clock.describe(later) == "Clock set from the hub's time (to within 0.4 s)"
    assert len(asked) == 1


def test_the_system_clock_stepping_does_not_move_the_hubs_time(boot_file):
    moving = Moving()
    clock, _ = hub_clock(boot_file, moving, [true_at(moving)])
    clock.sample()
    moving.now += timedelta(days=3)  # someone sets the system clock by hand, wrongly
    moving.advance(10)
    sample = clock.sample()
    assert sample.wall == TRUE + timedelta(seconds=10)
    assert sample.correction_us == (TRUE - WRONG - timedelta(days=3)) // timedelta(microseconds=1)


def test_a_failing_hub_leaves_the_clock_unsynchronised_and_asks_again_sooner(boot_file, caplog):
    moving = Moving()
    down = HubDown("cannot reach the hub at https://hub.example/time: refused")
    start = moving.mono_ns
    answer = Reference(true_at(moving).unix_ns, start + 27 * 10**9, 0.05)
    clock, asked = hub_clock(boot_file, moving, [down, down, down, answer], every_s=12)
    caplog.set_level(logging.DEBUG, logger="edge.clock")
    sample = clock.sample()
    assert not sample.synchronised
    assert (sample.wall, sample.correction_us, sample.error_s) == (WRONG, 0, None)
    for _ in range(30):
        moving.advance(1)
        clock.sample()
    # 5 s after the first failure, then 10 s after the second, then at most every_s.
    assert [(at - start) // 10**9 for at in asked] == [0, 5, 15, 27]
    assert clock.sample().synchronised
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings[:1]] == [
        "no time from the hub (the node keeps asking): cannot reach the hub at "
        "https://hub.example/time: refused"
    ]
    assert len([r for r in warnings if "no time from" in r.getMessage()]) == 1  # said once


class HubDown(Exception):
    pass


def test_the_hub_is_asked_again_every_interval_and_its_latest_sample_kept(boot_file):
    moving = Moving()
    late = Reference(true_at(moving).unix_ns, moving.mono_ns + 60 * 10**9, 0.01)
    clock, asked = hub_clock(boot_file, moving, [true_at(moving), late], every_s=60)
    clock.sample()
    moving.advance(59)
    clock.sample()
    assert len(asked) == 1
    moving.advance(1)
    sample = clock.sample()
    assert len(asked) == 2
    assert (sample.wall, sample.error_s) == (TRUE, 0.01)  # the second sample, carried


def test_ntp_wins_and_a_disagreeing_hub_is_logged_once(boot_file, caplog):
    moving = Moving(wall=TRUE)
    hub_ahead = Reference(true_at(moving).unix_ns + 5 * 10**9, moving.mono_ns, 0.05)
    clock, _ = hub_clock(
        boot_file, moving, [hub_ahead, hub_ahead], check="auto", kernel=True, every_s=60
    )
    caplog.set_level(logging.INFO, logger="edge.clock")
    sample = clock.sample()
    assert (sample.synchronised, sample.wall, sample.correction_us) == (True, TRUE, 0)
    assert clock.describe(sample) == "Clock synchronised"
    moving.advance(60)
    clock.sample()
    disagreements = [r.getMessage() for r in caplog.records if "disagree" in r.getMessage()]
    assert disagreements == [
        "this node's synchronised clock and the hub disagree: its time is 5.000 s ahead of "
        "this node's, more than its bound of 0.050 s; the node keeps its own clock (NTP wins)"
    ]


def test_while_ntp_has_the_clock_the_hub_is_asked_once_not_every_interval(boot_file):
    """Each sample is a TLS handshake on the hall's link (about 3 KB): 8 a day for nothing."""
    moving = Moving(wall=TRUE)
    ntp = [True]
    asked = []

    def reference():
        asked.append(moving.mono_ns)
        return true_at(moving)

    clock = SystemClock(
        "auto",
        boot_id_path=boot_file,
        wall=lambda: moving.now,
        monotonic_ns=lambda: moving.mono_ns,
        adjtimex=lambda: ntp[0],
        reference=reference,
        reference_every_s=60,
        start=lambda work: work(),
    )
    clock.sample()
    for _ in range(5):
        moving.advance(60)
        clock.sample()
    assert len(asked) == 1  # the comparison at the start only
    ntp[0] = False  # NTP lost: the hub's time is kept fresh again, every interval
    clock.sample()
    assert len(asked) == 2
    moving.advance(60)
    clock.sample()
    assert len(asked) == 3


def test_a_hub_within_its_bound_of_ntp_is_not_a_disagreement(boot_file, caplog):
    moving = Moving(wall=TRUE)
    near = Reference(true_at(moving).unix_ns + 40_000_000, moving.mono_ns, 0.05)
    clock, _ = hub_clock(boot_file, moving, [near], check="auto", kernel=True)
    caplog.set_level(logging.INFO, logger="edge.clock")
    clock.sample()
    assert "disagree" not in caplog.text


def test_without_a_hub_the_hub_check_never_synchronises(boot_file):
    clock = SystemClock("hub", boot_id_path=boot_file, adjtimex=lambda: True)
    assert not clock.sample().synchronised


def test_the_fetch_runs_once_at_a_time_outside_the_callers_thread(boot_file):
    moving = Moving()
    started = []
    clock = SystemClock(
        "hub",
        boot_id_path=boot_file,
        wall=lambda: moving.now,
        monotonic_ns=lambda: moving.mono_ns,
        reference=lambda: true_at(moving),
        start=started.append,
    )
    for _ in range(3):
        assert not clock.sample().synchronised  # asked, not yet answered
    assert len(started) == 1
    started[0]()
    assert clock.sample().wall == TRUE


def test_held_readings_are_corrected_and_new_ones_stamped_with_the_hubs_time(boot_file, store):
    """What the store makes of a clock set by the hub: the same as of one set by NTP."""
    moving = Moving()
    answers = [HubDown("no route to the hub"), true_at(Moving(mono_ns=130 * 10**9))]
    clock, _ = hub_clock(boot_file, moving, answers)
    # At 100 s into the boot, two readings on the wrong clock: held back.
    store.append(conftest_readings(2, start=moving.now), clock.sample())
    assert store.stats().held_back == 2
    # At 130 s the hub answers: TRUE.
    moving.advance(30)
    assert store.correct_clock(clock.sample(), hold_max_s=3600) == (2, 0)
    # A reading at 131 s, stamped by its driver with the (still wrong) system clock.
    moving.advance(1)
    store.append(conftest_readings(1, start=moving.now, sensor="t2"), clock.sample())
    rows = store.outbox_rows(10, newest_first=False)
    stamped = [EPOCH + timedelta(microseconds=row.ts_us) for row in rows]
    assert stamped == [
        TRUE - timedelta(seconds=30),
        TRUE - timedelta(seconds=29),
        TRUE + timedelta(seconds=1),
    ]
    assert [Quality(row.quality) for row in rows] == [
        Quality.CLOCK_CORRECTED,
        Quality.CLOCK_CORRECTED,
        Quality(0),
    ]


def test_a_clock_made_again_in_the_same_boot_starts_from_the_kept_hub_time(tmp_path, boot_file):
    """A restarted agent, or `edge status`, has the hub's time at once, not after asking."""
    kept = tmp_path / "hub-time.json"
    moving = Moving()
    first, asked = hub_clock(boot_file, moving, [true_at(moving)], kept_path=kept)
    assert first.sample().wall == TRUE
    assert asked == [moving.mono_ns]
    moving.advance(600)
    again, asked_again = hub_clock(boot_file, moving, [], kept_path=kept)
    sample = again.sample()
    assert asked_again == []  # not due for three hours
    assert sample.synchronised
    assert sample.wall == TRUE + timedelta(seconds=600)
    assert sample.error_s == pytest.approx(0.05 + 600 * DRIFT_PPM / 1e6)


def test_a_kept_hub_time_from_another_boot_or_damaged_is_not_used(tmp_path, boot_file, caplog):
    kept = tmp_path / "hub-time.json"
    moving = Moving()
    first, _ = hub_clock(boot_file, moving, [true_at(moving)], kept_path=kept)
    first.sample()
    other_boot = tmp_path / "other_boot_id"
    other_boot.write_text("11111111-2222-4333-8444-555555555555\n")
    rebooted, _ = hub_clock(other_boot, moving, [HubDown("no route")], kept_path=kept)
    assert not rebooted.sample().synchronised  # monotonic time means nothing across boots
    impossible = {"boot_id": BOOT, "unix_ns": 1, "monotonic_ns": 1, "error_s": -1}
    for damaged in ("{", json.dumps({"boot_id": BOOT}), json.dumps(impossible)):
        kept.write_text(damaged)
        clock, _ = hub_clock(boot_file, moving, [HubDown("no route")], kept_path=kept)
        assert not clock.sample().synchronised
    assert "ignoring the kept reference time" in caplog.text


def test_a_hub_time_that_cannot_be_kept_is_still_used(tmp_path, boot_file, caplog):
    moving = Moving()
    gone = tmp_path / "no-such-directory" / "hub-time.json"
    clock, _ = hub_clock(boot_file, moving, [true_at(moving)], kept_path=gone)
    assert clock.sample().wall == TRUE
    assert "cannot keep the reference time" in caplog.text
