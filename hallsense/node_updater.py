"""One pass of the node's updater (``hallsense edge update``, run by a systemd timer).

It joins the parts that each do one thing: the version the hub's staged rollout allows
(``edge/update_files.py``), the council's signed repository (``hub_sync/release_client``),
the link's allowance for updates (``hub_sync/release_allowance``), the versions side by
side (``edge/release_slots``) and the health check (``edge/update_health``). A pass:

1. does nothing unless the hub allows a version newer than the one running, which the
   node has not already tried and gone back from;
2. checks the signed metadata and the release's manifest: for this architecture, the
   version allowed, a store schema no older than the store's (migrations go forward only);
3. downloads within the allowance, resumably; a pass stopped by the budget or the link
   says "waiting" and the next pass goes on from where it stopped;
4. installs the release beside the running one, switches atomically and restarts the
   services, recording first (``checking``) what it needs to go back;
5. watches the health check for ``health_s``: healthy and stable, it is ``updated`` and
   old versions are pruned; otherwise it switches back by itself, restarts, and reports
   ``rolled back`` with the reason. A pass interrupted while checking (a power cut)
   carries on with the check when the next pass starts.

Going back across a store migration is refused, not attempted: the release check has
already refused a release with an older schema, so only a failed migrating release can
meet it, and the node then stays on the new version and reports why.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from edge.layout import DataDir
from edge.release_slots import ReleaseSlotError, ReleaseSlots
from edge.update_files import (
    UpdateState,
    read_release_allowed,
    read_update_state,
    write_update_state,
)
from edge.update_health import StoreUnreadable, look, not_yet_healthy, store_schema, uplink_words
from hub_sync.release_client import ReleaseClient, ReleaseRefused
from hub_sync.release_contract import Manifest, release_version

log = logging.getLogger(__name__)

FINAL_STATES = ("updated", "rolled back", "refused")
"""Outcomes a pass does not try again for the same allowed version."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class UpdaterParts:
    """What one node's updater works with."""

    layout: DataDir
    slots: ReleaseSlots
    client: ReleaseClient
    architecture: str
    restart: Callable[[], str]
    """Restarts the node's services; returns "" or why it could not."""
    health_s: float
    stable_s: float
    """A healthy new version must stay up and storing this long before it counts."""
    poll_s: float = 2.0
    wall: Callable[[], datetime] = _now
    sleep: Callable[[float], None] = time.sleep


class NodeUpdater:
    """The updater of one node; :meth:`run_once` is one pass."""

    def __init__(self, parts: UpdaterParts) -> None:
        self.parts = parts
        self.state = read_update_state(parts.layout.update_state)

    def _save(self, **changes: object) -> UpdateState:
        if "state" in changes:
            changes.setdefault("at", self.parts.wall().isoformat())
        self.state = self.state.with_changes(**changes)
        write_update_state(self.parts.layout.update_state, self.state)
        return self.state

    def keep_download_count(self, day: str, used: int) -> None:
        """Write down the bytes the download took today (the allowance's ``keep``)."""
        self._save(download_day=day, downloaded_today=used)

    def run_once(self) -> UpdateState:
        """One pass: see the module's description. Returns the state it leaves."""
        running = self.parts.slots.current()
        if running is None:
            return self._save(
                state="failed",
                error=f"this node was not installed as versions ({self.parts.slots.root}/current "
                "is missing): install it from its bundle",
            )
        if self.state.state == "checking" and self.state.version == running:
            return self._check()  # a pass was cut short while checking: finish the check
        allowed = read_release_allowed(self.parts.layout.release_allowed)
        if not allowed or release_version(allowed) <= release_version(running):
            if self.state.version and self.state.version in (allowed, running):
                return self.state  # what happened to it stays reported
            return self._save(state="idle", version="", error="")
        if self.state.version == allowed and self.state.state in FINAL_STATES:
            return self.state  # gone back from, or refused: the hub must allow another
        release = self._release(running, allowed)
        if release is None or not self._download_and_install(release):
            return self.state
        return self._switch(release, running)

    def _release(self, running: str, allowed: str) -> Manifest | None:
        try:
            release = self.parts.client.newest(self.parts.architecture, running)
        except ReleaseRefused as refused:
            self._refused(allowed, refused)
            return None
        if release is None or release.version != allowed:
            offered = release.version if release is not None else "nothing newer"
            self._save(
                state="waiting",
                version=allowed,
                error=f"the hub allows {allowed} but its repository offers {offered} for "
                f"{self.parts.architecture}",
            )
            return None
        try:
            schema = store_schema(self.parts.layout.db)
        except StoreUnreadable as error:
            self._save(state="failed", version=allowed, error=str(error))
            return None
        if release.schema < schema:
            self._save(
                state="refused",
                version=allowed,
                error=f"{allowed} runs store schema {release.schema} but this node's store is at "
                f"{schema}: store migrations go forward only",
            )
            return None
        return release

    def _refused(self, version: str, refused: ReleaseRefused) -> None:
        self._save(
            state="waiting" if refused.retryable else "refused",
            version=version,
            error=refused.reason,
        )

    def _download_and_install(self, release: Manifest) -> bool:
        version = release.version
        self._save(state="downloading", version=version, error="")
        try:
            files = self.parts.client.download(release)
        except ReleaseRefused as refused:
            self._refused(version, refused)
            return False
        self.parts.slots.prune_downloads(files)  # wheels no release from now on will have
        self._save(state="installing")
        wheelhouse = self._wheelhouse(release, files)
        try:
            self.parts.slots.install(version, wheelhouse, f"hallsense=={version}")
        except ReleaseSlotError as error:
            self._save(state="failed", error=str(error))
            return False
        finally:
            shutil.rmtree(wheelhouse, ignore_errors=True)
        return True

    def _wheelhouse(self, release: Manifest, files: list[Path]) -> Path:
        """The downloaded files under their own names, as pip wants them (hard links)."""
        wheelhouse = self.parts.slots.root / "update" / f"wheelhouse-{release.version}"
        shutil.rmtree(wheelhouse, ignore_errors=True)
        wheelhouse.mkdir(parents=True)
        for target, path in zip(release.files, files, strict=True):
            name = wheelhouse / Path(target).name
            try:
                os.link(path, name)
            except OSError:
                shutil.copyfile(path, name)
        return wheelhouse

    def _switch(self, release: Manifest, running: str) -> UpdateState:
        try:
            seen = look(self.parts.layout.db)
            seq, schema = seen.last_seq, seen.schema
        except StoreUnreadable:
            seq, schema = 0, 0
        self._save(
            state="checking",
            from_version=running,
            switched_at=self.parts.wall().isoformat(),
            seq_at_switch=seq,
            schema_before=schema,
        )
        try:
            self.parts.slots.switch(release.version)
        except ReleaseSlotError as error:
            return self._save(state="failed", error=str(error))
        failed = self.parts.restart()
        if failed:
            return self._go_back(f"the services did not restart: {failed}")
        return self._check()

    def _check(self) -> UpdateState:
        parts, state = self.parts, self.state
        switched_at = datetime.fromisoformat(state.switched_at)
        deadline = switched_at.timestamp() + parts.health_s
        missing = "not checked yet"
        stable_since: tuple[float, str, int] | None = None
        while parts.wall().timestamp() < deadline:
            now = parts.wall().timestamp()
            try:
                seen = look(parts.layout.db)
                missing = not_yet_healthy(seen, state.version, switched_at, state.seq_at_switch)
            except StoreUnreadable as error:
                missing = str(error)
            if missing:
                stable_since = None
            elif stable_since is None or stable_since[1] != seen.agent_started_at:
                stable_since = (now, seen.agent_started_at, seen.last_seq)
            elif now - stable_since[0] >= parts.stable_s:
                if seen.last_seq > stable_since[2]:
                    return self._healthy(f"healthy: storing readings, {uplink_words(seen)}")
                missing = f"no reading stored in the last {parts.stable_s:g} s"
                stable_since = (now, seen.agent_started_at, seen.last_seq)
            parts.sleep(parts.poll_s)
        return self._go_back(
            f"{state.version} failed its health check within {parts.health_s:g} s: {missing}"
        )

    def _healthy(self, words: str) -> UpdateState:
        log.info("updated to %s: %s", self.state.version, words)
        self.parts.slots.prune()
        return self._save(state="updated", error="")

    def _go_back(self, reason: str) -> UpdateState:
        state = self.state
        try:
            schema = store_schema(self.parts.layout.db)
        except StoreUnreadable:
            schema = state.schema_before
        if schema > state.schema_before:
            return self._save(
                state="failed",
                error=f"{reason}; it migrated the store to schema {schema}, which "
                f"{state.from_version} cannot run on, so the node stays on {state.version}",
            )
        try:
            back = self.parts.slots.roll_back()
        except ReleaseSlotError as error:
            return self._save(state="failed", error=f"{reason}; could not go back: {error}")
        log.warning("going back to %s: %s", back, reason)
        failed = self.parts.restart()
        said = f"{reason}; back on {back}"
        if failed:
            said += f" (the services did not restart: {failed})"
        return self._save(state="rolled back", error=said)
