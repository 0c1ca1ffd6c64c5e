"""The hub web app as tests build it: the real app over a real hub store, and accounts."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from hub.exports import hub_exporters
from hub.logins import Account, Logins, hash_password
from hub.presenter import NodePresenter
from hub.web import HubPages, create_hub_web
from provisioning.enrolment_tokens import TokenStore

PASSWORD = "correct horse battery staple"  # noqa: S105 - a test account's


class Clock:
    """A clock a test moves by hand (``clock.now += seconds``)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Kept:
    """A store the app may "close" after each request while the test keeps using it."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def close(self) -> None:
        pass


def make_app(
    tmp_path: Path,
    store: Any,
    *,
    send: Callable[[str, bytes, str], None] | None = None,
    clock: Callable[[], float] = time.time,
    secure_cookies: bool = False,
    security_contact: str = "",
    releases_dir: Path | None = None,
    report_mail: bool = False,
) -> Flask:
    pages = HubPages(
        open_store=lambda: Kept(store),
        exporters=hub_exporters("Europe/London"),
        presenter=NodePresenter(),
        send_config=send or (lambda device_id, payload, actor: None),
        secure_cookies=secure_cookies,
        clock=clock,
        report_mail=report_mail,
    )
    return create_hub_web(
        TokenStore(tmp_path / "enrolment"),
        lambda device_id: {},
        pages=pages,
        security_contact=security_contact,
        releases_dir=releases_dir,
    )


@functools.cache
def password_hash() -> str:
    """PASSWORD's scrypt hash, made once: each costs a third of a second, by design."""
    return hash_password(PASSWORD)


def account(store: Any, name: str, role: str = "team", halls: tuple[str, ...] = ()) -> Account:
    """An account with PASSWORD, as ``hub account add`` makes one.

    Its hash is made once for the session (log-ins still check it in full); the rules on
    names and passwords are tested through ``Logins.create_account`` itself.
    """
    if not store.create_account(name, role, password_hash(), halls, int(time.time() * 1e6)):
        raise ValueError(f"there is already an account called {name!r}")
    return Account(name, role, tuple(sorted(set(halls))))


def token_for(store: Any, who: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {Logins(lambda: store).issue_token(who, 'tests')}"}
