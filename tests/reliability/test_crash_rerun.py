"""Kill a step with SIGKILL at several points, rerun it, and get the clean run's outputs.

Each test takes a copy of the clean reference project (crash_util), deletes one step's
outputs, runs ``posekit <step>`` as a real process and kills its whole process group at
each kill point in turn (crash_util.run_posekit), then runs the same command once more.
After every kill: the outputs on disk are complete (equal to the clean run's) or absent,
and the step is not "up to date". After the rerun: it did the work, the outputs equal the
clean run's (byte for byte, except the files of crash_util.RUN_DEPENDENT, equal in
data), no temporary file or marker is left, and no video changed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from crash_util import (
    PIPELINE,
    Reference,
    differences,
    leftovers,
    project_files,
    reference,
    run_posekit,
    step_freshness,
    video_hashes,
)

#: Kill points per step: "rename:K" kills just before the K-th output is moved into place
#: (skipped when the step writes fewer files per process); "delay:F" after F times the
#: clean run's duration. calibrate's "rename:2" falls between calibration.toml and its
#: report, angles' "rename:3" just before the CSV (triangulate's "rename:5" likewise, in
#: test_the_next_step_never_reads_a_half_written_output); detect's
#: "rename:1" while one worker moves its 2D file into place and the other still detects.
KILLS = {
    "calibrate": ("delay:0.5", "rename:2"),
    "detect": ("rename:1",),
    "sync": ("rename:1", "rename:2"),
    "triangulate": ("rename:2",),  # rename:5 in the test after this one
    "angles": ("rename:1", "rename:3"),
}
#: Files a step writes per process (detect: one 2D file per worker process).
PER_PROCESS = {"detect": 1}


def _kill_points(ref: Reference, step: str) -> list[str]:
    most = PER_PROCESS.get(step, len(ref.outputs[step]))
    points = []
    for point in KILLS[step]:
        kind, _, value = point.partition(":")
        if kind == "rename" and int(value) > most:
            continue
        points.append(point if kind == "rename"
                      else f"delay:{float(value) * ref.seconds[step]:.2f}")
    return points


def _check_after_kill(ref: Reference, step: str, root: Path, point: str) -> None:
    problems, _ = differences(ref, step, root, present_only=True)
    assert not problems, f"after a kill at {point}: {problems}"
    assert step_freshness(root, step) != "done", (
        f"after a kill at {point}, {step} counts as up to date; on disk: "
        f"{sorted(project_files(root))}")


@pytest.mark.parametrize("step", PIPELINE)
def test_a_killed_step_is_finished_by_a_rerun(step: str, tmp_path: Path,
                                             tmp_path_factory: pytest.TempPathFactory
                                             ) -> None:
    ref = reference(tmp_path_factory)
    root = ref.copy(tmp_path / "project")
    videos = video_hashes(root)
    ref.remove_outputs(root, step)
    kills = 0
    for point in _kill_points(ref, step):
        run = run_posekit(root, step, kill=point, factory=tmp_path_factory)
        if not run.killed:  # a delay longer than this run: it simply finished
            assert point.startswith("delay:"), f"kill point {point} not reached: {run.output}"
            assert run.returncode == 0, run.output
            ref.remove_outputs(root, step)
            continue
        kills += 1
        if point.startswith("rename:"):  # killed mid-write: the temporary file is there
            assert any(".partial" in rel for rel in leftovers(root)), leftovers(root)
        _check_after_kill(ref, step, root, point)
        assert video_hashes(root) == videos
    assert kills >= 1

    rerun = run_posekit(root, step)
    assert rerun.returncode == 0, rerun.output
    assert f"{step}: 1 done, 0 skipped, 0 failed" in rerun.output, rerun.output
    problems, _ = differences(ref, step, root)
    assert not problems, problems
    assert not leftovers(root)
    assert sorted(project_files(root)) == sorted(project_files(ref.root))
    assert step_freshness(root, step) == "done"
    assert video_hashes(root) == videos


def test_the_next_step_never_reads_a_half_written_output(
        tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """triangulate killed with its CSV written to a temporary file but not in place yet:
    angles does not take the temporary file for the 3D, and says what to run."""
    ref = reference(tmp_path_factory)
    root = ref.copy(tmp_path / "project")
    ref.remove_outputs(root, "triangulate")
    run = run_posekit(root, "triangulate", kill="rename:5", factory=tmp_path_factory)
    assert run.killed
    _check_after_kill(ref, "triangulate", root, "rename:5")
    names = [rel.rsplit("/", 1)[-1] for rel in leftovers(root)]
    assert any(n.startswith(".a.") and n.endswith(".partial.csv") for n in names), names
    angles = run_posekit(root, "angles", "--overwrite")
    assert angles.returncode == 1, angles.output
    assert "a.csv is missing; run `posekit triangulate` first" in angles.output, angles.output
    assert "Traceback" not in angles.output


def test_a_truncated_2d_file_is_not_up_to_date(tmp_path: Path,
                                                tmp_path_factory: pytest.TempPathFactory
                                                ) -> None:
    """A 2D file cut short by other means (an interrupted copy) is not taken as done:
    HDF5 records its own length, and a shorter file is redone by the next run."""
    ref = reference(tmp_path_factory)
    root = ref.copy(tmp_path / "project")
    h5 = next(p for rel, p in project_files(root).items() if rel.endswith("cam2.h5"))
    data = h5.read_bytes()
    assert step_freshness(root, "detect") == "done"
    h5.write_bytes(data[: len(data) // 2])
    assert step_freshness(root, "detect") == "missing"
    h5.write_bytes(data[:40])  # cut inside the HDF5 header
    assert step_freshness(root, "detect") == "missing"
    # the steps that read it name the file and the fix; detect redoes it
    sync = run_posekit(root, "sync", "--overwrite")
    assert sync.returncode == 1, sync.output
    assert f"{h5}: cannot read this 2D keypoint file" in sync.output, sync.output
    assert "run `posekit detect --overwrite` for its video" in sync.output, sync.output
    assert "Traceback" not in sync.output and "unexpected" not in sync.output
    detect = run_posekit(root, "detect")
    assert detect.returncode == 0, detect.output
    assert "detect: 1 done, 0 skipped, 0 failed" in detect.output, detect.output
    assert step_freshness(root, "detect") == "done"
