"""The node's side of signed releases: which release is newest, and its files, verified.

python-tuf's ngclient does the checking, from the council's first root metadata that the
node's bundle carries: signatures to the threshold of keys root names, expiry (a freeze),
metadata versions that never go back (a rollback), snapshot consistency (mix and match),
and each file's length and SHA-256 before it is used. This module adds what a hall needs:
the release manifest of the node's architecture, refusal of a release older than (or the
same as) the one running, and every refusal as :class:`ReleaseRefused` with a reason in
words for the node's status and the fleet page.

Downloads go over the hub's HTTPS, pinning the council CA as enrolment does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from tuf.api import exceptions as tuf_errors
from tuf.ngclient import Updater

from hub_sync.release_contract import Manifest, ReleaseFormatError, manifest_target, release_version
from hub_sync.release_fetcher import ReleaseFetcher


class ReleaseRefused(Exception):
    """A release, or the repository's metadata, that the node will not use, and why."""

    def __init__(self, reason: str, *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        """A download that failed (the link, the hub): worth trying again later."""


def _reason(error: Exception) -> ReleaseRefused:
    """A python-tuf error as the words a node reports."""
    if isinstance(error, tuf_errors.UnsignedMetadataError):
        return ReleaseRefused(
            f"the release metadata is not signed by the council's keys (tampered, or signed "
            f"with a key root does not name): {error}"
        )
    if isinstance(error, tuf_errors.ExpiredMetadataError):
        return ReleaseRefused(
            f"the release metadata has expired, so it may be held back from this node: {error}"
        )
    if isinstance(error, tuf_errors.BadVersionNumberError):
        return ReleaseRefused(
            f"the release metadata is older than what this node already trusts (a rollback): "
            f"{error}"
        )
    if isinstance(error, tuf_errors.LengthOrHashMismatchError):
        return ReleaseRefused(f"a file does not match the length or hash that was signed: {error}")
    if isinstance(error, tuf_errors.DownloadError):
        return ReleaseRefused(f"could not download from the hub: {error}", retryable=True)
    return ReleaseRefused(f"the release repository is not usable: {error}")


class ReleaseClient:
    """The hub's release repository as one node sees it.

    ``metadata_dir`` keeps the metadata the node trusts between runs (so a rollback is
    noticed across restarts); ``base_url`` is the repository (``…/releases/``, holding
    ``metadata/`` and ``targets/``); ``trusted_root`` is the first root metadata, from the
    bundle, used only when ``metadata_dir`` holds none yet. ``allow(nbytes)`` meters the
    download (:mod:`hub_sync.release_fetcher`): a download it stops resumes on the next call.
    ``proxies`` (``requests``' form) is the hall's HTTP proxy, if it has one.
    """

    def __init__(
        self,
        metadata_dir: Path,
        base_url: str,
        *,
        trusted_root: bytes,
        ca_file: Path | None = None,
        download_dir: Path,
        allow: Callable[[int], bool] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        self.metadata_dir = metadata_dir
        self.download_dir = download_dir
        self.base_url = base_url.rstrip("/") + "/"
        self.trusted_root = trusted_root
        self.fetcher = ReleaseFetcher(
            download_dir / "partial",
            ca_file=ca_file,
            allow=allow or (lambda nbytes: True),
            proxies=proxies,
        )
        self._refreshed: Updater | None = None

    def _updater(self, *, reuse: bool = False) -> Updater:
        """An updater with fresh metadata.

        With ``reuse``, the one :meth:`newest` refreshed: taking a release just found
        costs no second round of metadata.
        """
        kept, self._refreshed = self._refreshed, None
        if reuse and kept is not None:
            return kept
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.download_dir.mkdir(parents=True, exist_ok=True)
        bootstrap = None if (self.metadata_dir / "root.json").exists() else self.trusted_root
        updater = Updater(
            str(self.metadata_dir),
            self.base_url + "metadata/",
            str(self.download_dir),
            self.base_url + "targets/",
            fetcher=self.fetcher,
            bootstrap=bootstrap,
        )
        updater.refresh()
        return updater

    def newest(self, architecture: str, running: str) -> Manifest | None:
        """The published release of ``architecture`` if newer than ``running``, else None.

        Raises:
            ReleaseRefused: the metadata or the manifest fails a check (the reason says
                which), or the hub could not be reached (``retryable``).
        """
        try:
            updater = self._updater()
            info = updater.get_targetinfo(manifest_target(architecture))
            self._refreshed = updater
            if info is None:
                return None
            path = updater.find_cached_target(info) or updater.download_target(info)
            data = Path(path).read_bytes()
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as error:
            raise _reason(error) from None
        try:
            release = Manifest.from_json(data)
        except ReleaseFormatError as error:
            raise ReleaseRefused(f"the signed {error}") from None
        if release.architecture != architecture:
            raise ReleaseRefused(
                f"the manifest for {architecture} names {release.architecture!r}: not for this node"
            )
        return release if release_version(release.version) > release_version(running) else None

    def download(self, release: Manifest) -> list[Path]:
        """Each of the release's files, verified against the signed metadata, on disk.

        Raises:
            ReleaseRefused: a file is not in the signed metadata or fails its check, or the
                download failed (``retryable``).
        """
        try:
            updater = self._updater(reuse=True)
            paths = []
            for target in release.files:
                info = updater.get_targetinfo(target)
                if info is None:
                    raise ReleaseRefused(f"{target} is in the manifest but not signed for")
                # Kept under its own name, so the node's installer can leave the bundle's
                # wheels there and a wheel's name finds it whatever release it came in.
                keep = str(self.download_dir / PurePosixPath(target).name)
                cached = updater.find_cached_target(info, keep)
                paths.append(Path(cached or updater.download_target(info, keep)))
        except (tuf_errors.RepositoryError, tuf_errors.DownloadError) as error:
            raise _reason(error) from None
        return paths
