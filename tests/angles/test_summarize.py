"""``posekit summarize`` on two sessions × two trials: the tables read back with pandas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result
from study_data import GAP, KEYPOINTS, Study

from posekit.cli.main import cli
from posekit.config.schema import DEFAULT_ANGLES
from posekit.project import Project
from posekit.project.steps import summaries_dir

N_ANGLES = len(DEFAULT_ANGLES)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture(scope="module")
def summarized(study: Study) -> Study:
    # an extra trial with videos only: listed, not summarised
    (study.root / "s2" / "videos-raw" / "t3-cam1.mp4").touch()
    result = invoke("angles", "-p", str(study.root), "-t", "t[12]")
    assert result.exit_code == 0, result.output
    result = invoke("summarize", "-p", str(study.root))
    assert result.exit_code == 0, result.output
    assert "4 trial(s) with angles, 4 with 3D" in result.output
    assert "summarize: 100%" in result.stderr  # a progress bar over the 5 trials
    assert f"angles_summary.csv / .parquet: {4 * N_ANGLES} rows" in result.output
    assert "no 3D or angles (run `posekit triangulate` and `posekit angles`): s2/t3" \
        in result.output
    return study


def read(study: Study, name: str) -> pd.DataFrame:
    folder = summaries_dir(Project.open(study.root))
    assert folder == study.root / "summaries"
    csv = pd.read_csv(folder / f"{name}.csv")
    parquet = pd.read_parquet(folder / f"{name}.parquet")
    assert list(csv.columns) == list(parquet.columns) and len(csv) == len(parquet)
    # CSV has one empty value where Parquet tells null (None) from NaN
    pd.testing.assert_frame_equal(csv, parquet.where(parquet.notna(), np.nan),
                                  check_dtype=False)
    return parquet


def test_angles_summary(summarized: Study) -> None:
    table = read(summarized, "angles_summary")
    assert list(table.columns) == ["session", "trial", "angle", "rom", "min", "max", "mean",
                                   "valid_share", "n_frames"]
    assert len(table) == 4 * N_ANGLES
    assert table.groupby(["session", "trial"]).size().to_dict() == {
        (s, t): N_ANGLES for s, t in summarized.truth}
    for (session, trial), truth in summarized.truth.items():
        rows = table[(table.session == session) & (table.trial == trial)].set_index("angle")
        assert list(rows.index) == list(DEFAULT_ANGLES)
        for name, values in truth.angles.items():
            row = rows.loc[name]
            ok = np.isfinite(values)
            assert row["n_frames"] == len(values)
            assert row["valid_share"] == pytest.approx(ok.mean())
            assert row["min"] == pytest.approx(values[ok].min(), abs=1e-6)
            assert row["max"] == pytest.approx(values[ok].max(), abs=1e-6)
            assert row["mean"] == pytest.approx(values[ok].mean(), abs=1e-6)
            assert row["rom"] == pytest.approx(np.ptp(values[ok]), abs=1e-6)
        n = len(truth.fnum)
        assert rows.loc["left_knee", "valid_share"] == pytest.approx(1 - 10 / n)
        assert rows.loc["right_knee", "valid_share"] == 1.0


def test_angles_long(summarized: Study) -> None:
    table = read(summarized, "angles_long")
    assert list(table.columns) == ["session", "trial", "frame", "time", "angle", "value"]
    assert len(table) == N_ANGLES * sum(len(t.fnum) for t in summarized.truth.values())
    truth = summarized.truth["s2", "t2"]  # 60 fps, fnum from 12
    knee = table[(table.session == "s2") & (table.trial == "t2")
                 & (table.angle == "left_knee")]
    np.testing.assert_array_equal(knee["frame"], truth.fnum)
    np.testing.assert_allclose(knee["time"], truth.fnum / 60.0)
    np.testing.assert_allclose(knee["value"], truth.angles["left_knee"], atol=1e-9)
    assert knee["value"].iloc[GAP].isna().all()  # missing frames kept, value empty


def test_quality_tables(summarized: Study) -> None:
    table = read(summarized, "quality_summary")
    assert list(table.columns) == ["session", "trial", "keypoint", "median_error_px",
                                   "mean_cameras", "valid_share"]
    assert len(table) == 4 * len(KEYPOINTS)
    for (session, trial), truth in summarized.truth.items():
        rows = table[(table.session == session) & (table.trial == trial)].set_index(
            "keypoint")
        assert list(rows.index) == KEYPOINTS
        for kp in ("nose", "left_knee"):
            for col in ("median_error_px", "mean_cameras", "valid_share"):
                assert rows.loc[kp, col] == pytest.approx(truth.quality[kp][col])
    long = read(summarized, "quality_long")
    assert list(long.columns) == ["session", "trial", "frame", "time", "keypoint",
                                  "error_px", "ncams"]
    assert len(long) == len(KEYPOINTS) * sum(len(t.fnum) for t in summarized.truth.values())
    knee = long[(long.session == "s1") & (long.trial == "t2") & (long.keypoint == "left_knee")]
    assert (knee["ncams"].iloc[GAP] == 0).all() and knee["error_px"].iloc[GAP].isna().all()
    assert (knee["ncams"].drop(knee.index[GAP]) == 2).all()


def test_trials_table(summarized: Study) -> None:
    """One row per trial with 3D; this study has neither sync files nor quality figures
    per trial, so those columns are empty (a real run's row: tests/report/test_html.py::
    test_report_lists_the_steps_warnings)."""
    table = read(summarized, "trials")
    assert list(table.columns) == ["session", "trial", "cameras", "frames",
                                   "median_error_px", "valid_share", "sync_method",
                                   "sync_min_confidence", "sync_low_confidence", "warnings"]
    assert len(table) == 4
    for (session, trial), truth in summarized.truth.items():
        (row,) = table[(table.session == session) & (table.trial == trial)].to_dict("records")
        assert row["frames"] == len(truth.fnum) and row["cameras"] == 2
        assert row["warnings"] == 0 and pd.isna(row["sync_min_confidence"])


def test_selection_and_nothing_to_summarize(summarized: Study, tmp_path: Path) -> None:
    result = invoke("summarize", "-p", str(summarized.root), "-s", "s1")
    assert result.exit_code == 0, result.output
    table = read(summarized, "angles_summary")
    assert set(table.session) == {"s1"} and len(table) == 2 * N_ANGLES
    invoke("summarize", "-p", str(summarized.root))  # restore the full tables

    empty = tmp_path / "empty"
    (empty / "s1" / "videos-raw").mkdir(parents=True)
    (empty / "s1" / "videos-raw" / "a-cam1.mp4").touch()
    (empty / "config.toml").write_text('[triangulation]\ncam_regex = "-(cam[0-9])$"\n')
    result = invoke("summarize", "-p", str(empty))
    assert result.exit_code == 1
    assert "no trial has 3D keypoints or angles yet; run `posekit triangulate`" in result.output
