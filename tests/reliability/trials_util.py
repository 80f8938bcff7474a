"""Small synthetic projects with one bad trial, for the reliability tests of sync,
triangulate and angles (shared by ``test_bad_trials.py`` and ``test_bad_calibration.py``).

A project here is ``<root>/config.toml`` (nesting 1, cameras ``cam1``, ``cam2``, ...),
``<root>/calibration/calibration.toml`` and one session ``s1`` with trial ``t``: empty
placeholder videos (or real ones, see :func:`write_videos`) in ``s1/videos-raw`` and 2D
files in ``s1/pose-2d`` as the detect step writes them. The 2D keypoints are the MediaPipe
landmarks of a synthetic squat projected through a synthetic rig
(:func:`posekit.synthetic.sync_data.make_sync_trial`), without noise or outliers.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import toml
from click.testing import CliRunner, Result

from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import save_calibration
from posekit.cli.main import cli
from posekit.pose2d.table import Pose2D, write_pose2d
from posekit.synthetic.sync_data import SyncTrial, make_sync_trial

TRIAL = "t"
SESSION = "s1"
FPS = 30.0
CONFIG = ('nesting = 1\n[calibration]\nunits = "m"\n'
          '[triangulation]\ncam_regex = "-(cam[0-9]+)$"\n')


def synthetic_trial(n_cams: int = 3, n_frames: int = 60, fps: float = FPS,
                    offsets: Mapping[str, int] | None = None, seed: int = 0) -> SyncTrial:
    """Clean synthetic 2D keypoints of ``n_cams`` cameras, ``n_frames`` each."""
    return make_sync_trial(n_cams=n_cams, fps=fps, duration=n_frames / fps,
                           offsets=dict(offsets or {}), noise_px=0.5, outlier_rate=0.0,
                           dropout_rate=0.0, motion="squat", seed=seed)


def empty_pose(like: Pose2D, n_frames: int | None = None) -> Pose2D:
    """What the detect step writes for a video in which no person was found: every
    keypoint NaN with likelihood 0, one row per frame, the same metadata."""
    n = like.n_frames if n_frames is None else n_frames
    return Pose2D.empty(like.keypoints, n, scorer=like.scorer,
                        frame_times=np.arange(n) / FPS, metadata=dict(like.metadata))


def cut_pose(pose: Pose2D, n_frames: int) -> Pose2D:
    """The first ``n_frames`` frames of ``pose`` (a camera stopped earlier)."""
    times = None if pose.frame_times is None else pose.frame_times[:n_frames]
    return Pose2D(pose.keypoints, pose.xy[:n_frames], pose.likelihood[:n_frames],
                  pose.scorer, times, dict(pose.metadata))


@dataclass
class Project:
    """A project on disk with one session ``s1`` and one trial ``t``."""

    root: Path
    cameras: list[str]
    group: CameraGroup | None
    poses: dict[str, Pose2D] = field(default_factory=dict)

    @property
    def session(self) -> Path:
        return self.root / SESSION

    @property
    def calibration(self) -> Path:
        return self.root / "calibration" / "calibration.toml"

    def pose_2d(self, cam: str) -> Path:
        return self.session / "pose-2d" / f"{TRIAL}-{cam}.h5"

    def video(self, cam: str) -> Path:
        return self.session / "videos-raw" / f"{TRIAL}-{cam}.mp4"

    @property
    def sync(self) -> Path:
        return self.session / "sync" / f"{TRIAL}.toml"

    @property
    def pose_3d(self) -> Path:
        return self.session / "pose-3d" / f"{TRIAL}.csv"

    @property
    def quality(self) -> Path:
        return self.session / "pose-3d" / f"{TRIAL}.quality.json"

    @property
    def angles(self) -> Path:
        return self.session / "angles" / f"{TRIAL}.csv"

    def outputs(self, step: str) -> list[Path]:
        """Every file ``step`` writes for the trial (existing or not)."""
        if step == "sync":
            return [self.sync, self.sync.with_suffix(".png")]
        if step == "triangulate":
            folder = self.session / "pose-3d"
            return [folder / f"{TRIAL}{ext}" for ext in
                    (".csv", ".trc", ".c3d", ".quality.json", ".quality.png")]
        folder = self.session / "angles"
        return [folder / f"{TRIAL}{ext}" for ext in (".csv", ".png", ".angles.json")]

    def written(self, step: str) -> list[str]:
        """Names of the files of ``step`` that exist."""
        return [p.name for p in self.outputs(step) if p.exists()]

    def write_sync(self, offsets: Mapping[str, int]) -> None:
        """``s1/sync/t.toml`` as the sync step writes it."""
        from posekit.sync.step import CONVENTION

        record = {"reference": self.cameras[0], "convention": CONVENTION,
                  "method": "test", "offsets": dict(offsets)}
        self.sync.parent.mkdir(parents=True, exist_ok=True)
        self.sync.write_text(f"# posekit sync: {CONVENTION}\n" + toml.dumps(record))


def build(root: Path, poses: Mapping[str, Pose2D | None], group: CameraGroup | None,
          *, fps: Mapping[str, float | None] | float | None = FPS, config_extra: str = "",
          videos: Sequence[str] | None = None) -> Project:
    """A project with a video for each camera of ``videos`` (default: every camera of
    ``poses``) and a 2D file for each camera whose pose is not None. ``fps``: the frame
    rate written in every 2D file's metadata, or one per camera (None: none written, as
    an imported 2D file). ``group``: the calibration (None: no calibration.toml, but a
    calibration folder)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.toml").write_text(CONFIG + config_extra)
    cams = list(videos if videos is not None else poses)
    project = Project(root, cams, group)
    for cam in cams:
        project.video(cam).parent.mkdir(parents=True, exist_ok=True)
        project.video(cam).touch()
    for cam, pose in poses.items():
        if pose is None:
            continue
        rate = fps.get(cam) if isinstance(fps, Mapping) else fps
        meta = {k: v for k, v in pose.metadata.items() if k != "fps"}
        if rate is not None:
            meta["fps"] = float(rate)
        pose = Pose2D(pose.keypoints, pose.xy, pose.likelihood, "posekit", pose.frame_times,
                      meta)
        project.poses[cam] = pose
        write_pose2d(pose, project.pose_2d(cam))
    (root / "calibration").mkdir(exist_ok=True)
    if group is not None:
        save_calibration(group, project.calibration)
    return project


def write_videos(project: Project, fps: Mapping[str, float], n_frames: int = 4,
                 group: CameraGroup | None = None) -> None:
    """Replace the placeholder videos by real videos at ``fps``: tiny (64 x 48 px), or of
    each camera's calibrated size in ``group`` (triangulation checks that they match)."""
    from posekit.io.video import write_video

    for cam, rate in fps.items():
        width, height = (64, 48) if group is None else group[cam].size
        frames = [np.full((height, width, 3), 40 * i, np.uint8) for i in range(n_frames)]
        write_video(project.video(cam), frames, rate)


def posekit(*args: str | Path) -> Result:
    """Run the ``posekit`` command line in this process."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def posekit_subprocess(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m posekit`` in a new process (the real logging set-up, stderr)."""
    return subprocess.run([sys.executable, "-m", "posekit", *(str(a) for a in args)],
                          capture_output=True, text=True, timeout=120, check=False)


def partials(root: Path) -> list[str]:
    """Temporary files of atomic writes left anywhere in the project."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".partial" in p.name)


def one_line(text: str) -> str:
    """``text`` with its line breaks and repeated spaces collapsed (click wraps nothing,
    but messages are easier to match this way)."""
    return " ".join(text.split())
