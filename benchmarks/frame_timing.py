"""Frame timing: frames placed on a camera's regular grid from their timestamps.

Simulated timestamp series with exact ground truth (no video is decoded):

* drops: cameras at 25, 29.97, 30, 60 and 120 fps that drop frames (at random, 0.1-20 %;
  in bursts of up to 30; every other frame for stretches), timestamps with 0-10 % of a
  frame of jitter, rounded to whole milliseconds, 200-40 000 frames. A frame is right when
  its slot is the one it was recorded in.
* slow stretches: phones at 25, 29.97, 30 and 60 fps that fall to 0.6-0.8 of their rate for
  1-5 stretches (frames 1.25-1.67 intervals apart, so no single interval is a gap) and
  resume at whatever phase that leaves; 2 % of a frame of jitter. There is no one right
  slot for a frame between slots, so the figure is how far each frame's slot is from its
  time (in frame intervals, from the first frame, less the clip's median difference,
  since a constant shift is only a sub-frame sync offset): within 0.5 is the best
  possible.

Each set is also measured frame by frame (each frame in the slot of its index), as posekit
did before it read the timestamps.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from posekit.pose2d.timing import frame_slots


def drops(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.integers(200, 40000))
    pattern = rng.choice(["random", "bursts", "every other"])
    period = 1 / rng.choice([25, 29.97, 30, 60, 120])
    if pattern == "random":
        keep = rng.random(n) > rng.choice([0.001, 0.01, 0.05, 0.2])
    else:
        keep = np.ones(n, bool)
        for _ in range(int(rng.integers(1, 10 if pattern == "bursts" else 5))):
            a = int(rng.integers(0, n))
            if pattern == "bursts":
                keep[a:a + int(rng.integers(1, 30))] = False
            else:
                keep[a:a + int(rng.integers(10, 300)):2] = False
    keep[0] = True
    slots = np.flatnonzero(keep)
    jitter = rng.choice([0.0, 0.02, 0.05, 0.1])
    times = slots * period + rng.normal(0, jitter * period, len(slots)) + rng.uniform(0, 5)
    return np.round(times, 3), slots


def slow_stretches(rng: np.random.Generator) -> tuple[np.ndarray, float]:
    fps = float(rng.choice([25, 29.97, 30, 60]))
    slow = fps * float(rng.choice([0.8, 0.6, 0.75]))
    times: list[float] = []
    now = 0.0
    for _ in range(int(rng.integers(1, 6))):
        for rate, count in ((fps, rng.integers(50, 3000)), (slow, rng.integers(20, 600))):
            times += list(now + np.arange(int(count)) / rate)
            now = times[-1] + 1 / rate
    t = np.array(times) + rng.normal(0, 0.02 / fps, len(times))
    return np.round(t + 0.37 / fps, 4), fps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=300, help="clips per set and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[5, 9])
    parser.add_argument("--quick", action="store_true", help="30 clips per set and seed")
    args = parser.parse_args()
    clips = 30 if args.quick else args.clips
    print("| set | seed | clips | frames | posekit | frame by frame | time |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        start, frames, exact, exact_plain = time.perf_counter(), 0, 0, 0
        for _ in range(clips):
            times, truth = drops(rng)
            got = frame_slots(times)
            got = np.arange(len(times)) if got is None else got
            frames += len(times)
            exact += bool(np.array_equal(got, truth))
            exact_plain += bool(np.array_equal(np.arange(len(times)), truth))
        print(f"| drops | {seed} | {clips} | {frames} | {exact} clips with every frame in "
              f"its slot | {exact_plain} | {time.perf_counter() - start:.1f} s |")
        rng = np.random.default_rng(seed)
        start, frames = time.perf_counter(), 0
        worst, share, worst_plain = [], [], []
        for _ in range(clips):
            times, fps = slow_stretches(rng)
            got = frame_slots(times)
            got = np.arange(len(times)) if got is None else got
            off = got - (times - times[0]) * fps
            off = np.abs(off - np.median(off))  # a constant shift is a sub-frame offset
            frames += len(times)
            worst.append(off.max())
            share.append(np.mean(off <= 0.6))
            plain = np.arange(len(times)) - (times - times[0]) * fps
            worst_plain.append(np.abs(plain - np.median(plain)).max())
        print(f"| slow stretches | {seed} | {clips} | {frames} | frames within 0.6 interval "
              f"of their time: {100 * np.mean(share):.1f} % (clip with the fewest "
              f"{100 * min(share):.1f} %); farthest frame per clip: median "
              f"{np.median(worst):.2f}, worst {max(worst):.2f} intervals | farthest frame "
              f"per clip: median {np.median(worst_plain):.0f}, worst {max(worst_plain):.0f} "
              f"intervals | {time.perf_counter() - start:.1f} s |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
