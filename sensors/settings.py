"""How a driver declares its settings: their names, types, defaults, limits, units and help.

A driver's settings are a frozen dataclass whose fields are made with :func:`setting`;
its :class:`DriverSettings` declaration names the driver, which is the keys' prefix. The
node's settings loader reads field ``interval_s`` of driver ``gpio`` from
``HALLSENSE_GPIO_INTERVAL_S`` (a field may name another key, for a setting several drivers
share), checks it against the field's type and limits, and reports every bad value by its
key. The driver is then built from the filled dataclass: each field is the constructor
argument of the same name, unless the field names another.

The declarations live in light modules of their own (``sensors/<driver>_settings.py``), so
reading a node's settings never imports gpiozero or bleak for a driver it does not run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar


def setting(
    default: Any,
    help: str,
    unit: str = "",
    *,
    key: str = "",
    argument: str = "",
    secret: bool = False,
    **bounds: float,
) -> Any:
    """A field of a driver's settings dataclass.

    Args:
        default: its value when the key is not set.
        help: one sentence for docs/configuration.md.
        unit: the unit, as the docs and error messages write it ("s", "BCM pin").
        key: the key after ``HALLSENSE_`` when it is not the prefix and the field's name
            (a setting several drivers share, such as ``I2C_BUS``).
        argument: the driver constructor's argument, when it is not the field's name.
        secret: never shown in a repr; may be given as a file of mode 0600 (``…_FILE``).
        bounds: ``min``, ``above`` (more than) and ``max`` limits on a number.
    """
    metadata = {"help": help, "unit": unit, "key": key, "argument": argument, **bounds}
    if secret:
        metadata["secret"] = True
    return field(default=default, repr=not secret, metadata=metadata)


class DriverValues(Protocol):
    """A driver's filled settings dataclass: what it must offer besides its fields."""

    def check(self) -> list[tuple[str, str]]:
        """Problems with the values however the node uses them: (field name, message)."""
        ...  # pragma: no cover - a protocol

    def unusable(self) -> str | None:
        """Why the driver cannot run with these values when a node lists it, or None."""
        ...  # pragma: no cover - a protocol


S = TypeVar("S", bound=DriverValues)


@dataclass(frozen=True)
class NodeFacts:
    """What a driver may be told about the node it runs on, besides its own settings."""

    timezone: str
    data_dir: Path


def _no_facts(node: NodeFacts) -> Mapping[str, object]:
    return {}


@dataclass(frozen=True)
class DriverSettings(Generic[S]):
    """One driver's settings declaration.

    Attributes:
        driver: the driver's registry name, also its keys' prefix after ``HALLSENSE_``.
        fields: the frozen dataclass of its settings, every field made with :func:`setting`.
        from_node: the constructor arguments that come from the node, not from a setting.
    """

    driver: str
    fields: type[S]
    from_node: Callable[[NodeFacts], Mapping[str, object]] = _no_facts

    def arguments(self, values: S, node: NodeFacts) -> dict[str, Any]:
        """The driver constructor's keyword arguments for ``values`` on ``node``."""
        arguments: dict[str, Any] = {
            f.metadata.get("argument") or f.name: getattr(values, f.name)
            for f in dataclasses.fields(values)  # type: ignore[arg-type]
        }
        arguments.update(self.from_node(node))
        return arguments


class NoChecks:
    """A mixin for settings with nothing to check beyond each value's type and limits."""

    def check(self) -> list[tuple[str, str]]:
        """No problems: every value was checked on its own already."""
        return []

    def unusable(self) -> str | None:
        """Always usable."""
        return None
