"""The ``calibrate`` pipeline step: one calibration folder → calibration.toml + report."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from posekit.calibration.board import Board
from posekit.calibration.calibrate import Calibration, CameraQuality, calibrate
from posekit.calibration.detect import CameraDetections, detect_all, sample_frames
from posekit.calibration.intrinsics import GRID, missed_edges
from posekit.calibration.report import write_report
from posekit.camera.toml_io import save_calibration
from posekit.config.loader import read_toml
from posekit.config.schema import TriangulationConfig
from posekit.errors import CalibrationError, ConfigError, PosekitError, ProjectError
from posekit.io.video import check_video_file, probe_video
from posekit.project.layout import natural_key, video_extensions
from posekit.project.steps import CalibrationSet

log = logging.getLogger(__name__)
DIAGNOSIS_FRAMES = 15


def check_boards(detections: dict[str, CameraDetections], board: Board, min_corners: int,
                 min_boards: int) -> None:
    """Raise a :class:`CalibrationError` that diagnoses every camera with too few views."""
    from posekit.calibration.diagnose import diagnose

    messages = []
    for name, det in detections.items():
        n = len(det.boards(min_corners))
        if n >= min_boards:
            continue
        log.info("%s: only %d views of the board; diagnosing on %d frames", name, n,
                 DIAGNOSIS_FRAMES)
        result = diagnose(board, sample_frames(det.source, DIAGNOSIS_FRAMES))
        where = name if det.source.name == name else f"{name} ({det.source.name})"
        messages.append(f"{where}: board found in {n} of {det.n_frames} frames (need "
                        f"{min_boards}). {result.message}")
    if messages:
        raise CalibrationError(f"board not found often enough with {board.describe()}:\n  "
                               + "\n  ".join(messages))


def unusable_recordings(cs: CalibrationSet, sources: Mapping[str, Path]) -> list[str]:
    """What is wrong with each entry of the calibration folder that is named like a video
    but is not a calibration recording: a folder holding no images and no video, a link
    to a missing file. Such an entry is left out of ``cs.videos()``, so without this its
    camera would silently drop out of the calibration."""
    if not cs.folder.is_dir():
        return []
    exts = video_extensions(cs.config)
    used = set(sources.values())
    problems = []
    for path in sorted(cs.folder.iterdir(), key=lambda p: natural_key(p.name)):
        if (path.name.startswith(".") or path.is_file() or path in used
                or path.suffix.lstrip(".").lower() not in exts
                or any(path in source.parents for source in used)):
            continue
        if path.is_dir():
            problems.append(f"{path}: a folder named like a video, holding no images and no "
                            "video; put the camera's calibration video (or its images) "
                            "there, or remove the folder")
            continue
        try:
            check_video_file(path)
        except PosekitError as exc:
            problems.append(str(exc))
    return problems


def configured_board(cs: CalibrationSet) -> Board:
    """The board ``[calibration]`` describes; an impossible one is a :class:`ConfigError`
    that names the config files setting ``[calibration]``."""
    try:
        return Board.from_config(cs.config.calibration)
    except ConfigError as exc:
        files = [str(p) for p in cs.config_files if "calibration" in read_toml(p)]
        raise ConfigError(f"{', '.join(files or map(str, cs.config_files))}: {exc}") from None


def _max_lag(cs: CalibrationSet, sources: Mapping[str, Path]) -> int:
    """How many frames apart the calibration videos may have been started (``[sync]
    max_lag_s`` at their frame rate); 0 when ``[calibration] sync`` is off or any camera's
    recording is a folder of images (photos are taken together)."""
    if not cs.config.calibration.sync or any(p.is_dir() for p in sources.values()):
        return 0
    fps = probe_video(next(iter(sources.values()))).fps or 30.0
    return round(cs.config.sync.max_lag_s * fps)


def run(cs: CalibrationSet, overwrite: bool = False) -> Path:
    """Calibrate the cameras of one calibration folder; returns the calibration.toml path."""
    start = time.perf_counter()
    cfg = cs.config.calibration
    sources = cs.videos()
    problems = unusable_recordings(cs, sources)
    if problems:
        raise ProjectError(f"{cs.folder}: not every calibration recording can be read:\n  "
                           + "\n  ".join(problems))
    if not sources and cs.output.is_file():
        log.warning("%s: no calibration recordings in %s, so the calibration.toml there "
                    "(imported, or made from recordings since removed) is kept as it is",
                    cs.key, cs.folder)
        return cs.output
    regex = cs.config.triangulation.cam_regex
    left_out = _unmatched_note(cs.unmatched_videos(), regex)
    if len(sources) < 2:
        found = ", ".join(f"{k}: {v.name}" for k, v in sources.items()) or "nothing"
        raise ProjectError(
            f"{cs.folder}: found {found}; calibration needs a recording per camera from at "
            f"least two cameras (videos named to match cam_regex {regex!r}, or one "
            "sub-folder of images per camera)" + (f". {left_out}" if left_out else ""))
    if left_out:
        log.warning("%s: %s", cs.key, left_out)
    board = configured_board(cs)
    log.info("%s: %d cameras, %s", cs.key, len(sources), board.describe())
    warned: list[str] = []
    detections = detect_all(sources, board, jobs=cs.config.compute.jobs,
                            frame_times=cs.config.sync.frame_times, warnings=warned)
    check_boards(detections, board, cfg.min_board_corners, cfg.min_boards)
    calib = calibrate(detections, board, cfg, max_lag=_max_lag(cs, sources))
    shape = board_shape_warning(calib)
    coverage = coverage_warnings(calib.quality,
                                 "fisheye" if cfg.fisheye else cfg.distortion_model)
    save_calibration(calib.group, cs.output)
    write_report(calib, detections, cs.output.parent, time.perf_counter() - start,
                 warnings=[*warned, *([shape] if shape else []), *coverage])
    for name, q in calib.quality.items():
        log.info("%s: reprojection median %.3f px (p95 %.3f) over %d views, %.0f %% of the "
                 "image reached by the board", name, q.median_px, q.p95_px, q.bundle_views,
                 100 * q.image_coverage)
    for text in [*([shape] if shape else []), *coverage]:
        log.warning("%s: %s", cs.key, text)
    return cs.output


def _unmatched_note(unmatched: list[Path], regex: str) -> str:
    """What to say of calibration videos in which ``regex`` finds no camera ("" if none)."""
    if not unmatched:
        return ""
    one = len(unmatched) == 1
    example = " (e.g. calibration-camA.mp4)" if regex == TriangulationConfig().cam_regex else ""
    return (f"{', '.join(p.name for p in unmatched)}: no camera name found in "
            f"{'this name' if one else 'these names'} by cam_regex {regex!r}, so "
            f"{'it is' if one else 'they are'} left out; rename them as the trials' videos "
            f"are named{example}, or set [triangulation] cam_regex")


#: a camera whose board corners reach fewer of the image's 8 x 6 cells than this share is
#: warned about: on synthetic lenses fitted with the full model, the distortion at the image
#: edges was then off by up to hundreds of px (benchmarks/calibration_coverage.py;
#: docs/calibration.md, *How much of the image the board must reach*)
MIN_IMAGE_COVERAGE = 0.5


def coverage_warnings(quality: Mapping[str, CameraQuality], model: str) -> list[str]:
    """A warning per camera (of ``quality``, a calibration's) whose board corners reached
    less than ``MIN_IMAGE_COVERAGE`` of its image (``model``: the distortion model, or
    "fisheye"): beyond
    them the lens is extrapolated, so 2D points there may be off."""
    out = []
    for name, q in quality.items():
        if q.image_coverage >= MIN_IMAGE_COVERAGE:
            continue
        edges = missed_edges(q.cells)
        out.append(
            f"{name}: the board reached only {len(q.cells)} of the image's {GRID[0] * GRID[1]} "
            f"cells (an {GRID[0]} x {GRID[1]} grid; {100 * q.image_coverage:.0f} %)"
            + (f", none near its {_listing(edges)} edge{'s' * (len(edges) > 1)}" if edges
               else "")
            + ". Beyond them the lens distortion is extrapolated, so keypoints there may "
            "be off by pixels or more"
            + (" (most with distortion_model = \"full\", the default)" if model == "full"
               else "")
            + ": record the board again closer to this camera, sweeping it into the corners "
            "and along the edges of the image (see calibration_coverage.png)"
            + (", or set distortion_model = \"k1k2\", which extrapolates more gently"
               if model == "full" else ""))
    return out


def _listing(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


#: the board triangulated with a calibration should keep its squares' size to better than
#: this (median error over neighbouring corners, relative): good calibrations of the test
#: and example recordings stay under 0.4 %
BOARD_SHAPE_TOLERANCE = 0.01


def board_shape_warning(calib: Calibration) -> str | None:
    """A warning when the board, triangulated with the new calibration, does not keep its
    shape (a sign of a wrong calibration: videos not synchronised, board lengths in the
    config that do not match the printed board, a camera that zoomed or refocused)."""
    bd = calib.board_distance
    if not bd.get("pairs") or bd["median_abs_mm"] <= BOARD_SHAPE_TOLERANCE * bd["square_mm"]:
        return None
    unsynced = [n for n in calib.notes if "could not be measured" in n]
    return (f"the calibration looks wrong: triangulated with it, the board's neighbouring "
            f"corners are {bd['median_abs_mm']:.3g} mm off the {bd['square_mm']:.4g} mm "
            f"square in the median (p95 {bd['p95_abs_mm']:.3g} mm; a good calibration keeps "
            "well under 1 %). Check that the calibration videos are synchronised"
            + (" (posekit could not measure their offsets: " + "; ".join(unsynced) + ")"
               if unsynced else "")
            + ", that the square and marker lengths in [calibration] are the printed board's "
            "(measure a square), that no camera zoomed or refocused while recording, and "
            "see the calibration report")
