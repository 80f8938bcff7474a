"""A triangulated trial's quality figures (the ``<trial>.quality.json`` file and its plot)
and the warnings they give."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from posekit.io.atomic import write_figure_atomic
from posekit.triangulation.reconstruct import Reconstruction

FloatArray = NDArray[np.float64]
#: a camera with more of its keypoints than this share where the calibration board never
#: reached its image is warned about
MAX_EXTRAPOLATED_SHARE = 0.1


def quality_summary(rec: Reconstruction, cameras: Sequence[str]) -> dict[str, Any]:
    """Per-keypoint and per-camera quality figures (JSON-ready)."""
    def med(values: FloatArray) -> float | None:
        finite = values[np.isfinite(values)]
        return round(float(np.median(finite)), 3) if finite.size else None

    valid = np.isfinite(rec.points).all(axis=-1)
    per_kp = {
        kp: {"median_error_px": med(rec.errors[:, j]),
             "mean_cameras": round(float(rec.ncams[:, j].mean()), 3),
             "valid_share": round(float(valid[:, j].mean()), 4)}
        for j, kp in enumerate(rec.keypoints)}
    detected = np.isfinite(rec.view_errors)
    per_cam = {
        cam: {"median_error_px": med(np.where(rec.used[c], rec.view_errors[c], np.nan)),
              "used_share": round(float(rec.used[c].sum() / max(detected[c].sum(), 1)), 4),
              "swapped_frames": int((rec.swaps[c] > 0).sum())}
        for c, cam in enumerate(cameras)}
    return {"frames": int(rec.points.shape[0]),
            "valid_share": round(float(valid.mean()), 4),
            "median_error_px": med(rec.errors.ravel()),
            "keypoints": per_kp, "cameras": per_cam}


def plot_quality(path: Path, summary: Mapping[str, Any]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    kps = summary["keypoints"]
    cams = summary["cameras"]
    fig, axes = plt.subplots(1, 2, figsize=(13, 5), gridspec_kw={"width_ratios": [3, 1]})
    names = list(kps)
    axes[0].bar(range(len(names)), [kps[k]["median_error_px"] or 0 for k in names])
    axes[0].set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    axes[0].set_ylabel("median reprojection error (px)")
    ax2 = axes[0].twinx()
    ax2.plot(range(len(names)), [kps[k]["mean_cameras"] for k in names], "k.",
             label="cameras used (mean)")
    ax2.set_ylabel("cameras used (mean)")
    # whole cameras from 0, as in the HTML report (from 3.45 to 4.0, 3.5 looked like none)
    most = max([len(cams), *(kps[k]["mean_cameras"] or 0 for k in names)], default=2)
    ax2.set_ylim(0, float(np.ceil(most)) + 0.3)
    ax2.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    axes[1].bar(list(cams), [cams[c]["median_error_px"] or 0 for c in cams])
    axes[1].set_ylabel("median reprojection error (px)")
    axes[1].set_title("per camera")
    axes[0].set_title("per keypoint")
    fig.tight_layout()
    write_figure_atomic(fig, path, dpi=100)


def partial_warnings(summary: Mapping[str, Any], cam_warnings: Sequence[str]
                      ) -> list[str]:
    """What the quality summary says is missing, as warnings for the log and the file."""
    out = list(cam_warnings)
    named = {w.split(":")[0] for w in cam_warnings}
    for cam, info in summary["cameras"].items():
        if f"camera {cam}" in named:
            continue
        if info["median_error_px"] is None:
            out.append(f"camera {cam} detected no keypoints in the frames all cameras "
                       "recorded; check its video and 2D file")
        elif info["used_share"] < 0.5:
            out.append(f"camera {cam}: only {100 * info['used_share']:.0f} % of its "
                       "detections agree with the others; check its calibration and sync")
    never = [kp for kp, info in summary["keypoints"].items() if info["valid_share"] == 0]
    if never:
        out.append(f"keypoints never reconstructed (empty in every frame of the outputs): "
                   f"{', '.join(never)}; they were seen by fewer than two cameras at a time")
    if summary["valid_share"] < 0.5:
        out.append(f"only {100 * summary['valid_share']:.0f} % of the keypoint positions "
                   "were reconstructed (see valid_share per keypoint in the quality file)")
    return out


def extrapolated_warnings(shares: Mapping[str, float]) -> list[str]:
    """Warnings for the cameras with more than :data:`MAX_EXTRAPOLATED_SHARE` of their
    keypoints where the calibration board never reached the image (``shares``:
    :func:`posekit.calibration.report.extrapolated_shares`)."""
    return [f"camera {cam}: {100 * share:.0f} % of its keypoints lie where the calibration "
            "board never reached its image, so the lens is extrapolated there and they may "
            "be placed off; see calibration_coverage.png, and record the board in those "
            "parts of the image (docs/calibration.md)"
            for cam, share in shares.items() if share > MAX_EXTRAPOLATED_SHARE]
