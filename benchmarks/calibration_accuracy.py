"""Benchmark: posekit vs aniposelib calibration accuracy on rendered ChArUco videos.

For each case (rig size x seed) the rig of :func:`posekit.synthetic.rig.make_rig` (its own
focal length, off-centre principal point and k1/k2 distortion per camera, 1080p and 720p)
watches the default board (5x7 squares, 0.12 m, DICT_4X4_50) moved by
:func:`posekit.synthetic.board_paths.calibration_session` (a sweep in front of each camera,
then a pass through the volume); one mp4 per camera is rendered into ``<out>/<case>/`` and
kept, so a rerun skips rendering. Both tools then calibrate from the same videos:

- posekit: ``detect_all`` (one thread per camera, up to the CPU count) + ``calibrate``;
- aniposelib 0.8.0, twice: as ``calibrate_videos`` runs (``get_rows_videos`` +
  ``calibrate_rows``, split to time detection and calibration apart; its detection probes
  every 20th frame and follows runs of detections), and with the board searched in every
  frame (``board.detect_video(..., skip=1)`` + ``calibrate_rows``).

Each result is scored against the true rig with
:func:`posekit.synthetic.evaluate.compare_calibrations`. "triangulated px" is one metric
for both tools: posekit's corners of every frame seen by >= 2 cameras are triangulated
with the tool's cameras and reprojected (median error per camera); "board mm" is the
median |error| of triangulated neighbouring-corner distances against the 120 mm squares.

Run from the repository root::

    python benchmarks/calibration_accuracy.py --out /tmp/calbench           # full run
    python benchmarks/calibration_accuracy.py --cams 3 --frames 150 --skip-anipose

The Markdown tables go to stdout and to ``<out>/calibration_accuracy.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import tempfile
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from posekit.calibration.board import Board
from posekit.calibration.calibrate import board_distance_check, calibrate
from posekit.calibration.detect import CameraDetections, detect_all
from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import load_calibration, save_calibration
from posekit.config.schema import CalibrationConfig
from posekit.io.atomic import write_text_atomic
from posekit.synthetic.board_paths import calibration_session
from posekit.synthetic.charuco import BoardSpec, render_calibration_videos
from posekit.synthetic.evaluate import CalibrationErrors, compare_calibrations
from posekit.synthetic.rig import make_rig
from posekit.triangulation.dlt import triangulate

FPS = 30.0
SPEC = BoardSpec()  # 5x7 squares, 0.12 m squares, 0.08 m markers, DICT_4X4_50
BOARD = Board(size=(5, 7), square_length=0.12, marker_length=0.08, units="m")
CONFIG = CalibrationConfig(board_size=(5, 7), board_square_side_length=0.12,
                           board_marker_length=0.08, units="m")
#: acceptance targets: focal %, principal point px, rotation °, translation mm/m, |scale-1| %
TARGETS = {"focal": 0.3, "principal": 2.0, "rotation": 0.1, "translation": 2.0, "scale": 0.2}
#: aniposelib runs: option value → (table label, detect_video skip; None = its default)
ANIPOSE_MODES = {"default": ("aniposelib calibrate_videos", None),
                 "every": ("aniposelib every frame", 1)}


def md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def render_case(case_dir: Path, rig: CameraGroup, n_frames: int, seed: int) -> list[Path]:
    """The case's videos, rendered unless all of them and the truth are there already."""
    paths = [case_dir / f"calib-{name}.mp4" for name in rig.names]
    if all(p.is_file() for p in paths) and (case_dir / "charuco_truth.npz").is_file():
        print(f"{case_dir.name}: using the cached videos")
        return paths
    start = time.perf_counter()
    poses = calibration_session(rig, SPEC, n_frames, seed)
    paths, _ = render_calibration_videos(rig, SPEC, case_dir, n_frames=n_frames, fps=FPS,
                                         seed=seed, cam_pattern="calib-{name}.mp4", poses=poses)
    print(f"{case_dir.name}: rendered in {time.perf_counter() - start:.0f} s")
    return paths


def triangulated_px(group: CameraGroup, dets: dict[str, CameraDetections]) -> list[float]:
    """Median reprojection error (px) per camera of corners triangulated from >= 2 views."""
    n_frames = max(d.n_frames for d in dets.values())
    pts2d = np.stack([dets[c].padded(n_frames) for c in group.names])
    err = np.linalg.norm(group.project(triangulate(group, pts2d)) - pts2d, axis=-1)
    return [float(np.nanmedian(e)) for e in err]


def run_posekit(paths: list[Path], rig: CameraGroup, case_dir: Path) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    dets = detect_all(dict(zip(rig.names, paths, strict=True)), BOARD, jobs=0, progress=False)
    mid = time.perf_counter()
    out = {"dets": dets, "detect_s": mid - wall, "detect_cpu_s": time.process_time() - cpu}
    try:
        # as `posekit calibrate` runs it: video offsets searched within ±10 s
        result = calibrate(dets, BOARD, CONFIG, max_lag=round(10 * FPS))
    except Exception as exc:  # reported in the table, the other tools still run
        text = " ".join(str(exc).split())  # OpenCV puts the reason last
        return {**out, "failed": f"{type(exc).__module__}.{type(exc).__name__}: …{text[-110:]}"}
    out["calib_s"] = time.perf_counter() - mid
    save_calibration(result.group, case_dir / "posekit-calibration.toml")
    return {**out, "group": result.group,
            "offsets": result.offsets,
            "own_px": " / ".join(f"{result.quality[n].median_px:.3f}" for n in rig.names),
            "views": [result.quality[n].bundle_views for n in rig.names]}


def run_aniposelib(paths: list[Path], rig: CameraGroup, case_dir: Path, seed: int,
                   skip: int | None) -> dict[str, Any]:
    """``skip=None``: detection as ``calibrate_videos`` runs it; ``skip=1``: every frame."""
    from aniposelib.boards import CharucoBoard
    from aniposelib.cameras import CameraGroup as AniGroup

    board = CharucoBoard(5, 7, square_length=0.12, marker_length=0.08, marker_bits=4,
                         dict_size=50)
    cgroup = AniGroup.from_names(rig.names)
    videos = [[str(p)] for p in paths]
    np.random.seed(seed)  # aniposelib resamples points with numpy's global generator
    with contextlib.redirect_stdout(io.StringIO()):  # calibrate_rows prints unconditionally
        start, cpu = time.perf_counter(), time.process_time()
        rows = (cgroup.get_rows_videos(videos, board, verbose=False) if skip is None else
                [board.detect_video(v[0], prefix=0, skip=skip) for v in videos])
        cgroup.set_camera_sizes_videos(videos)
        mid = time.perf_counter()
        out = {"detect_s": mid - start, "detect_cpu_s": time.process_time() - cpu,
               "views": [len(r) for r in rows]}
        try:
            error = cgroup.calibrate_rows(rows, board, verbose=False)
        except ValueError as exc:  # e.g. "Could not build calibration graph"
            text = " ".join(str(exc).split())
            brief = text.split(".")[0] + (" " + text[text.index("{"):] if "{" in text else "")
            return {**out, "failed": brief}
    out["calib_s"] = time.perf_counter() - mid
    toml_path = case_dir / f"aniposelib-{'default' if skip is None else 'every'}.toml"
    cgroup.dump(str(toml_path))
    return {**out, "group": load_calibration(toml_path), "own_px": f"{error:.3f}"}


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}" if np.isfinite(value) else "–"


def worst(err: CalibrationErrors) -> dict[str, float]:
    return {"focal": float(err.focal_pct.max()), "principal": float(err.principal_px.max()),
            "rotation": float(err.rotation_deg.max()),
            "translation": float(err.translation_per_m.max()),
            "scale": abs(err.scale - 1.0) * 100}


def case_tables(title: str, rig: CameraGroup, res: dict[str, dict[str, Any]]) -> str:
    summary, rows = [], []
    for tool, r in res.items():
        detect = f"{r['detect_s']:.1f} (CPU {r['detect_cpu_s']:.1f})"
        if "failed" in r:
            summary.append([tool, "failed: " + r["failed"], *["–"] * 6, detect, "–", "–", "–"])
            continue
        w = worst(r["err"])
        misses = [k for k in TARGETS if not w[k] < TARGETS[k]]
        summary.append([
            tool, f"{r['err'].scale:.5f}", fmt(w["focal"], 3), fmt(w["principal"]),
            fmt(w["rotation"], 3), fmt(w["translation"]), r["own_px"],
            fmt(r["board"].get("median_abs_mm", np.nan), 3), detect, f"{r['calib_s']:.1f}",
            f"{r['detect_s'] + r['calib_s']:.1f}",
            f"{5 - len(misses)}/5" + (f" (misses {', '.join(misses)})" if misses else "")])
    for i, cam in enumerate(rig):
        for tool, r in ((t, r) for t, r in res.items() if "failed" not in r):
            e = r["err"]
            rows.append([cam.name, f"{cam.size[0]}×{cam.size[1]}", tool,
                         fmt(e.focal_pct[i], 3), fmt(e.principal_px[i]),
                         fmt(e.rotation_deg[i], 3), fmt(e.translation_per_m[i]),
                         fmt(r["tri_px"][i], 3), str(r["views"][i])])
    sum_header = ["tool", "scale", "worst focal %", "worst principal px", "worst rotation °",
                  "worst translation mm/m", "own reprojection median px", "board mm",
                  "detect s", "calibrate s", "total s", "targets met"]
    header = ["camera", "size", "tool", "focal %", "principal px", "rotation °",
              "translation mm/m", "triangulated px", "boards"]
    return (f"### {title}\n\n" + md_table(sum_header, summary) + "\n\n"
            + md_table(header, rows) + "\n")


def run_case(out: Path, n_cams: int, n_frames: int, seed: int, anipose: list[str]) -> str:
    rig = make_rig(n_cams, seed)
    case_dir = out / f"cams{n_cams}-f{n_frames}-seed{seed}"
    paths = render_case(case_dir, rig, n_frames, seed)
    res = {"posekit": run_posekit(paths, rig, case_dir)}
    for label, skip in (ANIPOSE_MODES[mode] for mode in anipose):
        res[label] = run_aniposelib(paths, rig, case_dir, seed, skip)
    dets = res["posekit"]["dets"]
    for tool, r in res.items():
        if "failed" in r:
            print(f"{case_dir.name} {tool}: FAILED {r['failed']}")
            continue
        group = r["group"].subset(rig.names)
        r["err"] = compare_calibrations(group, rig)
        r["tri_px"] = triangulated_px(group, dets)
        r["board"] = board_distance_check(group, BOARD, dets)
        print(f"{case_dir.name} {tool}: detect {r['detect_s']:.1f} s, calibrate "
              f"{r['calib_s']:.1f} s, worst {worst(r['err'])}"
              + (f", video offsets {r['offsets']}" if "offsets" in r else ""))
    return case_tables(f"{n_cams} cameras × {n_frames} frames, seed {seed}", rig, res)


def versions() -> str:
    try:
        ani = version("aniposelib")
    except PackageNotFoundError:
        ani = "not installed"
    return (f"OpenCV {cv2.__version__}, aniposelib {ani}, numpy {np.__version__}, Python "
            f"{platform.python_version()}, {platform.machine()}, "
            f"{len(os.sched_getaffinity(0))} CPU cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="working folder (videos are cached there)")
    parser.add_argument("--cams", type=int, nargs="+", default=[3, 4])
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--skip-anipose", action="store_true", help="posekit only")
    parser.add_argument("--anipose", nargs="+", choices=list(ANIPOSE_MODES),
                        default=list(ANIPOSE_MODES),
                        help="aniposelib runs: default = calibrate_videos as is (probes every "
                        "20th frame), every = board searched in every frame")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="calibration_accuracy-"))
    out.mkdir(parents=True, exist_ok=True)
    targets = (f"Targets: focal < {TARGETS['focal']} %, principal point < "
               f"{TARGETS['principal']} px, rotation < {TARGETS['rotation']}°, translation < "
               f"{TARGETS['translation']} mm/m, scale within {TARGETS['scale']} %; \"worst\" is "
               "the largest over the cameras (camera 1 is the reference for rotation and "
               "translation).")
    parts = ["## Calibration accuracy: posekit vs aniposelib", "", versions(), "", targets, ""]
    for seed in args.seeds:
        for n in args.cams:  # the file is rewritten after each case
            parts.append(run_case(out, n, args.frames, seed,
                                  [] if args.skip_anipose else args.anipose))
            write_text_atomic(out / "calibration_accuracy.md", "\n".join(parts))
    print("\n" + "\n".join(parts))
    print(f"written to {out / 'calibration_accuracy.md'}")


if __name__ == "__main__":
    main()
