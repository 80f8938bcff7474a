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


def test_the_3d_viewer_shows_the_person_upright_in_any_world_frame() -> None:
    """In camera 1's frame (posekit's default world, y pointing down) the viewer's first view
    has the person's feet-to-shoulders direction as up, and looks from the side."""
    from posekit.report.figures import body_up, viewer_camera

    names = ["nose", "left_shoulder", "right_shoulder", "left_hip", "right_hip",
             "left_ankle", "right_ankle"]
    standing = np.array([[0.0, -0.7, 5], [-0.2, -0.5, 5], [0.2, -0.5, 5], [-0.1, 0.1, 5],
                         [0.1, 0.1, 5], [-0.1, 0.9, 5], [0.1, 0.9, 5]])
    rng = np.random.default_rng(1)
    points = standing + rng.normal(scale=0.02, size=(30, 7, 3))
    points[4, 1] = np.nan
    up = body_up(points, names)
    assert up is not None
    np.testing.assert_allclose(up, [0, -1, 0], atol=0.05)
    camera = viewer_camera(up)
    u = np.array([camera["up"][a] for a in "xyz"])
    eye = np.array([camera["eye"][a] for a in "xyz"])
    np.testing.assert_allclose(u, up)
    assert 0 < eye @ u < 0.5 * np.linalg.norm(eye)  # from the side, a little above
    spec = skeleton_viewer(points, names, [(1, 3), (3, 5)], np.arange(30), 30.0)
    assert spec["layout"]["scene"]["camera"] == camera
    go.Figure(spec)  # plotly accepts it
    # keypoints without such names: the z axis is up, as plotly draws by default
    assert body_up(points, [f"k{i}" for i in range(7)]) is None
    assert viewer_camera(None)["up"] == {"x": 0.0, "y": 0.0, "z": 1.0}
