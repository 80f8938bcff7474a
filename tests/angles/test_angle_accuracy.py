"""Angle accuracy against synthetic ground truth: exact 3D, and posekit's own
triangulation of corrupted synthetic 2D (benchmarks/angle_accuracy.py runs more cases)."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.angles.compute import compute_angles
from posekit.angles.definitions import angles_for
from posekit.config.schema import Config, TriangulationConfig
from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.motions import make_motion
from posekit.synthetic.person import joint_angles
from posekit.synthetic.triangulation_data import make_triangulation_trial
from posekit.triangulation.reconstruct import reconstruct

KPS = list(MEDIAPIPE_33.keypoints)
SIDES = ("left", "right")
STRONG = [[f"{s}_{a}", f"{s}_{b}"] for s in SIDES
          for a, b in (("shoulder", "elbow"), ("elbow", "wrist"), ("hip", "knee"),
                       ("knee", "ankle"))]
WEAK = [["left_shoulder", "right_shoulder"], ["left_hip", "right_hip"]]


def rmse(est: np.ndarray, truth: np.ndarray) -> float:
    ok = np.isfinite(est) & np.isfinite(truth)
    return float(np.sqrt(np.mean((est[ok] - truth[ok]) ** 2)))


@pytest.mark.parametrize("motion", ["squat", "march", "arm_raise_front", "jump", "demo"])
def test_truth_3d_gives_the_true_angles(motion: str) -> None:
    sample = make_motion(motion, seed=7).sample(30.0)
    truth = joint_angles(sample.landmarks)
    cfg = Config(angle_conventions={f"{s}_{j}": "flexion" for s in SIDES
                                    for j in ("knee", "elbow")})
    defs, _ = angles_for(cfg, KPS)
    got = compute_angles(sample.landmarks * 1000.0, KPS, defs)  # in mm: no difference
    for name in ("left_hip", "right_hip", "left_shoulder", "right_ankle"):
        assert rmse(got[name], truth[name]) < 0.5, name
    # knee and elbow are hinges: their flexion is the generating parameter itself
    params = make_motion(motion, seed=7).pose_fn(sample.times).angles
    zero = np.zeros(len(sample.times))
    for side in SIDES:
        for joint in ("knee", "elbow"):
            name = f"{side}_{joint}"
            assert rmse(got[name], params.get(f"{name}_flexion", zero)) < 0.5, name
            assert rmse(180.0 - got[name], truth[name]) < 0.5, name


def test_reconstructed_corrupted_2d_within_two_degrees() -> None:
    """4 cameras, 2 px noise, 5 % confident outliers (jumps, left/right swaps), 10 %
    dropouts; RMSE per side, then the mean of the two sides (as
    benchmarks/triangulation_accuracy.py reports it)."""
    trial = make_triangulation_trial(n_cams=4, n_frames=300, level="corrupted",
                                     motion="demo", seed=0)
    cfg = TriangulationConfig(constraints=STRONG, constraints_weak=WEAK)
    rec = reconstruct(trial.group, trial.xy, trial.scores, trial.keypoints, cfg, trial.fps,
                      mm_per_unit=1000.0)
    defs, _ = angles_for(Config(), KPS)
    est = compute_angles(rec.points, KPS, defs)
    truth = compute_angles(trial.points3d, KPS, defs)
    report = {}
    for joint in ("knee", "hip", "elbow"):
        per_side = [rmse(est[f"{s}_{joint}"], truth[f"{s}_{joint}"]) for s in SIDES]
        report[joint] = (float(np.mean(per_side)), max(per_side))
        valid = np.mean([np.isfinite(est[f"{s}_{joint}"]).mean() for s in SIDES])
        assert valid > 0.95, joint
    print("\nangle RMSE (mean of sides, worst side), degrees:",
          {k: tuple(round(x, 2) for x in v) for k, v in report.items()})
    for joint, (mean, worst) in report.items():
        assert mean < 2.0, joint
        assert worst < 2.5, joint
