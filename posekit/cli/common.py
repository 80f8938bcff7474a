"""Options and helpers shared by the commands."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from posekit.compute.tasks import BarAwareHandler
from posekit.errors import PosekitError
from posekit.io.atomic import WRITE_ERRNOS, write_error_message

F = TypeVar("F", bound=Callable[..., Any])


def project_option(func: F) -> F:
    return click.option(
        "--project", "-p", "project_dir", type=click.Path(file_okay=False, path_type=Path),
        default=Path("."), show_default="current folder", help="Project folder.",
    )(func)


def selection_options(func: F) -> F:
    func = click.option(
        "--trial", "-t", default=None, help="Only trials whose name matches this pattern."
    )(func)
    func = click.option(
        "--session", "-s", default=None,
        help="Only sessions whose path (e.g. subj1/day2) matches this pattern.",
    )(func)
    return func


def project_config(project_dir: Path, config_file: Path | None = None) -> Any:
    """The ``Config`` of ``config_file``, else of the project's ``config.toml`` when there
    is one, else the defaults."""
    from posekit.config import load_config

    path = config_file or project_dir / "config.toml"
    return load_config([path] if path.is_file() else [])


def jobs_option(func: F) -> F:
    return click.option(
        "--jobs", "-j", type=click.IntRange(min=0), default=None,
        help="Parallel worker processes (videos, or run-all's tasks, at a time); 0 = one "
        "per CPU core. Default: [compute] jobs.",
    )(func)


def scheduler_option(func: F) -> F:
    return click.option(
        "--scheduler", default=None, metavar="ADDRESS",
        help="Run the tasks on the Dask cluster of this scheduler (e.g. tcp://head:8786); "
        '"local": on local worker processes. Default: [compute] scheduler.',
    )(func)


def overwrite_option(func: F) -> F:
    return click.option(
        "--overwrite", is_flag=True, help="Redo outputs that are already up to date."
    )(func)


def setup_logging(verbosity: int) -> None:
    level = logging.INFO - 10 * verbosity
    # through tqdm.write, so that warnings never run into a progress bar's line
    logging.basicConfig(level=max(level, logging.DEBUG), handlers=[BarAwareHandler()])
    if level <= logging.DEBUG:  # -v: FFmpeg's errors on damaged videos too, and
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "16")  # AV_LOG_ERROR
        os.environ.setdefault("POSEKIT_NATIVE_NOTICES", "1")  # MediaPipe's set-up notices
    else:  # NumExpr's "defaulting to N threads" is no news to the user
        logging.getLogger("numexpr").setLevel(logging.WARNING)


@contextlib.contextmanager
def domain_errors() -> Iterator[None]:
    """Turn posekit's domain errors, and writes that failed for want of space or
    permission (naming the file), into clean click errors (exit status 1)."""
    try:
        yield
    except PosekitError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        if exc.errno not in WRITE_ERRNOS or not exc.filename:
            raise
        raise click.ClickException(write_error_message(exc.filename, exc)) from None


def failure_line(unit: str, message: str) -> str:
    """``FAILED unit: message``, naming the unit once: step messages name their trial
    themselves (``trial s1/t: ...`` or ``s1/t: ...``) so that they read well in logs and
    from Python, and that start is dropped here."""
    for start in (f"trial {unit}: ", f"{unit}: "):
        if message.startswith(start):
            message = message[len(start):]
            break
    return f"FAILED {unit}: {message}"


def echo_summaries(summaries: Sequence[Any]) -> bool:
    """Print one block per step summary; return True when every step succeeded."""
    all_ok = True
    for summary in summaries:
        if summary.unavailable:
            click.secho(
                f"{summary.step}: not yet available in this version of posekit "
                f"({len(summary.results)} unit(s) not processed)", fg="yellow",
            )
            all_ok = False
            continue
        counts = summary.counts()
        parts = [f"{counts.get(s, 0)} {s}" for s in ("done", "skipped", "failed")]
        if counts.get("blocked"):
            parts.append(f"{counts['blocked']} not run")
        if not summary.results:
            parts = ["nothing to do"]
        click.echo(f"{summary.step}: " + ", ".join(parts))
        for res in summary.failed:
            click.secho(f"  {failure_line(res.unit, res.message)}", fg="red", err=True)
            all_ok = False
        for res in summary.blocked:
            click.secho(f"  {res.unit}: {res.message}", fg="yellow", err=True)
            all_ok = False
    return all_ok
