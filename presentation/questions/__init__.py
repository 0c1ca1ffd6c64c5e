"""Questions in plain English, answered from the rollups with no language model.

``parse(question, now, timezone, opening_hours)`` gives an :class:`Intent` or
:class:`Declined`; ``answer(intent, source, now, zone)`` reads hourly rollups from any
:class:`RollupSource` (the node's ``EdgeStore``, later the hub's store) and gives an
:class:`Answer`: one or two sentences, the figures they quote, and a :class:`Link` to
the page that shows them.

- lexicon: known words, tokens, typo correction.
- periods: relative and British dates, day parts.
- intent: what a question asks; parse: the grammar.
- series: hourly figures from a rollup source; answer: the sentences.
"""

from presentation.questions.answer import Answer, Link, answer
from presentation.questions.intent import EXAMPLES, Declined, Intent
from presentation.questions.parse import MAX_QUESTION_CHARS, parse, question_problem
from presentation.questions.series import RollupSource

__all__ = [
    "EXAMPLES",
    "MAX_QUESTION_CHARS",
    "Answer",
    "Declined",
    "Intent",
    "Link",
    "RollupSource",
    "answer",
    "parse",
    "question_problem",
]
