"""The monthly report as data: sections of sentences, tables and bar charts, for any renderer.

The PDF (presentation.report_pdf) and the HTML version (presentation.report_html) draw
the same :class:`MonthlyReport`, so their words and numbers cannot differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BarsKind = Literal["columns", "rows"]


@dataclass(frozen=True, slots=True)
class ReadingNotes:
    """What the raw readings of the month say that the rollups cannot.

    Rollups leave out readings that are limits ("fewer than 3") or whose time could not
    be trusted, and keep no flags; the caller counts them from the stored readings.
    ``kept`` is False when the month's raw readings have been cleared by retention, so
    none of the counts is known.
    """

    kept: bool = True
    readings: int = 0
    censored_people: int = 0
    censored_other: int = 0
    clock_corrected: int = 0
    clock_uncertain: int = 0


@dataclass(frozen=True, slots=True)
class Table:
    """A table with a caption, column headings and rows that each start with a row heading."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar: its label, its value (None: no data) and the value as printed beside it."""

    label: str
    value: float | None
    text: str


@dataclass(frozen=True, slots=True)
class Bars:
    """A bar chart: ``columns`` (one per day, upright) or ``rows`` (labelled, across).

    ``description`` is its text alternative: everything a reader of the chart learns.
    Bars of a ``rows`` chart are told apart by their labels and printed values, and each
    also has its own fill pattern, so nothing depends on colour.
    """

    title: str
    description: str
    kind: BarsKind
    bars: tuple[Bar, ...]
    unit: str


@dataclass(frozen=True, slots=True)
class Section:
    """One heading of the report: sentences first, then its charts and tables."""

    key: str
    heading: str
    sentences: tuple[str, ...]
    charts: tuple[Bars, ...] = ()
    tables: tuple[Table, ...] = ()


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    """The monthly hall report, ready to render.

    ``title`` ("Askrigg Village Hall: November 2026"); ``summary`` the key sentences that
    lead the report; ``sections`` in reading order; ``footnote`` says how it was made.
    """

    hall_name: str
    month_key: str
    month_label: str
    title: str
    summary: tuple[str, ...]
    sections: tuple[Section, ...]
    footnote: str
    opening_hours: str = ""
    facts: dict[str, object] = field(default_factory=dict)

    def section(self, key: str) -> Section:
        """The section with ``key`` (KeyError if none)."""
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)

    def text(self) -> str:
        """Every sentence of the report, in reading order, one per line (for tests, e-mail)."""
        lines = [self.title, *self.summary]
        for section in self.sections:
            lines.append(section.heading)
            lines.extend(section.sentences)
        lines.append(self.footnote)
        return "\n".join(lines)
