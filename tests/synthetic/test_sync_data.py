"""Synthetic unsynchronised 2D keypoints for the sync step (no rendering)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from posekit.camera.model import Camera
from posekit.synthetic.sync_data import SyncTrial, make_sync_trial, shift_pose


def _clean(**kwargs: Any) -> SyncTrial:
    """A trial without noise, outliers or dropouts."""
    return make_sync_trial(noise_px=0.0, outlier_rate=0.0, dropout_rate=0.0, **kwargs)


def _expected(cam: Camera, points: np.ndarray) -> np.ndarray:
    """Noise-free detections of world points: NaN outside the image."""
    xy = cam.project(points)
    w, h = cam.size
    inside = (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
    return np.where(inside[..., None], xy, np.nan)


def _reference_frames(trial: SyncTrial, ref_frames: np.ndarray) -> np.ndarray:
    """3D landmarks at reference-camera frame numbers (any integers in range)."""
    return trial.points3d[ref_frames - trial.first_frame]


@pytest.fixture(scope="module")
def noisy() -> SyncTrial:
    return make_sync_trial(seed=1)


def test_offset_convention_holds_exactly() -> None:
    trial = _clean(seed=2)
    assert trial.reference == "cam1" and trial.offsets["cam1"] == 0
    assert trial.first_frame == min(trial.offsets.values()) <= 0
    assert any(o > 0 for o in trial.offsets.values())
    assert any(o < 0 for o in trial.offsets.values())
    for name, pose in trial.poses.items():
        frames = np.arange(pose.n_frames)
        cam, off = trial.group[name], trial.offsets[name]
        # Frame i of camera c shows reference frame i + offsets[c].
        want = _expected(cam, _reference_frames(trial, frames + off))
        np.testing.assert_allclose(pose.xy, want, atol=1e-6)
        assert np.isfinite(pose.xy).mean() > 0.99
        np.testing.assert_allclose(trial.camera_points(name),
                                   _reference_frames(trial, frames + off))
        if off != 0:  # the opposite sign does not fit
            wrong = np.clip(frames - off - trial.first_frame, 0, len(trial.points3d) - 1)
            assert np.nanmedian(np.abs(pose.xy - _expected(cam, trial.points3d[wrong]))) > 1


def test_given_offsets_and_sign_example() -> None:
    trial = _clean(n_cams=3, seed=3, offsets={"cam2": 30, "cam3": -45})
    assert trial.offsets == {"cam1": 0, "cam2": 30, "cam3": -45}
    ref, cam2, cam3 = (trial.poses[c] for c in ("cam1", "cam2", "cam3"))
    # cam2 started 1 s later: its frame 0 is the instant of cam1's frame 30 ...
    x = _reference_frames(trial, np.array([30]))
    np.testing.assert_allclose(ref.xy[30], _expected(trial.group["cam1"], x)[0], atol=1e-6)
    np.testing.assert_allclose(cam2.xy[0], _expected(trial.group["cam2"], x)[0], atol=1e-6)
    # ... and cam3 started 1.5 s earlier: its frame 45 is cam1's frame 0.
    x = _reference_frames(trial, np.array([0]))
    np.testing.assert_allclose(cam3.xy[45], _expected(trial.group["cam3"], x)[0], atol=1e-6)
    with pytest.raises(ValueError, match="reference"):
        make_sync_trial(n_cams=2, offsets={"cam1": 3})
    with pytest.raises(ValueError, match="no camera"):
        make_sync_trial(n_cams=2, offsets={"cam9": 3})


def test_shapes_and_drawn_offsets(noisy: SyncTrial) -> None:
    assert noisy.group.names == ["cam1", "cam2", "cam3", "cam4"] == list(noisy.poses)
    for name, pose in noisy.poses.items():
        assert pose.xy.shape == (600, 33, 2) and pose.keypoints[0] == "nose"
        assert abs(noisy.offsets[name]) <= 90
        assert pose.frame_times is not None
        np.testing.assert_allclose(pose.frame_times, np.arange(600) / 30.0)
    span = max(noisy.offsets.values()) + 600 - noisy.first_frame
    assert noisy.points3d.shape == (span, 33, 3) and noisy.motion == "demo"
    assert np.ptp(noisy.points3d[..., 2]) > 0.5  # the person moves


def test_noise_outlier_and_dropout_rates(noisy: SyncTrial) -> None:
    for name, pose in noisy.poses.items():
        clean = _expected(noisy.group[name], noisy.camera_points(name))
        seen = np.isfinite(clean[..., 0])
        found = pose.likelihood > 0
        assert np.array_equal(found, np.isfinite(pose.xy[..., 0]))
        assert not (found & ~seen).any()
        assert 0.08 < 1 - found[seen].mean() < 0.12  # dropouts
        gap_frames = (~found).all(axis=1).mean()
        partial = ((~found).any(axis=1) & found.any(axis=1)).mean()
        assert 0.045 < gap_frames < 0.06 and partial > 0.7
        err = np.linalg.norm(pose.xy - clean, axis=-1)[found]
        outlier = err > 12
        assert 0.035 < outlier.mean() < 0.065
        assert 1.8 < np.median(err[~outlier]) / np.sqrt(np.log(4)) < 2.2  # Rayleigh(σ=2)
        like = pose.likelihood[found]
        assert like[outlier].min() >= 0.3 and like[outlier].max() <= 0.9
        assert like.max() <= 1.0  # (an outlier may land within 12 px of the truth)
        assert (like[~outlier] < 0.6).mean() < 1e-3


def test_deterministic_from_seed() -> None:
    a, b, c = make_sync_trial(seed=5), make_sync_trial(seed=5), make_sync_trial(seed=6)
    assert a.offsets == b.offsets
    for name in a.poses:
        np.testing.assert_array_equal(a.poses[name].xy, b.poses[name].xy)
        np.testing.assert_array_equal(a.poses[name].likelihood, b.poses[name].likelihood)
    assert not np.array_equal(a.poses["cam2"].xy, c.poses["cam2"].xy, equal_nan=True)


def test_static_and_absent_cameras() -> None:
    trial = make_sync_trial(seed=4, static_camera="cam2", absent_camera="cam3",
                            noise_px=1.0, outlier_rate=0.0, dropout_rate=0.0)
    still = np.nanstd(trial.poses["cam2"].xy, axis=0)
    moving = np.nanstd(trial.poses["cam4"].xy, axis=0)
    assert np.nanmax(still) < 2 and np.nanmedian(moving) > 10
    assert trial.poses["cam2"].detected().all()
    absent = trial.poses["cam3"]
    assert np.isnan(absent.xy).all() and not absent.likelihood.any()
    assert absent.n_frames == 600 and not absent.detected().any()
    with pytest.raises(ValueError, match="static_camera"):
        make_sync_trial(n_cams=2, static_camera="cam3")


def test_shift_pose_convention() -> None:
    trial = _clean(n_cams=2, seed=7, offsets={"cam2": 0})
    pose, cam = trial.poses["cam2"], trial.group["cam2"]
    for k in (12, -5):
        shifted = shift_pose(pose, k)
        assert shifted.n_frames == pose.n_frames - k
        assert shifted.metadata["shifted_frames"] == k
        assert shifted.frame_times is not None
        np.testing.assert_allclose(shifted.frame_times, np.arange(shifted.n_frames) / 30.0)
        # New offset = old offset (0) + k: frame i shows reference frame i + k.
        valid = np.arange(shifted.n_frames)[np.arange(shifted.n_frames) + k >= 0]
        want = _expected(cam, _reference_frames(trial, valid + k))
        np.testing.assert_allclose(shifted.xy[valid], want, atol=1e-6)
    assert np.isnan(shift_pose(pose, -5).xy[:5]).all()
    assert shift_pose(pose, 0).n_frames == pose.n_frames
    with pytest.raises(ValueError):
        shift_pose(pose, pose.n_frames)
