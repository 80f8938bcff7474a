"""Entry point: ``posekit [-v|-q] COMMAND``. Heavy imports happen inside commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from posekit import __version__
from posekit.cli.common import (
    domain_errors,
    echo_summaries,
    failure_line,
    jobs_option,
    overwrite_option,
    project_config,
    project_option,
    scheduler_option,
    selection_options,
    setup_logging,
)

if TYPE_CHECKING:
    from posekit.project import Project


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="posekit")
@click.option("-v", "--verbose", count=True, help="More messages (-vv for debug).")
@click.option("-q", "--quiet", count=True, help="Fewer messages.")
def cli(verbose: int, quiet: int) -> None:
    """posekit: markerless multi-camera motion capture.

    Works on a project folder (Anipose layout): calibrate, detect, sync, triangulate,
    angles, or run-all. Run `posekit demo` to see it on a synthetic example.
    """
    setup_logging(verbose - quiet)


def _run(project_dir: Path, steps: tuple[str, ...], session: str | None, trial: str | None,
         overwrite: bool, jobs: int | None = None, scheduler: str | None = None,
         graph: bool = False) -> None:
    """Run ``steps`` over the selected trials: one by one in this process, or (``graph``,
    run-all) as one task graph on a process pool or a Dask cluster."""
    from posekit.project import Project
    from posekit.project.pipeline import run_all, run_steps
    from posekit.project.steps import CalibrationSet

    with domain_errors():
        project = Project.open(project_dir)
        trials = project.trials(session, trial)
        calibrations = []
        if steps == ("calibrate",) and trial is None:  # also folders no trial uses yet
            calibrations = [CalibrationSet(project, owner)
                            for owner in project.calibration_owners(session)]
        if not trials and not calibrations:
            pipeline = project.config.pipeline
            raise click.ClickException(
                f"{project.root}: no trials found (looked for videos in "
                f"'{pipeline.videos_raw}' folders of sessions at nesting = "
                f"{project.config.nesting}); check nesting, cam_regex and the filters"
                + (f"; nor a '{pipeline.calibration_videos}' folder to calibrate"
                   if steps == ("calibrate",) else
                   "; to calibrate the calibration folders alone, run `posekit calibrate`"
                   if "calibrate" in steps and project.calibration_owners(session) else "")
            )
        if graph:
            summaries = run_all(project, trials, overwrite, steps=steps, jobs=jobs,
                                scheduler=scheduler)
        else:
            summaries = run_steps(project, trials, overwrite, steps=steps, jobs=jobs,
                                  calibrations=calibrations)
    if not echo_summaries(summaries):
        raise SystemExit(1)


def _step_command(name: str, help_text: str) -> click.Command:
    @project_option
    @selection_options
    @overwrite_option
    @jobs_option
    def command(project_dir: Path, session: str | None, trial: str | None,
                overwrite: bool, jobs: int | None) -> None:
        if click.get_current_context().invoked_subcommand is None:
            _run(project_dir, (name,), session, trial, overwrite, jobs)

    if name == "calibrate":  # a group: `posekit calibrate` runs it, sub-commands help it
        return cli.group(name=name, help=help_text, invoke_without_command=True)(command)
    return cli.command(name=name, help=help_text)(command)


def _register_steps() -> None:
    from posekit.project.steps import STEPS

    for step in STEPS.values():
        _step_command(step.name, step.help[0].upper() + step.help[1:] + ".")


_register_steps()


def _register_import_2d() -> None:
    from posekit.cli.import2d import import_2d

    cli.add_command(import_2d)


_register_import_2d()
_calibrate = cli.commands["calibrate"]
assert isinstance(_calibrate, click.Group)


@_calibrate.command(name="draw-board")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path),
                default=Path("board.pdf"))
@project_option
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="config.toml describing the board (default: the project's).")
@click.option("--dpi", default=300, show_default=True, help="Printer resolution.")
@click.option("--paper", default="A4", show_default=True,
              help='A0-A5, letter, legal, tabloid, "WxH" in mm, or "fit".')
@click.option("--landscape/--portrait", default=None, help="Page orientation (default: best).")
def draw_board(output: Path, project_dir: Path, config_file: Path | None, dpi: int, paper: str,
               landscape: bool | None) -> None:
    """Write a printable PNG or PDF of exactly the board the config describes."""
    from posekit.calibration.board import Board
    from posekit.calibration.draw import board_page, save_board_page

    with domain_errors():
        board = Board.from_config(project_config(project_dir, config_file).calibration)
        page, info = board_page(board, dpi=dpi, paper=paper, landscape=landscape)
        save_board_page(board, page, info, output)
    click.echo(f"Wrote {output}: {board.describe()}.")
    click.echo(f"Print at 100 % scale, then measure a square: it must be {info.square_mm:.2f} mm.")


@_calibrate.command(name="import")
@click.argument("source", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="calibration.toml to write (default: the project's calibration folder).")
@project_option
@overwrite_option
def import_command(source: Path, output: Path | None, project_dir: Path,
                   overwrite: bool) -> None:
    """Convert an existing calibration (Anipose/FreeMoCap .toml, Qualisys .qca.txt).

    An existing calibration is replaced only with --overwrite; its report files go with it."""
    from posekit.calibration.imports import install_calibration

    with domain_errors():
        if output is None:
            pipeline = project_config(project_dir).pipeline
            output = project_dir / pipeline.calibration_results / "calibration.toml"
        group, stale = install_calibration(source, output, overwrite)
    units = group.metadata.get("units", "the source's units")
    click.echo(f"Wrote {output}: {len(group)} cameras ({', '.join(group.names)}), "
               f"lengths in {units}.")
    if stale:
        click.echo(f"Removed {', '.join(p.name for p in stale)} beside it: they described "
                   "the calibration it replaced.")


@cli.command(name="run-all")
@project_option
@selection_options
@overwrite_option
@jobs_option
@scheduler_option
def run_all_command(project_dir: Path, session: str | None, trial: str | None,
                    overwrite: bool, jobs: int | None, scheduler: str | None) -> None:
    """Run every step: calibrate, detect, sync, triangulate, angles.

    One task graph for the whole selection: detection per (trial, camera), then each
    trial's sync, triangulation and angles, calibration per calibration folder. Tasks run
    on local worker processes (--jobs), or on a Dask cluster (--scheduler). Only what is not
    up to date runs; a failed task stops only the tasks that need its output.
    """
    from posekit.project.steps import PIPELINE

    _run(project_dir, PIPELINE, session, trial, overwrite, jobs, scheduler, graph=True)


@cli.command()
@project_option
@selection_options
def status(project_dir: Path, session: str | None, trial: str | None) -> None:
    """Show which step is done for which trial."""
    from posekit.cli.status import print_status

    with domain_errors():
        print_status(project_dir, session, trial)


@cli.command()
@project_option
@selection_options
def summarize(project_dir: Path, session: str | None, trial: str | None) -> None:
    """Tidy tables (CSV + Parquet) of angles and 3D quality over every trial."""
    from posekit.angles.summarize import summarize as summarize_project
    from posekit.project import Project

    with domain_errors():
        result = summarize_project(Project.open(project_dir), session, trial)
    click.echo(f"summarize: {len(result.trials_with_angles)} trial(s) with angles, "
               f"{len(result.trials_with_3d)} with 3D → {result.folder}")
    for name, rows in result.rows.items():
        click.echo(f"  {name}.csv / .parquet: {rows} rows")
    for label, keys, hint in (
        ("no 3D or angles", result.missing, "run `posekit triangulate` and `posekit angles`"),
        ("3D but no angles", result.no_angles, "run `posekit angles`"),
        ("angles older than their 3D or config", result.outdated, "run `posekit angles`"),
    ):
        if keys:
            click.secho(f"  {label} ({hint}): {', '.join(keys)}", fg="yellow", err=True)


@cli.command()
def doctor() -> None:
    """Check that this installation can run the pipeline, offline: Python, OpenCV's
    ChArUco detector, video writing and decoding, MediaPipe's shipped model on a rendered
    person, Dask. Exits with status 1, saying what to do, if it cannot."""
    from posekit.doctor import run_checks

    checks = run_checks()
    for check in checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    failed = [check.name for check in checks if not check.ok]
    if failed:
        raise click.ClickException(f"{', '.join(failed)}: see above for what to do")
    click.echo(f"posekit {__version__} can run the pipeline here.")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create a new project in DIRECTORY with a commented config.toml."""
    from posekit.project.init import init_project

    with domain_errors():
        path = init_project(directory)
    root = path.parent
    click.echo(
        f"Created {path}: every setting, with its default and a comment.\n"
        "Next:\n"
        f"  1. each session's videos in {root / '<session>' / 'videos-raw'}, named "
        "<trial>-<camera>.mp4 (e.g. walk-camA.mp4);\n"
        f"  2. one calibration recording per camera in {root / 'calibration'}, named like "
        f"the trials' cameras, or `posekit calibrate import FILE -p {root}`;\n"
        f"  3. `posekit status -p {root}`, then `posekit run-all -p {root}`.\n"
        "A walkthrough on a real recording: docs/tutorial.md in posekit's repository.")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path),
                default=Path("posekit-demo"))
@click.option("--seed", default=0, show_default=True, help="Seed of the synthetic data.")
@click.option("--overwrite", is_flag=True, help="Regenerate the data and redo every step.")
def demo(directory: Path, seed: int, overwrite: bool) -> None:
    """Write a small synthetic project to DIRECTORY, run the pipeline on it, compare the
    results with the ground truth and write its HTML report."""
    from posekit.demo import run_demo

    with domain_errors():
        run_demo(directory, seed=seed, overwrite=overwrite)


def _workers(project: Project, jobs: int | None) -> int:
    """Worker processes for ``--jobs`` (default ``[compute] jobs``; 0 = one per core)."""
    import os

    wanted = project.config.compute.jobs if jobs is None else jobs
    return wanted or os.cpu_count() or 1


def _label(project_dir: Path, session: str | None, trial: str | None, overwrite: bool,
           jobs: int | None, kind: str) -> None:
    """Draw the labeled videos (posekit.report.labels) of every selected trial, ``jobs``
    videos at a time."""
    from posekit.project import Project
    from posekit.report.labels import label_trials

    with domain_errors():
        project = Project.open(project_dir)
        trials = project.trials(session, trial)
    workers = _workers(project, jobs)
    written: dict[str, int] = {}
    failed: dict[str, list[str]] = {}

    def done(key: str) -> None:
        if failed.get(key):
            for message in failed[key]:
                click.secho(f"  {failure_line(key, message)}", fg="red", err=True)
        else:
            click.echo(f"{key}: {written[key]} video(s) written"
                       + ("" if written[key] else " (up to date)"))

    current: str | None = None
    for tr, cam, video, error in label_trials(trials, kind, overwrite, workers):
        if tr.key != current:
            if current is not None:
                done(current)
            current = tr.key
        written.setdefault(tr.key, 0)
        if error is not None:
            failed.setdefault(tr.key, []).append(error if cam is None else f"{cam}: {error}")
        elif video is not None:
            written[tr.key] += 1
    if current is not None:
        done(current)
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(trials)} trial(s) failed")


@cli.command(name="label-2d")
@project_option
@selection_options
@overwrite_option
@jobs_option
def label_2d_command(project_dir: Path, session: str | None, trial: str | None,
                     overwrite: bool, jobs: int | None) -> None:
    """Draw the 2D keypoints on each camera's video (colour = confidence)."""
    _label(project_dir, session, trial, overwrite, jobs, "2d")


@cli.command(name="label-3d-proj")
@project_option
@selection_options
@overwrite_option
@jobs_option
def label_3d_proj_command(project_dir: Path, session: str | None, trial: str | None,
                          overwrite: bool, jobs: int | None) -> None:
    """Draw the 3D keypoints reprojected onto each camera's video (colour = error)."""
    _label(project_dir, session, trial, overwrite, jobs, "3d")


@cli.command()
@project_option
@selection_options
@jobs_option
@click.option("--plotly-js", type=click.Choice(["inline", "shared"]), default=None,
              help="inline: each page carries plotly.js (4.8 MB) and opens on its own; "
              "shared: one plotly.min.js in the reports folder for all pages. "
              "[default: [report] plotly_js, inline]")
@overwrite_option
def report(project_dir: Path, session: str | None, trial: str | None, jobs: int | None,
           plotly_js: str | None, overwrite: bool) -> None:
    """An HTML page per trial and per calibration, and an index linking them; offline,
    each page self-contained unless --plotly-js shared. A trial's page that is up to date
    (newer than everything it shows) is kept."""
    from posekit.project import Project
    from posekit.report.html import run_reports

    with domain_errors():
        project = Project.open(project_dir)
        result = run_reports(project, session, trial, workers=_workers(project, jobs),
                             plotly_js=plotly_js, overwrite=overwrite)
    for key, path in {**result.calibrations, **result.reports}.items():
        click.echo(f"{key}: {path}")
    if result.up_to_date:
        click.echo(f"{len(result.up_to_date)} trial page(s) up to date, kept "
                   "(--overwrite makes them again)")
    click.echo(f"index: {result.index}")
    for key, msg in {**result.calibrations_failed, **result.failed}.items():
        click.secho(f"  {failure_line(key, msg)}", fg="red", err=True)
    missing = [f"{len(result.failed)} trial(s) without a report"] if result.failed else []
    if result.calibrations_failed:
        missing.append(f"{len(result.calibrations_failed)} calibration(s) without a page")
    if missing:
        raise click.ClickException("; ".join(missing))


def main() -> None:
    cli()
