"""The monthly sender with real parts: a real SMTP server (aiosmtpd, as the alert tests),
real SQLite hub store files holding a node's November (delivered through ``store_batch``),
and PostgreSQL (``pg_cluster``). Each subscribed account gets its halls' PDF once, across
restarts, two senders at once and a mail server that was down; a clerk only their halls;
unsubscribing stops it."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from hub.config_downlink import build_config
from hub.notifiers import MailServer
from hub.report_sender import ReportSender, mail_server
from hub.settings import HubSettings
from hub.store_postgres import PostgresHubStore
from hub.store_sqlite import SqliteHubStore
from tests.hub import test_alerting
from tests.hub.web_support import PASSWORD, account, make_app
from tests.support.at_once import at_once
from tests.support.broker import free_port
from tests.support.hub_report_hall import deliver
from tests.support.report_hall import HALL, troubled_hall

# The alert tests' real SMTP server (aiosmtpd): the fixture, found by name, and its inbox.
smtp = test_alerting.smtp
Inbox = test_alerting.Inbox

DEC_7 = datetime(2026, 12, 7, 10, tzinfo=UTC).timestamp()
JAN_7 = datetime(2027, 1, 7, 10, tzinfo=UTC).timestamp()
HUB_URL = "https://hub.council.example:8443"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A hub store file with two halls' November (askrigg, reeth), a hall without readings
    (bainbridge), a clerk for each and the IoT team; copied afresh for each test."""
    root = tmp_path_factory.mktemp("sender")
    node = troubled_hall(root / "node.db")
    store = SqliteHubStore(root / "hub.db")
    for device, site in (
        ("askrigg", "Askrigg (registered)"),
        ("reeth", "Reeth Memorial Hall"),
        ("bainbridge", "Bainbridge Institute"),
    ):
        store.add_device(device, site)
    _, payload = build_config(1, {}, {"hall_name": HALL})
    store.save_config("askrigg", 1, payload.decode(), actor="clerk")
    deliver(node.path, store, "askrigg")
    deliver(node.path, store, "reeth")
    account(store, "clerk-askrigg", "clerk", ("askrigg", "bainbridge"))
    account(store, "clerk-reeth", "clerk", ("reeth",))
    account(store, "iot-team")
    store.close()
    return root


@pytest.fixture
def hub_db(filled, tmp_path):
    path = tmp_path / "hub.db"
    shutil.copy(filled / "hub.db", path)
    return path


@pytest.fixture
def store(hub_db):
    store = SqliteHubStore(hub_db)
    yield store
    store.close()


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sender_for(hub_db, port, clock, holder=""):
    return ReportSender(
        lambda: SqliteHubStore(hub_db),
        MailServer("127.0.0.1", port, "none"),
        "reports@council.example",
        hub_url=HUB_URL,
        holder=holder,
        clock=clock,
    )


def subscribe(store, username, email):
    store.set_report_subscription(username, email, True, 1)


def received(inbox) -> list[EmailMessage]:
    """The inbox's messages, read with the modern e-mail API (the alert tests' keeps them old)."""
    return [message_from_bytes(m.as_bytes(), policy=policy.default) for m in inbox.messages]


def mails(inbox):
    """(to, attachment's name) of each mail received, in order."""
    found = []
    for message in received(inbox):
        (attachment,) = message.iter_attachments()
        found.append((message["To"], attachment.get_filename()))
    return found


def pdf_text(tmp_path, data: bytes) -> str:
    path = tmp_path / "mailed.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.slow
def test_a_clerk_subscribed_through_the_page_gets_the_pdf_once_even_after_a_restart(
    tmp_path, store, hub_db, smtp
):
    controller, inbox = smtp
    client = make_app(tmp_path, store, report_mail=True).test_client()
    token = CSRF.search(client.get("/login").text).group(1)
    form = {"username": "clerk-askrigg", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 303
    token = CSRF.search(client.get("/account/reports").text).group(1)
    form = {"monthly": "yes", "email": "clerk@askrigg-hall.org.uk", "csrf_token": token}
    assert client.post("/account/reports", data=form).status_code == 303

    clock = Clock(DEC_7)
    result = sender_for(hub_db, controller.port, clock).round()
    assert (result.month.key, result.sent, result.failed) == ("2026-11", 1, 0)
    (message,) = received(inbox)
    assert message["To"] == "clerk@askrigg-hall.org.uk"
    assert message["From"] == "reports@council.example"
    assert message["Subject"] == f"{HALL}: monthly report for November 2026"
    assert message["Message-ID"] == (
        "<hallsense-report.2026-11.askrigg.clerk-askrigg@council.example>"
    )
    body = message.get_body(("plain",)).get_content()
    assert f"{HALL}'s monthly report for November 2026, attached as a PDF" in body
    assert f"{HUB_URL}/fleet/askrigg/report.html?month=2026-11" in body
    assert f"{HUB_URL}/account/reports" in body
    (attachment,) = message.iter_attachments()
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "hall-report-2026-11-askrigg.pdf"
    pdf = attachment.get_content()
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(tmp_path, pdf)
    assert HALL in text
    assert "November 2026" in text
    assert "Reeth" not in text
    # Again, and after a restart (a new sender, a new connection): nothing more.
    assert sender_for(hub_db, controller.port, clock).round().sent == 0
    clock.now += 3600
    assert sender_for(hub_db, controller.port, clock).round().sent == 0
    assert len(inbox.messages) == 1
    assert store.report_mail_log() == [
        ("clerk-askrigg", "askrigg", "2026-11", int(DEC_7 * 1_000_000), "")
    ]


def test_each_account_gets_only_the_halls_it_may_see_that_have_a_report(store, hub_db, smtp):
    controller, inbox = smtp
    subscribe(store, "clerk-askrigg", "clerk@askrigg.example")  # askrigg and bainbridge
    subscribe(store, "clerk-reeth", "clerk@reeth.example")
    subscribe(store, "iot-team", "iot@council.example")
    result = sender_for(hub_db, controller.port, Clock(DEC_7)).round()
    assert (result.sent, result.failed) == (4, 0)
    assert sorted(mails(inbox)) == [
        ("clerk@askrigg.example", "hall-report-2026-11-askrigg.pdf"),
        ("clerk@reeth.example", "hall-report-2026-11-reeth.pdf"),
        ("iot@council.example", "hall-report-2026-11-askrigg.pdf"),
        ("iot@council.example", "hall-report-2026-11-reeth.pdf"),
    ]  # bainbridge has no readings: no report, no mail


def test_two_senders_at_once_send_each_mail_once(store, hub_db, smtp):
    controller, inbox = smtp
    subscribe(store, "clerk-askrigg", "clerk@askrigg.example")
    subscribe(store, "clerk-reeth", "clerk@reeth.example")
    senders = [sender_for(hub_db, controller.port, Clock(DEC_7), f"web-{n}") for n in (1, 2)]
    results = at_once(*(sender.round for sender in senders))
    assert sum(r.sent for r in results) == 2
    assert sorted(mails(inbox)) == [
        ("clerk@askrigg.example", "hall-report-2026-11-askrigg.pdf"),
        ("clerk@reeth.example", "hall-report-2026-11-reeth.pdf"),
    ]


def test_a_mail_server_that_is_down_gets_the_mail_later_exactly_once(store, hub_db, caplog):
    port = free_port()  # nothing listens there yet
    subscribe(store, "clerk-askrigg", "clerk@askrigg.example")
    clock = Clock(DEC_7)
    down = sender_for(hub_db, port, clock).round()
    assert (down.sent, down.failed) == (0, 1)
    assert "was not sent, will retry" in caplog.text
    assert "clerk@askrigg.example" not in caplog.text  # who, not where
    (waiting,) = store.report_mail_log()
    assert waiting[:4] == ("clerk-askrigg", "askrigg", "2026-11", None)
    assert "refused" in waiting.error  # why, for the account's page
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.now += 600
        sender = sender_for(hub_db, port, clock)
        assert sender.round().sent == 1
        assert sender.round().sent == 0
    finally:
        controller.stop()
    assert mails(inbox) == [("clerk@askrigg.example", "hall-report-2026-11-askrigg.pdf")]


class RefusesTypos(Inbox):
    """A mail server that has no mailbox for an address with "typo" in it (550)."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "typo" in address:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_an_address_refused_for_good_waits_a_day_or_a_new_address(store, hub_db, caplog):
    inbox = RefusesTypos()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        subscribe(store, "clerk-askrigg", "clerk@typo.askrigg.example")
        clock = Clock(DEC_7)
        first = sender_for(hub_db, controller.port, clock).round()
        assert (first.sent, first.failed) == (0, 1)
        assert "in a day or when the address changes" in caplog.text
        (waiting,) = store.report_mail_log()
        assert "550" in waiting.error  # what the page shows the clerk
        assert waiting.refused_for_good  # and the page knows it for a refusal
        clock.now += 600  # the next check, and the one before a day is up: not tried
        assert sender_for(hub_db, controller.port, clock).round().failed == 0
        clock.now = DEC_7 + 86_400 - 1
        assert sender_for(hub_db, controller.port, clock).round().failed == 0
        clock.now = DEC_7 + 86_400  # a day on: tried again (the server may have a mailbox now)
        assert sender_for(hub_db, controller.port, clock).round().failed == 1
        clock.now += 600
        store.set_report_subscription("clerk-askrigg", "clerk@askrigg.example", True, 3)
        assert sender_for(hub_db, controller.port, clock).round().sent == 1  # at once
    finally:
        controller.stop()
    assert mails(inbox) == [("clerk@askrigg.example", "hall-report-2026-11-askrigg.pdf")]


def test_a_mail_server_busy_for_now_is_tried_at_the_next_check():
    import smtplib

    from hub.report_sender import refused_for_good

    assert not refused_for_good(smtplib.SMTPRecipientsRefused({"a@x": (450, b"busy")}))
    assert refused_for_good(smtplib.SMTPRecipientsRefused({"a@x": (550, b"no such user")}))
    assert not refused_for_good(
        smtplib.SMTPRecipientsRefused({"a@x": (550, b""), "b@x": (451, b"")})
    )
    assert refused_for_good(smtplib.SMTPDataError(554, b"rejected"))
    assert not refused_for_good(smtplib.SMTPDataError(421, b"closing"))
    assert not refused_for_good(ConnectionRefusedError())


def test_unsubscribing_stops_the_next_months_mail(store, hub_db, smtp):
    controller, inbox = smtp
    subscribe(store, "clerk-reeth", "clerk@reeth.example")
    assert sender_for(hub_db, controller.port, Clock(DEC_7)).round().sent == 1
    store.set_report_subscription("clerk-reeth", "clerk@reeth.example", False, 2)
    january = sender_for(hub_db, controller.port, Clock(JAN_7))
    assert january.round().sent == 0  # December has readings, but nobody wants it
    subscribe(store, "clerk-reeth", "clerk@reeth.example")  # the control: ticked again
    assert january.round().sent == 1
    assert mails(inbox) == [
        ("clerk@reeth.example", "hall-report-2026-11-reeth.pdf"),
        ("clerk@reeth.example", "hall-report-2026-12-reeth.pdf"),
    ]


def test_a_hall_waits_for_its_node_after_the_month_ends(store, hub_db, smtp):
    controller, inbox = smtp
    subscribe(store, "clerk-reeth", "clerk@reeth.example")
    ended = datetime(2026, 12, 1, 0, 30, tzinfo=UTC).timestamp()  # November over 30 min ago
    last_heard = datetime(2026, 11, 30, 23, 50, tzinfo=UTC).timestamp()
    store._run("UPDATE devices SET last_seen_us = ?", (int(last_heard * 1e6),))
    clock = Clock(ended)
    sender = sender_for(hub_db, controller.port, clock)
    assert sender.round().sent == 0  # the node has not been heard from since
    store.record_status("reeth", True, '{"v": 1, "state": "online"}', int(ended * 1e6) - 10**6)
    assert sender.round().sent == 1
    store._run("UPDATE report_mails SET month = '2026-10'")  # as if November were not sent
    store._run("UPDATE devices SET last_seen_us = ?", (int(last_heard * 1e6),))
    clock.now += 86_400 - 1800 - 1  # a day after the month ended, less a second
    assert sender.round().sent == 0
    clock.now += 1  # a day: it goes, heard from or not
    assert sender.round().sent == 1
    assert mails(inbox) == [("clerk@reeth.example", "hall-report-2026-11-reeth.pdf")] * 2


def test_the_alerts_mail_server_is_the_reports_and_none_without_a_sender_address():
    assert mail_server(HubSettings(hub_store="x.db")) is None
    assert mail_server(HubSettings(hub_store="x.db", alert_smtp_host="mail.example")) is None
    server = mail_server(
        HubSettings(
            hub_store="x.db",
            alert_smtp_host="mail.example",
            alert_smtp_port=465,
            alert_smtp_security="tls",
            alert_smtp_username="hub",
            alert_smtp_password="not-to-be-seen",  # noqa: S106 - a test's
            alert_email_from="hub@council.example",
        )
    )
    assert (server.host, server.port, server.security) == ("mail.example", 465, "tls")
    assert "not-to-be-seen" not in repr(server)
    (problem,) = HubSettings(hub_store="x.db", hub_url="hub.council.example").check()
    assert problem == ("hub_url", "'hub.council.example' is not a http:// or https:// URI")
    assert HubSettings(hub_store="x.db", hub_url=HUB_URL).check() == []


@pytest.mark.slow
def test_two_senders_on_postgresql_send_each_mail_once(pg_cluster, filled, smtp):
    controller, inbox = smtp
    url = pg_cluster.new_database()
    store = PostgresHubStore(url)
    try:
        store.add_device("askrigg", "Askrigg Village Hall")
        deliver(filled / "node.db", store, "askrigg")
        account(store, "clerk-askrigg", "clerk", ("askrigg",))
        subscribe(store, "clerk-askrigg", "clerk@askrigg.example")
        senders = [
            ReportSender(
                lambda: PostgresHubStore(url),
                MailServer("127.0.0.1", controller.port, "none"),
                "reports@council.example",
                hub_url=HUB_URL,
                clock=Clock(DEC_7),
            )
            for _ in range(2)
        ]
        results = at_once(*(sender.round for sender in senders))
        assert sum(r.sent for r in results) == 1
        assert senders[0].round().sent == 0  # and after a restart, none again
        assert mails(inbox) == [("clerk@askrigg.example", "hall-report-2026-11-askrigg.pdf")]
        assert [row[:3] for row in store.report_mail_log()] == [
            ("clerk-askrigg", "askrigg", "2026-11")
        ]
    finally:
        store.close()


def test_hub_web_starts_the_sender_only_with_a_mail_server(tmp_path):
    from hallsense.cli_hub_web import send_reports

    stop = threading.Event()
    path = str(tmp_path / "hub.db")
    SqliteHubStore(tmp_path / "hub.db").close()
    assert not send_reports(HubSettings(hub_store=path), "https://hub.example", stop)
    settings = HubSettings(
        hub_store=path,
        alert_smtp_host="127.0.0.1",
        alert_smtp_port=free_port(),
        alert_smtp_security="none",
        alert_email_from="hub@council.example",
        report_mail_check_s=1,
    )
    assert send_reports(settings, "https://hub.example", stop)
    (thread,) = [t for t in threading.enumerate() if t.name == "report-mail"]
    stop.set()
    thread.join(10)
    assert not thread.is_alive()
