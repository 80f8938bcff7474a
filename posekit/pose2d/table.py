"""2D keypoints of one video, and DeepLabCut-format files.

On disk posekit uses DeepLabCut's table layout, which Anipose, movement and DeepLabCut read:
columns ``(scorer, bodyparts, coords)`` with coords ``x``, ``y``, ``likelihood``, one row
per video frame (index = frame number). ``.h5`` files hold that table under the key
``df_with_missing`` (as DeepLabCut writes it; Anipose reads ``pose-2d/*.h5``), plus the
frame times in seconds as an attribute of the table, invisible to other readers. ``.csv``
files are DeepLabCut's three header rows. Frames where no person was found are rows of
NaN with likelihood 0, never dropped, so row ``i`` is always frame ``i``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from posekit.errors import PosekitError
from posekit.io.atomic import atomic_path

FloatArray = NDArray[np.float64]
H5_KEY = "df_with_missing"
#: the HDF5 array that holds the frame times: a plain array beside the table, which pandas
#: does not list as a table (so ``pd.read_hdf(path)``, as Anipose reads, still finds one)
#: and which has no size limit (an HDF5 attribute holds at most 64 KiB: 8 192 frames)
H5_TIMES = "posekit_frame_times"
COORDS = ("x", "y", "likelihood")


@dataclass
class Pose2D:
    """Keypoints of one video: ``xy`` (n_frames, n_keypoints, 2) pixels (NaN = not
    found), ``likelihood`` (n_frames, n_keypoints) in [0, 1] (0 = not found), optional
    ``frame_times`` (n_frames,) in seconds from the video's timestamps."""

    keypoints: tuple[str, ...]
    xy: FloatArray
    likelihood: FloatArray
    scorer: str = "posekit"
    frame_times: FloatArray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keypoints = tuple(str(k) for k in self.keypoints)
        self.xy = np.asarray(self.xy, np.float64)
        self.likelihood = np.asarray(self.likelihood, np.float64)
        n = len(self.keypoints)
        if self.xy.ndim != 3 or self.xy.shape[1:] != (n, 2):
            raise ValueError(f"xy must be (n_frames, {n}, 2), got {self.xy.shape}")
        if self.likelihood.shape != self.xy.shape[:2]:
            raise ValueError(f"likelihood must be {self.xy.shape[:2]}, got "
                             f"{self.likelihood.shape}")
        missing = ~np.isfinite(self.xy).all(axis=-1)
        self.xy[missing] = np.nan
        self.likelihood = np.where(missing | ~np.isfinite(self.likelihood), 0.0,
                                   self.likelihood)
        if self.frame_times is not None:
            self.frame_times = np.asarray(self.frame_times, np.float64).ravel()
            if len(self.frame_times) != self.n_frames:
                raise ValueError("frame_times must have one value per frame")

    @property
    def n_frames(self) -> int:
        return int(self.xy.shape[0])

    @classmethod
    def empty(cls, keypoints: tuple[str, ...], n_frames: int, **kwargs: Any) -> Pose2D:
        n = len(keypoints)
        return cls(keypoints, np.full((n_frames, n, 2), np.nan), np.zeros((n_frames, n)),
                   **kwargs)

    def detected(self) -> NDArray[np.bool_]:
        """Frames where any keypoint was found."""
        return (self.likelihood > 0).any(axis=1)

    def to_dataframe(self) -> pd.DataFrame:
        """The DeepLabCut table."""
        cols = pd.MultiIndex.from_product([[self.scorer], list(self.keypoints), list(COORDS)],
                                          names=["scorer", "bodyparts", "coords"])
        data = np.concatenate([self.xy, self.likelihood[..., None]], axis=-1)
        return pd.DataFrame(data.reshape(self.n_frames, 3 * len(self.keypoints)), columns=cols,
                            index=pd.RangeIndex(self.n_frames))

    @classmethod
    def from_dataframe(cls, df: pd.DataFrame, source: str = "table") -> Pose2D:
        """Read a DeepLabCut table (single animal; the first scorer)."""
        if not isinstance(df.columns, pd.MultiIndex) or df.columns.nlevels not in (3, 4):
            raise PosekitError(f"{source}: not a DeepLabCut table (expected column levels "
                               "scorer / bodyparts / coords)")
        if df.columns.nlevels == 4:  # multi-animal: keep the first individual
            first = df.columns.get_level_values(1)[0]
            df = df.xs(first, axis=1, level=1, drop_level=True)
        scorer = str(df.columns.get_level_values(0)[0])
        df = df[scorer]
        names = list(dict.fromkeys(df.columns.get_level_values(0)))
        try:
            data = np.stack([df[name][list(COORDS)].to_numpy(np.float64) for name in names],
                            axis=1)
        except KeyError as exc:
            raise PosekitError(f"{source}: a keypoint lacks the x, y or likelihood column "
                               f"({exc})") from None
        return cls(tuple(names), data[..., :2], data[..., 2], scorer=scorer)


def write_pose2d(pose: Pose2D, path: str | os.PathLike[str]) -> Path:
    """Write ``.h5`` or ``.csv`` (DeepLabCut layout) atomically; a pose of no frame is an
    error (DeepLabCut's HDF5 layout cannot hold an empty table)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".h5", ".csv"):
        raise PosekitError(f"{path}: 2D keypoints are written as .h5 or .csv")
    if pose.n_frames == 0:
        video = pose.metadata.get("video") or "the video"
        raise PosekitError(f"{path}: no frame to write: {video} decoded to no frame; check "
                           "that it plays, and re-export or re-copy it")
    df = pose.to_dataframe()
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp)
        else:
            # no object times and no table index: the same pose gives the same bytes
            with pd.HDFStore(tmp, mode="w") as store:
                store.put(H5_KEY, df, format="table", track_times=False, index=False)
                store.get_storer(H5_KEY).attrs.posekit_metadata = dict(pose.metadata)
            if pose.frame_times is not None:
                import tables

                with tables.open_file(str(tmp), mode="a") as h5:
                    h5.create_array("/", H5_TIMES, np.asarray(pose.frame_times, np.float64),
                                    track_times=False)
    return path


def _first_line(exc: BaseException) -> str:
    """``Type: first line of the message`` of an exception, for error messages."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if len(lines) > 1 and "back trace" in lines[0]:  # HDF5: the cause is the last line
        lines = lines[-1:]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def read_pose2d_header(path: str | os.PathLike[str]) -> tuple[int, dict[str, Any]] | None:
    """The number of frames and the metadata of a posekit ``.h5`` 2D file, without reading
    its table (a 10-min 60-fps file takes 0.1–0.3 s to read whole); None for a file that
    is not a posekit ``.h5`` file with metadata or cannot be read (use :func:`read_pose2d`)."""
    path = Path(path)
    if path.suffix.lower() != ".h5" or not path.is_file():
        return None
    try:
        with pd.HDFStore(path, mode="r") as store:
            if H5_KEY not in store:
                return None
            storer = store.get_storer(H5_KEY)
            meta = dict(getattr(storer.attrs, "posekit_metadata", {}) or {})
            rows = storer.nrows
    except Exception:  # damaged files have many error types; read_pose2d explains them
        return None
    return (int(rows), meta) if meta and rows is not None else None


def read_pose2d(path: str | os.PathLike[str]) -> Pose2D:
    """Read a DeepLabCut ``.h5`` or ``.csv`` file (posekit's own or DeepLabCut's)."""
    path = Path(path)
    if not path.is_file():
        raise PosekitError(f"{path}: 2D keypoint file not found; run `posekit detect` (or "
                           "`posekit import-2d`) first")
    suffix = path.suffix.lower()
    times, meta = None, {}
    try:
        if suffix == ".csv":
            df = pd.read_csv(path, header=[0, 1, 2], index_col=0, float_precision="round_trip")
        elif suffix == ".h5":
            with pd.HDFStore(path, mode="r") as store:
                keys = store.keys()
                key = f"/{H5_KEY}" if f"/{H5_KEY}" in keys else (keys[0] if keys else None)
                if key is None:
                    raise PosekitError(f"{path}: no table in this HDF5 file")
                df = store[key]
                attrs = store.get_storer(key).attrs
                node = store.get_node(f"/{H5_TIMES}")
                # files of posekit before 2026-12-06 kept them in an attribute
                times = node.read() if node is not None else getattr(attrs, "frame_times",
                                                                      None)
                meta = dict(getattr(attrs, "posekit_metadata", {}) or {})
        else:
            raise PosekitError(f"{path}: 2D keypoints are read from .h5 or .csv files")
    except PosekitError:
        raise
    except Exception as exc:  # HDF5 and parser errors of damaged files have many types
        raise PosekitError(
            f"{path}: cannot read this 2D keypoint file ({_first_line(exc)}); it is damaged "
            "or not a DeepLabCut table: run `posekit detect --overwrite` for its video (or "
            "import it again)") from None
    try:
        pose = Pose2D.from_dataframe(df, str(path))
    except ValueError as exc:  # e.g. coordinates that are not numbers
        raise PosekitError(f"{path}: not a valid DeepLabCut table ({exc}); run `posekit "
                           "detect --overwrite` for its video (or import it again)") from None
    pose.frame_times = None if times is None else np.asarray(times, np.float64)
    pose.metadata = meta
    return pose
