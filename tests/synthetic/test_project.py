"""The synthetic project writer (real rendering, real video files); `posekit demo` is
tested in tests/test_demo.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posekit.camera import load_calibration
from posekit.io.video import probe_video
from posekit.project import Project
from posekit.synthetic.project import SyntheticProjectSpec, write_synthetic_project

SMALL = SyntheticProjectSpec(n_cams=2, calibration_frames=6, sessions=("s1", "s2"),
                             trials=(("arms", "arm_raise_front", 0.5),), seed=3)


def test_small_project_is_a_valid_posekit_project(tmp_path: Path) -> None:
    root = write_synthetic_project(tmp_path / "proj", SMALL)
    project = Project.open(root)
    trials = project.trials()
    assert [t.key for t in trials] == ["s1/arms", "s2/arms"]
    for trial in trials:
        assert trial.cameras == ["cam1", "cam2"]
        info = probe_video(trial.videos["cam1"])
        assert info.n_frames == 16 and info.fps == 30.0
    truth = load_calibration(root / "ground-truth" / "calibration.toml")
    assert truth.names == ["cam1", "cam2"]
    assert (root / "ground-truth" / "s1" / "arms-points3d.csv").is_file()
    assert (root / "ground-truth" / "charuco_truth.npz").is_file()
    cfg = project.config.calibration
    assert (cfg.board_size, cfg.units) == ((SMALL.board.squares_x, SMALL.board.squares_y), "m")


def test_generation_is_deterministic(tmp_path: Path) -> None:
    a = write_synthetic_project(tmp_path / "a", SMALL)
    b = write_synthetic_project(tmp_path / "b", SMALL)
    for rel in ("ground-truth/s1/arms.npz", "ground-truth/charuco_truth.npz"):
        da, db = np.load(a / rel), np.load(b / rel)
        assert sorted(da.files) == sorted(db.files)
        for key in da.files:
            np.testing.assert_array_equal(da[key], db[key])
    for rel in ("s1/videos-raw/arms-cam2.mp4", "calibration/calib-cam1.mp4"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes()


def test_committed_example_project_matches_the_generator() -> None:
    from posekit.synthetic.project import EXAMPLE_SPEC, project_config
    from posekit.synthetic.rig import make_rig

    root = Path(__file__).resolve().parents[2] / "example_project"
    project = Project.open(root)
    assert (root / "config.toml").read_text() == project_config(EXAMPLE_SPEC, "example_project")
    (trial,) = project.trials()
    assert trial.cameras == ["cam1", "cam2", "cam3"]
    truth = load_calibration(root / "ground-truth" / "calibration.toml")
    rig = make_rig(EXAMPLE_SPEC.n_cams, seed=EXAMPLE_SPEC.seed)
    for ours, expected in zip(truth, rig, strict=True):
        np.testing.assert_allclose(ours.matrix, expected.matrix)
        np.testing.assert_allclose(ours.tvec, expected.tvec)
    assert probe_video(trial.videos["cam2"]).n_frames == 61
