"""How alerts reach the council IoT team: email (SMTP) and a webhook.

- :class:`EmailNotifier`: one plain-text mail per notice through the council's mail
  server, with STARTTLS (port 587, the default), implicit TLS (465) or, for a lab only,
  plain SMTP; a user name and password when the server wants them.
- :class:`MailServer`: the SMTP connection itself, which the monthly report e-mails
  (:mod:`hub.report_sender`) share with the alerts.
- :class:`WebhookNotifier`: an HTTPS POST of the notice as JSON; with a secret, the
  header ``X-Hallsense-Signature: sha256=<hex>`` is the HMAC-SHA256 of the body under it,
  so the receiver can tell the hub sent it. Any answer but 2xx counts as not delivered.

Passwords and secrets never appear in logs or in a notifier's repr.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from typing import Literal

import requests

from hub.alerting import Notice

TIMEOUT_S = 15.0
SIGNATURE_HEADER = "X-Hallsense-Signature"


@dataclass(frozen=True)
class EmailNotifier:
    """Mail through an SMTP server."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str | None = None
    name: str = "email"

    def __post_init__(self) -> None:
        if not self.host or not self.sender or not self.recipients:
            raise ValueError(
                "email alerts need HALLSENSE_ALERT_SMTP_HOST, HALLSENSE_ALERT_EMAIL_FROM "
                "and HALLSENSE_ALERT_EMAIL_TO"
            )

    def send(self, notice: Notice) -> None:
        """Send one notice; raises OSError (smtplib's errors are OSErrors) if it cannot."""
        message = EmailMessage()
        message["Subject"] = notice.subject
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content(notice.text)
        MailServer(
            self.host, self.port, self.security, self.username, self.password, self.ca_file
        ).send(message)


@dataclass(frozen=True)
class MailServer:
    """The council's SMTP server, as the alert settings give it; other mail goes through it too."""

    host: str
    port: int
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    ca_file: str | None = None

    def send(self, message: EmailMessage) -> None:
        """Send one message; raises OSError (smtplib's errors are OSErrors) if it cannot."""
        context = ssl.create_default_context(cafile=self.ca_file)
        client: smtplib.SMTP
        if self.security == "tls":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT_S, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_S)
        with client:
            if self.security == "starttls":
                client.starttls(context=context)
            if self.username:
                client.login(self.username, self.password)
            client.send_message(message)


@dataclass(frozen=True)
class WebhookNotifier:
    """A JSON POST to a URL (a chat tool's incoming webhook, an incident system)."""

    url: str
    secret: str = field(default="", repr=False)
    name: str = "webhook"

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(
                f"HALLSENSE_ALERT_WEBHOOK_URL must be an http(s) URL, not {self.url!r}"
            )

    def body(self, notice: Notice) -> bytes:
        """The JSON the receiver gets."""
        return json.dumps(
            {"subject": notice.subject, "text": notice.text, **asdict(notice)}, sort_keys=True
        ).encode("utf-8")

    def send(self, notice: Notice) -> None:
        """POST one notice; raises OSError if the receiver is away or answers otherwise."""
        body = self.body(notice)
        headers = {"Content-Type": "application/json"}
        if self.secret:
            digest = hmac.new(self.secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        try:
            with requests.Session() as session:
                session.trust_env = False
                response = session.post(
                    self.url, data=body, headers=headers, timeout=TIMEOUT_S, allow_redirects=False
                )
        except requests.RequestException as error:
            raise OSError(f"webhook {self.url} unreachable: {error}") from None
        with response:
            if not 200 <= response.status_code < 300:
                raise OSError(f"webhook {self.url} answered {response.status_code}")
