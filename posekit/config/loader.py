"""Loading, validating and cascading ``config.toml`` files.

Each file is validated on its own first, so an error names the file it comes from and the
key path (``session03/config.toml: [triangulation] scale_smoth: unknown key, did you mean
scale_smooth?``). The files are then merged, later ones overriding earlier ones table by
table, and the merged result is validated into a :class:`~posekit.config.schema.Config`.
"""

from __future__ import annotations

import copy
import difflib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

import toml
from pydantic import BaseModel, ValidationError

from posekit.config.schema import Config
from posekit.errors import ConfigError


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse a TOML file; a syntax error names the file and the line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def _model_at(loc: Sequence[Any]) -> type[BaseModel] | None:
    """The schema model that owns the key at ``loc`` (None inside free-form tables)."""
    model: type[BaseModel] = Config
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            model = ann
        else:
            return None
    return model


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


def _describe(err: dict[str, Any]) -> str:
    # pydantic puts union branch names in loc after the key; they are not config keys
    loc = [p for p in err["loc"] if p not in {"str", "int", "float", "none"}]
    path = _key_path(loc)
    if err["type"] == "extra_forbidden":
        model = _model_at(loc)
        hint = ""
        if model is not None:
            close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
            if close:
                hint = f", did you mean {close[0]}?"
            else:
                hint = f" (valid keys: {', '.join(model.model_fields)})"
        return f"{path}: unknown key{hint}"
    value = err.get("input")
    return f"{path}: {err['msg'].rstrip('.')} (got {value!r})"


def validate_dict(data: dict[str, Any], source: str) -> Config:
    """Validate a parsed config; a :class:`ConfigError` lists every problem found."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        problems = [f"{source}: {_describe(e)}" for e in exc.errors()]  # type: ignore[arg-type]
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


def load_config(paths: Sequence[str | os.PathLike[str]]) -> Config:
    """Validate each file, then merge them in order (later overrides earlier)."""
    merged: dict[str, Any] = {}
    for path in paths:
        data = read_toml(path)
        validate_dict(data, str(path))
        merged = merge(merged, data)
    source = str(paths[-1]) if paths else "defaults"
    return validate_dict(merged, source)


def dump_config(config: Config) -> str:
    """The resolved config as TOML text (for recording alongside outputs)."""
    return toml.dumps(config.to_dict())
