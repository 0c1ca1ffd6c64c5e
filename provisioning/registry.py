"""The device registry provisioning works on, names that are safe to keep, and device ids.

The hub store implements :class:`DeviceRegistry`: ``hallsense provision`` registers,
revokes, deletes and asks rotation of devices through it, and enrolment and rotation
read it (each through the narrowest part it needs: :class:`DeviceLookup`,
:class:`RotationRegistry`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol

from hub_sync.topics import check_device_id
from hub_sync.untrusted_text import CONTROL_CHARACTER
from hub_sync.wire_errors import ProtocolError

MAX_DEVICE_ID = 32

_LINE_BREAKS = "\u2028\u2029"
"""Unicode's line and paragraph separators: not control characters, but line breaks to
``str.splitlines`` and to anything that reads a file line by line."""

_CHARACTER_NAMES = {
    "\0": "NUL",
    "\t": "tab",
    "\n": "line feed",
    "\r": "carriage return",
    "\x1b": "escape",
    "\x7f": "delete",
    "\x85": "next line",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
}


class UnsafeName(ProtocolError, ValueError):
    """A name (a site, a location, a host name …) holding a character no file may get."""


def check_name(field: str, value: str) -> str:
    """``value`` if it can go into a settings file, a label or the registry as it is.

    Names reach ``.env`` files, the printed label, the installer's README and the hub's
    pages. A control character (C0, C1, DEL) or a line break could add lines to any of
    them or hide what is printed; a lone surrogate (undecodable bytes on the command line)
    cannot be written as UTF-8 at all. Everything else, quotes, ``$``, ``#``, backslashes
    and any other Unicode, is kept exactly.

    Args:
        field: what the value is, as the user gave it, e.g. ``--site``.
        value: the name.

    Raises:
        UnsafeName: naming ``field``, the character and where it is.
    """
    for position, character in enumerate(value, 1):
        surrogate = "\ud800" <= character <= "\udfff"
        if surrogate or character in _LINE_BREAKS or CONTROL_CHARACTER.match(character):
            name = "not UTF-8" if surrogate else _CHARACTER_NAMES.get(character)
            code = f"U+{ord(character):04X}"
            raise UnsafeName(
                f"{field} holds the character {f'{code} ({name})' if name else code} at "
                f"position {position} of {value!r}: names must be UTF-8 text without "
                "control characters or line breaks"
            )
    return value


class RegistryDevice(Protocol):
    """What enrolment and rotation read of one registered device."""

    @property
    def device_id(self) -> str: ...  # noqa: D102

    @property
    def revoked(self) -> bool: ...  # noqa: D102

    @property
    def rotation_requested(self) -> bool:
        """A new broker password has been asked for and not yet confirmed."""
        ...


class RegisteredDeviceLike(Protocol):
    """What provisioning reads of a registered device in the list of them."""

    @property
    def device_id(self) -> str: ...  # noqa: D102

    @property
    def site(self) -> str: ...  # noqa: D102

    @property
    def location(self) -> str: ...  # noqa: D102

    @property
    def revoked(self) -> bool: ...  # noqa: D102

    @property
    def last_seen_us(self) -> int | None: ...  # noqa: D102

    @property
    def rotation_requested_us(self) -> int | None:
        """When a new broker password was asked for, until the device confirms it."""
        ...


class DeviceLookup(Protocol):
    """The one question enrolment asks of the registry."""

    def device(self, device_id: str) -> RegistryDevice | None:
        """The registered device, or None."""
        ...


class RotationRegistry(DeviceLookup, Protocol):
    """The registry's part in rotating a device's broker password."""

    def finish_rotation(self, device_id: str, *, actor: str = "hallsense") -> None:
        """Clear the device's rotation request and record it."""
        ...


class DeviceRegistry(RotationRegistry, Protocol):
    """Who may send readings: registered, revoked and deleted devices, with an audit trail."""

    def add_device(
        self, device_id: str, name: str, *, location: str = "", actor: str = "hallsense"
    ) -> RegistryDevice:
        """Register (or re-register) a device: its first registration time stays."""
        ...

    def registered(self) -> Sequence[RegisteredDeviceLike]:
        """Every registered device."""
        ...

    def revoke_device(self, device_id: str, *, actor: str = "hallsense") -> bool:
        """Refuse the device from now on; False if unknown."""
        ...

    def request_rotation(self, device_id: str, *, actor: str = "hallsense") -> bool:
        """Ask the device for a new broker password; False if unknown or revoked."""
        ...

    def delete_device(self, device_id: str, *, with_data: bool, actor: str = "hallsense") -> int:
        """Revoke and, with ``with_data``, delete the device and its readings; returns them.

        Raises:
            KeyError: no such device (the hub store's ``UnknownDevice``).
        """
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
