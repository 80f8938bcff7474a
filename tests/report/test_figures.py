"""The report's figures: the 3D viewer, built as a plain dict without plotly's validation
(for speed), must be a figure that plotly accepts and draws the same as its own."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from posekit.report.figures import skeleton_viewer


def test_the_3d_viewer_is_the_figure_plotly_would_build() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(12, 4, 3)) * 100
    points[3, 1] = np.nan  # a keypoint missing in one frame
    truth = points + 5.0
    spec = skeleton_viewer(points, ["a", "b", "c", "d"], [(0, 1), (1, 2), (2, 3)],
                           np.arange(10, 22), 30.0, truth, "mm")
    fig = go.Figure(spec)  # validates every property: raises on a wrong one
    assert len(fig.frames) == 12 and fig.frames[0].name == "10"
    ours = json.loads(pio.to_json(spec, validate=False))
    plotlys = json.loads(pio.to_json(fig))
    assert ours == plotlys
