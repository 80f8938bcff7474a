"""A full disk and a read-only output folder: a clear error, exit status 1, no traceback,
no temporary file left, the existing outputs untouched, and the step not up to date.

The full disk is simulated with a file size limit (``RLIMIT_FSIZE`` with ``SIGXFSZ``
ignored, so writes fail with ``EFBIG``), and, where the system allows it, with a real
tiny tmpfs mounted over the output folder in a private mount namespace (``ENOSPC``). As
root, permissions do not stop writes, so a read-only folder is made immutable with
``chattr +i`` (crash_util.read_only).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest
from crash_util import (
    PIPELINE,
    POSEKIT,
    SESSION,
    differences,
    leftovers,
    project_files,
    read_only,
    reference,
    run_posekit,
    step_freshness,
    video_hashes,
)

LIMIT_BYTES = 2000  # below every step's largest output, above calibration.toml


#: runs the command after it with files limited to LIMIT_BYTES, SIGXFSZ ignored (so a write
#: past the limit fails with EFBIG, as under `ulimit -f`; the ignored signal survives exec).
#: A command in front, not a preexec_fn: forking this process, which runs threads (MediaPipe's
#: jax), to run Python code in the child could deadlock.
FILE_SIZE_LIMIT = (sys.executable, "-c",
                   "import os, resource, signal, sys; "
                   "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                   f"resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT_BYTES}, {LIMIT_BYTES})); "
                   "os.execv(sys.argv[1], sys.argv[1:])")


def _assert_clean_failure(output: str, step: str) -> None:
    assert f"{step}: 0 done, 0 skipped, 1 failed" in output, output
    assert "Traceback" not in output and "unexpected" not in output, output


def _states(root: Path, outputs: Iterable[str]) -> dict[str, tuple[int, int] | None]:
    """Inode and modification time of each output (None: absent)."""
    states: dict[str, tuple[int, int] | None] = {}
    for rel in outputs:
        path = root / rel
        states[rel] = (path.stat().st_ino, path.stat().st_mtime_ns) if path.exists() else None
    return states


@pytest.mark.parametrize("step", PIPELINE)
def test_a_file_size_limit_fails_the_step_cleanly(step: str, tmp_path: Path,
                                                  tmp_path_factory: pytest.TempPathFactory
                                                  ) -> None:
    ref = reference(tmp_path_factory)
    root = ref.copy(tmp_path / "project")
    videos = video_hashes(root)
    before = _states(root, ref.outputs[step])
    run = run_posekit(root, step, "--overwrite", prefix=FILE_SIZE_LIMIT)
    assert run.returncode == 1, run.output
    _assert_clean_failure(run.output, step)
    assert f"cannot write {root}/" in run.output, run.output
    assert "File too large" in run.output and "ulimit -f" in run.output, run.output
    assert not [rel for rel in leftovers(root) if ".partial" in rel]
    problems, _ = differences(ref, step, root)  # what was written is complete
    assert not problems, problems
    if _states(root, ref.outputs[step]) == before and None not in before.values():
        # it failed before it replaced any of the previous outputs: they stand
        assert step_freshness(root, step) == "done"
    else:  # half done, or never done: redone by the next run
        assert step_freshness(root, step) != "done"
    assert video_hashes(root) == videos
    if step == "calibrate":  # calibration.toml was written before the report failed
        rerun = run_posekit(root, step)
        assert rerun.returncode == 0, rerun.output
        assert "calibrate: 1 done, 0 skipped, 0 failed" in rerun.output, rerun.output
        assert differences(ref, step, root)[0] == []
        assert not leftovers(root)


def _namespace_with_tmpfs(folder: Path, size: str) -> list[str]:
    """A command prefix that runs the rest in a private mount namespace with a tmpfs of
    ``size`` on ``folder``; skips the test where this system does not allow it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare command: cannot mount a small filesystem")
    base = [unshare, "-m"] if os.geteuid() == 0 else [unshare, "-rm"]
    mount = 'mount -t tmpfs -o size="$0" posekit-full "$1" && shift && exec "$@"'
    probe = subprocess.run([*base, "sh", "-c", mount, size, str(folder), "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private namespace here: {probe.stderr}")
    return [*base, "sh", "-c", mount, size, str(folder)]


def test_a_full_disk_fails_the_step_cleanly(tmp_path: Path,
                                            tmp_path_factory: pytest.TempPathFactory
                                            ) -> None:
    ref = reference(tmp_path_factory)
    root = ref.copy(tmp_path / "project")
    ref.remove_outputs(root, "triangulate")
    folder = root / SESSION / "pose-3d"
    prefix = _namespace_with_tmpfs(folder, "64k")
    run = run_posekit(root, "triangulate", prefix=prefix)
    assert run.returncode == 1, run.output
    _assert_clean_failure(run.output, "triangulate")
    assert f"cannot write {folder}/" in run.output, run.output
    assert "No space left on device" in run.output and "free some space" in run.output
    assert not leftovers(root)  # everything written went to the tmpfs, now gone


def test_a_read_only_output_folder_fails_the_step_cleanly(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    ref = reference(tmp_path_factory)
    root = ref.copy(tmp_path / "project")
    folder = root / SESSION / "pose-3d"
    before = {rel: p.read_bytes() for rel, p in project_files(root).items()}
    with read_only(folder):
        run = run_posekit(root, "triangulate", "--overwrite")
    assert run.returncode == 1, run.output
    _assert_clean_failure(run.output, "triangulate")
    assert f"cannot write {folder}/a.csv" in run.output, run.output
    assert f"the folder {folder} (or the file) is not writable" in run.output, run.output
    assert {rel: p.read_bytes() for rel, p in project_files(root).items()} == before


def test_a_read_only_session_folder_fails_the_step_cleanly(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The output folder does not exist yet and cannot be made: the message names the
    folder that is not writable."""
    ref = reference(tmp_path_factory)
    root = ref.copy(tmp_path / "project")
    shutil.rmtree(root / SESSION / "angles")
    with read_only(root / SESSION):
        run = run_posekit(root, "angles")
    assert run.returncode == 1, run.output
    _assert_clean_failure(run.output, "angles")
    assert f"the folder {root / SESSION} (or the file) is not writable" in run.output
    assert not (root / SESSION / "angles").exists()


def test_a_read_only_output_file_fails_the_step_cleanly(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The folder is writable but an old output cannot be replaced (immutable: root
    only, since any user may rename over a file without write permission)."""
    import os

    if os.geteuid() != 0:
        pytest.skip("without root, a read-only file in a writable folder can be replaced")
    ref = reference(tmp_path_factory)
    root = ref.copy(tmp_path / "project")
    png = root / SESSION / "sync" / "a.png"
    with read_only(png):
        run = run_posekit(root, "sync", "--overwrite")
    assert run.returncode == 1, run.output
    _assert_clean_failure(run.output, "sync")
    assert f"cannot write {png}: Operation not permitted" in run.output, run.output
    assert not [rel for rel in leftovers(root) if ".partial" in rel]
    # it stopped before it replaced either output: the previous ones stand, complete
    assert step_freshness(root, "sync") == "done"
    assert differences(ref, "sync", root) == ([], [])


def test_a_command_writing_into_a_read_only_folder_fails_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "boards"
    folder.mkdir()
    with read_only(folder):
        done = subprocess.run(
            [str(POSEKIT), "calibrate", "draw-board",
             str(folder / "board.png"), "-p", str(tmp_path)],
            capture_output=True, text=True)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith(f"Error: cannot write {folder}/board.png"), done.stderr
    assert "Traceback" not in done.stderr
    assert list(folder.iterdir()) == []
