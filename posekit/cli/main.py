"""Entry point: ``posekit [-v|-q] COMMAND``. Heavy imports happen inside commands."""

from __future__ import annotations

from pathlib import Path

import click

from posekit import __version__
from posekit.cli.common import (
    domain_errors,
    echo_summaries,
    overwrite_option,
    project_option,
    selection_options,
    setup_logging,
)


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
         overwrite: bool) -> None:
    from posekit.project import Project
    from posekit.project.pipeline import run_all

    with domain_errors():
        project = Project.open(project_dir)
        trials = project.trials(session, trial)
        if not trials:
            raise click.ClickException(
                f"{project.root}: no trials found (looked for videos in "
                f"'{project.config.pipeline.videos_raw}' folders of sessions at nesting = "
                f"{project.config.nesting}); check nesting, cam_regex and the filters"
            )
        summaries = run_all(project, trials, overwrite, steps=steps)
    if not echo_summaries(summaries):
        raise SystemExit(1)


def _step_command(name: str, help_text: str) -> None:
    @cli.command(name=name, help=help_text)
    @project_option
    @selection_options
    @overwrite_option
    def command(project_dir: Path, session: str | None, trial: str | None,
                overwrite: bool) -> None:
        _run(project_dir, (name,), session, trial, overwrite)


def _register_steps() -> None:
    from posekit.project.steps import STEPS

    for step in STEPS.values():
        _step_command(step.name, step.help[0].upper() + step.help[1:] + ".")


_register_steps()


@cli.command(name="run-all")
@project_option
@selection_options
@overwrite_option
def run_all_command(project_dir: Path, session: str | None, trial: str | None,
                    overwrite: bool) -> None:
    """Run every step in order: calibrate, detect, sync, triangulate, angles."""
    from posekit.project.steps import PIPELINE

    _run(project_dir, PIPELINE, session, trial, overwrite)


@cli.command()
@project_option
@selection_options
def status(project_dir: Path, session: str | None, trial: str | None) -> None:
    """Show which step is done for which trial."""
    from posekit.cli.status import print_status

    with domain_errors():
        print_status(project_dir, session, trial)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create a new project in DIRECTORY with a commented config.toml."""
    from posekit.project.init import init_project

    with domain_errors():
        path = init_project(directory)
    click.echo(f"Created {path}. Put session folders with a 'videos-raw' folder inside it.")


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path),
                default=Path("posekit-demo"))
@click.option("--seed", default=0, show_default=True, help="Seed of the synthetic data.")
@click.option("--overwrite", is_flag=True, help="Regenerate the data and redo every step.")
def demo(directory: Path, seed: int, overwrite: bool) -> None:
    """Write a small synthetic project to DIRECTORY and run the pipeline on it."""
    from posekit.demo import run_demo

    with domain_errors():
        run_demo(directory, seed=seed, overwrite=overwrite)


def main() -> None:
    cli()
