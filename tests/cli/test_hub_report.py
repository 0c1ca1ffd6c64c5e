"""`hallsense hub report`, run with click's CliRunner on the command itself over a real
SQLite hub store: one file per hall, named halls only, and its refusals in one line."""

import os
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from hallsense.cli_hub_report import report
from hub.config_downlink import build_config
from hub.store_sqlite import SqliteHubStore
from presentation.report_month import month_of
from tests.support.edge_process import write_env
from tests.support.hub_report_hall import deliver
from tests.support.report_hall import HALL, ZONE, troubled_hall


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A hub holding November 2026 of two halls, a third hall with none, one revoked."""
    root = tmp_path_factory.mktemp("hub")
    node = troubled_hall(root / "node.db")
    store = SqliteHubStore(root / "hub.db")
    try:
        for device, site in (
            ("askrigg", "Askrigg (registered)"),
            ("bainbridge", "Bainbridge Institute"),
            ("reeth", "Reeth Memorial Hall"),
            ("hawes", "Hawes Market Hall"),
        ):
            store.add_device(device, site)
        _, payload = build_config(1, {}, {"hall_name": HALL, "opening_hours": "Mon to Sat"})
        store.save_config("askrigg", 1, payload.decode(), actor="clerk")
        deliver(node.path, store, "askrigg")
        deliver(node.path, store, "bainbridge")
        deliver(node.path, store, "hawes")
        store.revoke_device("hawes")
    finally:
        store.close()
    return str(write_env(root / "hub.env", hub_store=root / "hub.db"))


def run(*args: str):
    return CliRunner().invoke(report, list(args), catch_exceptions=False)


def test_it_writes_one_file_per_hall_and_says_which_it_could_not(env, tmp_path):
    out = tmp_path / "reports"
    result = run("--env", env, "--month", "2026-11", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "hall-report-2026-11-askrigg.pdf",
        "hall-report-2026-11-bainbridge.pdf",
    ]  # not the revoked hall's, nor one without readings
    assert all(p.read_bytes().startswith(b"%PDF-") for p in out.iterdir())
    assert f"askrigg: wrote {out / 'hall-report-2026-11-askrigg.pdf'}" in result.output
    assert (
        "reeth: no report: there are no readings for 2026-11: the hub has no readings "
        "from this hall yet" in result.output
    )
    assert result.output.splitlines()[-1] == "wrote 2 reports for November 2026"


def test_it_writes_only_the_named_halls_in_html(env, tmp_path):
    result = run(
        "--env", env, "--month", "2026-11", "--hall", "askrigg", "--hall", "hawes",
        "--format", "html", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hall-report-2026-11-askrigg.html",
        "hall-report-2026-11-hawes.html",  # named, so reported though revoked
    ]
    page = (tmp_path / "hall-report-2026-11-askrigg.html").read_text("utf-8")
    assert page.startswith("<!doctype html>")
    assert f"<h1>{HALL}: November 2026</h1>" in page
    assert "<h1>Hawes Market Hall: November 2026</h1>" in (
        tmp_path / "hall-report-2026-11-hawes.html"
    ).read_text("utf-8")


def test_its_default_directory_is_the_current_one(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("--env", env, "--month", "2026-11", "--hall", "bainbridge", "--format", "html")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "hall-report-2026-11-bainbridge.html").is_file()


def test_a_named_hall_without_a_report_is_exit_status_1_after_the_others(env, tmp_path):
    result = run("--env", env, "--month", "2026-11", "--hall", "reeth", "--hall", "askrigg",
                 "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 1
    assert (tmp_path / "hall-report-2026-11-askrigg.pdf").is_file()
    assert result.output.splitlines()[-1] == "Error: no report for reeth (1 of 2 written)"


def test_a_month_no_hall_has_readings_for_is_one_line(env, tmp_path):
    result = run("--env", env, "--month", "2026-10", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert (
        "askrigg: no report: there are no readings for 2026-10: the first month with "
        "readings is 2026-11" in result.output
    )
    assert result.output.splitlines()[-1] == "Error: no hall has readings for 2026-10"
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_hall_is_a_usage_error_before_anything_is_written(env, tmp_path):
    result = run("--env", env, "--month", "2026-11", "--hall", "askrigg", "--hall", "muker",
                 "--out", str(tmp_path / "r"))  # fmt: skip
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--hall': 'muker' is not a registered hall"
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-13", "'2026-13' is not a month: the month must be 01 to 12"),
        ("Nov 2026", "'Nov 2026' is not a month: write it as YYYY-MM, e.g. 2026-11"),
        ("2026-1", "'2026-1' is not a month: write it as YYYY-MM, e.g. 2026-11"),
        ("1969-12", "'1969-12' is before any reading could have been taken (1970)"),
    ],
)
def test_a_malformed_month_is_a_usage_error(env, month, message):
    result = run("--env", env, "--month", month)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == f"Error: Invalid value for '--month': {message}"


@pytest.mark.parametrize("which", ["current", "future"])
def test_the_current_and_future_months_are_refused_in_one_line(env, which, tmp_path):
    current = month_of(datetime.now(UTC), ZONE)
    month = current if which == "current" else current.next()
    state = "is not over yet" if which == "current" else "is in the future"
    result = run("--env", env, "--month", month.key, "--out", str(tmp_path / "r"))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {month.key} {state}: the last complete month is {current.previous().key}\n"
    )
    assert not (tmp_path / "r").exists()


def test_an_output_directory_that_cannot_be_made_is_one_line(env, tmp_path):
    (tmp_path / "file").write_text("not a directory\n", encoding="utf-8")
    result = run("--env", env, "--month", "2026-11", "--out", str(tmp_path / "file" / "r"))
    assert result.exit_code == 1
    assert result.output == f"Error: cannot make {tmp_path / 'file' / 'r'}: Not a directory\n"


def test_no_settings_names_the_missing_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("HALLSENSE_")]:
        monkeypatch.delenv(name)
    result = run("--month", "2026-11")
    assert result.exit_code == 1
    assert result.output == (
        "Error: Settings from the environment are not valid:\n"
        "  HALLSENSE_HUB_STORE: required, but not set\n"
    )
