"""The ``sync`` pipeline step: per-camera frame offsets of a trial → ``sync/<trial>.toml``.

Convention (also written in every file): frame ``i`` of camera ``c`` shows the same
instant as frame ``i + offset[c]`` of the reference camera, whose offset is 0.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import toml

from posekit.camera.toml_io import load_calibration
from posekit.errors import PosekitError
from posekit.io.atomic import write_figure_atomic, write_text_atomic
from posekit.pose2d.table import Pose2D, read_pose2d
from posekit.project.layout import Trial
from posekit.project.steps import calibration_set, pose_2d_path, sync_path, trial_fps
from posekit.sync.geometry import geometry_offsets
from posekit.sync.motion import motion_offsets

log = logging.getLogger(__name__)
CONVENTION = ("frame i of camera c shows the same instant as frame i + offset[c] of the "
              "reference camera (offset 0)")
LOW_CONFIDENCE = 0.3


def read_sync(path: str | Path) -> dict[str, int]:
    """Offsets by camera from a ``sync.toml``."""
    try:
        data = toml.load(str(path))
        return {str(k): int(v) for k, v in data["offsets"].items()}
    except (OSError, KeyError, ValueError, TypeError, toml.TomlDecodeError) as exc:
        raise PosekitError(f"{path}: not a posekit sync file ({exc})") from None


def _plot(path: Path, poses: Mapping[str, Pose2D], signals: Mapping[str, np.ndarray],
          offsets: Mapping[str, int], fps: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 1.0 + 0.6 * len(poses)))
    for k, (cam, sig) in enumerate(signals.items()):
        t = (np.arange(len(sig)) + offsets[cam]) / fps
        scale = np.nanpercentile(sig, 98) if np.isfinite(sig).any() else 1.0
        ax.plot(t, k + 0.8 * sig / (scale or 1.0), lw=0.8, label=cam)
    ax.set_yticks(range(len(signals)), list(signals))
    ax.set_xlabel("time on the reference camera's clock (s)")
    ax.set_title("keypoint speed per camera, aligned by the estimated offsets")
    fig.tight_layout()
    write_figure_atomic(fig, path, dpi=100)


def run(trial: Trial, overwrite: bool = False) -> Path:
    """Estimate (or take from ``[sync] offsets``) the offsets of one trial."""
    cfg = trial.config.sync
    cams = trial.cameras
    fixed = {c: int(v) for c, v in cfg.offsets.items() if c in cams}
    record: dict[str, Any] = {"reference": cams[0], "convention": CONVENTION}
    warnings: list[str] = []
    if not cfg.enabled or len(fixed) == len(cams):
        offsets = {c: fixed.get(c, 0) for c in cams}
        record.update(method="config" if fixed else "none (sync disabled)",
                      offsets=offsets, confidence={c: 1.0 for c in cams})
    else:
        poses = {c: read_pose2d(pose_2d_path(trial, c)) for c in cams}
        subframe: dict[str, float] = {}
        fps = trial_fps(trial, poses)
        est = motion_offsets(poses, fps, cfg.max_lag_s)
        offsets, confidence, method = dict(est.offsets), dict(est.confidence), "motion"
        cs = calibration_set(trial)
        if cs is not None and cs.output.is_file():
            group = load_calibration(cs.output)
            if set(cams) <= set(group.names):
                geo = geometry_offsets(poses, group.subset(cams), offsets, confidence,
                                       cams[0], round(cfg.max_lag_s * fps))
                offsets = geo.offsets
                confidence = {c: max(confidence[c], geo.confidence.get(c, 0.0))
                              for c in cams}
                subframe = {c: round(v, 2) for c, (v, _) in geo.subframe.items()
                            if c not in fixed}
                method = "motion + geometry"
            else:
                warnings.append(f"calibration {cs.output} lacks cameras "
                                f"{sorted(set(cams) - set(group.names))}: offsets not "
                                "checked by the geometry")
        for cam, value in fixed.items():
            offsets[cam], confidence[cam] = value, 1.0
        for cam in cams:
            if confidence[cam] < LOW_CONFIDENCE and cam not in fixed:
                warnings.append(
                    f"{cam}: offset {offsets[cam]} has low confidence "
                    f"({confidence[cam]:.2f}): the person may be out of view or barely "
                    "moving in it; check the plot, record a longer clip with a distinct "
                    f"movement (a jump or a clap), or set [sync] offsets.{cam}")
        record.update(method=method, fps=fps, max_lag_s=cfg.max_lag_s, offsets=offsets,
                      confidence={c: round(v, 3) for c, v in confidence.items()})
        if subframe:  # the geometry's sub-frame estimates, before rounding
            record["subframe"] = subframe
        _plot(sync_path(trial).with_suffix(".png"), poses, est.signals, offsets, fps)
    if warnings:
        record["warnings"] = warnings
        for w in warnings:
            log.warning("%s: %s", trial.key, w)
    text = f"# posekit sync: {CONVENTION}\n" + toml.dumps(record)
    return write_text_atomic(sync_path(trial), text)
