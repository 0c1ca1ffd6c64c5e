"""Rotating the release signing keys: real keys, a real repository served over HTTP on
loopback, and the node's own ReleaseClient following the chain of roots it is given."""

from __future__ import annotations

import shutil
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root

from hub_sync.release_client import ReleaseClient, ReleaseRefused
from provisioning.release_keys import generate_release_keys, held_keys, key_path, load_signers
from provisioning.release_repository import ReleaseError, ReleaseRepository
from provisioning.release_rotation import RotationError

TODAY = datetime.now(UTC).date().isoformat()


def node(tmp_path: Path, served, repo: ReleaseRepository, name: str = "node") -> ReleaseClient:
    """A node whose bundle carries root v1, as every node's does."""
    return ReleaseClient(
        tmp_path / name / "trusted",
        served[1],
        trusted_root=repo.trusted_root(),
        download_dir=tmp_path / name / "downloads",
    )


def publish(tmp_path: Path, repo: ReleaseRepository, version: str, keys_dir: Path) -> None:
    wheel = tmp_path / "wheelhouse" / f"hallsense-{version}-py3-none-any.whl"
    wheel.parent.mkdir(exist_ok=True)
    wheel.write_bytes(b"PK\x03\x04 hallsense " + version.encode())
    repo.publish([wheel], version=version, architecture="aarch64", schema=1, keys_dir=keys_dir)


def offered(client: ReleaseClient) -> str | None:
    manifest = client.newest("aarch64", "1.0.0")
    return None if manifest is None else manifest.version


def trusted_root_version(client: ReleaseClient) -> int:
    return Metadata[Root].from_file(str(client.metadata_dir / "root.json")).signed.version


def keyid(path: Path) -> str:
    """The keyid of the key file ``path``, as root names it."""
    return held_keys(path.parent, path.name.split("-")[0])[path].public_key.keyid


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def test_after_a_targets_rotation_a_node_takes_the_new_key_and_refuses_the_retired_one(
    tmp_path, served, repo, keys
):
    client = node(tmp_path, served, repo)
    publish(tmp_path, repo, "1.1.0", keys)
    assert offered(client) == "1.1.0"  # the node trusts root v1 and its targets key
    old_key = key_path(keys, "targets", 1).read_bytes()

    done = repo.rotate(keys, "targets")

    assert (done.role, done.root_version, done.root_threshold, done.root_keys) == (
        "targets", 2, 2, 3
    )  # fmt: skip
    assert [p.name for p in done.retired] == [f"targets-1.pem.retired-{TODAY}"]
    assert (keys / done.retired[0].name).read_bytes() == old_key
    assert key_path(keys, "targets", 1).read_bytes() != old_key
    assert done.made == (key_path(keys, "targets", 1),)
    root = repo.load("root").signed
    assert root.roles["targets"].keyids == list(done.added)
    assert (served[0] / "metadata" / "2.root.json").is_file()
    # Re-signed with the new key at once: the node follows root v2 on its next pass.
    assert offered(client) == "1.1.0"
    assert trusted_root_version(client) == 2
    publish(tmp_path, repo, "1.2.0", keys)
    assert offered(client) == "1.2.0"
    assert offered(node(tmp_path, served, repo, "new-node")) == "1.2.0"  # from root v1 too

    # Someone with the retired key (a copy kept where it should not be) publishes.
    stolen = tmp_path / "stolen"
    stolen.mkdir()
    shutil.copy(done.retired[0], key_path(stolen, "targets", 1))
    for role in ("snapshot", "timestamp"):
        shutil.copy(key_path(keys, role, 1), key_path(stolen, role, 1))
    publish(tmp_path, repo, "6.6.6", stolen)
    with pytest.raises(ReleaseRefused, match="not signed by the council's keys"):
        client.newest("aarch64", "1.0.0")


@pytest.mark.parametrize("role", ["timestamp", "snapshot"])
def test_after_an_online_key_rotation_the_hub_re_signs_with_the_new_key_only(
    tmp_path, served, repo, keys, role, caplog
):
    from provisioning.release_freshness import refresh_if_due

    hub = tmp_path / "hub-online-keys"  # what HALLSENSE_RELEASE_KEYS_DIR names
    hub.mkdir(mode=0o700)
    for online in ("snapshot", "timestamp"):
        shutil.copy(key_path(keys, online, 1), key_path(hub, online, 1))
    client = node(tmp_path, served, repo)
    publish(tmp_path, repo, "1.1.0", keys)
    assert offered(client) == "1.1.0"

    done = repo.rotate(keys, role)

    assert done.root_version == 2
    assert repo.load("root").signed.roles[role].keyids == list(done.added)
    assert offered(client) == "1.1.0"  # re-signed with the new key: the node goes on
    tomorrow = datetime.now(UTC) + timedelta(days=1, minutes=1)
    # The hub still has the old key: it does not re-sign with it (every node would refuse
    # the repository), and says what to do; the timestamp it has is good for days yet.
    with caplog.at_level("ERROR"):
        assert refresh_if_due(served[0], hub, now=lambda: tomorrow) is False
    assert f"the hub's {role}-1.pem ({role} key) is no longer named by its root" in caplog.text
    assert offered(client) == "1.1.0"
    # The new key put on the hub (the old one kept aside): the next re-signing works.
    shutil.move(key_path(hub, role, 1), hub / f"{role}-1.pem.retired-{TODAY}")
    shutil.copy(key_path(keys, role, 1), key_path(hub, role, 1))
    later = tomorrow + timedelta(days=1)
    assert refresh_if_due(served[0], hub, now=lambda: later) is True
    assert offered(client) == "1.1.0"
    publish(tmp_path, repo, "1.2.0", keys)
    assert offered(client) == "1.2.0"


def test_one_root_keyholder_s_key_is_replaced_with_two_of_three_signing(
    tmp_path, served, repo, keys
):
    client = node(tmp_path, served, repo)
    assert offered(client) is None  # the node trusts root v1
    kept = {keyid(key_path(keys, "root", n)) for n in (1, 3)}
    leaving = keyid(key_path(keys, "root", 2))

    done = repo.rotate(keys, "root", replace="2")

    assert [p.name for p in done.retired] == [f"root-2.pem.retired-{TODAY}"]
    assert done.made == (key_path(keys, "root", 2),)
    new = Metadata[Root].from_file(str(served[0] / "metadata" / "2.root.json"))
    assert set(new.signed.roles["root"].keyids) == kept | set(done.added)
    assert leaving not in new.signed.keys
    assert new.signed.roles["root"].threshold == 2
    # Signed by root v1's keys (all three held) and by v2's own (the new one among them).
    assert set(new.signatures) == kept | {leaving} | set(done.added)
    publish(tmp_path, repo, "1.1.0", keys)
    assert offered(client) == "1.1.0"
    assert trusted_root_version(client) == 2


def test_a_new_root_signed_by_only_one_old_root_key_is_refused_by_the_node(
    tmp_path, served, repo, keys
):
    client = node(tmp_path, served, repo)
    assert offered(client) is None
    # One root key stolen: the thief makes a root v2 naming two keys of their own.
    current = repo.load("root")
    forged = Metadata[Root].from_bytes(current.to_bytes())
    thief = tmp_path / "thief"
    generate_release_keys(thief, root_keys=2)
    for keyid_ in list(forged.signed.roles["root"].keyids):
        forged.signed.revoke_key(keyid_, "root")
    for signer in load_signers(thief, "root"):
        forged.signed.add_key(signer.public_key, "root")
    forged.signed.version = 2
    forged.signatures.clear()
    stolen = load_signers(keys, "root")[0]
    for signer in [stolen, *load_signers(thief, "root")]:
        forged.sign(signer, append=True)
    assert len(forged.signatures) == 3  # its own threshold met, root v1's not
    forged.to_file(str(served[0] / "metadata" / "2.root.json"))
    with pytest.raises(ReleaseRefused, match=r"not signed by the council's keys.*1/2 keys"):
        client.newest("aarch64", "1.0.0")
    assert trusted_root_version(client) == 1


def test_a_node_offline_through_two_rotations_follows_the_chain_of_roots(
    tmp_path, served, repo, keys
):
    client = node(tmp_path, served, repo)
    publish(tmp_path, repo, "1.1.0", keys)
    assert offered(client) == "1.1.0"
    # The node goes offline; a keyholder leaves, then the targets key is rotated and the
    # threshold raised to all three root keys.
    first = repo.rotate(keys, "root", replace="1")
    leaving = keyid(key_path(keys, "root", 3))[:12]
    second = repo.rotate(keys, "root", replace=leaving, root_threshold=3)
    third = repo.rotate(keys, "targets")
    assert (first.root_version, second.root_version, third.root_version) == (2, 3, 4)
    assert third.root_threshold == 3
    publish(tmp_path, repo, "1.2.0", keys)
    # Back online: root v1 → v2 → v3 → v4, each signed by its predecessor's threshold.
    assert offered(client) == "1.2.0"
    assert trusted_root_version(client) == 4
    assert offered(node(tmp_path, served, repo, "new-node")) == "1.2.0"


def test_the_rotation_needs_a_threshold_of_the_current_root_s_keys_no_fewer(
    tmp_path, served, repo, keys
):
    client = node(tmp_path, served, repo)
    assert offered(client) is None
    away = tmp_path / "keyholders"
    away.mkdir()
    for number in (1, 2):  # two keyholders have not come
        shutil.move(key_path(keys, "root", number), away / f"root-{number}.pem")
    before = files(keys)
    with pytest.raises(RotationError, match=r"holds 1 of the 3 root keys .* needs 2 of them"):
        repo.rotate(keys, "targets")
    assert files(keys) == before  # nothing changed, nothing written
    assert not (served[0] / "metadata" / "2.root.json").exists()
    # One more comes: exactly the threshold, enough.
    shutil.move(away / "root-2.pem", key_path(keys, "root", 2))
    assert repo.rotate(keys, "targets").root_version == 2
    assert offered(client) is None
    assert trusted_root_version(client) == 2
    # A threshold the held keys could not sign for, or more than root's keys: refused.
    with pytest.raises(RotationError, match=r"signed by 2 of its own root keys and needs 3"):
        repo.rotate(keys, "targets", root_threshold=3)
    with pytest.raises(RotationError, match=r"threshold of 4 needs that many root keys.* 3"):
        repo.rotate(keys, "root", replace="2", root_threshold=4)
    assert repo.load("root").signed.version == 2


def test_a_lost_root_key_is_replaced_by_its_keyid(tmp_path, served, repo, keys):
    client = node(tmp_path, served, repo)
    assert offered(client) is None
    lost = keyid(key_path(keys, "root", 1))
    key_path(keys, "root", 1).unlink()  # the stick fell in the river
    with pytest.raises(RotationError, match=rf"no root-1\.pem to replace.*{lost[:12]}"):
        repo.rotate(keys, "root", replace="1")
    done = repo.rotate(keys, "root", replace=lost[:8])
    assert done.retired == ()
    assert done.made == (key_path(keys, "root", 1),)
    root = repo.load("root").signed
    assert lost not in root.roles["root"].keyids
    assert len(root.roles["root"].keyids) == 3
    assert offered(client) is None
    assert trusted_root_version(client) == 2


def test_rotations_that_make_no_sense_are_refused_naming_what_was_wrong(tmp_path, repo, keys):
    with pytest.raises(RotationError, match="unknown role 'admin'"):
        repo.rotate(keys, "admin")
    with pytest.raises(RotationError, match="is not a directory of release keys"):
        repo.rotate(tmp_path / "nowhere", "targets")
    with pytest.raises(RotationError, match="a targets rotation replaces its key"):
        repo.rotate(keys, "targets", replace="1")
    with pytest.raises(RotationError, match="--replace 'deadbeef' names none of root v1's"):
        repo.rotate(keys, "root", replace="deadbeef")
    mixed = tmp_path / "mixed"  # two of the council's root keys and a stranger's
    shutil.copytree(keys, mixed)
    generate_release_keys(tmp_path / "stranger")
    key_path(mixed, "root", 2).unlink()
    shutil.copy(key_path(tmp_path / "stranger", "root", 1), key_path(mixed, "root", 2))
    with pytest.raises(RotationError, match=r"root-2\.pem is not one of the root keys root v1"):
        repo.rotate(mixed, "root", replace="2")
    with pytest.raises(ReleaseError, match="not a release repository"):
        ReleaseRepository(tmp_path / "empty").rotate(keys, "targets")
    assert repo.load("root").signed.version == 1


def test_key_files_stay_0600_and_none_is_ever_overwritten(tmp_path, repo, keys):
    originals = files(keys)
    repo.rotate(keys, "targets")
    repo.rotate(keys, "targets")  # twice the same day
    repo.rotate(keys, "root")  # every root key
    now = files(keys)
    assert set(now) >= set(originals)
    assert {f"targets-1.pem.retired-{TODAY}", f"targets-1.pem.retired-{TODAY}-2"} <= set(now)
    for name, data in originals.items():  # each original key is kept, byte for byte
        if name.startswith(("targets", "root")):
            assert now[f"{name}.retired-{TODAY}"] == data
            assert now[name] != data
        else:
            assert now[name] == data
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys.iterdir())
    assert len(load_signers(keys, "root")) == 3  # retired files are never signing keys


def test_the_council_rotates_with_the_cli(tmp_path, served, repo, keys):
    from click.testing import CliRunner

    from hallsense.cli import cli

    def run(*args: object) -> str:
        result = CliRunner().invoke(cli, ["provision", "release", "rotate", *map(str, args)])
        assert result.exit_code == 0, result.output
        return result.output

    client = node(tmp_path, served, repo)
    assert offered(client) is None
    said = run("--repo", served[0], "--keys-dir", keys, "--role", "timestamp")
    assert "root v2 names the new timestamp key(s)" in said
    assert f"retired timestamp-1.pem as timestamp-1.pem.retired-{TODAY}" in said
    assert "put the new timestamp key on the hub" in said
    said = run(
        "--repo", served[0], "--keys-dir", keys, "--role", "root", "--replace", 3,
        "--root-threshold", 3,
    )  # fmt: skip
    assert "a new root needs 3 of its 3 root keys" in said
    assert f"new key: {key_path(keys, 'root', 3)}" in said
    assert offered(client) is None
    assert trusted_root_version(client) == 3
    result = CliRunner().invoke(
        cli,
        ["provision", "release", "rotate", "--repo", str(served[0]), "--keys-dir",
         str(keys), "--role", "targets", "--replace", "1"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "a targets rotation replaces its key" in result.output


def test_a_keyid_that_begins_with_eight_digits_is_a_keyid_not_a_key_number(tmp_path):
    """One keyid in forty begins with eight decimal digits; it still names its key."""
    from securesystemslib.signer import SSlibKey
    from tuf.api.metadata import Root

    from provisioning.release_rotation import _replaced_root_key

    keyid = "10491922" + "ab" * 28
    root = Root()
    root.add_key(SSlibKey(keyid, "ed25519", "ed25519", {"public": "00" * 32}), "root")
    assert _replaced_root_key("10491922", root, {}, tmp_path) == (keyid, None)
    with pytest.raises(RotationError, match=r"holds no root-2\.pem to replace"):
        _replaced_root_key("2", root, {}, tmp_path)
