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

``--model-path FILE`` runs a ``.task`` model through MediaPipe's Tasks API instead of the
shipped model; ``--model-path shipped`` writes the shipped weights as such a file
(:func:`posekit.pose2d.detectors.write_shipped_task`), so the two APIs can be compared on
the same weights.

Run: ``python benchmarks/detector_smoothing.py [--out DIR] [--fps 30] [--cams 3]
[--trials squat:4 jump:4 march:4 arm_raise_side:4] [--sessions s1 s2] [--seed 0]
[--model-path FILE|shipped] [--quick]``.
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
from study_parallel import cpu_name, fresh_copy, render

from posekit.calibration.board import UNITS_PER_M
from posekit.demo import angle_rmse
from posekit.pose2d.detectors import write_shipped_task
from posekit.project import Project
from posekit.project.layout import Trial
from posekit.project.pipeline import run_all
from posekit.report.data import load_results
from posekit.skeletons import limb_joint_indices
from posekit.synthetic.project import SyntheticProjectSpec

SHIFTS = np.round(np.arange(-2.0, 2.0001, 0.05), 2)  # frames


def markdown(table: pd.DataFrame) -> str:
    head = [str(c) for c in table.columns]
    rows = [[f"{v:.2f}".replace("-0.00", "0.00") if isinstance(v, float) else str(v)
             for v in row]
            for row in table.itertuples(index=False)]
    return "\n".join("| " + " | ".join(r) + " |"
                     for r in [head, ["---"] * len(head), *rows])


def shifted(values: np.ndarray, shift: float) -> np.ndarray:
    """``values`` (frames, ...) at frame ``i + shift``, linearly interpolated (held at the
    ends)."""
    t = np.clip(np.arange(len(values)) + shift, 0, len(values) - 1)
    i0 = np.floor(t).astype(int)
    i1 = np.minimum(i0 + 1, len(values) - 1)
    w = (t - i0).reshape((-1,) + (1,) * (values.ndim - 1))
    return values[i0] * (1 - w) + values[i1] * w


def trial_scores(trial: Trial) -> dict[str, float]:
    res = load_results(trial)  # the truth comes rigidly fitted onto the 3D
    dist = res.truth_distances()
    if res.truth is None or dist is None:
        raise SystemExit(f"{trial.key}: no ground truth")
    err = dist * 1000.0 / UNITS_PER_M.get(res.units, 1.0)
    limbs = limb_joint_indices(res.data.keypoints)
    inner = slice(5, -5)  # the ends, where the interpolation holds, are left out
    misfit = [np.nanmean(np.linalg.norm(res.data.points[inner] - shifted(res.truth, s)[inner],
                                        axis=-1)[:, limbs]) for s in SHIFTS]
    scores = {"MPJPE mm": float(np.nanmean(err)),
              "limb joints mm": float(np.nanmean(err[:, limbs])),
              "3D late by (frames)": -float(SHIFTS[int(np.nanargmin(misfit))])}
    scores.update({f"{joint} RMSE deg": value for joint, value in angle_rmse(trial).items()})
    return scores


def run_setting(study: Path, target: Path, smooth: bool, cams: int, jobs: int,
                model_path: Path | None = None) -> Path:
    root = fresh_copy(study, target)
    offsets = "".join(f"cam{i + 1} = 0\n" for i in range(cams))
    config = root / "config.toml"
    setting = "true" if smooth else "false"
    model = f'model_path = "{model_path.as_posix()}"\n' if model_path else ""
    config.write_text(config.read_text(encoding="utf-8") + f"\n[detection]\nsmooth_landmarks"
                      f" = {setting}\n{model}\n[sync.offsets]\n{offsets}", encoding="utf-8")
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
    parser.add_argument("--model-path", default=None,
                        help='a .task model (Tasks API); "shipped": the shipped weights as one')
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
    model = None
    if args.model_path == "shipped":
        model = write_shipped_task(out / "pose_landmarker_full.task")
    elif args.model_path:
        model = Path(args.model_path).resolve()
    rows = []
    for smooth in (True, False):
        root = run_setting(study, out / f"run-smooth-{smooth}", smooth, args.cams, args.jobs,
                           model)
        for trial in Project.open(root).trials():
            rows.append({"smoothing": "on" if smooth else "off", "trial": trial.key,
                         **trial_scores(trial)})
    table = pd.DataFrame(rows)
    means = table.drop(columns="trial").groupby("smoothing", sort=False).mean()
    lines = [f"Study: {len(args.sessions)} session(s) x {', '.join(args.trials)} (seconds), "
             f"{args.cams} cameras at {args.fps:g} fps, seed {args.seed}; true offsets fixed; "
             f"model: {model or 'shipped (solutions API)'}; {cpu_name()}.", "", markdown(table), "",
             "Means:", "", markdown(means.reset_index())]
    text = "\n".join(lines)
    print("\n" + text)
    (out / "detector_smoothing.md").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
