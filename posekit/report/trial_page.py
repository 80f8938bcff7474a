"""A trial's page of ``posekit report``: ``<project>/<pipeline.reports>/<session>/<trial>.html``.

It holds the summary, the steps' warnings, an animated 3D skeleton viewer, the calibration
(cameras seen from above, also written as ``<trial>.cameras.png`` beside the page for
papers), the 2D detection, the sync offsets and plot, the triangulation quality and the
angles. Figures are plotly's; existing PNGs are embedded as base64 images. The page
records in its head how it was made, so that a re-run can keep it while it is up to date
(:func:`up_to_date_report`).
"""

from __future__ import annotations

import functools
import hashlib
import html
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from posekit import __version__
from posekit.calibration.report import REPORT_FILES, read_report, world_frame_text
from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import load_calibration
from posekit.io.atomic import write_text_atomic
from posekit.project.layout import Project, Trial
from posekit.project.runner import paths_freshness
from posekit.project.steps import (
    CalibrationSet,
    angles_path,
    calibration_set,
    pose_2d_path,
    pose_3d_path,
    pose_3d_quality_path,
    sync_path,
)
from posekit.report import figures
from posekit.report.calibration_page import (
    calibration_page_path,
    stale_note,
)
from posekit.report.data import (
    CameraDetection,
    TrialResults,
    bones_for,
    detections,
    load_results,
    read_toml,
    trial_warnings,
    truth_path,
)
from posekit.report.page import (
    Figures,
    img,
    link,
    page,
    page_meta,
    percent,
    plotly_script,
    sections,
    table,
)
from posekit.sync.step import LOW_CONFIDENCE
from posekit.triangulation.align import undo_alignment
from posekit.triangulation.export import Points3D

log = logging.getLogger(__name__)


def reports_dir(project: Project) -> Path:
    return project.root / project.config.pipeline.reports


def report_path(trial: Trial) -> Path:
    root = reports_dir(trial.session.project)
    return root.joinpath(*trial.session.parts) / f"{trial.name}.html"


def headline(res: TrialResults, warnings: int = 0) -> dict[str, Any]:
    """The figures the index shows for a trial."""
    q = res.quality
    return {"frames": len(res.data.fnum), "cameras": len(q.get("cameras", {})),
            "median_error_px": q.get("median_error_px"), "valid_share": q.get("valid_share"),
            "truth_error": res.truth_error(), "units": res.units, "warnings": warnings}


def _warnings_section(warned: Sequence[tuple[str, str]]) -> str:
    if not warned:
        return "<p class=\"ok\">None: no step warned about this trial.</p>"
    items = "".join(f"<li><b>{html.escape(step)}</b>: {html.escape(msg)}</li>"
                    for step, msg in warned)
    return (f"<p>{len(warned)} warning(s) from the steps (also in their output files and "
            f"logs); check them before using the results:</p><ul class=\"warn\">{items}</ul>")


def _world_note(world: str, first: str, data: Points3D) -> str:
    """What the 3D's coordinates mean: the calibration's world frame (``world`` as its
    report gives it, "" for an imported one) and any re-alignment of the 3D file."""
    text = world_frame_text(world, first)
    if not (np.allclose(data.M, np.eye(3)) and np.allclose(data.center, 0.0)):
        text += (" The 3D file is re-aligned from it by [triangulation] axes and "
                 "reference_point (aligned = points @ M.T - center, its M and center columns).")
    return f"<p class=\"note\">{html.escape(text)}</p>"


def _cameras_up(full: CameraGroup | None, trial: Trial, res: TrialResults
                ) -> figures.FloatArray | None:
    """The trial's cameras' up direction (:func:`figures.cameras_up`; ``full``: the
    calibration) in the 3D file's frame (re-aligned by [triangulation] axes like the
    points); None without a calibration."""
    up = None if full is None else figures.cameras_up(full.subset(trial.cameras))
    return None if up is None else res.data.M @ up


def _coverage_table(report: Mapping[str, Any], quality: Mapping[str, Any]) -> str:
    """Per camera: how much of its image the calibration board reached, and how many of
    this trial's keypoints lie where it did not (the lens extrapolated there)."""
    cameras, used = report.get("cameras", {}), quality.get("cameras", {})
    if not any("image_coverage" in c for c in cameras.values()):
        return ""  # a report from before 2026-12-07
    rows = [[cam, percent(cameras.get(cam, {}).get("image_coverage")),
             percent(info.get("outside_calibration_share")),
             cameras.get(cam, {}).get("reprojection_median_px")]
            for cam, info in used.items()]
    return table(["camera", "image reached by the board", "keypoints where it was not",
                   "calibration reprojection median (px)"], rows)


def _calibration_section(trial: Trial, cs: CalibrationSet | None, full: CameraGroup | None,
                         res: TrialResults, fig: Figures, png: Path) -> str:
    """``cs``: the trial's calibration set; ``full``: its calibration (None: none yet)."""
    if cs is None or full is None:
        return "<p class=\"note\">No calibration found.</p>"
    group = full.subset(trial.cameras)
    world = undo_alignment(res.data.points, res.data.M, res.data.center)
    figures.top_view_png(group, world, png, res.units)
    parts = [fig(figures.cameras_top_view(group, world, res.units), "cameras")]
    report, stale = read_report(cs.output)
    parts.append(_world_note(str((report or {}).get("world", "")), full.names[0], res.data))
    href = link(calibration_page_path(cs, reports_dir(cs.project)), report_path(trial).parent)
    parts.append(f"<p>All of this calibration's figures, for every camera: <a href=\""
                 f"{html.escape(href)}\">{html.escape(cs.key)}</a>.</p>")
    if stale:
        parts.append(stale_note(cs.output))
    elif report is not None:
        parts.append(_coverage_table(report, res.quality))
        parts.append(fig(figures.calibration_errors(report), "calibration-errors"))
        parts.append(img(cs.output.with_name("calibration_coverage.png"),
                          "calibration coverage"))
    else:
        parts.append(f"<p class=\"note\">{html.escape(str(cs.output))} was not made from "
                     "board recordings by <code>posekit calibrate</code> (imported, or its "
                     "report was removed), so there is no calibration report: no "
                     "reprojection error per camera and no corner coverage image.</p>")
    return "".join(parts)


def _detection_section(found: Sequence[CameraDetection]) -> str:
    """Per camera: its 2D file, the frames with the person (in red below half) and the
    detector that made it."""
    if not found:
        return "<p class=\"note\">No 2D files found: run <code>posekit detect</code>.</p>"
    rows = []
    for d in found:
        share = d.with_person / d.frames if d.frames else 0.0
        cell = f"{d.with_person} of {d.frames} ({100 * share:.0f} %)"
        if share < 0.5:
            cell = f"<span class=\"warn\">{cell}</span>"
        rows.append(f"<tr><td>{html.escape(d.camera)}</td><td>{html.escape(d.file)}</td>"
                    f"<td>{cell}</td><td>{html.escape(d.source)}</td></tr>")
    return ("<table><tr><th>camera</th><th>2D file</th><th>frames with the person</th>"
            "<th>made by</th></tr>" + "".join(rows) + "</table>")


def _sync_section(trial: Trial, res: TrialResults) -> str:
    """The offsets the 3D was made with and, from the sync file, their confidence (low
    ones in red) and the geometry's sub-frame values."""
    offsets = res.quality.get("offsets", {})
    record = read_toml(sync_path(trial))
    confidence, subframe = record.get("confidence", {}), record.get("subframe", {})
    spread = record.get("subframe_se", {})  # standard errors (posekit since 2026-12-07)
    rows = []
    for cam, offset in offsets.items():
        conf = confidence.get(cam)
        cell = "–" if conf is None else f"{float(conf):.2f}"
        if conf is not None and float(conf) < LOW_CONFIDENCE:
            cell = f"<span class=\"warn\">{cell} (low)</span>"
        sub, se = subframe.get(cam), spread.get(cam)
        value = "–" if sub is None else f"{float(sub):+.2f}"
        if sub is not None and se is not None:
            value += f" ± {float(se):.2f}"
        rows.append(f"<tr><td>{html.escape(cam)}</td><td>{int(offset)}</td><td>{cell}</td>"
                    f"<td>{value}</td></tr>")
    text = ("<table><tr><th>camera</th><th>offset (frames)</th><th>confidence</th>"
            "<th>sub-frame offset</th></tr>" + "".join(rows) + "</table>") if rows else ""
    source = res.quality.get("offsets_source")
    method = f", method: {record['method']}" if "method" in record else ""
    used = res.quality.get("subframe") or {}  # the fractions triangulation applied
    how = ""
    if used:
        how = (f"; the 3D interpolates the 2D of {', '.join(sorted(used))} to the reference "
               "camera's instants by their sub-frame offsets")
    elif subframe:
        how = "; the 3D uses whole frames"
    clocked = res.quality.get("interpolated_to_clock") or []  # cameras at another rate
    if clocked:
        how += (f"; the 3D interpolates the 2D of {', '.join(clocked)}, recorded at another "
                "frame rate, to the instants of the trial's clock")
    note = (f"<p class=\"note\">offsets from {html.escape(str(source))}"
            f"{html.escape(method + how)}</p>") if source else ""
    return text + note + img(sync_path(trial).with_suffix(".png"), "sync plot",
                              "No sync plot: the offsets were not estimated from the 2D "
                              "(set in [sync], sync disabled, or posekit sync not run).")


def _quality_section(res: TrialResults, fig: Figures) -> str:
    data, q = res.data, res.quality
    gaps = figures.longest_gaps(data.points)
    rows = [[kp, info.get("median_error_px"), info.get("mean_cameras"),
             percent(info.get("valid_share")), int(gaps[j]) if j < len(gaps) else None]
            for j, (kp, info) in enumerate(q.get("keypoints", {}).items())]
    cams = [[c, i.get("median_error_px"), percent(i.get("used_share")),
             i.get("swapped_frames")] for c, i in q.get("cameras", {}).items()]
    parts = [fig(figures.quality_bars(q), "quality") if q else "",
             fig(figures.error_heatmap(data.errors, data.keypoints, data.fnum), "errors"),
             "<h3>per camera</h3>",
             table(["camera", "median error (px)", "detections used", "swapped frames"], cams),
             "<h3>per keypoint</h3>",
             table(["keypoint", "median error (px)", "cameras used (mean)", "frames with 3D",
                     "longest gap (frames)"], rows)]
    return "".join(parts)


def _angles_section(trial: Trial, fig: Figures) -> str:
    path = angles_path(trial)
    if not path.is_file():
        return "<p class=\"note\">No angles yet: run <code>posekit angles</code>.</p>"
    table = pd.read_csv(path)
    tpath = truth_path(trial, "angles")
    truth = pd.read_csv(tpath) if tpath.is_file() else None
    return fig(figures.angle_lines(table, truth), "angles") + img(path.with_suffix(".png"),
                                                                    "angles")


def page_inputs(trial: Trial) -> list[Path]:
    """The files a trial's page is made from that exist: its 2D, sync, 3D and angles
    files with their plots, its calibration with the calibration's report, the ground
    truth of a synthetic trial, and its config files."""
    paths = [*(pose_2d_path(trial, cam) for cam in trial.cameras), sync_path(trial),
             sync_path(trial).with_suffix(".png"), pose_3d_path(trial),
             pose_3d_quality_path(trial), angles_path(trial),
             angles_path(trial).with_suffix(".png"), truth_path(trial),
             truth_path(trial, "angles"), *trial.config_files]
    cs = calibration_set(trial)
    if cs is not None:
        paths += [cs.output, *(cs.output.with_name(name) for name in REPORT_FILES)]
    return [p for p in paths if p.is_file()]


@functools.cache
def code_version() -> str:
    """posekit's version and a digest of the code that makes the pages (this package's
    modules), so that pages made by other code, a development version's included, are
    made again."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return f"{__version__}+{digest.hexdigest()[:12]}"


def _made_with(trial: Trial, script: str | None, inputs: Sequence[Path]) -> dict[str, Any]:
    """What a trial's page records about how it was made, besides its headline: the
    code that made it, where plotly.js comes from and the input files that existed
    (``inputs``: :func:`page_inputs`)."""
    root = trial.session.project.root
    return {"posekit": code_version(), "plotly": script or "inline",
            "inputs": [p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)
                       for p in inputs]}


def _page_script(trial: Trial, shared: bool) -> str | None:
    return plotly_script(report_path(trial), reports_dir(trial.session.project)) \
        if shared else None


def up_to_date_report(trial: Trial, shared: bool = False) -> dict[str, Any] | None:
    """The headline figures of the trial's page when it is up to date (made by this
    posekit, with plotly.js where ``shared`` puts it, from the same input files, every one
    older than the page), else None: the page must be made again."""
    out = report_path(trial)
    meta = page_meta(out)
    if meta is None or not isinstance(meta.get("headline"), dict):
        return None
    inputs = page_inputs(trial)
    made_with = _made_with(trial, _page_script(trial, shared), inputs)
    if any(meta.get(key) != value for key, value in made_with.items()):
        return None
    if paths_freshness([out], inputs) != "done":
        return None
    return meta["headline"]  # type: ignore[no-any-return]


def report_state(trial: Trial, shared: bool = False) -> str:
    """The trial's page: "done" (up to date, :func:`up_to_date_report`), "outdated" (there,
    but older than what it shows or made another way) or "missing"."""
    if not report_path(trial).is_file():
        return "missing"
    return "done" if up_to_date_report(trial, shared) is not None else "outdated"


def trial_report(trial: Trial, shared: bool = False) -> tuple[Path, dict[str, Any]]:
    """Write one trial's HTML report; return its path and headline figures. ``shared``:
    the page loads plotly.js from the reports folder (:func:`write_plotly_js`)."""
    script = _page_script(trial, shared)
    made_with = _made_with(trial, script, page_inputs(trial))  # before reading them
    res = load_results(trial)
    out = report_path(trial)
    fig = Figures(script)
    found = detections(trial)
    warned = trial_warnings(trial, res.quality, found)
    head = headline(res, len(warned))
    bones = bones_for(res.data.keypoints, trial.config)
    columns = ["frames", "cameras", "median reprojection error (px)", "valid 3D points"]
    values = [head["frames"], head["cameras"], head["median_error_px"],
              percent(head["valid_share"])]
    if head["truth_error"] is not None:
        columns.append(f"mean distance to ground truth ({res.units})")
        values.append(head["truth_error"])
    summary = table(columns, [values])
    cs = calibration_set(trial)  # read once, for the viewer's up and the section
    full = load_calibration(cs.output) if cs is not None and cs.output.is_file() else None
    viewer = figures.skeleton_viewer(res.data.points, res.data.keypoints, bones,
                                     res.data.fnum, res.fps, res.truth, res.units,
                                     _cameras_up(full, trial, res))
    parts = [
        ("Summary", summary),
        ("Warnings", _warnings_section(warned)),
        ("3D viewer", fig(viewer, "viewer")),
        ("Calibration", _calibration_section(trial, cs, full, res, fig,
                                             out.with_suffix(".cameras.png"))),
        ("2D detection", _detection_section(found)),
        ("Synchronisation", _sync_section(trial, res)),
        ("Triangulation quality", _quality_section(res, fig)),
        ("Joint angles", _angles_section(trial, fig)),
    ]
    if res.truth is not None:
        parts[0] = ("Summary", summary + "<p class=\"note\">Ground truth from "
                       f"{html.escape(str(truth_path(trial)))}, rigidly fitted onto the "
                       "reconstruction (the two world frames differ).</p>")
    write_text_atomic(out, page(f"posekit report: {trial.key}", sections(parts),
                                {**made_with, "headline": head}))
    return out, head
