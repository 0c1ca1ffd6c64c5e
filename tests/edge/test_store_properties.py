"""Model-based tests: the store against a plain Python model of what it must hold."""

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from edge.ranges import SeqRange, merge, subtract
from edge.store import EdgeStore
from tests.edge.conftest import readings, synced


class StoreModel(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "edge.db"
        self.store = EdgeStore(self.path)
        self.produced = 0
        self.acked: set[int] = set()
        self.rejected: set[int] = set()
        self.dropped: set[int] = set()
        self.deleted: set[int] = set()

    def teardown(self):
        self.store.close()
        self.dir.cleanup()

    @property
    def pending(self):
        settled = self.acked | self.rejected | self.dropped
        return [s for s in range(1, self.produced + 1) if s not in settled]

    @rule(n=st.integers(1, 40))
    def append(self, n):
        got = self.store.append(readings(n), synced())
        assert got == SeqRange(self.produced + 1, self.produced + n)
        self.produced += n

    @precondition(lambda self: self.produced > 0)
    @rule(data=st.data())
    def acknowledge(self, data):
        first = data.draw(st.integers(1, self.produced))
        last = data.draw(st.integers(first, self.produced))
        new = set(range(first, last + 1)) - self.acked - self.rejected - self.dropped
        stored_new = new - self.deleted
        assert self.store.acknowledge([SeqRange(first, last)]) == len(stored_new)
        self.acked |= set(range(first, last + 1)) - self.rejected

    @precondition(lambda self: self.produced > 0)
    @rule(data=st.data())
    def reject(self, data):
        first = data.draw(st.integers(1, self.produced))
        last = data.draw(st.integers(first, min(self.produced, first + 5)))
        self.store.reject([SeqRange(first, last)], "test")
        self.rejected |= set(range(first, last + 1)) - self.acked

    @rule()
    def reopen(self):
        self.store.close()
        self.store = EdgeStore(self.path)

    @rule(fraction=st.sampled_from([0.5, 0.8, 2.0]))
    def size_cap(self, fraction):
        before = {row[0] for row in self.store.outbox_rows(100000)}
        report = self.store.enforce_retention(
            datetime.now(UTC),
            raw_retention_days=0,
            minute_rollup_days=31,
            rollup_days=3660,
            max_bytes=int(self.store.used_bytes() * fraction),
        )
        after = {row[0] for row in self.store.outbox_rows(100000)}
        lost = before - after
        assert len(lost) == report.dropped_unacknowledged
        in_dropped = {s for d in self.store.dropped_ranges() for s in range(d.first, d.last + 1)}
        assert lost <= in_dropped
        self.dropped |= lost
        self.deleted |= self.acked | self.rejected

    @invariant()
    def cursor_offers_exactly_the_pending(self):
        offered = [row[0] for row in self.store.outbox_rows(100000, newest_first=False)]
        assert offered == self.pending
        newest = [row[0] for row in self.store.outbox_rows(7, newest_first=True)]
        assert newest == sorted(self.pending, reverse=True)[:7]

    @invariant()
    def ranges_are_the_union(self):
        assert self.store.acknowledged_ranges() == merge(SeqRange(s, s) for s in self.acked)

    @invariant()
    def counts_agree(self):
        stats = self.store.stats()
        assert stats.backlog == len(self.pending)
        assert stats.dropped == len(self.dropped)


TestStoreModel = StoreModel.TestCase
TestStoreModel.settings = settings(
    max_examples=25,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_subtract_and_merge_agree_with_sets():
    covered = merge([SeqRange(3, 5), SeqRange(9, 12)])
    assert subtract([SeqRange(1, 14)], covered) == [
        SeqRange(1, 2),
        SeqRange(6, 8),
        SeqRange(13, 14),
    ]
