r"""The installer's bundle for one node: its settings file, the council CA, token and label.

Settings files are written so that python-dotenv, as ``hallsense.settings`` reads them,
gives back exactly the values written: every value in double quotes, with backslashes,
quotes and line breaks escaped. Two things python-dotenv does need more than quoting:

- it replaces ``${NAME}`` (and ``${NAME:-default}``) in every value, quoted or not, and
  has no escape for it. A ``${`` is written as ``${:-$}{``: a variable with an empty
  name, which no environment can hold, so it always gives its default, ``$``, and the
  value reads back with its ``${``.
- releases before its backslash fix read a quoted value ending in an escaped backslash
  (``"C:\\"``) as an escaped quote and run on into the next line. A value ending in a
  backslash gets ``${:-}`` (nothing, by the same rule) after it, so every release in
  hallsense's range reads it back alike.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root
from tuf.api.serialization import DeserializationError

from provisioning.install_script import INSTALL_SCRIPT, INSTALL_SCRIPT_MODE
from provisioning.passwords import write_private_file

ENV_KEY = re.compile(r"[A-Z_][A-Z0-9_]*")

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
"""What python-dotenv decodes in a double-quoted value; ``\\r`` and ``\\n`` must be, since
reading a file as text turns a bare carriage return into a line feed."""
_ESCAPED = re.compile("|".join(re.escape(character) for character in _ESCAPES))

ENV_FILE = "edge.env"
CA_FILE = "ca.crt"
TOKEN_FILE = "hallsense-enrol.token"  # noqa: S105 - a file name, not a secret
LABEL_FILE = "label.svg"
README_FILE = "README.txt"
INSTALL_SCRIPT_FILE = "install.sh"
RELEASE_ROOT_FILE = "release-root.json"
WHEELHOUSE_DIR = "wheelhouse"

SECRET_MODE = 0o600
PUBLIC_MODE = 0o644


def env_value(value: str) -> str:
    """``value`` quoted for a ``.env`` file, to be read back exactly by python-dotenv."""
    text = value.replace("${", "${:-$}{")
    text = _ESCAPED.sub(lambda match: _ESCAPES[match.group()], text)
    if value.endswith("\\"):
        text += "${:-}"
    return f'"{text}"'


def env_file_text(values: Mapping[str, str], *, comments: Iterable[str] = ()) -> str:
    """A ``.env`` file: ``comments`` as ``#`` lines, then ``KEY="value"`` per entry.

    Raises:
        ValueError: a key that is not an upper-case variable name, or a comment holding
            a line break (it would make a line of its own).
    """
    lines = []
    for comment in comments:
        if "\n" in comment or "\r" in comment:
            raise ValueError(f"a .env comment must be one line, not {comment!r}")
        lines.append(f"# {comment}")
    for key, value in values.items():
        if not ENV_KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a .env key (upper-case letters, digits, _)")
        lines.append(f"{key}={env_value(value)}")
    return "\n".join(lines) + "\n"


def write_node_bundle(
    directory: Path,
    *,
    settings: str,
    ca_certificate: bytes,
    token: str,
    label_svg: str,
    readme: str,
) -> Path:
    """Write a node's bundle into ``directory``, which must not exist yet; returns it.

    The directory is 0700. What holds or encodes the enrolment token, the token file and
    the label whose QR code carries it, is 0600 from its creation whatever the umask; the
    settings (no password in them), the CA certificate and the README are 0644, so that
    the installer's copies stay readable by the node's service user.

    Args:
        directory: the bundle's folder, e.g. ``bundles/askrigg-village-hall``.
        settings: the node's ``edge.env`` text (see :func:`env_file_text`).
        ca_certificate: the council CA's certificate (PEM).
        token: the one-time enrolment token.
        label_svg: the printable label with the enrolment QR code.
        readme: the installer's instructions.

    Raises:
        FileExistsError: ``directory`` exists already.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir(mode=0o700)  # the umask can only take bits off
    write_private_file(directory / CA_FILE, ca_certificate, mode=PUBLIC_MODE)
    write_private_file(directory / TOKEN_FILE, token + "\n", mode=SECRET_MODE)
    write_private_file(directory / ENV_FILE, settings, mode=PUBLIC_MODE)
    write_private_file(directory / LABEL_FILE, label_svg, mode=SECRET_MODE)
    write_private_file(directory / README_FILE, readme, mode=PUBLIC_MODE)
    return directory


def release_root_bytes(path: Path) -> bytes:
    """The release repository's root metadata in ``path`` (``metadata/1.root.json``).

    Raises:
        ValueError: the file cannot be read or is not a TUF root.
    """
    try:
        data = path.read_bytes()
        Metadata[Root].from_bytes(data)
    except OSError as error:
        raise ValueError(f"cannot read the release root {path}: {error.strerror}") from None
    except (DeserializationError, RepositoryError, ValueError, TypeError) as error:
        raise ValueError(
            f"{path} is not a release repository's root (metadata/1.root.json from "
            f"`hallsense provision release init`): {error}"
        ) from None
    return data


def add_installer(
    directory: Path,
    *,
    wheelhouse: Path | None = None,
    architectures: Sequence[str] = (),
    release_root: bytes | None = None,
) -> None:
    """Add ``install.sh`` (0755), the release root and the wheels to a bundle.

    The wheels are those of each of ``architectures`` in ``wheelhouse``, copied to the
    bundle's ``wheelhouse/<architecture>/``.

    A copied bundle keeps no modes on a FAT boot partition, which is why the documented
    command is ``sudo bash …/install.sh``.
    """
    script = directory / INSTALL_SCRIPT_FILE
    write_private_file(script, INSTALL_SCRIPT, mode=INSTALL_SCRIPT_MODE)
    if release_root is not None:
        write_private_file(directory / RELEASE_ROOT_FILE, release_root, mode=PUBLIC_MODE)
    if wheelhouse is None:
        return
    for architecture in architectures:
        target = directory / WHEELHOUSE_DIR / architecture
        target.parent.mkdir(mode=0o755, exist_ok=True)
        shutil.copytree(wheelhouse / architecture, target, copy_function=shutil.copyfile)
        for path in (target, *target.rglob("*")):
            os.chmod(path, 0o755 if path.is_dir() else PUBLIC_MODE)
