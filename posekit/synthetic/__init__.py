"""Synthetic data with exact ground truth: camera rigs, ChArUco videos, a moving person.

Used by ``posekit demo``, by the test suite and by the benchmarks. Everything is
deterministic given a seed. World frame: metres, z up, floor at z = 0.
"""
