"""Staged rollouts of a release: which halls, how far along, and when to stop. Pure logic.

A rollout lets one release (a PEP 440 version the council published) reach the fleet in
stages, as Mender's phased deployments or AWS Greengrass's rollouts do, simply enough
for a council with no IT staff. A node updates itself only to the release its config
from the hub allows (``NodeConfig.release``); :mod:`hub.rollout_keeper` sends that
config, and this module decides everything it does, from the rollout and the nodes'
statuses alone (no I/O).

**Which halls** (:func:`targets`): the halls named (``--hall``), then a percentage of the
others. Each other hall draws a number from a hash of (rollout id, device id) and is in
when its draw is under the percentage; so widening (a larger percentage, more named
halls) only ever adds halls, never swaps one for another, and registering or revoking a
hall changes no other hall's place. The count is the percentage of the others on
average: on a fleet of 30, 10 % is about three halls; name halls to be sure of which.

**How far each hall is** (:func:`device_progress`), from its last status:

- *updated*: it runs the rollout's version (or a later one: it cannot go back to it);
- *failed*: its ``update_state`` is one of ``UPDATE_FAILURES`` (rolled back, refused,
  failed) about the rollout's version (``update_version``): a failure about another
  version does not count;
- *updating*: waiting, downloading, installing or checking (or updated, before it
  reports its new version) about the rollout's version;
- *pending*: none of these yet: it has not started.

**When it stops by itself** (:func:`should_stop`): when at least one hall has failed and
the failed make up at least the stop share (0.25 by default) of the halls that finished,
that is ``failed / (updated + failed) >= stop share``. One failure among the first three
updated halls (1 of 4, 25 %) stops a rollout at the default; so does a first hall that
fails before any has updated. Halls still updating are not counted until they finish.
When a rollout stops (by itself, by ``hub rollout stop``, or replaced by a new one), the
halls it allowed the release that have not started are told to hold (their release
cleared, :func:`holds`); those under way finish or fail on their own. A rollout of 100 %
is **completed** once every hall it targets runs the release; one with a failure below
the stop share stays running until someone stops it or the hall recovers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.store import DeviceState, RegisteredDevice, Rollout
from hub_sync.release_contract import UPDATE_FAILURES, ReleaseFormatError, release_version

DEFAULT_STOP_SHARE = 0.25
"""A quarter of the halls that finished having failed stops a rollout."""

PENDING, UPDATING, UPDATED, FAILED = "pending", "updating", "updated", "failed"
UNDER_WAY = ("waiting", "downloading", "installing", "checking", "updated")
"""Update states of a hall working on a release that it does not run yet."""
FIRST_REASONS = 3
"""Failed halls whose reasons an alert quotes."""
REASON_CHARACTERS = 160


class RolloutError(ValueError):
    """A rollout that cannot be started or changed as asked, naming what is wrong."""

    def __init__(self, what: str, message: str) -> None:
        super().__init__(f"{what}: {message}")
        self.what = what
        self.message = message


@dataclass(frozen=True)
class Node:
    """One registered, unrevoked device as a rollout sees it."""

    device_id: str
    status: Mapping[str, Any] = field(default_factory=dict)
    """Its last status message ({} before the first)."""
    sent_release: str = ""
    """The release in the config the hub last sent it ("" for none: it holds)."""


def fleet_nodes(
    fleet: Sequence[DeviceState], registered: Sequence[RegisteredDevice], sent: Mapping[str, str]
) -> list[Node]:
    """Every registered device that is not revoked, with its status and sent release."""
    revoked = {device.device_id for device in registered if device.revoked}
    nodes = []
    for state in fleet:
        if state.device_id in revoked:
            continue
        try:
            status = json.loads(state.status) if state.status else {}
        except ValueError:
            status = {}
        nodes.append(
            Node(
                state.device_id,
                status if isinstance(status, dict) else {},
                sent.get(state.device_id, ""),
            )
        )
    return nodes


# --- which halls ---


def draw(rollout_id: int, device_id: str) -> int:
    """The device's number in this rollout, 0 to 2**64 - 1, the same every time."""
    digest = hashlib.sha256(f"{rollout_id}/{device_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def in_share(rollout_id: int, device_id: str, percent: int) -> bool:
    """Whether the device is in ``percent`` % of the fleet for this rollout."""
    return draw(rollout_id, device_id) * 100 < percent * 2**64


def targets(rollout: Rollout, device_ids: Iterable[str]) -> tuple[str, ...]:
    """The devices the rollout reaches: its named halls, then its share of the others.

    Named halls that are not in ``device_ids`` (revoked or deleted since) are left out.
    """
    fleet = set(device_ids)
    named = [device for device in rollout.halls if device in fleet]
    others = sorted(
        device
        for device in fleet - set(named)
        if in_share(rollout.rollout_id, device, rollout.percent)
    )
    return (*named, *others)


# --- how far along ---


def _version(text: str) -> Any:
    try:
        return release_version(text)
    except ReleaseFormatError:
        return None


def same_version(reported: object, version: str) -> bool:
    """Whether a version a node reported is ``version`` (1.5 is 1.5.0)."""
    if not isinstance(reported, str):
        return False
    ours, theirs = _version(version), _version(reported)
    return reported == version if ours is None or theirs is None else bool(theirs == ours)


def _at_or_past(reported: object, version: str) -> bool:
    if not isinstance(reported, str):
        return False
    ours, theirs = _version(version), _version(reported)
    return reported == version if ours is None or theirs is None else bool(theirs >= ours)


def device_progress(version: str, status: Mapping[str, Any]) -> str:
    """``pending``, ``updating``, ``updated`` or ``failed``: a hall's part in a rollout."""
    if _at_or_past(status.get("version"), version):
        return UPDATED
    if not same_version(status.get("update_version"), version):
        return PENDING
    state = status.get("update_state")
    if state in UPDATE_FAILURES:
        return FAILED
    if state in UNDER_WAY:
        return UPDATING
    return PENDING


def failure_words(node: Node) -> str:
    """Why the release failed on a hall, in its own words: ``askrigg: rolled back: …``."""
    state = str(node.status.get("update_state", ""))
    error = node.status.get("update_error")
    words = f"{node.device_id}: {state}"
    if isinstance(error, str) and error.strip():
        words += f": {' '.join(error.split())}"
    return words[:REASON_CHARACTERS]


@dataclass(frozen=True)
class Progress:
    """The targeted halls by how far each is, in the order :func:`targets` gives."""

    targeted: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    updating: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    """:func:`failure_words` of each failed hall."""

    @property
    def finished(self) -> int:
        """Halls that updated or failed."""
        return len(self.updated) + len(self.failed)


def progress(rollout: Rollout, nodes: Sequence[Node]) -> Progress:
    """How far each hall the rollout targets is."""
    by_id = {node.device_id: node for node in nodes}
    chosen = targets(rollout, by_id)
    groups: dict[str, list[str]] = {PENDING: [], UPDATING: [], UPDATED: [], FAILED: []}
    for device in chosen:
        groups[device_progress(rollout.version, by_id[device].status)].append(device)
    return Progress(
        chosen,
        tuple(groups[PENDING]),
        tuple(groups[UPDATING]),
        tuple(groups[UPDATED]),
        tuple(groups[FAILED]),
        tuple(failure_words(by_id[device]) for device in groups[FAILED]),
    )


# --- what to do ---


def share_words(fraction: float) -> str:
    """A share as a percentage for people: ``25 %``, ``12.5 %``."""
    return f"{round(fraction * 100, 1):g} %"


def should_stop(done: Progress, stop_share: float) -> bool:
    """The rule: at least one failed, and failed / (updated + failed) >= the stop share."""
    failed = len(done.failed)
    return failed >= 1 and failed / done.finished >= stop_share


def stop_reason(done: Progress, stop_share: float) -> str:
    """Why the rule stopped a rollout, in words."""
    failed, finished = len(done.failed), done.finished
    return (
        f"{failed} of the {finished} hall{'s' if finished != 1 else ''} that finished "
        f"failed ({share_words(failed / finished)}), at or over the stop share of "
        f"{share_words(stop_share)}"
    )


def alert_words(rollout: Rollout, done: Progress, reason: str) -> str:
    """What the IoT team is told when a rollout stopped by itself."""
    first = "\n".join(f"- {words}" for words in done.failures[:FIRST_REASONS])
    more = len(done.failures) - FIRST_REASONS
    if more > 0:
        first += f"\n- and {more} more"
    return (
        f"The rollout of release {rollout.version} (rollout {rollout.rollout_id}) stopped by "
        f"itself: {reason}.\n\nThe first reasons:\n{first}\n\nHalls that had not started "
        "hold where they are; halls under way finish or fail on their own."
    )


@dataclass(frozen=True)
class Step:
    """What the hub does next about a running rollout."""

    progress: Progress
    stop_reason: str = ""
    """Stop it, for this reason (then :func:`holds` says whom to tell)."""
    complete: bool = False
    send: tuple[str, ...] = ()
    """Targeted halls whose config does not yet allow the release."""


def next_step(rollout: Rollout, nodes: Sequence[Node]) -> Step:
    """Stop, complete, or send the release to the targeted halls not yet allowed it."""
    done = progress(rollout, nodes)
    if should_stop(done, rollout.stop_share):
        return Step(done, stop_reason=stop_reason(done, rollout.stop_share))
    if rollout.percent == 100 and len(done.updated) == len(done.targeted):
        return Step(done, complete=True)
    by_id = {node.device_id: node for node in nodes}
    return Step(
        done,
        send=tuple(
            d
            for d in done.targeted
            if by_id[d].sent_release != rollout.version and updates_itself(by_id[d])
        ),
    )


def updates_itself(node: Node) -> bool:
    """Whether the hall runs an updater: its status says how updates go (``update_state``).

    A node of a release from before updates would refuse a config that carries a release
    (an unknown field), hall settings and all, so it is never sent one; it stays pending
    until it is installed again from its bundle.
    """
    return "update_state" in node.status


def holds(stopped: Rollout, nodes: Sequence[Node], keep: Iterable[str] = ()) -> tuple[str, ...]:
    """Halls a stopped rollout allowed the release that have not started: to hold.

    ``keep``: halls another rollout, running now, is sending its own release to.
    """
    kept = set(keep)
    return tuple(
        node.device_id
        for node in nodes
        if node.sent_release == stopped.version
        and node.device_id not in kept
        and device_progress(stopped.version, node.status) == PENDING
    )


# --- what may be asked ---


def checked_version(text: str) -> str:
    """``text`` if it is a release version (PEP 440), else a RolloutError."""
    try:
        release_version(text)
    except ReleaseFormatError as error:
        raise RolloutError("VERSION", str(error)) from None
    return text


def check_extent(halls: Sequence[str], percent: int, known: Iterable[str]) -> None:
    """Check named halls are registered devices and the percentage is 0 to 100."""
    unknown = sorted(set(halls) - set(known))
    if unknown:
        which = ", ".join(unknown)
        verb = "is not a registered device" if len(unknown) == 1 else "are not registered devices"
        raise RolloutError("--hall", f"{which} {verb} (or revoked)")
    if not 0 <= percent <= 100:
        raise RolloutError("--percent", f"{percent} is not a percentage from 0 to 100")


def check_stop_share(stop_share: float) -> None:
    """Check the stop share is over 0 and at most 1."""
    if not 0 < stop_share <= 1:
        raise RolloutError(
            "--stop-share",
            f"{stop_share:g} is not a share over 0 and at most 1 (0.25 stops at a quarter)",
        )


def check_widening(running: Rollout, percent: int) -> None:
    """Refuse a percentage smaller than the rollout's: a rollout only widens."""
    if percent < running.percent:
        raise RolloutError(
            "--percent",
            f"rollout {running.rollout_id} reaches {running.percent} % of the others already; "
            "a rollout only widens (stop it to hold the halls that have not started)",
        )


def check_published(version: str, published: Mapping[str, str], where: str) -> str:
    """The version as the repository spells it (1.5 may be 1.5.0), if it is published.

    ``published``: architecture → the version its manifest names now. Nodes compare the
    release their config allows with their manifest's letter for letter.

    Raises:
        RolloutError: it is not the release of any architecture in the repository.
    """
    for found in published.values():
        if same_version(found, version):
            return found
    now = ", ".join(f"{arch} {found}" for arch, found in sorted(published.items()))
    raise RolloutError(
        "VERSION",
        f"{version} is not published in the release repository {where} "
        f"({'it has ' + now if now else 'nothing is published there yet'}): publish it with "
        "`hallsense provision release publish` first",
    )


# --- words ---


def extent_words(rollout: Rollout) -> str:
    """Whom a rollout reaches: ``askrigg, reeth and 10 % of the others``."""
    named = ", ".join(rollout.halls)
    if not named:
        return f"{rollout.percent} % of the halls"
    if rollout.percent == 0:
        return named
    return f"{named} and {rollout.percent} % of the others"


def update_words(status: Mapping[str, Any]) -> str:
    """A node's update state as the fleet page says it ("" before it reports one)."""
    state = status.get("update_state")
    if not isinstance(state, str) or not state:
        return ""
    about = status.get("update_version")
    version = f" {about}" if isinstance(about, str) and about and state != "idle" else ""
    words = f"{state}{version}"
    error = status.get("update_error")
    if state in UPDATE_FAILURES and isinstance(error, str) and error.strip():
        words += f": {' '.join(error.split())}"
    return words[:REASON_CHARACTERS]
