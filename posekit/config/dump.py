"""TOML text of a config: the writer behind :func:`posekit.config.dump_config`.

A small writer for the values a config holds (tables, strings, integers, floats, booleans
and arrays of them) so that ``load(dump(config)) == config`` exactly: every string escape
TOML defines (control characters included), keys quoted when they are not bare, floats
written with Python's shortest round-trip form (``nan`` and ``inf`` included). Sub-tables
are written as ``[a.b]`` headers after the plain keys of their parent; tables inside
arrays are written inline. ``None`` values are left out, as TOML has no null.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")
_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"',
            "\\": "\\\\"}


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: Any) -> str:
    text = str(key)
    return text if _BARE_KEY.match(text) else _string(text)


def _float(value: float) -> str:
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    return text if any(c in text for c in ".eE") else text + ".0"


def _value(value: Any) -> str:
    """One TOML value (inline form)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        items = [f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}" if items else "{}"
    if isinstance(value, Sequence):
        if any(v is None for v in value):
            raise ValueError(f"TOML arrays cannot hold None: {value!r}")
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__} value {value!r}")


def _table(path: list[str], table: Mapping[str, Any], out: list[str]) -> None:
    plain = [(k, v) for k, v in table.items() if v is not None and not isinstance(v, Mapping)]
    subs = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if path:
        if out:
            out.append("")
        out.append("[" + ".".join(path) + "]")
    out.extend(f"{_key(k)} = {_value(v)}" for k, v in plain)
    for key, sub in subs:
        _table([*path, _key(key)], sub, out)


def to_toml(data: Mapping[str, Any]) -> str:
    """TOML text of ``data`` (a dict of tables and values); ``None`` values are left out.

    Raises TypeError for values TOML cannot hold (dates are not expected in a config).
    """
    out: list[str] = []
    _table([], data, out)
    return "\n".join(out) + "\n" if out else ""
