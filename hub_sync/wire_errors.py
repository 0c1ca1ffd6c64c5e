"""The errors of the wire: one class per way a message can be wrong, and whose readings it held."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchIdentity:
    """Whose readings a batch carries, as far as a payload could be read before it failed.

    ``runs``: the batch's sequence numbers as inclusive ranges, so a refusal can name
    exactly the readings the payload held (never readings of the gaps between).
    """

    device_id: str
    store_epoch: int
    runs: tuple[tuple[int, int], ...]


class ProtocolError(Exception):
    """Base of every error in what travels on the wire; a bad payload is rejected, not retried.

    ``identity`` is set when the error was found in a readings payload after its device,
    store epoch and sequence numbers had been read: the hub can then tell the node which
    readings it refuses.
    """

    identity: BatchIdentity | None = None


class TopicError(ProtocolError, ValueError):
    """A topic that is not exactly ``hallsense/v1/<device_id>/<kind>``."""


class DeviceIdError(ProtocolError, ValueError):
    """A device id that is not 1-32 lowercase letters, digits and hyphens."""


class UnsupportedVersion(ProtocolError, ValueError):
    """A payload in a format version this code does not know."""


class PayloadTooLarge(ProtocolError, ValueError):
    """A payload, or what it decompresses to, over the limits."""


class BatchTooLarge(ProtocolError, ValueError):
    """More readings in one batch than MAX_BATCH_READINGS."""


class MalformedPayload(ProtocolError, ValueError):
    """A payload that cannot be decoded: truncated, inconsistent, or not ours at all."""
