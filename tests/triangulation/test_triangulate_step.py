"""The ``triangulate`` step end to end, through the CLI, on synthetic unsynchronised 2D
keypoints with exact 3D ground truth (``posekit.synthetic.sync_data``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import toml
from click.testing import CliRunner, Result

from posekit.camera.toml_io import save_calibration
from posekit.cli.main import cli
from posekit.pose2d.table import write_pose2d
from posekit.project.layout import Project
from posekit.project.runner import freshness
from posekit.project.steps import STEPS
from posekit.sync.step import CONVENTION, read_sync
from posekit.synthetic.sync_data import SyncTrial, make_sync_trial
from posekit.triangulation.align import undo_alignment
from posekit.triangulation.export import read_anipose_csv, read_c3d, read_trc

OFFSETS = {"cam2": 7, "cam3": -4}
FPS = 30.0
DURATION = 4.0  # 120 frames per camera
TRIAL = "t"


def make_trial(**kwargs: Any) -> SyncTrial:
    args: dict[str, Any] = dict(n_cams=3, fps=FPS, duration=DURATION, offsets=OFFSETS,
                                noise_px=1.0, outlier_rate=0.02, dropout_rate=0.05,
                                motion="squat", seed=0)
    args.update(kwargs)
    return make_sync_trial(**args)


@dataclass
class Built:
    """A one-session project on disk (``<root>/s1``) holding one synthetic trial."""

    root: Path
    truth: SyncTrial

    @property
    def session(self) -> Path:
        return self.root / "s1"

    @property
    def out_dir(self) -> Path:
        return self.session / "pose-3d"

    @property
    def csv(self) -> Path:
        return self.out_dir / f"{TRIAL}.csv"

    @property
    def quality_json(self) -> Path:
        return self.out_dir / f"{TRIAL}.quality.json"

    def quality(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.quality_json.read_text())
        return data

    def overlap(self, offsets: dict[str, int]) -> np.ndarray:
        """Reference frames recorded by every camera under ``offsets``."""
        start = max(offsets[c] for c in self.truth.poses)
        stop = min(offsets[c] + p.n_frames for c, p in self.truth.poses.items())
        return np.arange(start, stop)

    def mpjpe_mm(self, points: np.ndarray, fnum: np.ndarray) -> float:
        """Mean per-joint position error (mm) of ``points`` at reference frames ``fnum``."""
        truth = self.truth.points3d[fnum - self.truth.first_frame]
        err = np.linalg.norm(points - truth, axis=-1)
        return 1000.0 * float(np.nanmean(err))


def build_project(root: Path, truth: SyncTrial, *, sync: dict[str, int] | None = None,
                  config_extra: str = "", calibration: bool | None = True,
                  skip_2d: tuple[str, ...] = (),
                  subframe: dict[str, float] | None = None) -> Built:
    """Project with ``s1/videos-raw/t-camN.mp4`` (empty: discovery only), the 2D files,
    the rig's calibration (``calibration`` False: an empty calibration folder; None: no
    calibration folder) and, given ``sync``, ``s1/sync/t.toml`` as the sync step writes
    it (with ``subframe`` as its sub-frame offsets)."""
    raw, pose2d = root / "s1" / "videos-raw", root / "s1" / "pose-2d"
    raw.mkdir(parents=True)
    (root / "config.toml").write_text(
        'nesting = 1\n[calibration]\nunits = "m"\n'
        '[triangulation]\ncam_regex = "-(cam[0-9])$"\n' + config_extra)
    for cam, pose in truth.poses.items():
        (raw / f"{TRIAL}-{cam}.mp4").touch()
        if cam not in skip_2d:
            pose.metadata["fps"] = truth.fps
            write_pose2d(pose, pose2d / f"{TRIAL}-{cam}.h5")
    if calibration:
        save_calibration(truth.group, root / "calibration" / "calibration.toml")
    elif calibration is not None:
        (root / "calibration").mkdir()
    if sync is not None:
        record = {"reference": truth.group.names[0], "convention": CONVENTION,
                  "method": "test", "offsets": sync}
        if subframe:
            record["subframe"] = subframe
        path = root / "s1" / "sync" / f"{TRIAL}.toml"
        path.parent.mkdir(parents=True)
        path.write_text(f"# posekit sync: {CONVENTION}\n" + toml.dumps(record))
        assert read_sync(path) == sync
    return Built(root, truth)


def triangulate(built: Built, *args: str) -> Result:
    return CliRunner().invoke(cli, ["triangulate", "-p", str(built.root), *args])


def leftovers(folder: Path) -> list[str]:
    """Temporary files of interrupted atomic writes."""
    return sorted(p.name for p in folder.rglob("*") if ".partial" in p.name)


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The trial triangulated with its true offsets from ``sync/t.toml`` (shared)."""
    truth = make_trial()
    built = build_project(tmp_path_factory.mktemp("synced") / "p", truth,
                          sync=dict(truth.offsets))
    result = triangulate(built)
    assert result.exit_code == 0, result.output
    assert "triangulate: 1 done, 0 skipped, 0 failed" in result.output
    return built


# --------------------------------------------------------------------------------------------
# 1. the step through the CLI, with offsets from the sync file


def test_offsets_from_sync_file(synced: Built) -> None:
    truth = synced.truth
    assert truth.offsets == {"cam1": 0, **OFFSETS}
    data = read_anipose_csv(synced.csv)
    kps = list(truth.poses["cam1"].keypoints)
    assert data.keypoints == kps

    # Anipose's column layout, exactly
    header = synced.csv.read_text().splitlines()[0].split(",")
    expected = [f"{k}_{f}" for k in kps for f in ("x", "y", "z", "error", "ncams", "score")]
    expected += [f"M_{i}{j}" for i in range(3) for j in range(3)]
    expected += [f"center_{i}" for i in range(3)] + ["fnum"]
    assert header == expected

    # every camera records 120 frames: cam2 covers reference frames 7..126, cam3 -4..115
    fnum = synced.overlap(truth.offsets)
    assert (fnum[0], fnum[-1]) == (7, 115)
    np.testing.assert_array_equal(data.fnum, fnum)

    mpjpe = synced.mpjpe_mm(data.points, data.fnum)
    valid = np.isfinite(data.points).all(axis=-1).mean()
    print(f"\nMPJPE with the true offsets (sync file): {mpjpe:.2f} mm, valid {valid:.1%}")
    assert valid > 0.95
    assert mpjpe < 15.0
    np.testing.assert_array_equal(data.M, np.eye(3))
    np.testing.assert_array_equal(data.center, np.zeros(3))
    # ncams: cameras agreeing with each point (0 where missing; a point bridged by the
    # optimiser across a short gap may have fewer than 2)
    ok = np.isfinite(data.points).all(axis=-1)
    assert (data.ncams[~ok] == 0).all() and (data.ncams <= 3).all()
    assert (data.ncams[ok] >= 2).mean() > 0.95
    assert np.nanmedian(data.errors) < 3.0

    trc = read_trc(synced.csv.with_suffix(".trc"))
    assert trc.keypoints == kps and trc.points.shape == data.points.shape
    assert trc.fps == pytest.approx(FPS) and trc.units == "m"
    np.testing.assert_array_equal(trc.fnum, data.fnum + 1)  # TRC frames count from 1
    np.testing.assert_allclose(trc.times, data.fnum / FPS, atol=1e-6)  # reference clock
    np.testing.assert_allclose(trc.points, data.points, atol=1e-6, equal_nan=True)

    c3d = read_c3d(synced.csv.with_suffix(".c3d"))
    assert c3d.keypoints == kps and c3d.points.shape == data.points.shape
    assert c3d.fps == pytest.approx(FPS)
    assert c3d.first_frame == data.fnum[0] + 1  # C3D frames count from 1
    np.testing.assert_allclose(c3d.points, data.points, atol=1e-5, equal_nan=True)

    q = synced.quality()
    assert q["frames"] == len(fnum)
    assert q["offsets"] == truth.offsets
    assert q["offsets_source"] == "s1/sync/t.toml"  # relative to the project root
    assert q["first_frame"] == 7 and q["reference_camera"] == "cam1"
    assert q["units"] == "m" and q["fps"] == pytest.approx(FPS)
    assert set(q["cameras"]) == {"cam1", "cam2", "cam3"}
    for info in q["cameras"].values():
        assert info["used_share"] > 0.9
        assert 0 < info["median_error_px"] < 3.0
    assert set(q["keypoints"]) == set(kps)
    for info in q["keypoints"].values():
        assert set(info) == {"median_error_px", "mean_cameras", "valid_share"}
    assert synced.quality_json.with_suffix(".png").stat().st_size > 0
    assert leftovers(synced.root) == []


def test_cameras_out_of_step_by_part_of_a_frame(tmp_path: Path) -> None:
    """cam2 and cam3 record 0.45 and -0.4 frame later than their whole-frame offsets say
    (as free-running cameras do): with the sync file's sub-frame offsets their 2D is
    interpolated to the reference's instants, which brings the 3D closer to the truth
    than the nearest whole frames."""
    truth = make_trial(fractions={"cam2": 0.45, "cam3": -0.4},
                       outlier_rate=0.05, dropout_rate=0.1)
    true = truth.subframe_offsets
    errors = {}
    for setting in ("true", "false"):
        built = build_project(tmp_path / setting, truth, sync=dict(truth.offsets),
                              subframe={c: v for c, v in true.items() if c != "cam1"},
                              config_extra=f"subframe = {setting}\n")
        result = triangulate(built)
        assert result.exit_code == 0, result.output
        data = read_anipose_csv(built.csv)
        errors[setting] = built.mpjpe_mm(data.points, data.fnum)
        used = built.quality()["subframe"]
        assert used == ({"cam2": 0.45, "cam3": -0.4} if setting == "true" else {})
        np.testing.assert_array_equal(data.fnum, built.overlap(truth.offsets))
    print(f"\nMPJPE: sub-frame offsets {errors['true']:.2f} mm, whole frames "
          f"{errors['false']:.2f} mm")
    assert errors["true"] < 0.9 * errors["false"]


def test_a_subframe_value_that_does_not_fit_the_offset_is_not_used(tmp_path: Path) -> None:
    """An offset changed by hand in the sync file leaves its old sub-frame value more than
    half a frame away: the camera is then taken at whole frames."""
    truth = make_trial()
    built = build_project(tmp_path / "p", truth, sync=dict(truth.offsets),
                          subframe={"cam2": truth.offsets["cam2"] + 3.2,
                                    "cam3": truth.offsets["cam3"] + 0.3})
    result = triangulate(built)
    assert result.exit_code == 0, result.output
    assert built.quality()["subframe"] == {"cam3": 0.3}


# --------------------------------------------------------------------------------------------
# 2. wrong offsets are visibly wrong


def test_wrong_offsets_give_larger_errors(tmp_path: Path, synced: Built) -> None:
    zeros = {c: 0 for c in synced.truth.offsets}
    wrong = build_project(tmp_path / "p", synced.truth, sync=zeros)
    result = triangulate(wrong)
    assert result.exit_code == 0, result.output
    good, bad = synced.quality(), wrong.quality()
    assert bad["offsets"] == zeros
    data = read_anipose_csv(wrong.csv)
    np.testing.assert_array_equal(data.fnum, np.arange(120))
    # frame i of every camera taken as reference frame i: cam2 is 7 frames late, cam3 4
    # frames early, so the 3D points (scored against the true reference frames) and the
    # reprojection errors are off
    mpjpe_bad = wrong.mpjpe_mm(data.points, data.fnum)
    good_csv = read_anipose_csv(synced.csv)
    mpjpe_good = synced.mpjpe_mm(good_csv.points, good_csv.fnum)
    print(f"\nreprojection error (median px): right offsets {good['median_error_px']}, "
          f"all 0 {bad['median_error_px']}; MPJPE {mpjpe_good:.2f} vs {mpjpe_bad:.2f} mm")
    for cam in ("cam2", "cam3"):
        print(cam, good["cameras"][cam], bad["cameras"][cam])
    assert bad["median_error_px"] > 2 * good["median_error_px"]
    assert mpjpe_bad > 2 * mpjpe_good


# --------------------------------------------------------------------------------------------
# 3. offsets from [sync] offsets in config.toml when there is no sync file


def test_offsets_from_config(tmp_path: Path, synced: Built) -> None:
    built = build_project(tmp_path / "p", synced.truth,
                          config_extra="[sync]\noffsets = { cam2 = 7, cam3 = -4 }\n")
    assert not (built.session / "sync").exists()
    result = triangulate(built)
    assert result.exit_code == 0, result.output
    q = built.quality()
    assert q["offsets"] == {"cam1": 0, **OFFSETS}
    assert "config" in q["offsets_source"]
    data = read_anipose_csv(built.csv)
    np.testing.assert_array_equal(data.fnum, np.arange(7, 116))
    mpjpe = built.mpjpe_mm(data.points, data.fnum)
    print(f"\nMPJPE with the offsets of config.toml: {mpjpe:.2f} mm")
    assert mpjpe < 15.0
    # same 2D, same offsets: same result as with the sync file
    np.testing.assert_allclose(data.points, read_anipose_csv(synced.csv).points,
                               atol=1e-9, equal_nan=True)


# --------------------------------------------------------------------------------------------
# 4. up-to-date outputs are skipped; --overwrite redoes them


def test_rerun_skips_and_overwrite_redoes(tmp_path: Path, synced: Built) -> None:
    built = build_project(tmp_path / "p", synced.truth, sync=dict(synced.truth.offsets),
                          config_extra='formats = ["csv"]\n')
    first = triangulate(built)
    assert first.exit_code == 0, first.output
    assert "1 done" in first.output
    assert not built.csv.with_suffix(".trc").exists()  # formats honoured
    assert not built.csv.with_suffix(".c3d").exists()
    stamp = built.csv.stat().st_mtime_ns
    quality_stamp = built.quality_json.stat().st_mtime_ns

    again = triangulate(built)
    assert again.exit_code == 0, again.output
    assert "triangulate: 0 done, 1 skipped, 0 failed" in again.output
    assert built.csv.stat().st_mtime_ns == stamp
    assert built.quality_json.stat().st_mtime_ns == quality_stamp

    # a newer sync file makes the output outdated
    trial = Project.open(built.root).trials()[0]
    assert freshness(STEPS["triangulate"], trial) == "done"
    sync_file = built.session / "sync" / f"{TRIAL}.toml"
    later = stamp + 10**9
    os.utime(sync_file, ns=(later, later))
    assert freshness(STEPS["triangulate"], trial) == "outdated"
    os.utime(sync_file, ns=(stamp - 10**9, stamp - 10**9))

    forced = triangulate(built, "--overwrite")
    assert forced.exit_code == 0, forced.output
    assert "triangulate: 1 done, 0 skipped, 0 failed" in forced.output
    assert built.csv.stat().st_mtime_ns != stamp
    np.testing.assert_allclose(read_anipose_csv(built.csv).points,
                               read_anipose_csv(synced.csv).points, atol=1e-9, equal_nan=True)
    assert leftovers(built.root) == []


# --------------------------------------------------------------------------------------------
# 5. clear errors, nothing left behind


def _assert_failed_cleanly(built: Built, result: Result, *needles: str) -> str:
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())  # click may wrap long lines
    assert "FAILED" in message
    for needle in needles:
        assert needle in message, (needle, message)
    assert not built.csv.exists()
    assert not built.quality_json.exists()
    assert leftovers(built.root) == []
    return message


def test_missing_calibration(tmp_path: Path) -> None:
    built = build_project(tmp_path / "p", make_trial(), calibration=False)
    result = triangulate(built)
    path = built.root.resolve() / "calibration" / "calibration.toml"
    _assert_failed_cleanly(built, result, f"{path} is missing", "posekit calibrate")


def test_missing_calibration_folder(tmp_path: Path) -> None:
    built = build_project(tmp_path / "p", make_trial(), calibration=None)
    result = triangulate(built)
    message = _assert_failed_cleanly(built, result, "no calibration folder",
                                      "posekit calibrate")
    # where it looked, where to put the recordings, and the import alternative
    root = built.root.resolve()
    assert f"looked for a folder named 'calibration' in {root / 's1'}" in message, message
    assert f"in {root / 'calibration'} and run `posekit calibrate`" in message
    assert "`posekit calibrate import FILE`" in message


def test_camera_missing_from_calibration(tmp_path: Path) -> None:
    truth = make_trial()
    built = build_project(tmp_path / "p", truth)
    # a calibration of cam1 and cam2 only
    save_calibration(truth.group.subset(["cam1", "cam2"]),
                     built.root / "calibration" / "calibration.toml")
    result = triangulate(built)
    message = _assert_failed_cleanly(built, result, "cam3", "calibration.toml")
    assert "cam1" in message  # says which cameras the file has


def test_missing_2d_file(tmp_path: Path) -> None:
    built = build_project(tmp_path / "p", make_trial(), skip_2d=("cam2",))
    result = triangulate(built)
    path = built.session.resolve() / "pose-2d" / "t-cam2.h5"
    _assert_failed_cleanly(built, result, f"{path} is missing", "posekit detect")


# --------------------------------------------------------------------------------------------
# 6. world frame from [triangulation] axes + reference_point


@pytest.mark.parametrize("with_axes", [True, False], ids=["axes", "reference_point_only"])
def test_alignment(tmp_path: Path, synced: Built, with_axes: bool) -> None:
    extra = 'reference_point = "left_hip"\n'
    if with_axes:
        extra += ('axes = [["x", "left_hip", "right_hip"], '
                  '["z", "left_hip", "left_shoulder"]]\n')
    built = build_project(tmp_path / "p", synced.truth, sync=dict(synced.truth.offsets),
                          config_extra=extra)
    result = triangulate(built)
    assert result.exit_code == 0, result.output
    data = read_anipose_csv(built.csv)
    kps = data.keypoints
    hip_l, hip_r = kps.index("left_hip"), kps.index("right_hip")
    shoulder = kps.index("left_shoulder")

    # the reference keypoint's median is the origin
    np.testing.assert_allclose(np.nanmedian(data.points[:, hip_l], axis=0), 0.0, atol=1e-6)
    assert np.linalg.norm(data.center) > 0.1  # the rig's origin is not at the hip
    np.testing.assert_allclose(data.M @ data.M.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(data.M) == pytest.approx(1.0)
    if with_axes:
        assert not np.allclose(data.M, np.eye(3), atol=1e-3)
        across = np.nanmedian(data.points[:, hip_r] - data.points[:, hip_l], axis=0)
        up = np.nanmedian(data.points[:, shoulder] - data.points[:, hip_l], axis=0)
        # (medians are taken per coordinate, so not exactly along the axis)
        assert across[0] > 0.1 and abs(across[1]) < 1e-3 and abs(across[2]) < 1e-3
        assert up[2] > 0.3 and abs(up[1]) < 0.05
    else:
        np.testing.assert_array_equal(data.M, np.eye(3))

    # the M_/center_ columns undo the alignment: back in the calibration frame, the
    # points match the truth and the unaligned result
    raw = undo_alignment(data.points, data.M, data.center)
    np.testing.assert_allclose(raw, read_anipose_csv(synced.csv).points, atol=1e-6,
                               equal_nan=True)
    mpjpe = built.mpjpe_mm(raw, data.fnum)
    print(f"\nMPJPE after undoing the alignment ({'axes' if with_axes else 'ref only'}): "
          f"{mpjpe:.2f} mm")
    assert mpjpe < 15.0
    # the TRC holds the aligned points too
    trc = read_trc(built.csv.with_suffix(".trc"))
    np.testing.assert_allclose(trc.points, data.points, atol=1e-6, equal_nan=True)


# --------------------------------------------------------------------------------------------
# 7. a camera that never sees the person


def test_absent_camera(tmp_path: Path) -> None:
    truth = make_trial(absent_camera="cam3")
    assert np.isnan(truth.poses["cam3"].xy).all()
    built = build_project(tmp_path / "p", truth, sync=dict(truth.offsets))
    result = triangulate(built)
    assert result.exit_code == 0, result.output
    data = read_anipose_csv(built.csv)
    np.testing.assert_array_equal(data.fnum, built.overlap(truth.offsets))
    valid = np.isfinite(data.points).all(axis=-1)
    assert valid.mean() > 0.9
    assert (data.ncams <= 2).all()  # cam3 never counts
    assert (data.ncams[valid] == 2).mean() > 0.8  # cam1 and cam2 (5 % dropouts each)
    mpjpe = built.mpjpe_mm(data.points, data.fnum)
    print(f"\nMPJPE with cam3 absent (2 cameras): {mpjpe:.2f} mm, valid {valid.mean():.1%}")
    assert mpjpe < 25.0
    q = built.quality()
    assert q["cameras"]["cam3"]["used_share"] == 0
    assert q["cameras"]["cam3"]["median_error_px"] is None
    for cam in ("cam1", "cam2"):
        assert q["cameras"][cam]["used_share"] > 0.9


def test_keypoints_where_the_calibration_board_never_went_are_warned_about(
        tmp_path: Path) -> None:
    """The calibration report says which image cells the board reached; a camera whose
    keypoints lie outside them (here cam2: the board reached every cell but those the
    person is in) is warned about, with the share in the quality file. A report older than
    the calibration describes another one and is not used."""
    from posekit.calibration.intrinsics import outside_cells

    truth = make_trial()
    built = build_project(tmp_path / "p", truth, sync=dict(truth.offsets))
    calibration = built.root / "calibration" / "calibration.toml"
    xy2 = truth.poses["cam2"].xy
    everywhere = tuple(range(48))
    person = {c for c in everywhere if outside_cells((c,), truth.group["cam2"].size, xy2).sum()
              < np.isfinite(xy2).all(axis=-1).sum()}  # cells holding some of its keypoints
    cells = {"cam1": everywhere, "cam2": tuple(sorted(set(everywhere) - person)),
             "cam3": everywhere}
    report = calibration.with_name("calibration_report.json")
    report.write_text(json.dumps({"cameras": {c: {"image_cells": list(v)}
                                              for c, v in cells.items()}}))
    result = triangulate(built)
    assert result.exit_code == 0, result.output
    quality = built.quality()
    shares = {c: v["outside_calibration_share"] for c, v in quality["cameras"].items()}
    assert shares == {"cam1": 0.0, "cam2": 1.0, "cam3": 0.0}
    warned = [w for w in quality["warnings"] if "calibration board never reached" in w]
    assert warned == ["camera cam2: 100 % of its keypoints lie where the calibration board "
                      "never reached its image, so the lens is extrapolated there and they "
                      "may be placed off; see calibration_coverage.png, and record the board "
                      "in those parts of the image (docs/calibration.md)"]
    os.utime(report, (calibration.stat().st_mtime - 10,) * 2)  # older: another calibration's
    again = triangulate(built, "--overwrite")
    assert again.exit_code == 0, again.output
    assert "outside_calibration_share" not in built.quality()["cameras"]["cam2"]
    assert not [w for w in built.quality()["warnings"] if "never reached" in w]


# --------------------------------------------------------------------------------------------
# 8. NWB (ndx-pose) export


def test_nwb_export_holds_the_3d_with_its_skeleton_times_and_world_frame(
        tmp_path: Path, synced: Built) -> None:
    """`formats = [..., "nwb"]` writes <trial>.nwb beside the CSV: a valid NWB file
    (pynwb's validator) whose PoseEstimation holds the CSV's points in metres at the
    reference camera's frame times, the skeleton's bones, and says what the world frame
    is."""
    from pynwb import NWBHDF5IO, validate

    from posekit.report.data import bones_for
    from posekit.triangulation.nwb import read_nwb_points

    built = build_project(tmp_path / "p", synced.truth, sync=dict(synced.truth.offsets),
                          config_extra='formats = ["csv", "nwb"]\n')
    result = triangulate(built)
    assert result.exit_code == 0, result.output
    path = built.csv.with_suffix(".nwb")
    assert validate(path=str(path)) == []
    data = read_anipose_csv(built.csv)
    names, points, times = read_nwb_points(path)
    assert names == list(data.keypoints)
    np.testing.assert_array_equal(points, data.points)  # units = "m": conversion 1
    np.testing.assert_allclose(times, data.fnum / FPS)
    with NWBHDF5IO(str(path), "r") as io:
        nwb = io.read()
        estimation = nwb.processing["behavior"]["PoseEstimation"]
        series = estimation.pose_estimation_series[names[0]]
        assert series.unit == "meters" and series.conversion == 1.0
        assert series.reference_frame.startswith("World frame: as the imported calibration")
        assert estimation.source_software == "posekit"
        edges = [tuple(e) for e in estimation.skeleton.edges[:]]
        assert edges == bones_for(names) and len(edges) > 10
        video = built.session / "videos-raw" / f"{TRIAL}-cam1.mp4"
        assert nwb.session_start_time.timestamp() == pytest.approx(video.stat().st_mtime)
    assert leftovers(built.root) == []


def test_nwb_export_without_pynwb_says_how_to_install_it(
        tmp_path: Path, synced: Built, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the optional packages the step fails at once, saying what to install, and
    writes nothing."""
    import importlib.util

    from posekit.triangulation import nwb

    real = importlib.util.find_spec
    monkeypatch.setattr(nwb.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pynwb" else real(name, *a))
    built = build_project(tmp_path / "p", synced.truth, sync=dict(synced.truth.offsets),
                          config_extra='formats = ["csv", "nwb"]\n')
    result = triangulate(built)
    assert result.exit_code == 1, result.output
    assert ('[triangulation] formats includes "nwb", which needs pynwb (not installed): '
            'pip install "posekit[nwb]"') in result.output
    assert not built.out_dir.exists() or not any(built.out_dir.iterdir())
