"""MediaPipe's landmark smoothing on and off: 3D and angle accuracy against the ground truth.

MediaPipe's legacy ``Pose`` filters its landmarks across frames (``smooth_landmarks``). That
filter is causal, so its keypoints trail a moving joint; posekit's triangulation smooths in
3D over the whole trial, which delays nothing. This benchmark renders a synthetic study
(:mod:`posekit.synthetic`, cached in ``--out``), runs ``run-all`` on two fresh copies, one
per ``[detection] smooth_landmarks`` setting, each with the rig's true calibration and the
cameras' true offsets (all 0, fixed in ``[sync.offsets]``), so that only the 2D differs, and
reports per trial:

* MPJPE (mm, all keypoints and the limb joints) after one rigid fit of the whole trial;
* how many frames the 3D trails the truth (the shift, in steps of 0.05 frame, that best
  fits the limb joints to the linearly interpolated truth; positive: the 3D is late);
* the RMSE (degrees) of the knee, hip and elbow angles.

Run: ``python benchmarks/detector_smoothing.py [--out DIR] [--fps 30] [--cams 3]
[--trials squat:4 jump:4 march:4 arm_raise_side:4] [--sessions s1 s2] [--seed 0]
[--quick]``.
The defaults are the study of ``study_parallel.py`` (the same spec, so the same videos).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from study_parallel import cpu_name, fresh_copy

from posekit.demo import _rigid_fit
from posekit.project import Project
from posekit.project.pipeline import run_all
from posekit.project.steps import angles_path, pose_3d_path
from posekit.skeletons import limb_joint_indices
from posekit.synthetic.project import SyntheticProjectSpec, write_synthetic_project
from posekit.triangulation.export import read_anipose_csv

SHIFTS = np.round(np.arange(-2.0, 2.0001, 0.05), 2)  # frames
JOINTS = ("knee", "hip", "elbow")


def markdown(table: pd.DataFrame) -> str:
    head = [str(c) for c in table.columns]
    rows = [[f"{v:.2f}".replace("-0.00", "0.00") if isinstance(v, float) else str(v)
             for v in row]
            for row in table.itertuples(index=False)]
    return "\n".join("| " + " | ".join(r) + " |"
                     for r in [head, ["---"] * len(head), *rows])


def render(folder: Path, spec: SyntheticProjectSpec) -> Path:
    if not (folder / "config.toml").is_file():
        start = time.perf_counter()
        write_synthetic_project(folder, spec)
        print(f"rendered {folder} in {time.perf_counter() - start:.0f} s")
    return folder


def shifted(values: np.ndarray, shift: float) -> np.ndarray:
    """``values`` (frames, ...) at frame ``i + shift``, linearly interpolated (held at the
    ends)."""
    t = np.clip(np.arange(len(values)) + shift, 0, len(values) - 1)
    i0 = np.floor(t).astype(int)
    i1 = np.minimum(i0 + 1, len(values) - 1)
    w = (t - i0).reshape((-1,) + (1,) * (values.ndim - 1))
    return values[i0] * (1 - w) + values[i1] * w


def trial_scores(root: Path, trial_key: str) -> dict[str, float]:
    project = Project.open(root)
    trial = next(t for t in project.trials() if t.key == trial_key)
    truth_dir = root / "ground-truth" / trial.session.key
    est = read_anipose_csv(pose_3d_path(trial))
    table = pd.read_csv(truth_dir / f"{trial.name}-points3d.csv").set_index("fnum")
    frames = [f for f in est.fnum if f in table.index]
    cols = [f"{k}_{a}" for k in est.keypoints for a in "xyz"]
    truth = table.loc[frames, cols].to_numpy().reshape(len(frames), -1, 3)
    pts = est.points[np.isin(est.fnum, frames)]
    ok = np.isfinite(pts).all(axis=-1)
    rot, move = _rigid_fit(pts[ok], truth[ok])
    fitted = pts @ rot.T + move
    err = np.linalg.norm(fitted - truth, axis=-1) * 1000.0
    limbs = limb_joint_indices(est.keypoints)
    inner = slice(5, -5)  # the ends, where the interpolation holds, are left out
    misfit = [np.nanmean(np.linalg.norm(fitted[inner] - shifted(truth, s)[inner],
                                        axis=-1)[:, limbs]) for s in SHIFTS]
    scores = {"MPJPE mm": float(np.nanmean(err)),
              "limb joints mm": float(np.nanmean(err[:, limbs])),
              "3D late by (frames)": -float(SHIFTS[int(np.nanargmin(misfit))])}
    angles = pd.read_csv(angles_path(trial)).set_index("fnum")
    true_angles = pd.read_csv(truth_dir / f"{trial.name}-angles.csv").set_index("fnum")
    common = angles.index.intersection(true_angles.index)
    for joint in JOINTS:
        names = [f"{side}_{joint}" for side in ("left", "right")]
        diff = angles.loc[common, names].to_numpy() - true_angles.loc[common, names].to_numpy()
        scores[f"{joint} RMSE deg"] = float(np.sqrt(np.nanmean(diff ** 2)))
    return scores


def run_setting(study: Path, target: Path, smooth: bool, cams: int, jobs: int) -> Path:
    root = fresh_copy(study, target)
    offsets = "".join(f"cam{i + 1} = 0\n" for i in range(cams))
    config = root / "config.toml"
    setting = "true" if smooth else "false"
    config.write_text(config.read_text(encoding="utf-8") + f"\n[detection]\nsmooth_landmarks"
                      f" = {setting}\n\n[sync.offsets]\n{offsets}", encoding="utf-8")
    # the true calibration again, newer than the edited config, so that it is kept
    shutil.copy(study / "ground-truth" / "calibration.toml",
                root / "calibration" / "calibration.toml")
    project = Project.open(root)
    start = time.perf_counter()
    for summary in run_all(project, project.trials(), progress=False, jobs=jobs,
                           scheduler="local"):
        if not summary.ok:
            raise SystemExit(f"{root}: {summary.step} did not succeed: {summary.results}")
    print(f"smooth_landmarks = {smooth}: run-all in {time.perf_counter() - start:.0f} s")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="working folder (kept)")
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--cams", type=int, default=3)
    parser.add_argument("--trials", nargs="+", default=["squat:4", "jump:4", "march:4",
                                                         "arm_raise_side:4"],
                        help="motion:seconds, one trial each")
    parser.add_argument("--sessions", nargs="+", default=["s1", "s2"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke run: two 1-s trials")
    args = parser.parse_args()
    if args.quick:
        args.trials, args.sessions = ["squat:1", "jump:1"], ["s1"]
    trials = tuple((m, m, float(s)) for m, s in (t.split(":") for t in args.trials))
    spec = SyntheticProjectSpec(n_cams=args.cams, fps=args.fps, calibration_frames=60,
                                sessions=tuple(args.sessions), trials=trials, seed=args.seed)
    out = args.out or Path(tempfile.mkdtemp(prefix="posekit-smoothing-"))
    name = (f"study-{args.cams}c-{args.fps:g}fps-seed{args.seed}-"
            + "-".join(t.replace(":", "") for t in args.trials) + "-" + "-".join(args.sessions))
    study = render(out / name, spec)
    rows = []
    for smooth in (True, False):
        root = run_setting(study, out / f"run-smooth-{smooth}", smooth, args.cams, args.jobs)
        for trial in Project.open(root).trials():
            rows.append({"smoothing": "on" if smooth else "off", "trial": trial.key,
                         **trial_scores(root, trial.key)})
    table = pd.DataFrame(rows)
    means = table.drop(columns="trial").groupby("smoothing", sort=False).mean()
    lines = [f"Study: {len(args.sessions)} session(s) x {', '.join(args.trials)} (seconds), "
             f"{args.cams} cameras at {args.fps:g} fps, seed {args.seed}; true offsets fixed; "
             f"{cpu_name()}.", "", markdown(table), "",
             "Means:", "", markdown(means.reset_index())]
    text = "\n".join(lines)
    print("\n" + text)
    (out / "detector_smoothing.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
