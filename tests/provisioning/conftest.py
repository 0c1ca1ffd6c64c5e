"""Fixtures of the release tests: the council's keys and a repository served on loopback."""

from __future__ import annotations

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from provisioning.release_keys import generate_release_keys
from provisioning.release_repository import ReleaseRepository


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served(tmp_path):
    """The repository directory, served as the hub serves it at ``/releases/``."""
    root = tmp_path / "served"
    (root / "releases").mkdir(parents=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root / "releases", f"http://127.0.0.1:{server.server_address[1]}/releases/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def keys(tmp_path):
    """The council's keys: three root keys, one of each other role."""
    keys_dir = tmp_path / "keys"
    generate_release_keys(keys_dir, root_keys=3)
    return keys_dir


@pytest.fixture
def repo(served, keys):
    """A started repository whose root needs two of the three root keys."""
    repository = ReleaseRepository(served[0])
    repository.create(keys, root_threshold=2)
    return repository
