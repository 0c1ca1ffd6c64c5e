"""Sets of sequence numbers kept as sorted, merged, inclusive ranges."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class SeqRange:
    """The sequence numbers ``first`` to ``last``, both included."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.first < 1 or self.last < self.first:
            raise ValueError(
                f"a sequence range runs from 1 or more up to at least its start, "
                f"got {self.first}..{self.last}"
            )

    def __len__(self) -> int:
        return self.last - self.first + 1

    def __str__(self) -> str:
        return f"{self.first}..{self.last}"


def merge(ranges: Iterable[SeqRange]) -> list[SeqRange]:
    """The union of ``ranges`` as sorted, non-overlapping, non-adjacent ranges."""
    merged: list[SeqRange] = []
    for current in sorted(ranges):
        if merged and current.first <= merged[-1].last + 1:
            if current.last > merged[-1].last:
                merged[-1] = SeqRange(merged[-1].first, current.last)
        else:
            merged.append(current)
    return merged


def runs(seqs: Iterable[int]) -> list[SeqRange]:
    """Ascending sequence numbers ``seqs`` as ranges, each run of consecutive ones as one."""
    ranges: list[SeqRange] = []
    for seq in seqs:
        if ranges and ranges[-1].last == seq - 1:
            ranges[-1] = SeqRange(ranges[-1].first, seq)
        else:
            ranges.append(SeqRange(seq, seq))
    return ranges


def subtract(ranges: Iterable[SeqRange], covered: list[SeqRange]) -> list[SeqRange]:
    """The parts of ``ranges`` not in ``covered`` (which must be merged)."""
    result: list[SeqRange] = []
    for wanted in merge(ranges):
        start = wanted.first
        for block in covered:
            if block.last < start:
                continue
            if block.first > wanted.last:
                break
            if block.first > start:
                result.append(SeqRange(start, block.first - 1))
            start = max(start, block.last + 1)
            if start > wanted.last:
                break
        if start <= wanted.last:
            result.append(SeqRange(start, wanted.last))
    return result


def gaps(covered: list[SeqRange], start: int) -> Iterator[tuple[int, int | None]]:
    """The stretches from ``start`` upwards not in ``covered`` (merged): (first, last or None)."""
    position = start
    for block in covered:
        if block.last < position:
            continue
        if block.first > position:
            yield position, block.first - 1
        position = max(position, block.last + 1)
    yield position, None
