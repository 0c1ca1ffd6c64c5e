from datetime import UTC, datetime

import pytest

from edge.clock import SystemClock, adjtimex_synchronised, read_boot_id, timesyncd_synchronised

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
    with pytest.raises(ValueError, match="clock check must be auto, adjtimex, timesyncd or trust"):
        SystemClock("sundial")  # type: ignore[arg-type]
