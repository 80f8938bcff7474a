"""Fuzz the readers of user files: the config loader and the 2D importers.

Each case starts from a valid input (a seed), applies one to three random mutations and
calls posekit on it. The only acceptable outcomes are a result or a
:class:`~posekit.errors.PosekitError` (whose message the CLI prints); any other exception
is a bug, and so is a result that breaks posekit's own invariants (a config that does not
load back from its dump, 2D keypoints with likelihoods outside [0, 1]).

Targets:

- ``config``: ``config.toml`` files (the example project's, the full template, an
  Anipose-style one with every free-form table) loaded alone or as the session file of a
  cascade; mutations: byte and bit flips, inserted TOML punctuation, deleted / duplicated /
  swapped / moved lines, keys and table names with typos, values replaced by values of
  other types (dates, nan, huge integers, deep arrays ...), truncation, invalid UTF-8.
  A config that loads is dumped, reloaded and its ``[angles]`` parsed.
- ``openpose``: a folder of OpenPose JSON frame files; JSON-aware mutations (values of
  other types, deleted / added keys and list items, NaN, huge numbers), byte mutations of
  a file, and folder mutations (files deleted, renamed, duplicated frame numbers, empty or
  non-JSON files, a folder named like a frame file).
- ``dlc-csv``: DeepLabCut CSV files (single- and multi-animal); cell, column, row and
  header mutations plus byte mutations.
- ``dlc-h5``: DeepLabCut ``.h5`` tables; structural variants written with pandas (other
  column levels, text values, other keys, odd attributes) and byte mutations of the file.
- ``sleap``: SLEAP analysis HDF5 files; datasets removed, reshaped, retyped, ``dims``
  attributes garbled, plus byte mutations of the file.

- ``calibration``: calibrations made elsewhere, as ``posekit calibrate import`` reads them:
  an Anipose ``calibration.toml`` (TOML mutations as for configs) or a Qualisys export
  (attribute values replaced by odd numbers and text, attributes and elements dropped,
  byte mutations). One that loads must hold finite, positive lens numbers, write a
  ``calibration.toml`` that reads back equal and project a point.

A successful import is also written as ``.h5`` and ``.csv`` and read back, as
``posekit import-2d`` does.

Every case is reproducible from ``(seed, target, case)``. Each target runs in a child
process, so that a crash or a hang inside a C library is recorded (as ``crash`` /
``hang``) rather than ending the run. Inputs of every case that is not ``ok`` or a
PosekitError are copied to ``OUT/reproducers/<target>-<case>/`` with a README.

Run from the repository root::

    python benchmarks/fuzz_inputs.py --cases 2000 --seed 0 --out fuzz-out
    python benchmarks/fuzz_inputs.py --targets config --case 123 --seed 0   # one case

Exit status 1 when any case is a bug.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import PosekitError

TARGETS = ("config", "openpose", "dlc-csv", "dlc-h5", "sleap", "calibration")
Rng = np.random.Generator

# --------------------------------------------------------------------------------------------
# Generic byte / text mutations

PUNCTUATION = [b"[", b"]", b"[[", b"=", b'"', b"'", b'"""', b"\n", b"#", b"{", b"}", b",",
               b".", b"\\", b"\x00", b"\t", b"\r", b" = ", b"[a]\n", b"-", b"1", b"e"]
BAD_UTF8 = [b"\xff", b"\xfe", b"\xc3", b"\xe2\x82", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80"]


def _pos(rng: Rng, data: bytes) -> int:
    return int(rng.integers(0, len(data) + 1))


def flip_byte(rng: Rng, data: bytes) -> bytes:
    if not data:
        return bytes([int(rng.integers(256))])
    i = int(rng.integers(len(data)))
    return data[:i] + bytes([int(rng.integers(256))]) + data[i + 1:]


def flip_bit(rng: Rng, data: bytes) -> bytes:
    if not data:
        return data
    i = int(rng.integers(len(data)))
    return data[:i] + bytes([data[i] ^ (1 << int(rng.integers(8)))]) + data[i + 1:]


def insert_punctuation(rng: Rng, data: bytes) -> bytes:
    i = _pos(rng, data)
    return data[:i] + PUNCTUATION[int(rng.integers(len(PUNCTUATION)))] + data[i:]


def invalid_utf8(rng: Rng, data: bytes) -> bytes:
    i = _pos(rng, data)
    return data[:i] + BAD_UTF8[int(rng.integers(len(BAD_UTF8)))] + data[i:]


def truncate(rng: Rng, data: bytes) -> bytes:
    return data[:_pos(rng, data)]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def delete_line(rng: Rng, data: bytes) -> bytes:
    lines = _lines(data)
    del lines[int(rng.integers(len(lines)))]
    return b"\n".join(lines)


def duplicate_line(rng: Rng, data: bytes) -> bytes:
    lines = _lines(data)
    i = int(rng.integers(len(lines)))
    lines.insert(int(rng.integers(len(lines) + 1)), lines[i])
    return b"\n".join(lines)


def swap_lines(rng: Rng, data: bytes) -> bytes:
    lines = _lines(data)
    i, j = rng.integers(len(lines), size=2)
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


BYTE_MUTATIONS: list[Callable[[Rng, bytes], bytes]] = [
    flip_byte, flip_bit, insert_punctuation, invalid_utf8, truncate, delete_line,
    duplicate_line, swap_lines,
]


def typo(rng: Rng, word: str) -> str:
    """``word`` with one typing mistake (or a case change)."""
    if not word:
        return "x"
    i = int(rng.integers(len(word)))
    kind = int(rng.integers(5))
    letter = "abcdefghijklmnopqrstuvwxyz_"[int(rng.integers(27))]
    if kind == 0:
        return word[:i] + word[i + 1:] or "x"
    if kind == 1:
        return word[:i] + letter + word[i:]
    if kind == 2:
        return word[:i] + letter + word[i + 1:]
    if kind == 3 and len(word) > 1:
        j = min(i, len(word) - 2)
        return word[:j] + word[j + 1] + word[j] + word[j + 2:]
    return word.upper() if word != word.upper() else word.lower() + "x"


# --------------------------------------------------------------------------------------------
# config.toml

ANIPOSE_CONFIG = """\
project = "study"
nesting = 1
video_extension = "MOV"

[calibration]
board_type = "charuco"
board_size = [10, 7]
board_marker_bits = 4
board_marker_dict_number = 50
board_marker_length = 18.75
board_square_side_length = 25
animal_calibration = false
fisheye = false

[filter]
enabled = true
type = "medfilt"
medfilt = 13
offset_threshold = 25
score_threshold = 0.05
spline = true

[triangulation]
triangulate = true
cam_regex = '-cam([A-Z])$'
cam_align = "C"
ransac = false
optim = true
constraints = [["left_hip", "left_knee"], ["left_knee", "left_ankle"]]
scale_smooth = 25
scale_length = 10
reproj_error_threshold = 3
score_threshold = 0.6
n_deriv_smooth = 2
lengths = {"left_hip-left_knee" = 410.0}
axes = [["x", "left_hip", "right_hip"], ["z", "left_ankle", "left_knee"]]
reference_point = "left_hip"

[angles]
left_knee = ["left_hip", "left_knee", "left_ankle"]
arm = ["chain", "left_shoulder", "left_elbow", "left_wrist/"]
shank = ["axis", "left_hip", "left_knee", "left_ankle"]

[angle_conventions]
left_knee = "flexion"

[sync]
max_lag_s = 5.0
[sync.offsets]
camA = 0
camB = -12

[cameras.A]
offset = [0, 0, 640, 480]

[skeletons.mine]
keypoints = ["head", "hip", "knee"]
bones = [["hip", "knee"]]

[compute]
jobs = 2
scheduler = "local"
"""

VALUES = ["1", "-1", "0", "1.5", "-0.0", "nan", "inf", "-inf", "true", "false", '"text"',
          "''", '"4"', '"yes"', "[]", "[1, 2]", '["a", "b"]', '[[1], ["a"]]', "{}",
          "{a = 1}", "1979-05-27", "1979-05-27T07:32:00Z", "07:32:00", "9" * 30, "1e400",
          "0x1F", "0o7", "0b1", '"\\u0000"', '"' + "x" * 5000 + '"', "[" * 60 + "]" * 60,
          "[" * 3000 + "]" * 3000, "9" * 5000, '"\\ud800"', '["chain"]', '["a", "a", "b"]',
          '["axis", "a", "b"]', '"inner"', '"flexion"', '{keypoints = []}']


def _key_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.split("\n"))
            if "=" in line and not line.lstrip().startswith(("#", "["))]


def _header_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.split("\n")) if line.lstrip().startswith("[")]


def typo_key(rng: Rng, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    candidates = _key_lines(text) + _header_lines(text)
    if not candidates:
        return data
    i = candidates[int(rng.integers(len(candidates)))]
    line = lines[i]
    if line.lstrip().startswith("["):
        name = line.strip().strip("[]")
        parts = name.split(".")
        k = int(rng.integers(len(parts)))
        parts[k] = typo(rng, parts[k])
        lines[i] = "[" + ".".join(parts) + "]"
    else:
        key, _, value = line.partition("=")
        lines[i] = typo(rng, key.strip()) + " =" + value
    return "\n".join(lines).encode()


def retype_value(rng: Rng, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    candidates = _key_lines(text)
    if not candidates:
        return data
    i = candidates[int(rng.integers(len(candidates)))]
    key = lines[i].partition("=")[0]
    lines[i] = f"{key}= {VALUES[int(rng.integers(len(VALUES)))]}"
    return "\n".join(lines).encode()


def move_key(rng: Rng, data: bytes) -> bytes:
    """A key line moved under another table (or to the top level)."""
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    keys = _key_lines(text)
    if not keys:
        return data
    line = lines.pop(keys[int(rng.integers(len(keys)))])
    headers = _header_lines("\n".join(lines))
    at = 0 if not headers or rng.random() < 0.3 else headers[int(rng.integers(len(headers)))] + 1
    lines.insert(at, line)
    return "\n".join(lines).encode()


def add_key(rng: Rng, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    headers = _header_lines(text)
    at = headers[int(rng.integers(len(headers)))] + 1 if headers else 0
    name = ["nesting", "scale_smooth", "board_size", "cam_regex", "offset", "keypoints",
            "enabled", "zzz", "left_knee", "camC"][int(rng.integers(10))]
    lines.insert(at, f"{name} = {VALUES[int(rng.integers(len(VALUES)))]}")
    return "\n".join(lines).encode()


CONFIG_MUTATIONS = [*BYTE_MUTATIONS, typo_key, typo_key, retype_value, retype_value,
                    retype_value, move_key, add_key, add_key]


def config_seeds() -> list[bytes]:
    from posekit.config.template import render_template

    root = Path(__file__).resolve().parents[1]
    return [(root / "example_project" / "config.toml").read_bytes(),
            render_template().encode(), ANIPOSE_CONFIG.encode()]


def run_config(rng: Rng, case_dir: Path) -> str:
    from posekit.angles.definitions import parse_angles
    from posekit.config import dump_config, load_config

    seeds = config_seeds()
    data = seeds[int(rng.integers(len(seeds)))]
    for _ in range(int(rng.integers(1, 4))):
        data = CONFIG_MUTATIONS[int(rng.integers(len(CONFIG_MUTATIONS)))](rng, data)
    target = case_dir / "session" / "config.toml"
    target.parent.mkdir()
    target.write_bytes(data)
    paths = [target]
    if rng.random() < 0.4:  # as the session file of a cascade
        project = case_dir / "config.toml"
        project.write_bytes(seeds[int(rng.integers(len(seeds)))])
        paths = [project, target]
    cfg = load_config(paths)
    parse_angles(cfg.angles, cfg.angle_conventions, str(target))
    dumped = case_dir / "dumped.toml"
    dumped.write_text(dump_config(cfg), encoding="utf-8")
    if load_config([dumped]) != cfg:
        raise FuzzFinding("roundtrip", "the dumped config does not load back equal")
    return "ok"


# --------------------------------------------------------------------------------------------
# 2D importers: shared checks


class FuzzFinding(Exception):
    """A result that breaks an invariant (not an exception posekit raised)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def check_pose(pose: Any, case_dir: Path) -> str:
    """Invariants of an imported Pose2D, then the write + read-back ``import-2d`` does."""
    from posekit.pose2d.table import read_pose2d, write_pose2d

    n, k = pose.n_frames, len(pose.keypoints)
    if pose.xy.shape != (n, k, 2) or pose.likelihood.shape != (n, k):
        raise FuzzFinding("invalid-output", f"shapes {pose.xy.shape} {pose.likelihood.shape}")
    like = pose.likelihood
    if not (np.isfinite(like).all() and (like >= 0).all() and (like <= 1).all()):
        raise FuzzFinding("invalid-output", "likelihood outside [0, 1] or not finite")
    if np.isinf(pose.xy).any():
        raise FuzzFinding("invalid-output", "infinite coordinates")
    if pose.frame_times is not None and len(pose.frame_times) != n:
        raise FuzzFinding("invalid-output", "frame_times of the wrong length")
    for suffix in (".h5", ".csv"):
        out = case_dir / f"converted{suffix}"
        write_pose2d(pose, out)
        back = read_pose2d(out)
        if back.keypoints != pose.keypoints or not np.array_equal(back.xy, pose.xy,
                                                                  equal_nan=True):
            raise FuzzFinding("roundtrip", f"the written {suffix} does not read back equal")
    return "ok"


JSON_VALUES: list[Any] = [None, True, False, 0, -1, 1, 1.5, 1e308, float("nan"),
                          float("inf"), "x", "", [], {}, [1, 2], [[1, 2, 3]], {"a": 1},
                          [None] * 3, ["1", "2", "3"], list(range(75)), [0.0] * 74]


def _walk(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _walk(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out += _walk(value, (*path, i))
    return out


def mutate_json(rng: Rng, doc: Any) -> Any:
    """One structural change at a random place of a JSON document."""
    paths = _walk(doc)
    path = paths[int(rng.integers(len(paths)))]
    value = JSON_VALUES[int(rng.integers(len(JSON_VALUES)))]
    if not path:
        return value if rng.random() < 0.5 else doc
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    kind = int(rng.integers(4))
    if kind == 0:
        parent[key] = value
    elif kind == 1:
        del parent[key]
    elif kind == 2 and isinstance(parent, list):
        parent.insert(int(key), value)
    elif kind == 2:
        parent[typo(rng, str(key))] = parent.pop(key)
    elif isinstance(parent[key], list) and parent[key]:
        parent[key] = parent[key][: int(rng.integers(len(parent[key])))]
    else:
        parent[key] = value
    return doc


# --------------------------------------------------------------------------------------------
# OpenPose JSON folders


def openpose_seed(rng: Rng, folder: Path) -> None:
    """Six BODY_25 frame files: two people, nobody, a missing keypoint."""
    folder.mkdir(parents=True)
    base = rng.uniform(100, 500, size=(25, 2))
    for frame in range(6):
        people = []
        for p in range(int(rng.integers(0, 3))):
            xy = base + 60 * p + rng.normal(0, 2, size=(25, 2))
            conf = rng.uniform(0.1, 1.0, size=(25, 1))
            flat = np.hstack([xy, conf]).ravel().tolist()
            people.append({"person_id": [-1], "pose_keypoints_2d": flat,
                           "face_keypoints_2d": [], "hand_left_keypoints_2d": []})
        doc = {"version": 1.3, "people": people}
        (folder / f"walk_{frame:012d}_keypoints.json").write_text(json.dumps(doc))


def mutate_openpose_folder(rng: Rng, folder: Path) -> None:
    files = sorted(folder.iterdir())
    kind = int(rng.integers(10))
    if not files:
        return
    path = files[int(rng.integers(len(files)))]
    if kind <= 3 and path.is_file():  # JSON-aware
        try:
            doc = json.loads(path.read_text())
            path.write_text(json.dumps(mutate_json(rng, doc)))
        except (ValueError, UnicodeDecodeError):
            path.write_bytes(flip_byte(rng, path.read_bytes()))
    elif kind <= 6 and path.is_file():  # bytes of one file
        mutation = BYTE_MUTATIONS[int(rng.integers(len(BYTE_MUTATIONS)))]
        path.write_bytes(mutation(rng, path.read_bytes()))
    elif kind == 7:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    elif kind == 8:  # renamed: no number, same number as another, a huge number
        names = ["walk_keypoints.json", files[0].name.replace(".json", "_copy.json"),
                 f"walk_{10**9:012d}_keypoints.json", "walk_-3_keypoints.json",
                 "x.JSON", f"walk_{'9' * 40}_keypoints.json"]
        if path.is_file():
            path.rename(folder / names[int(rng.integers(len(names)))])
    else:  # something else beside the frames
        extra = [("notes.json", b"{}"), ("empty_keypoints.json", b""),
                 ("walk_000000000099_keypoints.json", b"[]"), ("readme.txt", b"hello")]
        name, content = extra[int(rng.integers(len(extra)))]
        if rng.random() < 0.2:
            (folder / "walk_000000000007_keypoints.json").mkdir(exist_ok=True)
        else:
            (folder / name).write_bytes(content)


def run_openpose(rng: Rng, case_dir: Path) -> str:
    from posekit.pose2d.importers import import_2d

    folder = case_dir / "walk_json"
    openpose_seed(rng, folder)
    for _ in range(int(rng.integers(1, 4))):
        mutate_openpose_folder(rng, folder)
    skeleton = [None, "body25", "body25b", "coco17"][int(rng.integers(4))]
    person: str | int = "best" if rng.random() < 0.7 else int(rng.integers(0, 3))
    return check_pose(import_2d(folder, skeleton=skeleton, person=person), case_dir)


# --------------------------------------------------------------------------------------------
# DeepLabCut CSV and HDF5

DLC_MULTI_CSV = """\
scorer,DLC_resnet50,DLC_resnet50,DLC_resnet50,DLC_resnet50,DLC_resnet50,DLC_resnet50
individuals,mouse1,mouse1,mouse1,mouse2,mouse2,mouse2
bodyparts,snout,snout,snout,snout,snout,snout
coords,x,y,likelihood,x,y,likelihood
0,10.5,20.25,0.9,30.0,40.0,0.8
1,11.5,21.25,0.95,,,
2,12.5,22.25,0.1,32.0,42.0,0.7
"""
CELLS = ["", "nan", "abc", "1e400", "inf", "-inf", "-", '"', "1,2", "0x10", "  ", "True",
         "-5", "2", "1e-320", "x"]


def dlc_pose(rng: Rng) -> Any:
    from posekit.pose2d.table import Pose2D

    n, k = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    xy = rng.uniform(0, 640, size=(n, k, 2))
    like = rng.uniform(0, 1, size=(n, k))
    xy[like < 0.2] = np.nan
    return Pose2D(tuple(f"kp{i}" for i in range(k)), xy, like, scorer="DLC_model")


def mutate_csv(rng: Rng, data: bytes) -> bytes:
    text = data.decode("utf-8", "replace")
    rows = [line.split(",") for line in text.split("\n")]
    rows = [r for r in rows if r != [""]] or [[""]]
    kind = int(rng.integers(5))
    i = int(rng.integers(len(rows)))
    j = int(rng.integers(max(len(r) for r in rows)))
    if kind == 0 and j < len(rows[i]):
        rows[i][j] = CELLS[int(rng.integers(len(CELLS)))]
    elif kind == 1:
        rows = [r[:j] + r[j + 1:] for r in rows]
    elif kind == 2:
        rows.insert(i, list(rows[int(rng.integers(len(rows)))]))
    elif kind == 3 and j < len(rows[i]):
        rows[i][j] = typo(rng, rows[i][j])
    else:
        del rows[i]
    return ("\n".join(",".join(r) for r in rows) + "\n").encode()


def run_dlc_csv(rng: Rng, case_dir: Path) -> str:
    from posekit.pose2d.importers import import_2d
    from posekit.pose2d.table import write_pose2d

    path = case_dir / "walk-camA.csv"
    if rng.random() < 0.3:
        path.write_text(DLC_MULTI_CSV)
    else:
        write_pose2d(dlc_pose(rng), path)
    mutations: list[Callable[[Rng, bytes], bytes]] = [*BYTE_MUTATIONS, mutate_csv,
                                                      mutate_csv, mutate_csv, mutate_csv]
    data = path.read_bytes()
    for _ in range(int(rng.integers(1, 4))):
        data = mutations[int(rng.integers(len(mutations)))](rng, data)
    path.write_bytes(data)
    return check_pose(import_2d(path), case_dir)


def dlc_frame_variant(rng: Rng) -> Any:
    """A DeepLabCut-like table with one structural change."""
    import pandas as pd

    df = dlc_pose(rng).to_dataframe()
    kind = int(rng.integers(9))
    if kind == 0:  # coords other than x, y, likelihood
        df.columns = df.columns.set_levels(["x", "z", "likelihood"], level=2,
                                           verify_integrity=False)
    elif kind == 1:  # two column levels
        df.columns = df.columns.droplevel(0)
    elif kind == 2:  # text values
        df = df.astype(object)
        df.iloc[0, 0] = "abc"
    elif kind == 3:  # a column lost
        df = df.iloc[:, :-1]
    elif kind == 4:  # multi-animal, four levels
        df.columns = pd.MultiIndex.from_tuples([(c[0], "ind1", c[1], c[2]) for c in df.columns],
                                               names=["scorer", "individuals", "bodyparts",
                                                      "coords"])
    elif kind == 5:  # no rows
        df = df.iloc[:0]
    elif kind == 6:  # non-finite and out-of-range values
        df.iloc[:, 2] = [np.inf, -1.0, 7.0, np.nan, 0.5][: len(df)]
        df.iloc[:, 0] = np.inf
    elif kind == 7:  # plain columns
        df.columns = [f"c{i}" for i in range(df.shape[1])]
    return df


def write_h5_variant(rng: Rng, path: Path) -> None:
    import pandas as pd

    from posekit.pose2d.table import write_pose2d

    kind = int(rng.integers(6))
    if kind == 0:
        write_pose2d(dlc_pose(rng), path)
        return
    df = dlc_frame_variant(rng)
    key = "df_with_missing" if rng.random() < 0.8 else "other"
    fmt = "table" if rng.random() < 0.5 else "fixed"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            df.to_hdf(path, key=key, format=fmt, mode="w")
        except (TypeError, ValueError):
            df.astype(str).to_hdf(path, key=key, format="fixed", mode="w")
        if kind == 2 and path.is_file():
            with pd.HDFStore(path, mode="a") as store:
                if f"/{key}" not in store:
                    return
                attrs = store.get_storer(key).attrs
                choice = int(rng.integers(4))
                attrs.frame_times = [np.arange(len(df) + 2), "abc", None,
                                     np.ones((2, 2))][choice]
                attrs.posekit_metadata = [5, "abc", [1, 2], {"a": 1}][choice]
        elif kind == 3:
            pd.Series([1.0, 2.0]).to_hdf(path, key=key, mode="w")


def run_dlc_h5(rng: Rng, case_dir: Path) -> str:
    from posekit.pose2d.importers import import_2d

    path = case_dir / "walk-camA.h5"
    write_h5_variant(rng, path)
    if rng.random() < 0.4:
        data = path.read_bytes()
        for _ in range(int(rng.integers(1, 4))):
            data = [flip_byte, flip_bit, truncate][int(rng.integers(3))](rng, data)
        path.write_bytes(data)
    return check_pose(import_2d(path), case_dir)


# --------------------------------------------------------------------------------------------
# SLEAP analysis HDF5

SLEAP_GARBAGE: list[Any] = [np.zeros(0), np.zeros((2, 3)), np.array("text"), np.array([b"\xff"]),
                            np.full((1, 2, 3, 4), np.nan), np.zeros((1, 2, 3, 4, 5)), 7,
                            np.array([["a", "b"]]), np.full((1, 2, 2, 3), np.inf)]
DIMS = ['["track", "xy", "node", "frame"]', '["frame", "node", "xy", "track"]', "[",
        '["a", "b", "c", "d"]', '"x"', "{}", '["track", "frame"]', "[1, 2, 3, 4]"]


def sleap_seed(rng: Rng, path: Path) -> None:
    import h5py

    n_tracks, n_nodes, n_frames = int(rng.integers(1, 3)), int(rng.integers(1, 4)), 5
    tracks = rng.uniform(0, 640, size=(n_tracks, 2, n_nodes, n_frames))
    tracks[rng.random(tracks.shape) < 0.1] = np.nan
    with h5py.File(path, "w") as h5:
        h5["tracks"] = tracks
        h5["node_names"] = np.array([f"n{i}".encode() for i in range(n_nodes)])
        h5["track_names"] = np.array([f"t{i}".encode() for i in range(n_tracks)])
        h5["point_scores"] = rng.uniform(0, 1, size=(n_tracks, n_nodes, n_frames))
        h5["instance_scores"] = rng.uniform(0, 1, size=(n_tracks, n_frames))
        h5["video_path"] = "walk.mp4"


def mutate_sleap(rng: Rng, path: Path) -> None:
    import h5py

    with h5py.File(path, "a") as h5:
        names = list(h5.keys())
        name = names[int(rng.integers(len(names)))]
        kind = int(rng.integers(4))
        if kind == 0:
            del h5[name]
        elif kind == 1:
            del h5[name]
            try:
                h5[name] = SLEAP_GARBAGE[int(rng.integers(len(SLEAP_GARBAGE)))]
            except (TypeError, ValueError):
                h5[name] = 0
        elif kind == 2:
            h5[name].attrs["dims"] = DIMS[int(rng.integers(len(DIMS)))]
        elif isinstance(h5[name], h5py.Dataset) and h5[name].shape:
            data = np.asarray(h5[name][()])
            del h5[name]
            h5[name] = np.swapaxes(data, 0, -1) if data.ndim > 1 else data[:-1]


def run_sleap(rng: Rng, case_dir: Path) -> str:
    from posekit.pose2d.importers import import_2d

    path = case_dir / "walk.analysis.h5"
    sleap_seed(rng, path)
    for _ in range(int(rng.integers(1, 3))):
        mutate_sleap(rng, path)
    if rng.random() < 0.25:
        data = path.read_bytes()
        data = [flip_byte, flip_bit, truncate][int(rng.integers(3))](rng, data)
        path.write_bytes(data)
    tracks: list[int | str] = [0, 1, -1, "t1", "nope"]
    track = tracks[int(rng.integers(len(tracks)))]
    return check_pose(import_2d(path, track=track), case_dir)


# --------------------------------------------------------------------------------------------
# Calibrations made elsewhere (`posekit calibrate import`)

#: a Qualisys export of two cameras in Qualisys's conventions (sub-pixel units, a video
#: image offset on the sensor, camera axes x right, y up, z backwards)
QUALISYS_SEED = """<?xml version='1.0'?>
<calibration source="fuzz" created="2026-12-07">
<results std-dev="0.41" min-max-diff="1.2" points="2400" avg-residual="0.38"/>
<cameras>
<camera active="1" serial="cam01" model="Miqus Video" viewrotation="0">
<fov_video left="8" top="16" right="1927" bottom="1095"/>
<transform x="0.0" y="-3000.0" z="1000.0" r11="1.0" r12="0.0" r13="0.0" r21="0.0"
 r22="0.0" r23="1.0" r31="0.0" r32="-1.0" r33="0.0"/>
<intrinsic focallength="9.3" focalLengthU="102400" focalLengthV="102304" centerPointU="61648"
 centerPointV="35696" skew="0" radialDistortion1="0" radialDistortion2="0"
 radialDistortion3="0" tangentalDistortion1="0" tangentalDistortion2="0"/>
</camera>
<camera active="1" serial="cam02" model="Miqus Video" viewrotation="0">
<fov_video left="0" top="0" right="1087" bottom="1919"/>
<transform x="2500.0" y="1500.0" z="2000.0" r11="0.5" r12="-0.866" r13="0.0" r21="0.433"
 r22="0.25" r23="0.866" r31="-0.75" r32="-0.433" r33="0.5"/>
<intrinsic focallength="9.3" focalLengthU="107200" focalLengthV="107136" centerPointU="34816"
 centerPointV="61440" skew="0" radialDistortion1="-0.05" radialDistortion2="0.1"
 radialDistortion3="0.01" tangentalDistortion1="0.001" tangentalDistortion2="-0.002"/>
</camera>
</cameras>
</calibration>
"""

XML_VALUES = [b"", b"nan", b"inf", b"-inf", b"-1", b"0", b"1e400", b"abc", b"1,5", b"  ",
              b"99999999999999999999999", b"-0", b"0x10", b"1e-320"]


def mutate_xml_value(rng: Rng, data: bytes) -> bytes:
    """An attribute's value replaced by one of :data:`XML_VALUES`."""
    spans = [(m.start(1), m.end(1)) for m in re.finditer(rb'="([^"]*)"', data)]
    if not spans:
        return flip_byte(rng, data)
    start, end = spans[int(rng.integers(len(spans)))]
    return data[:start] + XML_VALUES[int(rng.integers(len(XML_VALUES)))] + data[end:]


def _drop_one(rng: Rng, data: bytes, pattern: bytes) -> bytes:
    """``data`` without one match of ``pattern`` (a byte flip when there is none)."""
    found = list(re.finditer(pattern, data))
    if not found:
        return flip_byte(rng, data)
    m = found[int(rng.integers(len(found)))]
    return data[:m.start()] + data[m.end():]


def drop_xml_attribute(rng: Rng, data: bytes) -> bytes:
    return _drop_one(rng, data, rb' ([A-Za-z0-9_]+)="[^"]*"')


def drop_xml_element(rng: Rng, data: bytes) -> bytes:
    return _drop_one(rng, data, rb"<(fov_video|transform|intrinsic|camera|cameras)\b[^>]*/?>")


XML_MUTATIONS = [*BYTE_MUTATIONS, mutate_xml_value, mutate_xml_value, mutate_xml_value,
                 drop_xml_attribute, drop_xml_attribute, drop_xml_element]
TOML_CALIBRATION_MUTATIONS = [*BYTE_MUTATIONS, typo_key, retype_value, retype_value,
                              retype_value, move_key, add_key]


def check_calibration(group: Any, written: Path) -> str:
    """Invariants of an imported calibration: finite lens and pose numbers, positive focal
    lengths and image sizes, the written calibration.toml reads back equal, and a point
    projects without an exception."""
    from posekit.camera.toml_io import load_calibration

    if len(group) == 0:
        raise FuzzFinding("invalid-output", "a calibration without cameras")
    for cam in group:
        numbers = np.concatenate([np.ravel(cam.matrix), np.ravel(cam.dist),
                                  np.ravel(cam.rvec), np.ravel(cam.tvec)])
        if not np.isfinite(numbers).all():
            raise FuzzFinding("invalid-output", f"{cam.name}: a number is not finite")
        if not (cam.matrix[0, 0] > 0 and cam.matrix[1, 1] > 0):
            raise FuzzFinding("invalid-output", f"{cam.name}: focal length not positive")
        if not (len(cam.size) == 2 and all(int(v) > 0 for v in cam.size)):
            raise FuzzFinding("invalid-output", f"{cam.name}: image size {cam.size}")
    back = load_calibration(written)
    if back.names != group.names or not all(
            np.allclose(a.matrix, b.matrix) and np.allclose(a.tvec, b.tvec)
            for a, b in zip(back, group, strict=True)):
        raise FuzzFinding("roundtrip", "the written calibration.toml does not read back equal")
    group.project(np.zeros((1, 3)))
    return "ok"


def run_calibration(rng: Rng, case_dir: Path) -> str:
    """A mutated Anipose ``calibration.toml`` or Qualisys export through ``posekit
    calibrate import`` (:func:`~posekit.calibration.imports.install_calibration`)."""
    from posekit.calibration.imports import install_calibration

    root = Path(__file__).resolve().parents[1]
    if rng.random() < 0.5:
        source = case_dir / "lab.toml"
        data = (root / "example_project" / "ground-truth" / "calibration.toml").read_bytes()
        mutations = TOML_CALIBRATION_MUTATIONS
    else:
        source = case_dir / ("lab.qca.txt" if rng.random() < 0.7 else "lab.xml")
        data = QUALISYS_SEED.encode()
        mutations = XML_MUTATIONS
    for _ in range(int(rng.integers(1, 4))):
        data = mutations[int(rng.integers(len(mutations)))](rng, data)
    source.write_bytes(data)
    output = case_dir / "project" / "calibration" / "calibration.toml"
    group, _ = install_calibration(source, output)
    return check_calibration(group, output)


# --------------------------------------------------------------------------------------------
# Running cases

RUNNERS: dict[str, Callable[[Rng, Path], str]] = {
    "config": run_config, "openpose": run_openpose, "dlc-csv": run_dlc_csv,
    "dlc-h5": run_dlc_h5, "sleap": run_sleap, "calibration": run_calibration,
}


def case_rng(seed: int, target: str, case: int) -> Rng:
    return np.random.default_rng([seed, TARGETS.index(target), case])


def run_case(target: str, seed: int, case: int, case_dir: Path) -> tuple[str, str]:
    """``(kind, detail)`` of one case: ``ok``, ``PosekitError:<class>``, or a bug:
    ``bug:<exception class>`` / ``roundtrip`` / ``invalid-output`` /
    ``error-without-file`` (a PosekitError whose message does not name the input), with
    the traceback or message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return RUNNERS[target](case_rng(seed, target, case), case_dir), ""
    except PosekitError as exc:
        if str(case_dir) not in str(exc):  # every input of a case lies in case_dir
            return "error-without-file", f"{type(exc).__name__}: {exc}"
        return f"PosekitError:{type(exc).__name__}", str(exc)
    except FuzzFinding as exc:
        return exc.kind, str(exc)
    except Exception as exc:  # every other exception is what the fuzzer looks for
        return f"bug:{type(exc).__name__}", traceback.format_exc()


def is_bug(kind: str) -> bool:
    return not (kind == "ok" or kind.startswith("PosekitError"))


def save_reproducer(out: Path, target: str, seed: int, case: int, case_dir: Path,
                    kind: str, detail: str) -> Path:
    dest = out / "reproducers" / f"{target}-{case}"
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(case_dir, dest / "input")
    (dest / "README.txt").write_text(
        f"target {target}, seed {seed}, case {case}: {kind}\n\nrerun:\n  python "
        f"benchmarks/fuzz_inputs.py --targets {target} --seed {seed} --case {case}\n\n"
        f"{detail}\n", encoding="utf-8")
    return dest


def fuzz(target: str, cases: range, seed: int, out: Path,
         progress: Path | None = None) -> tuple[collections.Counter[str], list[str]]:
    """Run ``cases`` of ``target`` in this process: outcome counts and the bug lines."""
    counts: collections.Counter[str] = collections.Counter()
    bugs: list[str] = []
    work = out / "work" / target
    for case in cases:
        case_dir = work / str(case)
        if case_dir.exists():
            shutil.rmtree(case_dir)
        case_dir.mkdir(parents=True)
        if progress is not None:
            progress.write_text(str(case))
        kind, detail = run_case(target, seed, case, case_dir)
        counts[kind] += 1
        if is_bug(kind):
            dest = save_reproducer(out, target, seed, case, case_dir, kind, detail)
            last = detail.strip().splitlines()[-1] if detail.strip() else ""
            bugs.append(f"{target} case {case}: {kind}: {last} ({dest})")
        shutil.rmtree(case_dir, ignore_errors=True)
    return counts, bugs


def _worker(args: argparse.Namespace) -> None:
    out = Path(args.out)
    progress = out / f"{args.worker}.current"
    counts, bugs = fuzz(args.worker, range(args.start, args.stop), args.seed, out, progress)
    result = out / f"{args.worker}.{args.start}.json"
    result.write_text(json.dumps({"counts": counts, "bugs": bugs}))


def fuzz_isolated(target: str, n_cases: int, seed: int, out: Path, case_timeout: float
                  ) -> tuple[collections.Counter[str], list[str]]:
    """``fuzz`` in child processes: a child that dies or stalls is a ``crash`` / ``hang``
    of the case it was running, and the run goes on from the next case."""
    counts: collections.Counter[str] = collections.Counter()
    bugs: list[str] = []
    start = 0
    progress = out / f"{target}.current"
    while start < n_cases:
        progress.write_text(str(start))
        cmd = [sys.executable, __file__, "--worker", target, "--seed", str(seed), "--start",
               str(start), "--stop", str(n_cases), "--out", str(out)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        last, seen_at = progress.read_text(), time.monotonic()
        while proc.poll() is None:
            time.sleep(0.2)
            now = progress.read_text()
            if now != last:
                last, seen_at = now, time.monotonic()
            elif time.monotonic() - seen_at > case_timeout:
                proc.kill()
                proc.wait()
        result = out / f"{target}.{start}.json"
        if proc.returncode == 0 and result.is_file():
            data = json.loads(result.read_text())
            counts.update(data["counts"])
            bugs += data["bugs"]
            break
        case = int(progress.read_text())
        kind = "hang" if proc.returncode == -9 else "crash"
        # the child's own counts for cases before ``case`` are lost; run them again here
        redo_counts, redo_bugs = fuzz(target, range(start, case), seed, out)
        counts.update(redo_counts)
        bugs += redo_bugs
        case_dir = out / "work" / target / str(case)
        detail = f"child process ended with status {proc.returncode}"
        if case_dir.is_dir():
            save_reproducer(out, target, seed, case, case_dir, kind, detail)
        counts[kind] += 1
        bugs.append(f"{target} case {case}: {kind}: {detail}")
        start = case + 1
    return counts, bugs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000, help="cases per target")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--case", type=int, default=None, help="run this one case, in process")
    parser.add_argument("--out", default=None, help="folder for reproducers (default: temp)")
    parser.add_argument("--case-timeout", type=float, default=60.0,
                        help="seconds one case may take before it counts as a hang")
    parser.add_argument("--worker", choices=TARGETS, help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # importers warn about odd files; outcomes are counted
    if args.worker:
        _worker(args)
        return 0
    out = Path(args.out or tempfile.mkdtemp(prefix="posekit-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.case is not None:
        for target in args.targets:
            case_dir = out / "work" / target / str(args.case)
            shutil.rmtree(case_dir, ignore_errors=True)
            case_dir.mkdir(parents=True)
            kind, detail = run_case(target, args.seed, args.case, case_dir)
            print(f"{target} case {args.case}: {kind}\n{detail}\ninputs: {case_dir}")
        return 0
    print(f"# Fuzz: {args.cases} cases per target, seed {args.seed}, output {out}\n")
    print("| target | cases | outcomes | bugs | seconds |\n| --- | --- | --- | --- | --- |")
    all_bugs: list[str] = []
    for target in args.targets:
        t0 = time.perf_counter()
        counts, bugs = fuzz_isolated(target, args.cases, args.seed, out, args.case_timeout)
        outcome = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
        print(f"| {target} | {sum(counts.values())} | {outcome} | {len(bugs)} | "
              f"{time.perf_counter() - t0:.0f} |", flush=True)
        all_bugs += bugs
    shutil.rmtree(out / "work", ignore_errors=True)
    for line in all_bugs:
        print(f"- {line}")
    return 1 if all_bugs else 0


if __name__ == "__main__":
    os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")
    sys.exit(main())
