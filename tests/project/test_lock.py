"""Two commands on the same trials: the second stops at once with a message naming the
trials and the command holding them; other trials go on; a killed holder leaves no lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from posekit.cli.main import cli
from posekit.project import lock
from posekit.project.lock import (
    LOCK_FOLDER,
    RETRY_WAIT,
    ProjectBusy,
    _try_lock,
    held_units,
    lock_path,
    lock_units,
)

HOLD = """
import sys, time
from pathlib import Path
from posekit.project.lock import lock_units
with lock_units(Path(sys.argv[1]), sys.argv[2:]):
    print("held", flush=True)
    time.sleep(600)
"""


def hold(root: Path, *keys: str) -> subprocess.Popen[str]:
    """Another process holding the locks of ``keys`` until it is killed."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root), *keys],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_command_on_the_same_trials_stops_with_a_clear_message(study: Path) -> None:
    holder = hold(study, "s1/a")
    try:
        result = CliRunner().invoke(cli, ["angles", "-p", str(study), "--session", "s1"])
        assert result.exit_code == 1
        text = " ".join(result.output.split())
        assert (f"another posekit command is working on the same trials: s1/a by process "
                f"{holder.pid} on ") in text, text
        assert ", `-c " in text and ", since 20" in text  # its command and start
        assert "Wait for it to end, or leave these out (--session, --trial)" in text
        assert "angles: " not in text  # nothing ran
        # other trials of the project are not held up
        other = CliRunner().invoke(cli, ["angles", "-p", str(study), "--session", "s2"])
        assert "angles: 0 done, 0 skipped, 2 failed" in other.output  # no 3D yet
        assert "another posekit command" not in other.output
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the system released the killed holder's lock: the trials are free again
    again = CliRunner().invoke(cli, ["angles", "-p", str(study), "--session", "s1"])
    assert "angles: 0 done, 0 skipped, 2 failed" in again.output, again.output
    assert (study / LOCK_FOLDER / ".gitignore").read_text().splitlines()[-1] == "*"


def test_locks_are_all_or_nothing(tmp_path: Path) -> None:
    with lock_units(tmp_path, ["s1/a"]):
        with (pytest.raises(ProjectBusy, match=rf"s1/a by process {os.getpid()} on "),
              lock_units(tmp_path, ["s1/b", "s1/a"])):
            pass  # pragma: no cover
        with lock_units(tmp_path, ["s1/b"]):  # s1/b was let go when s1/a was refused
            pass
    with lock_units(tmp_path, ["s1/a", "s1/b"]):
        pass


def test_status_shows_the_trials_another_command_holds(study: Path) -> None:
    assert "in use" not in CliRunner().invoke(cli, ["status", "-p", str(study)]).output
    holder = hold(study, "s1/b", "s2/a")
    try:
        result = CliRunner().invoke(cli, ["status", "-p", str(study)])
        assert result.exit_code == 0, result.output
        text = " ".join(result.output.split())
        assert (f"Now in use by another posekit command: s1/b, s2/a (process {holder.pid} "
                "on ") in text, text
        assert "their states may change while it runs" in text
        # looking did not take the free trials' locks, nor the held ones
        with lock_units(study, ["s1/a", "s2/b"]):
            pass
        assert set(held_units(study, ["s1/a", "s1/b", "s2/a", "s2/b"])) == {"s1/b", "s2/a"}
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert held_units(study, ["s1/a", "s1/b", "s2/a", "s2/b"]) == {}
    assert "in use" not in CliRunner().invoke(cli, ["status", "-p", str(study)]).output


def test_a_lock_held_for_an_instant_does_not_stop_a_command(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `posekit status` does to a free lock while it looks: the command that finds it
    taken tries again before it stops (more times here than in use, so that a slow test
    machine cannot make the instant longer than the retries)."""
    monkeypatch.setattr(lock, "RETRIES", 100)
    with lock_units(tmp_path, ["s1/a"]):
        pass  # the lock file exists now
    glimpse = open(lock_path(tmp_path, "s1/a"), "a+", encoding="utf-8")  # noqa: SIM115
    assert _try_lock(glimpse)
    timer = threading.Timer(RETRY_WAIT, glimpse.close)
    timer.start()
    try:
        with lock_units(tmp_path, ["s1/a"]):
            pass
    finally:
        timer.join()
    assert glimpse.closed
