"""Write a complete synthetic posekit project with its ground truth.

Layout (the same as a real project, plus ``ground-truth/``, which discovery ignores)::

    <root>/config.toml
    <root>/calibration/calib-cam1.mp4 ...        rendered ChArUco videos
    <root>/<session>/videos-raw/<trial>-cam1.mp4  rendered person videos
    <root>/ground-truth/calibration.toml          the true rig (Anipose format, metres)
    <root>/ground-truth/charuco_truth.npz         true board poses and corner projections
    <root>/ground-truth/<session>/<trial>.npz     3D landmarks, 2D projections, angles
    <root>/ground-truth/<session>/<trial>-points3d.csv, <trial>-angles.csv
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import save_calibration
from posekit.io.atomic import atomic_path, write_text_atomic
from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.board_paths import calibration_session
from posekit.synthetic.charuco import BoardSpec, render_calibration_videos
from posekit.synthetic.motions import make_motion
from posekit.synthetic.render_person import render_person_videos
from posekit.synthetic.rig import make_rig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyntheticProjectSpec:
    """What to generate. Times in seconds, lengths in metres."""

    n_cams: int = 3
    fps: float = 30.0
    calibration_frames: int = 150
    sessions: tuple[str, ...] = ("session1",)
    trials: tuple[tuple[str, str, float], ...] = (("squat", "squat", 4.0),)
    #: (trial name, motion name, duration) for every session
    height: float = 1.75
    seed: int = 0
    board: BoardSpec = field(default_factory=BoardSpec)
    #: calibration videos start with the board swept close to each camera
    #: (:func:`posekit.synthetic.board_paths.calibration_session`), as users record them
    calibration_sweeps: bool = True


#: The spec of ``example_project/`` in the repository (kept to a few MB).
EXAMPLE_SPEC = SyntheticProjectSpec(calibration_frames=60, trials=(("squat", "squat", 2.0),))


def project_config(spec: SyntheticProjectSpec, name: str) -> str:
    """config.toml text describing the synthetic board (units: metres)."""
    b = spec.board
    return (
        f'project = "{name}"\n'
        "nesting = 1\n\n"
        "[calibration]\n"
        'board_type = "charuco"\n'
        f"board_size = [{b.squares_x}, {b.squares_y}]\n"
        f"board_marker_bits = {b.marker_bits}\n"
        f"board_marker_dict_number = {b.dict_size}\n"
        f"board_marker_length = {b.marker_length}\n"
        f"board_square_side_length = {b.square_length}\n"
        f"legacy = {str(b.legacy).lower()}\n"
        'units = "m"\n\n'
        "[triangulation]\n"
        'cam_regex = "-(cam[0-9]+)$"\n'
    )


def _save_table(path: Path, frame: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _write_trial(rig: CameraGroup, spec: SyntheticProjectSpec, root: Path, session: str,
                 trial: str, motion_name: str, duration: float, seed: int) -> None:
    motion = make_motion(motion_name, duration, seed=seed, height=spec.height)
    sample = motion.sample(spec.fps)
    raw = root / session / "videos-raw"
    raw.mkdir(parents=True, exist_ok=True)
    truth_dir = root / "ground-truth" / session
    truth_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".render-") as staging:
        out = render_person_videos(rig, sample.landmarks, staging, spec.fps, seed=seed)
        for cam in rig.names:
            os.replace(out[cam], raw / f"{trial}-{cam}.mp4")
        os.replace(out["ground_truth"], truth_dir / f"{trial}.npz")
    fnum = np.arange(len(sample.times))
    cols = {"fnum": fnum, "time": sample.times}
    for k, name in enumerate(MEDIAPIPE_33.keypoints):
        for a, axis in enumerate("xyz"):
            cols[f"{name}_{axis}"] = sample.landmarks[:, k, a]
    _save_table(truth_dir / f"{trial}-points3d.csv", pd.DataFrame(cols))
    angles = {"fnum": fnum, "time": sample.times, **sample.angles}
    _save_table(truth_dir / f"{trial}-angles.csv", pd.DataFrame(angles))


def write_synthetic_project(root: str | os.PathLike[str],
                            spec: SyntheticProjectSpec | None = None) -> Path:
    """Generate the whole project under ``root`` (deterministic from ``spec.seed``)."""
    spec = spec or SyntheticProjectSpec()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rig = make_rig(spec.n_cams, seed=spec.seed)
    truth = root / "ground-truth"
    truth.mkdir(exist_ok=True)
    save_calibration(rig, truth / "calibration.toml")
    log.info("rendering %d ChArUco calibration videos", len(rig))
    poses = (calibration_session(rig, spec.board, spec.calibration_frames, spec.seed)
             if spec.calibration_sweeps else None)
    _, _ = render_calibration_videos(
        rig, spec.board, root / "calibration", spec.calibration_frames, spec.fps,
        seed=spec.seed, cam_pattern="calib-{name}.mp4", poses=poses,
    )
    calib_truth = root / "calibration" / "charuco_truth.npz"
    if calib_truth.exists():
        os.replace(calib_truth, truth / "charuco_truth.npz")
    for s, session in enumerate(spec.sessions):
        for t, (trial, motion_name, duration) in enumerate(spec.trials):
            log.info("rendering %s/%s (%s, %.1f s)", session, trial, motion_name, duration)
            _write_trial(rig, spec, root, session, trial, motion_name, duration,
                         seed=spec.seed + 1000 * s + t)
    write_text_atomic(root / "config.toml", project_config(spec, root.resolve().name))
    return root


def remove_generated(root: Path) -> None:
    """Remove what :func:`write_synthetic_project` writes (used by ``--overwrite``)."""
    for child in root.iterdir():
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()
