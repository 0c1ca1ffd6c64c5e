"""Downloads for signed releases over a hall's link: pinned TLS, resumable, metered.

python-tuf's client asks for each file whole and checks it afterwards. On a 256 kbit/s
link that is cut now and then, and has a daily data budget, that is not enough, so this
fetcher keeps what has arrived of a release file in ``partial_dir`` and, when asked again
(later, or after a restart), asks the hub only for the rest (an HTTP range) and hands the
client the kept bytes followed by the new ones. Release files are named by their SHA-256,
so the bytes kept for a name can only ever be the start of that one file; the client's
hash check after the download is the proof. Metadata (small, and changing under the same
name) is always fetched whole.

``allow(nbytes)`` is asked before each chunk is read from the network: False (the day's
budget is spent, or the link must carry live readings first) stops the download with a
retryable :class:`tuf.api.exceptions.DownloadError`, keeping what came.

Proxies from the environment are ignored (``trust_env`` off): the hall's proxy, when it
has one, is passed in as ``proxies`` (``requests``' form), and the council CA is still
the only one trusted through it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import requests
from tuf.api import exceptions as tuf_errors
from tuf.ngclient.fetcher import FetcherInterface

TIMEOUT_S = 30.0
CHUNK_BYTES = 4 * 1024
"""A chunk is what ``allow`` is asked about and what a cut can lose: 4 KiB is an eighth
of a second at 256 kbit/s."""


def _always(nbytes: int) -> bool:
    return True


class ReleaseFetcher(FetcherInterface):
    """Fetches over HTTP(S), trusting only ``ca_file`` when given; resumes release files."""

    def __init__(
        self,
        partial_dir: Path,
        *,
        ca_file: Path | None = None,
        allow: Callable[[int], bool] = _always,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        self.partial_dir = partial_dir
        self.allow = allow
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.proxies.update(proxies or {})
        self.verify: str | bool = str(ca_file) if ca_file is not None else True

    def _partial(self, url: str) -> Path | None:
        """Where the kept start of a release file lives; None for metadata."""
        if "/targets/" not in url:
            return None
        name = hashlib.sha256(url.encode("utf-8")).hexdigest()
        return self.partial_dir / f"{name}.part"

    def _get(self, url: str, start: int) -> requests.Response:
        headers = {"Range": f"bytes={start}-"} if start else {}
        try:
            response = self.session.get(
                url,
                stream=True,
                timeout=TIMEOUT_S,
                verify=self.verify,
                allow_redirects=False,
                headers=headers,
            )
        except requests.RequestException as error:
            raise tuf_errors.DownloadError(f"{url}: {error}") from None
        if response.status_code not in (200, 206):
            response.close()
            status = response.status_code
            raise tuf_errors.DownloadHTTPError(f"{url}: HTTP {status}", status)
        return response

    def _fetch(self, url: str) -> Iterator[bytes]:
        partial = self._partial(url)
        if partial is None:
            return self._stream(self._get(url, 0), None)
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        kept = partial.read_bytes() if partial.exists() else b""
        response = self._get(url, len(kept))
        if response.status_code == 200 and kept:  # the hub sent it whole: start again
            kept = b""
            partial.write_bytes(b"")
        return self._resumed(kept, response, partial)

    def _resumed(self, kept: bytes, response: requests.Response, partial: Path) -> Iterator[bytes]:
        if kept:
            yield kept
        yield from self._stream(response, partial)
        partial.unlink(missing_ok=True)  # whole: the client checks it and keeps it

    def _stream(self, response: requests.Response, partial: Path | None) -> Iterator[bytes]:
        with response:
            raw = response.iter_content(CHUNK_BYTES)
            while True:
                if not self.allow(CHUNK_BYTES):
                    raise tuf_errors.DownloadError(
                        "the link's data budget is spent for now; the download resumes later"
                    )
                try:
                    chunk = next(raw)
                except StopIteration:
                    return
                except requests.RequestException as error:
                    raise tuf_errors.DownloadError(f"the download was cut: {error}") from None
                if partial is not None:
                    with partial.open("ab") as file:
                        file.write(chunk)
                yield chunk
