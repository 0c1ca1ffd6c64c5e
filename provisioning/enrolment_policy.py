"""Who may enrol and what credentials the hub issues: a broker password made at that moment.

:func:`issue_credentials_for` joins the three parts enrolment needs: the device registry
(the hub store), the provisioning state (the broker's password file and the council CA)
and the running broker (reloaded by SIGHUP). ``hallsense hub web`` passes what it returns
to the hub's web app as the enrolment blueprint's credential callback.

Decisions:

- The password is made at enrolment, with :mod:`secrets` (via
  :func:`provisioning.state.add_device_account`), and only its PBKDF2-SHA512 hash goes to
  the broker's password file; the plaintext exists in this process's memory and in the
  TLS answer to the node, and nowhere else: no plaintext password ever rests on the
  hub's disk, and none is ever logged.
- Each enrolment replaces the device's password (``replace=True``): a device that
  enrols again (a lost answer, a new SD card, a new token) gets a new password and the
  old one stops working at the reload.
- Only a device registered in the hub store and not revoked may enrol; any other is
  refused with :class:`hub_sync.enrolment_contract.EnrolmentRefused` (403), and its token
  stays unused.
- After the password file changes, the broker is reloaded (SIGHUP) through its pid file
  or pid. With neither configured the reload is skipped and the log says so once: the
  operator then reloads Mosquitto themselves, and until then a new node's connection is
  refused (it keeps its readings and retries). A configured reload that fails fails
  the enrolment (500): the token stays usable and the node tries again later, instead
  of leaving with a password the broker does not know. Mosquitto applies a reload a
  moment after the signal, so a node's first connection may need a retry, as any does.
- Enrolments are serialised by a lock: they are rare, and the registry object need not
  be safe for threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub_sync.enrolment_contract import CREDENTIAL_FIELDS, EnrolmentRefused
from provisioning.device_accounts import add_device_account
from provisioning.enrolment_tokens import TokenStore
from provisioning.registry import DeviceLookup, RotationRegistry
from provisioning.rotation import CredentialRotation
from provisioning.state import ProvisioningState, reload_broker

log = logging.getLogger(__name__)

ENROLMENT_DIR = "enrolment"
"""Under the provisioning state directory: the one-time tokens (``provision add-device``
issues them, ``hub web`` redeems them)."""


def enrolment_tokens(state: ProvisioningState) -> TokenStore:
    """The enrolment token store of a provisioning state (``DIR/enrolment/``)."""
    return TokenStore(state.layout.root / ENROLMENT_DIR)


def broker_reloader(
    *, pid: int | None = None, pid_file: str | Path | None = None
) -> Callable[[], None]:
    """A function that reloads the broker (SIGHUP) after its password file changed.

    With neither ``pid`` nor ``pid_file`` it does nothing but say once, in the log, that
    Mosquitto must be reloaded by hand for new passwords to count.
    """
    warned = False

    def reload() -> None:
        nonlocal warned
        if pid is None and pid_file is None:
            if not warned:
                log.warning(
                    "no broker pid file configured (--broker-pid-file): new device "
                    "passwords count only after Mosquitto is reloaded "
                    "(systemctl reload mosquitto)"
                )
                warned = True
            return
        reload_broker(pid=pid, pid_file=pid_file)

    return reload


def credential_rotation_for(
    state: ProvisioningState,
    registry: RotationRegistry,
    *,
    pid_file: str | Path | None = None,
    pid: int | None = None,
) -> CredentialRotation:
    """The hub's side of ``/rotate`` over a provisioning state, the registry and the broker."""
    return CredentialRotation(state, registry, broker_reloader(pid=pid, pid_file=pid_file))


def issue_credentials_for(
    state: ProvisioningState,
    registry: DeviceLookup,
    *,
    broker_host: str,
    pid_file: str | Path | None = None,
    pid: int | None = None,
) -> Callable[[str], dict[str, Any]]:
    """The credential callback of ``/enroll`` for a provisioning state.

    ``issue(device_id)`` checks the registry, gives the device a fresh broker password
    (the account's old one, if any, is replaced), reloads the broker and returns the
    node's credentials: ``device_id``, ``broker_host``, ``broker_port`` (the devices'
    TLS listener), ``username`` and ``client_id`` (both the device id: the listener binds
    the client id to the user name), ``password`` and ``ca_pem`` (the council CA).

    Args:
        state: the provisioning state (password file, CA, the devices' TLS port).
        registry: the device registry; ``registry.device(device_id)`` must be a device
            that is not revoked.
        broker_host: the broker's host name as nodes reach it; it must be a name in the
            broker's server certificate.
        pid_file: Mosquitto's pid file, to reload it with SIGHUP.
        pid: Mosquitto's pid, instead of ``pid_file``.

    Raises:
        ValueError: ``broker_host`` is empty.
        OSError: the state's CA certificate cannot be read.
    """
    if not broker_host:
        raise ValueError("the broker's host name for nodes must not be empty")
    ca_pem = state.layout.ca_cert.read_text(encoding="ascii")
    port = state.settings.port_tls
    lock = threading.Lock()
    reload = broker_reloader(pid=pid, pid_file=pid_file)

    def issue(device_id: str) -> dict[str, Any]:
        with lock:
            device = registry.device(device_id)
            if device is None:
                raise EnrolmentRefused(f"device {device_id!r} is not registered at this hub")
            if device.revoked:
                raise EnrolmentRefused(
                    f"device {device_id!r} has been revoked; the council IoT team must "
                    "register it again before it can enrol"
                )
            password = add_device_account(state, device_id, replace=True)
            reload()
        credentials: dict[str, Any] = {
            "device_id": device_id,
            "broker_host": broker_host,
            "broker_port": port,
            "username": device_id,
            "client_id": device_id,
            "password": password,
            "ca_pem": ca_pem,
        }
        missing = set(CREDENTIAL_FIELDS) - set(credentials)
        if missing:  # pragma: no cover - a guard against provisioning asking for more
            raise TypeError(f"credentials lack {sorted(missing)}")
        return credentials

    return issue
