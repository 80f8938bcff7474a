"""Import 2D keypoints made by other tools into :class:`~posekit.pose2d.table.Pose2D`.

* **OpenPose JSON** (:func:`import_openpose`): a folder with one JSON file per frame
  (``<video>_000000000012_keypoints.json``, or any ``*.json`` whose name ends in the frame
  number), each ``{"people": [{"pose_keypoints_2d": [x, y, c, x, y, c, ...]}, ...]}``. Besides
  OpenPose, AlphaPose (``--format open``), Pose2Sim's RTMPose/RTMLib step and many YOLO pose
  exporters write this format; choose the skeleton that matches the model.
* **SLEAP analysis HDF5** (:func:`import_sleap`): ``File > Export Analysis HDF5`` or
  ``sleap-convert --format analysis``; one track is imported.
* **DeepLabCut** ``.h5``/``.csv`` (:func:`import_dlc`): read as is.

:func:`import_2d` picks the importer from the path. Every problem is a
:class:`~posekit.errors.PosekitError` that names the file (and the frame file) at fault.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posekit.errors import PosekitError
from posekit.pose2d.table import FloatArray, Pose2D, read_pose2d
from posekit.skeletons import SKELETONS, Skeleton, get_skeleton

log = logging.getLogger(__name__)

FORMATS = ("auto", "openpose", "sleap", "dlc")
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")
_KEYPOINTS_SUFFIX = "_keypoints.json"
_H5_SUFFIXES = (".h5", ".hdf5")
# What h5py raises on damaged files besides OSError (KeyError for objects it cannot open).
_H5_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError)
# What pandas / PyTables raise on a table that is not a DeepLabCut table or is damaged
# (PyTables' NoSuchNodeError is an AttributeError, HDF5ExtError a RuntimeError; a damaged
# group can surface as SystemError).
_DLC_READ_ERRORS = (ValueError, TypeError, KeyError, AttributeError, IndexError,
                    RuntimeError, SystemError)
# Frame numbers spanning more rows than this many times the number of files (and more than
# _MAX_GAP_ROWS rows) are not frame numbers (timestamps?): refuse rather than fill gaps.
_MAX_GAP_FACTOR = 10
_MAX_GAP_ROWS = 100_000


# --------------------------------------------------------------------------------------------
# OpenPose JSON folders


def _resolve_skeleton(skeleton: str | Skeleton) -> Skeleton:
    return skeleton if isinstance(skeleton, Skeleton) else get_skeleton(skeleton)


def openpose_frame_files(folder: str | os.PathLike[str]) -> list[tuple[int, Path]]:
    """``(frame number, file)`` of an OpenPose JSON folder, in frame order.

    Files named ``*_keypoints.json`` are used when there are any (other JSON files beside
    them are ignored), otherwise every ``*.json``. The frame number is the last number in the
    file name (``cam01.0012.json`` → 12, ``walk_000000000012_keypoints.json`` → 12).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PosekitError(f"{folder}: not a folder (OpenPose writes one JSON file per frame "
                           "into a folder; give that folder)")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".json" and p.is_file())
    keyed = [p for p in files if p.name.lower().endswith(_KEYPOINTS_SUFFIX)]
    if keyed:
        files = keyed
    if not files:
        raise PosekitError(f"{folder}: no OpenPose JSON files (*_keypoints.json or *.json) "
                           "in this folder")
    numbered: list[tuple[int, Path]] = []
    for path in files:
        stem = path.name[: -len(_KEYPOINTS_SUFFIX)] if keyed else path.stem
        match = _LAST_NUMBER.search(stem)
        if match is None:
            raise PosekitError(f"{path}: no frame number in the file name (expected e.g. "
                               "video_000000000012_keypoints.json or cam01.0012.json)")
        numbered.append((int(match.group(1)), path))
    numbered.sort(key=lambda item: (item[0], item[1].name))
    for (n1, p1), (n2, p2) in itertools.pairwise(numbered):
        if n1 == n2:
            raise PosekitError(f"{folder}: {p1.name} and {p2.name} are both frame {n1}; keep "
                               "the JSON files of one video per folder")
    return numbered


def _skeletons_with(n_keypoints: int) -> str:
    names = [name for name, s in SKELETONS.items() if len(s) == n_keypoints]
    if not names:
        return ""
    return f"; skeletons with {n_keypoints} keypoints: {', '.join(names)}"


def read_openpose_frame(path: Path, skeleton: Skeleton) -> list[FloatArray]:
    """The people of one OpenPose JSON file, each an ``(n_keypoints, 3)`` array of x, y,
    confidence with missing points (confidence 0, or x = y = 0) as NaN, NaN, 0. People
    without any keypoint are left out."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PosekitError(f"{path}: cannot read this file ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PosekitError(f"{path}: not valid JSON ({exc})") from None
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list):
        raise PosekitError(f"{path}: no 'people' list; not an OpenPose keypoints file")
    n_kp = len(skeleton)
    out: list[FloatArray] = []
    for i, person in enumerate(people):
        flat = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if flat is None:
            raise PosekitError(f"{path}: people[{i}] has no pose_keypoints_2d list")
        if isinstance(flat, list) and not flat:
            continue  # body not estimated (face or hands only)
        try:
            values = np.asarray(flat, dtype=np.float64)
        except (TypeError, ValueError):
            raise PosekitError(f"{path}: people[{i}].pose_keypoints_2d holds values that are "
                               "not numbers") from None
        if values.ndim != 1 or values.size % 3:
            raise PosekitError(f"{path}: people[{i}].pose_keypoints_2d is not a flat list of "
                               f"x, y, confidence triplets ({values.size} values)")
        if values.size // 3 != n_kp:
            raise PosekitError(
                f"{path}: people[{i}] has {values.size // 3} keypoints but the "
                f"{skeleton.name} skeleton has {n_kp}; choose the skeleton of the model that "
                f"made these files{_skeletons_with(values.size // 3)}"
            )
        pts = values.reshape(n_kp, 3)
        xy, conf = pts[:, :2], pts[:, 2]
        missing = (~np.isfinite(xy).all(axis=1) | ~np.isfinite(conf) | (conf <= 0)
                   | ((xy[:, 0] == 0) & (xy[:, 1] == 0)))
        pts[missing] = (np.nan, np.nan, 0.0)
        pts[:, 2] = np.clip(pts[:, 2], 0.0, 1.0)
        if not missing.all():
            out.append(pts)
    return out


def _closest(people: Sequence[FloatArray], previous: FloatArray) -> int:
    """Index of the person closest to ``previous``: mean distance over the keypoints both
    have, or between the centroids of their keypoints when they share none."""
    prev_ok = previous[:, 2] > 0
    best, best_d = 0, np.inf
    for i, person in enumerate(people):
        ok = person[:, 2] > 0
        common = ok & prev_ok
        if common.any():
            d = float(np.linalg.norm(person[common, :2] - previous[common, :2], axis=1).mean())
        else:
            d = float(np.linalg.norm(person[ok, :2].mean(axis=0)
                                     - previous[prev_ok, :2].mean(axis=0)))
        if d < best_d:
            best, best_d = i, d
    return best


def _pick_person(people: Sequence[FloatArray], previous: FloatArray | None,
                 person: str | int) -> FloatArray | None:
    if isinstance(person, int):
        return people[person] if person < len(people) else None
    if not people:
        return None
    if previous is None:
        totals = [float(p[:, 2].sum()) for p in people]
        return people[int(np.argmax(totals))]  # first of equals
    return people[_closest(people, previous)]


# A skeleton's neck / mid_hip lie about midway between its shoulders / hips. Used to catch a
# wrong skeleton: BODY_25B files read as BODY_25 have the right count, not these relations.
_MIDPOINT_TOLERANCE = 0.5  # offset from the midpoint, in torso lengths
_MIDPOINT_MIN_FRAMES = 10


def skeleton_mismatch(pose: Pose2D) -> float | None:
    """How far the ``neck`` / ``mid_hip`` keypoints are from the middle of the shoulders /
    hips, in torso lengths: the larger of the two medians over frames (about 0.1 for a right
    skeleton, near 1 for a wrong keypoint order). None when the skeleton has neither, or too
    few frames show them."""
    index = {k: i for i, k in enumerate(pose.keypoints)}
    if not {"left_shoulder", "right_shoulder", "left_hip", "right_hip"} <= set(index):
        return None
    shoulders = (pose.xy[:, index["left_shoulder"]] + pose.xy[:, index["right_shoulder"]]) / 2
    hips = (pose.xy[:, index["left_hip"]] + pose.xy[:, index["right_hip"]]) / 2
    torso = np.linalg.norm(shoulders - hips, axis=1)
    torso[~(torso > 0)] = np.nan
    worst: float | None = None
    for mid, centre in (("neck", shoulders), ("mid_hip", hips)):
        if mid not in index:
            continue
        offset = np.linalg.norm(pose.xy[:, index[mid]] - centre, axis=1) / torso
        offset = offset[np.isfinite(offset)]
        if len(offset) >= _MIDPOINT_MIN_FRAMES:
            worst = max(worst or 0.0, float(np.median(offset)))
    return worst


def import_openpose(folder: str | os.PathLike[str], skeleton: str | Skeleton = "body25",
                    person: str | int = "best") -> Pose2D:
    """Read an OpenPose JSON folder (one file per frame) into a :class:`Pose2D`.

    Row ``i`` is the frame whose file-name number is the first number plus ``i``: frames
    without people and frame numbers with no file are NaN rows (likelihood 0), never dropped.
    Keypoints with confidence 0 or at (0, 0) are missing. ``skeleton`` names the model's
    keypoints (``body25``, ``body25b``, ``coco17``, ``halpe26`` ... or a :class:`Skeleton`).

    ``person="best"`` follows one person: in the first frame with people, the one with the
    highest total confidence; in each later frame, the one closest to the previous pick.
    An integer takes ``people[person]`` of every frame (OpenPose's own order; entries with no
    body keypoint are not counted).
    """
    folder = Path(folder)
    skel = _resolve_skeleton(skeleton)
    if not (person == "best" or (isinstance(person, int) and person >= 0)):
        raise PosekitError(f"person must be 'best' or a person index >= 0 (got {person!r})")
    files = openpose_frame_files(folder)
    first, last = files[0][0], files[-1][0]
    n_rows = last - first + 1
    if n_rows > max(_MAX_GAP_FACTOR * len(files), _MAX_GAP_ROWS):
        raise PosekitError(f"{folder}: the numbers in the file names run from {first} to "
                           f"{last} but there are only {len(files)} files; they do not look "
                           "like frame numbers")
    n_kp = len(skel)
    xy = np.full((n_rows, n_kp, 2), np.nan)
    like = np.zeros((n_rows, n_kp))
    previous: FloatArray | None = None
    n_multi = 0
    for number, path in files:
        people = read_openpose_frame(path, skel)
        n_multi += len(people) > 1
        chosen = _pick_person(people, previous, person)
        if chosen is None:
            continue
        previous = chosen
        row = number - first
        xy[row] = chosen[:, :2]
        like[row] = chosen[:, 2]
    gaps = n_rows - len(files)
    if gaps:
        log.warning("%s: %d frame number(s) between %d and %d have no file; their rows are "
                    "empty", folder, gaps, first, last)
    metadata: dict[str, Any] = {
        "format": "openpose", "source": str(folder), "skeleton": skel.name,
        "person": str(person), "first_frame": first, "missing_frame_files": gaps,
        "frames_with_several_people": n_multi,
    }
    pose = Pose2D(skel.keypoints, xy, like, scorer="openpose", metadata=metadata)
    mismatch = skeleton_mismatch(pose)
    if mismatch is not None and mismatch > _MIDPOINT_TOLERANCE:
        others = [name for name, s in SKELETONS.items() if len(s) == n_kp and name != skel.name]
        log.warning("%s: these keypoints do not look like the %s skeleton (neck/mid-hip are "
                    "%.1f torso lengths from the middle of the shoulders/hips); check the "
                    "skeleton of the model that made them%s", folder, skel.name, mismatch,
                    f" (same count: {', '.join(others)})" if others else "")
        pose.metadata["skeleton_suspect"] = True
    return pose


# --------------------------------------------------------------------------------------------
# SLEAP analysis HDF5

_SLEAP_MATLAB = {  # SLEAP's analysis export, as h5py sees it
    "tracks": ["track", "xy", "node", "frame"],
    "point_scores": ["track", "node", "frame"],
    "instance_scores": ["track", "frame"],
}
_SLEAP_AS_IS = {key: dims[::-1] for key, dims in _SLEAP_MATLAB.items()}


def _text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        value = value.item() if value.shape == () else value.tolist()
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _dims(dataset: Any) -> list[str] | None:
    """The ``dims`` attribute sleap-io writes on each dataset (JSON list), if any."""
    raw = dataset.attrs.get("dims")
    if raw is None:
        return None
    try:
        dims = json.loads(_text(raw))
    except json.JSONDecodeError:
        return None
    return [str(d) for d in dims] if isinstance(dims, list) else None


def _h5_has_tracks(path: Path) -> bool:
    """Whether an HDF5 file has a top-level ``tracks`` dataset (a SLEAP analysis file)."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is installed with posekit's dev tools
        import tables

        try:
            with tables.open_file(str(path), mode="r") as h5:
                return "/tracks" in h5
        except (OSError, tables.HDF5ExtError) as exc:
            raise PosekitError(f"{path}: cannot read this HDF5 file ({exc})") from None
    try:
        with h5py.File(path, "r") as h5:
            return isinstance(h5.get("tracks"), h5py.Dataset)
    except _H5_ERRORS as exc:
        raise PosekitError(f"{path}: cannot read this HDF5 file ({exc})") from None


def import_sleap(h5_path: str | os.PathLike[str], track: int | str = 0) -> Pose2D:
    """Read one track of a SLEAP analysis HDF5 file into a :class:`Pose2D`.

    ``tracks`` is (n_tracks, 2, n_nodes, n_frames) as SLEAP exports it (other axis orders
    are read from sleap-io's ``dims`` attributes, or SLEAP's untransposed order); NaN =
    missing. Likelihoods are ``point_scores``, else ``instance_scores``, else 1 for every
    found point; a found point whose score is NaN (a user-labelled point) gets 1.
    ``track`` is an index or a name from ``track_names``.
    """
    path = Path(h5_path)
    if not path.is_file():
        raise PosekitError(f"{path}: SLEAP analysis file not found")
    try:
        import h5py
    except ImportError:  # pragma: no cover
        raise PosekitError(f"{path}: reading SLEAP files needs h5py (pip install h5py)"
                           ) from None
    try:
        with h5py.File(path, "r") as h5:
            ds = h5.get("tracks")
            if not isinstance(ds, h5py.Dataset):
                raise PosekitError(f"{path}: no 'tracks' dataset; not a SLEAP analysis file "
                                   "(export one with File > Export Analysis HDF5)")
            tracks = np.asarray(ds[()], dtype=np.float64)
            tracks_dims = _dims(ds)
            if "node_names" not in h5:
                raise PosekitError(f"{path}: no 'node_names' dataset; not a SLEAP analysis "
                                   "file")
            nodes = [_text(n) for n in np.asarray(h5["node_names"][()]).ravel()]
            names = ([_text(n) for n in np.asarray(h5["track_names"][()]).ravel()]
                     if "track_names" in h5 else [])
            scores: dict[str, tuple[FloatArray, list[str] | None]] = {}
            for key in ("point_scores", "instance_scores"):
                if isinstance(h5.get(key), h5py.Dataset):
                    scores[key] = (np.asarray(h5[key][()], dtype=np.float64), _dims(h5[key]))
            video = _text(h5["video_path"][()]) if "video_path" in h5 else ""
    except (OSError, KeyError, RuntimeError) as exc:  # h5py: KeyError for damaged objects
        raise PosekitError(f"{path}: cannot read this HDF5 file ({exc})") from None
    except (TypeError, ValueError) as exc:
        raise PosekitError(f"{path}: a dataset of this SLEAP file is not numeric ({exc})"
                           ) from None

    n_nodes = len(nodes)
    if tracks.ndim != 4:
        raise PosekitError(f"{path}: 'tracks' has shape {tracks.shape}; a SLEAP analysis file "
                           "has (n_tracks, 2, n_nodes, n_frames)")
    layout = _SLEAP_MATLAB
    if tracks_dims is None and tracks.shape[1:3] != (2, n_nodes) \
            and tracks.shape[1:3] == (n_nodes, 2):
        layout = _SLEAP_AS_IS
    dims = tracks_dims or layout["tracks"]
    if sorted(dims) != sorted(_SLEAP_MATLAB["tracks"]):
        raise PosekitError(f"{path}: 'tracks' has dims {dims}; expected track, xy, node, frame")
    tracks = tracks.transpose([dims.index(d) for d in ("track", "frame", "node", "xy")])
    n_tracks, n_frames = tracks.shape[:2]
    if tracks.shape[2:] != (n_nodes, 2):
        raise PosekitError(f"{path}: 'tracks' has shape {tracks.shape} (track, frame, node, xy) "
                           f"but node_names lists {n_nodes} nodes")
    if n_tracks == 0:
        raise PosekitError(f"{path}: this SLEAP file has no tracks")
    if isinstance(track, str):
        if track not in names:
            raise PosekitError(f"{path}: no track {track!r} (tracks: {', '.join(names)})")
        index = names.index(track)
        if index >= n_tracks:
            raise PosekitError(f"{path}: track_names lists {len(names)} tracks but 'tracks' "
                               f"holds {n_tracks}; the file is inconsistent, export it again")
    else:
        index = int(track)
        if not 0 <= index < n_tracks:
            listed = f" ({', '.join(names)})" if names else ""
            raise PosekitError(f"{path}: track {index} does not exist; this file has "
                               f"{n_tracks} track(s), numbered from 0{listed}")
    xy = tracks[index]
    found = np.isfinite(xy).all(axis=-1)
    like = np.ones((n_frames, n_nodes))
    source = "none"
    for key in ("point_scores", "instance_scores"):
        if key not in scores:
            continue
        arr, sdims = scores[key]
        sdims = sdims or layout[key]
        wanted = ("track", "frame", "node") if key == "point_scores" else ("track", "frame")
        if sorted(sdims) != sorted(wanted) or arr.ndim != len(wanted):
            raise PosekitError(f"{path}: '{key}' has shape {arr.shape} and dims {sdims}; "
                               f"expected {', '.join(wanted)}")
        arr = arr.transpose([sdims.index(d) for d in wanted])
        if arr.shape[:2] != (n_tracks, n_frames) or (arr.ndim == 3 and arr.shape[2] != n_nodes):
            raise PosekitError(f"{path}: '{key}' has shape {arr.shape} (as {', '.join(wanted)}), "
                               f"which does not match 'tracks' ({n_tracks} tracks, {n_frames} "
                               f"frames, {n_nodes} nodes)")
        score = arr[index] if arr.ndim == 3 else np.repeat(arr[index][:, None], n_nodes, 1)
        like = np.where(np.isfinite(score), np.clip(score, 0.0, 1.0), 1.0)
        source = key
        break
    like = np.where(found, like, 0.0)
    track_name = names[index] if index < len(names) else str(index)
    metadata: dict[str, Any] = {"format": "sleap", "source": str(path), "track": track_name,
                                "video": video, "likelihood": source}
    return Pose2D(tuple(nodes), xy, like, scorer="sleap", metadata=metadata)


# --------------------------------------------------------------------------------------------
# DeepLabCut and dispatch


def _check_h5_names(path: Path) -> None:
    """Refuse an HDF5 file whose object or attribute names are not UTF-8 text: such damage
    crashes PyTables (a segmentation fault), so it is caught with h5py first."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - h5py is a dependency
        return
    bad: list[str] = []

    def visit(name: Any, obj: Any) -> None:
        if not isinstance(name, str) or any(not isinstance(k, str) for k in obj.attrs):
            bad.append(str(name))

    try:
        with h5py.File(path, "r") as h5:
            visit("/", h5)
            h5.visititems(visit)
    except _H5_ERRORS as exc:
        raise PosekitError(f"{path}: cannot read this HDF5 file ({exc})") from None
    if bad:
        raise PosekitError(f"{path}: this HDF5 file is damaged (names that are not text in "
                           f"{', '.join(bad[:3])}); export the 2D keypoints again")


def import_dlc(path: str | os.PathLike[str]) -> Pose2D:
    """Read a DeepLabCut ``.h5`` or ``.csv`` file (:func:`~posekit.pose2d.table.read_pose2d`;
    multi-animal files: the first individual).

    Likelihoods are clipped to [0, 1] as the other importers do. A file that is not a
    DeepLabCut table, or is damaged, is a :class:`PosekitError` naming it.
    """
    path = Path(path)
    if path.suffix.lower() in _H5_SUFFIXES and path.is_file():
        _check_h5_names(path)
    try:
        pose = read_pose2d(path)
    except _DLC_READ_ERRORS as exc:
        raise PosekitError(f"{path}: not a readable DeepLabCut table ({type(exc).__name__}: "
                           f"{exc}); expected columns scorer / bodyparts / coords (x, y, "
                           "likelihood) and numbers in every row") from None
    if pose.frame_times is not None and len(pose.frame_times) != pose.n_frames:
        raise PosekitError(f"{path}: its frame_times attribute has {len(pose.frame_times)} "
                           f"values for {pose.n_frames} frames; the file was altered, write "
                           "it again")
    pose.likelihood = np.clip(pose.likelihood, 0.0, 1.0)
    return pose


def detect_format(path: str | os.PathLike[str]) -> str:
    """``openpose`` (a folder), ``sleap`` (an HDF5 file with a ``tracks`` dataset) or
    ``dlc`` (any other ``.h5``, or ``.csv``)."""
    path = Path(path)
    if path.is_dir():
        return "openpose"
    if not path.exists():
        raise PosekitError(f"{path}: not found")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "dlc"
    if suffix in _H5_SUFFIXES:
        return "sleap" if _h5_has_tracks(path) else "dlc"
    if suffix == ".json":
        raise PosekitError(f"{path}: OpenPose JSON is read per folder; give the folder that "
                           f"holds the frame files ({path.parent})")
    raise PosekitError(f"{path}: cannot tell the format (expected an OpenPose JSON folder, a "
                       "SLEAP analysis .h5 or a DeepLabCut .h5/.csv)")


def _names(names: Sequence[str], limit: int = 8) -> str:
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit - 2])}, ... ({len(names)} in all)"


def _conform(pose: Pose2D, skeleton: Skeleton, source: Path) -> Pose2D:
    """Keep and order the keypoints of ``skeleton`` (all must be in the file)."""
    if pose.keypoints == skeleton.keypoints:
        return pose
    lacking = [k for k in skeleton.keypoints if k not in pose.keypoints]
    if lacking:
        raise PosekitError(f"{source}: keypoint(s) {_names(lacking)} of the {skeleton.name} "
                           f"skeleton are not in this file (it has: {_names(pose.keypoints)})")
    order = [pose.keypoints.index(k) for k in skeleton.keypoints]
    return Pose2D(skeleton.keypoints, pose.xy[:, order], pose.likelihood[:, order],
                  scorer=pose.scorer, frame_times=pose.frame_times,
                  metadata={**pose.metadata, "skeleton": skeleton.name})


def import_2d(path: str | os.PathLike[str], format: str = "auto",
              skeleton: str | Skeleton | None = None, person: str | int = "best",
              track: int | str = 0) -> Pose2D:
    """Import 2D keypoints from ``path`` (an OpenPose JSON folder, a SLEAP analysis
    ``.h5``, a DeepLabCut ``.h5``/``.csv``); ``format="auto"`` tells them apart.

    OpenPose keypoints are named by ``skeleton`` (default ``body25``); SLEAP and DeepLabCut
    files keep their own names, or, with ``skeleton``, are reduced to and ordered as its
    keypoints (an error if the file lacks one).
    """
    path = Path(path)
    if format not in FORMATS:
        raise PosekitError(f"unknown 2D format {format!r} (formats: {', '.join(FORMATS)})")
    if not path.exists():
        raise PosekitError(f"{path}: not found")
    fmt = detect_format(path) if format == "auto" else format
    skel = None if skeleton is None else _resolve_skeleton(skeleton)
    if fmt == "openpose":
        return import_openpose(path, skel or "body25", person=person)
    if path.is_dir():
        raise PosekitError(f"{path}: is a folder; a {fmt} file is a single file")
    pose = import_sleap(path, track=track) if fmt == "sleap" else import_dlc(path)
    pose.metadata.setdefault("format", fmt)
    pose.metadata.setdefault("source", str(path))
    return pose if skel is None else _conform(pose, skel, path)
