"""Joint angles from 3D keypoints (Anipose's ``[angles]`` definitions) and study-wide
summary tables.

- :mod:`posekit.angles.definitions`: the ``[angles]`` table parsed and checked;
- :mod:`posekit.angles.compute`: the angle forms, vectorised over frames, NaN-aware;
- :mod:`posekit.angles.step`: the ``angles`` pipeline step (CSV + plot per trial);
- :mod:`posekit.angles.summarize`: ``posekit summarize`` (CSV + Parquet tables).
"""

from posekit.angles.compute import (
    axis_angle,
    chain_angles,
    compute_angles,
    cross_axis_angle,
    inner_angle,
)
from posekit.angles.definitions import AngleDefinition, angles_for, parse_angles

__all__ = [
    "AngleDefinition",
    "angles_for",
    "axis_angle",
    "chain_angles",
    "compute_angles",
    "cross_axis_angle",
    "inner_angle",
    "parse_angles",
]
