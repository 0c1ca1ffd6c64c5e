"""Monthly report e-mails: the address rule, the records they keep, and the mail itself.

An account (a clerk, or someone of the IoT team) may ask for each of its halls' monthly
report by e-mail (``/account/reports``, :mod:`hub.report_mail_web`); after each month
ends the hub sends it (:mod:`hub.report_sender`). One mail per hall, each with that
hall's PDF: the key of "sent once" is (account, hall, month), a hall without readings
holds up no other, the subject names the hall, and a clerk can forward one hall's
report to that hall's committee as it is.

Addresses are checked to the limits of RFC 5321 (at most 254 characters, 64 before the
``@``) and to the ordinary form people type (letters, digits and ``.!#$%&'*+/=?^_`{|}~-``
before the ``@``, a domain name of at least two labels after it), plain ASCII; every
refusal says what was wrong. Nothing here sends: :func:`report_message` builds the
message, and a :class:`hub.notifiers.MailServer` sends it.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate
from typing import NamedTuple, Protocol

from presentation.report_month import ReportMonth

MAX_ADDRESS = 254
"""RFC 5321's longest path (256) less its angle brackets."""
MAX_LOCAL = 64
"""RFC 5321's longest part before the ``@``."""
MAX_LABEL = 63
"""The longest label of a domain name (RFC 1035)."""
EXAMPLE = "clerk@askrigg-hall.org.uk"
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


class BadAddress(ValueError):
    """An e-mail address that cannot be used; the message says what was wrong."""


def check_address(text: str) -> str:
    """``text`` without surrounding spaces, if it is an e-mail address the hub can use.

    Raises:
        BadAddress: saying what was wrong, e.g. "The e-mail address is 255 characters
            long: it can be at most 254".
    """
    address = text.strip()
    if not address:
        raise BadAddress("Enter the e-mail address to send the reports to")
    if len(address) > MAX_ADDRESS:
        raise BadAddress(
            f"The e-mail address is {len(address)} characters long: it can be at most {MAX_ADDRESS}"
        )
    odd = next((c for c in address if c.isspace() or not c.isprintable()), None)
    if odd is not None:
        raise BadAddress("The e-mail address has a space or an invisible character in it")
    if address.count("@") != 1:
        raise BadAddress(
            "The e-mail address needs one @ between the name and the domain, like " + EXAMPLE
        )
    local, domain = address.split("@")
    _check_local(local)
    _check_domain(domain)
    return address


def _check_local(local: str) -> None:
    if not local:
        raise BadAddress(f"Put the mailbox's name before the @, like {EXAMPLE}")
    if len(local) > MAX_LOCAL:
        raise BadAddress(
            f"The part before the @ is {len(local)} characters long: it can be at most {MAX_LOCAL}"
        )
    wrong = next((c for c in local if not _LOCAL.fullmatch(c)), None)
    if wrong is not None:
        raise BadAddress(f"The part before the @ has a character an address cannot have: {wrong}")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise BadAddress(
            "The part before the @ cannot start or end with a dot, or have two dots in a row"
        )


def _check_domain(domain: str) -> None:
    if not domain:
        raise BadAddress("Put the domain after the @, like askrigg-hall.org.uk")
    labels = domain.split(".")
    if len(labels) < 2:
        raise BadAddress(
            f"The domain after the @ needs a dot, like askrigg-hall.org.uk, not {domain}"
        )
    for label in labels:
        if len(label) > MAX_LABEL:
            raise BadAddress(
                f"The domain after the @ has a part {len(label)} characters long between dots: "
                f"each can be at most {MAX_LABEL}"
            )
        if not _LABEL.fullmatch(label):
            raise BadAddress(
                f"The domain after the @ is not a domain name: {domain} (use letters, digits "
                "and hyphens between single dots)"
            )


REFUSED_FOR_GOOD = "refused for good: "
"""How a sender keeps the error of a mail the server refused for good (SMTP 5xx): its
page says to check the address, and the sender waits a day or for a new address."""


class SentMail(NamedTuple):
    """One report mail a sender took on: sent, or waiting to be tried again."""

    username: str
    device_id: str
    month: str
    sent_at_us: int | None
    """When the mail server took it; None while it is not sent."""
    error: str
    """Why the last attempt failed ("" if none did)."""

    @property
    def refused_for_good(self) -> bool:
        """Whether the mail server refused it for good (the sender said so as it kept it)."""
        return self.error.startswith(REFUSED_FOR_GOOD)

    @property
    def server_said(self) -> str:
        """What the mail server said, without the sender's own words."""
        return self.error.removeprefix(REFUSED_FOR_GOOD)


class ReportMailRecords(Protocol):
    """Subscriptions and the mails sent, as the hub store keeps them."""

    def report_subscription(self, username: str) -> tuple[str, bool]:
        """(address, wants monthly reports) of an account; ("", False) if never set."""
        ...

    def set_report_subscription(self, username: str, email: str, monthly: bool, at_us: int) -> None:
        """Keep an account's report address and whether it wants the monthly reports."""
        ...

    def report_subscribers(self) -> list[tuple[str, str]]:
        """(account, address) of every enabled account that wants monthly reports."""
        ...

    def sent_report_mails(self, month: str) -> set[tuple[str, str]]:
        """(account, device id) of every report mail of ``month`` already sent."""
        ...

    def claim_report_mail(
        self, username: str, device_id: str, month: str, holder: str, until_us: int, at_us: int
    ) -> bool:
        """Be the one sender of this mail until ``until_us``; False if sent, or another has it."""
        ...

    def mark_report_mail_sent(
        self, username: str, device_id: str, month: str, holder: str, address: str, at_us: int
    ) -> bool:
        """Record that the holder of the claim sent the mail to ``address``."""
        ...

    def release_report_mail(
        self, username: str, device_id: str, month: str, holder: str, error: str, at_us: int
    ) -> None:
        """Give a claim up after a failed attempt, so a later round retries."""
        ...

    def report_mail_log(self, username: str | None = None, limit: int = 100) -> list[SentMail]:
        """The mails taken on (one account's, or every one's), newest month first."""
        ...


def report_message(
    *,
    sender: str,
    to: str,
    username: str,
    device_id: str,
    hall_name: str,
    month: ReportMonth,
    pdf: bytes,
    file_name: str,
    hub_url: str,
) -> EmailMessage:
    """One hall's report for one account: a short plain-text body and the PDF attached.

    Its Message-ID is the same for the same (account, hall, month), so a mail client
    shows a copy sent again (after a sender died between sending and recording it) as
    the same message.
    """
    base = hub_url.rstrip("/")
    message = EmailMessage()
    message["Subject"] = f"{hall_name}: monthly report for {month.label}"
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(usegmt=True)
    domain = sender.rpartition("@")[2] or "hallsense.invalid"
    message["Message-ID"] = f"<hallsense-report.{month.key}.{device_id}.{username}@{domain}>"
    message.set_content(
        f"Here is {hall_name}'s monthly report for {month.label}, attached as a PDF to "
        "print on A4 paper.\n\n"
        "You can read the same report as a web page on the hub (log in first):\n"
        f"{base}/fleet/{device_id}/report.html?month={month.key}\n\n"
        "You get this e-mail because you asked the hub to send each of your halls' "
        "monthly report. To stop them, untick \"E-mail me each of my halls' monthly "
        f'report" at {base}/account/reports\n\n'
        "-- \nThe hallsense hub\n"
    )
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=file_name)
    return message
