from hypothesis import given
from hypothesis import strategies as st

from edge.ranges import SeqRange, merge, runs


def test_runs_joins_consecutive_sequence_numbers():
    assert runs([2, 3, 4, 7, 9, 10]) == [SeqRange(2, 4), SeqRange(7, 7), SeqRange(9, 10)]
    assert runs([]) == []


@given(st.sets(st.integers(min_value=1, max_value=200)))
def test_runs_cover_exactly_the_numbers_given_merged(seqs):
    found = runs(sorted(seqs))
    assert {seq for block in found for seq in range(block.first, block.last + 1)} == seqs
    assert merge(found) == found
