"""The typed configuration schema: the one place where every default lives.

Keys and section names follow Anipose's ``config.toml`` so that an Anipose project's config
loads unchanged; keys Anipose has that posekit does not use yet are accepted and documented
as such. Each field's ``description`` is the comment written into ``config_template.toml``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


class Section(BaseModel):
    """Base of every config table: unknown keys are errors, values are type-checked, and
    floats must be finite (``nan`` and ``inf`` are errors)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, strict=False,
                              allow_inf_nan=False)


class CalibrationConfig(Section):
    """[calibration]: the calibration board and camera model."""

    board_type: Literal["charuco", "checkerboard"] = Field(
        "charuco", description='calibration board: "charuco" or "checkerboard"'
    )
    board_size: tuple[int, int] = Field(
        (10, 7), description="ChArUco: squares along the board's [width, height]; "
        "checkerboard: inner corners (as Anipose)"
    )
    board_marker_bits: int = Field(4, ge=4, le=7, description="ArUco marker size in bits (4 = 4x4)")
    board_marker_dict_number: int = Field(
        50, description="number of markers in the ArUco dictionary: 50, 100, 250 or 1000"
    )
    board_marker_length: float = Field(
        18.75, gt=0, description="side of one ArUco marker, in the units of `units`"
    )
    board_square_side_length: float = Field(
        25.0, gt=0, description="side of one chessboard square, in the units of `units`"
    )
    board_marker_separation_length: float | None = Field(
        None, description="Anipose key for ArUco grid boards (accepted, not used)"
    )
    legacy: bool = Field(
        False, description="board printed with the pre-OpenCV-4.6 ChArUco layout"
    )
    inverted: bool = Field(False, description="board printed with inverted colours")
    units: Literal["mm", "cm", "m", "in"] = Field(
        "mm", description="unit of the board lengths; 3D outputs are in this unit"
    )
    fisheye: bool = Field(False, description="fit OpenCV's fisheye lens model")
    animal_calibration: bool = Field(
        False, description="Anipose key (accepted, not used)"
    )
    calibration_init: str | None = Field(
        None, description="Anipose key: calibration.toml to start from (accepted, not used)"
    )
    distortion_model: Literal["full", "k1k2p1p2", "k1k2", "k1", "none"] = Field(
        "full", description='lens distortion to fit: "full" = k1 k2 p1 p2 k3, or fewer terms '
        '("k1k2" extrapolates more gently where the board never reached the image)'
    )
    refine_intrinsics: bool = Field(
        True, description="refine intrinsics in the multi-camera bundle adjustment"
    )
    min_board_corners: int = Field(
        6, ge=4, description="corners a view needs to be used"
    )
    min_boards: int = Field(
        10, ge=5, description="fewer usable views than this in a camera → diagnose the board"
    )
    max_view_angle: float = Field(
        75.0, gt=0, lt=90, description="views more oblique than this (degrees) are not used "
        "(intrinsics use at most 60)"
    )
    max_intrinsics_frames: int = Field(
        60, ge=5, description="views per camera chosen for the first intrinsics fit"
    )
    world_frame: Literal["camera1", "board"] = Field(
        "camera1", description='"camera1": origin and axes of camera 1 (as Anipose); '
        '"board": on the board as placed in world_board_frame (flat on the floor → z up)'
    )
    world_board_frame: int | None = Field(
        None, description="frame of the calibration videos whose board defines the world "
        "(the first camera's frame number); unset = the first frame seen by the most cameras"
    )
    sync: bool = Field(
        True, description="find the calibration videos' frame offsets from the board's "
        "motion, within [sync] max_lag_s (cameras started by hand); false = frame i of every "
        "camera is the same instant"
    )


class DetectionConfig(Section):
    """[detection]: 2D keypoint detection."""

    backend: str = Field("mediapipe", description="2D detector backend")
    model_complexity: int = Field(
        1, ge=0, le=2, description="MediaPipe BlazePose model: 0 lite, 1 full (shipped), 2 heavy"
    )
    model_path: str | None = Field(
        None, description="path to your own model file, a pose landmarker .task or a "
        "BlazePose landmark .tflite (lite, heavy), run by MediaPipe's Tasks API (never "
        "downloaded); unset = shipped model"
    )
    min_detection_confidence: float = Field(
        0.5, ge=0, le=1, description="minimum person-detection confidence"
    )
    min_tracking_confidence: float = Field(
        0.5, ge=0, le=1, description="minimum landmark-tracking confidence"
    )
    smooth_landmarks: bool = Field(
        False, description="MediaPipe's own landmark smoothing across frames (shipped "
        "model and model_path files): a causal filter that delays keypoints; off, as "
        "posekit smooths in 3D without delay"
    )


class FilterConfig(Section):
    """[filter]: 2D pre-filter before triangulation (Anipose's section and keys)."""

    enabled: bool = Field(False, description="filter 2D keypoints before triangulation")
    type: str = Field("medfilt", description='filter type: "medfilt" (running median)')
    medfilt: int = Field(13, description="median filter window, frames (odd)")
    offset_threshold: float = Field(
        25, description="points further than this (pixels) from the running median are "
        "dropped as jumps"
    )
    score_threshold: float = Field(0.05, description="drop 2D points below this score")
    spline: bool = Field(True, description="spline-interpolate removed points")
    max_offset: float = Field(5, description="Anipose key (accepted)")
    threshold_distance: float = Field(20, description="Anipose key (accepted)")
    n_back: int = Field(4, description="Anipose key (accepted)")
    multiprocessing: bool = Field(False, description="Anipose key (accepted)")


class Filter3dConfig(Section):
    """[filter3d]: 3D post-filter after triangulation (Anipose's section, more types)."""

    enabled: bool = Field(False, description="filter 3D keypoints after triangulation")
    type: Literal["medfilt", "butterworth"] = Field(
        "butterworth", description='"butterworth" (zero-phase low-pass) or "medfilt"'
    )
    cutoff_hz: float = Field(6.0, gt=0, description="Butterworth cut-off frequency, Hz")
    order: int = Field(4, ge=1, le=8, description="Butterworth filter order")
    medfilt: int = Field(7, description="median filter window, frames")
    offset_threshold: float = Field(40, description="jump threshold, 3D units")
    n_back: int = Field(5, description="Anipose key (accepted)")
    score_threshold: float = Field(0.1, description="Anipose key (accepted)")
    error_threshold: float = Field(100, description="Anipose key (accepted)")


class TriangulationConfig(Section):
    """[triangulation]: camera naming and 3D reconstruction."""

    cam_regex: str = Field(
        "-(cam[A-Za-z0-9]+)$",
        description="regex on the video file name (no extension) whose first group is the "
        "camera name; the trial name is the file name with the match removed",
    )
    triangulate: bool = Field(True, description="run triangulation in run-all")
    cam_align: str | None = Field(None, description="Anipose key: camera to align axes to")
    ransac: bool = Field(False, description="Anipose key: RANSAC camera selection")
    optim: bool = Field(True, description="spatiotemporal optimisation")
    constraints: list[list[str]] = Field(
        default_factory=list, description="pairs of keypoints with a fixed distance (strong)"
    )
    constraints_weak: list[list[str]] = Field(
        default_factory=list, description="pairs of keypoints with a fixed distance (weak)"
    )
    scale_smooth: float = Field(
        2.8, ge=0, description="weight of the smoothness term (per millimetre of the "
        "n-th frame-to-frame difference, as Anipose)"
    )
    smooth_threshold: float = Field(
        0.5, gt=0, description="weighted smoothness residual above which it grows linearly, "
        "not quadratically, so that fast movements are not flattened"
    )
    scale_smooth_higher: float = Field(
        4.0, ge=0, description="weight of a second smoothness term on the next difference "
        "(n_deriv_smooth + 1: jerk by default); 0 = off"
    )
    smooth_threshold_higher: float = Field(
        0.15, gt=0, description="robust scale of that second smoothness term"
    )
    scale_length: float = Field(2.0, ge=0, description="weight of strong length constraints")
    scale_length_weak: float = Field(1.0, ge=0, description="weight of weak length constraints")
    reproj_error_threshold: float = Field(
        15.0, gt=0, description="pixels: scale of the robust loss on reprojection errors; views "
        "3x further off are ignored (the outlier test also adapts to the trial's noise)"
    )
    outlier_rejection: bool = Field(
        True, description="drop each point's views that disagree with the others"
    )
    swap_repair: bool = Field(
        True, description="undo left/right swaps of a camera's detections (needs 3+ cameras)"
    )
    lengths: dict[str, float] = Field(
        default_factory=dict,
        description='known segment lengths in 3D units, e.g. {"left_hip-left_knee" = 410}; '
        "others are estimated from the data",
    )
    max_gap: int = Field(
        15, ge=0, description="frames without any agreeing view bridged by the optimiser; "
        "longer gaps are NaN"
    )
    score_threshold: float = Field(
        0.5, ge=0, le=1, description="2D points with a lower score are not used"
    )
    subframe: bool = Field(
        True, description="use the sync step's sub-frame offsets (cameras not in step with "
        "the reference), and the frame times of cameras at another rate (29.97 among 30 "
        "fps): each camera's 2D is interpolated to the reference camera's instants "
        "(docs/triangulation.md); false = the nearest whole frame"
    )
    n_deriv_smooth: int = Field(2, ge=1, le=4, description="time derivative that is smoothed")
    reference_point: str | None = Field(None, description="keypoint placed at the origin")
    axes: list[list[str]] = Field(
        default_factory=list,
        description='axis alignment, e.g. [["x", "left_hip", "right_hip"], ["z", ...]]',
    )
    formats: list[Literal["csv", "trc", "c3d", "nwb"]] = Field(
        ["csv", "trc", "c3d"], description="3D outputs besides the quality files: Anipose's "
        'CSV layout, TRC (OpenSim), C3D, and "nwb": NWB with ndx-pose (needs '
        'pip install "posekit[nwb]")'
    )
    optim_chunking: bool = Field(True, description="optimise long recordings in chunks")
    optim_chunking_size: int = Field(
        2000, gt=0, description="frames per optimisation chunk (chunks overlap and are "
        "cross-faded; the cost is linear either way, and chunks of this size keep the "
        "working arrays small: about 15 % faster than 5000 and as accurate)"
    )


class SyncConfig(Section):
    """[sync]: per-camera frame offsets."""

    enabled: bool = Field(True, description="estimate offsets in run-all")
    max_lag_s: float = Field(10.0, gt=0, description="largest offset searched, seconds")
    offsets: dict[str, int] = Field(
        default_factory=dict,
        description="fixed offsets by camera name (frames); set all to 0 for hardware sync",
    )
    frame_times: bool = Field(
        True,
        description="place each camera's frames by their timestamps, with empty frames where "
        "a camera dropped some (calibration, sync, triangulation); false = frame i is a "
        "video's i-th decoded frame, for videos whose timestamps are wrong",
    )


def _mediapipe_angles() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for side, other in (("left", "right"), ("right", "left")):
        out.update({
            f"{side}_knee": [f"{side}_hip", f"{side}_knee", f"{side}_ankle"],
            f"{side}_hip": [f"{side}_shoulder", f"{side}_hip", f"{side}_knee"],
            f"{side}_elbow": [f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"],
            f"{side}_shoulder": [f"{side}_hip", f"{side}_shoulder", f"{side}_elbow"],
            f"{side}_ankle": [f"{side}_knee", f"{side}_ankle", f"{side}_foot_index"],
            f"{side}_trunk": [f"{side}_shoulder", f"{side}_hip", f"{other}_hip"],
        })
    return out


#: posekit's default ``[angles]``: three-point angles of the MediaPipe skeleton (180 =
#: straight). ``<side>_trunk`` is the angle at the hip between the trunk's side
#: (hip → shoulder) and the pelvis (hip → other hip): about 90 upright, smaller when the
#: trunk bends sideways away from that side. See docs/angles.md.
DEFAULT_ANGLES: dict[str, list[str]] = _mediapipe_angles()


class AnglesFilterConfig(Section):
    """[angles_filter]: low-pass filter on the angle series themselves."""

    enabled: bool = Field(
        False, description="low-pass the angles (zero-phase Butterworth; gaps stay NaN)"
    )
    cutoff_hz: float = Field(6.0, gt=0, description="cut-off frequency, Hz (below fps / 2)")
    order: int = Field(4, ge=1, le=8, description="Butterworth filter order")


class ComputeConfig(Section):
    """[compute]: parallel execution (docs/compute.md)."""

    jobs: int = Field(
        0, ge=0, description="local worker processes; 0 = one per CPU core (ignored when "
        "run-all uses a Dask scheduler)"
    )
    scheduler: str | None = Field(
        None, description='Dask scheduler that runs run-all, e.g. "tcp://head-node:8786"; '
        'unset or "local": a local process pool'
    )

    @field_validator("scheduler")
    @classmethod
    def _scheduler_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip() or value.strip().lower() == "local":
            return None
        return value.strip()


class ReportConfig(Section):
    """[report]: the HTML pages of `posekit report` (docs/report.md)."""

    plotly_js: Literal["inline", "shared"] = Field(
        "inline", description='"inline": every page carries plotly.js (about 4.8 MB) and '
        'opens on its own, offline or mailed; "shared": one plotly.min.js in the reports '
        "folder, which the pages load by relative path (for studies with many trials: "
        "keep the folder together)"
    )


class PipelineConfig(Section):
    """[pipeline]: folder names inside each session (Anipose's names by default)."""

    videos_raw: str = Field("videos-raw", description="raw videos of the trials")
    pose_2d: str = Field("pose-2d", description="2D keypoints per video")
    pose_2d_filter: str = Field("pose-2d-filtered", description="filtered 2D keypoints")
    sync: str = Field("sync", description="per-trial sync.toml files")
    pose_3d: str = Field("pose-3d", description="3D keypoints per trial")
    pose_3d_filter: str = Field("pose-3d-filtered", description="filtered 3D keypoints")
    angles: str = Field("angles", description="joint angles per trial")
    summaries: str = Field("summaries", description="project-wide summary tables")
    calibration_videos: str = Field(
        "calibration", description="folder with calibration videos, searched upward"
    )
    calibration_results: str = Field(
        "calibration", description="folder (beside it) that receives calibration.toml"
    )
    videos_labeled_2d: str = Field("videos-labeled", description="2D labeled videos")
    videos_labeled_2d_filter: str = Field(
        "videos-labeled-filtered", description="filtered 2D labeled videos"
    )
    videos_labeled_3d: str = Field("videos-3d", description="3D labeled videos")
    videos_labeled_3d_filter: str = Field(
        "videos-3d-filtered", description="filtered 3D labeled videos"
    )
    videos_combined: str = Field("videos-combined", description="combined videos")
    videos_compare: str = Field("videos-compare", description="comparison videos")
    reports: str = Field("reports", description="HTML reports and figures")


class ManualVerificationConfig(Section):
    """[manual_verification]: Anipose key (accepted, not used)."""

    manually_verify: bool = Field(False, description="Anipose key (accepted, not used)")


class LabelingConfig(Section):
    """[labeling]: skeleton lines drawn on labeled videos."""

    scheme: list[list[str]] = Field(
        default_factory=list, description="lists of keypoints joined by lines"
    )


class CameraOptions(Section):
    """[cameras.<name>]: per-camera options (Anipose's crop offset)."""

    offset: list[int] | None = Field(None, description="crop [x, y, width, height]")


class SkeletonSpec(Section):
    """[skeletons.<name>]: a user-defined skeleton (keypoints in the 2D files' order)."""

    keypoints: list[str] = Field(
        ..., min_length=1, description="keypoint names, in the order of the 2D files"
    )
    bones: list[tuple[str, str]] = Field(
        default_factory=list, description="pairs of keypoints joined by a bone"
    )

    @field_validator("keypoints")
    @classmethod
    def _unique_keypoints(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for name in value:
            if not name.strip() or name != name.strip() or any(c in name for c in "\t\r\n"):
                raise ValueError(f"keypoint {name!r}: a name must not be empty, start or end "
                                 "with a space, or hold tabs or line breaks (the 3D exports "
                                 "could not keep it)")
            if name in seen:
                raise ValueError(f"keypoint {name!r} is listed twice")
            seen.add(name)
        return value

    @field_validator("bones")
    @classmethod
    def _bones_name_keypoints(cls, value: list[tuple[str, str]], info: ValidationInfo
                              ) -> list[tuple[str, str]]:
        keypoints = info.data.get("keypoints")
        if keypoints is None:  # keypoints invalid: already reported
            return value
        for bone in value:
            for name in bone:
                if name not in keypoints:
                    raise ValueError(f"bone {list(bone)} names {name!r}, which is not one of "
                                     "the keypoints")
        return value


class Config(Section):
    """The whole configuration, as resolved for one trial (or the project)."""

    project: str | None = Field(None, description="project name (default: the folder name)")
    path: str | None = Field(None, description="Anipose key: project path (accepted, not used)")
    model_folder: str | None = Field(
        None, description="Anipose key: DeepLabCut model folder (accepted, not used)"
    )
    nesting: int = Field(
        1, ge=-1, description="folder levels between the project and a session "
        "(0 = the project is the session, -1 = any depth)"
    )
    video_extension: str = Field(
        "auto", description='video file extension, or "auto" for mp4/avi/mov/mkv/webm/mpg/m4v'
    )
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)  # type: ignore[arg-type]
    detection: DetectionConfig = Field(default_factory=DetectionConfig)  # type: ignore[arg-type]
    filter: FilterConfig = Field(default_factory=FilterConfig)  # type: ignore[arg-type]
    filter3d: Filter3dConfig = Field(default_factory=Filter3dConfig)  # type: ignore[arg-type]
    triangulation: TriangulationConfig = Field(default_factory=TriangulationConfig)  # type: ignore[arg-type]
    sync: SyncConfig = Field(default_factory=SyncConfig)  # type: ignore[arg-type]
    angles: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ANGLES.items()},
        description="joint angles in degrees, as Anipose writes them: name = [a, b, c] is "
        'the angle at b between b→a and b→c (180 = straight); ["axis", a, b, c], '
        '["cross-axis", a, b, c] and ["chain", k1, k2, ...] as in Anipose (docs/angles.md); '
        "a table of your own replaces this default MediaPipe set",
    )
    angle_conventions: dict[str, Literal["inner", "flexion"]] = Field(
        default_factory=dict,
        description='per three-point angle: "inner" (the default, 180 = straight) or '
        '"flexion" (180 - inner: 0 = straight)',
    )
    angles_filter: AnglesFilterConfig = Field(default_factory=AnglesFilterConfig)  # type: ignore[arg-type]
    compute: ComputeConfig = Field(default_factory=ComputeConfig)  # type: ignore[arg-type]
    report: ReportConfig = Field(default_factory=ReportConfig)  # type: ignore[arg-type]
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)  # type: ignore[arg-type]
    manual_verification: ManualVerificationConfig = Field(
        default_factory=ManualVerificationConfig  # type: ignore[arg-type]
    )
    labeling: LabelingConfig = Field(default_factory=LabelingConfig)  # type: ignore[arg-type]
    cameras: dict[str, CameraOptions] = Field(
        default_factory=dict, description="per-camera options, [cameras.<name>]"
    )
    skeletons: dict[str, SkeletonSpec] = Field(
        default_factory=dict,
        description='user-defined skeletons: [skeletons.<name>] keypoints = ["a", "b", ...] '
        '(the order of the 2D files), bones = [["a", "b"], ...]',
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain dict of every value (None values dropped, as TOML has no null)."""
        return self.model_dump(mode="json", exclude_none=True)
