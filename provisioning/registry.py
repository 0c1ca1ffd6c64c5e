"""The device registry provisioning works on, and device ids made from site names.

The hub store implements :class:`DeviceRegistry`; provisioning needs nothing else of it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol

from hub_sync.protocol import ProtocolError, check_device_id

MAX_DEVICE_ID = 32


class RegisteredDeviceLike(Protocol):
    """What provisioning reads of a registered device."""

    @property
    def device_id(self) -> str: ...  # noqa: D102

    @property
    def site(self) -> str: ...  # noqa: D102

    @property
    def revoked(self) -> bool: ...  # noqa: D102

    @property
    def last_seen_us(self) -> int | None: ...  # noqa: D102


class DeviceRegistry(Protocol):
    """Who may send readings: registered, revoked and deleted devices, with an audit trail."""

    def add_device(
        self, device_id: str, name: str, *, location: str = "", actor: str = "hallsense"
    ) -> object:
        """Register (or re-register) a device."""
        ...

    def revoke_device(self, device_id: str, *, actor: str = "hallsense") -> bool:
        """Refuse the device from now on; False if unknown."""
        ...

    def request_rotation(self, device_id: str, *, actor: str = "hallsense") -> bool:
        """Ask the device for a new broker password; False if unknown or revoked."""
        ...

    def delete_device(self, device_id: str, *, with_data: bool, actor: str = "hallsense") -> int:
        """Revoke and, with ``with_data``, delete the device and its readings; returns them."""
        ...

    def registered(self) -> Sequence[RegisteredDeviceLike]:
        """Every registered device."""
        ...


def device_id_from_site(site: str, taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A device id made from a site's name: "Askrigg Village Hall" → "askrigg-village-hall".

    Lowercase ASCII letters, digits and hyphens, at most 32 characters, cut at a word
    where it can be; ``-2``, ``-3``… added when ``taken`` already has it.

    Raises:
        ProtocolError: the name has no letter or digit to make an id from.
    """
    ascii_name = unicodedata.normalize("NFKD", site).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_name.lower())
    if not words:
        raise ProtocolError(f"cannot make a device id from {site!r}: give one with --id")
    base = ""
    for word in words:
        candidate = f"{base}-{word}" if base else word
        if len(candidate) > MAX_DEVICE_ID:
            break
        base = candidate
    base = base or words[0][:MAX_DEVICE_ID]
    device_id, n = base, 1
    while device_id in taken:
        n += 1
        suffix = f"-{n}"
        device_id = base[: MAX_DEVICE_ID - len(suffix)].rstrip("-") + suffix
    check_device_id(device_id)
    return device_id
