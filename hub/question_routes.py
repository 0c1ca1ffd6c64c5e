"""The question box on a hall's open-data page: ``GET /open-data/<slug>/ask?q=…``.

The hub's page for a hall is its open-data page (:mod:`hub.open_data`), which everyone
may read, so the box sits there and keeps that page's rules exactly: public, only for a
hall that publishes something (any other answers 404, as if it did not exist), and only
from the metrics its clerk made public, hourly. A question that needs a metric the hall
does not publish is declined, saying which; a question about "now" is declined too (open
data is hourly: finer detail stays behind the login) with a link to the hall's page,
which shows the latest hour.

Questions are parsed and answered by :mod:`presentation.questions`, the node's own code,
from the hub store's hourly rollups (:class:`hub.question_source.HallRollups`), in the
hub's time zone and with the opening hours the hub last sent the hall. A plain GET form
(no script); the answer is a page with a heading and a link to the chart on the hall's
page that shows the figures. An empty, over-long or control-character question gets a
400 page that says what was wrong, with the box to try again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, NotFound

from hub.hall_settings import hall_settings
from hub.open_data import PERIODS, OpenDataStore, PublishedHall, published_halls
from hub.question_source import HallRollups
from presentation.insight_basics import PEOPLE_METRICS
from presentation.questions import (
    EXAMPLES,
    MAX_QUESTION_CHARS,
    Answer,
    Declined,
    Intent,
    Link,
    answer,
    parse,
    question_problem,
)
from presentation.questions.answer import NAMES


def needed_metrics(intent: Intent) -> tuple[tuple[str, ...], ...]:
    """The metrics an answer reads: each inner tuple is satisfied by any one of its metrics."""
    if intent.metric is None:
        return ()
    if intent.metric == "air":
        needs: list[tuple[str, ...]] = [("co2",), ("pm2_5",)]
    elif intent.metric == "people":
        needs = [PEOPLE_METRICS]
    else:
        needs = [(intent.metric,)]
    if intent.kind == "comfort":
        needs.append(("occupancy",))  # "while the hall was in use"
    return tuple(needs)


def _readings_words(choices: tuple[str, ...]) -> str:
    if choices == PEOPLE_METRICS:
        return "door counts"
    if choices == ("occupancy",):
        return "occupancy readings (when the hall is in use)"
    return f"{NAMES.get(choices[0], choices[0])} readings"


def unpublished(intent: Intent, hall: PublishedHall) -> str | None:
    """Why the hall's open data cannot answer ``intent``, in a sentence, or None."""
    for choices in needed_metrics(intent):
        if not any(m in hall.metrics for m in choices):
            return (
                f"{hall.site} does not publish its {_readings_words(choices)}, "
                "so I can't answer that here."
            )
    return None


def _people_metric(hall: PublishedHall) -> str | None:
    return next((m for m in ("footfall", "entries") if m in hall.metrics), None)


def reach(start: datetime, now: datetime) -> str:
    """The hall page's shortest period (day, week, month, year) reaching back to ``start``."""
    for key in ("day", "week", "month"):
        if now - start <= PERIODS[key] + timedelta(minutes=1):
            return key
    return "year"


def link_url(link: Link | None, hall: PublishedHall, period: str = "month") -> str | None:
    """Where an answer's link points on the hub: the chart's section of the hall's page.

    A trend keeps its own period; the busy times (which the hub has no page of) become
    the people chart over ``period``.
    """
    if link is None:
        return None
    if link.view == "home":
        return url_for("open_data.hall", slug=hall.slug)
    metric = link.metric
    period = link.period or period
    if link.view == "busy_times" or metric in PEOPLE_METRICS:
        metric = _people_metric(hall)
    if metric is None or metric not in hall.metrics:
        return url_for("open_data.hall", slug=hall.slug, period=period)
    return url_for("open_data.hall", slug=hall.slug, period=period, _anchor=f"heading-{metric}")


def _opening_hours(store: OpenDataStore, device_ids: Sequence[str]) -> str:
    for device_id in device_ids:
        hours = hall_settings(store, device_id).page.get("opening_hours")
        if isinstance(hours, str) and hours.strip():
            return hours
    return ""


def _reply(
    question: str, hall: PublishedHall, store: OpenDataStore, now: datetime, zone: ZoneInfo
) -> dict[str, Any]:
    """The answer as the page shows it: declined or not, its words and its link."""
    intent = parse(question, now, zone, _opening_hours(store, hall.device_ids))
    if isinstance(intent, Declined):
        return {"declined": True, "text": intent.reason, "url": None}
    refusal = unpublished(intent, hall)
    if refusal is not None:
        return {"declined": True, "text": refusal, "url": None}
    if intent.kind == "current":
        text = (
            "The hub's open data is hourly, so it cannot say what the reading is right now; "
            f"{hall.site}'s page here shows the average of the latest hour."
        )
        return {"declined": True, "text": text, "url": url_for("open_data.hall", slug=hall.slug)}
    reply: Answer = answer(intent, HallRollups(store, hall.device_ids, hall.metrics), now, zone)
    period = reach(intent.period.start, now) if intent.period else "month"
    url = link_url(reply.link, hall, period)
    return {"declined": reply.declined, "text": reply.text, "url": url}


def hall_questions_blueprint(
    store: Callable[[], OpenDataStore],
    *,
    timezone: str = "Europe/London",
    clock: Callable[[], float] = time.time,
) -> Blueprint:
    """The question box of the halls' open-data pages, over the request's hub store.

    ``clock`` is the hub's clock (seconds since 1970): "yesterday" counts from it.
    """
    zone = ZoneInfo(timezone)
    blueprint = Blueprint("hall_questions", __name__)

    @blueprint.get("/open-data/<slug>/ask")
    def ask(slug: str) -> ResponseReturnValue:
        """The box, and the answer to the question in ``q`` if there is one."""
        unknown = sorted(set(request.args) - {"q"})
        if unknown:
            raise BadRequest(description=f"{unknown[0][:40]}: not a parameter here (use q)")
        if len(request.args.getlist("q")) > 1:
            raise BadRequest(description="q: give it once")
        hall = next((h for h in published_halls(store()) if h.slug == slug), None)
        if hall is None:
            raise NotFound(description=f"no hall {slug[:40]!r} publishes open data here")
        page = {"hall": hall, "examples": EXAMPLES, "result": None, "problem": None}
        if "q" not in request.args:
            return render_template("hall_question.html", question="", **page)
        question = request.args["q"]
        problem = question_problem(question)
        if problem is not None:
            shown = (
                question if len(question) <= MAX_QUESTION_CHARS and question.isprintable() else ""
            )
            page["problem"] = problem
            return render_template("hall_question.html", question=shown, **page), 400
        page["result"] = _reply(question, hall, store(), datetime.fromtimestamp(clock(), UTC), zone)
        return render_template("hall_question.html", question=question, **page)

    return blueprint
