"""The community page benchmark (``python -m bench web``) in miniature, so its code cannot rot.

Four hours of one-minute readings instead of a year (built by the benchmark's own
``build_store`` and reused, as ``HALLSENSE_BENCH_KEEP`` does), the real ``hallsense edge
web`` process and the naive app in its own waitress process over the same SQLite file,
two timed requests a page, and the tables. No latency is asserted (that is the
benchmark's job, by command, never a timed test): only that both servers answer every
page in the same run, with figures a reader can trust and the same readings in both
exports.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from bench.web import KEEP_ENV, ZONE, build_store, main

LATENCY = re.compile(
    r"^\| (.+?) +\| +([\d.]+) \| +([\d.]+) \| +(\d+) \| +([\d.]+) \| +([\d.]+) \| +(\d+) \|$",
    re.MULTILINE,
)
MEMORY = re.compile(r"^\| ((?:hallsense|naive).+?) +\| +([\d.]+) \| +([\d.]+) \|$", re.MULTILINE)


@pytest.mark.slow  # two page servers, started one after the other
def test_both_servers_answer_every_page_over_the_same_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The data ends at the last 02:00 in the hall, so the benchmark's CSV (30 days up to
    # the day before the data ends) holds 22:00 to midnight, whatever the time of the run.
    now = datetime.now(ZONE)
    end = datetime.combine(now.date(), time(2), ZONE)
    if end > now:
        end -= timedelta(days=1)
    assert build_store(tmp_path / "hallsense.db", end, days=4 / 24) == 4 * 60 * 10
    monkeypatch.setenv(KEEP_ENV, str(tmp_path))
    main(requests=2)
    out = capsys.readouterr().out

    last = (end - timedelta(minutes=1)).astimezone(UTC)  # the newest reading, as printed
    assert f"Reusing the store in {tmp_path} ({KEEP_ENV}); data up to {last:%Y-%m-%d %H:%M}" in out
    assert re.search(r"^  hallsense edge web: answering http://127\.0\.0\.1:\d+/", out, re.M)
    assert re.search(r"^  naive app: answering http://127\.0\.0\.1:\d+/", out, re.M)

    pages = {row[0]: row[1:] for row in LATENCY.findall(out)}
    assert len(pages) == 3, out
    assert {"home /", "year trend"} < set(pages)
    assert any(name.startswith("CSV of 30 days") for name in pages)
    for name, (p50, p95, n, naive_p50, naive_p95, naive_n) in pages.items():
        assert 0 < float(p50) <= float(p95), name
        assert 0 < float(naive_p50) <= float(naive_p95), name
        assert (n, naive_n) == ("2", "2"), name

    memory = {label: (float(rss), float(hwm)) for label, rss, hwm in MEMORY.findall(out)}
    assert len(memory) == 4, out
    for label, (rss, hwm) in memory.items():
        assert 1 < rss <= hwm < 2000, label

    weight = re.search(
        r"Home page: ([\d,]+) bytes of HTML; ([\d,]+) bytes with headers and its (\d+) assets\. "
        r"CSV of 30 days: ([\d,]+) bytes \(naive ([\d,]+)\)\.",
        out,
    )
    assert weight, out
    html, total, _, ours_csv, naive_csv = (int(g.replace(",", "")) for g in weight.groups())
    assert 0 < html < total
    # Both exports hold the same readings (their formats differ a little: a BOM, quality
    # names), so the comparison is like with like.
    assert ours_csv > 2 * 60 * 8 * 40  # 2 hours of 8 public metrics, 40 bytes a row at least
    assert abs(ours_csv - naive_csv) < ours_csv / 10
    assert re.search(
        r"^Goals: home under 100 KB transferred: (met|MISSED); home p95 under 100 ms: "
        r"(met|MISSED); year trend p95 under 100 ms: (met|MISSED)$",
        out,
        re.MULTILINE,
    ), out
