"""Running a step again on the same inputs gives the same outputs.

Every step is run a second time with ``--overwrite`` on a copy of the clean reference
project (crash_util) and its outputs are compared with the first run's: byte for byte,
and no output names the project folder (files are named relative to it), so a moved or
copied project gives the same bytes. The files of crash_util.RUN_DEPENDENT
embed something run-dependent (HDF5 timestamps, a duration) and must be equal in data;
if they become byte-identical, so much the better. No step uses random numbers (OpenCV's
RANSAC in the board diagnosis seeds itself with a constant), so there is no seed to set.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from crash_util import PIPELINE, RUN_DEPENDENT, differences, reference, run_posekit


def test_every_step_run_twice_gives_the_same_outputs(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    ref = reference(tmp_path_factory)
    root = ref.copy(tmp_path / "project")
    data_only: list[str] = []
    for step in PIPELINE:
        run = run_posekit(root, step, "--overwrite")
        assert run.returncode == 0, run.output
        assert f"{step}: 1 done, 0 skipped, 0 failed" in run.output, run.output
        problems, same_data = differences(ref, step, root)
        assert not problems, f"{step}: {problems}"
        data_only += same_data
        absolute = [rel for rel in ref.outputs[step]
                    if os.fsencode(root) in (root / rel).read_bytes()]
        assert not absolute, f"{step}: {absolute} name the project folder"
    for rel in data_only:  # only the documented files may differ in bytes
        name = rel.rsplit("/", 1)[-1]
        assert Path(name).suffix in RUN_DEPENDENT or name in RUN_DEPENDENT, rel


def test_a_figure_saved_twice_gives_the_same_png(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from posekit.io.atomic import write_figure_atomic

    def save(name: str) -> bytes:
        fig, ax = plt.subplots(figsize=(3, 2))
        ax.plot([0, 1, 2], [2, 0, 1])
        ax.set_title("angle")
        return write_figure_atomic(fig, tmp_path / name).read_bytes()

    first = save("a.png")
    assert first == save("b.png")
    assert b"tIME" not in first and b"Creation Time" not in first  # no date in the PNG
