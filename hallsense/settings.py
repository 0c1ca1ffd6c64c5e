"""Load a role's typed settings dataclass from a .env file and the environment, strictly."""

from __future__ import annotations

import dataclasses
import io
import os
import stat
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from dotenv import dotenv_values
from dotenv.parser import parse_stream

PREFIX = "HALLSENSE_"

T = TypeVar("T")


class SettingsError(Exception):
    """Settings that cannot be used; ``problems`` lists every one, each naming its key."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"Settings from {source} are not valid:\n{lines}")


def env_key(field_name: str) -> str:
    """The environment / .env key of a settings field: ``data_dir`` → ``HALLSENSE_DATA_DIR``."""
    return PREFIX + field_name.upper()


class _Invalid(Exception):
    """One value that could not be converted; the message says what was expected."""


UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "MB": "megabytes"}
"""Units spelled out in messages; others (days, readings) read well as they are."""


def _describe_expected(kind: Any, unit: str) -> str:
    unit = UNIT_WORDS.get(
        unit, "" if "pin" in unit or unit in ("path", "port", "I2C address", "bus") else unit
    )
    if kind is bool:
        return "true or false"
    if kind is int:
        return "a whole number" + (f" of {unit}" if unit else "")
    if kind is float:
        return "a number" + (f" of {unit}" if unit else "")
    if kind is Path:
        return "a file or directory path"
    return "text"


def _convert(raw: str, annotation: Any, unit: str) -> Any:
    """Turn the text of one setting into the field's type, or raise _Invalid."""
    origin = get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        if raw.strip() == "":
            return None
        return _convert(raw, options[0], unit)
    if origin is Literal:
        choices = get_args(annotation)
        value = raw.strip()
        if value not in choices:
            listed = ", ".join(str(choice) for choice in choices)
            raise _Invalid(f"expected one of {listed}, got {raw!r}")
        return value
    if origin is tuple:
        args = get_args(annotation)
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(part, args[0], unit) for part in parts)
        if len(parts) != len(args):
            kinds = ", ".join(_describe_expected(arg, "") for arg in args)
            raise _Invalid(f"expected {len(args)} comma-separated values ({kinds}), got {raw!r}")
        return tuple(_convert(part, arg, unit) for part, arg in zip(parts, args, strict=True))
    value = raw.strip()
    if annotation is bool:
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise _Invalid(f"expected true or false, got {raw!r}")
    if annotation is int:
        try:
            return int(value)
        except ValueError:
            pass
        try:
            return int(value, 0)  # 0x76: I2C addresses are written in hex
        except ValueError:
            raise _Invalid(f"expected {_describe_expected(int, unit)}, got {raw!r}") from None
    if annotation is float:
        try:
            number = float(value)
        except ValueError:
            raise _Invalid(f"expected {_describe_expected(float, unit)}, got {raw!r}") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise _Invalid(f"expected {_describe_expected(float, unit)}, got {raw!r}")
        return number
    if annotation is Path:
        if not value:
            raise _Invalid("expected a file or directory path, got an empty value")
        return Path(value).expanduser()
    if annotation is str:
        return raw
    raise TypeError(f"settings loader cannot convert to {annotation!r}")  # a bug, not bad input


def _check_bounds(value: Any, meta: Mapping[str, Any], unit: str) -> str | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    words = UNIT_WORDS.get(unit, "" if "pin" in unit else unit)
    suffix = f" {words}" if words else ""
    if "min" in meta and value < meta["min"]:
        return f"must be at least {meta['min']:g}{suffix}, got {value:g}"
    if "above" in meta and value <= meta["above"]:
        return f"must be more than {meta['above']:g}{suffix}, got {value:g}"
    if "max" in meta and value > meta["max"]:
        return f"must be at most {meta['max']:g}{suffix}, got {value:g}"
    return None


def _parse_env_file(path: Path) -> tuple[dict[str, str | None], list[str]]:
    """The key/value pairs of a .env file, and a problem for every line that cannot be parsed.

    python-dotenv only logs a warning for a line it cannot parse; a broken file must
    stop the service with a message naming the line instead.
    """
    problems: list[str] = []
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SettingsError(str(path), [f"{path}: no such settings file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(str(path), [f"{path}: cannot be read ({error})"]) from error
    bindings = list(parse_stream(io.StringIO(text)))
    for binding in bindings:
        if binding.error:
            line = binding.original.string.strip()
            problems.append(
                f"line {binding.original.line}: cannot be read as KEY=value: {line[:60]!r}"
            )
        elif binding.key is not None and binding.value is None:
            problems.append(f"line {binding.original.line}: {binding.key} has no '=value'")
    if problems:
        # python-dotenv would log its own warning for each bad line; ours name them already.
        return {b.key: b.value for b in bindings if b.key is not None}, problems
    values = dotenv_values(stream=io.StringIO(text), interpolate=True)
    return dict(values), problems


def _read_secret_file(key: str, path_text: str) -> str:
    path = Path(path_text)
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise _Invalid(f"cannot read the secret file {path} ({error.strerror})") from error
    if stat.S_IMODE(mode) & 0o077:
        raise _Invalid(
            f"the secret file {path} must be readable by its owner only (chmod 600), "
            f"it has mode {stat.S_IMODE(mode):04o}"
        )
    return path.read_text(encoding="utf-8").strip()


@dataclasses.dataclass(frozen=True)
class _Slot:
    """One key of a role's settings: the dataclass field it fills and where that field is."""

    key: str
    field: dataclasses.Field[Any]
    annotation: Any
    section: str | None  # the section's prefix, or None for a field of the role itself


def _section_key(prefix: str, f: dataclasses.Field[Any]) -> str:
    return PREFIX + (f.metadata.get("key") or f"{prefix}_{f.name}").upper()


def _sections(f: dataclasses.Field[Any]) -> Mapping[str, type[Any]]:
    sections: Mapping[str, type[Any]] = f.metadata.get("sections", {})
    return sections


def _slots(cls: type[Any]) -> list[_Slot]:
    """Every key of ``cls``, a section's after the role's own, in declaration order."""
    hints = typing.get_type_hints(cls)
    own = [f for f in dataclasses.fields(cls) if not _sections(f)]
    slots = [_Slot(env_key(f.name), f, hints[f.name], None) for f in own]
    for holder in dataclasses.fields(cls):
        for prefix, section in _sections(holder).items():
            section_hints = typing.get_type_hints(section)
            slots += [
                _Slot(_section_key(prefix, f), f, section_hints[f.name], prefix)
                for f in dataclasses.fields(section)
            ]
    return slots


def _known_keys(slots: list[_Slot]) -> set[str]:
    keys = {slot.key for slot in slots}
    return keys | {slot.key + "_FILE" for slot in slots if slot.field.metadata.get("secret")}


def _read_value(slot: _Slot, raw: Mapping[str, str]) -> Any:
    """The slot's value from the raw text, dataclasses.MISSING if unset; raises _Invalid."""
    text = raw.get(slot.key)
    if text is None and (slot.key + "_FILE") in raw:
        text = _read_secret_file(slot.key, raw[slot.key + "_FILE"])
    if text is None:
        f = slot.field
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise _Invalid("required, but not set")
        return dataclasses.MISSING
    unit = str(slot.field.metadata.get("unit", ""))
    value = _convert(text, slot.annotation, unit)
    bound_problem = _check_bounds(value, slot.field.metadata, unit)
    if bound_problem:
        raise _Invalid(bound_problem)
    return value


def _build(cls: type[T], slots: list[_Slot], values: Mapping[str, Any]) -> T:
    """``cls`` from the values read by key; each section's dataclass fills its holder field."""

    def arguments(section: str | None) -> dict[str, Any]:
        return {
            slot.field.name: values[slot.key]
            for slot in slots
            if slot.section == section and values[slot.key] is not dataclasses.MISSING
        }

    own = arguments(None)
    for holder in dataclasses.fields(cls):  # type: ignore[arg-type]
        if _sections(holder):
            own[holder.name] = types.MappingProxyType(
                {
                    prefix: section(**arguments(prefix))
                    for prefix, section in _sections(holder).items()
                }
            )
    return cls(**own)


def load_settings(
    cls: type[T],
    env_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> T:
    """Build the settings dataclass ``cls`` from ``env_file`` and the environment.

    Every field ``name`` is read from ``HALLSENSE_NAME``: first the file, then, overriding
    it, the process environment (only keys naming this role's own fields). A field whose
    metadata says ``secret`` may instead be given as ``HALLSENSE_NAME_FILE``, a file of
    mode 0600. A field whose metadata has ``sections`` (prefix → dataclass, such as each
    driver's settings) holds one dataclass per prefix, its fields read from
    ``HALLSENSE_PREFIX_NAME`` (or the field's own ``key``, which several sections may
    share). Every problem (unparseable lines, unknown keys, missing or malformed values,
    values out of bounds, and what the class's ``check()`` reports) is collected and raised
    as one :class:`SettingsError`.

    Args:
        cls: a dataclass whose fields carry ``metadata={"help": ..., "unit": ...}``.
        env_file: the .env file, or None for the environment only.
        environ: the environment to overlay (advanced: tests pass a dict).

    Raises:
        SettingsError: listing every problem found, each naming its key.
    """
    environ = os.environ if environ is None else environ
    source = str(env_file) if env_file is not None else "the environment"
    slots = _slots(cls)
    known_keys = _known_keys(slots)

    raw: dict[str, str] = {}
    problems: list[str] = []
    if env_file is not None:
        file_values, problems = _parse_env_file(env_file)
        for key, value in file_values.items():
            if key not in known_keys:
                problems.append(f"{key}: not a known setting (see docs/configuration.md)")
            elif value is not None:
                raw[key] = value
    for key in known_keys:
        if key in environ:
            raw[key] = environ[key]

    values: dict[str, Any] = {}
    for slot in slots:
        if slot.key in values:
            continue  # a key several sections share is read, and reported, once
        try:
            values[slot.key] = _read_value(slot, raw)
        except _Invalid as error:
            values[slot.key] = dataclasses.MISSING
            problems.append(f"{slot.key}: {error}")

    if problems:
        raise SettingsError(source, problems)
    settings = _build(cls, slots, values)
    check = getattr(settings, "check", None)
    if check is not None:
        problems = [f"{env_key(name)}: {message}" for name, message in check()]
        if problems:
            raise SettingsError(source, problems)
    return settings


def describe_fields(cls: type[Any]) -> list[tuple[str, str, str, str]]:
    """(key, default, unit, help) for every key of a settings class, for docs and `--help`."""
    rows: dict[str, tuple[str, str, str, str]] = {}
    for slot in _slots(cls):
        f = slot.field
        if f.default is not dataclasses.MISSING:
            default = _format_default(f.default)
            if f.metadata.get("unit") == "I2C address":
                default = f"{f.default:#04x}"
        elif f.default_factory is not dataclasses.MISSING:
            default = _format_default(f.default_factory())
        else:
            default = "(required)"
        unit = str(f.metadata.get("unit", ""))
        rows.setdefault(slot.key, (slot.key, default, unit, f.metadata.get("help", "")))
    return list(rows.values())


def _format_default(value: Any) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def settings_table(cls: type[Any]) -> str:
    """The Markdown table of every key of a settings class, as docs/configuration.md has it."""
    lines = ["| key | default | unit | what it does |", "| --- | --- | --- | --- |"]
    lines += [
        f"| `{key}` | `{default}` | {unit} | {help_text} |"
        for key, default, unit, help_text in describe_fields(cls)
    ]
    return "\n".join(lines) + "\n"
