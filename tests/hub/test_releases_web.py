"""The hub serves the signed release repository at /releases/: to anyone (it is signed),
only what is inside it, metadata never cached, release files resumable by range; and a
node's client takes a release from the real hub web app over HTTP, and over HTTPS pinned
to the council CA through the hall's authenticating proxy."""

from __future__ import annotations

import threading

import pytest
from cheroot import wsgi

from hub.store_sqlite import SqliteHubStore
from hub_sync.release_client import ReleaseClient, ReleaseRefused
from hub_sync.release_fetcher import CHUNK_BYTES, ReleaseFetcher
from hub_sync.transports import Proxy
from provisioning.release_keys import generate_release_keys
from provisioning.release_repository import ReleaseRepository
from tests.hub.web_support import make_app
from tests.provisioning.test_enrolment import TlsServer, make_ca, make_server_cert
from tests.support.proxy import TinyProxy

WHEEL = b"a wheel of hallsense 2.0.0 for armv7l " * 500


@pytest.fixture
def repo(tmp_path):
    keys = tmp_path / "keys"
    generate_release_keys(keys, root_keys=1)
    repository = ReleaseRepository(tmp_path / "releases")
    repository.create(keys, root_threshold=1)
    (tmp_path / "hallsense-2.0.0.whl").write_bytes(WHEEL)
    repository.publish(
        [tmp_path / "hallsense-2.0.0.whl"],
        version="2.0.0",
        architecture="armv7l",
        schema=1,
        keys_dir=keys,
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
    (stored,) = (repo.targets_dir / "armv7l" / "wheels").glob("*.whl")
    url = f"/releases/targets/armv7l/wheels/{stored.name}"
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


def test_a_node_behind_the_halls_proxy_takes_a_release_over_https(tmp_path, app, repo):
    ca = make_ca(tmp_path / "ca", "council-ca")
    server = TlsServer(app, *make_server_cert(ca, tmp_path / "tls", "hub"))
    proxy = TinyProxy(
        tmp_path / "proxy", connect_ports=(server.port,), credentials=("hall", "proxy-pw")
    ).start()
    try:
        client = ReleaseClient(
            tmp_path / "node" / "trusted",
            f"{server.url}/releases/",
            trusted_root=repo.trusted_root(),
            ca_file=ca.pem_path,
            download_dir=tmp_path / "node" / "downloads",
            proxies=Proxy.from_url(proxy.url_with("hall", "proxy-pw")).requests_proxies(),
        )
        offered = client.newest("armv7l", "1.0.0")
        assert offered is not None
        assert [path.read_bytes() for path in client.download(offered)] == [WHEEL]
        assert f"CONNECT 127.0.0.1:{server.port} " in proxy.log()
        # The proxy refusing the hall's password is a retryable failure, said in words.
        stranger = ReleaseClient(
            tmp_path / "other" / "trusted",
            f"{server.url}/releases/",
            trusted_root=repo.trusted_root(),
            ca_file=ca.pem_path,
            download_dir=tmp_path / "other" / "downloads",
            proxies=Proxy.from_url(proxy.url_with("hall", "wrong")).requests_proxies(),
        )
        with pytest.raises(ReleaseRefused) as refused:
            stranger.newest("armv7l", "1.0.0")
        assert refused.value.retryable
        assert "wrong" not in str(refused.value)
    finally:
        proxy.stop()
        server.stop()


class CutOnce:
    """WSGI middleware: the first answer for a release file stops half-way, as a link
    that drops does; every byte sent and every Range asked for is counted."""

    def __init__(self, app) -> None:
        self.app = app
        self.cut = False
        self.sent = 0
        self.ranges: list[str] = []

    def __call__(self, environ, start_response):
        body = self.app(environ, start_response)
        if not environ["PATH_INFO"].endswith(".whl"):
            return body
        self.ranges.append(environ.get("HTTP_RANGE", ""))
        try:
            data = b"".join(body)
        finally:
            body.close()
        return self._counted(data, cut=not self.cut)

    def _counted(self, data: bytes, *, cut: bool):
        if cut:
            self.cut = True
            half = len(data) // 2
            self.sent += half
            yield data[:half]
            raise ConnectionResetError("the link dropped")
        self.sent += len(data)
        yield data


@pytest.fixture
def serve(app):
    servers = []

    def start(wsgi_app):
        server = wsgi.Server(("127.0.0.1", 0), wsgi_app, numthreads=2)
        server.prepare()
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.bind_addr[1]}/releases/"

    yield start
    for server, thread in servers:
        server.stop()
        thread.join(10)


def node(tmp_path, url, repo, **options):
    return ReleaseClient(
        tmp_path / "node" / "trusted",
        url,
        trusted_root=repo.trusted_root(),
        download_dir=tmp_path / "node" / "downloads",
        **options,
    )


def test_a_download_cut_half_way_resumes_where_it_stopped(tmp_path, app, repo, serve):
    link = CutOnce(app)
    client = node(tmp_path, serve(link), repo)
    offered = client.newest("armv7l", "1.0.0")
    assert offered is not None
    with pytest.raises(ReleaseRefused) as cut:
        client.download(offered)
    assert cut.value.retryable
    (path,) = client.download(offered)
    assert path.read_bytes() == WHEEL
    first, resumed = link.ranges
    assert first == ""
    kept = int(resumed.removeprefix("bytes=").removesuffix("-"))
    assert 0 < kept <= len(WHEEL) // 2  # whole chunks that arrived before the cut
    assert link.sent - len(WHEEL) < CHUNK_BYTES  # at most a chunk's worth sent twice


def test_a_spent_data_budget_pauses_the_download_and_the_next_day_finishes_it(
    tmp_path, app, repo, serve
):
    url = serve(app)
    budget = {"left": 1_000_000}

    def allow(nbytes: int) -> bool:
        if budget["left"] < nbytes:
            return False
        budget["left"] -= nbytes
        return True

    client = node(tmp_path, url, repo, allow=allow)
    offered = client.newest("armv7l", "1.0.0")
    assert offered is not None
    budget["left"] = 8 * 1024  # what is left of today's budget: half the file
    with pytest.raises(ReleaseRefused, match="data budget") as paused:
        client.download(offered)
    assert paused.value.retryable
    budget["left"] = 1_000_000  # a new day
    (path,) = client.download(offered)
    assert path.read_bytes() == WHEEL


def test_bytes_kept_from_a_bad_download_never_pass_the_check(tmp_path, app, repo, serve):
    client = node(tmp_path, serve(app), repo)
    offered = client.newest("armv7l", "1.0.0")
    assert offered is not None
    # The kept start of the file, poisoned, under the name the fetcher will look for.
    (stored,) = (repo.targets_dir / "armv7l" / "wheels").glob("*.whl")
    fetcher = ReleaseFetcher(tmp_path / "node" / "downloads" / "partial")
    kept = fetcher._partial(f"{client.base_url}targets/armv7l/wheels/{stored.name}")
    assert kept is not None
    kept.write_bytes(b"evil" * 100)
    with pytest.raises(ReleaseRefused, match="length or hash"):
        client.download(offered)
    (path,) = client.download(offered)  # the poisoned start was dropped: a clean retry
    assert path.read_bytes() == WHEEL
