"""The wire's format version and the bounds every message is checked against before use."""

from __future__ import annotations

FORMAT_VERSION = 1
"""The version of every payload format: readings, ack, status and config."""

MAX_BATCH_READINGS = 10_000
"""Readings in one batch at most."""
MAX_PAYLOAD_BYTES = 256 * 1024
"""A readings payload on the wire at most (compressed)."""
MAX_DECODED_BYTES = 4 * 1024 * 1024
"""A batch's body once decompressed at most: a small payload cannot unpack to a bomb."""
MAX_SCALE = 9
"""Values are sent as integers / 10^scale when exact at a scale up to this."""
MAX_TEXT_BYTES = 64
"""Sensor ids, metric names and units at most, in UTF-8 bytes."""
MAX_QUALITY = 2**31 - 1
"""Quality flags at most: a signed 32-bit column in both hub stores."""
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
"""Timestamps are signed 64-bit microseconds; counts and revisions at most INT64_MAX."""

MAX_STATUS_BYTES = 16 * 1024
"""A status message at most."""
MAX_CONFIG_BYTES = 64 * 1024
"""A config message at most."""
MAX_JSON_DEPTH = 8
"""Nesting of arrays and objects in any JSON message at most (the deepest needs 3)."""
MAX_NUMBER_CHARS = 24
"""Characters of one JSON number at most (a 64-bit integer needs 20)."""
MAX_STATUS_TEXT = 500
"""Characters of a status's text field at most."""
MAX_STATUS_LIST = 64
"""Entries of a status's ``dropped`` list at most."""
