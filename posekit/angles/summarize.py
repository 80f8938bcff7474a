"""``posekit summarize``: tidy tables over every trial of a project.

Written to ``<project>/<[pipeline] summaries>/``, each as CSV and Parquet:

- ``angles_summary``: one row per session × trial × angle column: ``rom`` (max − min),
  ``min``, ``max``, ``mean`` (over the frames where the angle is defined, degrees),
  ``valid_share`` (share of frames where it is defined) and ``n_frames``;
- ``angles_long``: one row per session × trial × frame × angle: ``frame`` (the 3D file's
  ``fnum``), ``time`` (s), ``angle``, ``value`` (degrees; empty where undefined);
- ``quality_summary``: one row per session × trial × keypoint: ``median_error_px``
  (median reprojection error), ``mean_cameras`` (cameras used, mean over frames, 0 where
  missing) and ``valid_share`` (share of frames with a 3D point), from the triangulation's
  ``<trial>.quality.json`` (or, for 3D files without one, from the CSV's ``_error`` and
  ``_ncams`` columns);
- ``quality_long``: one row per session × trial × frame × keypoint: ``error_px`` and
  ``ncams`` from the 3D CSV;
- ``trials``: one row per session × trial with 3D, to find the trials to check in a large
  study: ``cameras``, ``frames`` (of the 3D), ``median_error_px`` and ``valid_share``
  (from the quality file), ``sync_method``, ``sync_min_confidence`` (the lowest confidence
  of a camera other than the reference) and ``sync_low_confidence`` (the cameras below
  the warning threshold, space-separated; empty when none) from the sync file (empty
  without one), and ``warnings``: how many
  warnings the trial's steps left in their outputs (the HTML report's Warnings section).

``session`` is the session's path below the project (``subj1/day2``; the project folder's
name when the project is the session), ``trial`` the trial name.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from posekit.errors import PosekitError
from posekit.io.atomic import atomic_path
from posekit.project.layout import Project, Trial
from posekit.project.steps import (
    angles_path,
    pose_3d_path,
    pose_3d_quality_path,
    summaries_dir,
    sync_path,
)

log = logging.getLogger(__name__)

ANGLE_SUMMARY_COLUMNS = ["session", "trial", "angle", "rom", "min", "max", "mean",
                         "valid_share", "n_frames"]
ANGLE_LONG_COLUMNS = ["session", "trial", "frame", "time", "angle", "value"]
QUALITY_SUMMARY_COLUMNS = ["session", "trial", "keypoint", "median_error_px", "mean_cameras",
                           "valid_share"]
QUALITY_LONG_COLUMNS = ["session", "trial", "frame", "time", "keypoint", "error_px", "ncams"]
TRIAL_COLUMNS = ["session", "trial", "cameras", "frames", "median_error_px", "valid_share",
                 "sync_method", "sync_min_confidence", "sync_low_confidence", "warnings"]
TABLES = ("angles_summary", "angles_long", "quality_summary", "quality_long", "trials")


@dataclass
class Summary:
    """What :func:`summarize` wrote and what it could not use."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    trials_with_angles: list[str] = field(default_factory=list)
    trials_with_3d: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # neither 3D nor angles
    no_angles: list[str] = field(default_factory=list)  # 3D but no angles
    outdated: list[str] = field(default_factory=list)  # angles older than their 3D/config


def session_label(trial: Trial) -> str:
    return trial.session.key or trial.session.path.name


def angle_frame_table(trial: Trial) -> pd.DataFrame:
    """One trial's angles CSV in long form (:data:`ANGLE_LONG_COLUMNS`)."""
    path = angles_path(trial)
    try:
        wide = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise PosekitError(f"{path}: cannot read it ({exc}); rerun `posekit angles "
                           "--overwrite`") from None
    names = [c for c in wide.columns if c not in ("fnum", "time")]
    try:
        frames = wide["fnum"].to_numpy(np.int64)
        times = wide["time"].to_numpy(np.float64)
        values = wide[names].to_numpy(np.float64)  # (n_frames, n_angles)
    except (KeyError, ValueError, TypeError) as exc:
        raise PosekitError(f"{path}: not an angles file as `posekit angles` writes it "
                           f"({exc}); rerun `posekit angles --overwrite`") from None
    n = len(frames)
    return pd.DataFrame({
        "session": session_label(trial), "trial": trial.name,
        "frame": np.tile(frames, len(names)), "time": np.tile(times, len(names)),
        "angle": np.repeat(np.asarray(names, dtype=object), n),
        "value": values.T.reshape(-1)}, columns=ANGLE_LONG_COLUMNS)


def angle_summary(long: pd.DataFrame) -> pd.DataFrame:
    """Per session × trial × angle figures (:data:`ANGLE_SUMMARY_COLUMNS`) of a long
    table; ``rom``/``min``/``max``/``mean`` are NaN when no frame is valid."""
    if long.empty:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
            ANGLE_SUMMARY_COLUMNS, ["str", "str", "str", *["float64"] * 5, "int64"],
            strict=True)})
    grouped = long.groupby(["session", "trial", "angle"], sort=False)["value"]
    out = grouped.agg(min="min", max="max", mean="mean", n_valid="count", n_frames="size")
    out["rom"] = out["max"] - out["min"]
    out["valid_share"] = out["n_valid"] / out["n_frames"]
    return out.reset_index()[ANGLE_SUMMARY_COLUMNS]


def _quality_from_csv(trial: Trial) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-keypoint and per-frame quality of one trial's 3D CSV (and its quality.json)."""
    from posekit.triangulation.export import read_anipose_csv

    data = read_anipose_csv(pose_3d_path(trial))
    valid = np.isfinite(data.points).all(axis=-1)
    errors = np.where(valid, data.errors, np.nan)
    ncams = np.where(valid, data.ncams, 0).astype(np.int64)
    quality_file = pose_3d_quality_path(trial)
    per_kp: dict[str, Any] = {}
    fps = None
    if quality_file.is_file():
        try:
            record = json.loads(quality_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PosekitError(f"{quality_file}: cannot read it ({exc}); rerun "
                               "`posekit triangulate --overwrite`") from None
        per_kp = dict(record.get("keypoints") or {})
        fps = record.get("fps")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # keypoints never triangulated
        med = np.nanmedian(errors, axis=0) if len(errors) else np.full(len(data.keypoints),
                                                                          np.nan)
    rows = []
    for j, kp in enumerate(data.keypoints):
        info = per_kp.get(kp) or {
            "median_error_px": None if np.isnan(med[j]) else float(med[j]),
            "mean_cameras": float(ncams[:, j].mean()) if len(ncams) else 0.0,
            "valid_share": float(valid[:, j].mean()) if len(valid) else 0.0}
        rows.append({"keypoint": kp, **{k: info.get(k) for k in QUALITY_SUMMARY_COLUMNS[3:]}})
    summary = pd.DataFrame(rows, columns=QUALITY_SUMMARY_COLUMNS[2:])
    for col in QUALITY_SUMMARY_COLUMNS[3:]:
        summary[col] = pd.to_numeric(summary[col], errors="coerce").astype(np.float64)
    if not fps:
        from posekit.angles.step import trial_fps

        try:
            fps = trial_fps(trial)[0]
        except PosekitError:
            fps = float("nan")
    n, k = valid.shape
    long = pd.DataFrame({
        "frame": np.repeat(data.fnum, k), "time": np.repeat(data.fnum / float(fps), k),
        "keypoint": np.tile(np.asarray(data.keypoints, dtype=object), n),
        "error_px": errors.reshape(-1), "ncams": ncams.reshape(-1)})
    for frame in (summary, long):
        frame.insert(0, "trial", trial.name)
        frame.insert(0, "session", session_label(trial))
    return summary, long[QUALITY_LONG_COLUMNS]


def trial_row(trial: Trial, frames: int) -> dict[str, Any]:
    """The ``trials`` table's row of a trial with 3D (``frames``: its 3D frames)."""
    from posekit.report.data import detections, read_json, read_toml, trial_warnings
    from posekit.sync.step import LOW_CONFIDENCE

    quality = read_json(pose_3d_quality_path(trial))
    record = read_toml(sync_path(trial))
    reference = record.get("reference")
    others = {c: float(v) for c, v in record.get("confidence", {}).items() if c != reference}
    return {
        "session": session_label(trial), "trial": trial.name,
        "cameras": len(quality.get("cameras") or trial.cameras), "frames": frames,
        "median_error_px": quality.get("median_error_px"),
        "valid_share": quality.get("valid_share"),
        "sync_method": record.get("method"),
        "sync_min_confidence": min(others.values()) if others else None,
        "sync_low_confidence": " ".join(c for c, v in others.items()
                                        if v < LOW_CONFIDENCE) or None,
        "warnings": len(trial_warnings(trial, quality, detections(trial))),
    }


def _write_table(table: pd.DataFrame, folder: Path, name: str) -> list[Path]:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise PosekitError(f"writing Parquet needs a working pyarrow ({exc}); install it "
                           "with `pip install 'pyarrow<26'` (26 needs NumPy 2)") from None
    csv, parquet = folder / f"{name}.csv", folder / f"{name}.parquet"
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False, lineterminator="\n")
    with atomic_path(parquet) as tmp:
        table.to_parquet(tmp, index=False, engine="pyarrow")
    return [csv, parquet]


def _trials_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    table = pd.DataFrame(list(rows), columns=TRIAL_COLUMNS)
    for col in ("median_error_px", "valid_share", "sync_min_confidence"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype(np.float64)
    for col in ("cameras", "frames", "warnings"):
        table[col] = table[col].astype(np.int64)
    for col in ("sync_method", "sync_low_confidence"):
        table[col] = table[col].astype(object)
    return table


def _concat(parts: Sequence[pd.DataFrame], columns: Sequence[str]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=list(columns))
    return pd.concat(parts, ignore_index=True)[list(columns)]


def summarize(project: Project, session: str | None = None, trial: str | None = None,
              progress: bool = True) -> Summary:
    """Write the project's summary tables (module docstring) for the selected trials.

    Trials without a 3D file or angles are left out and listed in the result; a project
    where no trial has either is an error that says which step to run.
    """
    from posekit.project.runner import freshness
    from posekit.project.steps import STEPS

    trials = project.trials(session, trial)
    if not trials:
        raise PosekitError(f"{project.root}: no trials found (looked for videos in "
                           f"'{project.config.pipeline.videos_raw}' folders of sessions)")
    result = Summary(summaries_dir(project))
    angle_parts, q_parts, q_long_parts = [], [], []
    trial_rows: list[dict[str, Any]] = []
    for tr in tqdm(trials, desc="summarize", unit="trial",
                   disable=not progress or len(trials) < 2):
        has_angles, has_3d = angles_path(tr).is_file(), pose_3d_path(tr).is_file()
        if has_angles:
            angle_parts.append(angle_frame_table(tr))
            result.trials_with_angles.append(tr.key)
            if freshness(STEPS["angles"], tr) == "outdated":
                result.outdated.append(tr.key)
        if has_3d:
            summary, long = _quality_from_csv(tr)
            q_parts.append(summary)
            q_long_parts.append(long)
            trial_rows.append(trial_row(tr, int(long["frame"].nunique())))
            result.trials_with_3d.append(tr.key)
            if not has_angles:
                result.no_angles.append(tr.key)
        elif not has_angles:
            result.missing.append(tr.key)
    if not angle_parts and not q_parts:
        raise PosekitError(f"{project.root}: no trial has 3D keypoints or angles yet; run "
                           "`posekit triangulate` and `posekit angles` first")
    angles_long = _concat(angle_parts, ANGLE_LONG_COLUMNS)
    tables = {
        "angles_summary": angle_summary(angles_long),
        "angles_long": angles_long,
        "quality_summary": _concat(q_parts, QUALITY_SUMMARY_COLUMNS),
        "quality_long": _concat(q_long_parts, QUALITY_LONG_COLUMNS),
        "trials": _trials_table(trial_rows),
    }
    for name, table in tables.items():
        result.files += _write_table(table, result.folder, name)
        result.rows[name] = len(table)
    return result
