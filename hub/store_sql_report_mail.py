"""Monthly report e-mails in SQL: each account's subscription, and each mail claimed and sent.

Implements :class:`hub.report_mail.ReportMailRecords`, the same SQL on SQLite and
PostgreSQL. ``report_subscriptions`` holds one row per account that has ever set its
subscription (its address, and whether it wants the monthly reports).
``report_mails`` holds one row per (account, hall, month) that a sender has taken on:
a sender *claims* the row until a time (``until_us``), sends, then *marks* it sent. A row
marked sent is never claimed again; a claim whose sender failed (the mail server was
down) or died is free again once released or expired, so the mail is retried, never
lost. The claim is one statement that only one connection can win, whatever the
backend: an ``INSERT … ON CONFLICT DO NOTHING`` for a new row, else an ``UPDATE`` of an
unsent row whose claim has expired (PostgreSQL re-checks the ``WHERE`` of a row another
transaction changed meanwhile; SQLite writes one transaction at a time).
"""

from __future__ import annotations

from hub.report_mail import SentMail
from hub.store_sql_base import SqlTables

REPORT_MAIL_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS report_subscriptions (
        username TEXT PRIMARY KEY, email TEXT NOT NULL, monthly INTEGER NOT NULL DEFAULT 0,
        changed_us BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS report_mails (
        username TEXT NOT NULL, device_id TEXT NOT NULL, month TEXT NOT NULL,
        holder TEXT NOT NULL, until_us BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        sent_at_us BIGINT, address TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (username, device_id, month))""",
]
"""Schema version 7 (monthly report e-mails, issue #19), the same SQL on both backends."""

MAX_ERROR = 500
"""Characters kept of why the last attempt failed."""


class ReportMailTables(SqlTables):
    """Report subscriptions (``report_subscriptions``) and mails (``report_mails``)."""

    def report_subscription(self, username: str) -> tuple[str, bool]:
        """(address, wants monthly reports) of an account; ("", False) if never set."""
        rows = self._query(
            "SELECT email, monthly FROM report_subscriptions WHERE username = ?", (username,)
        )
        return (str(rows[0][0]), bool(rows[0][1])) if rows else ("", False)

    def set_report_subscription(self, username: str, email: str, monthly: bool, at_us: int) -> None:
        """Keep an account's report address and whether it wants the monthly reports."""
        with self._lock, self._transaction():
            # Mails waiting after a failure (no sender holds them) are tried at once with a
            # new address: the old one may have been what the server refused.
            self._run(
                "UPDATE report_mails SET until_us = 0 WHERE username = ? AND holder = '' "
                "AND sent_at_us IS NULL AND NOT EXISTS (SELECT 1 FROM report_subscriptions "
                "WHERE username = ? AND email = ?)",
                (username, username, email),
            )
            if self._run(
                "UPDATE report_subscriptions SET email = ?, monthly = ?, changed_us = ? "
                "WHERE username = ?",
                (email, int(monthly), at_us, username),
            ):
                return
            self._run(
                "INSERT INTO report_subscriptions (username, email, monthly, changed_us) "
                "VALUES (?, ?, ?, ?)",
                (username, email, int(monthly), at_us),
            )

    def report_subscribers(self) -> list[tuple[str, str]]:
        """(account, address) of every account that is enabled and wants monthly reports."""
        return [
            (str(username), str(email))
            for username, email in self._query(
                "SELECT s.username, s.email FROM report_subscriptions s "
                "JOIN accounts a ON a.username = s.username "
                "WHERE s.monthly = 1 AND s.email <> '' AND a.disabled = 0 ORDER BY s.username"
            )
        ]

    def sent_report_mails(self, month: str) -> set[tuple[str, str]]:
        """(account, device id) of every report mail of ``month`` (YYYY-MM) already sent."""
        return {
            (str(username), str(device_id))
            for username, device_id in self._query(
                "SELECT username, device_id FROM report_mails "
                "WHERE month = ? AND sent_at_us IS NOT NULL",
                (month,),
            )
        }

    def claim_report_mail(
        self, username: str, device_id: str, month: str, holder: str, until_us: int, at_us: int
    ) -> bool:
        """Be the one sender of this mail until ``until_us``; False if sent, or another has it."""
        key = (username, device_id, month)
        with self._lock, self._transaction():
            if self._run(
                "INSERT INTO report_mails (username, device_id, month, holder, until_us) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (*key, holder, until_us),
            ):
                return True
            return bool(
                self._run(
                    "UPDATE report_mails SET holder = ?, until_us = ? "
                    "WHERE username = ? AND device_id = ? AND month = ? "
                    "AND sent_at_us IS NULL AND until_us <= ?",
                    (holder, until_us, *key, at_us),
                )
            )

    def mark_report_mail_sent(
        self, username: str, device_id: str, month: str, holder: str, address: str, at_us: int
    ) -> bool:
        """Record that the holder of the claim sent the mail to ``address``."""
        with self._lock, self._transaction():
            return bool(
                self._run(
                    "UPDATE report_mails SET sent_at_us = ?, address = ?, error = '', "
                    "attempts = attempts + 1 WHERE username = ? AND device_id = ? AND month = ? "
                    "AND holder = ? AND sent_at_us IS NULL",
                    (at_us, address, username, device_id, month, holder),
                )
            )

    def release_report_mail(
        self, username: str, device_id: str, month: str, holder: str, error: str, at_us: int
    ) -> None:
        """Give a claim up after a failed attempt (saying why), to be retried from ``at_us``."""
        with self._lock, self._transaction():
            self._run(
                "UPDATE report_mails SET holder = '', until_us = ?, error = ?, "
                "attempts = attempts + 1 "
                "WHERE username = ? AND device_id = ? AND month = ? AND holder = ? "
                "AND sent_at_us IS NULL",
                (at_us, error[:MAX_ERROR], username, device_id, month, holder),
            )

    def report_mail_log(self, username: str | None = None, limit: int = 100) -> list[SentMail]:
        """The mails taken on (one account's, or every one's), newest month first."""
        where, params = ("WHERE username = ?", (username,)) if username else ("", ())
        return [
            SentMail(str(u), str(d), str(m), None if sent is None else int(sent), str(error))
            for u, d, m, sent, error in self._query(
                "SELECT username, device_id, month, sent_at_us, error FROM report_mails "  # noqa: S608
                f"{where} ORDER BY month DESC, username, device_id LIMIT {int(limit)}",
                params,
            )
        ]
