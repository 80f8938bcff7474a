"""Choosing where run-all runs, and how lost tasks are described (no cluster needed)."""

from __future__ import annotations

import io
import logging
from concurrent.futures import CancelledError
from pathlib import Path
from typing import Any

import logging_task
import pytest
from click.testing import CliRunner
from tqdm import tqdm

from posekit.cli.main import cli
from posekit.compute import executors, run
from posekit.compute.executors import DaskCluster, LocalPool, WorkerLost
from posekit.compute.graph import Task
from posekit.compute.tasks import BarAwareHandler, run_task
from posekit.project import Project


@pytest.fixture
def chosen(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, str | None]]:
    """Records make_executor's arguments instead of starting workers."""
    calls: list[tuple[int, int, str | None]] = []

    def fake(n_tasks: int, jobs: int, scheduler: str | None) -> Any:
        calls.append((n_tasks, jobs, scheduler))
        raise SystemExit(0)

    monkeypatch.setattr(run, "make_executor", fake)
    return calls


@pytest.mark.parametrize(("config", "option", "expected"), [
    ("", None, None),
    ('[compute]\nscheduler = "tcp://head:8786"\njobs = 3\n', None, "tcp://head:8786"),
    ('[compute]\nscheduler = "tcp://head:8786"\n', "local", None),
    ("", "tcp://other:8786", "tcp://other:8786"),
])
def test_scheduler_comes_from_the_option_else_the_config(
        anipose_project: Path, chosen: list[tuple[int, int, str | None]], config: str,
        option: str | None, expected: str | None) -> None:
    with (anipose_project / "config.toml").open("a") as f:
        f.write(config)
    args = ["run-all", "-p", str(anipose_project)]
    result = CliRunner().invoke(cli, [*args, "--scheduler", option] if option else args)
    assert result.exit_code == 0, result.output
    n_tasks, jobs, scheduler = chosen[0]
    assert n_tasks == 19 and scheduler == expected
    assert jobs == (3 if "jobs = 3" in config else 0)


def test_an_unreachable_scheduler_is_a_clean_error(anipose_project: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(executors, "CONNECT_TIMEOUT", "1s")
    result = CliRunner().invoke(cli, ["run-all", "-p", str(anipose_project),
                                      "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_nothing_to_do_starts_no_workers(anipose_project: Path,
                                         chosen: list[tuple[int, int, str | None]]) -> None:
    (anipose_project / "calibration" / "calibration.toml").write_text("")  # up to date
    project = Project.open(anipose_project)
    (summary,) = run.run_tasks(project, project.trials(), ("calibrate",))
    assert [(r.unit, r.status, r.message) for r in summary.results] == [
        ("calibration", "skipped", "up to date")]
    assert chosen == []


def test_lost_tasks_are_described_clearly() -> None:
    from distributed import KilledWorker

    dask = DaskCluster.__new__(DaskCluster)  # no scheduler needed to describe errors
    killed = KilledWorker("posekit-detect-1234-s1/a cam2", None, 3)
    assert dask.describe_error(killed).startswith("lost: every worker that ran it died")
    assert "cancelled by the Dask scheduler" in dask.describe_error(CancelledError())
    assert "unexpected ValueError: x" in dask.describe_error(ValueError("x"))
    local = LocalPool.__new__(LocalPool)
    assert "worker process running it died 2 times" in local.describe_error(WorkerLost())


@pytest.mark.parametrize(("level", "shown"), [
    (logging.INFO, ["WARNING: s1/t: a warning record"]),
    (logging.DEBUG, ["DEBUG: s1/t: a debug record", "INFO: s1/t: an info record",
                     "WARNING: s1/t: a warning record"]),
])
def test_workers_send_their_log_records_to_the_command_line(
        level: int, shown: list[str], capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A task's warnings come back with its result (a Dask worker's own log is seldom
    where the user looks) and the command line prints them with their level, as the
    single-step commands do, on lines of their own beside the progress bar; INFO lines too
    (and DEBUG) once the command line was asked for -v. The worker prints none itself."""
    monkeypatch.setattr(logging.getLogger(), "level", level)
    pool = LocalPool(1)
    try:
        task = Task("sync", logging_task.Unit(), None, "logging_task:log_levels", (), (), 0)
        result = pool.result(pool.submit(task, False))
    finally:
        pool.close()
    assert result.ok
    assert [f"{logging.getLevelName(lv)}: {msg}" for lv, _, msg in result.records] == shown
    assert {name for _, name, _ in result.records} == {"posekit.sync.step"}
    assert not [line for line in capfd.readouterr().err.splitlines() if "record" in line]
    terminal = io.StringIO()
    handler = BarAwareHandler(terminal)
    logging.getLogger().addHandler(handler)
    try:
        with tqdm(total=2, file=terminal, desc="run-all") as bar:
            result.replay()
            bar.update()
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [line.split("\r")[-1] for line in terminal.getvalue().splitlines()]
    assert [line for line in lines if "record" in line] == shown


def test_a_task_that_crashes_still_prints_what_it_logged(
        capsys: pytest.CaptureFixture[str]) -> None:
    """An unexpected exception leaves no result to carry the task's records (Dask retries
    such a task): they are printed where the task ran instead of being lost."""
    with pytest.raises(RuntimeError, match="an unexpected crash"):
        run_task("logging_task:log_then_crash", "s1/t", None, False)
    assert "WARNING: s1/t: a warning record before the crash" in capsys.readouterr().err


def test_a_task_submitted_after_a_worker_died_runs_in_a_new_pool() -> None:
    """A worker that dies breaks the pool; a task submitted before the caller has seen the
    lost task's result (run-all polls every second, so this happens) runs in a new pool
    instead of raising, and the lost task is still reported as lost, once."""
    import time

    pool = LocalPool(1)
    try:
        lost = pool.submit(Task("sync", logging_task.Unit(), None, "logging_task:die",
                                (), (), 0), False)
        deadline = time.monotonic() + 60
        while not lost.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lost.done()
        later = pool.submit(Task("sync", logging_task.Unit(), None,
                                 "logging_task:log_levels", (), (), 0), False)
        assert pool.result(later).ok
        with pytest.raises(WorkerLost):
            pool.result(lost)
        assert pool._generation == 1  # one restart, not two
    finally:
        pool.close()
