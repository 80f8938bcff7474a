"""Property tests of the config: load -> dump -> load gives the same config, and the TOML
writer behind ``dump_config`` agrees with the TOML parser on any table of TOML values.

Configs are drawn from the schema itself (every section, key, type and bound of
``posekit.config.schema``), so a key added to the schema is covered without editing this
file.
"""

from __future__ import annotations

import math
import sys
import types
import typing
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from posekit.config import Config, dump_config, load_config
from posekit.config.schema import SkeletonSpec
from posekit.io.tomlfile import to_toml

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: any Unicode scalar value (TOML strings cannot hold lone surrogates)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=10)
KEYS = st.text(st.characters(exclude_categories=["Cs"]), min_size=0, max_size=8)
INT64 = st.integers(-(2**63), 2**63 - 1)


def _bounds(metadata: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in metadata:
        if isinstance(m, Ge):
            out["min_value"] = m.ge
        elif isinstance(m, Gt):
            out["min_value"], out["exclude_min"] = m.gt, True
        elif isinstance(m, Le):
            out["max_value"] = m.le
        elif isinstance(m, Lt):
            out["max_value"], out["exclude_max"] = m.lt, True
        elif isinstance(m, MinLen):
            out["min_size"] = m.min_length
        elif isinstance(m, MaxLen):
            out["max_size"] = m.max_length
    return out


def values(annotation: Any, metadata: list[Any] | None = None) -> st.SearchStrategy[Any]:
    """Values that validate as ``annotation`` (a schema field type), as TOML would give
    them (lists for tuples, dicts for tables)."""
    bounds = _bounds(metadata or [])
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is SkeletonSpec:
        return skeletons()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return tables(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([values(a, metadata) for a in args if a is not type(None)])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        lo = bounds.get("min_value", -(2**63)) + bounds.get("exclude_min", 0)
        hi = bounds.get("max_value", 2**63 - 1) - bounds.get("exclude_max", 0)
        return st.integers(lo, hi)
    if annotation is float:
        keep = {k: v for k, v in bounds.items() if k.startswith(("min", "max", "exclude"))}
        return st.floats(allow_nan=False, allow_infinity=False, **keep)
    if annotation is str:
        return TEXT
    if origin is tuple:
        return st.tuples(*[values(a) for a in args]).map(list)
    if origin is list:
        size = {k: v for k, v in bounds.items() if k.endswith("size")}
        return st.lists(values(args[0]), max_size=size.pop("max_size", 3), **size)
    if origin is dict:
        return st.dictionaries(KEYS, values(args[1]), max_size=3)
    raise NotImplementedError(f"no strategy for {annotation!r}")


@st.composite
def skeletons(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(TEXT.map(lambda t: t.strip().replace("\t", " ").replace(
        "\r", " ").replace("\n", " ").strip()).filter(bool), min_size=1, max_size=5,
        unique=True))
    bones = draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)).map(list),
                          max_size=3))
    return {"keypoints": names, "bones": bones}


@st.composite
def tables(draw: st.DrawFn, model: type[BaseModel]) -> dict[str, Any]:
    """A table of ``model``: a random subset of its keys, each with a valid value."""
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if field.is_required() or draw(st.booleans()):
            out[name] = draw(values(field.annotation, field.metadata))
    return out


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@settings(max_examples=150, deadline=None)
@given(tables(Config))
def test_config_load_dump_load_round_trip(tmp_path_factory: Any, data: dict[str, Any]) -> None:
    folder = tmp_path_factory.mktemp("cfg")
    first = load_config([write(folder / "config.toml", to_toml(data))])
    text = dump_config(first)
    again = load_config([write(folder / "dumped.toml", text)])
    assert again == first
    assert dump_config(again) == text


@settings(max_examples=50, deadline=None)
@given(tables(Config), tables(Config))
def test_cascade_equals_the_merge_of_its_files(tmp_path_factory: Any, project: dict[str, Any],
                                               session: dict[str, Any]) -> None:
    """Loading project + session equals loading one file holding their table-by-table merge,
    and the session's plain values win."""
    from posekit.config import merge

    folder = tmp_path_factory.mktemp("cascade")
    a = write(folder / "config.toml", to_toml(project))
    b = write(folder / "session.toml", to_toml(session))
    merged = write(folder / "merged.toml", to_toml(merge(project, session)))
    cascade = load_config([a, b])
    assert cascade == load_config([merged])
    if "nesting" in session:
        assert cascade.nesting == session["nesting"]


def toml_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.booleans(), INT64, st.floats(allow_nan=False), TEXT)
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, toml_values(), max_size=5))
def test_toml_writer_agrees_with_the_parser(data: dict[str, Any]) -> None:
    assert tomllib.loads(to_toml(data)) == data


@settings(max_examples=50, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_toml_writer_floats_round_trip_exactly(value: float) -> None:
    back = tomllib.loads(to_toml({"x": value}))["x"]
    assert math.isnan(back) if math.isnan(value) else back == value
    assert math.copysign(1.0, back) == math.copysign(1.0, value)
