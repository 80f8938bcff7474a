"""TOML files posekit writes (configs, calibrations, sync files) and reads.

posekit's own writer, :func:`to_toml`, so that what it writes reads back exactly: every
string escape TOML 1.0 defines (control characters included), keys quoted when they are not
bare, floats in Python's shortest round-trip form (``nan`` and ``inf`` included), dates and
times in ISO form (an imported calibration's metadata may hold them). Sub-tables are
written as ``[a.b]`` headers after the plain keys of their parent, tables inside arrays and
arrays on one line (``matrix = [[1520.0, 0.0, 960.0], ...]``, as Anipose's calibration files
have them). ``None`` values are left out of tables, as TOML has no null. The ``toml``
package's writer, which wrote calibration and sync files until 2026-12-07, crashed on
control characters in strings (an imported calibration's metadata, a camera name) or wrote
``\\x00`` as ``x00``. Files are read with the standard library's ``tomllib`` (``tomli``
on Python 3.10) and written atomically (:func:`~posekit.io.atomic.write_text_atomic`).
"""

from __future__ import annotations

import datetime
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posekit.io.atomic import write_text_atomic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into plain Python numbers and lists,
    tuples into lists, and None values dropped from tables."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


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
        elif 0xD800 <= ord(ch) <= 0xDFFF:  # a lone surrogate (an undecodable byte of a
            out.append("\\ufffd")          # file name): TOML holds Unicode scalars only
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
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        items = [f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}" if items else "{}"
    if isinstance(value, Sequence):
        if any(v is None for v in value):
            raise ValueError(f"TOML arrays cannot hold None: {value!r}")
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__} value {value!r}")


def _table(path: list[str], table: Mapping[str, Any], out: list[str]) -> None:
    scalars = [(k, v) for k, v in table.items()
               if v is not None and not isinstance(v, Mapping)]
    subs = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if path:
        if out:
            out.append("")
        out.append("[" + ".".join(path) + "]")
    out.extend(f"{_key(k)} = {_value(v)}" for k, v in scalars)
    for key, sub in subs:
        _table([*path, _key(key)], sub, out)


def to_toml(data: Mapping[str, Any]) -> str:
    """TOML text of ``data`` (a dict of tables and values); ``None`` values are left out.

    Raises TypeError for values TOML cannot hold, ValueError for None in an array.
    """
    out: list[str] = []
    _table([], data, out)
    return "\n".join(out) + "\n" if out else ""


def toml_text(data: Mapping[str, Any], header: str = "") -> str:
    """``data`` as TOML text, after ``header`` (comment lines, each starting with ``#``).

    Raises:
        TypeError: a value TOML cannot hold (after :func:`plain`).
    """
    return header + to_toml(plain(data))


def write_toml_atomic(target: str | os.PathLike[str], data: Mapping[str, Any],
                      header: str = "") -> Path:
    """Write :func:`toml_text` of ``data`` to ``target`` atomically."""
    return write_text_atomic(target, toml_text(data, header))


#: what :func:`parse_toml` and :func:`read_toml_file` raise for text that is not TOML (a
#: ValueError, whose message gives the line and column)
TOMLDecodeError = tomllib.TOMLDecodeError


def parse_toml(text: str) -> dict[str, Any]:
    """The tables of the TOML text ``text``, read as TOML 1.0 (:data:`TOMLDecodeError`)."""
    return tomllib.loads(text)


def read_toml_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The tables of the TOML file ``path``, read as TOML 1.0.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not UTF-8 TOML (``tomllib.TOMLDecodeError`` is a ValueError).
    """
    with open(path, "rb") as handle:
        return tomllib.load(handle)
