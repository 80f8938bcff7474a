"""Helpers of the angles tests: synthetic 3D (MediaPipe keypoints, millimetres) written as
the triangulate step writes it, with the true angles. Imported by name (``tests/angles``
is on ``sys.path`` under pytest's default import mode)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.motions import make_motion
from posekit.synthetic.person import joint_angles, three_point_angle
from posekit.triangulation.export import write_anipose_csv

KEYPOINTS = list(MEDIAPIPE_33.keypoints)
#: session → trial → (motion, seed, fps, n_frames, first fnum)
TRIALS: dict[str, dict[str, tuple[str, int, float, int, int]]] = {
    "s1": {"t1": ("squat", 1, 30.0, 90, 0), "t2": ("march", 2, 30.0, 75, 5)},
    "s2": {"t1": ("arm_raise_side", 3, 60.0, 120, 0), "t2": ("jump", 4, 60.0, 100, 12)},
}
#: frames of every trial whose left knee is NaN (3D gap)
GAP = slice(10, 20)


@dataclass
class TrialTruth:
    session: str
    trial: str
    fps: float
    fnum: np.ndarray
    points: np.ndarray  # (n, 33, 3) mm, NaN in the gap
    angles: dict[str, np.ndarray]  # true default angles, NaN where the 3D is
    quality: dict[str, dict[str, float]]


@dataclass
class Study:
    root: Path
    truth: dict[tuple[str, str], TrialTruth]

    def csv(self, session: str, trial: str, folder: str = "angles") -> Path:
        return self.root / session / folder / f"{trial}.csv"


def true_angles(points: np.ndarray) -> dict[str, np.ndarray]:
    """posekit's default angles computed independently (synthetic ground-truth code)."""
    out = joint_angles(points)
    idx = KEYPOINTS.index
    for side, other in (("left", "right"), ("right", "left")):
        out[f"{side}_trunk"] = three_point_angle(points[:, idx(f"{side}_shoulder")],
                                                 points[:, idx(f"{side}_hip")],
                                                 points[:, idx(f"{other}_hip")])
    return out


def write_trial(root: Path, session: str, trial: str, points: np.ndarray, fnum: np.ndarray,
                fps: float, keypoints: list[str], quality: dict[str, dict[str, float]] | None
                ) -> None:
    """Empty videos (discovery), the 3D CSV and, given ``quality``, its quality.json."""
    raw = root / session / "videos-raw"
    raw.mkdir(parents=True, exist_ok=True)
    for cam in ("cam1", "cam2"):
        (raw / f"{trial}-{cam}.mp4").touch()
    n, k = points.shape[:2]
    rng = np.random.default_rng(len(trial) + n)
    ok = np.isfinite(points).all(axis=-1)
    errors = np.where(ok, rng.uniform(0.5, 3.0, (n, k)), np.nan)
    ncams = np.where(ok, 2, 0)
    csv = root / session / "pose-3d" / f"{trial}.csv"
    write_anipose_csv(csv, points, errors, ncams, np.where(ok, 0.9, np.nan), keypoints, fnum)
    if quality is not None:
        record = {"frames": n, "fps": fps, "keypoints": quality}
        csv.with_name(f"{trial}.quality.json").write_text(json.dumps(record))


def build_study(root: Path) -> Study:
    """Two sessions × two trials (:data:`TRIALS`) under ``root`` (nesting = 1)."""
    root.mkdir(parents=True)
    (root / "config.toml").write_text('nesting = 1\n[triangulation]\n'
                                      'cam_regex = "-(cam[0-9])$"\n')
    truth = {}
    knee = KEYPOINTS.index("left_knee")
    for session, trials in TRIALS.items():
        for trial, (motion, seed, fps, n, first) in trials.items():
            sample = make_motion(motion, seed=seed).sample(fps, n_frames=n)
            # millimetres, turned and moved: angles depend on neither
            turn = np.radians(30.0)
            rot = np.array([[np.cos(turn), -np.sin(turn), 0], [np.sin(turn), np.cos(turn), 0],
                            [0, 0, 1]])
            points = 1000.0 * sample.landmarks @ rot.T + np.array([500.0, -200.0, 30.0])
            points[GAP, knee] = np.nan
            quality = {kp: {"median_error_px": round(1.0 + 0.01 * j, 3),
                            "mean_cameras": 2.0 - (0.1 if kp == "left_knee" else 0.0),
                            "valid_share": 1.0 - (10 / n if kp == "left_knee" else 0.0)}
                       for j, kp in enumerate(KEYPOINTS)}
            fnum = np.arange(first, first + n)
            write_trial(root, session, trial, points, fnum, fps, KEYPOINTS, quality)
            truth[session, trial] = TrialTruth(session, trial, fps, fnum, points,
                                               true_angles(points), quality)
    return Study(root, truth)
