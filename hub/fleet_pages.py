"""The fleet pages: every node at a glance, one node in detail, a hall's settings.

For the council IoT team (every node) and parish clerks (their own halls; any other
answers 404, as if it did not exist):

- ``/fleet``: one row per node: site, online or offline, last seen, backlog, clock,
  software version, its update (state, version, and why it failed), rejected batches,
  and what needs attention in words; ``?attention=1`` keeps only the nodes that need it.
  For the team, the running (or last) staged rollout of a release and its progress
  (:mod:`hub.rollouts`).
- ``/fleet/<device>``: the node's figures, its last 24 hours of hourly means, the
  config the hub last sent and whether it took effect, and its events (the registry's
  audit trail).
- ``/fleet/<device>/settings``: the hall's name, opening hours, sensor labels and
  public metrics, sent to the node over the config downlink (see :mod:`hub.hall_settings`).
- ``/metrics``: the fleet for Prometheus (:mod:`hub.metrics`), with an API token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest, NotFound

from hub.attention import DEFAULT_RULES, AttentionRules, concerns
from hub.hall_settings import (
    ConfigSource,
    HallSettingsError,
    apply_edit,
    checked_edit,
    hall_settings,
    in_effect_public_metrics,
    offered_metrics,
    sensor_words,
)
from hub.login_web import require_account, require_team
from hub.metrics import CONTENT_TYPE, exposition, node_status
from hub.rollouts import extent_words, fleet_nodes, progress, share_words, update_words
from hub.store import (
    AuditEntry,
    DeadLetter,
    DeviceState,
    HourlyRollup,
    RegisteredDevice,
    Rollout,
)
from hub_sync.release_contract import UPDATE_FAILURES
from presentation.vocabulary import metric_words
from presentation.words import duration_words

UNKNOWN = "not known"
"""Shown for a figure the node has not reported."""
FAILURES_SHOWN = 20
"""Failed halls of a rollout listed with their reasons; the rest are counted."""


class FleetStore(ConfigSource, Protocol):
    """What the fleet pages read of the hub store."""

    def fleet(self) -> Sequence[DeviceState]: ...  # noqa: D102
    def registered(self) -> Sequence[RegisteredDevice]: ...  # noqa: D102
    def audit_log(self, device_id: str | None = None) -> list[AuditEntry]: ...  # noqa: D102
    def dead_letters(  # noqa: D102
        self, device_id: str | None = None, limit: int = 50
    ) -> list[DeadLetter]: ...
    def hourly(  # noqa: D102
        self, device_ids: Sequence[str], start_us: int, end_us: int, metrics: Sequence[str] = ()
    ) -> list[HourlyRollup]: ...
    def latest_rollout(self) -> Rollout | None: ...  # noqa: D102
    def sent_releases(self) -> dict[str, str]: ...  # noqa: D102


def _when(us: int | None, zone: ZoneInfo) -> str:
    if us is None:
        return "never"
    return datetime.fromtimestamp(us / 1e6, zone).strftime("%d %b %Y, %H:%M")


def rollout_summary(
    rollout: Rollout | None,
    fleet: Sequence[DeviceState],
    registered: Sequence[RegisteredDevice],
    sent: dict[str, str],
    zone: ZoneInfo,
) -> dict[str, Any] | None:
    """The running or last rollout as the fleet page shows it, or None before the first."""
    if rollout is None:
        return None
    done = progress(rollout, fleet_nodes(fleet, registered, sent))
    return {
        "id": rollout.rollout_id,
        "version": rollout.version,
        "state": rollout.state,
        "reason": rollout.reason,
        "reaches": extent_words(rollout),
        "stop_share": share_words(rollout.stop_share),
        "started_by": rollout.started_by,
        "started": _when(rollout.started_at_us, zone),
        "ended_by": rollout.ended_by,
        "ended": _when(rollout.ended_at_us, zone),
        "counts": [
            ("Targeted", len(done.targeted)),
            ("Pending", len(done.pending)),
            ("Updating", len(done.updating)),
            ("Updated", len(done.updated)),
            ("Failed", len(done.failed)),
        ],
        "failures": done.failures[:FAILURES_SHOWN],
        "more_failures": max(0, len(done.failures) - FAILURES_SHOWN),
    }


def fleet_blueprint(
    store: Callable[[], FleetStore],
    send_config: Callable[[str, bytes, str], None],
    *,
    timezone: str = "Europe/London",
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    rules: AttentionRules = DEFAULT_RULES,
) -> Blueprint:
    """The fleet pages over the request's hub store.

    ``send_config(device_id, payload, actor)`` publishes a node's config and records it.
    """
    zone = ZoneInfo(timezone)
    blueprint = Blueprint("fleet", __name__)

    def check(allowed: set[str]) -> None:
        unknown = sorted(set(request.args) - allowed)
        if unknown:
            raise BadRequest(description=f"{unknown[0][:40]}: not a parameter of this page")

    def visible_device(device_id: str) -> RegisteredDevice:
        account = require_account()
        for device in store().registered():
            if device.device_id == device_id and account.may_see(device_id):
                return device
        raise NotFound(description=f"no node {device_id[:40]!r} here")

    @blueprint.get("/fleet")
    def fleet() -> str:
        check({"attention", "page"})
        only = request.args.get("attention", "0")
        if only not in ("0", "1"):
            raise BadRequest(description="attention: use 1 to show only nodes that need it, or 0")
        account = require_account()
        now_us = int(now().timestamp() * 1e6)
        registered = store().registered()
        sites = {d.device_id: d for d in registered}
        states = store().fleet()
        listed = []
        for state in states:
            if not account.may_see(state.device_id):
                continue
            device = sites.get(state.device_id)
            if device is not None and device.revoked:
                continue
            found = concerns(state, now_us, rules)
            if only == "1" and not found:
                continue
            listed.append((state, found))
        page, pages = page_of(request.args.get("page"), len(listed))
        first = (page - 1) * PAGE_ROWS
        rows = [
            fleet_row(state, found, now_us) for state, found in listed[first : first + PAGE_ROWS]
        ]
        rollout = None
        if account.is_team:  # a rollout is the whole fleet's: a clerk sees their halls
            rollout = rollout_summary(
                store().latest_rollout(), states, registered, store().sent_releases(), zone
            )
        return render_template(
            "fleet.html",
            rows=rows,
            total=len(listed),
            first=first + 1,
            page=page,
            pages=pages,
            only=only == "1",
            attention_count=sum(1 for _, found in listed if found),
            rollout=rollout,
        )

    @blueprint.get("/fleet/<device_id>")
    def node(device_id: str) -> str:
        check(set())
        device = visible_device(device_id)
        now_us = int(now().timestamp() * 1e6)
        state = next((s for s in store().fleet() if s.device_id == device_id), None)
        status = node_status(state) if state else {}
        day = store().hourly([device_id], now_us - 24 * 3600 * 1_000_000, now_us)
        newest: dict[tuple[str, str], HourlyRollup] = {}
        for rollup in day:
            newest[(rollup.sensor_id, rollup.metric)] = rollup
        settings = hall_settings(store(), device_id)
        events = [
            {"when": _when(e.at_us, zone), "who": e.actor, "what": e.action, "detail": e.detail}
            for e in reversed(store().audit_log(device_id)[-20:])
        ]
        refusals = [
            {
                "reason": r.reason,
                "count": r.count,
                "first": _when(r.first_at_us, zone),
                "last": _when(r.last_at_us, zone),
                "detail": r.detail,
            }
            for r in (state.refusals if state else ())
        ]
        kept = [
            {
                "when": _when(d.last_at_us, zone),
                "topic": d.topic,
                "size": d.size,
                "times": d.times,
                "reason": d.reason,
                "start": d.payload[:48].hex(" "),
            }
            for d in store().dead_letters(device_id, limit=20)
        ]
        return render_template(
            "node.html",
            device=device,
            state=state,
            status=status,
            concerns=concerns(state, now_us, rules) if state else [],
            latest=sorted(newest.values(), key=lambda r: (r.metric, r.sensor_id)),
            settings=settings,
            sent_at=_when(settings.sent_at_us, zone),
            applied_at=_when(settings.applied_at_us, zone),
            seen=_when(state.last_seen_us if state else None, zone),
            link=link_words(status),
            events=events,
            refusals=refusals,
            kept=kept,
            hour=lambda us: datetime.fromtimestamp(us / 1e6, zone).strftime("%H:%M"),
        )

    @blueprint.route("/fleet/<device_id>/settings", methods=["GET", "POST"])
    def settings(device_id: str) -> Any:
        check(set())
        device = visible_device(device_id)
        current = hall_settings(store(), device_id)
        measures: dict[str, set[str]] = {}
        for rollup in store().hourly([device_id], 0, 2**62):
            measures.setdefault(rollup.sensor_id, set()).add(rollup.metric)
        for sensor in current.page.get("sensor_labels", {}):
            measures.setdefault(sensor, set())
        sensors = sorted(measures)
        metrics = offered_metrics(current)
        error, field, status = "", "", 200
        form: dict[str, Any] = {
            "hall_name": current.page.get("hall_name", device.site),
            "opening_hours": current.page.get("opening_hours", ""),
            "labels": dict(current.page.get("sensor_labels", {})),
            "public": set(in_effect_public_metrics(current)),
        }
        if request.method == "POST":
            account = require_account()
            try:
                changes = checked_edit(request.form, sensors, metrics)
                apply_edit(
                    current,
                    changes,
                    lambda device, payload: send_config(device, payload, account.username),
                )
            except HallSettingsError as refusal:
                error, field, status = refusal.message, refusal.field, 400
                form = {
                    "hall_name": request.form.get("hall_name", ""),
                    "opening_hours": request.form.get("opening_hours", ""),
                    "labels": {s: request.form.get(f"label:{s}", "") for s in sensors},
                    "public": {m for m in metrics if request.form.get(f"public:{m}")},
                }
            except OSError as failure:  # ConnectionError from send_config
                error = f"the hub could not reach the broker ({failure}); nothing was changed"
                status = 503
            else:
                return redirect(url_for("fleet.node", device_id=device_id), 303)
        return (
            render_template(
                "settings.html",
                device=device,
                sensors=sensors,
                sensor_words={s: sensor_words(s, measures[s]) for s in sensors},
                metrics=metrics,
                metric_words={m: metric_words(m) for m in metrics},
                form=form,
                error=error,
                field=field,
                settings=current,
            ),
            status,
        )

    @blueprint.get("/metrics")
    def metrics() -> Response:
        check(set())
        require_team()
        return Response(exposition(store().fleet()), content_type=CONTENT_TYPE)

    return blueprint


PAGE_ROWS = 500
"""Nodes on one page of ``/fleet``: a county's halls on one, a country's over several (the
whole list of 10,000 was 3.5 MB of HTML and took a third of a second to make)."""


def page_of(asked: str | None, rows: int) -> tuple[int, int]:
    """(the page asked for, how many pages ``rows`` make), from the ``page`` parameter.

    Raises:
        BadRequest: not a whole number from 1 to the last page, saying which are.
    """
    pages = max(1, -(-rows // PAGE_ROWS))
    if asked is None:
        return 1, pages
    if not (asked.isascii() and asked.isdigit() and len(asked) <= 6 and 1 <= int(asked) <= pages):
        raise BadRequest(
            description=f"page: a whole number from 1 to {pages} "
            f"({PAGE_ROWS} nodes a page), not {asked[:20]!r}"
        )
    return int(asked), pages


def fleet_row(state: DeviceState, found: Sequence[Any], now_us: int) -> dict[str, Any]:
    """One node's row of ``/fleet``, in words."""
    status = node_status(state)
    backlog = status.get("backlog")
    clock = status.get("clock_synchronised")
    return {
        "device_id": state.device_id,
        "site": state.name,
        "online": state.online,
        "seen": "never"
        if state.last_seen_us is None
        else f"{duration_words(now_us / 1e6 - state.last_seen_us / 1e6)} ago",
        "backlog": f"{backlog:,}" if isinstance(backlog, int) else UNKNOWN,
        "clock": "synchronised"
        if clock is True
        else "not synchronised"
        if clock is False
        else UNKNOWN,
        "version": str(status.get("version", UNKNOWN))[:20],
        "update_words": update_words(status) or UNKNOWN,
        "update_failed": status.get("update_state") in UPDATE_FAILURES,
        "rejected": state.rejected_batches,
        "concerns": found,
    }


def link_words(status: dict[str, Any]) -> str:
    """How fresh the hub's copy of a node's readings can be, from its status's link profile."""
    profile, window_s = status.get("link_profile"), status.get("batch_window_s")
    if not isinstance(profile, str) or not isinstance(window_s, int) or not profile.isalnum():
        return "not known"
    within = "a minute" if window_s <= 60 else duration_words(window_s)
    return f"{profile} link: readings reach the hub within {within}"
