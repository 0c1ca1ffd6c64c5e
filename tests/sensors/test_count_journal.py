"""The count journal: what it replays after a crash, a torn line, settling and compaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sensors import count_journal
from sensors.count_journal import CountJournal, Handover

T0 = datetime(2026, 12, 6, 20, tzinfo=UTC)


def test_counts_after_the_last_hand_over_are_open_and_every_hand_over_is_listed(
    tmp_path: Path,
) -> None:
    journal = CountJournal(tmp_path / "gpio-counts.journal")
    journal.counted("entry")
    journal.counted("entry")
    journal.handed_over(T0, {"entry": 2, "exit": 0})
    journal.counted("exit")
    journal.counted("beam", 3)
    journal.close()  # a kill leaves the same file: each write was in the kernel
    again = CountJournal(tmp_path / "gpio-counts.journal")
    open_counts, handovers = again.replay()
    again.close()
    assert open_counts == {"exit": 1, "beam": 3}
    assert handovers == [Handover(T0, {"entry": 2, "exit": 0})]


def test_a_line_torn_by_a_crash_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "gpio-counts.journal"
    path.write_bytes(b"+ entry 1\n+ entry 1\n+ ent")
    journal = CountJournal(path)
    assert journal.replay() == ({"entry": 2}, [])
    journal.close()


def test_settling_keeps_only_the_open_counts(tmp_path: Path) -> None:
    journal = CountJournal(tmp_path / "j")
    journal.handed_over(T0, {"entry": 5})
    journal.counted("entry")
    journal.settle({"entry": 1, "exit": 0})
    journal.counted("exit")
    assert journal.replay() == ({"entry": 1, "exit": 1}, [])
    journal.close()
    journal.close()


def test_a_large_journal_keeps_the_last_hour_of_hand_overs(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(count_journal, "COMPACT_BYTES", 200)
    journal = CountJournal(tmp_path / "j")
    for minutes in range(0, 180, 10):
        journal.handed_over(T0 + timedelta(minutes=minutes), {"entry": 1})
    now = T0 + timedelta(minutes=170)
    journal.counted("entry", 2)
    journal.compact_if_large({"entry": 2}, now)
    open_counts, handovers = journal.replay()
    assert open_counts == {"entry": 2}
    assert [h.at for h in handovers] == [T0 + timedelta(minutes=m) for m in range(120, 180, 10)]
    journal.close()
