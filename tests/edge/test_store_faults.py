import hashlib
import sqlite3

import pytest

from edge.store import EdgeStore
from edge.store_errors import StoreCorrupt, StoreFull, StoreReadOnly, StoreTooNew
from tests.edge.conftest import readings, synced
from tests.support.mounts import read_only_mount, tmpfs_mount


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_full_disk_writes_nothing_keeps_the_database_intact_and_recovers(tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    with tmpfs_mount(small, "300k"):
        ballast = small / "ballast"
        ballast.write_bytes(bytes(64 * 1024))
        store = EdgeStore(small / "edge.db")
        try:
            stored = 0

            def fill():
                nonlocal stored
                for _ in range(1000):
                    store.append(readings(200), synced())
                    stored += 200

            with pytest.raises(StoreFull) as caught:
                fill()
            assert str(small / "edge.db") in str(caught.value)
            assert store.stats().readings_stored == stored
            conn = sqlite3.connect(small / "edge.db")
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            conn.close()
            # Someone frees room on the card: writing simply works again.
            ballast.unlink()
            assert store.append(readings(10), synced()) is not None
            assert store.stats().readings_stored == stored + 10
        finally:
            store.close()


def test_a_read_only_disk_is_named(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    with read_only_mount(ro), pytest.raises(StoreReadOnly) as caught:
        EdgeStore(ro / "edge.db")
    assert str(caught.value) == (
        f"cannot write the database {ro / 'edge.db'}: its disk or directory is read-only"
    )


def test_an_existing_database_on_a_read_only_disk_can_still_be_read(tmp_path):
    data = tmp_path / "data"
    with EdgeStore(data / "edge.db") as store:
        store.append(readings(3), synced())
    with read_only_mount(data):
        with pytest.raises(StoreReadOnly):
            EdgeStore(data / "edge.db")
        with EdgeStore(data / "edge.db", readonly=True) as reader:
            assert reader.stats().readings_stored == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"this is a shopping list, not a database" * 10, "is not a SQLite database"),
        (b"SQLite format 3\x00" + bytes(range(256)) * 8, "is damaged"),
    ],
)
def test_a_corrupt_file_is_named_and_left_untouched(tmp_path, content, message):
    path = tmp_path / "edge.db"
    path.write_bytes(content)
    before = digest(path)
    with pytest.raises(StoreCorrupt) as caught:
        EdgeStore(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)
    assert digest(path) == before


def test_a_truncated_database_is_named_and_left_untouched(tmp_path):
    path = tmp_path / "edge.db"
    with EdgeStore(path) as store:
        for _ in range(20):
            store.append(readings(500), synced())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = digest(path)
    with pytest.raises(StoreCorrupt, match="is damaged"):
        EdgeStore(path)
    assert digest(path) == before


def test_a_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "edge.db"
    EdgeStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = digest(path)
    with pytest.raises(StoreTooNew) as caught:
        EdgeStore(path)
    assert str(caught.value) == (
        f"{path} has schema version 99, but this hallsense only knows versions up to 1: "
        "upgrade hallsense"
    )
    assert digest(path) == before
