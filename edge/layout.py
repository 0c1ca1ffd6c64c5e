"""The node's data directory (``HALLSENSE_DATA_DIR``): every file hallsense keeps there.

The one place the names are written. Nodes already in village halls have directories
made with these names, so they never change: tests/edge/test_layout.py lists them as a
node of the previous release wrote them. Packages that may not import ``edge`` (the
uplink's enrolment and rotation in ``hub_sync``) are handed their paths by the
composition root.

Files that settings name (the counter driver's tally, the enrolment token on the boot
partition, the broker password file) can live anywhere and are not part of the layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")
"""What SQLite appends to the database's name for the files it keeps beside it."""

COUNT_JOURNAL_SUFFIX = "-counts.journal"
"""What a counting driver's name takes for its journal: ``gpio-counts.journal``."""


@dataclass(frozen=True)
class DataDir:
    """The files of one node's data directory, each by its role."""

    root: Path

    @property
    def db(self) -> Path:
        """The store: readings, rollups, the sync cursor (SQLite, WAL)."""
        return self.root / "hallsense.db"

    @property
    def db_files(self) -> tuple[Path, ...]:
        """The store and the files SQLite keeps beside it (log, shared memory, journal)."""
        return (self.db, *(self.db.with_name(self.db.name + side) for side in SQLITE_SIDE_FILES))

    @property
    def agent_lock(self) -> Path:
        """The lock the running agent holds (``flock``); it holds no data."""
        return self.root / "agent.lock"

    @property
    def credentials(self) -> Path:
        """The broker credentials enrolment gave and rotation renews (mode 0600)."""
        return self.root / "credentials.json"

    @property
    def page_settings(self) -> Path:
        """The last page settings the hub sent, validated."""
        return self.root / "page-settings.json"

    @property
    def page_settings_pending(self) -> Path:
        """New page settings from the hub, written before they replace ``page_settings``."""
        return self.page_settings.with_name(self.page_settings.name + ".new")

    @property
    def release_allowed(self) -> Path:
        """The version the hub's rollout lets this node update to, as the agent last heard."""
        return self.root / "release-allowed.json"

    @property
    def update_state(self) -> Path:
        """What the updater is doing or last did, for the heartbeat and ``edge status``."""
        return self.root / "update-state.json"

    @property
    def hub_time(self) -> Path:
        """The agent's last sample of the hub's time, for this boot (docs/time.md)."""
        return self.root / "hub-time.json"

    def count_journal(self, driver_name: str) -> Path:
        """Where a counting driver journals its counts (``gpio-counts.journal``)."""
        return self.root / f"{driver_name}{COUNT_JOURNAL_SUFFIX}"

    def count_journals(self) -> list[Path]:
        """Every counting driver's journal there is."""
        return sorted(self.root.glob(f"*{COUNT_JOURNAL_SUFFIX}"))

    def credential_leftovers(self) -> list[Path]:
        """Temporary copies of the credentials a crash mid-write may leave (hidden, 0600).

        Credentials are written to ``.credentials.json.<pid>.tmp`` and renamed into place
        (hub_sync.enrolment_files.write_credentials); a power cut between the two leaves one.
        """
        return sorted(self.root.glob(f".{self.credentials.name}.*.tmp"))

    @property
    def wiped(self) -> tuple[Path, ...]:
        """Everything ``hallsense edge wipe`` deletes: the readings, the state, the secrets."""
        return (
            *self.db_files,
            self.page_settings,
            self.page_settings_pending,
            self.credentials,
            self.release_allowed,
            self.update_state,
            self.hub_time,
        )

    @property
    def kept_by_wipe(self) -> tuple[Path, ...]:
        """What a wipe leaves: the agent lock.

        The wipe holds it throughout, so that no agent starts on the store as it goes;
        deleting a held lock file would let a second process lock a new one.
        """
        return (self.agent_lock,)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file of the layout."""
        return (*self.wiped, *self.kept_by_wipe)
