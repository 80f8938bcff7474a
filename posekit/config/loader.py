"""Loading, validating and cascading ``config.toml`` files.

Each file is validated on its own first, so an error names the file it comes from and the
key path (``session03/config.toml: [triangulation] scale_smoth: unknown key, did you mean
scale_smooth?``). The files are then merged, later ones overriding earlier ones table by
table, and the merged result is validated into a :class:`~posekit.config.schema.Config`.

Values are checked strictly against their TOML type: a number in quotes (``"4"``), ``true``
for a number or ``"yes"`` for a boolean is an error, never silently converted; an integer
is accepted where a float is expected.
"""

from __future__ import annotations

import copy
import datetime as dt
import difflib
import json
import os
import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from posekit.config.schema import Config
from posekit.errors import ConfigError
from posekit.io.tomlfile import TOMLDecodeError, parse_toml, to_toml

_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_SCALAR_TYPES = {"int_type", "int_from_float", "float_type", "bool_type", "string_type",
                 "finite_number", "int_parsing", "float_parsing", "bool_parsing"}


def _syntax_context(text: str, message: str) -> str:
    """The offending line of a TOML syntax error, quoted, when the message locates it."""
    match = _AT_LINE.search(message)
    if match is None:
        return ""
    lines = text.splitlines()
    number = int(match.group(1))
    if not 1 <= number <= len(lines):
        return ""
    line = lines[number - 1].strip()
    if len(line) > 60:
        line = line[:57] + "..."
    return f": {line!r}" if line else ""


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file; a syntax error names the file, the line and the column.

    A UTF-8 byte-order mark (as some Windows editors write) is ignored.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}: line {line}: config file is not UTF-8 text (byte "
            f"{raw[exc.start]:#04x}); save it with the UTF-8 encoding"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        return parse_toml(text)
    except TOMLDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid TOML: {exc}{_syntax_context(text, str(exc))}; correct the "
            "TOML syntax there (key = value, strings in quotes, [table] headers)"
        ) from None
    except (ValueError, RecursionError):  # an integer of thousands of digits, deep nesting
        raise ConfigError(
            f"{path}: cannot read this TOML file: a number has too many digits or arrays are "
            "nested too deeply; correct the value"
        ) from None


def _submodel(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _model_at(loc: Sequence[Any]) -> type[BaseModel] | None:
    """The schema model that owns the key at ``loc`` (None inside free-form tables).

    Follows sub-tables (``[triangulation]``) and tables of tables (``[cameras.<name>]``).
    """
    model: type[BaseModel] = Config
    parts = [str(p) for p in loc[:-1]]
    i = 0
    while i < len(parts):
        field = model.model_fields.get(parts[i])
        if field is None:
            return None
        ann = field.annotation
        sub = _submodel(ann)
        if sub is None and typing.get_origin(ann) is dict and i + 1 < len(parts):
            sub = _submodel(typing.get_args(ann)[1])
            i += 1  # the free key ([cameras.<name>]) of a table of tables
        if sub is None:
            return None
        model = sub
        i += 1
    return model


def _section_of(key: str) -> str | None:
    """The ``[section]`` whose schema has the key ``key``, if exactly one does."""
    found = [name for name, field in Config.model_fields.items()
             if (sub := _submodel(field.annotation)) is not None and key in sub.model_fields]
    return found[0] if len(found) == 1 else None


def _key_path(loc: Sequence[Any]) -> str:
    """Human form of a key path: ``[triangulation] scale_smooth`` or ``nesting``."""
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int) and parts:
            parts[-1] += f"[{p}]"
        else:
            parts.append(str(p))
    if len(parts) == 1:
        return parts[0]
    return f"[{'.'.join(parts[:-1])}] {parts[-1]}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _unknown_key(loc: Sequence[Any]) -> str:
    model = _model_at(loc)
    key = str(loc[-1])
    if model is None:
        return "unknown key"
    close = difflib.get_close_matches(key, list(model.model_fields), n=1)
    if not close:
        close = [k for k in model.model_fields if k.lower() == key.lower()]
    if close:
        return f"unknown key, did you mean {close[0]}?"
    section = _section_of(key)
    here = (f"in [{'.'.join(str(p) for p in loc[:-1])}]" if len(loc) > 1
            else "at the top level (before any [table] header)")
    if section is not None and model is not Config.model_fields[section].annotation:
        return f"unknown key {here}; {key} belongs in [{section}], move it there"
    return f"unknown key (valid keys: {', '.join(model.model_fields)})"


def _example(loc: Sequence[Any]) -> str:
    """``; for example key = <default>`` for a key of the schema with a default value."""
    keys = [p for p in loc if not isinstance(p, int)]
    model = _model_at(keys)
    if model is None or not keys:
        return ""
    field = model.model_fields.get(str(keys[-1]))
    if field is None or field.is_required():
        return ""
    default = field.get_default(call_default_factory=True)
    if default is None or default in ({}, []):
        return ""
    try:
        if isinstance(default, BaseModel):
            return ""
        if isinstance(default, tuple):
            default = list(default)
        text = to_toml({str(keys[-1]): default}).strip()
    except (TypeError, ValueError):  # pragma: no cover - every default has a TOML form
        return ""
    return f"; for example {text}" if "\n" not in text else ""


def _describe(err: dict[str, Any]) -> str:
    # pydantic puts union branch names in loc after the key; they are not config keys
    loc = [p for p in err["loc"] if p not in {"str", "int", "float", "none"}]
    path = _key_path(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"{path}: {_unknown_key(loc)}"
    if kind == "missing":
        return f"{path}: this key is required here; add it"
    value = err.get("input")
    msg = str(err["msg"]).rstrip(".").replace("valid array", "valid list")
    msg = msg.removeprefix("Value error, ")
    msg = msg.replace("should be an object", "should be a table")
    hint = ""
    if kind in _SCALAR_TYPES:
        if isinstance(value, str) and kind != "string_type":
            hint = "; write the value without quotes"
        elif kind == "string_type" and not isinstance(value, (dict, list)):
            hint = '; put the value in quotes ("...")'
        hint += _example(loc)
    elif kind in ("dict_type", "model_type"):
        table = ".".join(str(p) for p in loc)
        hint = f"; write it as a [{table}] table of key = value lines"
    elif kind in ("list_type", "tuple_type", "literal_error", "too_short", "too_long"):
        hint = _example(loc)
    return f"{path}: {msg} (got {_short(value)}){hint}"


def _json_value(value: Any) -> Any:
    """TOML dates and times as ISO text (the JSON form pydantic validates)."""
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    raise TypeError(f"unexpected {type(value).__name__} in a parsed config")


def _validate(data: dict[str, Any]) -> Config:
    """Strict validation: TOML types are taken as they are, never converted."""
    text = json.dumps(data, default=_json_value)
    return Config.model_validate_json(text, strict=True)


def _problems(exc: ValidationError, source: str, skip_missing: bool = False) -> list[str]:
    return [f"{source}: {_describe(e)}" for e in exc.errors()  # type: ignore[arg-type]
            if not (skip_missing and e["type"] == "missing")]


def validate_dict(data: dict[str, Any], source: str) -> Config:
    """Validate a parsed config; a :class:`ConfigError` lists every problem found."""
    try:
        return _validate(data)
    except ValidationError as exc:
        raise ConfigError("\n".join(_problems(exc, source))) from None


def _check_file(data: dict[str, Any], source: str) -> None:
    """Validate one file of a cascade on its own. Missing required keys are left to the
    merged result, as another file of the cascade may give them."""
    try:
        _validate(data)
    except ValidationError as exc:
        problems = _problems(exc, source, skip_missing=True)
        if problems:
            raise ConfigError("\n".join(problems)) from None


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge: tables merge key by key, any other value in ``override`` wins."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _blame(loc: Sequence[Any], files: Sequence[tuple[str, dict[str, Any]]]) -> str:
    """The last file of a cascade that sets the longest prefix of the key path ``loc``."""
    best, depth = files[-1][0], -1
    for source, data in files:
        node: Any = data
        n = 0
        for part in loc:
            if isinstance(node, dict) and str(part) in node:
                node, n = node[str(part)], n + 1
            else:
                break
        if n >= depth and n > 0:
            best, depth = source, n
    return best


def key_source(paths: Sequence[str | os.PathLike[str]], loc: Sequence[str]) -> str | None:
    """The last file of a cascade that sets the key path ``loc`` (e.g. ``("angles",
    "knee")``), or None when none does or a file cannot be read."""
    found = None
    for path in paths:
        try:
            node: Any = read_toml(path)
        except ConfigError:
            return None
        for part in loc:
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            found = str(path)
    return found


def load_config(paths: Sequence[str | os.PathLike[str]]) -> Config:
    """Validate each file, then merge them in order (later overrides earlier).

    A problem that only shows once the files are merged names the file that sets the key
    at fault (the last of the cascade to set it).
    """
    merged: dict[str, Any] = {}
    files: list[tuple[str, dict[str, Any]]] = []
    for path in paths:
        data = read_toml(path)
        _check_file(data, str(path))
        files.append((str(path), data))
        merged = merge(merged, data)
    if not files:
        return validate_dict(merged, "defaults")
    try:
        return _validate(merged)
    except ValidationError as exc:
        problems = [f"{_blame(e['loc'], files)}: {_describe(e)}"  # type: ignore[arg-type]
                    for e in exc.errors()]
        raise ConfigError("\n".join(problems)) from None


def dump_config(config: Config) -> str:
    """The resolved config as TOML text (for recording alongside outputs); loading the text
    gives back an equal config."""
    return to_toml(config.to_dict())
