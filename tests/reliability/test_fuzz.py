"""A small seeded fuzz run of the config loader and the 2D importers (the full run is
``python benchmarks/fuzz_inputs.py``): mutated valid inputs may only load or raise a
PosekitError that names the file; any other exception, a config that does not load back
from its dump, or 2D keypoints that break posekit's invariants fail the test with the
path of a saved reproducer."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz_util import REPO, load_fuzzer

fuzzer = load_fuzzer()
CASES = 100


@pytest.mark.parametrize("target", fuzzer.TARGETS)
def test_mutated_inputs_load_or_raise_a_posekit_error(target: str, tmp_path: Path) -> None:
    logging.disable(logging.CRITICAL)
    try:
        counts, bugs = fuzzer.fuzz(target, range(CASES), 20240, tmp_path)
    finally:
        logging.disable(logging.NOTSET)
    assert sum(counts.values()) == CASES
    assert not bugs, "\n".join(bugs)
    # the mutations reach both outcomes: some inputs still load, most are refused
    assert counts["ok"] > 0
    assert sum(v for k, v in counts.items() if k.startswith("PosekitError")) > CASES // 2


def test_fuzzer_script_runs_isolated_and_reports(tmp_path: Path) -> None:
    """The script itself: child processes, the Markdown table, exit status 0."""
    proc = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "fuzz_inputs.py"), "--cases", "5",
         "--seed", "1", "--targets", "config", "openpose", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "| config | 5 |" in proc.stdout
    assert "| openpose | 5 |" in proc.stdout


def test_a_bug_is_reported_with_a_reproducer(tmp_path: Path) -> None:
    """An exception that is not a PosekitError counts as a bug and its input is saved."""
    def broken(rng: object, case_dir: Path) -> str:
        (case_dir / "input.txt").write_text("x")
        raise ZeroDivisionError("boom")

    fuzzer.RUNNERS["config"], original = broken, fuzzer.RUNNERS["config"]
    try:
        counts, bugs = fuzzer.fuzz("config", range(2), 0, tmp_path)
    finally:
        fuzzer.RUNNERS["config"] = original
    assert counts == {"bug:ZeroDivisionError": 2}
    assert len(bugs) == 2 and "boom" in bugs[0]
    saved = tmp_path / "reproducers" / "config-0"
    assert (saved / "input" / "input.txt").read_text() == "x"
    assert "--case 0" in (saved / "README.txt").read_text()


# -- regressions found by the full run (benchmarks/fuzz_inputs.py, seed 0) ----------------


def test_hdf5_with_a_damaged_attribute_name_is_refused_not_a_crash(tmp_path: Path) -> None:
    """PyTables dies with a segmentation fault on an attribute name that is not UTF-8
    (dlc-h5 case 88): ``import-2d`` refuses the file first. Run as a subprocess, so that a
    regression shows as a crash instead of ending the test session."""
    import h5py
    import numpy as np

    from posekit.pose2d.table import Pose2D, write_pose2d

    path = tmp_path / "walk-camA.h5"
    write_pose2d(Pose2D(("a", "b"), np.zeros((3, 2, 2)), np.ones((3, 2))), path)
    with h5py.File(path, "a") as h5:
        h5["df_with_missing/table"].attrs[b"\xd6bad_name"] = b"x"
    proc = subprocess.run(
        [sys.executable, "-m", "posekit", "import-2d", str(path), str(tmp_path / "out.csv")],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert (f"Error: {path}: this HDF5 file is damaged (names that are not text in "
            "df_with_missing/table); export the 2D keypoints again") in proc.stderr


def test_sleap_track_names_longer_than_tracks(tmp_path: Path) -> None:
    """sleap case 734: a track chosen by name that ``tracks`` does not hold."""
    import h5py
    import numpy as np

    from posekit.errors import PosekitError
    from posekit.pose2d.importers import import_2d

    path = tmp_path / "walk.analysis.h5"
    with h5py.File(path, "w") as h5:
        h5["tracks"] = np.zeros((1, 2, 3, 4))
        h5["node_names"] = np.array([b"a", b"b", b"c"])
        h5["track_names"] = np.array([b"t0", b"t1"])
    with pytest.raises(PosekitError, match=r"track_names lists 2 tracks but 'tracks' holds 1"):
        import_2d(path, track="t1")
