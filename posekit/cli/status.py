"""``posekit status``: a table of trials, cameras and step states."""

from __future__ import annotations

from pathlib import Path

import click

from posekit.project import Project
from posekit.project.lock import held_units
from posekit.project.pipeline import StatusRow, project_status, unit_keys
from posekit.project.runner import freshness
from posekit.project.steps import PIPELINE, STEPS, CalibrationSet, calibration_sets

SYMBOLS = {"done": "done", "outdated": "outdated", "missing": "-", "no calibration": "no calib"}


def print_status(project_dir: Path, session: str | None, trial: str | None) -> None:
    project = Project.open(project_dir)
    trials = project.trials(session, trial)
    rows = project_status(trials)
    sessions = {r.session for r in rows}
    click.echo(f"Project {project.root}: {len(sessions)} session(s), {len(rows)} trial(s)")
    used, unused = calibration_sets(project, trials, session, trial)
    for cs in unused:
        state = SYMBOLS[freshness(STEPS["calibrate"], cs)]
        click.echo(f"{cs.key}: calibrate {state} (no trial uses it yet)")
    if not rows:
        click.echo("No trials found: put videos named like <trial>-camA.mp4 in "
                   f"<session>/{project.config.pipeline.videos_raw}/ "
                   f"(nesting = {project.config.nesting}).")
    if rows:
        from posekit.report.trial_page import report_state

        shared = project.config.report.plotly_js == "shared"
        _print_table(rows, [report_state(t, shared) for t in trials])
    _print_calibration_warnings([*used, *unused])
    busy: dict[str, list[str]] = {}  # holder -> units
    for key, holder in held_units(project.root, unit_keys(trials, PIPELINE, unused)).items():
        busy.setdefault(holder, []).append(key)
    for holder, units in busy.items():
        click.echo(f"Now in use by another posekit command: {', '.join(units)} ({holder}); "
                   "their states may change while it runs")


def _print_calibration_warnings(sets: list[CalibrationSet]) -> None:
    """A line per calibration whose report holds warnings (they matter to every trial
    that uses it), pointing to where they are."""
    from posekit.calibration.report import REPORT_FILES, read_report

    for cs in sets:
        report, _ = read_report(cs.output)
        count = len((report or {}).get("warnings") or [])
        if count:
            where = cs.output.with_name(REPORT_FILES[1])
            click.secho(f"{cs.key}: {count} warning(s) from posekit calibrate, in {where} "
                        "(`posekit report` shows them on the calibration's page)", fg="yellow")


def _print_table(rows: list[StatusRow], pages: list[str]) -> None:
    """One line per trial: session, trial, cameras, each step's state and its report
    page's (``pages``, in the rows' order)."""
    header = ["session", "trial", "cameras", *PIPELINE, "report"]
    table = [header] + [
        [r.session or ".", r.trial, ",".join(r.cameras), *(SYMBOLS[r.steps[s]] for s in PIPELINE),
         SYMBOLS[page]]
        for r, page in zip(rows, pages, strict=True)
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for n, row in enumerate(table):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            click.echo("  ".join("-" * w for w in widths))
