"""PostgreSQL for the tests: a throwaway cluster (initdb and pg_ctl on a free port), or a
server of your own named by ``HALLSENSE_TEST_PG_DSN``.

With ``HALLSENSE_TEST_PG_DSN=postgresql://user@host:port/db`` (a role that may create
databases) each test gets a fresh database on that server, dropped at the end of the
session; the one test that stops and restarts PostgreSQL still makes a cluster of its
own, since nobody's shared server may be stopped.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.support.broker import free_port


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise AssertionError(
            f"{name} not found: scripts/setup installs PostgreSQL (apt-get install postgresql)"
        )
    return candidates[-1]


def _as_postgres(*args: str) -> list[str]:
    # initdb refuses to run as root; tests run as root here.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return list(args)


class PostgresCluster:
    """A PostgreSQL server of its own for the test session: start, stop, fresh databases."""

    def __init__(self, *, empty: bool = False) -> None:
        """A new cluster (initdb); ``empty``: only its place, for a copy of another."""
        self.directory = Path(tempfile.mkdtemp(prefix="hallsense-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.log = self.directory / "server.log"
        self.counter = 0
        self.settings: dict[str, str] = {}
        """More server settings for :meth:`start` (``-c name=value``)."""
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        if empty:
            return
        subprocess.run(
            # --no-sync: a throwaway cluster need not wait for the disk (5 s, not 1.6).
            _as_postgres(
                _binary("initdb"),
                "--no-sync",
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
            ),
            check=True,
            capture_output=True,
        )

    def start(self) -> PostgresCluster:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += "".join(f" -c {name}={value}" for name, value in self.settings.items())
        subprocess.run(
            _as_postgres(
                _binary("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "start",
            ),
            check=True,
            capture_output=True,
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_postgres(_binary("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"),
            capture_output=True,
        )

    def standby(self, name: str) -> PostgresCluster:
        """A streaming replica of this (running) cluster, started: ``pg_basebackup -R``,
        connecting as application ``name`` (for ``synchronous_standby_names``)."""
        replica = PostgresCluster(empty=True)
        primary = f"host=127.0.0.1 port={self.port} user=postgres application_name={name}"
        subprocess.run(
            _as_postgres(
                _binary("pg_basebackup"), "-D", str(replica.data), "-d", primary, "-R",
                "--checkpoint=fast", "--no-sync",
            ),
            check=True,
            capture_output=True,
        )  # fmt: skip
        return replica.start()

    def promote(self) -> None:
        """Make this standby the primary (``pg_ctl promote``, waiting until it is)."""
        subprocess.run(
            _as_postgres(_binary("pg_ctl"), "-D", str(self.data), "-w", "promote"),
            check=True,
            capture_output=True,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        self.counter += 1
        name = f"hub_{self.counter}_{int(time.time() * 1000) % 100000}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)


class ServerDatabases:
    """Fresh databases on a server someone else runs (``HALLSENSE_TEST_PG_DSN``)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.made: list[str] = []
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SELECT 1")

    def url(self, database: str) -> str:
        parts = urlsplit(self.dsn)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def new_database(self) -> str:
        name = (
            f"hallsense_test_{os.getpid()}_{len(self.made) + 1}_{int(time.time() * 1000) % 100000}"
        )
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        self.made.append(name)
        return self.url(name)

    def destroy(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for name in self.made:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_for_tests() -> PostgresCluster | ServerDatabases:
    """The server ``HALLSENSE_TEST_PG_DSN`` names, else a throwaway cluster, started."""
    dsn = os.environ.get("HALLSENSE_TEST_PG_DSN", "")
    return ServerDatabases(dsn) if dsn else PostgresCluster().start()
