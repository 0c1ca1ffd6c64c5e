"""The monthly sender: each subscribed account gets each of its halls' report, once.

Every ``report_mail_check_s`` (``HALLSENSE_REPORT_MAIL_CHECK_S``) a round looks at the
last month that has ended in the hub's time zone (``HALLSENSE_TIMEZONE``, as the report
itself: :func:`presentation.report_month.last_complete_month`). For every account that
wants the monthly reports (:mod:`hub.report_mail`) and every registered, not revoked
hall it may see (a clerk their own halls, the IoT team every hall), it sends one mail
with that hall's PDF report, unless that (account, hall, month) was sent already. A hall
waits until its node has been heard from since the month ended, or for a day at most,
so readings taken late in the month have reached the hub; a hall without readings in
the month gets no mail. Only the last complete month is sent: an account that
subscribes mid-month gets last month's report at the next round, and the hub never
sends a backlog of older months.

Once across restarts and processes: the hub store keeps each mail
(:mod:`hub.store_sql_report_mail`). A sender *claims* it for ``claim_s``, sends, and
*marks* it sent; two senders never both hold a claim, and a mail marked sent is never
claimed again. A mail the server could not take (SMTP down, a 4xx) is released and tried
again at the next round, never lost; one it refused for good (a 5xx: a mistyped
address) waits a day, or until the account's address changes, rather than being tried
and logged every round. The one window left is a sender that dies
after the mail server took the mail and before the mark (milliseconds): its claim
expires and the mail goes again, with the same Message-ID.

It runs in ``hallsense hub web`` (a thread, as the alerts), not in the ``hub run``
workers: the web already holds what it needs and the workers do not (the report's PDF
code and the mail server the alerts use, the page where accounts subscribe, and its own
address for the link in the mail); and building a month's reports, a few seconds a
hall, must not take time from ingestion. Several ``hub web`` processes may run it at
once: the claims keep each mail to one. The mail server is the alerts' (the
``HALLSENSE_ALERT_SMTP_*`` settings, sent from ``HALLSENSE_ALERT_EMAIL_FROM``); without
it no report is mailed, and the subscription page says so.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from hub.login_store import AccountRow
from hub.logins import Account
from hub.notifiers import MailServer
from hub.report_mail import REFUSED_FOR_GOOD, ReportMailRecords, report_message
from hub.report_source import NoReport, ReportStore, hall_view, monthly_report, report_file_name
from hub.settings import HubSettings
from hub.store import DeviceState, HubStoreError, RegisteredDevice
from presentation.report_month import ReportMonth, last_complete_month
from presentation.report_pdf import report_pdf

log = logging.getLogger(__name__)

LATE_READINGS = timedelta(days=1)
"""How long after the month a hall's report waits for its node to be heard from."""


class SenderStore(ReportStore, ReportMailRecords, Protocol):
    """What the sender uses of the hub store: the report's queries, accounts, the mails."""

    def account(self, username: str) -> AccountRow | None: ...  # noqa: D102
    def close(self) -> None: ...  # noqa: D102


def mail_server(settings: HubSettings) -> MailServer | None:
    """The alerts' mail server, if the settings name one and a sender address; else None."""
    if not settings.alert_smtp_host or not settings.alert_email_from:
        return None
    return MailServer(
        settings.alert_smtp_host,
        settings.alert_smtp_port,
        settings.alert_smtp_security,
        settings.alert_smtp_username,
        settings.alert_smtp_password,
    )


RETRY_REFUSED_S = 86_400.0
"""How long a mail the server refused for good (a 5xx: no such mailbox, a mistyped
address) waits before it is tried again, unless the account's address changes first."""


def refused_for_good(error: BaseException) -> bool:
    """Whether the mail server refused the mail permanently (SMTP 5xx), not for now."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    return isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600


@dataclass(frozen=True)
class RoundResult:
    """What one round did."""

    month: ReportMonth
    sent: int = 0
    failed: int = 0


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def waited_enough(
    state: DeviceState | None, month: ReportMonth, zone: ZoneInfo, now: datetime
) -> bool:
    """Whether the hall's report may go: its node heard since the month ended, or a day on."""
    _, end = month.bounds(zone)
    last_seen_us = state.last_seen_us if state is not None else None
    return (last_seen_us is not None and last_seen_us >= _us(end)) or now >= end + LATE_READINGS


class ReportSender:
    """Rounds of monthly report mails, each over a hub store connection of its own."""

    def __init__(
        self,
        open_store: Callable[[], SenderStore],
        server: MailServer,
        sender: str,
        *,
        hub_url: str,
        timezone: str = "Europe/London",
        holder: str = "",
        claim_s: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.open_store = open_store
        self.server = server
        self.sender = sender
        self.hub_url = hub_url
        self.zone = ZoneInfo(timezone)
        self.holder = holder or f"reports-{uuid.uuid4().hex[:12]}"
        self.claim_us = int(claim_s * 1_000_000)
        self.clock = clock

    def round(self) -> RoundResult:
        """Send what is due now; raises HubStoreError if the store is away."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        month = last_complete_month(now, self.zone)
        store = self.open_store()
        try:
            return self._round(store, month, now)
        finally:
            store.close()

    def _round(self, store: SenderStore, month: ReportMonth, now: datetime) -> RoundResult:
        subscribers = store.report_subscribers()
        if not subscribers:
            return RoundResult(month)
        done = store.sent_report_mails(month.key)
        devices = [d for d in store.registered() if not d.revoked]
        fleet = {state.device_id: state for state in store.fleet()}
        pdfs: dict[str, tuple[str, bytes] | None] = {}
        sent = failed = 0
        for username, address in subscribers:
            row = store.account(username)
            if row is None or row.disabled:
                continue
            account = Account(row.username, row.role, row.halls)
            for device in devices:
                device_id = device.device_id
                if not account.may_see(device_id) or (username, device_id) in done:
                    continue
                if not waited_enough(fleet.get(device_id), month, self.zone, now):
                    continue
                if device_id not in pdfs:
                    pdfs[device_id] = self._report(store, device, month, now)
                made = pdfs[device_id]
                if made is None:
                    continue
                outcome = self._send(store, username, address, device_id, month, made)
                sent += outcome is True
                failed += outcome is False
        return RoundResult(month, sent, failed)

    def _report(
        self, store: SenderStore, device: RegisteredDevice, month: ReportMonth, now: datetime
    ) -> tuple[str, bytes] | None:
        """(hall name, PDF) of the hall's report, or None when it has none for the month."""
        hall = hall_view(store, device)
        try:
            made = monthly_report(store, hall, month, zone=self.zone, now=now)
        except NoReport as error:
            log.debug("no %s report for %s: %s", month.key, device.device_id, error)
            return None
        return hall.hall_name, report_pdf(made, created=now)

    def _send(
        self,
        store: SenderStore,
        username: str,
        address: str,
        device_id: str,
        month: ReportMonth,
        made: tuple[str, bytes],
    ) -> bool | None:
        """Claim, send and mark one mail: True sent, False failed, None another has it."""
        at_us = int(self.clock() * 1_000_000)
        key = (username, device_id, month.key)
        if not store.claim_report_mail(*key, self.holder, at_us + self.claim_us, at_us):
            return None
        hall_name, pdf = made
        message = report_message(
            sender=self.sender,
            to=address,
            username=username,
            device_id=device_id,
            hall_name=hall_name,
            month=month,
            pdf=pdf,
            file_name=report_file_name(device_id, month, "pdf"),
            hub_url=self.hub_url,
        )
        try:
            self.server.send(message)
        except (OSError, ValueError) as error:
            for_good = refused_for_good(error)
            log.warning(
                "the %s report of %s for %s was not sent, will retry %s: %s",
                month.key,
                device_id,
                username,
                "in a day or when the address changes" if for_good else "at the next check",
                error,
            )
            retry_at = self.clock() + (RETRY_REFUSED_S if for_good else 0)
            kept = f"{REFUSED_FOR_GOOD}{error}" if for_good else str(error)
            store.release_report_mail(*key, self.holder, kept, int(retry_at * 1e6))
            return False
        store.mark_report_mail_sent(*key, self.holder, address, int(self.clock() * 1e6))
        log.info("sent the %s report of %s to %s", month.key, device_id, username)
        return True

    def run(self, stop: threading.Event, interval_s: float) -> None:
        """A round now and every ``interval_s`` until ``stop``; never raises."""
        while True:
            try:
                self.round()
            except HubStoreError as error:
                log.error("report mail round not finished, trying again later: %s", error)
            except Exception:
                log.exception("report mail round failed; trying again later")
            if stop.wait(interval_s):
                return
