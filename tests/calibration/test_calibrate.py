"""Calibration against ground truth, aniposelib interoperability, world frame, determinism."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from posekit.calibration.board import Board
from posekit.calibration.bundle import Observation, bundle_adjust
from posekit.calibration.calibrate import Calibration, calibrate
from posekit.calibration.detect import CameraDetections
from posekit.calibration.extrinsics import to_matrix
from posekit.calibration.intrinsics import missed_edges
from posekit.calibration.step import coverage_warnings
from posekit.camera.model import Camera
from posekit.camera.toml_io import load_calibration, save_calibration
from posekit.config import load_config
from posekit.synthetic.evaluate import compare_calibrations
from posekit.triangulation.dlt import triangulate

EXAMPLE = Path(__file__).resolve().parents[2] / "example_project"
Detections = tuple[Board, dict[str, CameraDetections]]


def test_example_calibration_matches_ground_truth(example_calibration: Calibration) -> None:
    """60 rendered frames per camera; the benchmark (600 frames) holds the tight figures."""
    truth = load_calibration(EXAMPLE / "ground-truth" / "calibration.toml")
    err = compare_calibrations(example_calibration.group, truth)
    assert err.focal_pct.max() < 0.3
    assert err.principal_px.max() < 2.0
    assert err.rotation_deg.max() < 0.3
    assert err.translation_per_m.max() < 4.0
    assert abs(err.scale - 1) < 0.005
    for q in example_calibration.quality.values():
        assert q.median_px < 0.15 and q.bundle_views >= 15
    bd = example_calibration.board_distance
    assert bd["pairs"] > 20 and abs(bd["mean_mm"]) < 0.5 and bd["median_abs_mm"] < 1.0


def test_aniposelib_reads_output_and_triangulates_the_same(
        example_calibration: Calibration, example_detections: Detections,
        tmp_path: Path) -> None:
    aniposelib = pytest.importorskip("aniposelib.cameras")
    path = save_calibration(example_calibration.group, tmp_path / "calibration.toml")
    theirs = aniposelib.CameraGroup.load(str(path))
    assert theirs.get_names() == example_calibration.group.names
    _, detections = example_detections
    n = min(d.n_frames for d in detections.values())
    pts2d = np.stack([detections[c].corners[:n] for c in theirs.get_names()])
    seen = np.isfinite(pts2d[..., 0]).sum(axis=0) >= 2
    assert seen.sum() >= 10
    ours = triangulate(load_calibration(path), pts2d)[seen]
    anipose = theirs.triangulate(pts2d[:, seen], undistort=True)
    # aniposelib solves the homogeneous DLT by SVD, posekit the inhomogeneous normal
    # equations: both least-squares solutions of real (noisy) corners, equal to ~0.01 mm
    np.testing.assert_allclose(ours, anipose, atol=1e-4)


def test_board_world_frame_puts_the_board_on_z0(example_detections: Detections) -> None:
    board, detections = example_detections
    cfg = load_config([EXAMPLE / "config.toml"]).calibration.model_copy(
        update={"world_frame": "board"})
    calib = calibrate(detections, board, cfg)
    frame = int(calib.world.split("frame ")[1].split()[0])
    pts2d = np.stack([detections[c].corners[frame] for c in calib.group.names])
    pts3d = triangulate(calib.group, pts2d)
    seen = np.isfinite(pts3d[:, 0])
    assert seen.sum() >= 10
    expected = board.object_points() * [1, -1, -1]  # board x, -y, -z → z up from its face
    np.testing.assert_allclose(pts3d[seen], expected[seen], atol=0.005)
    # the cameras that see the printed face are on its side (z > 0)
    assert all(cam.center[2] > 0 for cam, p in zip(calib.group, pts2d, strict=True)
               if np.isfinite(p[:, 0]).any())


def test_a_board_kept_in_the_middle_of_the_image_is_warned_about(
        example_detections: Detections, example_calibration: Calibration) -> None:
    """cam2's corners outside the middle of its image are dropped (as if the board never
    went there): its coverage falls under half and it alone is warned about, naming the
    edges the board missed; the rendered example itself reaches 77-94 % of each image."""
    board, detections = example_detections
    assert min(q.image_coverage for q in example_calibration.quality.values()) > 0.75
    assert coverage_warnings(example_calibration.quality, "full") == []
    det = detections["cam2"]
    (w, h), corners = det.size, det.corners.copy()
    inside = ((corners[..., 0] > 0.25 * w) & (corners[..., 0] < 0.75 * w)
              & (corners[..., 1] > 0.2 * h) & (corners[..., 1] < 0.8 * h))
    corners[~inside] = np.nan
    middle = {**detections, "cam2": replace(det, corners=corners)}
    calib = calibrate(middle, board, load_config([EXAMPLE / "config.toml"]).calibration)
    q = calib.quality["cam2"]
    assert q.image_coverage == len(q.cells) / 48 < 0.5
    assert all(c % 8 in range(2, 6) and c // 8 in range(1, 5) for c in q.cells)
    assert missed_edges(q.cells) == ["top", "bottom", "left", "right"]
    warned = coverage_warnings(calib.quality, "full")
    assert len(warned) == 1 and warned[0].startswith(
        f"cam2: the board reached only {len(q.cells)} of the image's 48 cells")
    assert "none near its top, bottom, left or right edges" in warned[0]
    assert 'distortion_model = "k1k2"' in warned[0]
    for model in ("k1k2", "fisheye"):  # no other model to suggest
        assert "k1k2" not in coverage_warnings(calib.quality, model)[0]


def test_missed_edges_names_each_edge_without_a_reached_cell() -> None:
    assert missed_edges(tuple(range(48))) == []
    assert missed_edges((0,)) == ["bottom", "right"]
    assert missed_edges((47,)) == ["top", "left"]
    assert missed_edges((9, 10, 17)) == ["top", "bottom", "left", "right"]


def test_calibration_is_deterministic(example_detections: Detections,
                                      example_calibration: Calibration) -> None:
    board, detections = example_detections
    again = calibrate(detections, board, load_config([EXAMPLE / "config.toml"]).calibration)
    for a, b in zip(again.group, example_calibration.group, strict=True):
        np.testing.assert_array_equal(a.matrix, b.matrix)
        np.testing.assert_array_equal(a.tvec, b.tvec)
        np.testing.assert_array_equal(a.dist, b.dist)


def test_bundle_adjustment_recovers_exact_solution() -> None:
    """Noise-free corners, perturbed start: the truth comes back to 1e-6."""
    board = Board(size=(5, 7), square_length=0.12, marker_length=0.08, units="m")
    obj = board.object_points()
    rng = np.random.default_rng(0)
    mat = np.array([[1400.0, 0, 960], [0, 1405.0, 540], [0, 0, 1]])
    truth = [Camera(f"c{i}", (1920, 1080), mat * [[1 + 0.02 * i], [1 + 0.02 * i], [1]],
                    [-0.1, 0.03, 0, 0, 0], [0, 0.4 * i, 0], [0.2 * i, 0, 0.1 * i])
             for i in range(3)]
    n_frames = 25
    rvecs = rng.normal(0, 0.3, (n_frames, 3)) + np.array([np.pi, 0, 0])
    tvecs = np.c_[rng.uniform(-0.4, 0.2, n_frames), rng.uniform(-0.4, 0.1, n_frames),
                  rng.uniform(2.5, 3.5, n_frames)]
    obs = []
    for ci, cam in enumerate(truth):
        for f in range(n_frames):
            world = (to_matrix(rvecs[f], tvecs[f]) @ np.c_[obj, np.ones(len(obj))].T).T[:, :3]
            px = cam.project(world)
            ok = np.isfinite(px).all(1)
            obs.append(Observation(ci, f, np.flatnonzero(ok), px[ok]))
    start = [Camera(c.name, c.size, c.matrix * [[1.01], [0.99], [1]], c.dist * 0.5,
                    c.rvec + (0.01 if i else 0), c.tvec + (0.02 if i else 0))
             for i, c in enumerate(truth)]
    result = bundle_adjust(obj, start, rvecs + 0.01, tvecs - 0.02, obs)
    for est, cam in zip(result.cameras, truth, strict=True):
        np.testing.assert_allclose(est.matrix, cam.matrix, rtol=1e-6)
        np.testing.assert_allclose(est.tvec, cam.tvec, atol=1e-6)
        np.testing.assert_allclose(est.rvec, cam.rvec, atol=1e-7)
    assert max(e.max() for e in result.errors) < 1e-5
    assert result.rejected == 0


def test_bundle_adjustment_fisheye_cameras() -> None:
    """The fisheye model's derivatives are wired right: exact data, exact answer."""
    board = Board(size=(5, 7), square_length=0.12, marker_length=0.08, units="m")
    obj = board.object_points()
    rng = np.random.default_rng(1)
    mat = np.array([[700.0, 0, 640], [0, 702.0, 360], [0, 0, 1]])
    truth = [Camera(f"f{i}", (1280, 720), mat, [0.05, -0.01, 0.002, 0.0], [0, 0.3 * i, 0],
                    [0.25 * i, 0, 0.05 * i], fisheye=True) for i in range(2)]
    rvecs = rng.normal(0, 0.3, (20, 3)) + np.array([np.pi, 0, 0])
    tvecs = np.c_[rng.uniform(-0.5, 0.2, 20), rng.uniform(-0.4, 0.1, 20),
                  rng.uniform(1.5, 2.5, 20)]
    obs = []
    for ci, cam in enumerate(truth):
        for f in range(20):
            world = (to_matrix(rvecs[f], tvecs[f]) @ np.c_[obj, np.ones(len(obj))].T).T[:, :3]
            px = cam.project(world)
            ok = np.isfinite(px).all(1)
            obs.append(Observation(ci, f, np.flatnonzero(ok), px[ok]))
    start = [Camera(c.name, c.size, c.matrix * [[1.01], [0.99], [1]], c.dist * 0.5,
                    c.rvec + (0.01 if i else 0), c.tvec + (0.02 if i else 0), fisheye=True)
             for i, c in enumerate(truth)]
    result = bundle_adjust(obj, start, rvecs + 0.01, tvecs - 0.02, obs,
                           distortion_free=(True,) * 4)
    for est, cam in zip(result.cameras, truth, strict=True):
        np.testing.assert_allclose(est.matrix, cam.matrix, rtol=1e-6)
        np.testing.assert_allclose(est.dist, cam.dist, atol=1e-6)
        np.testing.assert_allclose(est.tvec, cam.tvec, atol=1e-6)
