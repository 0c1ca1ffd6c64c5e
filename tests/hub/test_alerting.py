"""Alerts: once per incident and once on recovery, by a real local SMTP server and a real
local webhook receiver; a failing receiver gets it later, exactly once; a restart neither
repeats nor forgets."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import threading
from dataclasses import replace
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from aiosmtpd.controller import Controller

from hub.alerting import AlertMonitor
from hub.notifiers import SIGNATURE_HEADER, EmailNotifier, WebhookNotifier
from hub.store import DeviceState
from tests.support.broker import free_port

MINUTE = 60_000_000
T0 = 1_795_000_000_000_000


class Inbox:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


class Receiver(BaseHTTPRequestHandler):
    fail_first: ClassVar[int] = 0
    received: ClassVar[list] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(500)
            self.end_headers()
            return
        Receiver.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Receiver.received = []
    Receiver.fail_first = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", Receiver
    server.shutdown()
    server.server_close()
    thread.join(5)


def node(online, seen_us, status=None):
    return DeviceState(
        "askrigg", "Askrigg Village Hall", online, seen_us, 10, (), 0, json.dumps(status or {})
    )


def test_an_outage_gets_one_email_and_one_recovery_by_real_smtp(tmp_path, smtp):
    controller, inbox = smtp
    mail = EmailNotifier(
        "127.0.0.1", controller.port, "hub@council.example", ("iot@council.example",), "none"
    )
    monitor = AlertMonitor(tmp_path / "alerts.json", [mail], after_s=300)
    last_seen = T0
    for minute in range(0, 60, 5):  # an hour offline, checked every five minutes
        monitor.check([node(False, last_seen)], T0 + minute * MINUTE)
        monitor.deliver()
    (alert,) = inbox.messages
    assert alert["Subject"] == "[hallsense] Askrigg Village Hall (askrigg): offline"
    assert "Offline for" in alert.get_payload()
    for minute in range(60, 80, 5):  # back, and well
        monitor.check([node(True, T0 + minute * MINUTE)], T0 + minute * MINUTE)
        monitor.deliver()
    assert len(inbox.messages) == 2
    assert inbox.messages[1]["Subject"].endswith(": recovered")
    assert stat.S_IMODE((tmp_path / "alerts.json").stat().st_mode) == 0o600


def test_a_short_blip_sends_nothing(tmp_path, webhook):
    url, receiver = webhook
    monitor = AlertMonitor(tmp_path / "alerts.json", [WebhookNotifier(url)], after_s=600)
    failing = {"v": 1, "state": "online", "last_error": "scd-1: no reply"}
    monitor.check([node(True, T0, failing)], T0)
    monitor.check([node(True, T0 + 5 * MINUTE, failing)], T0 + 5 * MINUTE)
    monitor.check([node(True, T0 + 6 * MINUTE)], T0 + 6 * MINUTE)  # cleared in 6 minutes
    monitor.deliver()
    assert receiver.received == []


def test_a_webhook_that_fails_twice_still_gets_it_exactly_once_and_signed(tmp_path, webhook):
    url, receiver = webhook
    receiver.fail_first = 2
    hook = WebhookNotifier(url, secret="shared-secret")  # noqa: S106 - a test's secret
    state = tmp_path / "alerts.json"
    failing = {"v": 1, "state": "online", "last_error": "scd-1: no reply"}
    monitor = AlertMonitor(state, [hook], after_s=0)
    monitor.check([node(True, T0, failing)], T0)
    assert monitor.deliver() == 1
    # The hub restarts: the new monitor neither forgets the notice nor the incident.
    monitor = AlertMonitor(state, [hook], after_s=0)
    assert monitor.deliver() == 1
    assert monitor.deliver() == 0
    monitor.check([node(True, T0 + MINUTE, failing)], T0 + MINUTE)
    monitor.deliver()
    ((headers, body),) = receiver.received
    notice = json.loads(body)
    assert (notice["kind"], notice["recovered"]) == ("sensor", False)
    assert "Sensor failing: scd-1: no reply" in notice["text"]
    expected = hmac.new(b"shared-secret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"sha256={expected}"


def test_bad_settings_are_named_at_start_up(tmp_path):
    with pytest.raises(ValueError, match="WEBHOOK_URL"):
        WebhookNotifier("ftp://example.org/hook")
    with pytest.raises(ValueError, match="SMTP_HOST"):
        EmailNotifier("", 587, "hub@council.example", ("iot@council.example",))
    with pytest.raises(ValueError, match="at least one notifier"):
        AlertMonitor(tmp_path / "alerts.json", [])
    assert "secret" not in repr(WebhookNotifier("https://x.example", secret="secret"))  # noqa: S106


def test_hub_web_builds_the_alerts_its_settings_ask_for(tmp_path, webhook):
    from hallsense.cli_hub_web import alert_monitor
    from hub.settings import HubSettings

    url, receiver = webhook
    hub_store = str(tmp_path / "hub.db")
    assert alert_monitor(HubSettings(hub_store=hub_store), tmp_path) is None
    monitor = alert_monitor(
        HubSettings(hub_store=hub_store, alert_webhook_url=url, alert_after_s=0), tmp_path
    )
    assert [n.name for n in monitor.notifiers] == ["webhook"]
    monitor.check([node(False, T0)], T0 + 20 * MINUTE)
    monitor.deliver()
    assert len(receiver.received) == 1
    with pytest.raises(ValueError, match="EMAIL_FROM"):
        alert_monitor(HubSettings(hub_store=hub_store, alert_smtp_host="mail.example"), tmp_path)
    # A mail server for the monthly reports only: no alert is e-mailed, none is refused.
    reports_only = HubSettings(
        hub_store=hub_store, alert_smtp_host="mail.example", alert_email_from="hub@x.example"
    )
    assert alert_monitor(reports_only, tmp_path) is None
    with_webhook = replace(reports_only, alert_webhook_url=url)
    assert [n.name for n in alert_monitor(with_webhook, tmp_path).notifiers] == ["webhook"]
    both = replace(with_webhook, alert_email_to="iot@x.example")
    assert [n.name for n in alert_monitor(both, tmp_path).notifiers] == ["email", "webhook"]


def test_two_hub_web_processes_sharing_the_state_alert_once(tmp_path, webhook):
    url, receiver = webhook
    state = tmp_path / "alerts.json"
    first = AlertMonitor(state, [WebhookNotifier(url)], after_s=0)
    second = AlertMonitor(state, [WebhookNotifier(url)], after_s=0)
    offline = [node(False, T0)]
    for minute in (20, 21, 22):
        first.round(offline, T0 + minute * MINUTE)
        second.round(offline, T0 + minute * MINUTE)
    assert len(receiver.received) == 1


def test_a_device_not_yet_installed_alerts_nobody(tmp_path, webhook):
    """Registered today, installed next week: listed on the fleet page, not an incident."""
    url, receiver = webhook
    monitor = AlertMonitor(tmp_path / "alerts.json", [WebhookNotifier(url)], after_s=0)
    for minute in range(0, 60 * 24 * 7, 60 * 6):
        monitor.check([node(False, None)], T0 + minute * MINUTE)
    monitor.deliver()
    assert receiver.received == []
