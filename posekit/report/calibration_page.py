"""``posekit report``'s page for each calibration: how good it is, before any trial is filmed.

One self-contained HTML file per calibration folder,
``<project>/<pipeline.reports>/<folder of the calibration>/calibration-report.html``, from
``calibration.toml`` and, when ``posekit calibrate`` made it, its
``calibration_report.json`` and ``calibration_coverage.png``: the warnings, board and world
frame, a table per camera (lens, views, how much of the image the board reached,
reprojection error), the board-distance check, the error chart, the coverage image and the
cameras seen from above. The project index lists every calibration with its headline
figures and links this page; each trial's page links its calibration's.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from posekit.calibration.report import REPORT_FILES, read_report, world_frame_text
from posekit.camera.model import CameraGroup
from posekit.camera.toml_io import load_calibration
from posekit.io.atomic import write_text_atomic
from posekit.project.layout import Project, natural_key
from posekit.project.steps import CalibrationSet, calibration_sets
from posekit.report import figures
from posekit.report.page import Figures, failed_rows, img, page, percent, sections, table

#: file name of a calibration's page, in the reports folder's copy of the folder that
#: holds the calibration folder (the project root, or a session)
PAGE_NAME = "calibration-report.html"


def calibration_page_path(cs: CalibrationSet, reports: Path) -> Path:
    """Where the page of ``cs`` goes in the reports folder ``reports``."""
    return reports.joinpath(*cs.owner.relative_to(cs.project.root).parts) / PAGE_NAME


def reported_calibrations(project: Project, session: str | None = None,
                          trial: str | None = None) -> list[CalibrationSet]:
    """The calibrations to report, those with a ``calibration.toml``: the ones the
    selected trials use (``session`` and ``trial``: patterns, as for
    :meth:`~posekit.project.layout.Project.trials`) and, without ``trial``, every one below
    ``session`` too, with or without trials yet (:func:`calibration_sets`), from the
    project's down."""
    used, unused = calibration_sets(project, project.trials(session, trial), session, trial)
    ordered = sorted([*used, *unused],
                     key=lambda cs: (len(cs.owner.parts), natural_key(cs.owner.as_posix())))
    return [cs for cs in ordered if cs.output.is_file()]


def _number(value: Any, digits: str = ".3g") -> str:
    try:
        return format(float(value), digits)
    except (TypeError, ValueError):
        return "–"


def calibration_headline(group: CameraGroup, report: Mapping[str, Any] | None
                         ) -> dict[str, Any]:
    """What the index shows for a calibration: its cameras, the worst camera's median
    reprojection error, the least image reached by the board, the board-distance check's
    mean error, the number of warnings, and whether it was imported (no report)."""
    out: dict[str, Any] = {"cameras": len(group), "imported": report is None,
                           "worst_median_px": None, "least_coverage": None,
                           "board_error_mm": None, "warnings": 0}
    if report is None:
        return out
    cams = report.get("cameras", {})
    medians = [c["reprojection_median_px"] for c in cams.values()
               if c.get("reprojection_median_px") is not None]
    cover = [c["image_coverage"] for c in cams.values() if c.get("image_coverage") is not None]
    out.update(worst_median_px=max(medians, default=None),
               least_coverage=min(cover, default=None),
               board_error_mm=(report.get("board_distance") or {}).get("mean_mm"),
               warnings=len(report.get("warnings") or []))
    return out


def _camera_table(group: CameraGroup, report: Mapping[str, Any] | None) -> str:
    cams = (report or {}).get("cameras", {})
    rows = []
    for cam in group:
        k, q = cam.matrix, cams.get(cam.name, {})
        row: list[Any] = [cam.name, f"{cam.size[0]}×{cam.size[1]}", _number(k[0, 0], ".1f"),
                          _number(k[1, 1], ".1f"), _number(k[0, 2], ".1f"),
                          _number(k[1, 2], ".1f")]
        if report is not None:
            row += [q.get("frames_with_board"), q.get("bundle_views"),
                    percent(q.get("image_coverage"), 0),
                    _number(q.get("reprojection_median_px")),
                    _number(q.get("reprojection_p95_px"))]
        rows.append(row)
    header = ["camera", "image size (px)", "fx", "fy", "cx", "cy"]
    if report is not None:
        header += ["frames with the board", "views used", "image reached by the board",
                   "reprojection median (px)", "p95 (px)"]
    return table(header, rows)


def _board_check(report: Mapping[str, Any]) -> str:
    bd = report.get("board_distance") or {}
    if not bd.get("pairs"):
        return ("<p>No corner was seen by two cameras at once, so there is no check of the "
                "board's squares in 3D.</p>")
    return (f"<p>Board-distance check: corners seen by two or more cameras, triangulated; "
            f"the distances between neighbouring corners ({int(bd['pairs'])} pairs) against "
            f"the {_number(bd.get('square_mm'), '.2f')} mm square: mean error "
            f"{_number(bd.get('mean_mm'), '+.3f')} mm, SD {_number(bd.get('sd_mm'), '.3f')} "
            f"mm, p95 of the absolute error {_number(bd.get('p95_abs_mm'), '.3f')} mm.</p>")


def stale_note(calibration: Path) -> str:
    """Why the report beside ``calibration`` is not shown: it is older than it."""
    return (f"<p class=\"warn\">The calibration report beside {html.escape(str(calibration))} "
            "is older than it and describes an earlier calibration, so it is not shown; run "
            "<code>posekit calibrate --overwrite</code> to make both again.</p>")


def _warnings(calibration: Path, report: Mapping[str, Any] | None, stale: bool) -> str:
    if stale:
        return stale_note(calibration)
    if report is None:
        return ("<p class=\"note\">Imported (or its report was removed): calibration.toml "
                "was not made from board recordings by <code>posekit calibrate</code>, so "
                "there is no reprojection error, coverage or warning to show.</p>")
    warned = [str(w) for w in report.get("warnings") or []]
    if not warned:
        return "<p class=\"ok\">None: posekit calibrate did not warn about this calibration.</p>"
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warned)
    return (f"<p>{len(warned)} warning(s) from <code>posekit calibrate</code>; check them "
            f"before triangulating with this calibration:</p><ul class=\"warn\">{items}</ul>")


def calibration_page(cs: CalibrationSet, out: Path, script: str | None = None
                     ) -> dict[str, Any]:
    """Write the page of ``cs`` to ``out``; return its :func:`calibration_headline`.
    ``script``: where the page loads plotly.js from (relative to it); None: inline.

    Raises:
        PosekitError: ``calibration.toml`` cannot be read.
    """
    group = load_calibration(cs.output)
    fig = Figures(script)
    report, stale = read_report(cs.output)
    units = group.metadata.get("units") or (report or {}).get("units") or ""
    facts = [f"File: {cs.output}", f"Cameras: {len(group)} ({', '.join(group.names)})"]
    if report is not None:
        bundle = report.get("bundle") or {}
        facts += [f"Board: {report.get('board', '?')}",
                  world_frame_text(str(report.get("world", "")), group.names[0]),
                  f"Lengths in {units or '?'}",
                  f"Bundle adjustment: {bundle.get('iterations', '?')} iterations, "
                  f"{bundle.get('views', '?')} views, {bundle.get('rejected_corners', '?')} "
                  "corners rejected"]
        offsets = report.get("video_offsets") or {}
        if any(offsets.values()):
            listed = ", ".join(f"{c} {int(v):+d}" for c, v in offsets.items())
            facts.append(f"The calibration recordings were not started together; frame "
                         f"offsets found from the board's motion (frame i of a camera is "
                         f"frame i + offset of the first): {listed}")
        elif offsets:
            facts.append("The calibration recordings start together (frame offsets all 0, "
                         "from the board's motion)")
        if report.get("seconds") is not None:
            facts.append(f"Made in {_number(report['seconds'], '.0f')} s")
    else:
        facts += [world_frame_text("", group.names[0]),
                  f"Lengths in {units or 'the source’s units'}"]
    parts = [
        ("Warnings", _warnings(cs.output, report, stale)),
        ("Summary", "<ul>" + "".join(f"<li>{html.escape(f)}</li>" for f in facts) + "</ul>"),
        ("Cameras", _camera_table(group, report)),
    ]
    if report is not None:
        parts += [
            ("Reprojection error", fig(figures.calibration_errors(report), "calibration-errors")
             + _board_check(report)),
            ("Where the board was", img(cs.output.with_name(REPORT_FILES[2]),
                                        "calibration coverage")
             + "<p class=\"note\">Every detected corner per camera; shaded cells of the "
               "8 × 6 grid hold none, and there the lens model is extrapolated.</p>"),
        ]
    parts.append(("Cameras seen from above",
                  fig(figures.cameras_top_view(group, None, units), "top-view")))
    write_text_atomic(out, page(f"posekit calibration: {cs.key}", sections(parts)))
    return calibration_headline(group, report)


def calibration_index_table(heads: Mapping[str, tuple[str, dict[str, Any]]],
                            failed: Mapping[str, str]) -> str:
    """The index's table of calibrations: key → (link relative to the index, headline);
    ``failed``: key → why its page could not be made."""
    rows = []
    for key, (link, h) in heads.items():
        href = html.escape(link)
        count = int(h["warnings"])
        warned = (f"<a class=\"warn\" href=\"{href}#warnings\">{count}</a>" if count
                  else ("–" if h["imported"] else "0"))
        rows.append(
            f"<tr><td><a href=\"{href}\">{html.escape(key)}</a></td><td>{h['cameras']}</td>"
            f"<td>{'imported' if h['imported'] else 'posekit calibrate'}</td>"
            f"<td>{_number(h['worst_median_px'])}</td>"
            f"<td>{percent(h['least_coverage'], 0) or '–'}</td>"
            f"<td>{_number(h['board_error_mm'], '+.3f')}</td><td>{warned}</td></tr>")
    rows.append(failed_rows(failed, 6))
    return ("<h2 id=\"calibrations\">Calibrations</h2><table class=\"sortable\"><tr>"
            "<th>calibration</th>"
            "<th>cameras</th><th>made by</th><th>worst camera's median reprojection error "
            "(px)</th><th>least image reached by the board</th><th>board-distance mean "
            "error (mm)</th><th>warnings</th></tr>" + "".join(rows) + "</table>")
