"""`hallsense edge report`, run with click's CliRunner on the command itself over a real store."""

import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from hallsense.cli_edge_report import report
from presentation.report_month import month_of
from tests.support.edge_process import write_env
from tests.support.report_hall import HALL, ZONE, troubled_hall


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A node's .env over a store of November 2026 (with a gap, limits, a corrected clock)."""
    root = tmp_path_factory.mktemp("node")
    (root / "node").mkdir()
    troubled_hall(root / "node" / "hallsense.db")
    path = write_env(
        root / "edge.env",
        data_dir=root / "node",
        hall_name=HALL,
        drivers="simulated",
        clock_check="trust",
        opening_hours="Mon to Sat, 9:00 to 22:00",
    )
    return str(path)


def run(*args: str):
    return CliRunner().invoke(report, list(args), catch_exceptions=False)


def test_it_writes_the_pdf_of_a_month(env, tmp_path):
    out = tmp_path / "nov.pdf"
    result = run("--env", env, "--month", "2026-11", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output == f"wrote the report for November 2026 to {out}\n"
    assert out.read_bytes().startswith(b"%PDF-")


def test_it_writes_the_html_to_standard_output(env):
    result = run("--env", env, "--month", "2026-11", "--format", "html", "--out", "-")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("<!doctype html>")
    assert f"<h1>{HALL}: November 2026</h1>" in result.output
    assert "<p>Opening hours: Mon to Sat, 9:00 to 22:00</p>" in result.output


def test_its_default_file_is_named_after_the_month(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("--env", env, "--month", "2026-11", "--format", "html")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hall-report-2026-11.html").read_text("utf-8").startswith("<!doctype")


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-13", "'2026-13' is not a month: the month must be 01 to 12"),
        ("Nov 2026", "'Nov 2026' is not a month: write it as YYYY-MM, e.g. 2026-11"),
        ("2026-1", "'2026-1' is not a month: write it as YYYY-MM, e.g. 2026-11"),
    ],
)
def test_a_malformed_month_is_a_usage_error(env, month, message):
    result = run("--env", env, "--month", month)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: Invalid value for '--month': {message}"


@pytest.mark.parametrize("which", ["current", "future"])
def test_the_current_and_future_months_are_refused_in_one_line(env, which):
    current = month_of(datetime.now(UTC), ZONE)
    month = current if which == "current" else current.next()
    state = "is not over yet" if which == "current" else "is in the future"
    result = run("--env", env, "--month", month.key)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {month.key} {state}: the last complete month is {current.previous().key}\n"
    )


def test_a_month_before_the_first_readings_says_which_month_is_first(env):
    result = run("--env", env, "--month", "2026-10")
    assert result.exit_code == 1
    assert result.output == (
        "Error: there are no readings for 2026-10: the first month with readings is 2026-11\n"
    )


def test_the_first_month_with_readings_is_reported(env):
    result = run("--env", env, "--month", "2026-11", "--format", "html", "--out", "-")
    assert re.search(r"672 of the 720 hours of November 2026", result.output)


def test_no_store_yet_is_one_line(tmp_path):
    env = write_env(tmp_path / "edge.env", data_dir=tmp_path / "none", drivers="simulated")
    result = run("--env", str(env), "--month", "2026-11")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: no database at {tmp_path / 'none'}")


def test_an_unwritable_output_names_the_missing_directory(env, tmp_path):
    out = tmp_path / "absent" / "r.pdf"
    result = run("--env", env, "--month", "2026-11", "--out", str(out))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot write {out}: the directory {out.parent} does not exist\n"
    )
