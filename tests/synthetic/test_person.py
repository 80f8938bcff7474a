"""Synthetic person: kinematics, motions, ground truth and rendering checked by MediaPipe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posekit.camera.model import CameraGroup
from posekit.io.video import iter_frames, probe_video
from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.motions import (
    DEFAULT_DURATIONS,
    camera_times,
    generate_motion,
    make_motion,
    sample_cameras,
)
from posekit.synthetic.person import (
    ANGLE_DEFINITIONS,
    BodyModel,
    joint_angles,
    segment_lengths,
    three_point_angle,
)
from posekit.synthetic.render_person import (
    PersonRenderer,
    PersonStyle,
    person_mesh,
    render_person_frame,
    render_person_videos,
)
from posekit.synthetic.rig import make_rig

IDX = MEDIAPIPE_33.index
FEET = [IDX(f"{s}_{k}") for s in ("left", "right") for k in ("heel", "foot_index")]
#: Joint groups checked against MediaPipe: name → landmark indices.
GROUPS = {g: [IDX(f"left_{g}"), IDX(f"right_{g}")]
          for g in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}


# --- kinematics ------------------------------------------------------------------------
def test_segment_lengths_scale_with_height() -> None:
    short, tall = (segment_lengths(BodyModel(h).standing()[0]) for h in (1.5, 1.9))
    for name in short:
        assert tall[name] / short[name] == pytest.approx(1.9 / 1.5, rel=1e-9), name
    ref = BodyModel(1.75).lengths
    stand = segment_lengths(BodyModel(1.75).standing()[0])
    assert stand["left_thigh"] == pytest.approx(ref["thigh"])
    assert stand["right_forearm"] == pytest.approx(ref["forearm"])


def test_segments_rigid_over_motion() -> None:
    sample = generate_motion("demo", duration=12.0, fps=15.0, seed=3)
    for name, length in segment_lengths(sample.landmarks).items():
        assert np.ptp(length) < 1e-9, name


def test_neutral_pose_faces_minus_y_with_feet_on_floor() -> None:
    body = BodyModel(1.8)
    pts = body.standing()[0]
    assert pts[IDX("nose"), 1] < pts[IDX("left_ear"), 1]  # face towards -y
    assert pts[IDX("left_shoulder"), 0] > pts[IDX("right_shoulder"), 0]  # left at +x
    assert pts[IDX("left_eye"), 0] > pts[IDX("right_eye"), 0]
    sole = body.lengths["sole_height"]
    np.testing.assert_allclose(pts[FEET, 2], sole, atol=1e-12)
    assert pts[IDX("left_hip"), 2] == pytest.approx(body.standing_hip_height)
    assert pts[:, 2].max() < 1.8 and pts[IDX("nose"), 2] > 0.9 * 1.8


def test_generating_angles_give_expected_three_point_angles() -> None:
    body = BodyModel()
    pts = body.landmarks({"left_knee_flexion": [0, 30, 90], "right_elbow_flexion": [0, 45, 100],
                          "left_shoulder_abduction": [0, 90, 150],
                          "right_shoulder_flexion": [0, 90, 180]}, [0.0, 0.0, 1.0])
    ang = joint_angles(pts)
    np.testing.assert_allclose(ang["left_knee"], [180, 150, 90], atol=1e-9)
    np.testing.assert_allclose(ang["right_elbow"], [180, 135, 80], atol=1e-9)
    # The trunk line hip→shoulder leans inwards (shoulders wider than hips) by atan(Δ/trunk).
    lean = np.degrees(np.arctan2((body.lengths["shoulder_width"] - body.lengths["hip_width"])
                                 / 2, body.lengths["trunk"]))
    np.testing.assert_allclose(ang["left_shoulder"], np.array([0, 90, 150]) + lean, atol=1e-9)
    assert ang["right_shoulder"][1] == pytest.approx(90.0, abs=1e-6)


def test_three_point_angle_nan_and_degenerate() -> None:
    assert three_point_angle([1, 0, 0], [0, 0, 0], [0, 1, 0]) == pytest.approx(90.0)
    assert np.isnan(three_point_angle([np.nan, 0, 0], [0, 0, 0], [0, 1, 0]))
    assert np.isnan(three_point_angle([0, 0, 0], [0, 0, 0], [0, 1, 0]))
    with pytest.raises(KeyError):
        BodyModel().landmarks({"left_knee_bend": 10}, [0, 0, 1])


# --- motions ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(DEFAULT_DURATIONS))
def test_motion_ground_truth(name: str) -> None:
    sample = generate_motion(name, fps=20.0, seed=1)
    n = len(sample.times)
    assert sample.landmarks.shape == (n, 33, 3)
    assert set(sample.angles) == set(ANGLE_DEFINITIONS)
    for key, values in joint_angles(sample.landmarks).items():
        np.testing.assert_array_equal(sample.angles[key], values)
        assert values.shape == (n,) and np.all(np.isfinite(values))
    sole = BodyModel().lengths["sole_height"]
    lowest = sample.landmarks[:, FEET, 2].min(axis=1)
    if name == "jump":
        assert lowest.max() > sole + 0.15  # the whole body leaves the floor
        assert np.all(lowest >= sole - 1e-9)
    elif name != "demo":
        np.testing.assert_allclose(lowest, sole, atol=1e-9)
    # every motion starts and ends standing still
    stand = generate_motion("stand", fps=20.0, seed=1).angles
    for key in ("left_knee", "right_hip"):
        assert sample.angles[key][0] == pytest.approx(stand[key][0], abs=2.0)
        assert sample.angles[key][-1] == pytest.approx(stand[key][0], abs=2.0)


def test_motions_move_the_joints_they_should() -> None:
    squat = generate_motion("squat", fps=30.0).angles
    assert squat["left_knee"].min() < 90 and squat["right_hip"].min() < 90
    front = generate_motion("arm_raise_front", fps=30.0).angles
    side = generate_motion("arm_raise_side", fps=30.0).angles
    assert front["left_shoulder"].max() > 140 and side["right_shoulder"].max() > 150
    march = generate_motion("march", fps=30.0).angles
    assert march["left_knee"].min() < 120 and march["right_knee"].min() < 120


def test_motion_determinism_from_seed() -> None:
    a, b = (generate_motion("demo", 10.0, fps=10.0, seed=5) for _ in range(2))
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    c = generate_motion("demo", 10.0, fps=10.0, seed=6)
    assert np.abs(a.landmarks - c.landmarks).max() > 0.01


def test_per_camera_sampling_is_exact() -> None:
    motion = make_motion("march", duration=4.0, seed=2)
    ref = motion.sample(30.0)
    cams = sample_cameras(motion, n_frames=40, fps=[30.0, 30.0, 60.0], offsets=[0, 3, -1.5])
    np.testing.assert_allclose(cams[0].landmarks, ref.landmarks[:40])
    np.testing.assert_allclose(cams[1].landmarks, ref.landmarks[3:43])  # frame i = ref i + 3
    np.testing.assert_allclose(cams[2].landmarks[3::2], ref.landmarks[:19], atol=1e-12)
    times = camera_times([5, 3], 25.0, [0.5, 0.0])
    np.testing.assert_allclose(times[0], 0.02 + np.arange(5) / 25.0)
    assert len(times[1]) == 3
    with pytest.raises(ValueError):
        camera_times(5, [30.0, 30.0], [0.0, 1.0, 2.0])


# --- rendering -------------------------------------------------------------------------
def test_render_frame_basics() -> None:
    rig = make_rig(4)
    pts = BodyModel().standing()[0]
    cam = rig[0]
    img = render_person_frame(cam, pts)
    assert img.shape == (cam.size[1], cam.size[0], 3) and img.dtype == np.uint8
    renderer = PersonRenderer(cam)
    np.testing.assert_array_equal(renderer.render(pts), img)  # deterministic
    assert np.abs(img.astype(int) - renderer.background).sum(axis=2).astype(bool).mean() > 0.01
    noisy = PersonRenderer(cam, PersonStyle(noise_sigma=3.0), seed=1).render(pts)
    assert 1.0 < np.abs(noisy.astype(float) - img).mean() < 5.0
    verts, centres, normals, colors, bias = person_mesh(pts)
    assert verts.shape[1:] == (8, 3) and len(verts) > 500
    assert len(verts) == len(centres) == len(normals) == len(colors) == len(bias)
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1.0)
    nan_pts = pts.copy()
    nan_pts[IDX("left_wrist")] = np.nan
    assert 0 < len(person_mesh(nan_pts)[0]) < len(verts)


def test_render_occlusion_front_and_back() -> None:
    """The face is seen from camera 1 (front); from camera 3 (back) the back of the head,
    with dark hair, hides it."""
    rig = make_rig(4)
    pts = BodyModel().standing()[0]
    nose = IDX("nose")
    brightness = []
    for i in (0, 2):
        img = render_person_frame(rig[i], pts)
        u, v = np.round(rig[i].project(pts[nose])).astype(int)
        brightness.append(img[v - 2:v + 3, u - 2:u + 3].mean())
    assert brightness[0] > 100 and brightness[1] < 60  # skin (nose) vs hair


def test_render_unsynchronised_cameras(tmp_path: Path) -> None:
    rig = make_rig(2, seed=4)
    motion = make_motion("jump", duration=2.0, seed=1)
    samples = sample_cameras(motion, n_frames=4, fps=[30.0, 25.0], offsets=[0.0, 7.5])
    pts = np.stack([s.landmarks for s in samples])
    times = np.stack([s.times for s in samples])
    paths = render_person_videos(rig, pts, tmp_path, [30.0, 25.0], times=times)
    gt = np.load(paths["ground_truth"])
    np.testing.assert_allclose(gt["fps"], [30.0, 25.0])
    np.testing.assert_allclose(gt["times"][1], 0.25 + np.arange(4) / 25.0)
    assert gt["angle_left_knee"].shape == (2, 4)
    for c, cam in enumerate(rig):
        np.testing.assert_allclose(gt["points2d"][c], cam.project(pts[c]))
        assert probe_video(paths[cam.name]).n_frames == 4
    with pytest.raises(ValueError):
        render_person_videos(rig, pts[:, :, :30], tmp_path, 30.0)


@pytest.fixture(scope="module", params=["squat", "arm_raise_side", "jump"])
def rendered_clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[dict[str, Path], CameraGroup]:
    """A 2 s motion at 30 fps seen by a 4-camera ring (front, side, back, side), as mp4s."""
    rig = make_rig(4)
    sample = make_motion(request.param, duration=2.0, seed=0).sample(30.0)
    out = tmp_path_factory.mktemp(request.param)
    return render_person_videos(rig, sample.landmarks, out, 30.0, times=sample.times), rig


def test_render_videos_and_ground_truth(rendered_clip: tuple[dict[str, Path], CameraGroup]) -> None:
    paths, rig = rendered_clip
    gt = np.load(paths["ground_truth"])
    n_frames = gt["points3d"].shape[0]
    assert n_frames == 61 and gt["points2d"].shape == (4, n_frames, 33, 2)
    assert list(gt["camera_names"]) == ["cam1", "cam2", "cam3", "cam4"]
    np.testing.assert_allclose(gt["angle_left_knee"], joint_angles(gt["points3d"])["left_knee"])
    for c, cam in enumerate(rig):
        info = probe_video(paths[cam.name])
        assert (info.width, info.height, info.n_frames) == (*cam.size, n_frames)
        np.testing.assert_allclose(gt["points2d"][c], cam.project(gt["points3d"]))


@pytest.mark.slow
def test_mediapipe_finds_the_person_from_every_side(
    rendered_clip: tuple[dict[str, Path], CameraGroup],
) -> None:
    """Real BlazePose full model, video mode: ≥ 90 % detection in every camera, and in
    every camera each joint group (shoulders, elbows, wrists, hips, knees, ankles) lies
    within 5 % of the image height of the projected truth in ≥ 80 % of detections."""
    mp_pose = pytest.importorskip("mediapipe").solutions.pose
    cv2 = pytest.importorskip("cv2")
    paths, rig = rendered_clip
    truth = np.load(paths["ground_truth"])["points2d"]
    joints = [i for g in GROUPS.values() for i in g]
    for c, cam in enumerate(rig):
        width, height = cam.size
        found, close = [], []
        with mp_pose.Pose(static_image_mode=False, model_complexity=1) as pose:
            for f, frame in enumerate(iter_frames(paths[cam.name])):
                res = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
                found.append(res.pose_landmarks is not None)
                if res.pose_landmarks is None:
                    continue
                lm = res.pose_landmarks.landmark
                det = np.array([[lm[j].x * width, lm[j].y * height] for j in joints])
                close.append(np.linalg.norm(det - truth[c, f, joints], axis=1) < 0.05 * height)
        assert np.mean(found) >= 0.9, f"{cam.name}: detected in {np.mean(found):.0%} of frames"
        share = np.array(close).reshape(len(close), len(GROUPS), 2).mean(axis=(0, 2))
        for group, value in zip(GROUPS, share, strict=True):
            assert value >= 0.8, f"{cam.name} {group}s: {value:.0%} within 5 % of the height"
