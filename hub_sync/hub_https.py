"""The node's HTTPS calls to the hub (``/enroll``, ``/rotate``): the council CA only.

The node trusts exactly one CA for these calls, the council CA whose certificate came
with the bundle or sits on the boot partition; ``requests`` gets that file as
``verify=``, so neither the system's trust store nor ``REQUESTS_CA_BUNDLE`` counts, and
the server's name is checked against its certificate as usual. Proxies from the
environment and ``.netrc`` are ignored (``trust_env`` off); a proxy is used only when
passed in. Redirects are not followed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import requests

from hub_sync.enrolment_contract import EnrolmentError

DEFAULT_TIMEOUT_S = 15.0


class TlsFailure(EnrolmentError):
    """The TLS handshake failed: the hub's certificate is not from the pinned CA.

    Or it is not for the hub's name. Not retried: someone must check the URL and CA file.
    """


class HubUnreachable(EnrolmentError, ConnectionError):
    """No connection to the hub, or no answer in time."""

    retryable = True


class HubError(EnrolmentError):
    """The hub failed (5xx) or answered something that is not an enrolment answer."""

    retryable = True


def post_to_hub(
    url: str,
    *,
    ca_file: str | os.PathLike[str],
    body: Mapping[str, Any] | None = None,
    auth: tuple[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    proxies: Mapping[str, str] | None = None,
) -> requests.Response:
    """POST to the hub trusting only the council CA in ``ca_file``; the node's one way to.

    No proxy from the environment, no ``.netrc``, no redirects (see the module's notes).

    Raises:
        TlsFailure: the server's certificate is not from the pinned CA or not for its name.
        HubUnreachable: no connection or no answer in time.
    """
    with requests.Session() as session:
        session.trust_env = False
        try:
            return session.post(
                url,
                json=dict(body) if body is not None else None,
                auth=auth,
                headers={"Accept": "application/json"},
                verify=str(ca_file),
                timeout=timeout,
                allow_redirects=False,
                proxies=dict(proxies or {}),
            )
        except requests.exceptions.SSLError as error:
            raise TlsFailure(
                f"TLS with {url} failed: the hub's certificate is not signed by the "
                f"council CA in {ca_file}, or not for this name ({_reason(error)})"
            ) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            raise HubUnreachable(f"cannot reach the hub at {url}: {_reason(error)}") from None


def _reason(error: BaseException) -> str:
    """The innermost cause's text: requests nests the ssl or socket error deep inside."""
    seen: BaseException = error
    while True:
        inner = seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None
        inner = inner or getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        if not isinstance(inner, BaseException) or inner is seen:
            return str(seen)
        seen = inner


def answer_json(response: requests.Response) -> Any:
    """The hub's JSON answer, or None when it is not JSON (or nested past the parser's depth)."""
    try:
        return response.json()
    except (ValueError, RecursionError):
        return None
