"""Shared by the crash, determinism and write-failure tests: a tiny project, the outputs of
one clean run of every step on it, posekit run as a real subprocess that can be killed at
chosen points, and comparisons of outputs with the clean run's.

The project: the committed example project's calibration videos of cam1 and cam2, and one
trial ``s1/a`` of the first 15 frames of its squat from the same two cameras. The clean
reference run (``posekit calibrate``, ``detect``, ``sync``, ``triangulate``, ``angles``, one
process each) is made once per test session (:func:`reference`); a test works on a copy
(:meth:`Reference.copy`, modification times kept, so the copy is as up to date as the
original).

Kill points (:func:`run_posekit`): ``"rename:K"`` kills posekit's whole process group with
SIGKILL just before the K-th temporary ``.partial`` file of a process is renamed onto its
output (so the output is complete on disk but not in place yet; K = 1 is the first output,
K = n kills between the (n-1)-th and n-th output). It is a Python audit hook installed by a
``sitecustomize`` module on ``PYTHONPATH``, so it also runs in the worker processes that
``detect`` spawns; posekit's code is not changed. ``"delay:S"`` kills the group S seconds
after the start, from outside.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from posekit.io.video import iter_frames, write_video
from posekit.project.lock import LOCK_FOLDER

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
POSEKIT = Path(sys.executable).with_name("posekit")
PIPELINE = ("calibrate", "detect", "sync", "triangulate", "angles")
CAMERAS = ("cam1", "cam2")
FRAMES = 15
SESSION, TRIAL = "s1", "a"
#: Outputs whose bytes hold something that differs from run to run, and why; their data
#: are compared instead (see :func:`differences`).
RUN_DEPENDENT = {
    "calibration_report.json": 'its "seconds" is how long the calibration took',
}
#: Files that name the project folder (absolute paths): compared with it replaced.
PLACEHOLDER = b"<project>"

_HOOK = '''\
"""Kill the process group at the K-th rename of a .partial file (POSEKIT_TEST_KILL)."""
import os
import signal
import sys

_spec = os.environ.get("POSEKIT_TEST_KILL", "")
if _spec.startswith("rename:"):
    _target = int(_spec.split(":", 1)[1])
    _seen = [0]

    def _kill_at_rename(event, args):
        if event == "os.rename" and ".partial" in os.fsdecode(os.fspath(args[0])):
            _seen[0] += 1
            if _seen[0] >= _target:
                try:
                    os.killpg(os.getpgrp(), signal.SIGKILL)
                finally:
                    os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(_kill_at_rename)
'''


def build_project(root: Path) -> Path:
    """Write the tiny project (module docstring) to ``root``."""
    root.mkdir(parents=True)
    shutil.copy(EXAMPLE / "config.toml", root / "config.toml")
    (root / "calibration").mkdir()
    raw = root / SESSION / "videos-raw"
    for cam in CAMERAS:
        shutil.copy(EXAMPLE / "calibration" / f"calib-{cam}.mp4", root / "calibration")
        video = EXAMPLE / "session1" / "videos-raw" / f"squat-{cam}.mp4"
        frames = [f for _, f in zip(range(FRAMES), iter_frames(video), strict=False)]
        write_video(raw / f"{TRIAL}-{cam}.mp4", frames, 30.0)
    return root


@dataclass
class Run:
    """One posekit process: its exit status (negative: killed by that signal), its
    output (stdout and stderr), whether the test killed it, and how long it took."""

    returncode: int
    output: str
    killed: bool
    seconds: float


def hook_dir(factory: pytest.TempPathFactory) -> Path:
    """A folder holding the kill hook's ``sitecustomize.py`` (made once per session)."""
    folder = factory.getbasetemp() / "posekit-kill-hook"
    if not (folder / "sitecustomize.py").is_file():
        folder.mkdir(exist_ok=True)
        (folder / "sitecustomize.py").write_text(_HOOK, encoding="utf-8")
    return folder


def run_posekit(root: Path, step: str, *args: str, kill: str | None = None,
                factory: pytest.TempPathFactory | None = None,
                prefix: Sequence[str] = (),
                timeout: float = 180.0) -> Run:
    """Run ``posekit -q STEP -p ROOT ARGS`` in its own process group; ``kill``: a kill
    point (module docstring; ``"rename:K"`` needs ``factory``); ``prefix``: a command that
    runs posekit (e.g. ``unshare``, or one that sets resource limits: no ``preexec_fn``,
    since forking this threaded process to run Python code in the child could deadlock)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3",
               GLOG_minloglevel="2")
    env.pop("POSEKIT_TEST_KILL", None)
    delay = None
    if kill is not None and kill.startswith("rename:"):
        assert factory is not None, "a rename kill point needs the hook folder"
        env["POSEKIT_TEST_KILL"] = kill
        env["PYTHONPATH"] = os.pathsep.join(
            [str(hook_dir(factory)), *filter(None, [env.get("PYTHONPATH")])])
    elif kill is not None:
        delay = float(kill.removeprefix("delay:"))
    command = [*prefix, str(POSEKIT), "-q", step, "-p", str(root), *args]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    killed = False
    try:
        out, _ = proc.communicate(timeout=delay if delay is not None else timeout)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        killed = delay is not None
        out, _ = proc.communicate()
    if proc.returncode == -signal.SIGKILL:
        killed = True
    _reap_group(proc.pid)
    return Run(proc.returncode, out.decode(errors="replace"), killed,
               time.perf_counter() - start)


def _living(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are not zombies (Linux ``/proc``)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _reap_group(pgid: int) -> None:
    """Make sure no process of the group outlives the run (detect's workers), so that
    nothing writes after it."""
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path("/proc/self/stat").exists() and time.monotonic() < deadline:
        if not _living(pgid):
            return
        time.sleep(0.02)


def project_files(root: Path) -> dict[str, Path]:
    """Every file of a project (hidden ones included) by path relative to it, except the
    lock files (``.posekit-locks/``: bookkeeping of who runs, not outputs)."""
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != LOCK_FOLDER}


def video_hashes(root: Path) -> dict[str, str]:
    """sha256 of every video (raw and calibration) of a project."""
    return {rel: hashlib.sha256(p.read_bytes()).hexdigest()
            for rel, p in project_files(root).items() if p.suffix == ".mp4"}


def leftovers(root: Path) -> list[str]:
    """Temporary files of interrupted writes and markers of unfinished steps."""
    return [rel for rel in project_files(root)
            if ".partial" in rel.rsplit("/", 1)[-1] or rel.endswith(".incomplete")]


@dataclass
class Reference:
    """The tiny project after one clean run of every step: ``outputs[step]`` are the files
    that step wrote (relative path → bytes), ``seconds[step]`` how long it took."""

    root: Path
    outputs: dict[str, dict[str, bytes]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def copy(self, dest: Path) -> Path:
        """A copy of the project (modification times kept)."""
        return Path(shutil.copytree(self.root, dest))

    def remove_outputs(self, root: Path, step: str) -> None:
        """Delete ``step``'s outputs from a copy, as before its first run."""
        for rel in self.outputs[step]:
            (root / rel).unlink(missing_ok=True)


_REFERENCE: dict[str, Reference] = {}


def reference(factory: pytest.TempPathFactory) -> Reference:
    """The clean run (made on first use, then shared by the whole test session)."""
    if "ref" not in _REFERENCE:
        ref = Reference(build_project(factory.mktemp("reference") / "project"))
        for step in PIPELINE:
            before = {rel: p.stat().st_mtime_ns for rel, p in project_files(ref.root).items()}
            run = run_posekit(ref.root, step)
            assert run.returncode == 0 and f"{step}: 1 done" in run.output, run.output
            ref.seconds[step] = run.seconds
            ref.outputs[step] = {
                rel: p.read_bytes() for rel, p in project_files(ref.root).items()
                if before.get(rel) != p.stat().st_mtime_ns}
            assert ref.outputs[step], f"{step} wrote nothing"
        assert not leftovers(ref.root)
        _REFERENCE["ref"] = ref
    return _REFERENCE["ref"]


def _same_data(rel: str, ref_bytes: bytes, path: Path) -> str | None:
    """For a file in :data:`RUN_DEPENDENT`: None when its data equal the reference's."""
    name = rel.rsplit("/", 1)[-1]
    if path.suffix == ".h5":
        from posekit.pose2d.table import read_pose2d

        ref_path = path.with_name(f"{path.stem}.reference.h5")
        ref_path.write_bytes(ref_bytes)
        try:
            a, b = read_pose2d(ref_path), read_pose2d(path)
        finally:
            ref_path.unlink()
        same = (a.keypoints == b.keypoints and a.scorer == b.scorer
                and a.metadata == b.metadata
                and np.array_equal(a.xy, b.xy, equal_nan=True)
                and np.array_equal(a.likelihood, b.likelihood, equal_nan=True)
                and np.array_equal(a.frame_times, b.frame_times, equal_nan=True))
        return None if same else f"{rel}: 2D data differ"
    if name == "calibration_report.json":
        a, b = json.loads(ref_bytes), json.loads(path.read_bytes())
        a.pop("seconds", None)
        b.pop("seconds", None)
        return None if a == b else f"{rel}: report figures differ"
    return f"{rel}: bytes differ"


def differences(ref: Reference, step: str, root: Path, present_only: bool = False
                ) -> tuple[list[str], list[str]]:
    """How ``step``'s outputs in ``root`` differ from the reference: (problems, files equal
    in data only, not in bytes). The project folder's path is replaced by a placeholder in
    both. ``present_only``: a missing output is not a problem."""
    problems, data_only = [], []
    for rel, ref_bytes in ref.outputs[step].items():
        path = root / rel
        if not path.is_file():
            if not present_only:
                problems.append(f"{rel}: missing")
            continue
        # a file copied from the reference (not rewritten) names the reference's folder
        got = (path.read_bytes().replace(os.fsencode(root), PLACEHOLDER)
               .replace(os.fsencode(ref.root), PLACEHOLDER))
        if got == ref_bytes.replace(os.fsencode(ref.root), PLACEHOLDER):
            continue
        name = rel.rsplit("/", 1)[-1]
        if path.suffix in RUN_DEPENDENT or name in RUN_DEPENDENT:
            problem = _same_data(rel, ref_bytes, path)
            if problem is None:
                data_only.append(rel)
                continue
        else:
            problem = f"{rel}: bytes differ ({len(got)} bytes, reference {len(ref_bytes)})"
        problems.append(problem)
    return problems, data_only


def step_freshness(root: Path, step: str) -> str:
    """What the runner thinks of ``step`` for the project's one unit."""
    from posekit.project import Project
    from posekit.project.runner import freshness, units_for
    from posekit.project.steps import STEPS

    project = Project.open(root)
    (unit,) = units_for(STEPS[step], project.trials())
    return freshness(STEPS[step], unit)


@contextmanager
def read_only(path: Path) -> Iterator[str]:
    """Make a folder or file unwritable for this process for the block; yields how.

    As root, permissions do not stop writes, so root sets the immutable attribute
    (``chattr +i``); others remove the write permission. Skips the test when neither
    works."""
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None:
            pytest.skip("running as root without chattr: cannot make a folder read-only")
        done = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i is not supported here ({done.stderr.strip()})")
        try:
            yield "immutable (chattr +i)"
        finally:
            subprocess.run([chattr, "-i", str(path)], check=True)
    else:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield "no write permission (chmod a-w)"
        finally:
            path.chmod(mode)
