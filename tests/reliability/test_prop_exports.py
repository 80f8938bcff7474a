"""Property tests of the files posekit writes: 3D exports (Anipose CSV, TRC, C3D, each read
back by posekit's reader and, for C3D, by ``c3d.Reader`` directly) and the 2D table
(DeepLabCut .csv / .h5), with NaN gaps and unusual keypoint names."""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import c3d
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from posekit.pose2d.table import Pose2D, read_pose2d, write_pose2d
from posekit.triangulation.export import (
    read_anipose_csv,
    read_c3d,
    read_trc,
    write_anipose_csv,
    write_c3d,
    write_trc,
)

SETTINGS = settings(max_examples=60, deadline=None)

#: keypoint names with spaces inside, punctuation, quotes, CSV delimiters, digits, non-ASCII,
#: and suffixes that look like the CSV's own column names (``a_x``, ``b_error``)
ODD_NAMES = st.one_of(
    st.sampled_from(["a_x", "b_error", "c_ncams", "M", "center", "fnum", "1", "nan",
                     'quo"te', "com,ma", "semi;colon", "sp ace", "ünï", "x.y", "#hash"]),
    st.text(st.characters(exclude_categories=["Cs", "Cc", "Zl", "Zp"]), min_size=1,
            max_size=8),
)
#: names TRC and C3D hold: printable ASCII, spaces inside but not at either end (TRC
#: readers strip its tab-separated header cells, C3D pads labels with spaces)
ASCII_NAMES = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1,
                      max_size=10).map(str.strip).filter(bool)


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


@st.composite
def poses(draw: st.DrawFn, names: st.SearchStrategy[str], max_frames: int = 6,
          max_abs: float = 1e4, min_frames: int = 1) -> dict[str, Any]:
    """Points (n_frames, n_keypoints, 3) with NaN gaps, and their keypoint names."""
    keypoints = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    n_frames = draw(st.integers(min_frames, max_frames))
    shape = (n_frames, len(keypoints), 3)
    points = draw(arrays(np.float64, shape, elements=st.floats(-max_abs, max_abs)))
    gaps = draw(arrays(np.bool_, shape[:2]))
    points[gaps] = np.nan
    return {"points": points, "keypoints": keypoints}


@SETTINGS
@given(poses(ODD_NAMES), st.data())
def test_anipose_csv_round_trip(pose: dict[str, Any], data: st.DataObject) -> None:
    pts, kps = pose["points"], pose["keypoints"]
    shape = pts.shape[:2]
    errors = data.draw(arrays(np.float64, shape, elements=st.floats(0, 1e3)))
    scores = data.draw(arrays(np.float64, shape, elements=st.floats(0, 1)))
    ncams = data.draw(arrays(np.int64, shape, elements=st.integers(0, 8)))
    fnum = np.arange(shape[0]) + data.draw(st.integers(0, 10**6))
    rot = np.linalg.qr(data.draw(arrays(np.float64, (3, 3), elements=st.floats(-1, 1)))
                       + 3 * np.eye(3))[0]
    center = data.draw(arrays(np.float64, 3, elements=st.floats(-1e3, 1e3)))
    with folder() as tmp:
        path = write_anipose_csv(tmp / "t.csv", pts, errors, ncams, scores, kps, fnum,
                                 rot, center)
        back = read_anipose_csv(path)
    missing = np.isnan(pts).any(axis=-1)
    assert back.keypoints == kps
    np.testing.assert_array_equal(back.points, pts)
    np.testing.assert_array_equal(back.errors, np.where(missing, np.nan, errors))
    np.testing.assert_array_equal(back.scores, np.where(missing, np.nan, scores))
    np.testing.assert_array_equal(back.ncams, np.where(missing, 0, ncams))
    np.testing.assert_array_equal(back.fnum, fnum)
    np.testing.assert_array_equal(back.M, rot)
    np.testing.assert_array_equal(back.center, center)


@SETTINGS
@given(poses(ASCII_NAMES, min_frames=0), st.sampled_from([30.0, 59.94, 100.0, 24.5]),
       st.sampled_from(["m", "mm"]), st.integers(0, 1000))
def test_trc_round_trip(pose: dict[str, Any], fps: float, units: str, start: int) -> None:
    pts, kps = pose["points"], pose["keypoints"]
    fnum = np.arange(len(pts)) + start
    with folder() as tmp:
        write_trc(tmp / "t.trc", pts, kps, fps, units, fnum=fnum)
        back = read_trc(tmp / "t.trc")
    assert back.keypoints == kps
    assert (back.fps, back.units) == (fps, units)
    np.testing.assert_array_equal(back.fnum, fnum)
    np.testing.assert_array_equal(back.times, fnum / fps)
    np.testing.assert_array_equal(np.isnan(back.points), np.isnan(pts))
    np.testing.assert_allclose(back.points, pts, atol=5e-7, rtol=0)  # 6 decimals


@SETTINGS
@given(poses(ASCII_NAMES, max_abs=1e5), st.sampled_from([30.0, 60.0, 119.88]),
       st.integers(1, 1000), st.data())
def test_c3d_round_trip(pose: dict[str, Any], fps: float, first: int,
                        data: st.DataObject) -> None:
    pts, kps = pose["points"], pose["keypoints"]
    # residuals in pixels, and tiny ones (their C3D scale must not underflow float32)
    res = data.draw(arrays(np.float64, pts.shape[:2], elements=st.one_of(
        st.floats(0, 50), st.floats(0, 1e-37))))
    with folder() as tmp:
        write_c3d(tmp / "t.c3d", pts, kps, fps, "mm", residuals=res, first_frame=first)
        back = read_c3d(tmp / "t.c3d")
        with open(tmp / "t.c3d", "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            reader = c3d.Reader(fh)
            raw = np.stack([p for _, p, _ in reader.read_frames(copy=True)])
            labels = [str(s).strip() for s in reader.point_labels]
    assert back.keypoints == kps == labels
    assert (back.fps, back.units, back.first_frame) == (np.float32(fps), "mm", first)
    missing = np.isnan(pts).any(axis=-1)
    np.testing.assert_array_equal(np.isnan(back.points).any(axis=-1), missing)
    np.testing.assert_array_equal(back.points, np.where(missing[..., None], np.nan,
                                                        pts.astype(np.float32)))
    np.testing.assert_array_equal(raw[..., 3] < 0, missing)  # the C3D invalid flag
    step = res.max() / 255 if res.max() > 0 else 1.0
    ok = ~missing
    np.testing.assert_allclose(back.residuals[ok], res[ok], atol=step * 0.51 + 1e-6)


@SETTINGS
@given(poses(ODD_NAMES, max_frames=5), st.sampled_from([".csv", ".h5"]), st.data())
def test_2d_table_round_trip(pose: dict[str, Any], suffix: str, data: st.DataObject) -> None:
    xy = pose["points"][..., :2]
    like = data.draw(arrays(np.float64, xy.shape[:2], elements=st.floats(0, 1)))
    times = np.arange(len(xy)) / 30.0
    original = Pose2D(tuple(pose["keypoints"]), xy, like, scorer="posekit",
                      frame_times=times, metadata={"source": "test"})
    with folder() as tmp:
        write_pose2d(original, tmp / f"t{suffix}")
        back = read_pose2d(tmp / f"t{suffix}")
    assert back.keypoints == original.keypoints
    assert back.scorer == original.scorer
    np.testing.assert_array_equal(back.xy, original.xy)
    np.testing.assert_array_equal(back.likelihood, original.likelihood)
    if suffix == ".h5":
        assert back.frame_times is not None
        np.testing.assert_array_equal(back.frame_times, times)
        assert back.metadata == {"source": "test"}
