"""``posekit report``: one self-contained HTML file per trial and a project index page.

A trial's report (``<project>/<pipeline.reports>/<session>/<trial>.html``) holds the
calibration summary, sync plot, triangulation quality, angle plots and an animated 3D
skeleton viewer. Figures are plotly's; plotly.js is inlined once per page, so the file works
offline. Existing PNGs (sync, calibration coverage) are embedded as base64 images, and the
cameras' top view is also written as ``<trial>.cameras.png`` beside the page for papers.
The index (``<project>/<pipeline.reports>/index.html``) links every report with its
headline figures.
"""

from __future__ import annotations

import functools
import hashlib
import html
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from tqdm import tqdm

from posekit import __version__
from posekit.calibration.report import REPORT_FILES, read_report
from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import load_calibration
from posekit.errors import ConfigError, PosekitError
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
    calibration_index_table,
    calibration_page,
    calibration_page_path,
    reported_calibrations,
    stale_note,
    world_frame_text,
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
    SORTABLE,
    Figures,
    failed_rows,
    img,
    page,
    page_meta,
    percent,
    plotly_script,
    sections,
    table,
    write_plotly_js,
)
from posekit.sync.step import LOW_CONFIDENCE
from posekit.triangulation.align import undo_alignment
from posekit.triangulation.export import Points3D

log = logging.getLogger(__name__)
T = TypeVar("T")

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
    link = os.path.relpath(calibration_page_path(cs, reports_dir(cs.project)),
                           report_path(trial).parent).replace(os.sep, "/")
    parts.append(f"<p>All of this calibration's figures, for every camera: <a href=\""
                 f"{html.escape(link)}\">{html.escape(cs.key)}</a>.</p>")
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


def _made_with(trial: Trial, script: str | None) -> dict[str, Any]:
    """What a trial's page records about how it was made, besides its headline: the
    code that made it, where plotly.js comes from and the input files that existed."""
    root = trial.session.project.root
    return {"posekit": code_version(), "plotly": script or "inline",
            "inputs": [p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)
                       for p in page_inputs(trial)]}


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
    made_with = _made_with(trial, _page_script(trial, shared))
    if any(meta.get(key) != value for key, value in made_with.items()):
        return None
    if paths_freshness([out], page_inputs(trial)) != "done":
        return None
    return meta["headline"]  # type: ignore[no-any-return]


def trial_report(trial: Trial, shared: bool = False) -> tuple[Path, dict[str, Any]]:
    """Write one trial's HTML report; return its path and headline figures. ``shared``:
    the page loads plotly.js from the reports folder (:func:`write_plotly_js`)."""
    made_with = _made_with(trial, _page_script(trial, shared))  # before reading them
    res = load_results(trial)
    out = report_path(trial)
    fig = Figures(_page_script(trial, shared))
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


@dataclass
class ReportRun:
    """What ``posekit report`` wrote and which trials failed (key → message); the same
    for the calibrations' pages (their keys: ``calibration``, ``<session>/calibration``)."""

    index: Path
    reports: dict[str, Path] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    calibrations: dict[str, Path] = field(default_factory=dict)
    calibrations_failed: dict[str, str] = field(default_factory=dict)
    #: trial pages that were up to date, left as they were (key → page)
    up_to_date: dict[str, Path] = field(default_factory=dict)


@dataclass
class CalibrationPages:
    """The calibrations' pages for the index: key → (page, headline), and key → why a
    page could not be made."""

    made: dict[str, tuple[Path, dict[str, Any]]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def write_index(project: Project, heads: Mapping[str, tuple[Path, dict[str, Any]]],
                failed: Mapping[str, str], calibrations: CalibrationPages | None = None
                ) -> Path:
    """``index.html`` linking each calibration's and each trial's page with its headline
    figures."""
    root = reports_dir(project)
    calibrations = calibrations or CalibrationPages()
    rows = []
    for key, (path, h) in heads.items():
        link = html.escape(os.path.relpath(path, root).replace(os.sep, "/"))
        truth = "–" if h["truth_error"] is None else f"{h['truth_error']:.3g} {h['units']}"
        error = h["median_error_px"]
        count = int(h.get("warnings", 0))
        warned = (f"<a class=\"warn\" href=\"{link}#warnings\">{count}</a>" if count
                  else "0")
        rows.append(
            f"<tr><td><a href=\"{link}\">{html.escape(key)}</a></td><td>{h['frames']}</td>"
            f"<td>{h['cameras']}</td><td>{'–' if error is None else f'{error:.3g}'}</td>"
            f"<td>{percent(h['valid_share']) or '–'}</td><td>{html.escape(truth)}</td>"
            f"<td>{warned}</td></tr>")
    rows.append(failed_rows(failed, 6))
    parts = []
    if calibrations.made or calibrations.failed:
        links = {k: (os.path.relpath(p, root).replace(os.sep, "/"), h)
                 for k, (p, h) in calibrations.made.items()}
        parts.append(calibration_index_table(links, calibrations.failed))
    parts.append("<h2 id=\"trials\">Trials</h2>")
    if heads or failed:
        with_warnings = sum(1 for _, h in heads.values() if int(h.get("warnings", 0)))
        parts.append(
            f"<p>{len(heads) + len(failed)} trial(s): {len(heads)} reported, "
            f"{with_warnings} of them with warnings (their count links to them), "
            f"{len(failed)} without a report (the reason is in its row).</p>"
            "<table class=\"sortable\"><tr><th>trial</th><th>frames</th><th>cameras</th><th>median "
            "reprojection error (px)</th><th>valid 3D points</th><th>distance to ground "
            "truth</th><th>warnings</th></tr>" + "".join(rows) + "</table>")
    else:
        parts.append(f"<p class=\"note\">No trial selected in {html.escape(str(project.root))}"
                     " yet: put each session's videos in its "
                     f"<code>{html.escape(project.config.pipeline.videos_raw)}</code> folder "
                     "and run <code>posekit run-all</code>, then <code>posekit report</code> "
                     "again.</p>")
    return write_text_atomic(root / "index.html", page(f"posekit reports: {project.root.name}",
                                                        "".join(parts) + SORTABLE))


def _report_or_error(trial: Trial, shared: bool = False
                     ) -> tuple[Path, dict[str, Any]] | str:
    """:func:`trial_report`, or the message of the :class:`PosekitError` (or any other
    exception, named as unexpected) that stopped it (what a worker process sends back)."""
    return _made_or_error(trial.key, trial_report, trial, shared)


def _made_or_error(key: str, make: Callable[..., T], *args: Any) -> T | str:
    """``make(*args)``, or why it failed: the message of a :class:`PosekitError`, or any
    other exception named as unexpected (an output edited by hand, or a bug), so that one
    page that cannot be made does not stop the others; ``-vv`` logs its traceback."""
    try:
        return make(*args)
    except PosekitError as exc:
        return str(exc)
    except Exception as exc:
        log.debug("report %s", key, exc_info=True)
        return f"unexpected {type(exc).__name__}: {exc}"


def _reports(trials: Sequence[Trial], workers: int, shared: bool = False
             ) -> Iterator[tuple[Trial, tuple[Path, dict[str, Any]] | str]]:
    """Each trial's report (or error message) in the trials' order, ``workers`` trials at
    a time in spawned processes (1: one after the other, here)."""
    if workers <= 1 or len(trials) < 2:
        for tr in trials:
            yield tr, _report_or_error(tr, shared)
        return
    context = multiprocessing.get_context("spawn")  # fork is unsafe with threaded libraries
    with ProcessPoolExecutor(max_workers=min(workers, len(trials)), mp_context=context) as pool:
        futures = [pool.submit(_report_or_error, tr, shared) for tr in trials]
        for tr, future in zip(trials, futures, strict=True):
            try:
                yield tr, future.result()
            except Exception as exc:  # a bug, or a worker that died: keep the others going
                yield tr, f"unexpected {type(exc).__name__}: {exc}"


def calibration_pages(project: Project, session: str | None = None,
                      trial: str | None = None, shared: bool = False) -> CalibrationPages:
    """Write the page of every calibration the selection uses (:func:`reported_calibrations`);
    one that cannot be read is logged and listed, the others go on. ``shared``: as for
    :func:`trial_report`."""
    out = CalibrationPages()
    root = reports_dir(project)
    for cs in reported_calibrations(project, session, trial):
        path = calibration_page_path(cs, root)
        script = plotly_script(path, root) if shared else None
        made = _made_or_error(cs.key, calibration_page, cs, path, script)
        if isinstance(made, str):
            log.error("report %s: %s", cs.key, made)
            out.failed[cs.key] = made
        else:
            out.made[cs.key] = (path, made)
    return out


def run_reports(project: Project, session: str | None = None, trial: str | None = None,
                progress: bool = True, workers: int = 1, plotly_js: str | None = None,
                overwrite: bool = False) -> ReportRun:
    """Write the page of every calibration the selection uses, then the report of every
    selected trial that has 3D and whose page is not up to date (:func:`up_to_date_report`;
    ``overwrite``: every one), ``workers`` trials at a time, then the index. A trial or
    calibration that fails is logged and listed on the index; the others go on. The
    pages do not depend on ``workers``. ``plotly_js`` (default: the project's ``[report]
    plotly_js``): "inline" puts plotly.js in every page, "shared" writes it once to the
    reports folder for all pages."""
    mode = plotly_js or project.config.report.plotly_js
    if mode not in ("inline", "shared"):
        raise ConfigError(f"plotly_js = {mode!r}: use \"inline\" or \"shared\"")
    shared = mode == "shared"
    if shared:
        write_plotly_js(reports_dir(project))
    calibrations = calibration_pages(project, session, trial, shared)
    failed: dict[str, str] = {}
    trials = project.trials(session, trial)
    kept = {tr.key: head for tr in trials if not overwrite
            and (head := up_to_date_report(tr, shared)) is not None}
    todo = [tr for tr in trials if tr.key not in kept]
    made_now: dict[str, tuple[Path, dict[str, Any]]] = {}
    for tr, made in tqdm(_reports(todo, workers, shared), total=len(todo), desc="report",
                         unit="trial", disable=not progress or len(todo) < 2):
        if isinstance(made, str):
            log.error("report %s: %s", tr.key, made)
            failed[tr.key] = made
        else:
            made_now[tr.key] = made
    heads = {tr.key: made_now[tr.key] if tr.key in made_now
             else (report_path(tr), kept[tr.key])
             for tr in trials if tr.key in made_now or tr.key in kept}
    index = write_index(project, heads, failed, calibrations)
    return ReportRun(index, {k: p for k, (p, _) in made_now.items()}, failed,
                     {k: p for k, (p, _) in calibrations.made.items()}, calibrations.failed,
                     {k: report_path(tr) for tr in trials if (k := tr.key) in kept})
