"""The ``angles`` pipeline step: ``pose-3d/<trial>.csv`` → ``angles/<trial>.csv`` + plot.

The CSV has one column per angle (in the order of ``[angles]``; a chain gives several),
then ``fnum`` (the 3D file's frame numbers) and ``time`` (``fnum / fps``, seconds), as
Anipose's angle files plus the time. Beside it: ``<trial>.png`` (the series over time) and
``<trial>.angles.json`` (what was computed: definitions, conventions, filter, fps).

Angles are computed on the 3D as the triangulate step wrote it (filtered when
``[filter3d]`` is on). NaN in → NaN out. ``[angles_filter]`` low-passes the angle series.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posekit.angles.compute import FloatArray, compute_angles, lowpass_angles
from posekit.angles.definitions import AngleDefinition, angles_for
from posekit.config.schema import Config
from posekit.errors import ConfigError, PosekitError
from posekit.io.atomic import atomic_path, write_figure_atomic, write_text_atomic
from posekit.project.layout import Trial
from posekit.project.steps import (
    all_or_nothing,
    angles_path,
    no_person_error,
    pose_2d_path,
    pose_3d_path,
    pose_3d_quality_path,
)
from posekit.triangulation.export import read_anipose_csv

log = logging.getLogger(__name__)


def trial_fps(trial: Trial) -> tuple[float, str]:
    """A trial's frame rate and where it came from: the triangulation's quality file,
    else the 2D files' metadata, else the first video."""
    quality = pose_3d_quality_path(trial)
    if quality.is_file():
        try:
            fps = json.loads(quality.read_text(encoding="utf-8")).get("fps")
        except (OSError, ValueError) as exc:
            raise PosekitError(f"{quality}: cannot read it ({exc}); rerun "
                               "`posekit triangulate --overwrite`") from None
        if fps:
            return float(fps), trial.session.project.relative(quality)
    from posekit.pose2d.table import read_pose2d

    for cam in trial.cameras:
        path = pose_2d_path(trial, cam)
        if path.is_file():
            fps = read_pose2d(path).metadata.get("fps")
            if fps:
                return float(fps), trial.session.project.relative(path)
    from posekit.io.video import probe_video

    video = next(iter(trial.videos.values()))
    try:
        fps = probe_video(video).fps
    except PosekitError:
        fps = 0.0
    if fps and fps > 0:
        return float(fps), trial.session.project.relative(video)
    raise PosekitError(f"{trial.key}: no frame rate found (not in {quality.name}, the 2D "
                       f"files' metadata or {video.name}); rerun `posekit triangulate`")


def config_sources(trial: Trial) -> str:
    """The config files of a trial, for error messages."""
    return ", ".join(str(p) for p in trial.config_files) or "config.toml"


def angle_table(columns: Mapping[str, FloatArray], fnum: Sequence[int] | np.ndarray,
                fps: float) -> pd.DataFrame:
    """The angles CSV's table: angle columns, ``fnum``, ``time`` (s)."""
    frames = np.asarray(fnum, dtype=np.int64)
    data: dict[str, Any] = dict(columns)
    data["fnum"] = frames
    data["time"] = frames / float(fps)
    return pd.DataFrame(data)


def filter_angles(cfg: Config, columns: dict[str, FloatArray],
                  definitions: Sequence[AngleDefinition], fps: float,
                  source: str = "") -> dict[str, FloatArray]:
    """``[angles_filter]`` applied to the angle columns (unchanged when disabled)."""
    fc = cfg.angles_filter
    if not fc.enabled or not columns:
        return columns
    if not fc.cutoff_hz < fps / 2:
        raise ConfigError(f"{source}: [angles_filter] cutoff_hz = {fc.cutoff_hz:g} Hz must be "
                          f"below half the frame rate ({fps:g} fps → {fps / 2:g} Hz); "
                          "lower it")
    circular = {col: d.wraps for d in definitions for col in d.columns}
    return lowpass_angles(columns, circular, fps, fc.cutoff_hz, fc.order)


def _panels(names: Sequence[str]) -> dict[str, list[str]]:
    """Angle columns grouped into plot panels: ``left_x`` and ``right_x`` share one."""
    panels: dict[str, list[str]] = {}
    for name in names:
        side, _, rest = name.partition("_")
        key = rest if side in ("left", "right") and rest else name
        panels.setdefault(key, []).append(name)
    return panels


def plot_angles(path: Path, table: pd.DataFrame, title: str) -> None:
    """PNG of every angle column over time: one small panel per angle, left and right
    sides of a joint together."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    panels = _panels([c for c in table.columns if c not in ("fnum", "time")])
    n_cols = 2 if len(panels) > 1 else 1
    n_rows = max(1, -(-len(panels) // n_cols))
    height = 1.9 * n_rows + 0.8
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(6 * n_cols, height), sharex=True,
                             squeeze=False)
    for ax, (panel, names) in zip(axes.ravel(), panels.items(), strict=False):
        for name in names:
            color = "C1" if name.startswith("right_") else "C0"
            ax.plot(table["time"], table[name], lw=1, color=color)
        ax.set_title(panel if len(names) > 1 else names[0], fontsize=9, loc="left")
        ax.set_ylabel("deg", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("time (s)", fontsize=8)
    fig.suptitle(title, fontsize=10, y=1 - 0.12 / height)
    if any(len(names) > 1 for names in panels.values()):
        fig.legend(handles=[Line2D([], [], color="C0"), Line2D([], [], color="C1")],
                   labels=["left", "right"], loc="upper right", ncols=2, fontsize=8,
                   frameon=False)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.6 / height, top=1 - 0.55 / height,
                        hspace=0.45, wspace=0.15)
    write_figure_atomic(fig, path, dpi=90)


def _missing_3d(trial: Trial, src: Path) -> PosekitError:
    """The error for a trial without 3D: says when that is because no camera saw the
    person."""
    from posekit.pose2d.table import read_pose2d

    cams = trial.cameras
    paths = [pose_2d_path(trial, cam) for cam in cams]
    if paths and all(p.is_file() for p in paths):
        try:
            empty = not any(read_pose2d(p).detected().any() for p in paths)
        except PosekitError:
            empty = False
        if empty:
            return PosekitError(f"{src} is missing because {no_person_error(trial, cams)}")
    return PosekitError(f"{src} is missing; run `posekit triangulate` first")


def _empty_columns(trial: Trial, src: Path, columns: Mapping[str, FloatArray]) -> list[str]:
    """Angle columns without a single value; an error when every column is empty."""
    empty = [c for c, v in columns.items() if not np.isfinite(v).any()]
    if columns and len(empty) == len(columns):
        raise PosekitError(
            f"{trial.key}: no angle could be computed: the keypoints the angles need are "
            f"empty in every frame of {src}; look at the triangulation's quality file "
            f"({pose_3d_quality_path(trial).name}) and its warnings, then run `posekit "
            "triangulate --overwrite` once the 2D or calibration is fixed")
    if empty:
        log.warning("%s: angles %s are empty in every frame (their keypoints were never "
                    "reconstructed in %s); see valid_share in the angles' .json file",
                    trial.key, ", ".join(empty), src.name)
    return empty


def run(trial: Trial, overwrite: bool = False) -> Path:
    """Compute one trial's angles (module docstring).

    Errors, with nothing written: no 3D file (saying so when no camera saw the person),
    a 3D file without a single point, no angle with a value. Angle columns that are
    empty in every frame are logged as a warning and listed in the ``.json`` file."""
    del overwrite  # the runner decides what to redo
    cfg = trial.config
    source = config_sources(trial)
    src = pose_3d_path(trial)
    if not src.is_file():
        raise _missing_3d(trial, src)
    data = read_anipose_csv(src)
    if not np.isfinite(data.points).all(axis=-1).any():
        raise PosekitError(
            f"{src}: no 3D point in any frame (every x, y, z is empty), so there are no "
            "angles to compute; rerun `posekit triangulate --overwrite` and read its "
            "messages (a trial where no camera saw the person has no 3D)")
    definitions, skipped = angles_for(cfg, data.keypoints, source,
                                      config_files=trial.config_files)
    if skipped:
        log.warning("%s: default angles %s skipped: the 3D data has no %s; define [angles] "
                    "for your keypoints in config.toml", trial.key,
                    ", ".join(d.name for d in skipped),
                    ", ".join(sorted({k for d in skipped for k in d.keypoints
                                      if k not in data.keypoints})))
    if not definitions:
        raise PosekitError(f"{trial.key}: no angle to compute: [angles] defines none that "
                           f"the 3D keypoints ({', '.join(data.keypoints[:6])}...) allow; "
                           f"define [angles] in {source}")
    fps, fps_source = trial_fps(trial)
    columns = compute_angles(data.points, data.keypoints, definitions)
    empty = _empty_columns(trial, src, columns)
    columns = filter_angles(cfg, columns, definitions, fps, source)
    table = angle_table(columns, data.fnum, fps)
    out = angles_path(trial)
    record = {
        "source": trial.session.project.relative(src), "fps": fps, "fps_source": fps_source,
        "frames": len(table),
        "angles": {d.name: {"kind": d.kind, "keypoints": list(d.keypoints),
                            "convention": d.convention, "columns": d.columns}
                   for d in definitions},
        "skipped_defaults": [d.name for d in skipped],
        "filter": cfg.angles_filter.model_dump() if cfg.angles_filter.enabled else None,
        "valid_share": {c: round(float(np.isfinite(v).mean()), 4) if len(v) else 0.0
                        for c, v in columns.items()},
        "empty_angles": empty,
    }
    with all_or_nothing() as written:
        written.append(write_text_atomic(out.with_name(f"{trial.name}.angles.json"),
                                         json.dumps(record, indent=1)))
        written.append(out.with_suffix(".png"))
        plot_angles(out.with_suffix(".png"), table, trial.key)
        # the CSV is the declared output: written last, so a complete CSV means all is
        # written
        with atomic_path(out) as tmp:
            table.to_csv(tmp, index=False, lineterminator="\n")
    return out
