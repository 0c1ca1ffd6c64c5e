"""`hallsense hub account …` against a real hub store: add, list, token, revoke, disable."""

from click.testing import CliRunner

from hallsense.cli import cli
from hub.logins import Logins
from hub.store_sqlite import SqliteHubStore
from tests.support.edge_process import write_env


def run(*args, input=None):
    return CliRunner().invoke(cli, ["hub", "account", *map(str, args)], input=input)


def test_the_team_adds_a_clerk_and_a_script_token(tmp_path):
    db = tmp_path / "hub.db"
    store = SqliteHubStore(db)
    store.add_device("askrigg", "Askrigg Village Hall")
    store.close()
    env = write_env(tmp_path / "hub.env", hub_store=db)
    password = "a long clerk passphrase\n"  # noqa: S105 - a test account's
    added = run("add", "jo-clerk", "--role", "clerk", "--hall", "askrigg", "--env", env,
                input=password * 2)  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "added jo-clerk (clerk for askrigg)" in added.output
    assert "a long clerk passphrase" not in added.output  # typed, never echoed

    weak = run("add", "sam", "--role", "team", "--env", env, input="short\nshort\n")
    assert weak.exit_code != 0
    assert "at least 12 characters" in weak.output
    nowhere = run("add", "al", "--role", "clerk", "--hall", "atlantis", "--env", env,
                  input=password * 2)  # fmt: skip
    assert "atlantis is not a registered device" in nowhere.output

    token = run("token", "jo-clerk", "--name", "spreadsheet", "--env", env)
    assert token.exit_code == 0, token.output
    issued = token.stdout.strip()  # alone on stdout, for TOKEN=$(...)
    assert len(issued) >= 43
    assert "a read-only token for jo-clerk, named 'spreadsheet'" in token.stderr
    store = SqliteHubStore(db)
    try:
        assert Logins(lambda: store).token_account(issued).username == "jo-clerk"
        assert issued not in str(list(store.tokens("jo-clerk")))  # only its hash is kept
        assert run("revoke-token", "jo-clerk", "--name", "spreadsheet", "--env", env).exit_code == 0
        assert Logins(lambda: store).token_account(issued) is None
        moved = run("halls", "jo-clerk", "--hall", "askrigg", "--env", env)
        assert moved.exit_code == 0, moved.output
        assert run("halls", "jo-clerk", "--hall", "atlantis", "--env", env).exit_code != 0
        assert store.account("jo-clerk").halls == ("askrigg",)
        assert "jo-clerk" in run("list", "--env", env).output
        assert run("disable", "jo-clerk", "--env", env).exit_code == 0
        assert store.account("jo-clerk").disabled
    finally:
        store.close()


def test_a_token_reads_only_unless_made_full_and_the_list_shows_which(tmp_path):
    db = tmp_path / "hub.db"
    store = SqliteHubStore(db)
    Logins(lambda: store).create_account("iot-team", "a long team passphrase", "team")
    store.close()
    env = write_env(tmp_path / "hub.env", hub_store=db)
    prometheus = run("token", "iot-team", "--name", "prometheus", "--env", env)
    assert prometheus.exit_code == 0, prometheus.output
    sync = run("token", "iot-team", "--name", "settings-sync", "--scope", "full", "--env", env)
    assert sync.exit_code == 0, sync.output
    assert "a full (it may change what its account may) token for iot-team" in sync.stderr
    wrong = run("token", "iot-team", "--name", "x", "--scope", "admin", "--env", env)
    assert wrong.exit_code == 2
    assert "'admin' is not one of 'read', 'full'" in wrong.output
    store = SqliteHubStore(db)
    try:
        logins = Logins(lambda: store)
        assert logins.token_account(prometheus.stdout.strip()).read_only
        assert not logins.token_account(sync.stdout.strip()).read_only
    finally:
        store.close()
    assert run("revoke-token", "iot-team", "--name", "prometheus", "--env", env).exit_code == 0
    listed = run("tokens", "--env", env)
    assert listed.exit_code == 0, listed.output
    lines = [line.split() for line in listed.output.splitlines()]
    assert [(w[0], w[1], w[2], w[-1]) for w in lines] == [
        ("iot-team", "prometheus", "read", "revoked"),
        ("iot-team", "settings-sync", "full", "live"),
    ]
    assert run("tokens", "iot-team", "--env", env).output == listed.output
    nobody = run("tokens", "nobody", "--env", env)
    assert nobody.exit_code == 1
    assert "no account called 'nobody'" in nobody.output
