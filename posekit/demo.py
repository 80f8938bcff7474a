"""``posekit demo``: a synthetic project, the pipeline run on it, and how close it came."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from posekit.camera.toml_io import load_calibration
from posekit.cli.common import echo_summaries
from posekit.errors import ProjectError
from posekit.project import Project
from posekit.project.layout import Trial
from posekit.project.pipeline import run_all
from posekit.project.steps import CalibrationSet

if TYPE_CHECKING:
    from posekit.synthetic.project import SyntheticProjectSpec

log = logging.getLogger(__name__)


def _calibration_report(project: Project) -> str:
    from posekit.calibration.board import UNITS_PER_M
    from posekit.synthetic.evaluate import compare_calibrations

    estimated = project.root / "calibration" / "calibration.toml"
    if not estimated.is_file():
        return "calibration: no output to compare (step not available or failed)"
    cs = CalibrationSet(project, project.root)
    units = UNITS_PER_M[cs.config.calibration.units]
    err = compare_calibrations(load_calibration(estimated),
                               load_calibration(project.root / "ground-truth" /
                                                "calibration.toml"),
                               estimated_units_per_m=units)
    return (f"calibration: focal error max {err.focal_pct.max():.2f} %, principal point max "
            f"{err.principal_px.max():.1f} px, rotation max {err.rotation_deg.max():.2f} deg, "
            f"translation max {err.translation_per_m.max():.1f} mm/m, scale {err.scale:.4f}")


def _detection_report(trials: list[Trial]) -> list[str]:
    """Per trial and camera: frames with a person and the median 2D error of the limb
    joints against the projected ground truth."""
    import numpy as np

    from posekit.pose2d.table import read_pose2d
    from posekit.project.steps import pose_2d_path
    from posekit.skeletons import limb_joint_indices

    lines = []
    for trial in trials:
        truth_file = trial.session.project.root / "ground-truth" / trial.session.key / \
            f"{trial.name}.npz"
        if not truth_file.is_file():
            continue
        with np.load(truth_file) as gt:
            truth = dict(zip((str(n) for n in gt["camera_names"]), gt["points2d"], strict=True))
        parts = []
        for cam in trial.cameras:
            path = pose_2d_path(trial, cam)
            if not path.is_file() or cam not in truth:
                return ["detect: no output to compare (step not available or failed)"]
            pose = read_pose2d(path)
            idx = limb_joint_indices(pose.keypoints)
            n = min(pose.n_frames, truth[cam].shape[0])
            err = np.hypot(*(pose.xy[:n, idx] - truth[cam][:n, idx]).transpose(2, 0, 1))
            parts.append(f"{cam} {100 * pose.detected().mean():.0f} % of frames, median "
                         f"{np.nanmedian(err):.1f} px")
        lines.append(f"detect ({trial.key}): " + "; ".join(parts))
    return lines


def _sync_report(trials: list[Trial]) -> list[str]:
    """Offsets found per trial; the demo's cameras are synchronised, so the truth is 0."""
    from posekit.project.steps import sync_path
    from posekit.sync.step import read_sync

    lines = []
    for trial in trials:
        if sync_path(trial).is_file():
            found = read_sync(sync_path(trial))
            lines.append(f"sync ({trial.key}): offsets "
                         + ", ".join(f"{c} {v:+d}" for c, v in found.items())
                         + " (truth: all 0, the demo's cameras are synchronised)")
    return lines


def _triangulation_report(trials: list[Trial]) -> list[str]:
    """3D error per trial against the true landmarks, after one rigid transform for the
    whole trial (the calibration's world frame is camera 1's, the truth's is the rig's)."""
    import numpy as np

    from posekit.calibration.board import UNITS_PER_M
    from posekit.project.steps import pose_3d_path
    from posekit.report.data import load_results
    from posekit.skeletons import limb_joint_indices

    lines = []
    for trial in trials:
        if not pose_3d_path(trial).is_file():
            continue
        res = load_results(trial)
        dist = res.truth_distances()
        if res.truth is None or dist is None:
            continue
        err = dist * 1000.0 / UNITS_PER_M.get(res.units, 1.0)  # → mm
        frames = np.isfinite(res.truth).all(axis=-1).any(axis=1)  # those the truth has
        ok = np.isfinite(res.data.points[frames]).all(axis=-1)
        limbs = limb_joint_indices(res.data.keypoints)
        lines.append(f"triangulate ({trial.key}): MPJPE {np.nanmean(err):.1f} mm (limb joints "
                     f"{np.nanmean(err[:, limbs]):.1f} mm) over {int(frames.sum())} frames, "
                     f"{100 * ok.mean():.0f} % of points reconstructed")
    return lines


def angle_rmse(trial: Trial, joints: tuple[str, ...] = ("knee", "hip", "elbow")
               ) -> dict[str, float]:
    """RMSE (degrees) of the trial's angles against the ground truth per joint, left and
    right pooled, for the joints whose angles both files have; {} without either file."""
    import numpy as np
    import pandas as pd

    from posekit.project.steps import angles_path
    from posekit.report.data import truth_path

    truth_file = truth_path(trial, "angles")
    if not (truth_file.is_file() and angles_path(trial).is_file()):
        return {}
    est = pd.read_csv(angles_path(trial)).set_index("fnum")
    truth = pd.read_csv(truth_file).set_index("fnum")
    frames = est.index.intersection(truth.index)
    out = {}
    for joint in joints:
        cols = [c for c in (f"left_{joint}", f"right_{joint}")
                if c in est.columns and c in truth.columns]
        if cols:
            diff = est.loc[frames, cols].to_numpy() - truth.loc[frames, cols].to_numpy()
            out[joint] = float(np.sqrt(np.nanmean(diff ** 2)))
    return out


def _angles_report(trials: list[Trial]) -> list[str]:
    """RMSE of the angles that the ground truth also has (same names), per trial."""
    lines = []
    for trial in trials:
        rmse = angle_rmse(trial)
        if rmse:
            lines.append(f"angles ({trial.key}): RMSE "
                         + ", ".join(f"{joint} {value:.1f}°" for joint, value in rmse.items()))
    return lines


def run_demo(directory: str | os.PathLike[str], seed: int = 0, overwrite: bool = False,
             spec: SyntheticProjectSpec | None = None) -> Path:
    """Write the synthetic project (unless present), run every available step, compare
    with the ground truth and write the HTML report (``reports/index.html``).

    ``spec`` replaces the default project (3 cameras, 150 calibration frames, a 4 s squat)."""
    from posekit.report.html import run_reports
    from posekit.synthetic.project import (
        SyntheticProjectSpec,
        remove_generated,
        write_synthetic_project,
    )


    root = Path(directory)
    marker = root / "ground-truth" / "calibration.toml"
    if root.exists() and any(root.iterdir()) and not marker.is_file():
        raise ProjectError(f"{root}: folder exists and is not a posekit demo; choose another")
    if overwrite and marker.is_file():
        remove_generated(root)
    if not marker.is_file() or not (root / "config.toml").is_file():
        click.echo(f"Writing a synthetic 3-camera project to {root} ...")
        start = time.perf_counter()
        write_synthetic_project(root, spec or SyntheticProjectSpec(seed=seed))
        click.echo(f"  rendered in {time.perf_counter() - start:.0f} s")
    project = Project.open(root)
    trials = project.trials()
    click.echo(f"Running the pipeline on {len(trials)} trial(s) ...")
    summaries = run_all(project, trials, overwrite=overwrite)
    echo_summaries(summaries)
    click.echo("\nCompared with the ground truth:")
    click.echo("  " + _calibration_report(project))
    for line in _detection_report(trials):
        click.echo("  " + line)
    for line in _sync_report(trials):
        click.echo("  " + line)
    for line in _triangulation_report(trials):
        click.echo("  " + line)
    for line in _angles_report(trials):
        click.echo("  " + line)
    click.echo(f"\nProject: {project.root}")
    click.echo(f"  calibration videos: {project.root / 'calibration'}")
    for trial in trials:
        click.echo(f"  trial {trial.key}: {trial.videos[trial.cameras[0]].parent}")
    click.echo(f"  ground truth: {project.root / 'ground-truth'}")
    click.echo("  see the state of each step with: posekit status -p " + str(root))
    made = run_reports(project, progress=False)
    if made.reports or made.up_to_date:
        click.echo(f"  report: {made.index}\n    (open it in a browser, offline: the 3D "
                   "viewer and every step's figures, with the ground truth)")
    return project.root
