"""Updates from the hub (issue #17): bytes on the wire per update, and publish to fleet updated.

Real releases, built offline from this checkout (``tests/support/wheelhouse.py``):
hallsense's wheel at 1.0.0, 1.1.0 and 1.2.0 beside every dependency's wheel from
``.cache/wheelhouse`` (``scripts/setup --tests`` fills it). 1.1.0 is the typical release:
only hallsense's own wheel changed. In 1.2.0 one dependency changed as well
(:data:`DEPENDENCY`, its wheel re-made at the next patch version: a security fix).
Each is published into a signed TUF repository (``ReleaseRepository``, the default three
root keys, threshold two) which the real hub web app serves at ``/releases/`` over HTTPS
(cheroot, as ``hallsense hub web`` serves it: its threads, TLS 1.2 or newer, a server
certificate from a council CA that the nodes pin), in a process of its own.

1. **Bytes on the wire per update.** One node (``ReleaseClient``, a fresh one per pass,
   as each run of the update timer is a new process) reaches the hub through a counting
   TCP relay (``bench/relay.py``), so every byte on the socket is counted, both ways:
   TLS handshakes and records, HTTP headers, metadata and files. It takes 1.0.0 with
   nothing held (the first install's cost), then 1.1.0, then 1.2.0, and makes one pass
   that finds nothing newer (the updater asks the repository only when the hub's rollout
   allows a newer version, so an idle hourly pass costs no bytes at all; this is the
   cost of asking when the repository has nothing newer yet). The naive baseline, in the
   same run for each update: a node with the same trusted metadata but no files kept,
   so every wheel of the release is sent again.
2. **Publish to fleet updated.** N simulated nodes, all holding 1.0.0, each its own
   ``ReleaseClient`` with its own metadata and download directories (a thread each,
   split over a process per core), reach the hub through the relay (the hub and the
   relay each in a process of its own). The clock starts when ``publish`` of 1.1.0 is
   called; each node makes its pass at a random moment within a window after the
   publish returns (the update timer's random delay, compressed, as if the hub's rollout
   allowed every hall at once), and stops when every node has downloaded and verified
   the release. The relay counts the hub's bytes out. The naive fleet fetches every wheel
   again. Installing is not in this number: one real install of the typical release
   (``ReleaseSlots.install``, pip with no index, from the node's verified downloads) is
   timed once, separately.

Longer than 500 lines because the hub, the counting relay and the simulated nodes each
run in processes of their own, and their plumbing belongs beside the measurement. Run
from the repository root (about 2.5 minutes)::

    .venv/bin/python -m bench update
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import inspect
import itertools
import json
import os
import random
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from flask import Flask
from packaging.utils import parse_wheel_filename

from bench.relay import Counted, CountingRelay, RelayProcess
from edge.migrations import LATEST_VERSION
from edge.release_slots import ReleaseSlots
from hallsense.cli_hub_web import SERVER_NAME, THREADS
from hub.exports import hub_exporters
from hub.presenter import NodePresenter
from hub.store_sqlite import SqliteHubStore
from hub.web import HubPages, create_hub_web
from hub_sync.release_client import ReleaseClient
from hub_sync.release_contract import Manifest
from provisioning.certificates import (
    issue_server_certificate,
    new_ca,
    write_certificate,
    write_private_key,
)
from provisioning.enrolment_tokens import TokenStore
from provisioning.release_keys import generate_release_keys
from provisioning.release_repository import ReleaseRepository

ARCHITECTURE = "x86_64"
"""This machine's wheels; a Pi's release is laid out the same, with its own wheels."""
DEPENDENCY = "cryptography"
"""The dependency 1.2.0 changes: the TLS and signing library, the one most often re-released
for security fixes."""
DEPLOYED_BACKLOG: int = (
    inspect.signature(wsgi.Server.__init__).parameters["request_queue_size"].default
)
"""The hub web's listening backlog: cheroot's default, which ``hallsense hub web`` keeps."""


@dataclass(frozen=True)
class FleetPlan:
    """One fleet run: how many nodes, the window their passes fall in, naive or not, and
    the hub's listening backlog."""

    nodes: int
    window_s: float
    naive: bool = False
    backlog: int = DEPLOYED_BACKLOG


FLEETS = (
    FleetPlan(50, 10.0),
    FleetPlan(200, 10.0),
    FleetPlan(200, 0.0),
    FleetPlan(200, 0.0, backlog=128),
    FleetPlan(50, 10.0, naive=True),
)
SEED = 17


@dataclass(frozen=True)
class Release:
    """One release's wheelhouse: its version and files."""

    version: str
    files: tuple[Path, ...]

    def names(self) -> set[str]:
        return {f.name for f in self.files}

    def size(self, names: set[str] | None = None) -> int:
        return sum(f.stat().st_size for f in self.files if names is None or f.name in names)


# --- the releases ---


def bumped_wheel(wheel: Path, out_dir: Path) -> Path:
    """``wheel`` re-made at its next patch version (name, metadata and RECORD), in ``out_dir``."""
    distribution, version, _, _ = parse_wheel_filename(wheel.name)
    stem, old, tail = wheel.name.split("-", 2)
    new = f"{version.major}.{version.minor}.{version.micro + 1}"
    old_info, new_info = f"{stem}-{old}.dist-info/", f"{stem}-{new}.dist-info/"
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{stem}-{new}-{tail}"
    record = []
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(out, "w") as made:
        for entry in source.infolist():
            name = entry.filename
            if name.startswith(old_info):
                name = new_info + name.removeprefix(old_info)
            if name == new_info + "RECORD":
                continue
            data = source.read(entry)
            if name == new_info + "METADATA":
                data = re.sub(rb"(?m)^Version: .*$", b"Version: " + new.encode(), data, count=1)
            copied = zipfile.ZipInfo(name, entry.date_time)
            copied.compress_type = entry.compress_type
            copied.external_attr = entry.external_attr
            made.writestr(copied, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{name},sha256={digest.decode()},{len(data)}")
        record.append(f"{new_info}RECORD,,")
        made.writestr(new_info + "RECORD", "\n".join(record) + "\n", zipfile.ZIP_DEFLATED)
    if parse_wheel_filename(out.name)[0] != distribution:
        raise RuntimeError(f"{out.name} is not a wheel of {distribution}")
    return out


def build_releases(work: Path) -> tuple[Release, Release, Release]:
    """1.0.0, 1.1.0 (hallsense changed) and 1.2.0 (hallsense and :data:`DEPENDENCY`)."""
    from tests.support.wheelhouse import release_wheelhouse

    made = []
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        wheelhouse = release_wheelhouse(work / f"wheelhouse-{version}", version)
        made.append(Release(version, tuple(sorted(wheelhouse.glob("*.whl")))))
    last = made[-1]
    (old,) = [f for f in last.files if parse_wheel_filename(f.name)[0] == DEPENDENCY]
    new = bumped_wheel(old, old.parent)
    old.unlink()
    made[-1] = Release(last.version, tuple(sorted((*(f for f in last.files if f != old), new))))
    return made[0], made[1], made[2]


# --- the hub ---


@dataclass(frozen=True)
class Tls:
    """The council CA the nodes pin, and the hub's server certificate and key."""

    ca: Path
    cert: Path
    key: Path


def make_tls(directory: Path) -> Tls:
    directory.mkdir(parents=True, exist_ok=True)
    ca = new_ca()
    server = issue_server_certificate(ca, ips=["127.0.0.1"])
    return Tls(
        write_certificate(directory / "ca.pem", ca),
        write_certificate(directory / "server.pem", server),
        write_private_key(directory / "server.key", server),
    )


def hub_app(repo_dir: Path, work: Path) -> Flask:
    """The real hub web app, its pages on a hub store of its own, serving ``repo_dir``."""
    work.mkdir(parents=True, exist_ok=True)
    store = work / "hub.db"
    SqliteHubStore(store).close()
    pages = HubPages(
        open_store=lambda: SqliteHubStore(store),
        exporters=hub_exporters("Europe/London"),
        presenter=NodePresenter(),
        send_config=lambda device_id, payload, actor: None,
    )
    return create_hub_web(
        TokenStore(work / "enrolment"), lambda device_id: {}, pages=pages, releases_dir=repo_dir
    )


def hub_server(
    repo_dir: Path, cert: Path, key: Path, work: Path, backlog: int = DEPLOYED_BACKLOG
) -> wsgi.Server:
    """Listening (prepared) on a free loopback port, as ``hallsense hub web`` serves;
    ``backlog`` is the listening socket's queue of connections not yet accepted."""
    server = wsgi.Server(
        ("127.0.0.1", 0),
        hub_app(repo_dir, work),
        numthreads=THREADS,
        server_name=SERVER_NAME,
        request_queue_size=backlog,
    )
    adapter = BuiltinSSLAdapter(str(cert), str(key))
    adapter.context.minimum_version = ssl.TLSVersion.TLSv1_2
    server.ssl_adapter = adapter
    server.prepare()
    return server


@dataclass
class Hub:
    """A hub serving over HTTPS on ``port``; ``pid`` when in a process of its own."""

    port: int
    pid: int | None = None

    def cpu_s(self) -> float:
        """The hub process's CPU seconds so far (0 when it is this process's thread)."""
        if self.pid is None:
            return 0.0
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def hub(
    repo_dir: Path,
    tls: Tls,
    work: Path,
    *,
    own_process: bool = True,
    backlog: int = DEPLOYED_BACKLOG,
) -> Iterator[Hub]:
    """The hub web serving ``repo_dir``: its own process (as deployed), or a thread here."""
    if not own_process:
        server = hub_server(repo_dir, tls.cert, tls.key, work, backlog)
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        try:
            yield Hub(int(server.bind_addr[1]))
        finally:
            server.stop()
            thread.join(10)
        return
    command = [
        *(sys.executable, "-m", "bench.update", "hub"),
        *(repo_dir, tls.cert, tls.key, work, backlog),
    ]
    process = subprocess.Popen(
        list(map(str, command)), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    if process.stdin is None or process.stdout is None:
        raise RuntimeError("the hub's process has no pipes")
    try:
        port = int(process.stdout.readline())
        yield Hub(port, process.pid)
    finally:
        process.stdin.close()  # the hub stops when its input ends
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()


def serve_hub(argv: Sequence[str]) -> None:
    """The hub's process: serve until standard input ends (``hub REPO CERT KEY WORK
    BACKLOG``)."""
    repo_dir, cert, key, work = map(Path, argv[:4])
    server = hub_server(repo_dir, cert, key, work, int(argv[4]))
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    print(server.bind_addr[1], flush=True)
    sys.stdin.read()
    server.stop()
    thread.join(10)


Relay = CountingRelay | RelayProcess


@contextmanager
def counting_relay(port: int, *, own_process: bool = True) -> Iterator[Relay]:
    """A counting relay to ``port``: a process of its own, or a thread here."""
    relay: Relay = RelayProcess(port) if own_process else CountingRelay(port)
    try:
        yield relay
    finally:
        relay.close()


# --- the nodes ---


@dataclass(frozen=True)
class Site:
    """What a node needs to reach the hub: the repository's URL (through the relay), the
    council CA it pins, and the first root metadata from its bundle."""

    url: str
    ca: Path
    trusted_root: bytes


@dataclass(frozen=True)
class Node:
    """A node's trusted metadata and its kept downloads, as the updater keeps them."""

    directory: Path

    def client(self, site: Site) -> ReleaseClient:
        """A client as one run of the update timer makes it (each run is a new process)."""
        return ReleaseClient(
            self.directory / "metadata",
            site.url,
            trusted_root=site.trusted_root,
            ca_file=site.ca,
            download_dir=self.directory / "downloads",
        )

    def clone(self, directory: Path, *, keep_files: bool = True) -> Node:
        """A node holding the same trusted metadata, and the same files unless not wanted."""
        shutil.copytree(self.directory / "metadata", directory / "metadata")
        if keep_files:  # hard links: the same bytes, no copy
            shutil.copytree(
                self.directory / "downloads", directory / "downloads", copy_function=os.link
            )
        else:
            (directory / "downloads").mkdir(parents=True)
        return Node(directory)


@dataclass(frozen=True)
class Taken:
    """A release a pass took, and its files on the node's disk, verified."""

    release: Manifest
    files: tuple[Path, ...]


def update_pass(client: ReleaseClient, running: str) -> Taken | None:
    """One pass of the updater's download part: the newest release, its files verified."""
    try:
        release = client.newest(ARCHITECTURE, running)
        if release is None:
            return None
        return Taken(release, tuple(client.download(release)))
    finally:
        client.fetcher.session.close()


def counted_pass(
    relay: Relay, node: Node, site: Site, running: str
) -> tuple[Taken | None, Counted]:
    before = relay.counted()
    release = update_pass(node.client(site), running)
    if not relay.wait_idle():
        raise RuntimeError("a connection stayed open after the pass")
    return release, relay.counted() - before


# --- 1. bytes on the wire per update ---


@dataclass(frozen=True)
class BytesRow:
    label: str
    wheels: int
    wheels_sent: int
    wheel_bytes: int
    ours: Counted
    naive: Counted | None


def publish(repo: ReleaseRepository, release: Release, keys: Path) -> Manifest:
    return repo.publish(
        release.files,
        version=release.version,
        architecture=ARCHITECTURE,
        schema=LATEST_VERSION,
        keys_dir=keys,
    )


def new_repository(directory: Path, keys: Path) -> ReleaseRepository:
    repo = ReleaseRepository(directory)
    repo.create(keys)
    return repo


def bytes_per_update(
    work: Path, keys: Path, tls: Tls, releases: Sequence[Release], *, own_process: bool = True
) -> tuple[list[BytesRow], list[Taken]]:
    """A node takes each release in turn, then checks once with nothing new; beside naive.

    Returns the table's rows and what the node took of each release.
    """
    repo = new_repository(work / "repository", keys)
    publish(repo, releases[0], keys)
    node = Node(work / "node")
    rows = []
    taken = []
    with (
        hub(repo.repo_dir, tls, work / "hub", own_process=own_process) as served,
        counting_relay(served.port, own_process=own_process) as relay,
    ):
        site = Site(f"https://127.0.0.1:{relay.port}/releases/", tls.ca, repo.trusted_root())
        first, counted = counted_pass(relay, node, site, "0")
        if first is None or first.release.version != releases[0].version:
            raise RuntimeError(f"the first install took {first}")
        taken.append(first)
        label = f"first install: {releases[0].version} with nothing held"
        everything = len(releases[0].files)
        rows.append(BytesRow(label, everything, everything, releases[0].size(), counted, None))
        for number, (old, new) in enumerate(itertools.pairwise(releases)):
            publish(repo, new, keys)
            naive = node.clone(work / f"naive-{number}", keep_files=False)
            ours, counted = counted_pass(relay, node, site, old.version)
            again, naive_counted = counted_pass(relay, naive, site, old.version)
            if ours is None or again is None or ours.release.version != new.version:
                raise RuntimeError(f"{new.version} was not taken: {ours}, {again}")
            taken.append(ours)
            changed = new.names() - old.names()
            what = " and ".join(sorted(parse_wheel_filename(n)[0] for n in changed))
            rows.append(
                BytesRow(
                    f"update {old.version} → {new.version} ({what} changed)",
                    len(new.files),
                    len(changed),
                    new.size(changed),
                    counted,
                    naive_counted,
                )
            )
        nothing, counted = counted_pass(relay, node, site, releases[-1].version)
        if nothing is not None:
            raise RuntimeError(f"a pass finding nothing newer took {nothing.release.version}")
        label = "a pass finding nothing newer"
        rows.append(BytesRow(label, len(releases[-1].files), 0, 0, counted, None))
    return rows, taken


def print_bytes(rows: Sequence[BytesRow]) -> None:
    print(
        "\nBytes on the socket per update, both directions (TLS, HTTP headers, metadata, "
        "files), one node through a counting relay\n"
    )
    print(
        "| pass | wheels in release | wheels sent | their bytes | node → hub | hub → node "
        "| total | TLS connections | naive total (every wheel again) | saving |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        naive = f"{r.naive.total:,}" if r.naive else "—"
        saving = f"{1 - r.ours.total / r.naive.total:.1%}" if r.naive else "—"
        print(
            f"| {r.label} | {r.wheels} | {r.wheels_sent} | {r.wheel_bytes:,} | {r.ours.up:,} "
            f"| {r.ours.down:,} | {r.ours.total:,} | {r.ours.connections} | {naive} | {saving} |"
        )


# --- 2. publish to fleet updated ---


@dataclass(frozen=True)
class FleetRow:
    plan: FleetPlan
    publish_s: float
    all_updated_s: float
    after_window_s: float
    pass_p50_s: float
    pass_max_s: float
    hub: Counted
    hub_cpu_s: float
    nodes_cpu_s: float
    failed: int


@dataclass
class PassResults:
    """When each node's pass ended (monotonic clock), how long it took, and failures."""

    ended: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    """CPU seconds of the processes the nodes ran in, during the passes."""

    def add(self, other: PassResults) -> None:
        self.ended += other.ended
        self.durations += other.durations
        self.failures += other.failures
        self.cpu_s += other.cpu_s


class Passes:
    """Nodes' passes, one thread a node, each at its offset from the moment of :meth:`go`."""

    def __init__(self, clients: Sequence[ReleaseClient], offsets: Sequence[float], old: str):
        self.old = old
        self.results = PassResults()
        self._moment = 0.0
        self._published = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._pass, args=(client, offset), daemon=True)
            for client, offset in zip(clients, offsets, strict=True)
        ]
        for thread in self._threads:
            thread.start()

    def _pass(self, client: ReleaseClient, offset: float) -> None:
        self._published.wait()
        time.sleep(max(0.0, self._moment + offset - time.monotonic()))
        began = time.monotonic()
        try:
            taken = update_pass(client, self.old)
        except Exception as error:  # counted and reported: a node that failed its pass
            with self._lock:
                self.results.failures.append(repr(error))
            return
        ended = time.monotonic()
        with self._lock:
            if taken is None:
                self.results.failures.append("no newer release seen")
            else:
                self.results.ended.append(ended)
                self.results.durations.append(ended - began)

    def go(self, moment: float) -> PassResults:
        """The release is published: each node's pass starts at ``moment`` (monotonic
        clock, the same in every process) plus its offset; returns once all are over."""
        self._moment = moment
        cpu = time.process_time()
        self._published.set()
        for thread in self._threads:
            thread.join(300)
        self.results.cpu_s = time.process_time() - cpu
        return self.results

    def close(self) -> None:
        """Nothing to end: the threads are over, or daemons."""


class NodeProcesses:
    """The fleet's nodes split over processes (``python -m bench.update nodes``), so that
    simulated nodes are not held up by one process's lock on Python."""

    def __init__(self, nodes: Sequence[Node], offsets: Sequence[float], site: Site, old: str):
        root = nodes[0].directory.parent / "root.json"
        root.write_bytes(site.trusted_root)
        count = max(1, min(len(nodes), os.cpu_count() or 1))
        self._processes = []
        for n in range(count):
            spec = {
                "url": site.url,
                "ca": str(site.ca),
                "root": str(root),
                "old": old,
                "nodes": [[str(d.directory), o] for d, o in zip(nodes, offsets, strict=True)][
                    n::count
                ],
            }
            process = subprocess.Popen(
                [sys.executable, "-m", "bench.update", "nodes"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            if process.stdin is None or process.stdout is None:
                raise RuntimeError("a node process has no pipes")
            process.stdin.write(json.dumps(spec) + "\n")
            process.stdin.flush()
            self._processes.append((process, process.stdin, process.stdout))
        for _, _, answers in self._processes:
            if answers.readline().strip() != "ready":
                raise RuntimeError("a node process did not start")

    def go(self, moment: float) -> PassResults:
        """Start the passes at ``moment``; returns once every pass is over."""
        for _, asks, _ in self._processes:
            asks.write(f"{moment!r}\n")
            asks.flush()
        results = PassResults()
        for _, _, answers in self._processes:
            results.add(PassResults(**json.loads(answers.readline())))
        return results

    def close(self) -> None:
        """End the node processes (their input ends), whatever state they are in."""
        for process, asks, answers in self._processes:
            asks.close()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            answers.close()


def serve_nodes() -> None:
    """A node process: the spec on the first line of input, ``ready``, then the moment of
    the publish on the next line; the passes' results as JSON when every pass is over."""
    spec = json.loads(sys.stdin.readline())
    site = Site(spec["url"], Path(spec["ca"]), Path(spec["root"]).read_bytes())
    directories, offsets = zip(*spec["nodes"], strict=True)
    clients = [Node(Path(d)).client(site) for d in directories]
    passes = Passes(clients, offsets, spec["old"])
    print("ready", flush=True)
    results = passes.go(float(sys.stdin.readline()))
    print(json.dumps(dataclasses.asdict(results)), flush=True)


def fleet(
    work: Path,
    keys: Path,
    tls: Tls,
    old: Release,
    new: Release,
    plan: FleetPlan,
    *,
    own_process: bool = True,
) -> FleetRow:
    """The plan's nodes holding ``old``; the time from publishing ``new`` to all holding it.

    A naive plan's nodes keep no files, so every wheel of ``new`` is sent to each.
    ``own_process``: the hub, the relay and the nodes each in processes of their own, as
    the benchmark runs; otherwise threads of this process (the quick test).
    """
    repo = new_repository(work / "repository", keys)
    publish(repo, old, keys)
    with (
        hub(
            repo.repo_dir, tls, work / "hub", own_process=own_process, backlog=plan.backlog
        ) as served,
        counting_relay(served.port, own_process=own_process) as relay,
    ):
        site = Site(f"https://127.0.0.1:{relay.port}/releases/", tls.ca, repo.trusted_root())
        template = Node(work / "template")
        if update_pass(template.client(site), "0") is None:
            raise RuntimeError("the template node did not take the first release")
        fleet_nodes = [
            template.clone(work / "nodes" / str(n), keep_files=not plan.naive)
            for n in range(plan.nodes)
        ]
        rng = random.Random(SEED)
        offsets = [rng.uniform(0, plan.window_s) for _ in fleet_nodes]
        runner: Passes | NodeProcesses = (
            NodeProcesses(fleet_nodes, offsets, site, old.version)
            if own_process
            else Passes([n.client(site) for n in fleet_nodes], offsets, old.version)
        )
        try:
            relay.wait_idle()
            before, cpu_before = relay.counted(), served.cpu_s()
            started = time.monotonic()
            publish(repo, new, keys)
            moment = time.monotonic()
            results = runner.go(moment)
            relay.wait_idle()
            counted, cpu = relay.counted() - before, served.cpu_s() - cpu_before
        finally:
            runner.close()
    if results.failures:
        print(
            f"{plan}: {len(results.failures)} node(s) not updated, the first: {results.failures[0]}"
        )
    last = max(results.ended, default=started)
    return FleetRow(
        plan,
        moment - started,
        last - started,
        max(0.0, last - moment - plan.window_s),
        statistics.median(results.durations) if results.durations else 0.0,
        max(results.durations, default=0.0),
        counted,
        cpu,
        results.cpu_s,
        plan.nodes - len(results.ended),
    )


def print_fleet(rows: Sequence[FleetRow], old: Release, new: Release) -> None:
    changed = new.names() - old.names()
    print(
        f"\nPublish to fleet updated: nodes holding {old.version} take {new.version} "
        f"({len(changed)} changed wheel, {new.size(changed):,} bytes, of {len(new.files)}); "
        "each node's pass at a random moment within the window after the publish; "
        "download and verification only (no install)\n"
    )
    print(
        "| fleet | nodes | window s | publish s | publish → all updated s | past the window s "
        "| pass p50 s | pass max s | hub bytes out | per node | hub CPU s | nodes' CPU s "
        "| not updated |"
    )
    never = "not reached"
    print("| --- |" + " ---: |" * 12)
    for r in rows:
        plan = r.plan
        kind = "naive: every wheel again" if plan.naive else "hallsense"
        if plan.backlog != DEPLOYED_BACKLOG:
            kind += f", hub backlog {plan.backlog} (not deployed)"
        everyone = f"{r.all_updated_s:.2f}" if not r.failed else never
        past = f"{r.after_window_s:.2f}" if not r.failed else never
        print(
            f"| {kind} | {plan.nodes} | {plan.window_s:g} | {r.publish_s:.2f} "
            f"| {everyone} | {past} | {r.pass_p50_s:.2f} "
            f"| {r.pass_max_s:.2f} | {r.hub.down:,} | {r.hub.down // max(1, plan.nodes):,} "
            f"| {r.hub_cpu_s:.1f} | {r.nodes_cpu_s:.1f} | {r.failed} |"
        )


# --- one real install ---


def install_once(work: Path, taken: Taken) -> tuple[float, int]:
    """Install a release from the node's verified downloads as the updater does (its
    wheelhouse of hard links, ``ReleaseSlots.install``); returns the seconds and the
    environment's size in bytes."""
    wheelhouse = work / "wheelhouse"
    wheelhouse.mkdir(parents=True)
    for target, held in zip(taken.release.files, taken.files, strict=True):
        os.link(held, wheelhouse / Path(target).name)
    version = taken.release.version
    started = time.monotonic()
    path = ReleaseSlots(work / "slots").install(version, wheelhouse, f"hallsense=={version}")
    took = time.monotonic() - started
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return took, size


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="hallsense-bench-update-") as scratch:
        work = Path(scratch)
        started = time.monotonic()
        releases = build_releases(work / "releases")
        print(
            f"Releases built in {time.monotonic() - started:.1f} s: "
            + ", ".join(
                f"{r.version} ({len(r.files)} wheels, {r.size():,} bytes)" for r in releases
            )
        )
        keys = work / "keys"
        generate_release_keys(keys)
        tls = make_tls(work / "tls")
        rows, taken = bytes_per_update(work / "bytes", keys, tls, releases)
        print_bytes(rows)
        typical = rows[1]
        if typical.naive is not None:
            print(
                f"\nA typical release (only hallsense changed) costs a node "
                f"{typical.ours.total:,} bytes on the socket: "
                f"{typical.ours.total / typical.wheel_bytes:.2f} times the changed wheel, "
                f"{typical.ours.total / typical.naive.total:.1%} of every wheel again."
            )
        fleet_rows = []
        for number, plan in enumerate(FLEETS):
            directory = work / f"fleet-{number}"
            fleet_rows.append(fleet(directory, keys, tls, releases[0], releases[1], plan))
            shutil.rmtree(directory)
        print_fleet(fleet_rows, releases[0], releases[1])
        seconds, size = install_once(work / "install", taken[1])
        print(
            f"\nOne install of {taken[1].release.version} from the node's verified downloads "
            f"(ReleaseSlots.install: a venv, then pip --no-index): {seconds:.1f} s, "
            f"an environment of {size / 1e6:.1f} MB"
        )
        print(f"\nWhole run: {time.monotonic() - started:.0f} s")


if __name__ == "__main__" and sys.argv[1:2] == ["hub"]:
    serve_hub(sys.argv[2:])
elif __name__ == "__main__" and sys.argv[1:2] == ["nodes"]:
    serve_nodes()
