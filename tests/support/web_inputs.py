"""Walkers that send every route of a Flask app extreme input, and judge what comes back.

Shared by the hub's and the hall page's input tests: fill each rule's path variables with
real and extreme values, build extreme query strings, and call an answer bad when it is a
500, a 400 that does not name the parameter, or a 4xx without a sentence.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

EXTREME_PATH = (
    "nowhere",
    "x" * 5000,
    "%00",
    "a%00b",
    "%ff",
    "%C3%A9",
    "-1",
    "9" * 400,
    "..%2F..%2Fetc%2Fpasswd",
    "%20",
)
"""Tried in every path variable of every route."""
GENERIC = (
    "",
    "-1",
    "9" * 400,
    "-" + "9" * 400,
    "1e309",
    "a%00b",
    "%ff",
    "%C0%AF",
    "x" * 10_000,
    "%C3%A9",
    "a,b,,c",
    "week%0D%0ALocation:%20/x",
)
"""Tried in every query parameter."""
SHARPEST = ("0001-01-01", "9999-12-31", "-" + "9" * 400, "a%00b", "%ff", "x" * 10_000)
"""The values tried on methods other than GET."""
VARIABLE = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def dates(today: str) -> tuple[str, ...]:
    """Extreme and malformed dates for ``from`` and ``to``, with ``today`` (YYYY-MM-DD)."""
    return (
        "0001-01-01",
        "9999-12-31",
        "0000-00-00",
        "2026-02-30",
        "99999-01-01",
        f"{today}T00:00:00Z",
        "0001-01-01T00:00:00%2B23:59",
        "0001-01-01T00:00:00-23:59",
        "9999-12-31T23:59:59-23:59",
        "9999-12-31T23:59:59%2B23:59",
        f"{today}T00:00:00",
    )


def ranges(early: str, late: str) -> tuple[str, ...]:
    """Extreme, reversed and repeated ranges, with two days (YYYY-MM-DD) of the data."""
    return (
        "from=0001-01-01&to=9999-12-31",
        "from=0001-01-01&to=0001-01-01",
        "from=9999-12-31&to=9999-12-31",
        "from=9999-12-31",
        "to=0001-01-01",
        f"from={late}&to={early}",
        f"from={late}T00:00:00Z&to={early}T23:59:59Z",
        "from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z",
        "from=9999-12-30T00:00:00Z&to=9999-12-31T23:59:59Z",
        f"from={early}&from={late}",
        f"to={early}&to={late}",
        "format=csv&format=senml",
    )


def urls(rule: Any, real: Mapping[str, str]) -> Iterator[str]:
    """The rule's URL with ``real`` values, then with each extreme value in each variable."""
    names = VARIABLE.findall(rule.rule)

    def fill(chosen: Mapping[str, str]) -> str:
        return VARIABLE.sub(lambda m: chosen[m.group(1)], rule.rule)

    values = {name: real[name] for name in names}
    yield fill(values)
    for name in names:
        for value in EXTREME_PATH:
            yield fill({**values, name: value})


def queries(
    parameters: Collection[str], *, thorough: bool, today: str, early: str, late: str
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """Query strings for ``parameters``, and what a 400 to each must name.

    ``thorough``: every generic value in every parameter and the dates in ``from`` and
    ``to``; otherwise the sharpest few everywhere. The ranges come when ``from``, ``to``
    or ``format`` is among the parameters.
    """
    for name in parameters:
        dated = name in ("from", "to")
        values = ((*dates(today), *GENERIC) if dated else GENERIC) if thorough else SHARPEST
        for value in values:
            yield f"{name}={value}", (name,)
        yield f"{name}=1&{name}=2", (name,)
    if set(parameters) & {"from", "to", "format"}:
        for query in ranges(early, late):
            yield query, ("from", "to", "format")


def message_of(answer: Any, sentence: re.Pattern[str]) -> str:
    """What an error answer says: the JSON ``message``, or the page's sentence."""
    if answer.status_code < 400:
        return ""  # not an error; and a download may not be text (the SQLite files)
    text = answer.get_data(as_text=True)
    if answer.is_json and text:
        return str(answer.json.get("message", text))
    found = sentence.search(text)
    return html.unescape(found.group(1) if found else text)


def problem(
    answer: Any, what: str, sentence: re.Pattern[str], names: tuple[str, ...] = ()
) -> str | None:
    """What is wrong with an answer to an extreme request (None: nothing)."""
    message = message_of(answer, sentence)
    answer.close()
    if answer.status_code >= 500:
        return f"{what}: {answer.status_code} {message[:200]}"
    named = any(re.search(rf"\b{name}\b", message) for name in names)
    if answer.status_code == 400 and names and not named:
        return f"{what}: 400 without naming {names}: {message[:200]}"
    said = message.strip() or answer.request.method == "HEAD"
    if 400 <= answer.status_code < 500 and ("Traceback" in message or not said):
        return f"{what}: {answer.status_code} without a sentence: {message[:200]}"
    return None


def report(problems: list[str | None]) -> None:
    """Fail listing every bad answer, if there is one."""
    found = [p for p in problems if p]
    assert not found, f"{len(found)} bad answers:\n" + "\n".join(found[:400])
