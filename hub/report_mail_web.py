"""The account's own page for monthly report e-mails: ``/account/reports``.

Whoever is logged in sees and changes their own subscription only (the route names no
account): a checkbox "E-mail me each of my halls' monthly report" and the address. The
form is a plain POST with the session's CSRF token (:mod:`hub.login_web` refuses one
without it before this view runs), works with JavaScript off, and answers a bad address
with the page again (400), the error summary and the field's own message saying what
was wrong (:func:`hub.report_mail.check_address`); a saved choice redirects (303) to the
page saying what was saved. Without a mail server (``mail=False``) the checkbox is
disabled and the page says that the hub cannot send e-mail yet; ticking it anyway is
refused. An address may be kept without the monthly reports; an empty one clears it.
The page lists the account's latest report mails: when each went, or that it waits for
the mail server and why.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hub.login_web import require_account
from hub.report_mail import BadAddress, ReportMailRecords, check_address
from hub.store import DeviceRecords
from presentation.report_month import parse_month

LOG_LINES = 12
"""Report mails listed on the page, newest first."""
NO_MAIL = (
    "This hub has no mail server set up yet, so it cannot e-mail reports: ask the council IoT team"
)


class SubscriptionStore(ReportMailRecords, DeviceRecords, Protocol):
    """What the page uses of the hub store: the subscription, and the halls' names."""


def report_mail_blueprint(
    store: Callable[[], SubscriptionStore],
    *,
    mail: bool,
    clock: Callable[[], float],
    timezone: str = "Europe/London",
) -> Blueprint:
    """The subscription page over the request's hub store; ``mail``: a mail server is set."""
    blueprint = Blueprint("report_mail", __name__)
    zone = ZoneInfo(timezone)

    @blueprint.route("/account/reports", methods=["GET", "POST"])
    def subscription() -> ResponseReturnValue:
        account = require_account()
        email, monthly = store().report_subscription(account.username)
        error, field = "", ""
        if request.method == "POST":
            monthly = request.form.get("monthly") == "yes"
            email = request.form.get("email", "")
            try:
                if monthly and not mail:
                    field = "monthly"
                    raise BadAddress(NO_MAIL)
                field = "email"
                kept = check_address(email) if monthly or email.strip() else ""
            except BadAddress as refusal:
                error = str(refusal)
            else:
                store().set_report_subscription(
                    account.username, kept, monthly, int(clock() * 1_000_000)
                )
                return redirect(url_for("report_mail.subscription", saved="yes"), 303)
        values: dict[str, Any] = {
            "email": email,
            "monthly": monthly,
            "mail": mail,
            "error": error,
            "field": field,
            "saved": not error and request.args.get("saved") == "yes",
            "halls": _halls(store(), account.halls) if not account.is_team else None,
            "no_mail": NO_MAIL,
            "sent": _sent(store(), account.username, zone, subscribed=monthly),
        }
        return render_template("report_mail.html", **values), 400 if error else 200

    return blueprint


def _sent(
    store: SubscriptionStore, username: str, zone: ZoneInfo, *, subscribed: bool
) -> list[str]:
    """The account's latest report mails in words, newest month first."""
    sites = {d.device_id: d.site for d in store.registered()}
    lines = []
    for mail in store.report_mail_log(username, limit=LOG_LINES):
        what = f"{parse_month(mail.month).label}, {sites.get(mail.device_id, mail.device_id)}"
        if mail.sent_at_us is not None:
            when = datetime.fromtimestamp(mail.sent_at_us / 1e6, zone)
            lines.append(f"{what}: sent {when.day} {when:%B %Y, %H:%M}")
        elif not subscribed:
            lines.append(f"{what}: not sent (you no longer get the monthly reports)")
        elif mail.refused_for_good:
            lines.append(
                f"{what}: not sent, the mail server refused the address (it said: "
                f"{mail.server_said[:200]}). Check it above: the hub tries again as soon as "
                "you change it, or in a day"
            )
        elif mail.error:
            lines.append(
                f"{what}: not sent yet, the hub tries again every few minutes (the mail "
                f"server could not take it: {mail.error[:200]})"
            )
        else:
            lines.append(f"{what}: being sent")
    return lines


def _halls(store: DeviceRecords, device_ids: tuple[str, ...]) -> list[str]:
    """The site names of a clerk's halls, by name."""
    sites = {d.device_id: d.site for d in store.registered() if not d.revoked}
    return sorted(sites[d] for d in device_ids if d in sites)
