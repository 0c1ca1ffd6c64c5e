"""schemathesis helpers shared by the node's and the hub's API tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemathesis.config import SchemathesisConfig


def all_checks_config() -> SchemathesisConfig:
    """What `schemathesis run --checks all` sets: every check on, every generation mode."""
    config = SchemathesisConfig()
    config.projects.override.checks.update(included_check_names=["all"])
    return config


def to_just_after_from(case: Any) -> Any:
    """Keep positive cases inside the documented rule the schema language cannot state.

    OpenAPI cannot say that ``to`` must not be before ``from`` or how long a range may be
    (the descriptions do). A schema-valid ``from`` with a ``to`` drawn independently is
    nearly always a range the API rightly refuses, which ``positive_data_acceptance`` would
    count as a failure; so in positive cases ``to`` is set a little after ``from``.
    Negative cases are left as drawn.
    """
    meta = case.meta
    query = case.query
    if meta is None or not meta.generation.mode.is_positive or not query or "from" not in query:
        return case
    query = dict(query)
    start = query["from"]
    if len(start) == len("2026-11-03"):
        query["to"] = start  # the whole local day
    else:
        moment = datetime.fromisoformat(start.upper())
        try:
            query["to"] = (moment + timedelta(minutes=5)).isoformat()
        except OverflowError:
            query["from"] = (moment - timedelta(minutes=5)).isoformat()
            query["to"] = start
    case.query = query
    return case
