"""What the report and the labeled videos read from a trial's outputs.

Shapes follow the pipeline's: 3D points (n_frames, n_keypoints, 3) in the calibration's
units, NaN where missing; ``fnum`` (n_frames,) are reference-camera frame numbers.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from posekit.calibration.board import UNITS_PER_M
from posekit.config.schema import Config
from posekit.errors import PosekitError
from posekit.io.tomlfile import read_toml_file
from posekit.pose2d.detectors import smoothed_2d
from posekit.pose2d.table import read_pose2d, read_pose2d_header
from posekit.project.layout import Trial
from posekit.project.steps import (
    calibration_set,
    pose_2d_path,
    pose_3d_path,
    pose_3d_quality_path,
    sync_path,
)
from posekit.skeletons import SKELETONS, skeleton_from_config
from posekit.triangulation.export import Points3D, read_anipose_csv

FloatArray = NDArray[np.float64]
Bones = list[tuple[int, int]]


def bones_for(keypoints: Sequence[str], config: Config | None = None) -> Bones:
    """Index pairs of the bones to draw between ``keypoints``.

    Taken from the config's ``[labeling] scheme`` (each list is a chain of keypoints), else
    from the user-defined or built-in skeleton that has exactly these keypoints, else from
    the skeleton with the most bones among them. Bones naming an absent keypoint are
    dropped; no match gives no bones (points only).
    """
    index = {k: i for i, k in enumerate(keypoints)}
    pairs: list[tuple[str, str]] = []
    if config is not None and config.labeling.scheme:
        for chain in config.labeling.scheme:
            pairs += list(itertools.pairwise(chain))
    else:
        candidates = list(SKELETONS.values())
        if config is not None:
            candidates = [skeleton_from_config(spec, name=name)
                          for name, spec in config.skeletons.items()] + candidates
        exact = [s for s in candidates if list(s.keypoints) == list(keypoints)]
        if exact:
            pairs = list(exact[0].bones)
        else:
            scored = [[b for b in s.bones if b[0] in index and b[1] in index]
                      for s in candidates]
            pairs = max(scored, key=len, default=[])
    return [(index[a], index[b]) for a, b in pairs if a in index and b in index]


def truth_path(trial: Trial, kind: str = "points3d") -> Path:
    """``<project>/ground-truth/<session>/<trial>-<kind>.csv`` (synthetic projects)."""
    root = trial.session.project.root / "ground-truth"
    return root.joinpath(*trial.session.parts) / f"{trial.name}-{kind}.csv"


def read_truth_points(path: Path, keypoints: Sequence[str], fnum: NDArray[np.int64],
                      units: str) -> FloatArray | None:
    """Ground-truth points (n, k, 3) at the frames ``fnum``, converted from metres to
    ``units``; NaN for frames or keypoints the file lacks. None when no keypoint matches."""
    table = pd.read_csv(path)
    if "fnum" not in table.columns:
        raise PosekitError(f"{path}: no fnum column in the ground-truth file")
    scale = UNITS_PER_M.get(units, 1.0)
    out = np.full((len(fnum), len(keypoints), 3), np.nan)
    rows = pd.Series(np.arange(len(table)), index=table["fnum"].astype(int))
    where = rows.reindex(fnum).to_numpy()
    found = np.isfinite(where)
    matched = 0
    for j, kp in enumerate(keypoints):
        cols = [f"{kp}_{a}" for a in "xyz"]
        if all(c in table.columns for c in cols):
            matched += 1
            values = table[cols].to_numpy(dtype=np.float64) * scale
            out[found, j] = values[where[found].astype(int)]
    return out if matched else None


def rigid_fit(source: FloatArray, target: FloatArray) -> FloatArray:
    """``source`` (..., 3) moved by the rotation + translation that best fits it onto
    ``target`` (same shape) over the points finite in both (Kabsch). Ground truth and
    reconstruction live in different world frames; this puts them side by side."""
    a, b = source.reshape(-1, 3), target.reshape(-1, 3)
    ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
    if ok.sum() < 3:
        return source
    ca, cb = a[ok].mean(axis=0), b[ok].mean(axis=0)
    u, _, vt = np.linalg.svd((a[ok] - ca).T @ (b[ok] - cb))
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, 1.0, d]) @ vt
    out: FloatArray = (source - ca) @ rot + cb
    return out


@dataclass
class TrialResults:
    """A trial's 3D result, quality figures and (when present) ground truth."""

    trial: Trial
    data: Points3D
    quality: dict[str, Any]
    truth: FloatArray | None  # rigidly fitted onto ``data.points``

    @property
    def units(self) -> str:
        return str(self.quality.get("units", self.trial.config.calibration.units))

    @property
    def fps(self) -> float:
        return float(self.quality.get("fps") or 30.0)

    def truth_distances(self) -> FloatArray | None:
        """Distance of each point (frames, keypoints) to the ground truth, in ``units``
        (None without it)."""
        if self.truth is None:
            return None
        return np.asarray(np.linalg.norm(self.data.points - self.truth, axis=-1))

    def truth_error(self) -> float | None:
        """Mean per-joint distance to the ground truth, in ``units`` (None without it)."""
        err = self.truth_distances()
        if err is None:
            return None
        return float(np.nanmean(err)) if np.isfinite(err).any() else None


def load_results(trial: Trial) -> TrialResults:
    """Read a trial's pose-3d CSV, quality JSON and ground truth (errors name the file)."""
    csv, qpath = pose_3d_path(trial), pose_3d_quality_path(trial)
    if not csv.is_file():
        raise PosekitError(f"{csv} is missing; run `posekit triangulate` first")
    data = read_anipose_csv(csv)
    quality: dict[str, Any] = json.loads(qpath.read_text()) if qpath.is_file() else {}
    truth = None
    tpath = truth_path(trial)
    if tpath.is_file():
        units = str(quality.get("units", trial.config.calibration.units))
        raw = read_truth_points(tpath, data.keypoints, data.fnum, units)
        truth = None if raw is None else rigid_fit(raw, data.points)
    return TrialResults(trial, data, quality, truth)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML output's content, or {} when it is missing or unreadable (the report shows
    what it can)."""
    try:
        return read_toml_file(path)
    except (OSError, ValueError):
        return {}


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class CameraDetection:
    """What a camera's 2D file says about its detection."""

    camera: str
    file: str
    frames: int
    with_person: int
    source: str  # the detector and model, or the tool it was imported from


def detections(trial: Trial) -> list[CameraDetection]:
    """Per camera with a 2D file: frames, frames with the person, and where the 2D came
    from (files that cannot be read are left out; the steps report those)."""
    out = []
    for cam in trial.cameras:
        path = pose_2d_path(trial, cam)
        frames, meta = read_pose2d_header(path) or (0, {})
        scorer = ""
        if "frames_with_person" in meta and (meta.get("model") or meta.get("detector")):
            with_person = int(meta["frames_with_person"])  # posekit's own count: no read
        else:
            try:
                pose = read_pose2d(path)
            except (OSError, PosekitError):
                continue
            frames, with_person = pose.n_frames, int(pose.detected().sum())
            meta, scorer = pose.metadata, pose.scorer
        source = str(meta.get("model") or meta.get("detector") or scorer or "–")
        out.append(CameraDetection(cam, path.name, frames, with_person, source))
    return out


def trial_warnings(trial: Trial, quality: Mapping[str, Any],
                   found: Sequence[CameraDetection] = ()) -> list[tuple[str, str]]:
    """(step, message) of every warning the trial's steps left in their outputs: a 2D file
    without the person (``found``: :func:`detections`), 2D detected with MediaPipe's
    landmark smoothing while the trial's config has it off (:func:`smoothed_2d`; e.g. by
    an older posekit, which upgrading does not redo), the calibration report, the sync
    file and the 3D quality file (``quality``, its content)."""
    out: list[tuple[str, str]] = [
        ("detect", f"{d.camera}: no person found in any of the {d.frames} frames of "
                   f"{d.file}; check that the person is in this camera's view")
        for d in found if d.with_person == 0]
    if not trial.config.detection.smooth_landmarks:
        out += [("detect", f"{d.camera}: {d.file} was detected with MediaPipe's landmark "
                           "smoothing on, which makes the keypoints trail the joints by about "
                           "a quarter of a frame, while [detection] smooth_landmarks is now "
                           "false (2D from a posekit older than 2026-12-07 was always "
                           "smoothed); run `posekit detect --overwrite` for this trial to "
                           "detect it again without")
                for d in found if smoothed_2d(d.source)]
    cs = calibration_set(trial)
    if cs is not None:
        report = read_json(cs.output.with_name("calibration_report.json"))
        out += [("calibrate", str(w)) for w in report.get("warnings", [])]
    out += [("sync", str(w)) for w in read_toml(sync_path(trial)).get("warnings", [])]
    out += [("triangulate", str(w)) for w in quality.get("warnings", [])]
    return out
