"""The question box of the community page: ``GET /ask?q=…`` answered on the node itself.

A plain GET form, so it works with JavaScript off; the answer comes back in a full page
with a heading, and a link to the chart that shows the figures. Questions are parsed and
answered by :mod:`presentation.questions` from the node's own rollups, with no internet.
A missing question shows the box; an empty, over-long or control-character question gets
a 400 page that says what was wrong, with the box to try again.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue

from presentation.questions import (
    EXAMPLES,
    MAX_QUESTION_CHARS,
    Declined,
    Link,
    answer,
    parse,
    question_problem,
)
from web_local.context import current_site, open_store, page_settings

questions = Blueprint("questions", __name__)


def link_url(link: Link | None) -> str | None:
    """Where an answer's link points on this page, or None."""
    if link is None:
        return None
    if link.view == "busy_times":
        return url_for("pages.busy_times")
    if link.view == "home":
        return url_for("pages.home")
    if link.metric not in page_settings().public_metrics:
        return url_for("pages.trends")
    return url_for("pages.trend", sensor_id=link.sensor_id, metric=link.metric, period=link.period)


@questions.get("/ask")
def ask() -> ResponseReturnValue:
    """The question box, and the answer to the question in ``q`` if there is one."""
    if "q" not in request.args:
        return render_template("question.html", question="", examples=EXAMPLES, result=None)
    question = request.args.get("q", "")
    problem = question_problem(question)
    if problem is not None:
        shown = question if len(question) <= MAX_QUESTION_CHARS and question.isprintable() else ""
        page = render_template(
            "question.html", question=shown, examples=EXAMPLES, result=None, problem=problem
        )
        return page, 400
    settings = page_settings()
    now = current_site().now()
    intent = parse(question, now, settings.zone, settings.opening_hours)
    if isinstance(intent, Declined):
        result = {"declined": True, "text": intent.reason, "url": None}
    else:
        reply = answer(intent, open_store(), now, settings.zone)
        result = {"declined": reply.declined, "text": reply.text, "url": link_url(reply.link)}
    return render_template("question.html", question=question, examples=EXAMPLES, result=result)
