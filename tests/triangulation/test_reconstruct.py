"""The whole reconstruction: optimisation beats DLT, degenerate input is handled."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from posekit.camera.model import Camera, CameraGroup
from posekit.config.schema import TriangulationConfig
from posekit.errors import PosekitError
from posekit.skeletons import MEDIAPIPE_33
from posekit.synthetic.person import segment_lengths
from posekit.synthetic.sync_data import make_sync_trial
from posekit.triangulation.dlt import triangulate
from posekit.triangulation.reconstruct import reconstruct

KPS = list(MEDIAPIPE_33.keypoints)
BONES = [["left_hip", "left_knee"], ["left_knee", "left_ankle"], ["right_hip", "right_knee"],
         ["right_knee", "right_ankle"], ["left_shoulder", "left_elbow"],
         ["right_shoulder", "right_elbow"]]


def _mm(group: CameraGroup) -> CameraGroup:
    return CameraGroup([Camera(c.name, c.size, c.matrix, c.dist, c.rvec, c.tvec * 1000)
                        for c in group])


@pytest.fixture(scope="module")
def trial():  # type: ignore[no-untyped-def]
    tr = make_sync_trial(n_cams=4, duration=6.0, max_offset_s=0.0, noise_px=2.0,
                         outlier_rate=0.05, dropout_rate=0.1, motion="squat", seed=4)
    xy = np.stack([tr.poses[c].xy for c in tr.group.names])
    sc = np.stack([tr.poses[c].likelihood for c in tr.group.names])
    return _mm(tr.group), xy, sc, tr.points3d * 1000


def _mpjpe(points: np.ndarray, truth: np.ndarray) -> float:
    return float(np.nanmean(np.linalg.norm(points - truth, axis=-1)))


def test_robust_and_optimised_beat_plain_dlt(trial) -> None:  # type: ignore[no-untyped-def]
    group, xy, sc, truth = trial
    dlt = triangulate(group, np.where((sc >= 0.5)[..., None], xy, np.nan))
    robust = reconstruct(group, xy, sc, KPS, TriangulationConfig(optim=False))
    full = reconstruct(group, xy, sc, KPS, TriangulationConfig(constraints=BONES))
    e_dlt, e_rob, e_opt = (_mpjpe(p, truth) for p in (dlt, robust.points, full.points))
    assert e_rob < 0.5 * e_dlt  # the outliers dominate plain DLT
    assert e_opt < 0.7 * e_rob
    assert np.isfinite(full.points).mean() > 0.99
    thigh = segment_lengths(full.points)["left_thigh"]
    assert np.nanstd(thigh) < 0.5 * np.nanstd(segment_lengths(robust.points)["left_thigh"])
    # quality arrays agree with the points
    assert full.errors.shape == full.ncams.shape == truth.shape[:2]
    assert np.nanmedian(full.errors) < 5.0
    assert (full.ncams[np.isfinite(full.points[..., 0])] >= 0).all()


def test_chunked_optimisation_has_no_seams(trial) -> None:  # type: ignore[no-untyped-def]
    group, xy, sc, truth = trial
    whole = reconstruct(group, xy, sc, KPS, TriangulationConfig(optim_chunking=False))
    chunked = reconstruct(group, xy, sc, KPS, TriangulationConfig(optim_chunking_size=60))
    diff = np.linalg.norm(whole.points - chunked.points, axis=-1)
    assert np.nanmax(diff) < 2.0  # mm
    assert abs(_mpjpe(chunked.points, truth) - _mpjpe(whole.points, truth)) < 0.3


def test_degenerate_input_is_handled(trial) -> None:  # type: ignore[no-untyped-def]
    group, xy, sc, _ = trial
    xy, sc = xy[:, :30].copy(), sc[:, :30].copy()
    xy[:, :, 0] = np.nan  # the nose is never seen
    sc[:, :, 0] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        rec = reconstruct(group, xy, sc, KPS, TriangulationConfig())
    assert np.isnan(rec.points[:, 0]).all() and (rec.ncams[:, 0] == 0).all()
    assert np.isfinite(rec.points[:, 1:]).all()
    # one camera only: nothing can be triangulated, and nothing crashes
    one = sc.copy()
    one[1:] = 0.0
    rec = reconstruct(group, xy, one, KPS, TriangulationConfig())
    assert np.isnan(rec.points).all()
    # a single frame
    rec = reconstruct(group, xy[:, :1], sc[:, :1], KPS, TriangulationConfig())
    assert np.isfinite(rec.points[0, 1:]).all()


def test_unknown_constraint_keypoint_is_named(trial) -> None:  # type: ignore[no-untyped-def]
    group, xy, sc, _ = trial
    cfg = TriangulationConfig(constraints=[["left_hip", "left_kne"]])
    with pytest.raises(PosekitError, match="left_kne"):
        reconstruct(group, xy[:, :5], sc[:, :5], KPS, cfg)


def test_config_filters_are_applied() -> None:
    from posekit.config.schema import Config
    from posekit.triangulation.step import filter_2d, filter_3d

    rng = np.random.default_rng(0)
    xy = np.cumsum(rng.normal(0, 1, (2, 60, 3, 2)), axis=1) + 500.0
    sc = np.full((2, 60, 3), 0.9)
    xy[0, 30, 1] += 200.0  # a jump
    off = Config()
    assert filter_2d(off, xy, sc)[0] is xy  # disabled by default: untouched
    cfg = Config.model_validate({"filter": {"enabled": True, "medfilt": 5,
                                            "offset_threshold": 25}})
    fxy, fsc = filter_2d(cfg, xy, sc)
    assert np.isnan(fxy[0, 30, 1]).all() and fsc[0, 30, 1] == 0.0
    assert np.isfinite(fxy[1]).all()
    pts = np.sin(np.linspace(0, 6, 120))[:, None, None] * np.ones((120, 2, 3))
    noisy = pts + rng.normal(0, 0.05, pts.shape)
    cfg3 = Config.model_validate({"filter3d": {"enabled": True, "type": "butterworth",
                                               "cutoff_hz": 3.0}})
    smooth = filter_3d(cfg3, noisy, 30.0)
    assert np.abs(smooth - pts).mean() < 0.5 * np.abs(noisy - pts).mean()
    gappy = pts.copy()
    gappy[50:55] = np.nan
    no_optim = Config.model_validate({"triangulation": {"optim": False, "max_gap": 10}})
    assert np.isfinite(filter_3d(no_optim, gappy, 30.0)).all()  # short gap interpolated
