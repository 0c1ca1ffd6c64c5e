"""Device accounts in the broker's password file: added, removed, checked and rotated.

Added one at a time or many at once; each change rewrites the file atomically under the
provisioning state's lock. Reload the broker for a change to count.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from hub_sync.topics import check_device_id
from provisioning.passwords import (
    mosquitto_hash,
    new_password,
    password_file_text,
    read_password_file,
    replace_private_file,
    verify,
)
from provisioning.state import AccountError, ProvisioningState, broker_owner

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _locked(state: ProvisioningState) -> Iterator[None]:
    fd = os.open(state.layout.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def device_accounts(state: ProvisioningState) -> list[str]:
    """The device accounts in the password file, sorted."""
    hashed = read_password_file(state.layout.password_path)
    return sorted(user for user in hashed if not user.startswith("_"))


def add_device_account(
    state: ProvisioningState, device_id: str, password: str | None = None, *, replace: bool = False
) -> str:
    """Give ``device_id`` a broker account; returns its password (made here when not given).

    The password file is rewritten atomically; reload the broker for it to count.

    Args:
        state: the provisioning state.
        device_id: the device, which is also the account's user name.
        password: its password; a fresh strong one by default.
        replace: allow replacing an existing account's password (rotation).

    Raises:
        DeviceIdError: ``device_id`` is not a valid device id.
        AccountError: the account exists and ``replace`` is false.
    """
    given = {device_id: password} if password is not None else None
    made = add_device_accounts(state, [device_id], given, replace=replace)
    log.info("broker account for %s %s", device_id, "replaced" if replace else "added")
    return made[device_id]


def add_device_accounts(
    state: ProvisioningState,
    device_ids: Sequence[str],
    passwords: Mapping[str, str] | None = None,
    *,
    replace: bool = False,
) -> dict[str, str]:
    """Give many devices broker accounts with one read and one write of the password file.

    However many: a county's halls, or the fleet bench's ten thousand.

    Returns each device's password: the one in ``passwords``, else a fresh strong one.
    Nothing is written unless every device can have its account.

    Raises:
        DeviceIdError: a device id is not valid (naming it).
        AccountError: an account exists and ``replace`` is false, or an id is given twice.
    """
    for device_id in device_ids:
        check_device_id(device_id)
    twice = sorted(d for d, n in Counter(device_ids).items() if n > 1)
    if twice:
        raise AccountError(f"device ids given more than once: {', '.join(twice)}")
    given = passwords or {}
    made = {d: given[d] if d in given else new_password() for d in device_ids}
    with _locked(state):
        path = state.layout.password_path
        hashed = read_password_file(path)
        if not replace:
            taken = sorted(d for d in device_ids if d in hashed)
            if taken:
                raise AccountError(
                    f"device {taken[0]!r} has a broker account already"
                    + (f" (and {len(taken) - 1} more)" if len(taken) > 1 else "")
                )
        hashed.update((d, mosquitto_hash(pw)) for d, pw in made.items())
        owner = broker_owner(state.settings.run_as)
        replace_private_file(path, password_file_text(hashed), owner=owner)
    return made


def remove_device_account(state: ProvisioningState, device_id: str) -> bool:
    """Remove ``device_id``'s broker account; False if it had none. Reload the broker after."""
    check_device_id(device_id)
    with _locked(state):
        path = state.layout.password_path
        hashed = read_password_file(path)
        if hashed.pop(device_id, None) is None:
            return False
        owner = broker_owner(state.settings.run_as)
        replace_private_file(path, password_file_text(hashed), owner=owner)
    log.info("broker account for %s removed", device_id)
    return True


def device_password_matches(state: ProvisioningState, device_id: str, password: str) -> bool:
    """Whether ``password`` is the device's broker password now (False for no account)."""
    hashed = read_password_file(state.layout.password_path).get(device_id)
    return hashed is not None and verify(password, hashed)


def set_device_password_hash(state: ProvisioningState, device_id: str, hashed: str) -> None:
    """Put an already hashed password in force for ``device_id`` (rotation's last step).

    Reload the broker after it.

    Raises:
        AccountError: the device has no broker account (it was revoked meanwhile).
    """
    check_device_id(device_id)
    with _locked(state):
        path = state.layout.password_path
        accounts = read_password_file(path)
        if device_id not in accounts:
            raise AccountError(f"device {device_id!r} has no broker account")
        accounts[device_id] = hashed
        owner = broker_owner(state.settings.run_as)
        replace_private_file(path, password_file_text(accounts), owner=owner)
    log.info("broker account for %s given its rotated password", device_id)
