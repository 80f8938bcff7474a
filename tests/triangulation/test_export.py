"""3D exports: Anipose CSV, TRC and C3D layouts and round trips."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from posekit.errors import PosekitError
from posekit.triangulation.export import (
    read_anipose_csv,
    read_c3d,
    read_trc,
    write_anipose_csv,
    write_c3d,
    write_trc,
)

KEYPOINTS = ["nose", "left_wrist", "right_ankle"]
REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("POSEKIT_DATA", REPO.parent / "shared" / "data"))
POSE2SIM_TRC = DATA / "pose2sim-demo/reference/BalancingTrial_0-100_pose2sim_triangulated.trc"


@pytest.fixture
def result() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 6
    points = rng.normal(0, 0.5, (n, len(KEYPOINTS), 3))
    points[1, 0] = np.nan
    points[4, 2, 1] = np.nan  # one NaN coordinate: the whole point is missing
    points[5, 2] = np.nan  # last marker of the last row missing
    return {
        "points": points,
        "errors": rng.uniform(0, 4, (n, len(KEYPOINTS))),
        "ncams": rng.integers(2, 5, (n, len(KEYPOINTS))),
        "scores": rng.uniform(0.3, 1, (n, len(KEYPOINTS))),
        "fnum": np.arange(10, 10 + n),
    }


def _missing(points: np.ndarray) -> np.ndarray:
    return ~np.isfinite(points).all(axis=-1)


# --------------------------------------------------------------------------------------------
# Anipose CSV


def test_anipose_csv_column_layout(tmp_path: Path, result: dict[str, np.ndarray]) -> None:
    path = write_anipose_csv(tmp_path / "trial.csv", keypoints=KEYPOINTS, **result)
    df = pd.read_csv(path)
    expected = [f"{k}_{f}" for k in KEYPOINTS
                for f in ("x", "y", "z", "error", "ncams", "score")]
    expected += [f"M_{i}{j}" for i in range(3) for j in range(3)]
    expected += ["center_0", "center_1", "center_2", "fnum"]
    assert list(df.columns) == expected
    assert (df["M_00"] == 1).all() and (df["M_01"] == 0).all() and (df["center_2"] == 0).all()
    assert df["fnum"].tolist() == list(range(10, 16))
    # Missing points: empty x/y/z/error/score, ncams 0.
    assert df.loc[1, ["nose_x", "nose_y", "nose_z", "nose_error", "nose_score"]].isna().all()
    assert df.loc[1, "nose_ncams"] == 0
    assert df.loc[4, ["right_ankle_x", "right_ankle_z"]].isna().all()
    assert df["nose_ncams"].dtype.kind == "i"
    assert not list(tmp_path.glob(".*partial*"))


def test_anipose_csv_round_trip_with_alignment(
    tmp_path: Path, result: dict[str, np.ndarray]
) -> None:
    M = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    center = np.array([0.1, -0.2, 0.3])
    path = write_anipose_csv(tmp_path / "t.csv", keypoints=KEYPOINTS, M=M, center=center,
                             **result)
    back = read_anipose_csv(path)
    missing = _missing(result["points"])
    expected_points = np.where(missing[..., None], np.nan, result["points"])
    np.testing.assert_array_equal(back.points, expected_points)
    np.testing.assert_array_equal(back.errors, np.where(missing, np.nan, result["errors"]))
    np.testing.assert_array_equal(back.scores, np.where(missing, np.nan, result["scores"]))
    np.testing.assert_array_equal(back.ncams, np.where(missing, 0, result["ncams"]))
    assert back.keypoints == KEYPOINTS
    np.testing.assert_array_equal(back.fnum, result["fnum"])
    np.testing.assert_array_equal(back.M, M)
    np.testing.assert_array_equal(back.center, center)


def test_read_anipose_style_file(tmp_path: Path) -> None:
    """A file as Anipose writes it: float ncams with NaN, no alignment in older versions."""
    path = tmp_path / "anipose.csv"
    path.write_text("a_x,a_y,a_z,a_error,a_ncams,a_score,fnum\n"
                    "1.0,2.0,3.0,0.5,3.0,0.9,0\n,,,,,,1\n")
    back = read_anipose_csv(path)
    assert back.keypoints == ["a"]
    assert back.ncams.tolist() == [[3], [0]]
    assert np.isnan(back.points[1]).all()
    np.testing.assert_array_equal(back.M, np.eye(3))


def test_read_anipose_csv_errors(tmp_path: Path) -> None:
    with pytest.raises(PosekitError, match=r"missing\.csv: file not found"):
        read_anipose_csv(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a_x,a_y,a_z,a_error,fnum\n1,2,3,4,0\n")
    with pytest.raises(PosekitError, match=r"bad.csv.*missing columns a_ncams, a_score"):
        read_anipose_csv(bad)
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(PosekitError, match=r"bad\.csv.*no <keypoint>_x"):
        read_anipose_csv(bad)
    bad.write_text("a_x,a_y,a_z,a_error,a_ncams,a_score,M_00,fnum\n1,2,3,4,2,1,1,0\n")
    with pytest.raises(PosekitError, match=r"bad\.csv: alignment columns incomplete"):
        read_anipose_csv(bad)


def test_writer_shape_checks(tmp_path: Path, result: dict[str, np.ndarray]) -> None:
    target = tmp_path / "t.csv"
    with pytest.raises(PosekitError, match=r"t\.csv: 2 keypoint names for 3"):
        write_anipose_csv(target, keypoints=KEYPOINTS[:2], **result)
    with pytest.raises(PosekitError, match="errors must have shape"):
        write_anipose_csv(target, keypoints=KEYPOINTS, **{**result, "errors": np.zeros(3)})
    with pytest.raises(PosekitError, match="unique"):
        write_anipose_csv(target, keypoints=["a", "a", "b"], **result)
    assert not target.exists()


# --------------------------------------------------------------------------------------------
# TRC


def test_trc_layout(tmp_path: Path, result: dict[str, np.ndarray]) -> None:
    path = write_trc(tmp_path / "trial.trc", result["points"], KEYPOINTS, fps=60, units="mm",
                     fnum=result["fnum"])
    lines = path.read_text().split("\n")
    assert lines[0] == "PathFileType\t4\t(X/Y/Z)\ttrial.trc"
    assert lines[1].split("\t") == ["DataRate", "CameraRate", "NumFrames", "NumMarkers",
                                    "Units", "OrigDataRate", "OrigDataStartFrame",
                                    "OrigNumFrames"]
    assert lines[2].split("\t") == ["60", "60", "6", "3", "mm", "60", "10", "6"]
    assert lines[3] == "Frame#\tTime\tnose\t\t\tleft_wrist\t\t\tright_ankle\t\t\t"
    assert lines[4] == "\t\tX1\tY1\tZ1\tX2\tY2\tZ2\tX3\tY3\tZ3\t"
    rows = [line.split("\t") for line in lines[5:] if line]
    assert len(rows) == 6
    # OpenSim's row check: 2 + 3 per marker fields (plus the trailing tab's empty one).
    assert {len(r) for r in rows} == {2 + 3 * 3 + 1}
    assert rows[0][:2] == ["10", repr(10 / 60)]
    assert rows[1][2:5] == ["", "", ""]  # missing marker = empty fields
    assert rows[5][8:11] == ["", "", ""]


def test_trc_round_trip(tmp_path: Path, result: dict[str, np.ndarray]) -> None:
    path = write_trc(tmp_path / "t.trc", result["points"], KEYPOINTS, fps=29.97, units="m",
                     fnum=result["fnum"], first_time=0.5, decimals=5)
    back = read_trc(path)
    missing = _missing(result["points"])
    expected = np.where(missing[..., None], np.nan, np.round(result["points"], 5))
    np.testing.assert_allclose(back.points, expected, atol=1e-12)
    assert back.keypoints == KEYPOINTS
    assert back.fps == pytest.approx(29.97)
    assert back.units == "m"
    np.testing.assert_array_equal(back.fnum, result["fnum"])
    np.testing.assert_allclose(back.times, 0.5 + np.arange(6) / 29.97, rtol=0, atol=1e-15)


def test_trc_defaults_and_variants_read_back(tmp_path: Path) -> None:
    pts = np.arange(2 * 1 * 3, dtype=float).reshape(2, 1, 3)
    path = write_trc(tmp_path / "t.trc", pts, ["m"], fps=100)
    back = read_trc(path)
    assert back.fnum.tolist() == [1, 2]
    np.testing.assert_allclose(back.times, [0.01, 0.02])
    # OpenSim's own writer adds a blank line; NaN written as text also reads as NaN.
    lines = path.read_text().split("\n")
    lines.insert(5, "")
    lines[6] = "1\t0.01\tnan\tNaN\tnan"
    path.write_text("\n".join(lines))
    back = read_trc(path)
    assert np.isnan(back.points[0]).all()
    np.testing.assert_allclose(back.points[1], pts[1])


def test_read_trc_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.trc"
    with pytest.raises(PosekitError, match=r"bad\.trc: file not found"):
        read_trc(bad)
    bad.write_text("hello\n")
    with pytest.raises(PosekitError, match=r"bad\.trc: not a TRC file"):
        read_trc(bad)
    pts = np.zeros((2, 2, 3))
    write_trc(bad, pts, ["a", "b"], fps=30)
    text = bad.read_text().replace("\t2\tm\t", "\t3\tm\t", 1)
    bad.write_text(text)
    with pytest.raises(PosekitError, match="NumMarkers says 3 but line 4 names 2"):
        read_trc(bad)
    write_trc(bad, pts, ["a", "b"], fps=30)
    bad.write_text(bad.read_text() + "3\t0.1\t1\t2\t3\t4\t5\t6\t7\t8\n")
    with pytest.raises(PosekitError, match=r"bad\.trc: TRC data rows"):
        read_trc(bad)


def test_write_trc_rejects_bad_arguments(tmp_path: Path) -> None:
    pts = np.zeros((2, 1, 3))
    with pytest.raises(PosekitError, match="fps must be a positive"):
        write_trc(tmp_path / "t.trc", pts, ["a"], fps=0)
    with pytest.raises(PosekitError, match="units"):
        write_trc(tmp_path / "t.trc", pts, ["a"], fps=30, units="")
    with pytest.raises(PosekitError, match="tabs"):
        write_trc(tmp_path / "t.trc", pts, ["a\tb"], fps=30)


@pytest.mark.skipif(not POSE2SIM_TRC.exists(), reason="Pose2Sim demo data not available")
def test_read_real_pose2sim_trc() -> None:
    trc = read_trc(POSE2SIM_TRC)
    assert trc.points.shape == (100, 21, 3)
    assert trc.keypoints[:3] == ["RHip", "RKnee", "RAnkle"]
    assert trc.keypoints[-1] == "LWrist"
    assert trc.fps == 60 and trc.units == "m"
    assert trc.fnum.tolist() == list(range(1, 101))
    np.testing.assert_allclose(trc.times, np.arange(1, 101) / 60)
    np.testing.assert_allclose(trc.points[0, 0], [-0.06497214796810759, 0.9015045550714219,
                                                  -1.4005886926185436])


@pytest.mark.skipif(not POSE2SIM_TRC.exists(), reason="Pose2Sim demo data not available")
def test_real_pose2sim_trc_survives_our_writer(tmp_path: Path) -> None:
    trc = read_trc(POSE2SIM_TRC)
    back = read_trc(write_trc(tmp_path / "copy.trc", trc.points, trc.keypoints, trc.fps,
                              units=trc.units, fnum=trc.fnum, decimals=9))
    np.testing.assert_allclose(back.points, trc.points, atol=1e-9)
    np.testing.assert_allclose(back.times, trc.times, rtol=1e-15)


# --------------------------------------------------------------------------------------------
# C3D


def test_c3d_read_back_with_c3d_reader(tmp_path: Path, result: dict[str, np.ndarray]) -> None:
    import c3d

    points = result["points"] * 1000
    path = write_c3d(tmp_path / "trial.c3d", points, KEYPOINTS, fps=120.0, units="mm")
    with open(path, "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        reader = c3d.Reader(fh)
        assert [s.strip() for s in reader.point_labels] == KEYPOINTS
        assert reader.point_rate == 120.0
        assert reader.frame_count == 6
        assert reader.get("POINT:UNITS").string_value.strip() == "mm"
        frames = np.stack([p for _, p, _ in reader.read_frames()])
    missing = _missing(result["points"])
    assert (frames[missing, 3] == -1).all()
    assert (frames[~missing, 3] >= 0).all()
    np.testing.assert_allclose(frames[~missing, :3], points[~missing].astype(np.float32),
                               rtol=0, atol=0)


def test_c3d_round_trip_with_residuals(tmp_path: Path, result: dict[str, np.ndarray]) -> None:
    residuals = result["errors"] / 10  # metres-sized residuals for points in metres
    path = write_c3d(tmp_path / "t.c3d", result["points"], KEYPOINTS, fps=50, units="m",
                     residuals=residuals, first_frame=11)
    back = read_c3d(path)
    missing = _missing(result["points"])
    expected = np.where(missing[..., None], np.nan, result["points"].astype(np.float32))
    np.testing.assert_array_equal(back.points, expected)
    assert back.keypoints == KEYPOINTS
    assert back.fps == 50 and back.units == "m" and back.first_frame == 11
    assert np.isnan(back.residuals[missing]).all()
    step = residuals[~missing].max() / 255
    np.testing.assert_allclose(back.residuals[~missing], residuals[~missing], atol=step)
    assert not list(tmp_path.glob(".*partial*"))


def test_c3d_rejects_empty_and_non_ascii(tmp_path: Path) -> None:
    with pytest.raises(PosekitError, match="at least one frame"):
        write_c3d(tmp_path / "t.c3d", np.zeros((0, 1, 3)), ["a"], fps=30)
    with pytest.raises(PosekitError, match="ASCII"):
        write_c3d(tmp_path / "t.c3d", np.zeros((1, 1, 3)), ["épaule"], fps=30)
    with pytest.raises(PosekitError, match=r"t\.c3d: file not found"):
        read_c3d(tmp_path / "t.c3d")


def test_nwb_round_trip_in_metres_with_gaps_in_time(tmp_path: Path) -> None:
    """Points in mm come back in metres (NWB's conversion), NaN stays NaN with confidence
    0, frames that are not contiguous get their own timestamps; the file validates, and
    the same 3D gives the same identifier."""
    import datetime as dt

    from pynwb import NWBHDF5IO, validate

    from posekit.triangulation.nwb import read_nwb_points, write_nwb

    rng = np.random.default_rng(3)
    pts = rng.normal(0, 300, (40, 3, 3))
    pts[4, 2] = np.nan
    scores = np.full((40, 3), 0.9)
    scores[4, 2] = np.nan
    fnum = np.r_[np.arange(10, 30), np.arange(35, 55)]
    start = dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.timezone.utc)
    paths = [write_nwb(tmp_path / f"t{i}.nwb", pts, ["a", "b", "c"], 60.0, "mm", fnum,
                       scores, [(0, 1), (1, 2)], "test trial", start, "camera 1's frame")
             for i in range(2)]
    assert validate(path=str(paths[0])) == []
    names, metres, times = read_nwb_points(paths[0])
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(metres, pts / 1000, equal_nan=True)
    np.testing.assert_allclose(times, fnum / 60.0)
    ids = []
    for path in paths:
        with NWBHDF5IO(str(path), "r") as io:
            nwb = io.read()
            ids.append(nwb.identifier)
            series = nwb.processing["behavior"]["PoseEstimation"].pose_estimation_series["c"]
            assert series.conversion == 0.001 and series.confidence[4] == 0.0
            assert nwb.session_start_time == start
    assert ids[0] == ids[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t0.nwb", "t1.nwb"]


def test_nwb_rejects_what_it_cannot_hold(tmp_path: Path) -> None:
    import datetime as dt

    from posekit.triangulation.nwb import write_nwb

    pts, scores, fnum = np.zeros((5, 2, 3)), np.ones((5, 2)), np.arange(5)
    utc = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    args = (["a", "b"], 30.0, "mm", fnum, scores, [(0, 1)], "t")
    with pytest.raises(PosekitError, match="needs a time zone"):
        write_nwb(tmp_path / "t.nwb", pts, *args, dt.datetime(2024, 1, 1), "x")
    with pytest.raises(PosekitError, match=r"needs \(n_frames > 0, 2, 3\) points"):
        write_nwb(tmp_path / "t.nwb", pts[:, :1], *args, utc, "x")
    with pytest.raises(PosekitError, match="unknown unit 'ft'"):
        write_nwb(tmp_path / "t.nwb", pts, ["a", "b"], 30.0, "ft", fnum, scores, [(0, 1)],
                  "t", utc, "x")
    assert not list(tmp_path.iterdir())
