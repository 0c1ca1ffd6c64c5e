"""A node's first start: fetch its broker password from the hub once, then run the uplink.

Until enrolment has worked the node keeps every reading, as it does with the hub out of
reach; the uplink starts the moment the credentials are on disk. A hub that cannot be
reached is tried again with growing pauses; a token the hub refuses is reported in the
node's health (``edge status`` shows it) and tried again slowly, in case the installer
puts a new token file in place.

It also finds the hall's proxy for every way the node reaches the hub (:func:`hub_proxy`):
only the composition root reads the environment.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from edge.settings import EdgeSettings
from edge.store import EdgeStore
from edge.store_errors import StoreError
from hallsense.settings import SettingsError
from hub_sync.enrolment import enrol_with_token_file
from hub_sync.enrolment_contract import EnrolmentError
from hub_sync.enrolment_files import Credentials
from hub_sync.rotation import CredentialKeeper
from hub_sync.transports import Proxy, ProxyUrlError, choose_proxy
from hub_sync.uplink import Uplink

log = logging.getLogger(__name__)

FIRST_RETRY_S = 15.0
LONGEST_RETRY_S = 600.0
ENROL_JOIN_S = 2.0


def hub_proxy(
    settings: EdgeSettings, target: str, environ: Mapping[str, str] | None = None
) -> Proxy | None:
    """The hall's proxy to ``target`` (a host name or a URL), or None: none.

    HALLSENSE_PROXY_URL, else HTTPS_PROXY / ALL_PROXY from the environment unless
    NO_PROXY names the host.

    Raises:
        SettingsError: the proxy address is unusable (named, never quoted).
    """
    host = urlsplit(target).hostname or "" if "://" in target else target
    try:
        return choose_proxy(settings.proxy_url, os.environ if environ is None else environ, host)
    except ProxyUrlError as error:
        raise SettingsError("the node's proxy", [str(error)]) from error


def hub_proxies(settings: EdgeSettings, url: str) -> dict[str, str]:
    """``requests``' ``proxies=`` for an HTTPS call to ``url`` (empty: direct)."""
    proxy = hub_proxy(settings, url)
    return proxy.requests_proxies() if proxy is not None else {}


def credentials_path(settings: EdgeSettings) -> Path:
    """Where the node keeps the credentials enrolment gave it (mode 0600)."""
    return settings.layout.credentials


def credential_keeper(
    settings: EdgeSettings, store: EdgeStore | None = None
) -> CredentialKeeper | None:
    """The keeper of the credentials an earlier enrolment gave, or None if there are none.

    It rotates them when the hub asks, reporting in the node's health as "credentials".

    Raises:
        ValueError: the credentials file is damaged or is another device's.
    """
    path = credentials_path(settings)

    def report(state: str, words: str) -> None:
        if store is not None:
            store.record_health("credentials", state, words, 0, datetime.now(UTC))

    try:
        keeper = CredentialKeeper(
            path,
            hub_url=settings.enrol_url,
            ca_file=settings.broker_ca_file,
            proxies=hub_proxies(settings, settings.enrol_url) if settings.enrol_url else None,
            report=report,
        )
    except FileNotFoundError:
        return None
    if keeper.credentials.device_id != settings.device_id:
        raise ValueError(
            f"{path} holds the credentials of {keeper.credentials.device_id!r}, "
            f"not of {settings.device_id!r}"
        )
    return keeper


def enrolled_password(settings: EdgeSettings) -> str | None:
    """The broker password from an earlier enrolment, or None if the node has none.

    Raises:
        ValueError: the credentials file is damaged or is another device's.
    """
    keeper = credential_keeper(settings)
    return keeper.password if keeper is not None else None


class EnrollingUplink:
    """The uplink of a node that has yet to enrol: a Companion of the agent.

    ``build(password)`` makes the real uplink once the hub has answered.
    """

    def __init__(
        self,
        settings: EdgeSettings,
        store: EdgeStore,
        build: Callable[[str], Uplink],
        *,
        enrol: Callable[[], Credentials] | None = None,
        first_retry_s: float = FIRST_RETRY_S,
    ) -> None:
        self.settings = settings
        self.store = store
        self.build = build
        self.enrol = enrol or self._enrol
        self.first_retry_s = first_retry_s
        self.uplink: Uplink | None = None
        self._password: str | None = None
        self._wake: Callable[[], None] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._enrol_until_done, name="enrolment", daemon=True
        )

    def _enrol(self) -> Credentials:
        settings = self.settings
        if settings.broker_ca_file is None:  # checked by EdgeSettings.check
            raise ValueError("HALLSENSE_BROKER_CA_FILE is required to enrol")
        return enrol_with_token_file(
            settings.enrol_url,
            settings.device_id,
            token_file=settings.enrol_token_file,
            credentials_file=credentials_path(settings),
            ca_file=settings.broker_ca_file,
            proxies=hub_proxies(settings, settings.enrol_url),
        )

    def _report(self, state: str, words: str) -> None:
        try:
            self.store.record_health("enrolment", state, words, 0, datetime.now(UTC))
        except StoreError as error:  # closed as the node stops, mid-request
            log.debug("enrolment health not recorded: %s", error)

    def _enrol_until_done(self) -> None:
        pause = self.first_retry_s
        while not self._stop.is_set():
            try:
                credentials = self.enrol()
            except (EnrolmentError, OSError, ValueError) as error:
                retryable = getattr(error, "retryable", True)
                log.warning("enrolment with %s failed: %s", self.settings.enrol_url, error)
                self._report("failing", str(error))
                self._stop.wait(pause if retryable else LONGEST_RETRY_S)
                pause = min(pause * 2, LONGEST_RETRY_S)
                continue
            log.info("enrolled with the hub as %s", credentials.device_id)
            self._report("ok", "enrolled")
            self._password = credentials.password
            return

    # --- Companion ---

    def start(self) -> None:
        """Begin enrolling in the background."""
        self._thread.start()

    def attach_wake(self, wake: Callable[[], None]) -> None:
        """Hand the agent's wake to the uplink, once enrolment has built it (edge.agent)."""
        self._wake = wake
        if self.uplink is not None:
            self.uplink.attach_wake(wake)

    def sync_once(self) -> int:
        """The uplink's step once enrolled; nothing before."""
        if self.uplink is None:
            if self._password is None:
                return 0
            self.uplink = self.build(self._password)
            if self._wake is not None:  # acks wake the agent, as for a node enrolled before
                self.uplink.attach_wake(self._wake)
            self.uplink.start()
        return self.uplink.sync_once()

    def close(self) -> None:
        """Stop enrolling, or stop the uplink."""
        self._stop.set()
        if self._thread.is_alive():
            # Enrolment may be writing the node's health: the store closes after this.
            self._thread.join(timeout=ENROL_JOIN_S)
        if self.uplink is not None:
            self.uplink.close()
