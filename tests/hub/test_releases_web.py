"""The hub serves the signed release repository at /releases/: to anyone (it is signed),
only what is inside it, metadata never cached, release files resumable by range; and a
node's client takes a release from the real hub web app over HTTP."""

from __future__ import annotations

import threading

import pytest
from cheroot import wsgi

from hub.store_sqlite import SqliteHubStore
from hub_sync.release_client import ReleaseClient
from provisioning.release_keys import generate_release_keys
from provisioning.release_repository import ReleaseRepository
from tests.hub.web_support import make_app

WHEEL = b"a wheel of hallsense 2.0.0 for armv7l " * 500


@pytest.fixture
def repo(tmp_path):
    keys = tmp_path / "keys"
    generate_release_keys(keys, root_keys=1)
    repository = ReleaseRepository(tmp_path / "releases")
    repository.create(keys, root_threshold=1)
    (tmp_path / "hallsense-2.0.0.whl").write_bytes(WHEEL)
    repository.publish(
        [tmp_path / "hallsense-2.0.0.whl"], version="2.0.0", architecture="armv7l", keys_dir=keys
    )
    return repository


@pytest.fixture
def app(tmp_path, repo):
    store = SqliteHubStore(tmp_path / "hub.db")
    yield make_app(tmp_path, store, releases_dir=repo.repo_dir)
    store.close()


def fetched(client, url, **options):
    """The answer, read whole and closed (a file sent stays open until then)."""
    response = client.get(url, **options)
    response.get_data()
    response.close()
    return response


def test_anyone_may_fetch_the_repository_and_only_the_repository(app, repo):
    client = app.test_client()  # no log-in
    metadata = fetched(client, "/releases/metadata/timestamp.json")
    assert metadata.status_code == 200
    assert metadata.headers["Cache-Control"] == "no-cache"
    assert metadata.data == (repo.metadata_dir / "timestamp.json").read_bytes()
    (stored,) = (repo.targets_dir / "2.0.0" / "armv7l").glob("*.whl")
    url = f"/releases/targets/2.0.0/armv7l/{stored.name}"
    whole = fetched(client, url)
    assert whole.data == WHEEL
    assert "immutable" in whole.headers["Cache-Control"]
    resumed = fetched(client, url, headers={"Range": f"bytes={len(WHEEL) - 100}-"})
    assert resumed.status_code == 206
    assert resumed.data == WHEEL[-100:]
    for outside in ("/releases/../hub.db", "/releases/%2e%2e/hub.db", "/releases/nothing.json"):
        assert fetched(client, outside).status_code == 404, outside
    assert client.post("/releases/metadata/timestamp.json").status_code == 405


def test_a_node_takes_a_release_from_the_hub_web(tmp_path, app, repo):
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=2)
    server.prepare()
    serving = threading.Thread(target=server.serve, daemon=True)
    serving.start()
    try:
        client = ReleaseClient(
            tmp_path / "node" / "trusted",
            f"http://127.0.0.1:{server.bind_addr[1]}/releases/",
            trusted_root=repo.trusted_root(),
            download_dir=tmp_path / "node" / "downloads",
        )
        offered = client.newest("armv7l", "1.0.0")
        assert offered is not None
        assert [path.read_bytes() for path in client.download(offered)] == [WHEEL]
    finally:
        server.stop()
        serving.join(10)
