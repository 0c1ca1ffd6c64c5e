"""``/releases/…``: the council's signed release repository, served to the nodes.

Public, as the open data is: everything under it is signed (TUF metadata) or named by its
SHA-256 in signed metadata, so a node checks what it gets rather than trusting who sent
it, and needs no account to fetch it. Only files inside the repository directory are
served (a path that leaves it is a 404). Metadata is never cached, since ``timestamp.json``
changes under the same name; the release files are immutable (their names are their
hashes), so a proxy may keep them. Range requests are answered, so a node on a poor link
resumes a download where it was cut.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_from_directory

IMMUTABLE = "public, max-age=31536000, immutable"


def releases_blueprint(repo_dir: Path) -> Blueprint:
    """The repository at ``repo_dir`` (``metadata/`` and ``targets/``) under ``/releases/``."""
    blueprint = Blueprint("releases", __name__)

    @blueprint.get("/releases/<path:path>")
    def file(path: str) -> Response:
        response = send_from_directory(repo_dir, path, conditional=True)
        if path.startswith("targets/"):
            response.headers["Cache-Control"] = IMMUTABLE
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response

    return blueprint
