"""HubSettings: every setting of the hub's ingestion workers, with defaults and units."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

OGL_V3 = "http://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/"
"""The Open Government Licence v3.0, as data.gov.uk names it."""


def _setting(default: Any, help: str, unit: str = "", **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, "unit": unit, **extra})


@dataclass(frozen=True)
class HubSettings:
    """The settings of `hallsense hub run|status|add-device`, from ``HALLSENSE_*`` keys."""

    hub_store: str = field(
        metadata={
            "help": "The hub store: a SQLite file path, or a postgresql:// URL (keep its "
            "password out of it: use ~/.pgpass or PGPASSFILE).",
            "unit": "path or URL",
        }
    )
    broker_host: str = _setting("127.0.0.1", "The MQTT broker's host name.")
    broker_port: int = _setting(8883, "The MQTT broker's port.", "port", min=1, max=65535)
    other_brokers: str = _setting(
        "",
        "Further brokers, host[:port] comma-separated (the port defaults to "
        "HALLSENSE_BROKER_PORT): each worker subscribes on every broker.",
    )
    broker_username: str = _setting("_hub", "The ingestion workers' broker account.")
    broker_password: str = field(
        default="",
        repr=False,
        metadata={
            "help": "Its password (or HALLSENSE_BROKER_PASSWORD_FILE, mode 0600).",
            "unit": "",
            "secret": True,
        },
    )
    broker_ca_file: Path | None = _setting(
        None, "CA certificate for TLS to the broker (unset: plain MQTT, for a lab).", "path"
    )
    worker_id: str = _setting("1", "This worker's name, unique among the hub's workers.")
    writers: int = _setting(
        2,
        "Threads per worker process, each with its own hub store connection: while one "
        "waits on the database another decodes the next batch.",
        "threads",
        min=1,
        max=16,
    )
    share_group: str = _setting(
        "hallsense-hub", "The shared-subscription group the workers split batches in."
    )
    session_expiry_s: int = _setting(
        60,
        "How long the broker keeps a disconnected worker's session; keep it no longer than "
        "the nodes' resend timeout.",
        "s",
        min=0,
    )
    quota_series: int = _setting(
        500,
        "Distinct series (sensor, metric, unit) one device may send; readings on more are "
        "refused back to the node.",
        "series",
        min=1,
        max=100_000,
    )
    quota_messages_per_minute: int = _setting(
        600,
        "Messages one device may send a minute, in bursts up to a minute's worth; more are "
        "turned away unread and the node sends them again later (0: no limit).",
        "messages",
        min=0,
    )
    quota_bytes_per_minute: int = _setting(
        16 * 1024 * 1024,
        "Payload bytes one device may send a minute, likewise (0: no limit).",
        "bytes",
        min=0,
    )
    quota_readings_per_minute: int = _setting(
        300_000,
        "Readings one device may have stored a minute; a batch past it is answered with "
        "when to send it again (0: no limit).",
        "readings",
        min=0,
    )
    raw_retention_days: float = _setting(
        0.0, "Delete raw readings older than this at the hub (0: keep them all).", "days", min=0
    )
    security_contact: str = _setting(
        "",
        "Where to report a vulnerability in this hub, for /.well-known/security.txt: "
        "mailto:someone@council.example or an https:// page (unset: that file is not served).",
        "URI",
    )
    releases_dir: str = _setting(
        "",
        "The signed release repository (`hallsense provision release init --repo`) that "
        "`hub web` serves to the nodes at /releases/ (unset: none is served).",
    )
    release_keys_dir: str = _setting(
        "",
        "The release repository's online keys (snapshot, timestamp; never root or targets) "
        "with which `hub web` re-signs it daily, so nodes never find it expired.",
    )
    offline_after_s: float = _setting(
        900.0,
        "How long a node must be unheard, its connection gone, before the fleet page (and "
        "the alerts) call it offline: longer than a missed heartbeat or a broker restart.",
        "s",
        min=1,
    )
    behind_after_s: float = _setting(
        21600.0,
        "How long the oldest reading a node holds may wait, by the hub's clock, before the "
        "node is called behind.",
        "s",
        min=1,
    )
    alert_after_s: float = _setting(
        600.0,
        "How long a node must need attention (offline, behind, a failing sensor) before the "
        "IoT team is told; offline already means HALLSENSE_OFFLINE_AFTER_S unheard.",
        "s",
        min=0,
    )
    alert_check_s: float = _setting(60.0, "How often `hub web` checks for alerts.", "s", min=5)
    rollout_check_s: float = _setting(
        15.0,
        "How often the `hub run` workers send rollouts' releases and apply the stop rule.",
        "s",
        min=1,
        max=3600,
    )
    report_mail_check_s: float = _setting(
        600.0,
        "How often `hub web` checks whether monthly report e-mails are due (sent through the "
        "alerts' mail server).",
        "s",
        min=1,
        max=86400,
    )
    hub_url: str = _setting(
        "",
        "The hub web's address as people reach it (https://host[:port]), for the link in "
        "report e-mails (unset: https://, `hub web`'s --broker-host name and its port).",
        "URI",
    )
    alert_smtp_host: str = _setting(
        "", "Mail server for alert emails and monthly report e-mails (unset: no email)."
    )
    alert_smtp_port: int = _setting(587, "Its port.", "port", min=1, max=65535)
    alert_smtp_security: Literal["starttls", "tls", "none"] = _setting(
        "starttls", "STARTTLS (587), implicit TLS (465), or none for a lab."
    )
    alert_smtp_username: str = _setting("", "User name at the mail server, if it wants one.")
    alert_smtp_password: str = field(
        default="",
        repr=False,
        metadata={
            "help": "Its password (or HALLSENSE_ALERT_SMTP_PASSWORD_FILE, mode 0600).",
            "unit": "",
            "secret": True,
        },
    )
    alert_email_from: str = _setting(
        "", "The sender address of alert emails and monthly report e-mails."
    )
    alert_email_to: str = _setting(
        "",
        "Who gets alert emails: addresses, comma-separated (unset: no alert is e-mailed; the "
        "mail server then sends the monthly report e-mails only).",
    )
    alert_webhook_url: str = _setting("", "URL alerts are POSTed to as JSON (unset: none).")
    alert_webhook_secret: str = field(
        default="",
        repr=False,
        metadata={
            "help": "Key of the X-Hallsense-Signature HMAC "
            "(or HALLSENSE_ALERT_WEBHOOK_SECRET_FILE).",
            "unit": "",
            "secret": True,
        },
    )
    timezone: str = _setting(
        "Europe/London",
        "The county's time zone: days in the hub's pages, data API and open data.",
        "IANA zone",
    )
    open_data_licence: str = _setting(
        OGL_V3,
        "The licence of the hub's open data, as a URI, in its DCAT catalogue "
        "(default: the Open Government Licence v3.0).",
        "URI",
    )
    open_data_publisher: str = _setting(
        "",
        "Who publishes the open data: the council's name, in the DCAT catalogue (unset: the "
        "catalogue says the publisher is not named).",
    )
    open_data_publisher_url: str = _setting(
        "", "The publisher's web site (https://), in the DCAT catalogue.", "URI"
    )
    open_data_contact: str = _setting(
        "",
        "Whom to ask about the open data, in the DCAT catalogue: mailto:opendata@council.example "
        "or an https:// page (unset: none is given).",
        "URI",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _setting("INFO", "How much to log.")
    fault_point: Literal["", "after-commit"] = _setting(
        "", "For fault tests only: die at this point of handling a batch."
    )

    def check(self) -> list[tuple[str, str]]:
        """Problems a value's type cannot catch: (field name, message)."""
        problems: list[tuple[str, str]] = []
        web = ("http://", "https://")
        for name, schemes in (
            ("open_data_licence", web),
            ("open_data_publisher_url", web),
            ("open_data_contact", ("mailto:", *web)),
            ("hub_url", web),
        ):
            value = getattr(self, name)
            if value and (not value.startswith(schemes) or any(c.isspace() for c in value)):
                problems.append((name, f"{value[:60]!r} is not a {' or '.join(schemes)} URI"))
        if self.open_data_publisher_url and not self.open_data_publisher:
            problems.append(("open_data_publisher", "name the publisher whose web site is given"))
        return problems
