"""Frame offsets from synthetic unsynchronised 2D with exact ground truth, and the step."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import numpy as np
import pytest
import toml
from click.testing import CliRunner

from posekit.camera.toml_io import save_calibration
from posekit.cli.main import cli
from posekit.pose2d.table import Pose2D, write_pose2d
from posekit.skeletons import MEDIAPIPE_33
from posekit.sync.geometry import (
    _columns,
    _rival,
    _valid,
    anchored_errors,
    clean_keypoints,
    geometry_offsets,
    joint_subframe,
    lag_correction,
    recheck_offsets,
    refine_offsets,
    residual_error,
    rounding_factor,
)
from posekit.sync.motion import motion_offsets
from posekit.sync.step import _low_confidence_reason, read_sync
from posekit.synthetic.sync_data import SyncTrial, make_sync_trial
from posekit.triangulation.export import Points3D


@pytest.mark.parametrize(("n_cams", "fps", "seed"), [(3, 30.0, 0), (4, 60.0, 1), (6, 30.0, 2)])
def test_offsets_recovered_exactly(n_cams: int, fps: float, seed: int) -> None:
    trial = make_sync_trial(n_cams=n_cams, fps=fps, duration=15.0, seed=seed)
    est = motion_offsets(trial.poses, fps, max_lag_s=10.0)
    for cam, true in trial.offsets.items():
        assert abs(est.offsets[cam] - true) <= 1, (cam, est.offsets[cam], true)
        assert est.confidence[cam] > 0.3
    refined, sharp, _ = refine_offsets(trial.poses, trial.group, est.offsets, est.confidence,
                                       "cam1", int(10 * fps))
    assert refined == trial.offsets
    assert min(sharp.values()) > 0.2


def test_geometry_finds_offsets_the_motion_cannot(tmp_path: Path) -> None:
    """With zero motion confidence the geometry searches the whole lag range."""
    trial = make_sync_trial(n_cams=3, fps=30.0, duration=12.0, seed=5)
    zero = {c: 0 for c in trial.offsets}
    refined, _, _ = refine_offsets(trial.poses, trial.group, zero, dict.fromkeys(zero, 0.0),
                                   "cam1", 300)
    assert refined == trial.offsets


def _synced_project(tmp_path: Path, trial: SyncTrial, calibrated: bool = True) -> Path:
    """A project with ``trial``'s 2D and (if ``calibrated``) calibration as trial s1/t,
    after `posekit sync`."""
    root = tmp_path / "p"
    raw, pose2d = root / "s1" / "videos-raw", root / "s1" / "pose-2d"
    raw.mkdir(parents=True)
    (root / "config.toml").write_text('nesting = 1\n[triangulation]\ncam_regex = "-(cam[0-9])$"\n')
    for cam, pose in trial.poses.items():
        (raw / f"t-{cam}.mp4").touch()
        pose.metadata["fps"] = trial.fps
        write_pose2d(pose, pose2d / f"t-{cam}.h5")
    if calibrated:
        save_calibration(trial.group, root / "calibration" / "calibration.toml")
    result = CliRunner().invoke(cli, ["sync", "-p", str(root)])
    assert result.exit_code == 0, result.output
    return root


@pytest.mark.parametrize("kind", ["absent", "static"])
def test_camera_without_usable_motion_gets_a_warning(tmp_path: Path, kind: str) -> None:
    trial = make_sync_trial(n_cams=3, fps=30.0, duration=12.0, seed=3,
                            **{f"{kind}_camera": "cam3"})
    root = _synced_project(tmp_path, trial)
    sync_file = root / "s1" / "sync" / "t.toml"
    text = sync_file.read_text()
    assert "cam3" in text and "low confidence" in text and "offsets.cam3" in text
    offsets = read_sync(sync_file)
    assert offsets["cam2"] == trial.offsets["cam2"] and offsets["cam1"] == 0
    if kind == "static":  # three cameras placed: the joint step's sub-frame values
        sub = toml.loads(text)["subframe"]
        assert abs(sub["cam2"] - trial.offsets["cam2"]) < 0.5
    assert (root / "s1" / "sync" / "t.png").stat().st_size > 0


def test_config_offsets_win(tmp_path: Path) -> None:
    root = tmp_path / "p"
    raw = root / "s1" / "videos-raw"
    raw.mkdir(parents=True)
    (root / "config.toml").write_text(
        'nesting = 1\n[triangulation]\ncam_regex = "-(cam[0-9])$"\n'
        "[sync]\noffsets = { cam1 = 0, cam2 = 7 }\n")
    for cam in ("cam1", "cam2"):
        (raw / f"t-{cam}.mp4").touch()
    result = CliRunner().invoke(cli, ["sync", "-p", str(root)])
    assert result.exit_code == 0, result.output
    assert read_sync(root / "s1" / "sync" / "t.toml") == {"cam1": 0, "cam2": 7}
    assert 'method = "config"' in (root / "s1" / "sync" / "t.toml").read_text()



def test_a_long_clip_is_searched_on_every_nth_frame() -> None:
    """The whole-range search compares at most ``max_frames`` frames of a camera per
    candidate (every n-th frame of a longer clip: a 5-min 4-camera trial at 60 fps took
    119 s to sync, now 32 s). The curve keeps its shape and its minimum."""
    trial = make_sync_trial(n_cams=3, fps=30.0, duration=12.0, seed=1)
    xy = {c: _valid(p) for c, p in trial.poses.items()}
    candidates = np.arange(-120, 121)
    full = anchored_errors(trial.group, ["cam1", "cam2"], trial.offsets, xy, "cam3",
                           candidates)
    every_3rd = anchored_errors(trial.group, ["cam1", "cam2"], trial.offsets, xy, "cam3",
                                candidates, max_frames=120)
    assert candidates[np.nanargmin(full)] == candidates[np.nanargmin(every_3rd)] \
        == trial.offsets["cam3"]
    both = np.isfinite(full) & np.isfinite(every_3rd)
    assert np.array_equal(both, np.isfinite(full)) and both.sum() > 100
    assert np.corrcoef(full[both], every_3rd[both])[0, 1] > 0.95
    assert not np.array_equal(full, every_3rd)  # it did compare fewer frames


def test_a_camera_placed_wrong_is_put_right_by_all_the_others() -> None:
    """The search places cameras one by one, each against those before it; the check
    against all the others then moves a camera that was placed seconds off (as a poor
    pair of anchors can do) to its offset, and leaves the right ones where they are."""
    trial = make_sync_trial(n_cams=4, fps=30.0, duration=12.0, seed=3)
    xy = {c: _valid(p) for c, p in trial.poses.items()}
    candidates = np.arange(-300, 301)
    offsets = dict(trial.offsets)
    offsets["cam2"] += 52
    curves = recheck_offsets(trial.group, xy, offsets, list(trial.offsets), candidates,
                             dict.fromkeys(offsets, 0.1))
    assert offsets == trial.offsets
    assert set(curves) == {"cam2", "cam3", "cam4"}
    best = candidates[np.nanargmin(curves["cam2"])]
    assert best == trial.offsets["cam2"]
    # cam2's curve is against cam1, cam3 and cam4: far from its offset it fits much worse
    far = np.abs(candidates - best) >= 3
    assert np.nanmin(curves["cam2"][far]) > 1.5 * np.nanmin(curves["cam2"])


def test_bias_removed_error_ignores_constant_offsets() -> None:
    """A constant residual per keypoint (calibration or detector bias) is not an error."""
    rng = np.random.default_rng(0)
    resid = rng.normal(0, 1, (2, 40, 6, 2)) + rng.normal(0, 30, (2, 1, 6, 2))
    assert residual_error(resid, debias=False) > 10
    assert residual_error(resid) < 2
    resid[:, :, 0] = np.nan  # an unseen keypoint is left out, not an error of 0
    assert np.isfinite(residual_error(resid))


def test_lag_correction_measures_the_frames_off() -> None:
    trial = make_sync_trial(n_cams=4, fps=30.0, duration=10.0, seed=4)
    names = [trial.poses["cam1"].keypoints[i] for i in _columns(trial.poses["cam1"])]
    xy = clean_keypoints(trial.group, {c: _valid(p) for c, p in trial.poses.items()},
                         trial.offsets, names)
    others = ["cam1", "cam2", "cam4"]
    true = trial.offsets["cam3"]
    for lag in (true - 1, true, true + 1):
        delta, sigma = lag_correction(trial.group, others, trial.offsets, xy, "cam3", lag)
        assert abs(lag + delta - true) < 0.4, (lag, delta)
        assert 0 < sigma < 0.2
    for lag in (true - 2, true + 2):  # beyond a frame: the right way, if not all of it
        delta, _ = lag_correction(trial.group, others, trial.offsets, xy, "cam3", lag)
        assert np.sign(delta) == np.sign(true - lag) and abs(delta) > 0.5, (lag, delta)
    # the anchors' points at the wrong instants: no estimate is better than a wrong one
    far = dict(trial.offsets, cam3=true + 500)
    assert np.isnan(lag_correction(trial.group, others, far, xy, "cam3", true + 500)[0])


def test_subframe_errors_see_keypoints_that_disagree() -> None:
    """A detector whose timing differs from keypoint to keypoint (here cam2's wrists 3
    frames late, its other keypoints on time): the joint sub-frame offset's standard
    error (a jackknife over the keypoints) says how much the estimate depends on which
    keypoints there are, far more than the slope's own formula, which sees only the
    scatter of the observations; on clean 2D it stays small."""
    trial = make_sync_trial(n_cams=4, fps=30.0, duration=10.0, seed=3, noise_px=1.0,
                            outlier_rate=0.0, dropout_rate=0.0)
    names = [trial.poses["cam1"].keypoints[i] for i in _columns(trial.poses["cam1"])]
    cams = list(trial.poses)
    clean = {c: _valid(p) for c, p in trial.poses.items()}
    late = dict(clean)
    late["cam2"] = clean["cam2"].copy()
    wrists = [i for i, n in enumerate(names) if n.endswith("wrist")]
    late["cam2"][3:, wrists] = clean["cam2"][:-3, wrists]
    late["cam2"][:3, wrists] = np.nan
    for xy, small in ((clean, True), (late, False)):
        fine = joint_subframe(trial.group, xy, trial.offsets, "cam1", cams, 300)
        _, formula = lag_correction(trial.group, ["cam1", "cam3", "cam4"], trial.offsets,
                                    xy, "cam2", trial.offsets["cam2"])
        value, sigma = fine["cam2"]
        if small:
            assert sigma < 0.05 and abs(value - trial.offsets["cam2"]) < 0.1, fine
        else:
            assert sigma > 0.1 and sigma > 3 * formula, (fine, formula)


def test_rounding_factor_weighs_the_margin_by_the_standard_error() -> None:
    assert rounding_factor(0.3, 0.05) == 1.0  # a quarter frame or more: sure
    assert rounding_factor(0.1, 0.05) == pytest.approx(0.4)
    assert rounding_factor(0.3, 0.2) == pytest.approx(0.75)  # 1.5 SE of margin, not 2
    assert rounding_factor(0.3, float("nan")) == 1.0
    assert rounding_factor(0.0, 0.01) == 0.0  # exactly half a frame


def test_clean_keypoints_undoes_swaps_and_drops_outliers() -> None:
    trial = make_sync_trial(n_cams=4, fps=30.0, duration=8.0, seed=6,
                            offsets={"cam2": 3, "cam3": -2, "cam4": 5})
    xy = {c: _valid(p) for c, p in trial.poses.items()}
    names = [trial.poses["cam1"].keypoints[i] for i in _columns(trial.poses["cam1"])]
    left = [i for i, n in enumerate(names) if n.startswith("left")]
    right = [names.index(names[i].replace("left", "right")) for i in left]
    truth = {c: trial.group[c].project(trial.camera_points(c))[:, _columns(trial.poses[c])]
             for c in xy}

    def wrong(a: np.ndarray, c: str) -> np.ndarray:  # observations over 30 px off
        with np.errstate(invalid="ignore"):
            return np.hypot(*(a - truth[c]).transpose(2, 0, 1))[10:-10] > 30

    bad = {c: v.copy() for c, v in xy.items()}
    for c in ("cam3",):  # a left/right swap over 40 frames in one view (a front one)
        bad[c][50:90, left], bad[c][50:90, right] = xy[c][50:90, right], xy[c][50:90, left]
    assert wrong(bad["cam3"], "cam3").sum() > wrong(xy["cam3"], "cam3").sum() + 300
    cleaned = clean_keypoints(trial.group, bad, trial.offsets, names)
    for c in xy:  # swaps and the synthetic 5 % outliers (uniform over the image) are gone
        assert wrong(cleaned[c], c).sum() < 0.2 * wrong(bad[c], c).sum(), c
        kept = np.isfinite(cleaned[c][..., 0]).sum() / np.isfinite(xy[c][..., 0]).sum()
        assert kept > 0.85, c
    swapped = cleaned["cam3"][50:90, left]
    assert (np.isclose(swapped, xy["cam3"][50:90, left]).all(axis=-1)
            | np.isnan(swapped[..., 0])).mean() > 0.8


def test_geometry_ignores_a_constant_bias_of_one_camera() -> None:
    """A camera whose keypoints are all 25 px off (a poor calibration) keeps its offset."""
    trial = make_sync_trial(n_cams=4, fps=30.0, duration=10.0, seed=7)
    poses = dict(trial.poses)
    biased = poses["cam3"]
    poses["cam3"] = Pose2D(biased.keypoints, biased.xy + np.array([25.0, -15.0]),
                           biased.likelihood, frame_times=biased.frame_times,
                           metadata=dict(biased.metadata))
    zero = dict.fromkeys(poses, 0)
    found = geometry_offsets(poses, trial.group, zero, dict.fromkeys(zero, 0.0), "cam1", 300)
    assert found.offsets == trial.offsets
    for cam, (value, sigma) in found.subframe.items():
        assert abs(value - trial.offsets[cam]) < 0.3, (cam, value)
        assert sigma < 0.2
    assert set(found.subframe) == {"cam2", "cam3", "cam4"}


def test_rival_is_a_second_valley_of_the_error_curve() -> None:
    cand = np.arange(-20, 21)
    two_valleys = 2.0 - np.cos(2 * np.pi * (cand - 4) / 12) + 0.002 * np.abs(cand - 4)
    assert _rival(cand, two_valleys) in (-8, 16)  # one cycle from the best, 4
    assert _rival(cand, np.ones(cand.size)) is None  # flat: a still person, no rival
    assert _rival(cand, 1.0 + 0.01 * np.abs(cand)) is None  # one valley


def test_repeated_movement_names_the_rival_offset(tmp_path: Path) -> None:
    """Two cameras filming marching in place: the geometry fits one step cycle later almost
    as well; the warning names that offset and why."""
    trial = make_sync_trial(n_cams=2, fps=30.0, duration=12.0, seed=0, motion="march")
    root = _synced_project(tmp_path, trial)
    text = (root / "s1" / "sync" / "t.toml").read_text()
    found = read_sync(root / "s1" / "sync" / "t.toml")["cam2"]
    assert abs(found - trial.offsets["cam2"]) <= 1  # two cameras: no joint refinement
    assert f"cam2: offset {found} has low confidence" in text, text
    rival = re.search(r"offset (-?\d+), (\d+) frames from offset (-?\d+), fits", text)
    assert rival is not None, text
    assert abs(int(rival.group(1)) - found) == int(rival.group(2))
    assert int(rival.group(3)) == found
    assert int(rival.group(2)) >= 30  # about one step cycle (or more) away
    assert "fits the geometry almost as well, as happens when a movement repeats" in text
    assert "offsets.cam2" in text


@pytest.mark.parametrize(("n_cams", "duration", "seed"), [(3, 4.0, 2), (4, 4.0, 1)])
def test_repeated_movement_is_never_a_confident_offset(tmp_path: Path, n_cams: int,
                                                       duration: float, seed: int) -> None:
    """Three or four cameras filming marching in place, a movement that repeats exactly:
    another step cycle fits every camera as well as the true offset, so every camera is
    warned about, naming the other offset, whichever of the two the search took. (The
    joint sub-frame step looks only a few frames around the offset; before, its sharp
    local curve gave such cameras confidences up to 1.0, wrong offsets included: here cam2
    at -17 instead of +53 with 0.85 and cam3 at -73 instead of -3 with 0.76, and cam2 at
    +57 instead of +24 with 1.0.)"""
    trial = make_sync_trial(n_cams=n_cams, fps=30.0, duration=duration, seed=seed,
                            motion="march", max_offset_s=2.0)
    root = _synced_project(tmp_path, trial)
    data = toml.loads((root / "s1" / "sync" / "t.toml").read_text())
    assert data["method"] == "motion + geometry"
    assert any(data["offsets"][c] != trial.offsets[c] for c in trial.offsets)  # a cycle off
    for cam in trial.group.names[1:]:
        assert data["confidence"][cam] < 0.3, data
        (warning,) = [w for w in data["warnings"] if w.startswith(f"{cam}: ")]
        rival = re.search(r"offset (-?\d+), (\d+) frames from offset (-?\d+), fits the "
                          "geometry almost as well, as happens when a movement repeats",
                          warning)
        assert rival is not None, warning
        assert int(rival.group(2)) >= 30  # one step cycle (or more) away


def test_a_still_reference_camera_is_named(tmp_path: Path) -> None:
    """The reference camera cam1 films a person standing still while the others film a
    jump (a frozen or wrong video): no offset can be measured against it, and every other
    camera's warning says so. (Before, cam2 and cam4 were written a whole jump off with
    confidences 0.40 and 0.48, and no warning.)"""
    trial = make_sync_trial(n_cams=4, fps=30.0, duration=6.0, seed=3, motion="jump",
                            max_offset_s=1.0, static_camera="cam1")
    root = _synced_project(tmp_path, trial)
    data = toml.loads((root / "s1" / "sync" / "t.toml").read_text())
    assert data["method"] == "motion + geometry"
    assert any(data["offsets"][c] != trial.offsets[c] for c in trial.offsets)
    for cam in ("cam2", "cam3", "cam4"):
        assert data["confidence"][cam] < 0.3, data
        (warning,) = [w for w in data["warnings"] if w.startswith(f"{cam}: ")]
        assert ("the reference camera cam1 sees no movement (the person stands still in its "
                "view, or its picture is frozen or static), so no offset can be measured "
                f"against it; check cam1's video and 2D, or set [sync] offsets.{cam}"
                ) in warning, warning


def test_a_moving_reference_a_cycle_off_is_not_called_still() -> None:
    """The figures of a real case: a 4-s march of ``benchmarks/study_parallel.py``'s
    rendered study, MediaPipe 2D, synced 60 and -30 frames off (true: 0, one and two
    march cycles away). At those offsets the reference cam1 fits the others' points no
    better than a still person would (still fit 0.22), yet its 2D moves as much as theirs
    (movement share 0.89), and each camera has a rival offset: the warning names the
    repeated movement, not a still reference. A reference whose 2D barely moves is still
    named."""
    still = {"cam1": 0.22, "cam2": 1.0, "cam3": 1.0}
    rivals = {"cam2": -30, "cam3": 90}
    moving = {"cam1": 0.89, "cam2": 1.19, "cam3": 0.93}
    reason = _low_confidence_reason("cam2", 60, rivals, {}, still, "cam1", moving, 2.0)
    assert reason.startswith("offset -30, 90 frames from offset 60, fits the geometry almost "
                             "as well, as happens when a movement repeats"), reason
    frozen = {**moving, "cam1": 0.1}
    for why in (_low_confidence_reason("cam2", 60, rivals, {}, still, "cam1", frozen, 2.0),
                _low_confidence_reason("cam2", 60, {}, {}, still, "cam1", moving, 2.0)):
        assert why.startswith("the reference camera cam1 sees no movement"), why


def test_a_camera_that_sees_no_movement_is_never_confident(tmp_path: Path) -> None:
    """cam2 of three films a person standing still: a still view fits the others best
    where they move least, which gave cam2 a wrong offset (+45 instead of +3) with
    confidence 0.36 and no warning before. Now it is warned about as a camera that sees no
    movement, and cam3 keeps its right offset. With four cameras, only the still one is
    in doubt (the others' ``still_fit`` stays 1)."""
    trial = make_sync_trial(n_cams=3, fps=30.0, duration=3.0, seed=3, motion="jump",
                            max_offset_s=1.0, static_camera="cam2")
    root = _synced_project(tmp_path, trial)
    data = toml.loads((root / "s1" / "sync" / "t.toml").read_text())
    assert data["offsets"]["cam2"] != trial.offsets["cam2"]
    assert data["confidence"]["cam2"] < 0.3, data
    assert data["offsets"]["cam3"] == trial.offsets["cam3"]
    (warning,) = [w for w in data["warnings"] if w.startswith("cam2: ")]
    assert "this camera sees far less movement than the others" in warning, warning
    four = make_sync_trial(n_cams=4, fps=30.0, duration=6.0, seed=0, motion="jump",
                           max_offset_s=1.0, static_camera="cam3")
    est = motion_offsets(four.poses, 30.0, 10.0)
    geo = geometry_offsets(four.poses, four.group, est.offsets, est.confidence, "cam1", 300)
    assert geo.still_fit["cam3"] < 0.3 and geo.confidence["cam3"] < 0.3, geo.still_fit
    assert min(geo.still_fit[c] for c in ("cam1", "cam2", "cam4")) == 1.0, geo.still_fit
    assert all(geo.offsets[c] == four.offsets[c] for c in ("cam2", "cam4"))


@pytest.mark.parametrize(("n_cams", "static", "seed"), [(2, "cam2", 0), (3, "cam1", 1)])
def test_motion_alone_never_trusts_a_view_without_movement(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, n_cams: int, static: str,
        seed: int) -> None:
    """Without a calibration only the motion signals speak, and a view of a person standing
    still correlates with the others' movement at a random lag, sometimes sharply: before,
    2 cameras with a still cam2 gave cam2 +70 (truth +27) at confidence 0.93, and 3 cameras
    with a still reference gave cam2 -48 and cam3 -40 (truth +12, +20) at 1.0, with no
    warning. Now such offsets are warned about, naming the still camera."""
    trial = make_sync_trial(n_cams=n_cams, fps=30.0, duration=6.0, seed=seed, motion="jump",
                            max_offset_s=1.0, static_camera=static)
    with caplog.at_level("INFO", logger="posekit.sync.step"):
        root = _synced_project(tmp_path, trial, calibrated=False)
    data = toml.loads((root / "s1" / "sync" / "t.toml").read_text())
    assert data["method"] == "motion"
    assert "s1/t: no calibration yet, so the offsets are from the motion only" in caplog.text
    assert any(data["offsets"][c] != trial.offsets[c] for c in trial.offsets)
    for cam in trial.group.names[1:]:
        assert data["confidence"][cam] < 0.3, data
        (warning,) = [w for w in data["warnings"] if w.startswith(f"{cam}: ")]
        whose = "this camera" if cam == static else f"the reference camera {static}"
        assert (f"{whose} sees far less movement than the others (its keypoints' speed "
                "varies") in warning, warning
        assert f"check {static}'s video and 2D" in warning, warning
    # a calibration written afterwards makes the offsets out of date: sync runs again
    save_calibration(trial.group, root / "calibration" / "calibration.toml")
    result = CliRunner().invoke(cli, ["sync", "-p", str(root)])
    assert result.exit_code == 0, result.output
    again = toml.loads((root / "s1" / "sync" / "t.toml").read_text())
    assert again["method"] == "motion + geometry", again


def test_motion_alone_is_not_confident_on_a_few_seconds() -> None:
    """A few seconds of movement hold few independent swings, and a chance correlation
    peak of such short signals stands out as much as the true one. Over these 4-s clips
    (20 cameras) the unscaled confidence gave 14 offsets more than a frame off a
    confidence of 0.3 or more; scaled by the overlap, no such offset is confident, while
    on 15 s and more the offsets keep theirs (``test_offsets_recovered_exactly``)."""
    confident_and_wrong = []
    for seed in range(4):
        for n_cams in (3, 4):
            trial = make_sync_trial(n_cams=n_cams, fps=30.0, duration=4.0, seed=seed,
                                    max_offset_s=1.0)
            est = motion_offsets(trial.poses, 30.0, max_lag_s=10.0)
            confident_and_wrong += [
                (seed, cam, est.offsets[cam], true, est.confidence[cam])
                for cam, true in trial.offsets.items()
                if abs(est.offsets[cam] - true) > 1 and est.confidence[cam] >= 0.3]
    assert not confident_and_wrong, confident_and_wrong


def test_a_camera_half_a_frame_out_is_warned_about_as_such(tmp_path: Path) -> None:
    """A trial filmed at 60 fps with cam2 21 frames late, kept at 30 fps (every other
    frame): cam2 is then 10.5 frames late, which no whole frame fits. Its warning says so
    (not that the person is out of view), and the other cameras get none."""
    fast = make_sync_trial(n_cams=3, fps=60.0, duration=12.0, seed=2,
                           offsets={"cam2": 21, "cam3": -40})
    halved = {c: Pose2D(p.keypoints, p.xy[::2], p.likelihood[::2], p.scorer,
                        None if p.frame_times is None else p.frame_times[::2],
                        dict(p.metadata))
              for c, p in fast.poses.items()}
    trial = dataclasses.replace(fast, poses=halved, fps=30.0,
                                offsets={"cam1": 0, "cam2": 10, "cam3": -20})
    root = _synced_project(tmp_path, trial)
    text = (root / "s1" / "sync" / "t.toml").read_text()
    found = read_sync(root / "s1" / "sync" / "t.toml")
    assert found["cam2"] in (10, 11) and found["cam3"] == -20, found
    record = toml.loads(text)
    assert abs(record["subframe"]["cam2"] - 10.5) < 0.15, text
    # each sub-frame value comes with its standard error, which covers the truth
    assert record["subframe_se"].keys() == record["subframe"].keys()
    assert 0 < record["subframe_se"]["cam2"] < 0.15
    assert abs(record["subframe"]["cam2"] - 10.5) < 3 * record["subframe_se"]["cam2"] + 0.01
    warnings = toml.loads(text)["warnings"]
    assert len(warnings) == 1 and warnings[0].startswith(f"cam2: offset {found['cam2']} has "
                                                         "low confidence"), warnings
    assert "between whole frames, so offsets +10 and +11 fit about equally well" in warnings[0]
    assert re.search(r"places this camera \+10\.\d\d ± 0\.\d\d frames from", warnings[0])
    assert "if you know the true offset, set [sync] offsets.cam2" in warnings[0]
    assert "out of view" not in warnings[0]


@pytest.mark.parametrize(("fps", "says"), [
    ({"cam1": 30.0, "cam2": 29.97, "cam3": 30.0},
     {"cam2": "cam2: recorded at 29.97 fps, the reference camera cam1 at 30 fps, which would "
              "drift 1.8 frames out of step per minute: its frames are placed on that "
              "camera's clock by their times (3 empty frame(s) and 0 frame(s) left out over "
              "the clip), so it stays in step"}),
    ({"cam1": 60.0, "cam2": 30.0, "cam3": 30.0},
     {"cam1": "cam1: recorded at 60 fps and the trial is processed at 30 fps, the rate of "
              "the trial's slowest camera: its frames are placed on that clock by their "
              "times (0 empty frame(s) and 2700 frame(s) left out over the clip), so every "
              "camera has one frame per slot"}),
], ids=["29.97-among-30", "60-among-30"])
def test_cameras_at_other_rates_stay_in_step(tmp_path: Path, fps: dict[str, float],
                                             says: dict[str, str]) -> None:
    """Ninety seconds with cameras at different rates. 29.97 among 30 fps (a camera of
    another make): taken frame by frame, cam2 would drift 2.7 frames out of step over the
    clip. 60 among 30: no whole-frame offset fits. The frames of the odd camera go on the
    trial's clock by their times, so the offsets are exact and its 2D is in step at the
    end of the clip too."""
    from posekit.project.layout import Project
    from posekit.project.steps import read_trial_2d
    from posekit.synthetic.motions import make_motion
    from posekit.synthetic.rig import make_rig
    from posekit.triangulation.export import read_anipose_csv

    group = make_rig(3, seed=4)
    start = {"cam1": 1.0, "cam2": 2.0, "cam3": 0.5}  # s on the motion's clock
    motion = make_motion("demo", 95.0, seed=4)
    rng = np.random.default_rng(4)
    root = tmp_path / "p"
    raw, pose2d = root / "s1" / "videos-raw", root / "s1" / "pose-2d"
    raw.mkdir(parents=True)
    (root / "config.toml").write_text('nesting = 1\n[triangulation]\ncam_regex = "-(cam[0-9])$"\n')
    for cam in group:
        times = start[cam.name] + np.arange(round(90 * fps[cam.name])) / fps[cam.name]
        xy = cam.project(motion.landmarks(times)) + rng.normal(0, 1.0, (len(times), 33, 2))
        (raw / f"t-{cam.name}.mp4").touch()
        write_pose2d(Pose2D(MEDIAPIPE_33.keypoints, xy, np.full(xy.shape[:2], 0.9),
                            frame_times=np.round(times - start[cam.name], 3),
                            metadata={"fps": fps[cam.name]}), pose2d / f"t-{cam.name}.h5")
    save_calibration(group, root / "calibration" / "calibration.toml")
    for step in ("sync", "triangulate"):
        result = CliRunner().invoke(cli, [step, "-p", str(root)])
        assert result.exit_code == 0, result.output
    text = (root / "s1" / "sync" / "t.toml").read_text()
    assert read_sync(root / "s1" / "sync" / "t.toml") == {"cam1": 0, "cam2": 30, "cam3": -15}
    warnings = toml.loads(text)["warnings"]
    for message in says.values():
        assert any(w.startswith(message) for w in warnings), warnings
    assert len(warnings) == len(says), warnings
    assert toml.loads(text)["fps"] == 30.0

    # each odd camera's 2D as sync and triangulate see it: slot j at its start + j / 30 s;
    # over the last 10 s, the lag (frames) that best explains it is 0
    poses = read_trial_2d(Project(root).trials()[0])
    for cam in says:
        pose = poses[cam]
        slots = np.arange(pose.n_frames - 300, pose.n_frames)
        lags = np.arange(-4, 5)
        off = [np.nanmedian(np.linalg.norm(pose.xy[slots] - group[cam].project(
            motion.landmarks(start[cam] + (slots + lag) / 30.0)), axis=-1)) for lag in lags]
        print(cam, "2D against the truth, last 10 s, by lag:", np.round(off, 2))
        assert lags[int(np.argmin(off))] == 0, off

    est = read_anipose_csv(root / "s1" / "pose-3d" / "t.csv")
    assert np.isfinite(est.points).all(axis=-1).mean() > 0.99
    quality = json.loads((root / "s1" / "pose-3d" / "t.quality.json").read_text())
    assert quality["interpolated_to_clock"] == list(says)
    for cam in says:  # the triangulation's warning says the 3D does not take nearest frames
        assert any(w.startswith(f"{cam}: recorded at ") and "by their times (the 3D "
                   "interpolates its 2D to each slot's instant, which leaves 0 empty frame(s) "
                   "where it dropped frames)" in w
                   for w in quality["warnings"]), quality["warnings"]
    result = CliRunner().invoke(cli, ["report", "-p", str(root)])
    assert result.exit_code == 0, result.output
    page = (root / "reports" / "s1" / "t.html").read_text()
    assert (f"the 3D interpolates the 2D of {', '.join(says)}, recorded at another frame "
            "rate, to the instants of the trial&#x27;s clock") in page

    # the odd camera's 2D interpolated to the clock's instants ([triangulation] subframe,
    # the default) against the nearest frame: the 3D is nearer the truth, or the same
    # where the odd camera's frames fall on the clock's (60 among 30)
    def mpjpe(points: Points3D) -> float:
        true = motion.landmarks(start["cam1"] + points.fnum / 30.0)
        return float(np.nanmean(np.linalg.norm(points.points - true, axis=-1)))

    config = root / "config.toml"
    config.write_text(config.read_text().replace("[triangulation]\n",
                                                 "[triangulation]\nsubframe = false\n"))
    result = CliRunner().invoke(cli, ["triangulate", "-p", str(root), "--overwrite"])
    assert result.exit_code == 0, result.output
    nearest = read_anipose_csv(root / "s1" / "pose-3d" / "t.csv")
    if "cam2" in says:
        assert mpjpe(est) < 0.95 * mpjpe(nearest)  # 4.0 against 4.4 mm
    else:
        assert mpjpe(est) == pytest.approx(mpjpe(nearest), rel=1e-3)


def test_a_short_shared_recording_is_named_in_the_warning() -> None:
    """The generic low-confidence reason says how little the camera shares with the
    reference when that is under the 10 s a confident offset usually needs."""
    from posekit.sync.step import _low_confidence_reason, shared_seconds

    trial = make_sync_trial(n_cams=3, fps=30.0, duration=4.0, seed=0,
                            offsets={"cam2": 30, "cam3": -15})
    assert shared_seconds(trial.poses, trial.offsets, "cam1", "cam2", 30.0) == \
        pytest.approx(3.0)
    assert shared_seconds(trial.poses, {"cam1": 0, "cam2": 500}, "cam1", "cam2", 30.0) == 0
    short = _low_confidence_reason("cam2", 30, {}, {}, {}, "cam1", {}, 3.0)
    assert short.startswith("it shares only 3.0 s of recording with the reference camera")
    assert short.endswith("or set [sync] offsets.cam2")
    long = _low_confidence_reason("cam2", 30, {}, {}, {}, "cam1", {}, 25.0)
    assert long.startswith("the person may be out of view or barely moving")


def test_cameras_out_of_step_by_part_of_a_frame(tmp_path: Path) -> None:
    """Free-running cameras record between the reference's frames: the sync file gives
    their sub-frame offsets, which triangulation then uses."""
    fractions = {"cam2": 0.4, "cam3": -0.35, "cam4": 0.2}
    trial = make_sync_trial(n_cams=4, fps=30.0, duration=12.0, seed=0, fractions=fractions)
    true = trial.subframe_offsets
    root = _synced_project(tmp_path, trial)
    sync_file = root / "s1" / "sync" / "t.toml"
    sub = toml.load(sync_file)["subframe"]
    offsets = read_sync(sync_file)
    for cam in fractions:
        # within a quarter frame (here -0.21, +0.03, -0.18: 2 px noise, 5 % outliers)
        assert abs(sub[cam] - true[cam]) < 0.25, (cam, sub[cam], true[cam])
        assert offsets[cam] == round(true[cam])
    result = CliRunner().invoke(cli, ["triangulate", "-p", str(root)])
    assert result.exit_code == 0, result.output
    quality = json.loads((root / "s1" / "pose-3d" / "t.quality.json").read_text())
    assert quality["subframe"] == {c: round(sub[c] - offsets[c], 4) for c in fractions}


def test_cameras_within_a_frame_of_each_other_are_told_about_hardware_sync(
        tmp_path: Path) -> None:
    """Filmed at 60 fps with cam2 one frame late and kept at 30 fps: cam2 is half a frame
    out, which no whole frame fits, and is warned about; since every offset is within a
    frame of 0, one more line says that hardware-synchronised cameras need no estimate and
    how to turn it off. Cameras far apart get no such line
    (``test_a_camera_half_a_frame_out_is_warned_about_as_such``)."""
    fast = make_sync_trial(n_cams=3, fps=60.0, duration=12.0, seed=2,
                           offsets={"cam2": 1, "cam3": 0})
    halved = {c: Pose2D(p.keypoints, p.xy[::2], p.likelihood[::2], p.scorer,
                        None if p.frame_times is None else p.frame_times[::2],
                        dict(p.metadata))
              for c, p in fast.poses.items()}
    trial = dataclasses.replace(fast, poses=halved, fps=30.0,
                                offsets={"cam1": 0, "cam2": 0, "cam3": 0})
    root = _synced_project(tmp_path, trial)
    record = toml.loads((root / "s1" / "sync" / "t.toml").read_text())
    warnings = record["warnings"]
    assert warnings[0].startswith("cam2: offset"), warnings
    assert "between whole frames" in warnings[0]
    found = record["offsets"]
    assert warnings[-1] == (
        f"every offset is within a frame of 0 (cam1 +0, cam2 {found['cam2']:+d}, cam3 +0): "
        "if these cameras are synchronised in hardware (a shared trigger, genlock or "
        "timecode), the offsets need no estimate and the low-confidence warnings above do "
        "not apply; set [sync] enabled = false in the trial's, session's or project's "
        "config.toml, and the 3D uses the frames as recorded")
    assert len(warnings) == 2
