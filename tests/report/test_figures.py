"""The report's figures: the 3D viewer, built as a plain dict without plotly's validation
(for speed), must be a figure that plotly accepts and draws the same as its own."""

from __future__ import annotations

import dataclasses
import json

import cv2
import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from posekit.camera.model import CameraGroup
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


def test_a_person_lying_down_is_shown_lying_when_the_cameras_say_where_up_is() -> None:
    """A rig of level-ish cameras around the person (z up, make_rig) agrees on the room's
    up; a standing person keeps the exact body direction, a lying one (ankles to shoulders
    horizontal) is shown lying on the room's floor instead of stood up."""
    from posekit.report.figures import body_up, cameras_up, viewer_up
    from posekit.synthetic.rig import make_rig

    room = cameras_up(make_rig(4, seed=0))
    assert room is not None and room[2] > np.cos(np.radians(10))  # z, within the tilts
    names = ["left_shoulder", "right_shoulder", "left_ankle", "right_ankle"]
    standing = np.array([[[-0.2, 0, 1.4], [0.2, 0, 1.4], [-0.1, 0, 0.1], [0.1, 0, 0.1]]])
    lying = standing[..., [2, 1, 0]] * [1, 1, 0.1]  # head to feet along x, at the floor
    assert viewer_up(body_up(standing, names), room) is not None
    np.testing.assert_allclose(viewer_up(body_up(standing, names), room), [0, 0, 1])
    np.testing.assert_allclose(viewer_up(body_up(lying, names), room), room)
    assert viewer_up(None, room) is room and viewer_up(None, None) is None
    spec = skeleton_viewer(lying, names, [(0, 2)], np.arange(1), 30.0, up=room)
    shown = spec["layout"]["scene"]["camera"]["up"]
    assert np.degrees(np.arccos(np.dot([shown[a] for a in "xyz"], room))) < 1e-6
    # cameras that do not agree on up (the second one mounted upside down): none
    cam = make_rig(1, seed=0).cameras[0]
    upside_down = dataclasses.replace(cam, name="cam2", rvec=cv2.Rodrigues(
        np.diag([-1.0, -1.0, 1.0]) @ cam.rotation)[0].ravel())
    assert cameras_up(CameraGroup((cam, upside_down))) is None


def test_the_view_from_above_looks_down_the_cameras_up_direction() -> None:
    """Three cameras in a row at different heights, all looking ahead along z (camera
    1's frame: y down): their centres spread least along z, their viewing direction, but
    their pictures agree that y is vertical, and the view from above looks along y."""
    from posekit.report.figures import cameras_top_view, up_axis
    from posekit.synthetic.rig import make_rig

    cam = make_rig(1, seed=0).cameras[0]
    row = CameraGroup(tuple(
        dataclasses.replace(cam, name=f"cam{i + 1}", rvec=np.zeros(3),
                            tvec=-np.array([float(i), -0.5 * i, 0.0]))
        for i in range(3)))
    assert int(np.argmin(np.array([c.center for c in row]).std(axis=0))) == 2
    assert up_axis(row) == 1
    fig = cameras_top_view(row)
    assert fig.layout.xaxis.title.text == "x" and fig.layout.yaxis.title.text == "z"
    # a rig around the subject with z up (make_rig) keeps z
    assert up_axis(make_rig(4, seed=0)) == 2
