"""The pipeline steps: what each one reads and writes, and where its code lives.

A step runs per *unit*: a :class:`CalibrationSet` for ``calibrate``, a
:class:`~posekit.project.layout.Trial` for the others. Output paths are defined here and
nowhere else. A step whose ``func`` is None is not implemented in this version; the runner
reports it as not yet available instead of pretending to run it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from posekit.config import Config, load_config
from posekit.errors import ProjectError
from posekit.io.tomlfile import read_toml_file
from posekit.project.layout import Project, Trial, natural_key, split_camera, video_extensions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CalibrationSet:
    """The calibration folder shared by the trials below ``owner``."""

    project: Project
    owner: Path  # folder that contains the calibration folder

    @property
    def key(self) -> str:
        rel = self.owner.relative_to(self.project.root).as_posix()
        return "calibration" if rel == "." else f"{rel}/calibration"

    @property
    def config_files(self) -> list[Path]:
        """config.toml files from the project root down to ``owner``."""
        return list(self.project.configs_down_to(self.owner.relative_to(self.project.root).parts))

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_files)

    @property
    def folder(self) -> Path:
        return self.owner / self.config.pipeline.calibration_videos

    @property
    def output(self) -> Path:
        return self.owner / self.config.pipeline.calibration_results / "calibration.toml"

    def videos(self) -> dict[str, Path]:
        """Calibration recording per camera (natural order): a video file, or a folder of
        images.

        Videos directly in the calibration folder are told apart by ``cam_regex`` as in
        trials. A sub-folder is one camera, named by ``cam_regex`` applied to the folder
        name or else the folder name itself; it holds images (read in natural order) or
        exactly one video.
        """
        return self._scan()[0]

    def unmatched_videos(self) -> list[Path]:
        """Videos directly in the calibration folder whose names ``cam_regex`` finds no
        camera in, so that :meth:`videos` leaves them out (natural order)."""
        return self._scan()[1]

    def _scan(self) -> tuple[dict[str, Path], list[Path]]:
        """:meth:`videos` and :meth:`unmatched_videos`, from one pass over the folder."""
        exts = video_extensions(self.config)
        regex = self.config.triangulation.cam_regex
        found: dict[str, Path] = {}
        unmatched: list[Path] = []

        def add(camera: str, path: Path) -> None:
            if camera in found:
                raise ProjectError(f"{self.folder}: two calibration recordings for camera "
                                   f"{camera}: {found[camera].name} and {path.name}")
            found[camera] = path

        if self.folder.is_dir():
            for path in sorted(self.folder.iterdir(), key=lambda p: natural_key(p.name)):
                if path.name.startswith("."):
                    continue  # hidden files (e.g. macOS ._name companions)
                if path.is_file() and path.suffix.lstrip(".").lower() in exts:
                    split = split_camera(path.stem, regex)
                    if split is not None:
                        add(split[1], path)
                    else:
                        unmatched.append(path)
                elif path.is_dir():
                    source = _camera_folder_source(path, exts)
                    if source is not None:
                        split = split_camera(path.name, regex)
                        add(split[1] if split else path.name, source)
        return dict(sorted(found.items(), key=lambda kv: natural_key(kv[0]))), unmatched

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def image_files(folder: Path) -> list[Path]:
    """Image files of a folder in natural name order."""
    return sorted((p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                  key=lambda p: natural_key(p.name))


def recording_files(source: Path) -> list[Path]:
    """The files a calibration recording consists of: a video, or a folder's images."""
    return image_files(source) if source.is_dir() else [source]


def _camera_folder_source(folder: Path, exts: tuple[str, ...]) -> Path | None:
    """A camera sub-folder's recording: the folder itself when it holds images, its one
    video otherwise, None when it holds neither."""
    if image_files(folder):
        return folder
    files = [p for p in folder.iterdir() if p.is_file()]
    videos = [p for p in files if p.suffix.lstrip(".").lower() in exts]
    if len(videos) > 1:
        raise ProjectError(f"{folder}: {len(videos)} videos in one camera folder; keep one "
                           "calibration video (or the images) per camera folder")
    return videos[0] if videos else None


def calibration_set(trial: Trial) -> CalibrationSet | None:
    """The calibration set a trial uses, or None when no calibration folder is found."""
    owner = trial.session.calibration_folder()
    return None if owner is None else CalibrationSet(trial.session.project, owner)


def calibration_sets(project: Project, trials: Sequence[Trial], session: str | None = None,
                     trial: str | None = None
                     ) -> tuple[list[CalibrationSet], list[CalibrationSet]]:
    """The calibration sets ``trials`` use, in the order of their first trial, and, unless
    the selection names a ``trial``, the ones below ``session`` that none of them uses (a
    calibration made before any trial is filmed)."""
    used = {cs.owner: cs for cs in filter(None, map(calibration_set, trials))}
    unused = [] if trial is not None else [
        CalibrationSet(project, owner) for owner in project.calibration_owners(session)
        if owner not in used]
    return list(used.values()), unused


def no_calibration(trial: Trial) -> str:
    """Why ``trial`` has no calibration yet, where posekit looked, and what to do."""
    cs = calibration_set(trial)
    make = ("run `posekit calibrate`, or import a calibration made elsewhere with `posekit "
            "calibrate import FILE` (an Anipose calibration.toml or a Qualisys .qca.txt)")
    if cs is not None:
        return (f"{cs.output} is missing: {make}" if cs.videos() else
                f"{cs.output} is missing and {cs.folder} holds no calibration recordings: "
                f"put one per camera there and {make}")
    name = trial.session.config.pipeline.calibration_videos
    root = trial.session.project.root
    return (f"no calibration folder: posekit looked for a folder named {name!r} in "
            f"{trial.session.path} and each folder above it up to the project, {root}; "
            f"put one recording of the board per camera in {root / name} and {make}")


Unit = Any  # CalibrationSet | Trial


#: Frame rates of one trial's cameras that differ by more than this (relative) are an
#: error; smaller differences (29.97 against 30 fps) a warning.
FPS_TOLERANCE = 0.01


def _video_fps(trial: Trial, camera: str) -> float | None:
    """The frame rate of a camera's video, or None when the video cannot be read."""
    from posekit.errors import PosekitError
    from posekit.io.video import probe_video

    try:
        fps = probe_video(trial.videos[camera]).fps
    except PosekitError:
        return None
    return float(fps) if fps and fps > 0 else None


def trial_fps(trial: Trial, poses: Mapping[str, Any]) -> float:
    """A trial's frame rate (frames per second): the one of its cameras, from the 2D
    files' metadata (``poses``: camera → Pose2D) or else from each camera's video, or 30
    when neither says.

    Cameras recorded at different frame rates cannot be matched frame by frame: rates
    that differ by more than :data:`FPS_TOLERANCE` are a :class:`ProjectError` that names
    the cameras and their rates; smaller differences are logged as a warning (the
    first camera's rate is used). Cameras with frame times are already on the reference
    camera's clock here (:func:`on_reference_clock`), so this is for 2D without them."""
    rates: dict[str, tuple[float, str]] = {}
    for cam, pose in poses.items():
        fps = pose.metadata.get("fps")
        if fps and float(fps) > 0:
            rates[cam] = (float(fps), "2D file")
        else:
            video_fps = _video_fps(trial, cam)
            if video_fps is not None:
                rates[cam] = (video_fps, "video")
    if not rates:
        log.warning("%s: no frame rate in the 2D files' metadata or the videos; assuming "
                    "30 fps", trial.key)
        return 30.0
    values = [fps for fps, _ in rates.values()]
    low, high = min(values), max(values)
    if high > low * (1 + 1e-6):
        listing = ", ".join(f"{cam} {fps:g} fps ({source})"
                            for cam, (fps, source) in rates.items())
        if high > low * (1 + FPS_TOLERANCE):
            untimed = [cam for cam, pose in poses.items() if pose.frame_times is None]
            raise ProjectError(
                f"trial {trial.key}: its cameras recorded at different frame rates ({listing})"
                "; posekit puts cameras of different rates on one clock by their frame times, "
                f"which the 2D of {', '.join(untimed) or 'some cameras'} does not have "
                "(imported 2D), and matches the others frame by frame: run `posekit detect` "
                "on those cameras instead, or record at one rate, or convert the videos to "
                "one rate (e.g. `ffmpeg -i in.mp4 -filter:v fps=30 out.mp4`) and run "
                "`posekit detect --overwrite`")
        drift = (high - low) * 60.0
        log.warning("%s: its cameras' frame rates differ slightly (%s): about %.1f frames of "
                    "drift per minute; %g fps is used", trial.key, listing, drift, values[0])
    return values[0]


#: A trial video whose width or height differs from its camera's calibrated image size by
#: more than this (relative) does not match the calibration. Small differences are
#: normal: codecs pad 1080 rows to 1088, and imported calibrations may state the sensor's.
SIZE_TOLERANCE = 0.02


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= SIZE_TOLERANCE * max(a, b)


def _readable_videos(trial: Trial, cameras: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """``(camera, VideoInfo)`` for each of ``cameras`` whose trial video can be probed;
    the others are left to the steps that read the video, which name the problem."""
    from posekit.errors import PosekitError
    from posekit.io.video import probe_video

    for cam in cameras:
        if cam not in trial.videos:
            continue
        try:
            yield cam, probe_video(trial.videos[cam])
        except PosekitError:
            continue


def calibration_size_problems(trial: Trial, sizes: Mapping[str, tuple[int, int]],
                              calibration: Path) -> list[str]:
    """One message per camera of ``trial`` whose video frames (as posekit reads them: the
    rotation flag applied) are not the size its calibration was made at (``sizes``:
    camera → calibrated (width, height), from ``calibration``): turned by 90°, another
    resolution, or another shape. The intrinsics of such a calibration do not apply to
    the trial's keypoints. Cameras whose video cannot be read are left to the steps that
    read it."""
    problems = []
    for cam, info in _readable_videos(trial, sizes):
        cw, ch = sizes[cam]
        w, h = info.width, info.height
        if w <= 0 or h <= 0 or (_close(w, cw) and _close(h, ch)):
            continue
        seen = f"{trial.videos[cam].name} is {w}x{h}"
        if info.rotation:
            seen += f" (stored turned by {info.rotation} degrees, as phones record)"
        made = f"{calibration} was made on {cw}x{ch} frames"
        if _close(w, ch) and _close(h, cw):
            problems.append(
                f"{cam}: {seen} but {made}: one of the two is turned by 90 degrees (the "
                "camera was held the other way, or only one recording carries a rotation "
                "flag); posekit reads every video the way up a player shows it, so record "
                "the calibration with the camera as in the trials and recalibrate")
        elif _close(w / cw, h / ch):
            problems.append(
                f"{cam}: {seen} but {made}: another resolution, and a camera's focal length "
                "and lens centre in pixels hold only at the resolution they were measured "
                "at; record the calibration at the trials' resolution (and field of view "
                "setting) and recalibrate")
        else:
            problems.append(
                f"{cam}: {seen} but {made}: another frame shape (a different camera, "
                "video mode or crop); record the calibration with the trials' settings "
                "and recalibrate")
    return problems


#: 2D keypoints (likelihood at least :data:`SURE_POINT`) beyond this share of the frame
#: outside it count as outside; more than :data:`OUTSIDE_SHARE` of them, with all of them
#: inside the frame turned by 90 degrees, is 2D in a phone video's stored orientation.
FRAME_MARGIN = 0.05
SURE_POINT = 0.5
OUTSIDE_SHARE = 0.2
#: fewer sure points than this are not judged
MIN_POINTS = 30


def _inside(xy: Any, width: int, height: int) -> Any:

    mx, my = FRAME_MARGIN * width, FRAME_MARGIN * height
    return ((xy[:, 0] >= -mx) & (xy[:, 0] <= width + mx)
            & (xy[:, 1] >= -my) & (xy[:, 1] <= height + my))


def turned_keypoint_problems(trial: Trial, poses: Mapping[str, Any]) -> list[str]:
    """One message per camera whose video carries a 90 or 270 degree rotation flag (a
    phone held upright) but whose 2D keypoints (``poses``: camera → Pose2D) lie in the
    frame as stored, not as shown: 2D from a tool that read the video without applying
    the flag (OpenCV's default, hence OpenPose's and DeepLabCut's), whereas posekit's
    calibration and detection read every video the way up a player shows it. Cameras whose
    video cannot be read, or with too few sure points, are not judged."""
    import numpy as np

    problems = []
    for cam, info in _readable_videos(trial, poses):
        pose = poses[cam]
        if info.rotation not in (90, 270) or info.width <= 0 or info.height <= 0:
            continue
        sure = pose.likelihood >= SURE_POINT
        xy = pose.xy[sure & np.isfinite(pose.xy).all(axis=-1)]
        if len(xy) < MIN_POINTS:
            continue
        shown = _inside(xy, info.width, info.height)
        stored = _inside(xy, info.height, info.width)
        if (~shown).mean() > OUTSIDE_SHARE and stored.all():
            problems.append(
                f"{cam}: {trial.videos[cam].name} is a phone video stored turned (its "
                f"rotation flag turns it by {info.rotation} degrees to {info.width}x"
                f"{info.height}), but {100 * (~shown).mean():.0f} % of the keypoints in its "
                f"2D file ({pose_2d_path(trial, cam).name}) lie outside that frame and all of "
                f"them inside the {info.height}x{info.width} frame as stored: the 2D comes "
                "from a tool that read the video without applying the flag; delete that "
                "file and run `posekit detect`, which reads the video upright, or redo the "
                "2D with the other tool on an upright copy (`ffmpeg -i "
                f"{trial.videos[cam].name} upright.mp4` applies the flag)")
    return problems


def frame_timing_problems(poses: Mapping[str, Any]) -> list[str]:
    """One message per camera whose 2D keypoints (``poses``: camera → Pose2D, as
    :func:`read_trial_2d` gives them, on each camera's regular frame grid) have empty
    slots for frames the camera did not record: frames it dropped, or a variable frame
    rate, as phones record; and cameras placed on another camera's clock, having recorded
    at another rate. Files without frame times (imported 2D) are not checked."""
    import numpy as np

    from posekit.pose2d.timing import frame_period

    problems: list[str] = []
    if not poses:
        return problems
    reference = next(iter(poses))
    for cam, pose in poses.items():
        missing = int(pose.metadata.get("frames_missing", 0))
        recorded = pose.metadata.get("recorded_fps")
        if recorded:
            own, fps = float(recorded), float(pose.metadata["fps"])
            ref = poses[reference]
            ref_rate = float(ref.metadata.get("recorded_fps") or ref.metadata.get("fps") or 0)
            who = (f"the reference camera {reference}" if ref_rate == fps
                   else "the trial's slowest camera")
            if pose.metadata.get("interpolated"):  # triangulation's placement
                placed = ("(the 3D interpolates its 2D to each slot's instant, which leaves "
                          f"{int(pose.metadata.get('slots_empty', 0))} empty frame(s) where "
                          "it dropped frames)")
            else:
                placed = (f"({missing} empty frame(s) and "
                          f"{int(pose.metadata.get('frames_left_out', 0))} frame(s) left out "
                          "over the clip)")
            if abs(own / fps - 1) <= FPS_TOLERANCE:
                problems.append(
                    f"{cam}: recorded at {own:g} fps, {who} at {fps:g} fps, which would drift "
                    f"{abs(own - fps) * 60:.1f} frames out of step per minute: its frames "
                    f"are placed on that camera's clock by their times {placed}, so it stays "
                    "in step; sync and the 3D count its frames on that clock, its 2D file "
                    "and labeled video as decoded")
            else:
                problems.append(
                    f"{cam}: recorded at {own:g} fps and the trial is processed at "
                    f"{fps:g} fps, the rate of {who}: its frames are "
                    f"placed on that clock by their times {placed}, so every camera has one "
                    "frame per slot; sync and the 3D count its frames on that clock, its 2D "
                    "file and labeled video as decoded")
            continue
        if not missing or pose.frame_times is None:
            continue
        empty = np.isnan(np.asarray(pose.frame_times, np.float64))
        gaps = int(np.sum(empty[1:] & ~empty[:-1]))
        times = np.asarray(pose.frame_times, np.float64)[~empty]
        step = np.diff(times)
        worst = int(np.argmax(step))
        video = pose.metadata.get("video") or f"{cam}'s video"
        problems.append(
            f"{cam}: the frame times of {video} have {gaps} gap(s), {missing} frame(s) "
            f"missing (the largest {step[worst]:.3f} s instead of "
            f"{frame_period(times):.3f} s, after frame {worst}): the camera dropped frames "
            "or recorded at a variable rate; posekit places each frame at its time, so this "
            "camera stays in step with the others, and leaves the missing frames empty "
            "(their 3D comes from the other cameras); sync and the 3D count this camera's "
            "frames on its regular time grid, its 2D file and labeled video as decoded")
    return problems


def person_cameras(poses: Mapping[str, Any]) -> list[str]:
    """The cameras whose 2D keypoints (``poses``: camera → Pose2D) have a person in at
    least one frame."""
    return [cam for cam, pose in poses.items() if bool(pose.detected().any())]


def no_person_error(trial: Trial, cameras: Sequence[str]) -> ProjectError:
    """The error for a trial in which no camera's 2D keypoints hold a person."""
    files = ", ".join(pose_2d_path(trial, cam).name for cam in cameras)
    return ProjectError(
        f"no person detected in trial {trial.key} (cameras {', '.join(cameras)}): every "
        f"frame of their 2D files ({files} in {pose_2d_path(trial, cameras[0]).parent}) is "
        "empty; check that the videos show the whole person, then lower [detection] "
        "min_detection_confidence and run `posekit detect --overwrite`, or move this "
        "trial's videos out of the raw-videos folder")


def processing_rate(rates: Sequence[float]) -> float | None:
    """The frame rate cameras recorded at ``rates`` (fps, the first the reference camera's;
    0 = unknown) are processed at: the reference camera's, unless a camera recorded more
    than :data:`FPS_TOLERANCE` slower, in which case the slowest camera's, so that no
    camera leaves every other frame empty. None when the reference's rate is unknown."""
    if not rates or rates[0] <= 0:
        return None
    slowest = min(r for r in rates if r > 0)
    return rates[0] if slowest >= rates[0] * (1 - FPS_TOLERANCE) else slowest


def trial_clock(poses: Mapping[str, Any]) -> float | None:
    """The frame rate a trial is processed at (``poses``: camera → Pose2D as read, the
    first camera the reference; :func:`processing_rate` of their 2D files' rates)."""
    return processing_rate([float(p.metadata.get("fps") or 0) for p in poses.values()])


def on_reference_clock(poses: Mapping[str, Any], interpolate: bool = False) -> dict[str, Any]:
    """Every camera's 2D keypoints (camera → Pose2D, the first camera the reference) placed
    by their frame times: on the camera's own regular grid
    (:func:`posekit.pose2d.timing.on_frame_grid`), or, for a camera that recorded at
    another rate than the trial is processed at (:func:`trial_clock`: 29.97 against 30
    fps, or 60 against 30), on the trial's clock (:func:`posekit.pose2d.timing.on_clock`),
    so that it does not drift out of step and every camera has one frame per slot.
    Cameras without frame times stay as they are (and :func:`trial_fps` judges their
    rates). With ``interpolate``, a camera placed on the trial's clock has its 2D
    interpolated to each slot's instant instead of taking the nearest frame
    (:func:`~posekit.pose2d.timing.on_clock`)."""
    from posekit.pose2d.timing import on_clock, on_frame_grid

    clock = trial_clock(poses)
    out = {}
    for cam, pose in poses.items():
        fps = float(pose.metadata.get("fps") or 0)
        if (clock and fps and pose.frame_times is not None and len(pose.frame_times) >= 3
                and abs(fps / clock - 1) > 1e-6):
            out[cam] = on_clock(pose, clock, interpolate)
        else:
            out[cam] = on_frame_grid(pose)
    return out


def read_trial_2d(trial: Trial, interpolate: bool = False) -> dict[str, Any]:
    """Every camera's 2D keypoints of a trial (camera → Pose2D, in camera order), each on
    its camera's regular frame grid (:func:`on_reference_clock`: empty rows for frames a
    camera dropped, a camera at a slightly different rate on the reference camera's
    clock, so the cameras stay in step) unless ``[sync] frame_times = false``;
    ``interpolate``: such a camera's 2D interpolated to the clock's instants.

    Errors (:class:`ProjectError`) name the trial, the camera and the file, and say what
    to do: a trial with fewer than two cameras, a missing 2D file, cameras whose 2D files
    have different keypoints."""
    from posekit.pose2d.table import read_pose2d

    cams = trial.cameras
    if len(cams) < 2:
        videos = ", ".join(p.name for p in trial.videos.values())
        raise ProjectError(
            f"trial {trial.key} has a video of one camera only ({videos}, camera "
            f"{cams[0]!r}): synchronisation and triangulation need two or more cameras; add "
            "the other cameras' videos to the raw-videos folder, or check [triangulation] "
            "cam_regex (it decides which part of a file name is the camera)")
    missing = [pose_2d_path(trial, cam) for cam in cams
               if not pose_2d_path(trial, cam).is_file()]
    if missing:
        raise ProjectError(
            f"trial {trial.key}: " + "; ".join(f"{path} is missing" for path in missing)
            + "; run `posekit detect` (or `posekit import-2d`) first")
    poses = {cam: read_pose2d(pose_2d_path(trial, cam)) for cam in cams}
    if trial.config.sync.frame_times:
        poses = on_reference_clock(poses, interpolate)
    first = poses[cams[0]].keypoints
    for cam, pose in poses.items():
        if pose.keypoints != first:
            raise ProjectError(
                f"trial {trial.key}: camera {cam}'s 2D file ({pose_2d_path(trial, cam)}) has "
                f"keypoints {list(pose.keypoints)[:5]}... but {cams[0]}'s has "
                f"{list(first)[:5]}...; all cameras need the same detector / skeleton: "
                "redo the 2D of the odd camera")
    return poses


def frame_counts(poses: Mapping[str, Any]) -> str | None:
    """``"cam1 120, cam2 100 frames"`` when the cameras' 2D files have different numbers
    of frames, else None."""
    counts = {cam: int(pose.n_frames) for cam, pose in poses.items()}
    if len(set(counts.values())) <= 1:
        return None
    return ", ".join(f"{cam} {n}" for cam, n in counts.items()) + " frames"


@contextlib.contextmanager
def all_or_nothing() -> Iterator[list[Path]]:
    """Collect the paths a step writes for one unit (append each to the yielded list as
    it is written); if the block fails, delete them, so that a failed unit leaves no
    output of this run behind."""
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise


def pose_2d_path(trial: Trial, camera: str) -> Path:
    return trial.output_dir(trial.config.pipeline.pose_2d) / f"{trial.videos[camera].stem}.h5"


def sync_path(trial: Trial) -> Path:
    return trial.output_dir(trial.config.pipeline.sync) / f"{trial.name}.toml"


def pose_3d_path(trial: Trial) -> Path:
    return trial.output_dir(trial.config.pipeline.pose_3d) / f"{trial.name}.csv"


def pose_3d_quality_path(trial: Trial) -> Path:
    """The triangulation's quality figures of a trial (``<trial>.quality.json``)."""
    return pose_3d_path(trial).with_name(f"{trial.name}.quality.json")


def angles_path(trial: Trial) -> Path:
    return trial.output_dir(trial.config.pipeline.angles) / f"{trial.name}.csv"


def summaries_dir(project: Project) -> Path:
    """The project-wide summary tables' folder (``[pipeline] summaries``)."""
    return project.root / project.config.pipeline.summaries


def _calib_output(trial: Trial) -> list[Path]:
    cs = calibration_set(trial)
    return [] if cs is None else [cs.output]


def _calibration_inputs(cs: CalibrationSet) -> list[Path]:
    return [f for source in cs.videos().values() for f in recording_files(source)]


def _pose_2d_all(trial: Trial) -> list[Path]:
    return [pose_2d_path(trial, cam) for cam in trial.cameras]


def _recorded_cameras(path: Path, table: str) -> list[str] | None:
    """The camera names of ``table`` in a step's record ``path`` (a sync TOML or a
    quality JSON); None when the file or the table cannot be read."""
    try:
        data = (json.loads(path.read_text(encoding="utf-8")) if path.suffix == ".json"
                else read_toml_file(path))
        names = data[table]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return [str(n) for n in names] if isinstance(names, dict) else None


@dataclass(frozen=True)
class Step:
    """One pipeline step."""

    name: str
    help: str
    per: Literal["calibration", "trial"]
    inputs: Callable[[Unit], list[Path]]
    outputs: Callable[[Unit], list[Path]]
    func: str | None = None  # "module:function(unit, overwrite)"; None = not available yet
    #: "module:function(units, overwrite, jobs, progress)" yielding (unit, error, seconds):
    #: runs all units that need work at once (in parallel), instead of ``func`` per unit
    batch: str | None = None
    #: the cameras a trial's outputs say they were made from (None: not recorded): when
    #: they are not the trial's cameras now (a video removed, say), the outputs are out
    #: of date although no input is newer
    made_from: Callable[[Trial], list[str] | None] | None = None

    @property
    def available(self) -> bool:
        return self.func is not None or self.batch is not None

    def load(self, batch: bool = False) -> Callable[..., Any]:
        target = self.batch if batch else self.func
        if target is None:
            raise RuntimeError(f"step {self.name} is not available")
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step(
            "calibrate", "ChArUco calibration of every calibration folder", "calibration",
            inputs=_calibration_inputs,
            outputs=lambda cs: [cs.output],
            func="posekit.calibration.step:run",
        ),
        Step(
            "detect", "2D keypoints for every camera video", "trial",
            inputs=lambda t: list(t.videos.values()),
            outputs=_pose_2d_all,
            batch="posekit.pose2d.step:run_batch",
        ),
        Step(
            "sync", "per-camera frame offsets from the 2D keypoints", "trial",
            inputs=lambda t: [*_pose_2d_all(t), *_calib_output(t)],
            outputs=lambda t: [sync_path(t)],
            func="posekit.sync.step:run",
            made_from=lambda t: _recorded_cameras(sync_path(t), "offsets"),
        ),
        Step(
            "triangulate", "3D keypoints from 2D, calibration and offsets", "trial",
            inputs=lambda t: [*_pose_2d_all(t), *_calib_output(t), sync_path(t)],
            outputs=lambda t: [pose_3d_path(t)],
            func="posekit.triangulation.step:run",
            made_from=lambda t: _recorded_cameras(pose_3d_quality_path(t), "cameras"),
        ),
        Step(
            "angles", "joint angles from the 3D keypoints", "trial",
            inputs=lambda t: [pose_3d_path(t), pose_3d_quality_path(t)],
            outputs=lambda t: [angles_path(t)],
            func="posekit.angles.step:run",
        ),
    )
}

#: The order in which ``run-all`` runs the steps.
PIPELINE: tuple[str, ...] = ("calibrate", "detect", "sync", "triangulate", "angles")
