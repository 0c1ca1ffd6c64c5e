"""Configure logging once per process: journald-friendly under systemd, timestamped otherwise."""

from __future__ import annotations

import logging
import os
import sys


def configure_logging(level: str = "INFO") -> None:
    """Send log records to stderr at ``level``.

    Under systemd (``JOURNAL_STREAM`` is set) journald adds the timestamp, so the format
    leaves it out; in a terminal each line starts with the time.
    """
    if os.environ.get("JOURNAL_STREAM"):
        fmt = "%(levelname)s %(name)s: %(message)s"
    else:
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # Libraries' warnings go through the same handler instead of raw to stderr.
    logging.captureWarnings(True)
