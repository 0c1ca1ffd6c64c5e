"""The question benchmark (``python -m bench questions``) in miniature, so its code cannot rot.

A day of the simulated hall instead of a year: only the table's shape and sums are
checked (the corpus's scores are the corpus test's job).
"""

from __future__ import annotations

import re
from datetime import timedelta

from bench.questions import main
from tests.support.question_hall import NOW, build_hall_store

ROW = re.compile(
    r"^\| (hallsense grammar|naive keywords) +\| +(\d+) \| +(\d+) .*?\| +(\d+) .*?\| +(\d+) ", re.M
)


def test_the_table_compares_the_grammar_with_the_naive_baseline(tmp_path, capsys):
    path = tmp_path / "hallsense.db"
    build_hall_store(path, first=NOW - timedelta(hours=6))
    main(path)
    out = capsys.readouterr().out
    rows = {name: tuple(int(n) for n in numbers) for name, *numbers in ROW.findall(out)}
    assert set(rows) == {"hallsense grammar", "naive keywords"}, out
    for total, right, declined, wrong in rows.values():
        assert total >= 200
        assert right + declined + wrong == total
    assert re.search(r"^Goal: at least 90% right and none wrong: (met|MISSED)$", out, re.M)
