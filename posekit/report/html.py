"""``posekit report``: a page per calibration (:mod:`.calibration_page`) and per trial
(:mod:`.trial_page`), made in worker processes when asked, and the project's index page
(``<project>/<pipeline.reports>/index.html``), which links every page with its headline
figures. Pages work offline: plotly.js is inlined once per page, or shared by all from the
reports folder (``[report] plotly_js``).
"""

from __future__ import annotations

import html
import logging
import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tqdm import tqdm

from posekit.errors import ConfigError, PosekitError
from posekit.io.atomic import write_text_atomic
from posekit.project.layout import Project, Trial
from posekit.report.calibration_page import (
    calibration_index_table,
    calibration_page,
    calibration_page_path,
    reported_calibrations,
)
from posekit.report.page import (
    SORTABLE,
    failed_rows,
    link,
    page,
    percent,
    plotly_script,
    write_plotly_js,
)
from posekit.report.trial_page import report_path, reports_dir, trial_report, up_to_date_report

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        href = html.escape(link(path, root))
        truth = "–" if h["truth_error"] is None else f"{h['truth_error']:.3g} {h['units']}"
        error = h["median_error_px"]
        count = int(h.get("warnings", 0))
        warned = (f"<a class=\"warn\" href=\"{href}#warnings\">{count}</a>" if count
                  else "0")
        rows.append(
            f"<tr><td><a href=\"{href}\">{html.escape(key)}</a></td><td>{h['frames']}</td>"
            f"<td>{h['cameras']}</td><td>{'–' if error is None else f'{error:.3g}'}</td>"
            f"<td>{percent(h['valid_share']) or '–'}</td><td>{html.escape(truth)}</td>"
            f"<td>{warned}</td></tr>")
    rows.append(failed_rows(failed, 6))
    parts = []
    if calibrations.made or calibrations.failed:
        links = {k: (link(p, root), h)
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
