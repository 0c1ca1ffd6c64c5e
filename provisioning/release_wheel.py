"""What a release's own hallsense wheel says of it: the node store's schema it migrates to.

The manifest states the schema so that a node and the council's release check both know,
before anything is installed, whether a release would run on a store that another
release has migrated further (``edge/migrations.py``: migrations go forward only). It is
read from the wheel being published, not from the hallsense that publishes it, which may
be another version: the keys of ``MIGRATIONS`` in the wheel's ``edge/migrations.py``.
"""

from __future__ import annotations

import ast
import zipfile
from collections.abc import Sequence
from pathlib import Path

MIGRATIONS_MODULE = "edge/migrations.py"


class ReleaseWheelError(ValueError):
    """No hallsense wheel among a release's files, or one whose schema cannot be read."""


def migrations_schema(source: str) -> int:
    """The highest schema version in the source of ``edge/migrations.py``.

    Raises:
        ReleaseWheelError: the source declares no ``MIGRATIONS`` of whole-number keys.
    """
    for node in ast.walk(ast.parse(source)):
        target: ast.expr | None = None
        if isinstance(node, ast.AnnAssign):
            target = node.target
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        value = getattr(node, "value", None)
        if (
            isinstance(target, ast.Name)
            and target.id == "MIGRATIONS"
            and isinstance(value, ast.Dict)
        ):
            keys = [k.value for k in value.keys if isinstance(k, ast.Constant)]
            numbers = [k for k in keys if isinstance(k, int) and not isinstance(k, bool)]
            if numbers and len(numbers) == len(value.keys):
                return max(numbers)
    raise ReleaseWheelError(f"{MIGRATIONS_MODULE} declares no MIGRATIONS with numbered versions")


def release_schema(files: Sequence[Path]) -> int:
    """The schema of the hallsense wheel among ``files``.

    Raises:
        ReleaseWheelError: naming what is missing.
    """
    wheels = [f for f in files if f.name.startswith("hallsense-") and f.suffix == ".whl"]
    if len(wheels) != 1:
        raise ReleaseWheelError(
            f"a release needs exactly one hallsense wheel among its files, found {len(wheels)}"
        )
    try:
        with zipfile.ZipFile(wheels[0]) as wheel:
            source = wheel.read(MIGRATIONS_MODULE).decode("utf-8")
    except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as error:
        raise ReleaseWheelError(
            f"{wheels[0].name}: cannot read {MIGRATIONS_MODULE}: {error}"
        ) from None
    return migrations_schema(source)
