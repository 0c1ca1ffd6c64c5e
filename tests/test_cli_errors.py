"""Every error case docs/cli.md lists, run for real: one `Error:` line, its exit code, no traceback.

The table under "## Errors, command by command" in docs/cli.md is the contract: each row
names a command, when it fails and its exit status. CASES below says how to make each
row happen; the tests check that the two agree both ways, that every command of the CLI
has at least one row, and then run each row as `hallsense …` in a process of its own
with no HALLSENSE_* variables, as a user would meet it. The processes are forked from
one that imported the CLI once (tests/support/cli_forks.py): a fresh interpreter cost
each case half a second before the command began.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.clock import ClockSample
from edge.lock import AgentLock
from edge.store import EdgeStore
from provisioning.state import init_state
from sensors.reading import Reading
from tests.support.broker import free_port
from tests.support.cli_forks import CliForks
from tests.support.edge_process import write_env
from tests.test_docs import COMMANDS

CLI_MD = Path(__file__).parents[1] / "docs" / "cli.md"
LOG_RECORD = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
USAGE = re.compile(r"^Usage: hallsense ")


def documented_errors() -> list[tuple[str, str, int]]:
    """(command, when, exit status) for every row of docs/cli.md's table of errors."""
    text = CLI_MD.read_text(encoding="utf-8")
    part = text.split("## Errors, command by command", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(hallsense [a-z -]+)` \| (.+?) \| (\d) \|$", part, re.MULTILINE)
    return [(command, when, int(code)) for command, when, code in rows]


@dataclass
class Setup:
    """What one case runs: the arguments, extra environment, and what to hold meanwhile."""

    args: list[str]
    env: dict[str, str] = field(default_factory=dict)
    hold: list[AbstractContextManager[object]] = field(default_factory=list)


Build = Callable[[Path], Setup]


def busy_port() -> tuple[socket.socket, int]:
    """A socket listening on a port (closed when the case is done), and the port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener, int(listener.getsockname()[1])


def node_env(tmp: Path, **settings: object) -> str:
    values: dict[str, object] = {
        "data_dir": tmp / "node",
        "drivers": "simulated",
        "clock_check": "trust",
    }
    values.update(settings)
    return str(write_env(tmp / "edge.env", **values))


def with_store(tmp: Path, readings: int = 0) -> None:
    """Make the node's store, holding ``readings`` readings still waiting for the hub."""
    (tmp / "node").mkdir(exist_ok=True)
    store = EdgeStore(tmp / "node" / "hallsense.db")
    try:
        if readings:
            now = datetime.now(UTC)
            batch = [Reading("t1", "temperature", 20.0 + i, "°C", now) for i in range(readings)]
            store.append(batch, ClockSample(now, 10**12, True, "boot"))
    finally:
        store.close()


def stored_node_env(tmp: Path, **settings: object) -> str:
    env = node_env(tmp, **settings)
    with_store(tmp)
    return env


def hub_env(tmp: Path, **settings: object) -> str:
    values: dict[str, object] = {"hub_store": tmp / "hub.db", "broker_host": "127.0.0.1"}
    values.update(settings)
    return str(write_env(tmp / "hub.env", **values))


def hub_with_hall(tmp: Path) -> str:
    """A hub's settings over a store where 'askrigg' is registered, with no readings."""
    from hub.store_sqlite import SqliteHubStore

    env = hub_env(tmp)
    store = SqliteHubStore(tmp / "hub.db")
    try:
        store.add_device("askrigg", "Askrigg Village Hall")
    finally:
        store.close()
    return env


def provisioned(tmp: Path) -> str:
    init_state(
        tmp / "state",
        hostnames=["localhost"],
        ips=["127.0.0.1"],
        port_tls=free_port(),
        service_port=free_port(),
        bind_address="127.0.0.1",
        run_as="root" if os.geteuid() == 0 else os.environ.get("USER", "root"),
    )
    return str(tmp / "state")


def edge_web_port_in_use(tmp: Path) -> Setup:
    listener, port = busy_port()
    env = node_env(tmp, web_host="127.0.0.1", web_port=port)
    return Setup(["edge", "web", "--env", env], hold=[listener])


def hub_web_port_in_use(tmp: Path) -> Setup:
    listener, port = busy_port()
    state = provisioned(tmp)
    env = hub_env(tmp, security_contact="mailto:iot@example.org")
    args = ["hub", "web", "--env", env, "--state-dir", state, "--host", "127.0.0.1"]
    return Setup([*args, "--port", str(port)], hold=[listener])


def edge_locked(*command: str) -> Build:
    """The command while this test holds the agent's lock, as a running `edge run` would."""

    def build(tmp: Path) -> Setup:
        env = stored_node_env(tmp)
        return Setup(
            ["edge", command[0], "--env", env, *command[1:]], hold=[AgentLock(tmp / "node")]
        )

    return build


def not_empty(tmp: Path) -> str:
    (tmp / "state").mkdir()
    (tmp / "state" / "notes.txt").write_text("the council's notes\n", encoding="utf-8")
    return str(tmp / "state")


def init_with(tmp: Path, *options: str) -> Setup:
    """``provision init`` into a fresh state directory, with ``options``."""
    state = str(tmp / "state")
    return Setup(["provision", "init", "--hostname", "localhost", "--state-dir", state, *options])


def no_settings(*command: str) -> Build:
    """The command with no settings at all: no --env, no HALLSENSE_* variables."""
    return lambda tmp: Setup([*command])


def missing_env(*command: str, extra: tuple[str, ...] = ()) -> Build:
    return lambda tmp: Setup([*command, "--env", str(tmp / "absent.env"), *extra])


def no_state(*command: str, hub: bool = True) -> Build:
    def build(tmp: Path) -> Setup:
        args = [*command, "--state-dir", str(tmp / "empty")]
        (tmp / "empty").mkdir()
        return Setup([*args, "--env", hub_env(tmp)] if hub else args)

    return build


def release_keys(tmp: Path) -> str:
    """A directory of release signing keys, made as the council makes them."""
    from provisioning.release_keys import generate_release_keys

    generate_release_keys(tmp / "keys", root_keys=1)
    return str(tmp / "keys")


def release_repo(tmp: Path, *, published: str | None = None) -> tuple[str, str]:
    """A started release repository (and its keys), with one release if ``published``."""
    from provisioning.release_repository import ReleaseRepository

    keys = release_keys(tmp)
    repository = ReleaseRepository(tmp / "repo")
    repository.create(Path(keys), root_threshold=1)
    if published:
        (tmp / "a.whl").write_bytes(b"a wheel")
        repository.publish(
            [tmp / "a.whl"],
            version=published,
            architecture="aarch64",
            schema=1,
            keys_dir=Path(keys),
        )
    return str(tmp / "repo"), keys


def publish_args(repo: str, keys: str, tmp: Path) -> list[str]:
    (tmp / "b.whl").write_bytes(b"another wheel")
    return [
        "provision", "release", "publish", "--repo", repo, "--keys-dir", keys,
        "--version", "1.0.0", "--architecture", "aarch64", "--schema", "1", str(tmp / "b.whl"),
    ]  # fmt: skip


def rotate_args(repo: str, keys: str, *more: str, without_root: bool = False) -> list[str]:
    """``provision release rotate`` of ``repo``; ``without_root``: its root key taken away."""
    if without_root:
        (Path(keys) / "root-1.pem").unlink()
    return ["provision", "release", "rotate", "--repo", repo, "--keys-dir", keys, *more]


def rollout_args(tmp: Path, *command: str, running_at: int | None = None) -> list[str]:
    """``hub rollout COMMAND …`` over a hub store, with a rollout at ``running_at`` % running."""
    env = hub_env(tmp)
    if running_at is not None:
        from hub.store_sqlite import SqliteHubStore

        store = SqliteHubStore(tmp / "hub.db")
        try:
            store.start_rollout("1.5.0", [], running_at, 0.25, actor="tests")
        finally:
            store.close()
    return ["hub", "rollout", *command, "--env", env]


def a_bundle(tmp: Path, *, wheels_for: str | None = None) -> str:
    """A node's bundle (settings, no wheelhouse), with wheels for ``wheels_for`` alone."""
    bundle = tmp / "bundle"
    bundle.mkdir()
    write_env(bundle / "edge.env", data_dir="/var/lib/hallsense", drivers="simulated")
    if wheels_for is not None:
        (bundle / "wheelhouse" / wheels_for).mkdir(parents=True)
        (bundle / "wheelhouse" / wheels_for / "hallsense-1.0.0-py3-none-any.whl").write_bytes(b"")
    (tmp / "root").mkdir()
    return str(bundle)


def tiny_wheel(tmp: Path) -> str:
    """A wheel of nothing but metadata, requiring click (which pip must then fetch)."""
    import zipfile

    wheel = tmp / "hallsense-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(
            "hallsense-1.0.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: hallsense\nVersion: 1.0.0\nRequires-Dist: click\n",
        )
    return str(wheel)


NO_STORE = "no store yet"
NO_SETTINGS = "no settings: no `--env` file and no `HALLSENSE_*` variables"
BAD_SETTING = "a setting with a bad value"
NO_STATE = "no provisioning state in `--state-dir`"

CASES: dict[tuple[str, str], Build] = {
    # --- the node ---
    ("hallsense edge run", NO_SETTINGS): no_settings("edge", "run"),
    ("hallsense edge run", "`--env` names a file that is not there"): missing_env("edge", "run"),
    ("hallsense edge run", BAD_SETTING): lambda tmp: Setup(
        ["edge", "run", "--env", node_env(tmp, simulated_interval_s="soon")]
    ),
    ("hallsense edge run", "the data directory cannot be made"): lambda tmp: Setup(
        ["edge", "run", "--env", node_env(tmp, data_dir="/proc/hallsense-absent")]
    ),
    ("hallsense edge run", "no driver can start"): lambda tmp: Setup(
        ["edge", "run", "--env", node_env(tmp, drivers="bme280", i2c_bus=99)]
    ),
    ("hallsense edge run", "another `edge run` holds the store"): edge_locked("run"),
    ("hallsense edge status", NO_STORE): lambda tmp: Setup(
        ["edge", "status", "--env", node_env(tmp)]
    ),
    ("hallsense edge report", NO_SETTINGS): no_settings("edge", "report", "--month", "2026-11"),
    ("hallsense edge report", NO_STORE): lambda tmp: Setup(
        ["edge", "report", "--env", node_env(tmp), "--month", "2026-11"]
    ),
    (
        "hallsense edge report",
        "`--month` is not a month written YYYY-MM (or its month is not 01 to 12)",
    ): lambda tmp: Setup(["edge", "report", "--env", stored_node_env(tmp), "--month", "2026-13"]),
    ("hallsense edge report", "the month has not ended yet (this month or a later one)"): (
        lambda tmp: Setup(["edge", "report", "--env", stored_node_env(tmp), "--month", "2999-01"])
    ),
    ("hallsense edge report", "no readings in the month"): lambda tmp: Setup(
        ["edge", "report", "--env", stored_node_env(tmp), "--month", "2026-11"]
    ),
    ("hallsense edge export", NO_STORE): lambda tmp: Setup(
        ["edge", "export", "--env", node_env(tmp), "--from", "2026-11-01", "--to", "2026-11-02"]
    ),
    ("hallsense edge export", "the directory of `-o FILE` is not there"): lambda tmp: Setup(
        [
            "edge",
            "export",
            "--env",
            stored_node_env(tmp),
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
            "-o",
            str(tmp / "absent" / "november.csv"),
        ]
    ),
    ("hallsense edge export", "`--from` or `--to` is not a date"): lambda tmp: Setup(
        [
            "edge",
            "export",
            "--env",
            stored_node_env(tmp),
            "--from",
            "November",
            "--to",
            "2026-11-02",
        ]
    ),
    ("hallsense edge export", "`--to` is before `--from`"): lambda tmp: Setup(
        [
            "edge",
            "export",
            "--env",
            stored_node_env(tmp),
            "--from",
            "2026-11-02",
            "--to",
            "2026-11-01",
        ]
    ),
    ("hallsense edge calibrate-footfall", NO_STORE): lambda tmp: Setup(
        [
            "edge",
            "calibrate-footfall",
            "--env",
            node_env(tmp),
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ]
    ),
    ("hallsense edge calibrate-footfall", "no door counts in the period"): lambda tmp: Setup(
        [
            "edge",
            "calibrate-footfall",
            "--env",
            stored_node_env(tmp),
            "--from",
            "2026-11-01",
            "--to",
            "2026-11-02",
        ]
    ),
    ("hallsense edge drain", NO_STORE): lambda tmp: Setup(
        ["edge", "drain", "--env", node_env(tmp, broker_host="127.0.0.1")]
    ),
    ("hallsense edge drain", "no hub in the settings (`HALLSENSE_BROKER_HOST`)"): lambda tmp: Setup(
        ["edge", "drain", "--env", stored_node_env(tmp)]
    ),
    ("hallsense edge backup", NO_STORE): lambda tmp: Setup(
        ["edge", "backup", "--env", node_env(tmp), str(tmp / "copy.db")]
    ),
    ("hallsense edge backup", "the destination exists"): lambda tmp: Setup(
        ["edge", "backup", "--env", stored_node_env(tmp), str(tmp / "edge.env")]
    ),
    ("hallsense edge backup", "the destination's directory is not there"): lambda tmp: Setup(
        ["edge", "backup", "--env", stored_node_env(tmp), str(tmp / "absent" / "copy.db")]
    ),
    ("hallsense edge update", "updates are off (no `HALLSENSE_RELEASE_URL`)"): lambda tmp: Setup(
        ["edge", "update", "--env", node_env(tmp)]
    ),
    (
        "hallsense edge update",
        "the council's first root (`HALLSENSE_RELEASE_ROOT_FILE`) cannot be read",
    ): lambda tmp: Setup(
        [
            "edge",
            "update",
            "--env",
            node_env(
                tmp,
                release_url="https://localhost:1/releases/",
                broker_ca_file=tmp / "edge.env",
                release_root_file=tmp / "absent" / "root.json",
            ),
        ]
    ),
    ("hallsense edge web", NO_SETTINGS): no_settings("edge", "web"),
    ("hallsense edge web", "the port is in use"): edge_web_port_in_use,
    ("hallsense edge poster", NO_SETTINGS): no_settings("edge", "poster"),
    ("hallsense edge poster", "the directory of `--out FILE` is not there"): lambda tmp: Setup(
        [
            "edge",
            "poster",
            "--env",
            node_env(tmp),
            "--url",
            "http://askrigg.local/",
            "--out",
            str(tmp / "absent" / "poster.pdf"),
        ]
    ),
    ("hallsense edge poster", "`--url` is not an http:// or https:// address"): lambda tmp: Setup(
        ["edge", "poster", "--env", node_env(tmp), "--url", "askrigg.local"]
    ),
    ("hallsense edge wipe", NO_SETTINGS): no_settings("edge", "wipe", "--yes"),
    ("hallsense edge wipe", "another `edge run` holds the store"): edge_locked("wipe", "--yes"),
    ("hallsense edge install", "the `--bundle` folder is not a bundle (no `edge.env`)"): (
        lambda tmp: Setup(["edge", "install", "--bundle", str(tmp), "--root", str(tmp)])
    ),
    ("hallsense edge install", "the bundle has no wheels for this machine"): lambda tmp: Setup(
        [
            *["edge", "install", "--no-start", "--root", str(tmp / "root")],
            *["--bundle", a_bundle(tmp, wheels_for="riscv64")],
        ]
    ),
    ("hallsense edge uninstall", "`--root` is not a directory"): lambda tmp: Setup(
        ["edge", "uninstall", "--no-stop", "--root", str(tmp / "nowhere")]
    ),
    # --- the demo ---
    ("hallsense demo", "Mosquitto is not installed"): lambda tmp: Setup(
        ["demo"], env={"PATH": str(tmp)}
    ),
    ("hallsense demo", "the `--data-dir` cannot be made"): lambda tmp: Setup(
        ["demo", "--data-dir", "/proc/hallsense-absent"]
    ),
    ("hallsense demo", "`--every` is under 0.5 s"): lambda tmp: Setup(["demo", "--every", "0.1"]),
    # --- the hub ---
    ("hallsense hub report", NO_SETTINGS): no_settings("hub", "report", "--month", "2026-11"),
    (
        "hallsense hub report",
        "`--month` is not a month written YYYY-MM (or its month is not 01 to 12)",
    ): lambda tmp: Setup(["hub", "report", "--env", hub_env(tmp), "--month", "2026-13"]),
    ("hallsense hub report", "the month has not ended yet (this month or a later one)"): (
        lambda tmp: Setup(["hub", "report", "--env", hub_env(tmp), "--month", "2999-01"])
    ),
    ("hallsense hub report", "a `--hall` that is not a registered device"): lambda tmp: Setup(
        ["hub", "report", "--env", hub_env(tmp), "--month", "2026-11", "--hall", "askrigg"]
    ),
    ("hallsense hub report", "the hub has no registered halls"): lambda tmp: Setup(
        ["hub", "report", "--env", hub_env(tmp), "--month", "2026-11"]
    ),
    ("hallsense hub report", "no hall has readings in the month"): lambda tmp: Setup(
        ["hub", "report", "--env", hub_with_hall(tmp), "--month", "2026-11"]
    ),
    ("hallsense hub report", "the `--out` directory cannot be made"): lambda tmp: Setup(
        [
            *["hub", "report", "--env", hub_with_hall(tmp), "--month", "2026-11"],
            *["--out", str(tmp / "hub.env" / "reports")],
        ]
    ),
    ("hallsense hub run", NO_SETTINGS): no_settings("hub", "run"),
    ("hallsense hub run", "the hub store cannot be opened"): lambda tmp: Setup(
        ["hub", "run", "--env", hub_env(tmp, hub_store="/proc/hallsense-absent/hub.db")]
    ),
    ("hallsense hub web", NO_STATE): no_state("hub", "web"),
    ("hallsense hub web", "the port is in use"): hub_web_port_in_use,
    ("hallsense hub home-assistant", NO_SETTINGS): no_settings("hub", "home-assistant"),
    ("hallsense hub account add", "a clerk without `--hall`"): lambda tmp: Setup(
        ["hub", "account", "add", "jo", "--role", "clerk", "--env", hub_env(tmp)]
    ),
    ("hallsense hub account add", "the `--password-file` is not there"): lambda tmp: Setup(
        [
            "hub",
            "account",
            "add",
            "jo",
            "--role",
            "team",
            "--env",
            hub_env(tmp),
            "--password-file",
            str(tmp / "absent.txt"),
        ]
    ),
    ("hallsense hub account halls", "no such account"): lambda tmp: Setup(
        ["hub", "account", "halls", "jo", "--hall", "askrigg", "--env", hub_env(tmp)]
    ),
    ("hallsense hub account list", NO_SETTINGS): no_settings("hub", "account", "list"),
    ("hallsense hub account disable", "no such account"): lambda tmp: Setup(
        ["hub", "account", "disable", "jo", "--env", hub_env(tmp)]
    ),
    ("hallsense hub account token", "no such account"): lambda tmp: Setup(
        ["hub", "account", "token", "jo", "--name", "grafana", "--env", hub_env(tmp)]
    ),
    ("hallsense hub account tokens", "no such account"): lambda tmp: Setup(
        ["hub", "account", "tokens", "jo", "--env", hub_env(tmp)]
    ),
    ("hallsense hub account revoke-token", "no such token"): lambda tmp: Setup(
        ["hub", "account", "revoke-token", "jo", "--name", "grafana", "--env", hub_env(tmp)]
    ),
    ("hallsense hub add-device", "the device id is not valid"): lambda tmp: Setup(
        ["hub", "add-device", "--env", hub_env(tmp), "Askrigg Hall", "--name", "Askrigg"]
    ),
    ("hallsense hub set-config", "the broker cannot be reached"): lambda tmp: Setup(
        [
            "hub",
            "set-config",
            "--env",
            hub_env(tmp, broker_port=free_port()),
            "askrigg",
            "--interval",
            "simulated=5",
        ]
    ),
    ("hallsense hub status", NO_SETTINGS): no_settings("hub", "status"),
    # --- staged rollouts ---
    ("hallsense hub rollout start", "the version is not a release version (PEP 440)"): (
        lambda tmp: Setup(rollout_args(tmp, "start", "latest", "--percent", "10"))
    ),
    (
        "hallsense hub rollout start",
        "the version is not published in the release repository (`HALLSENSE_RELEASES_DIR`)",
    ): lambda tmp: Setup(
        [
            *["hub", "rollout", "start", "1.5.0", "--percent", "10"],
            *["--env", hub_env(tmp, releases_dir=release_repo(tmp)[0])],
        ]
    ),
    ("hallsense hub rollout start", "a `--hall` that is not a registered device"): (
        lambda tmp: Setup(rollout_args(tmp, "start", "1.5.0", "--hall", "askrigg"))
    ),
    ("hallsense hub rollout start", "`--percent` is not 0 to 100"): lambda tmp: Setup(
        rollout_args(tmp, "start", "1.5.0", "--percent", "150")
    ),
    ("hallsense hub rollout start", "`--stop-share` is not over 0 and at most 1"): (
        lambda tmp: Setup(
            rollout_args(tmp, "start", "1.5.0", "--percent", "10", "--stop-share", "0")
        )
    ),
    ("hallsense hub rollout start", "neither a `--hall` nor a `--percent` above 0"): (
        lambda tmp: Setup(rollout_args(tmp, "start", "1.5.0"))
    ),
    ("hallsense hub rollout widen", "no rollout is running"): lambda tmp: Setup(
        rollout_args(tmp, "widen", "--percent", "10")
    ),
    ("hallsense hub rollout widen", "a `--percent` smaller than the rollout's"): (
        lambda tmp: Setup(rollout_args(tmp, "widen", "--percent", "10", running_at=50))
    ),
    ("hallsense hub rollout stop", "no rollout is running"): lambda tmp: Setup(
        rollout_args(tmp, "stop")
    ),
    ("hallsense hub rollout status", NO_SETTINGS): no_settings("hub", "rollout", "status"),
    # --- provisioning ---
    ("hallsense provision init", "no `--state-dir` and no `HALLSENSE_PROVISION_DIR`"): lambda tmp: (
        Setup(["provision", "init", "--hostname", "localhost"])
    ),
    ("hallsense provision init", "the `--state-dir` is not empty"): lambda tmp: Setup(
        ["provision", "init", "--hostname", "localhost", "--state-dir", not_empty(tmp)]
    ),
    ("hallsense provision init", "`--web-proxy` with `--ws-port 0`"): lambda tmp: init_with(
        tmp, "--web-proxy", "nginx", "--ws-port", "0"
    ),
    ("hallsense provision init", "`--web-port` or `--ws-backend-port` without `--web-proxy`"): (
        lambda tmp: init_with(tmp, "--web-port", "8080")
    ),
    ("hallsense provision init", "two listeners, or the proxy and a listener, on one port"): (
        lambda tmp: init_with(tmp, "--web-proxy", "nginx", "--web-port", "8883")
    ),
    ("hallsense provision add-device", NO_STATE): no_state(
        "provision",
        "add-device",
        "--site",
        "Askrigg Village Hall",
        "--hub-url",
        "https://hub.example:8443",
    ),
    ("hallsense provision list", NO_STATE): no_state("provision", "list"),
    ("hallsense provision revoke", NO_STATE): no_state("provision", "revoke", "askrigg"),
    ("hallsense provision rotate", NO_STATE): no_state("provision", "rotate", "askrigg"),
    ("hallsense provision delete-device", NO_STATE): no_state(
        "provision", "delete-device", "askrigg"
    ),
    ("hallsense provision broker-config", NO_STATE): no_state(
        "provision", "broker-config", hub=False
    ),
    ("hallsense provision add-device", "`--wheelhouse` is not a wheelhouse"): lambda tmp: Setup(
        [
            *["provision", "add-device", "--site", "Askrigg", "--hub-url", "https://hub:8443"],
            *["--state-dir", provisioned(tmp), "--env", hub_env(tmp), "--wheelhouse", str(tmp)],
        ]
    ),
    ("hallsense provision wheelhouse", "pip cannot fetch a wheel"): lambda tmp: Setup(
        [
            *["provision", "wheelhouse", "--out", str(tmp / "w"), "--architecture", "x86_64"],
            *["--hallsense-wheel", tiny_wheel(tmp)],
        ],
        env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(tmp)},
    ),
    ("hallsense provision wheelhouse", "`--architecture` is not aarch64, armv7l or x86_64"): (
        lambda tmp: Setup(["provision", "wheelhouse", "--out", str(tmp), "--architecture", "mips"])
    ),
    # --- releases ---
    ("hallsense provision release keys", "the `--keys-dir` already holds release keys"): (
        lambda tmp: Setup(["provision", "release", "keys", "--keys-dir", release_keys(tmp)])
    ),
    ("hallsense provision release init", "the `--keys-dir` holds no release keys"): (
        lambda tmp: Setup(
            ["provision", "release", "init", "--repo", str(tmp / "repo"), "--keys-dir", str(tmp)]
        )
    ),
    ("hallsense provision release init", "the `--repo` is a release repository already"): (
        lambda tmp: Setup(
            [
                "provision",
                "release",
                "init",
                "--repo",
                (made := release_repo(tmp))[0],
                "--keys-dir",
                made[1],
            ]
        )
    ),
    ("hallsense provision release publish", "the `--repo` is not a release repository"): (
        lambda tmp: Setup(publish_args(str(tmp / "nothing"), release_keys(tmp), tmp))
    ),
    (
        "hallsense provision release publish",
        "the version is not newer than the one published",
    ): lambda tmp: Setup(publish_args(*release_repo(tmp, published="1.0.0"), tmp)),
    (
        "hallsense provision release publish",
        "no hallsense wheel among the files, and no `--schema`",
    ): lambda tmp: Setup(
        [a for a in publish_args(*release_repo(tmp), tmp) if a not in ("--schema", "1")]
    ),
    ("hallsense provision release refresh", "the `--repo` is not a release repository"): (
        lambda tmp: Setup(
            [
                "provision",
                "release",
                "refresh",
                "--repo",
                str(tmp / "nothing"),
                "--keys-dir",
                release_keys(tmp),
            ]
        )
    ),
    (
        "hallsense provision release rotate",
        "the `--keys-dir` holds fewer of the current root's keys than its threshold",
    ): lambda tmp: Setup(rotate_args(*release_repo(tmp), "--role", "targets", without_root=True)),
    ("hallsense provision release rotate", "`--replace` names no key of the current root"): (
        lambda tmp: Setup(
            rotate_args(*release_repo(tmp), "--role", "root", "--replace", "deadbeef")
        )
    ),
    (
        "hallsense provision release rotate",
        "`--role` is not root, targets, snapshot or timestamp",
    ): (lambda tmp: Setup(rotate_args(str(tmp / "repo"), str(tmp / "keys"), "--role", "admin"))),
}

ERRORS = documented_errors()

SETTINGS_LINE = re.compile(r"^  (HALLSENSE_[A-Z0-9_]+|/\S+): ")
"""A settings error names each bad key (or the missing file) on a line of its own."""


def test_docs_cli_md_has_a_table_of_errors():
    assert len(ERRORS) >= len(CASES) > 40


def test_every_documented_error_is_run_here_and_every_one_run_is_documented():
    documented = {(command, when) for command, when, _ in ERRORS}
    assert sorted(documented - set(CASES)) == [], "in docs/cli.md but not run by this test"
    assert sorted(set(CASES) - documented) == [], "run by this test but not in docs/cli.md"
    assert len(documented) == len(ERRORS), "a row of docs/cli.md's table is there twice"


def test_every_command_has_its_errors_documented():
    commands = {path for path, command in COMMANDS if not hasattr(command, "commands")}
    with_errors = {command for command, _, _ in ERRORS}
    assert sorted(commands - with_errors) == [], "commands with no row in the table of errors"
    assert sorted(with_errors - commands) == [], "rows for commands the CLI does not have"


@pytest.fixture(scope="module")
def hallsense_cli() -> Iterator[CliForks]:
    forks = CliForks()
    yield forks
    forks.close()


@pytest.mark.parametrize(
    ("command", "when", "code"), ERRORS, ids=[f"{c[10:]}: {w}" for c, w, _ in ERRORS]
)
def test_each_documented_error_is_one_line_with_its_exit_code(
    tmp_path, hallsense_cli, command, when, code
):
    setup = CASES[(command, when)](tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HALLSENSE_")}
    env.update(setup.env)
    with ExitStack() as stack:
        for held in setup.hold:
            stack.enter_context(held)
        result = hallsense_cli.run(setup.args, env=env, cwd=tmp_path, timeout=60)
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stderr
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    # The message is the error's one line; what may come before it is click's usage (exit
    # 2), the records a failing driver logged, or, after it, a settings error's bad keys.
    at = lines.index(errors[0])
    before, after = lines[:at], lines[at + 1 :]
    if code == 2:
        assert USAGE.match(before[0]), result.stderr
        assert len(before) == 3, result.stderr
    else:
        assert all(LOG_RECORD.match(line) for line in before), result.stderr
    assert all(SETTINGS_LINE.match(line) for line in after), result.stderr
    if after:
        assert "are not valid:" in errors[0], result.stderr
    assert len(errors[0]) > len("Error: ") + 10, "a message that says what was wrong"
