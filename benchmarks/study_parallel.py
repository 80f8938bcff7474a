"""Whole-study speed-up: ``run-all`` on a study of 8 synthetic trials with 1 and 2 workers.

The study (rendered once by ``posekit.synthetic``, cached in ``--out``): 2 sessions x 4
trials (squat, jump, march, arm_raise_side) x 3 cameras, ``--seconds`` long each at 30 fps.
The calibration is the rig's true one, copied in before each run, so the runs time the work
that grows with a study: detection per (trial, camera), then sync, triangulation and angles
per trial. Each run starts from a fresh copy without outputs; worker start-up is included.
The outputs of every run are checked to be identical to the first run's.

Run: ``python benchmarks/study_parallel.py [--seconds S] [--executor local|dask|both]
[--repeat N]`` (``--quick``: 1 s trials, a smoke run). The table keeps the best run per
setting; the line below it gives each repeat's own 1-to-2-worker ratio and their median,
which shows the run-to-run spread. ``--executor dask`` runs on a
``dask.distributed`` LocalCluster of 1 and 2 worker processes (cluster start-up not timed),
with the worker environment that docs/compute.md recommends (:data:`DASK_WORKER_ENV`).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from posekit.pose2d.table import read_pose2d
from posekit.project import Project
from posekit.project.pipeline import run_all
from posekit.synthetic.project import SyntheticProjectSpec, write_synthetic_project

MOTIONS = ("squat", "jump", "march", "arm_raise_side")
#: The worker environment docs/compute.md recommends: Dask's nanny sets
#: MALLOC_TRIM_THRESHOLD_=65536, which turns every video frame buffer into a fresh mmap
#: (page faults: about 12 % slower detection); a large threshold and heap-allocated frames
#: avoid that.
DASK_WORKER_ENV = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 134217728,
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 67108864,
}
SESSIONS = ("s1", "s2")


def render(folder: Path, spec: SyntheticProjectSpec) -> Path:
    """The synthetic project of ``spec`` in ``folder``, without outputs (reused when
    ``folder`` already holds it)."""
    if not (folder / "config.toml").is_file():
        start = time.perf_counter()
        write_synthetic_project(folder, spec)
        print(f"rendered {folder} in {time.perf_counter() - start:.0f} s")
    return folder


def render_study(folder: Path, seconds: float) -> Path:
    """The 8-trial study without outputs (reused when ``folder`` already holds it)."""
    return render(folder, SyntheticProjectSpec(
        n_cams=3, calibration_frames=60, sessions=SESSIONS,
        trials=tuple((m, m, seconds) for m in MOTIONS),
    ))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def fresh_copy(study: Path, target: Path) -> Path:
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(study, target)
    shutil.copy(study / "ground-truth" / "calibration.toml",
                target / "calibration" / "calibration.toml")  # newer than the videos
    return target


def data_files(root: Path) -> dict[str, Path]:
    return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*"))
            if p.suffix in (".h5", ".csv", ".toml") and p.parent.name in
            ("pose-2d", "sync", "pose-3d", "angles")}


def same_outputs(a: Path, b: Path) -> bool:
    fa, fb = data_files(a), data_files(b)
    if fa.keys() != fb.keys():
        return False
    for name, path in fa.items():
        if path.suffix == ".h5":
            pa, pb = read_pose2d(path), read_pose2d(fb[name])
            if not (np.array_equal(pa.xy, pb.xy, equal_nan=True)
                    and np.array_equal(pa.likelihood, pb.likelihood)):
                return False
        elif path.suffix == ".csv":
            if not pd.read_csv(path).equals(pd.read_csv(fb[name])):
                return False
        elif path.read_text() != fb[name].read_text():
            return False
    return True


def timed_run(root: Path, workers: int, scheduler: str | None) -> tuple[float, int]:
    project = Project.open(root)
    trials = project.trials()
    start = time.perf_counter()
    summaries = run_all(project, trials, progress=False, jobs=workers,
                        scheduler=scheduler or "local")
    wall = time.perf_counter() - start
    for summary in summaries:
        if not summary.ok:
            raise SystemExit(f"{root}: {summary.step} did not succeed: {summary.results}")
    busy = {s.step: sum(r.seconds for r in s.results) for s in summaries}
    print(f"  task time by step: {', '.join(f'{k} {v:.0f} s' for k, v in busy.items())}; "
          f"workers busy {100 * sum(busy.values()) / (wall * workers):.0f} % of the run")
    frames = sum(read_pose2d(p).n_frames for p in root.rglob("pose-2d/*.h5"))
    return wall, frames


def run_mode(mode: str, workers: int, study: Path, out: Path) -> tuple[float, int, Path]:
    root = fresh_copy(study, out / f"run-{mode}-{workers}")
    if mode == "local":
        wall, frames = timed_run(root, workers, None)
    else:
        import dask
        from distributed import LocalCluster

        with dask.config.set(DASK_WORKER_ENV), LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                dashboard_address=None) as cluster:
            wall, frames = timed_run(root, workers, cluster.scheduler_address)
    return wall, frames, root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="length of each trial")
    parser.add_argument("--quick", action="store_true", help="1 s trials (smoke run)")
    parser.add_argument("--executor", choices=("local", "dask", "both"), default="local",
                        help="local process pool, Dask LocalCluster, or both")
    parser.add_argument("--repeat", type=int, default=1, help="runs per setting (best kept)")
    parser.add_argument("--out", type=Path, default=None, help="working folder (kept)")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else args.seconds
    out = args.out or Path(tempfile.mkdtemp(prefix="posekit-study-"))
    study = render_study(out / f"study-{seconds:g}s", seconds)
    modes = ["local", "dask"] if args.executor == "both" else [args.executor]
    results: dict[tuple[str, int], list[float]] = {}
    loads: list[float] = []
    frames = 0
    reference: Path | None = None
    identical = True
    for _ in range(args.repeat):
        for mode in modes:
            for workers in (1, 2):
                loads.append(os.getloadavg()[0])
                wall, frames, root = run_mode(mode, workers, study, out)
                loads.append(os.getloadavg()[0])
                results.setdefault((mode, workers), []).append(wall)
                print(f"{mode}, {workers} worker(s): {wall:.1f} s "
                      f"(load average {loads[-2]:.2f} before, {loads[-1]:.2f} after)")
                if reference is None:
                    reference = root
                elif not same_outputs(reference, root):
                    identical = False
                    print(f"  outputs differ from {reference.name}'s")
    lines = [
        f"Study: {len(SESSIONS) * len(MOTIONS)} trials x 3 cameras x {seconds:g} s at 30 fps "
        f"({frames} video frames); {os.cpu_count()} CPUs ({cpu_name()}); "
        f"1-minute load average during the runs {min(loads):.2f}-{max(loads):.2f}.",
        "",
        "| executor | workers | wall time | frames/s | speed-up |",
        "| --- | --- | --- | --- | --- |",
    ]
    for mode in modes:
        one = min(results[(mode, 1)])
        for workers in (1, 2):
            best = min(results[(mode, workers)])
            name = "local process pool" if mode == "local" else "Dask LocalCluster"
            lines.append(f"| {name} | {workers} | {best:.1f} s | {frames / best:.1f} | "
                         f"{one / best:.2f} x |")
    for mode in modes:  # each repeat's own 1-worker / 2-worker ratio: the run-to-run spread
        pairs = [a / b for a, b in zip(results[(mode, 1)], results[(mode, 2)], strict=True)]
        name = "local process pool" if mode == "local" else "Dask LocalCluster"
        lines.append(f"\n{name}, speed-up of each pair of runs (1 then 2 workers): "
                     f"{', '.join(f'{r:.2f} x' for r in pairs)}; median "
                     f"{float(np.median(pairs)):.2f} x.")
    lines += ["", f"Outputs identical across runs: {'yes' if identical else 'NO'}."]
    text = "\n".join(lines)
    print("\n" + text)
    (out / "study_parallel.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
