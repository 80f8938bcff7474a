"""posekit's TOML writer: whatever it writes reads back equal with tomllib, every string
escaped (control characters included), arrays on one line as Anipose's files have them."""

from __future__ import annotations

import datetime
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import toml
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.io.tomlfile import read_toml_file, toml_text, write_toml_atomic

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# every character but lone surrogates, which TOML (Unicode scalar values) cannot hold
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
SCALARS = st.one_of(
    st.booleans(), st.integers(-2**63, 2**63 - 1),
    st.floats(allow_nan=False), TEXT,
    st.datetimes(), st.dates(), st.times(),
    st.datetimes(timezones=st.just(datetime.timezone.utc)))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=12)
TABLES = st.dictionaries(TEXT, VALUES, max_size=5)


@settings(max_examples=300, deadline=None)
@given(TABLES)
def test_what_is_written_reads_back_equal(data: dict[str, Any]) -> None:
    assert tomllib.loads(toml_text(data)) == data


def test_control_characters_quotes_and_odd_keys_are_escaped(tmp_path: Path) -> None:
    """What the `toml` package's writer got wrong: it crashed on "\\x01" and wrote "\\x00"
    inside a string as "x00"."""
    data = {"metadata": {"units": "\x00", "note": "a\x00b\x01\x7f\t\"q\"\\"},
            "offsets": {"cam\x01": 1, "cam 2": 2, "": 3, "a.b": 4},
            "warnings": ["line\nbreak", "\u00e9\u4e2d"]}
    path = write_toml_atomic(tmp_path / "x.toml", data, header="# made by a test\n")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# made by a test\n")
    assert '"cam\\u0001" = 1' in text and '"a.b" = 4' in text
    assert read_toml_file(path) == data


def test_numpy_values_none_and_non_finite_numbers() -> None:
    data = {"cams": {"c": {"matrix": np.eye(2), "n": np.int64(3), "skip": None}},
            "x": [np.float32(0.5), float("nan"), float("inf"), -math.inf]}
    back = tomllib.loads(toml_text(data))
    assert back["cams"] == {"c": {"matrix": [[1.0, 0.0], [0.0, 1.0]], "n": 3}}
    assert back["x"][0] == 0.5 and math.isnan(back["x"][1])
    assert back["x"][2:] == [math.inf, -math.inf]
    with pytest.raises(TypeError, match="no TOML form for set"):
        toml_text({"a": {1, 2}})


def test_a_calibration_is_written_as_anipose_writes_it_and_its_reader_reads_it(
        tmp_path: Path) -> None:
    """One line per key, arrays on one line; the `toml` package (which aniposelib reads
    calibrations with) reads it back."""
    data = {"cam_0": {"name": "cam1", "size": [1920, 1080],
                      "matrix": [[1500.5, 0.0, 960.0], [0.0, 1500.5, 540.0], [0.0, 0.0, 1.0]],
                      "distortions": [-0.1, 0.01, 0.0, 0.0, 0.0],
                      "rotation": [0.1, 0.2, 0.3], "translation": [1.0, 2.0, 3.0]},
            "metadata": {"units": "mm"}}
    text = toml_text(data)
    assert "matrix = [[1500.5, 0.0, 960.0], [0.0, 1500.5, 540.0], [0.0, 0.0, 1.0]]\n" in text
    assert text.startswith("[cam_0]\nname = \"cam1\"\nsize = [1920, 1080]\n")
    assert toml.loads(text) == data
