"""Keeping the release repository fresh: the hub re-signs its timestamp every day.

A node refuses release metadata past its expiry (a freeze: metadata held back from it),
so the repository must be re-signed before that, and without the council's offline keys.
``hallsense hub web`` runs :func:`keep_fresh` in a thread with the two online keys
(snapshot and timestamp) when ``HALLSENSE_RELEASE_KEYS_DIR`` names them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from provisioning.release_keys import ReleaseKeyError, held_keys
from provisioning.release_repository import EXPIRY, ReleaseError, ReleaseRepository

log = logging.getLogger(__name__)

REFRESH_AFTER = timedelta(days=1)
"""Re-sign once the timestamp is this old: six days' margin before a node refuses it."""
CHECK_S = 3600.0


def refresh_if_due(
    repo_dir: Path, keys_dir: Path, now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> bool:
    """Re-sign snapshot and timestamp if the timestamp was signed a day ago or more.

    Returns whether it re-signed. A repository or keys it cannot use is logged, not raised:
    the hub's web goes on, and the fleet's nodes say so when their metadata expires.
    """
    repository = ReleaseRepository(repo_dir, now=now)
    try:
        # Checked and re-signed under one hold: another hub web doing the same meanwhile
        # finds it fresh rather than signing the same version again.
        with repository.writing():
            expires = repository.load("timestamp").signed.expires
            if expires - now() > EXPIRY["timestamp"] - REFRESH_AFTER:
                return False
            retired = retired_online_keys(repository, keys_dir)
            if retired:
                # Signing with it would make every node refuse the repository: better to
                # let the timestamp age (a week's margin) and say loudly what to do.
                log.error(
                    "not re-signing the release repository %s: the hub's %s no longer named "
                    "by its root; copy the new online key(s) from the council's keys after "
                    "the rotation into %s",
                    repo_dir,
                    retired,
                    keys_dir,
                )
                return False
            repository.refresh(keys_dir)
    except (ReleaseError, ReleaseKeyError, OSError, ValueError) as error:
        log.error("could not re-sign the release repository %s: %s", repo_dir, error)
        return False
    log.info("re-signed the release repository's timestamp")
    return True


def retired_online_keys(repository: ReleaseRepository, keys_dir: Path) -> str:
    """The hub's online keys the repository's root no longer names, in words ("" if none).

    After the council rotates the snapshot or timestamp key, the hub holds the retired one
    until someone copies the new one across.
    """
    root = repository.load("root").signed
    retired = [
        f"{path.name} ({role} key)"
        for role in ("snapshot", "timestamp")
        for path, signer in held_keys(keys_dir, role).items()
        if signer.public_key.keyid not in root.roles[role].keyids
    ]
    return ", ".join(retired) + (" is" if len(retired) == 1 else " are") if retired else ""


def keep_fresh(
    repo_dir: Path, keys_dir: Path, stop: threading.Event, *, check_s: float = CHECK_S
) -> threading.Thread:
    """A thread that calls :func:`refresh_if_due` every ``check_s`` until ``stop``."""

    def run() -> None:
        while True:
            refresh_if_due(repo_dir, keys_dir)
            if stop.wait(check_s):
                return

    thread = threading.Thread(target=run, name="release-freshness", daemon=True)
    thread.start()
    return thread
