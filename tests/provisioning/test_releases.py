"""Signed releases: the council's keys and repository, and a node's client refusing every
attack TUF names (tampered, wrong key, replayed old, expired, a file not as signed) with a
reason in words. The repository is served by a real HTTP server on loopback."""

from __future__ import annotations

import shutil
import stat
import threading
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub_sync.release_client import ReleaseClient, ReleaseRefused
from hub_sync.release_contract import Manifest, ReleaseFormatError, manifest_target
from provisioning.release_keys import (
    ReleaseKeyError,
    generate_release_keys,
    key_path,
    load_signers,
)
from provisioning.release_repository import ReleaseError, ReleaseRepository
from provisioning.release_wheel import ReleaseWheelError, migrations_schema, release_schema
from tests.support.at_once import at_once

WHEEL = b"PK\x03\x04 a wheel of hallsense 1.1.0 for aarch64" * 100


def wheel(tmp_path: Path, name: str = "hallsense-1.1.0-py3-none-any.whl", data=WHEEL) -> Path:
    path = tmp_path / "wheelhouse" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return path


def node_client(tmp_path: Path, served, repo: ReleaseRepository, name: str = "node"):
    _, url = served
    return ReleaseClient(
        tmp_path / name / "trusted",
        url,
        trusted_root=repo.trusted_root(),
        download_dir=tmp_path / name / "downloads",
    )


def test_keys_are_private_files_in_a_private_directory_and_never_replaced(tmp_path, keys):
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    files = sorted(p.name for p in keys.iterdir())
    assert files == [
        "root-1.pem", "root-2.pem", "root-3.pem", "snapshot-1.pem", "targets-1.pem",
        "timestamp-1.pem",
    ]  # fmt: skip
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.iterdir())
    before = key_path(keys, "root", 1).read_bytes()
    with pytest.raises(ReleaseKeyError, match="never replaced"):
        generate_release_keys(keys)
    assert key_path(keys, "root", 1).read_bytes() == before
    assert len(load_signers(keys, "root")) == 3
    with pytest.raises(ReleaseKeyError, match="no targets key"):
        load_signers(tmp_path, "targets")


def test_a_node_finds_a_newer_release_and_gets_its_files_verified(tmp_path, served, repo, keys):
    client = node_client(tmp_path, served, repo)
    assert client.newest("aarch64", "1.0.0") is None  # nothing published yet
    manifest = repo.publish(
        [wheel(tmp_path)], version="1.1.0", architecture="aarch64", schema=1, keys_dir=keys
    )
    assert manifest.files == ("aarch64/wheels/hallsense-1.1.0-py3-none-any.whl",)
    assert manifest.schema == 1
    offered = client.newest("aarch64", "1.0.0")
    assert offered == manifest
    (path,) = client.download(offered)
    assert path.read_bytes() == WHEEL
    # Not newer than what runs, or for another machine: nothing to do.
    assert client.newest("aarch64", "1.1.0") is None
    assert client.newest("armv7l", "1.0.0") is None


def test_the_council_cannot_publish_a_version_that_goes_back(tmp_path, repo, keys):
    repo.publish(
        [wheel(tmp_path)], version="1.1.0", architecture="aarch64", schema=1, keys_dir=keys
    )
    for version in ("1.1.0", "1.0.9"):
        with pytest.raises(ReleaseError, match="must be newer"):
            repo.publish(
                [wheel(tmp_path)], version=version, architecture="aarch64", schema=1, keys_dir=keys
            )
    with pytest.raises(ReleaseError, match="not a release version"):
        repo.publish(
            [wheel(tmp_path)], version="next", architecture="aarch64", schema=1, keys_dir=keys
        )
    with pytest.raises(ReleaseError, match="architecture 'sparc'"):
        repo.publish(
            [wheel(tmp_path)], version="2.0.0", architecture="sparc", schema=1, keys_dir=keys
        )


def test_a_release_with_an_older_store_schema_is_refused_by_the_council_check(tmp_path, repo, keys):
    repo.publish(
        [wheel(tmp_path)], version="1.1.0", architecture="aarch64", schema=2, keys_dir=keys
    )
    with pytest.raises(ReleaseError, match=r"store schema 1, older than 1\.1\.0's 2"):
        repo.publish(
            [wheel(tmp_path)], version="1.2.0", architecture="aarch64", schema=1, keys_dir=keys
        )
    # The same schema, or a later one, is fine.
    repo.publish(
        [wheel(tmp_path)], version="1.2.0", architecture="aarch64", schema=2, keys_dir=keys
    )
    assert repo.manifest("aarch64").schema == 2


def test_the_schema_is_read_from_the_release_s_own_wheel(tmp_path):
    from edge.migrations import LATEST_VERSION

    source = Path("edge/migrations.py").read_text(encoding="utf-8")
    assert migrations_schema(source) == LATEST_VERSION
    made = tmp_path / "hallsense-2.0.0-py3-none-any.whl"
    with zipfile.ZipFile(made, "w") as built:
        built.writestr("edge/migrations.py", "MIGRATIONS: dict = {1: a, 2: b, 3: c}\n")
    assert release_schema([tmp_path / "paho_mqtt-2.1.0-py3-none-any.whl", made]) == 3
    with pytest.raises(ReleaseWheelError, match="exactly one hallsense wheel"):
        release_schema([tmp_path / "paho_mqtt-2.1.0-py3-none-any.whl"])
    broken = tmp_path / "hallsense-2.0.1-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ReleaseWheelError, match=r"cannot read edge/migrations\.py"):
        release_schema([broken])
    with pytest.raises(ReleaseWheelError, match="no MIGRATIONS"):
        migrations_schema("MIGRATIONS = {}\n")


def test_a_wheel_that_did_not_change_is_not_sent_again(tmp_path, served, repo, keys):
    kept = wheel(tmp_path, "paho_mqtt-2.1.0-py3-none-any.whl", b"paho" * 4096)
    first = repo.publish(
        [kept, wheel(tmp_path)], version="1.1.0", architecture="aarch64", schema=1, keys_dir=keys
    )
    asked: list[str] = []
    client = node_client(tmp_path, served, repo)
    fetch = client.fetcher._fetch
    client.fetcher._fetch = lambda url: asked.append(url) or fetch(url)  # type: ignore[method-assign]
    client.download(first)
    assert sum("/targets/aarch64/wheels/" in url for url in asked) == 2
    second = repo.publish(
        [kept, wheel(tmp_path, "hallsense-1.2.0-py3-none-any.whl")],
        version="1.2.0", architecture="aarch64", schema=1, keys_dir=keys,
    )  # fmt: skip
    assert kept.name in " ".join(second.files)
    asked.clear()
    paths = client.download(second)
    assert sorted(p.read_bytes()[:4] for p in paths) == [b"PK\x03\x04", b"paho"]
    wheels = [url for url in asked if "/targets/aarch64/wheels/" in url]
    assert len(wheels) == 1  # only the changed one came
    assert "hallsense-1.2.0" in wheels[0]


def test_tampered_metadata_is_refused(tmp_path, served, repo, keys):
    repo_dir, _ = served
    repo.publish(
        [wheel(tmp_path)], version="1.1.0", architecture="aarch64", schema=1, keys_dir=keys
    )
    targets = max(repo_dir.glob("metadata/*.targets.json"))
    targets.write_text(targets.read_text().replace("1.1.0", "9.9.9"))
    with pytest.raises(ReleaseRefused, match="not signed by the council's keys"):
        node_client(tmp_path, served, repo).newest("aarch64", "1.0.0")


def test_metadata_signed_with_a_key_root_does_not_name_is_refused(tmp_path, served, repo, keys):
    stranger = tmp_path / "stranger"
    generate_release_keys(stranger)
    for role in ("snapshot", "timestamp"):  # the online keys stolen, targets forged
        shutil.copy(key_path(keys, role, 1), key_path(stranger, role, 1))
    repo.publish(
        [wheel(tmp_path)], version="6.6.6", architecture="aarch64", schema=1, keys_dir=stranger
    )
    with pytest.raises(ReleaseRefused, match="not signed by the council's keys"):
        node_client(tmp_path, served, repo).newest("aarch64", "1.0.0")


def test_a_replayed_older_repository_is_refused_as_a_rollback(tmp_path, served, repo, keys):
    repo_dir, _ = served
    old = tmp_path / "old-metadata"
    shutil.copytree(repo_dir / "metadata", old)
    client = node_client(tmp_path, served, repo)
    repo.publish(
        [wheel(tmp_path)], version="1.1.0", architecture="aarch64", schema=1, keys_dir=keys
    )
    assert client.newest("aarch64", "1.0.0") is not None  # the node now trusts version 2
    shutil.rmtree(repo_dir / "metadata")
    shutil.copytree(old, repo_dir / "metadata")  # an attacker serves what was there before
    with pytest.raises(ReleaseRefused, match="rollback"):
        client.newest("aarch64", "1.0.0")


def test_expired_metadata_is_refused_as_a_possible_freeze(tmp_path, served, keys):
    repo_dir, _ = served
    month_ago = datetime.now(UTC) - timedelta(days=31)
    repo = ReleaseRepository(repo_dir, now=lambda: month_ago)
    repo.create(keys)
    with pytest.raises(ReleaseRefused, match="expired"):
        node_client(tmp_path, served, repo).newest("aarch64", "1.0.0")
    # The hub re-signs freshness with its online keys: the node goes on.
    ReleaseRepository(repo_dir).refresh(keys)
    assert node_client(tmp_path, served, repo, "node-2").newest("aarch64", "1.0.0") is None


def test_a_file_that_is_not_as_signed_is_refused(tmp_path, served, repo, keys):
    repo_dir, _ = served
    manifest = repo.publish(
        [wheel(tmp_path)], version="1.1.0", architecture="aarch64", schema=1, keys_dir=keys
    )
    (stored,) = (repo_dir / "targets" / "aarch64" / "wheels").glob("*.whl")
    stored.write_bytes(WHEEL.replace(b"hallsense", b"malware!!"))
    with pytest.raises(ReleaseRefused, match="length or hash"):
        node_client(tmp_path, served, repo).download(manifest)


def test_a_hub_out_of_reach_is_worth_trying_again(tmp_path, repo):
    client = ReleaseClient(
        tmp_path / "trusted",
        "http://127.0.0.1:9/releases/",
        trusted_root=repo.trusted_root(),
        download_dir=tmp_path / "downloads",
    )
    with pytest.raises(ReleaseRefused) as refused:
        client.newest("aarch64", "1.0.0")
    assert refused.value.retryable
    assert "could not download" in refused.value.reason


def test_the_manifest_reads_back_what_it_wrote():
    manifest = Manifest("1.1.0", "armv7l", ("armv7l/wheels/a.whl",), 3)
    assert Manifest.from_json(manifest.to_json()) == manifest
    body = manifest.to_json()
    for broken, said in [
        (body.replace(b',"schema":3', b""), "malformed"),
        (body.replace(b'"schema":3', b'"schema":"3"'), "schema is not a whole number"),
        (body.replace(b'"schema":3', b'"schema":true'), "schema is not a whole number"),
        (body.replace(b'"1.1.0"', b'"soon"'), "not a release version"),
    ]:
        with pytest.raises(ReleaseFormatError, match=said):
            Manifest.from_json(broken)
    assert manifest_target("armv7l") == "armv7l/release.json"


def test_the_council_signs_and_publishes_with_the_cli_and_a_node_takes_it(tmp_path, served):
    from click.testing import CliRunner

    from hallsense.cli import cli

    repo_dir, _ = served
    keys = tmp_path / "council-keys"

    def run(*args: object) -> str:
        result = CliRunner().invoke(cli, ["provision", "release", *map(str, args)])
        assert result.exit_code == 0, result.output
        return result.output

    assert "3 root" in run("keys", "--keys-dir", keys)
    run("init", "--repo", repo_dir, "--keys-dir", keys)
    said = run(
        "publish", "--repo", repo_dir, "--keys-dir", keys, "--version", "1.1.0",
        "--architecture", "armv7l", "--schema", 1, wheel(tmp_path),
    )  # fmt: skip
    assert "published 1.1.0 for armv7l: 1 file(s)" in said
    run("refresh", "--repo", repo_dir, "--keys-dir", keys)
    repo = ReleaseRepository(repo_dir)
    client = node_client(tmp_path, served, repo)
    offered = client.newest("armv7l", "1.0.0")
    assert offered is not None
    assert offered.version == "1.1.0"
    assert [p.read_bytes() for p in client.download(offered)] == [WHEEL]


def online_keys(tmp_path: Path, keys: Path) -> Path:
    """What the hub holds: the snapshot and timestamp keys only."""
    online = tmp_path / "online-keys"
    online.mkdir()
    for role in ("snapshot", "timestamp"):
        shutil.copy(key_path(keys, role, 1), key_path(online, role, 1))
    return online


def test_the_hub_re_signs_a_day_old_timestamp_with_its_online_keys_only(
    tmp_path, served, keys, caplog
):
    from provisioning.release_freshness import keep_fresh, refresh_if_due

    repo_dir, _ = served
    six_and_a_half_days_ago = datetime.now(UTC) - timedelta(days=6, hours=12)
    repo = ReleaseRepository(repo_dir, now=lambda: six_and_a_half_days_ago)
    repo.create(keys)
    online = online_keys(tmp_path, keys)
    assert refresh_if_due(repo_dir, online) is True
    expires = ReleaseRepository(repo_dir).load("timestamp").signed.expires
    assert expires - datetime.now(UTC) > timedelta(days=6, hours=23)
    assert refresh_if_due(repo_dir, online) is False  # signed just now: not due
    assert node_client(tmp_path, served, repo).newest("aarch64", "1.0.0") is None  # fresh
    # A day later it is due again; without usable keys it says so and the hub goes on.
    tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=1)
    assert refresh_if_due(repo_dir, tmp_path / "no-keys", now=lambda: tomorrow) is False
    assert "could not re-sign the release repository" in caplog.text
    # The hub's thread does it, and stops when asked.
    stop = threading.Event()
    thread = keep_fresh(repo_dir, online, stop, check_s=0.05)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()


def test_two_hub_webs_re_signing_at_once_sign_one_new_version(tmp_path, served, keys):
    """Each `hub web` re-signs on its own hourly check; the one that finds the repository
    held waits, then finds it fresh; and a publish meanwhile is never lost either."""
    from provisioning.release_freshness import refresh_if_due

    repo_dir, _ = served
    six_and_a_half_days_ago = datetime.now(UTC) - timedelta(days=6, hours=12)
    ReleaseRepository(repo_dir, now=lambda: six_and_a_half_days_ago).create(keys)
    online = online_keys(tmp_path, keys)

    def version() -> int:
        return int(ReleaseRepository(repo_dir).load("timestamp").signed.version)

    before = version()
    outcomes = at_once(
        lambda: refresh_if_due(repo_dir, online), lambda: refresh_if_due(repo_dir, online)
    )
    assert sorted(outcomes) == [False, True]  # both were due: one signed, one found it fresh
    assert version() == before + 1

    # A day on, a re-signing and a publish at once: each that wrote took its own version.
    tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=1)
    before = version()
    outcomes = at_once(
        lambda: refresh_if_due(repo_dir, online, now=lambda: tomorrow),
        lambda: ReleaseRepository(repo_dir).publish(
            [wheel(tmp_path)], version="1.1.0", architecture="aarch64", schema=1, keys_dir=keys
        ),
    )
    re_signed = sum(o is True for o in outcomes)  # not if the publish came first: fresh
    after = ReleaseRepository(repo_dir)
    assert version() == before + 1 + re_signed
    snapshot = after.load("snapshot").signed
    assert after.load("timestamp").signed.snapshot_meta.version == snapshot.version
    assert snapshot.meta["targets.json"].version == after.load("targets").signed.version
    assert after.manifest("aarch64").version == "1.1.0"
