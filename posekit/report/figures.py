"""Plotly figures of the HTML report (interactive) and matplotlib PNGs (for papers).

Inputs use the pipeline's shapes: 3D points (n_frames, n_keypoints, 3), NaN = missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from _plotly_utils.utils import convert_to_base64
from numpy.typing import NDArray

from posekit.camera.model import CameraGroup
from posekit.io.atomic import write_figure_atomic
from posekit.report.data import Bones

FloatArray = NDArray[np.float64]
Frames = Sequence[int] | NDArray[np.int64]
#: most animation frames in the 3D viewer (longer trials are subsampled evenly)
MAX_VIEWER_FRAMES = 300
#: what the per-frame plots put into the page: half the bytes of 64-bit floats, which
#: matters for long trials (a 5-min 30-fps trial's report was 17 MB), and more digits
#: than a plot shows
PLOT_DTYPE = np.float32


def _bone_lines(points: FloatArray, bones: Bones) -> tuple[list[float | None], ...]:
    """x, y, z lists of the bones of one frame (k, 3), None between segments."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    zs: list[float | None] = []
    for a, b in bones:
        for p in (points[a], points[b]):
            ok = bool(np.isfinite(p).all())
            xs.append(float(p[0]) if ok else None)
            ys.append(float(p[1]) if ok else None)
            zs.append(float(p[2]) if ok else None)
        xs.append(None)
        ys.append(None)
        zs.append(None)
    return xs, ys, zs


def _frame_traces(points: FloatArray, truth: FloatArray | None, bones: Bones,
                  keypoints: Sequence[str]) -> list[dict[str, Any]]:
    sets = [("3D estimate", points, "#1f77b4")]
    if truth is not None:
        sets.append(("ground truth", truth, "#d62728"))
    traces: list[dict[str, Any]] = []
    for name, pts, colour in sets:
        xs, ys, zs = _bone_lines(pts, bones)
        traces.append({"type": "scatter3d", "x": xs, "y": ys, "z": zs, "mode": "lines",
                       "name": f"{name} bones", "line": {"color": colour, "width": 5},
                       "hoverinfo": "skip", "connectgaps": False})
        traces.append({"type": "scatter3d", "x": pts[:, 0], "y": pts[:, 1], "z": pts[:, 2],
                       "mode": "markers", "name": name, "text": list(keypoints),
                       "marker": {"color": colour, "size": 3}})
    return traces


#: where the 3D viewer looks from at first (plotly's scene units), along the two directions
#: across the body's up direction and along it: from the side and a little above, far
#: enough that a standing person's whole box is in view (plotly's default, 1.25 on every
#: axis, looks down so steeply that a tall box is cut at the bottom)
VIEWER_EYE = (1.3, 1.3, 0.55)


def body_up(points: FloatArray, keypoints: Sequence[str]) -> FloatArray | None:
    """The person's up direction (unit vector) in the points' frame: from the mean of the
    ankles (else the hips) to the mean of the shoulders, the median over the frames. None
    when the keypoints have no such names or are never seen. The calibration's world
    frame need not have an up axis (by default it is camera 1's, whose y points down)."""
    names = [k.lower() for k in keypoints]
    top = [i for i, k in enumerate(names) if "shoulder" in k]
    bottom = ([i for i, k in enumerate(names) if "ankle" in k]
              or [i for i, k in enumerate(names) if "hip" in k])
    if not top or not bottom or not len(points):
        return None
    with np.errstate(all="ignore"):
        spine = np.nanmean(points[:, top], axis=1) - np.nanmean(points[:, bottom], axis=1)
    spine = spine[np.isfinite(spine).all(axis=1)]
    if not len(spine):
        return None
    up = np.median(spine, axis=0)
    norm = float(np.linalg.norm(up))
    return up / norm if norm > 0 else None


def cameras_up(group: CameraGroup) -> FloatArray | None:
    """The up direction (unit vector, world frame) that the cameras agree on: the mean of
    their images' up directions (each camera's -y axis), which cancels the tilts of cameras
    placed around the subject. None when they do not agree (the mean's length under 0.7:
    a camera turned on its side or looking straight down, say)."""
    ups = np.array([-cam.rotation[1] for cam in group])
    if not len(ups):
        return None
    mean = ups.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm >= 0.7 else None


#: a body up direction further than this from the cameras' (degrees) is a person who is
#: not upright (lying, on all fours): the viewer then takes the cameras' up
UPRIGHT_DEG = 45.0


def viewer_up(body: FloatArray | None, cameras: FloatArray | None) -> FloatArray | None:
    """The viewer's up direction: the body's (ankles to shoulders, exact for a standing
    person) unless the cameras agree on an up direction more than :data:`UPRIGHT_DEG` away
    from it (a person lying down, shown lying); the cameras' without a body direction."""
    if body is None or cameras is None:
        return body if body is not None else cameras
    return body if float(body @ cameras) >= np.cos(np.radians(UPRIGHT_DEG)) else cameras


def viewer_camera(up: FloatArray | None) -> dict[str, dict[str, float]]:
    """Plotly's scene camera that shows ``up`` (a unit vector; None: the z axis) as up,
    looking from :data:`VIEWER_EYE`."""
    u = np.array([0.0, 0.0, 1.0]) if up is None else np.asarray(up, np.float64)
    across = np.eye(3)[int(np.argmin(np.abs(u)))]  # the axis furthest from up
    h1 = across - (across @ u) * u
    h1 /= np.linalg.norm(h1)
    h2 = np.cross(u, h1)
    eye = VIEWER_EYE[0] * h1 + VIEWER_EYE[1] * h2 + VIEWER_EYE[2] * u
    return {"up": dict(zip("xyz", map(float, u), strict=True)),
            "eye": dict(zip("xyz", map(float, eye), strict=True))}


def skeleton_viewer(points: FloatArray, keypoints: Sequence[str], bones: Bones,
                    fnum: Frames, fps: float, truth: FloatArray | None = None,
                    units: str = "", up: FloatArray | None = None) -> dict[str, Any]:
    """An animated 3D skeleton (play/pause buttons and a frame slider); ``truth`` (same
    shape as ``points``) is drawn alongside in red. Axis ranges are fixed over the trial;
    the view first shows the person upright (:func:`body_up`), whatever the world frame,
    or, given the cameras' ``up`` (:func:`cameras_up`, in the points' frame), the room's
    up where the person is not upright (:func:`viewer_up`).

    A plotly figure as a plain dict (data, layout, frames), for
    :func:`plotly.io.to_html` with ``validate=False``: building and validating one
    ``go.Frame`` of ``go.Scatter3d`` traces per frame gave the same page in 0.55 s for a
    100-frame trial (1.5 s for ``posekit demo``'s with its ground truth), against 0.11 s
    (0.21 s) now."""
    n = len(points)
    shown = np.unique(np.linspace(0, n - 1, min(n, MAX_VIEWER_FRAMES)).round().astype(int)) \
        if n else np.zeros(0, int)
    both = points if truth is None else np.concatenate([points, truth], axis=1)
    finite = both[np.isfinite(both).all(axis=-1)]
    lo, hi = (finite.min(axis=0), finite.max(axis=0)) if len(finite) else (np.zeros(3),
                                                                            np.ones(3))
    pad = 0.05 * float(np.max(hi - lo) or 1.0)
    span = np.maximum(hi - lo, 0.0) + 2 * pad
    up = viewer_up(body_up(points, keypoints), up)
    first = int(shown[0]) if len(shown) else 0
    empty = np.full((len(keypoints), 3), np.nan)

    def at(i: int) -> list[dict[str, Any]]:
        pts = points[i] if n else empty
        return _frame_traces(pts, None if truth is None else truth[i], bones, keypoints)

    frames = [{"data": at(int(i)), "name": str(int(fnum[i]))} for i in shown]
    step = {"frame": {"duration": 1000 / max(fps, 1.0), "redraw": True}, "fromcurrent": True,
            "transition": {"duration": 0}, "mode": "immediate"}
    layout = dict(
        title={"text": "3D keypoints" + (" (red: ground truth, rigidly fitted)"
                                         if truth is not None else "")},
        height=620, margin={"l": 0, "r": 0, "t": 40, "b": 0}, uirevision="viewer",
        scene={f"{a}axis": {"range": [float(lo[j]) - pad, float(hi[j]) + pad],
                            "title": {"text": axis_title(j, units)},
                            "autorange": False}
               for j, a in enumerate("xyz")} | {
                   # true proportions, the longest side 1, which VIEWER_EYE's distance fits
                   "aspectmode": "manual", "camera": viewer_camera(up),
                   "aspectratio": dict(zip("xyz", map(float, span / span.max()), strict=True))},
        updatemenus=[{"type": "buttons", "direction": "left", "x": 0.0, "y": 0.0,
                      "xanchor": "left", "yanchor": "top", "buttons": [
                          {"label": "Play", "method": "animate", "args": [None, step]},
                          {"label": "Pause", "method": "animate",
                           "args": [[None], {"frame": {"duration": 0, "redraw": False},
                                             "mode": "immediate"}]}]}],
        sliders=[{"active": 0, "x": 0.12, "len": 0.88, "y": 0.0, "yanchor": "top",
                  "currentvalue": {"prefix": "frame "},
                  "steps": [{"label": f["name"], "method": "animate",
                             "args": [[f["name"]], {"frame": {"duration": 0, "redraw": True},
                                                    "mode": "immediate"}]} for f in frames]}],
    )
    # the look plotly's own figures get (its default template)
    layout["template"] = pio.templates[pio.templates.default].to_plotly_json()
    spec: dict[str, Any] = {"data": at(first), "layout": layout}
    if frames:
        spec["frames"] = frames
    convert_to_base64(spec)  # numeric arrays as typed arrays, as plotly's own figures
    return spec


def up_axis(group: CameraGroup) -> int:
    """The world axis taken as vertical for views from above: the one nearest the up
    direction the cameras agree on (:func:`cameras_up`) when one is within 45° of it;
    otherwise the axis along which the camera centres spread least (cameras usually
    stand around the subject at similar heights)."""
    up = cameras_up(group)
    if up is not None and float(np.abs(up).max()) >= np.cos(np.radians(45.0)):
        return int(np.argmax(np.abs(up)))
    centres = np.array([c.center for c in group])
    return int(np.argmin(centres.std(axis=0))) if len(centres) > 1 else 2


def axis_title(axis: int, units: str = "") -> str:
    """A world axis's name, with the calibration's units when known: ``x (mm)``."""
    return f"{'xyz'[axis]} ({units})" if units else "xyz"[axis]


def cameras_top_view(group: CameraGroup, points: FloatArray | None = None, units: str = ""
                     ) -> go.Figure:
    """Camera centres and viewing directions seen from above (along :func:`up_axis`),
    with the subject's path (mean of its keypoints per frame) when ``points`` is given."""
    up = up_axis(group)
    h, v = [a for a in range(3) if a != up]
    fig = go.Figure()
    centres = np.array([c.center for c in group])
    span = float(np.ptp(centres[:, [h, v]], axis=0).max() or 1.0)
    for cam in group:
        c, d = cam.center, cam.rotation[2]  # optical axis in world coordinates
        tip = c + 0.25 * span * d / (np.linalg.norm(d[[h, v]]) or 1.0)
        fig.add_trace(go.Scatter(x=[c[h], tip[h]], y=[c[v], tip[v]], mode="lines+markers+text",
                                 text=[cam.name, ""], textposition="top center",
                                 name=cam.name, marker={"size": [10, 0]}))
    if points is not None:
        with np.errstate(all="ignore"):
            path = np.nanmean(points, axis=1)
        fig.add_trace(go.Scatter(x=path[:, h], y=path[:, v], mode="lines", name="subject",
                                 line={"color": "black"}))
    fig.update_layout(title="cameras seen from above", height=420,
                      xaxis_title=axis_title(h, units), yaxis_title=axis_title(v, units))
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def calibration_errors(report: Mapping[str, Any]) -> go.Figure:
    """Per-camera reprojection error of the calibration (``calibration_report.json``)."""
    cams = report.get("cameras", {})
    names = list(cams)
    fig = go.Figure([
        go.Bar(x=names, y=[cams[c].get("reprojection_median_px") for c in names],
               name="median"),
        go.Bar(x=names, y=[cams[c].get("reprojection_p95_px") for c in names], name="p95")])
    fig.update_layout(title="calibration reprojection error", yaxis_title="px", height=350)
    return fig


def quality_bars(quality: Mapping[str, Any]) -> go.Figure:
    """Per-keypoint median reprojection error and mean cameras used; per-camera error."""
    from plotly.subplots import make_subplots

    kps, cams = quality.get("keypoints", {}), quality.get("cameras", {})
    fig = make_subplots(rows=1, cols=2, column_widths=[0.75, 0.25],
                        specs=[[{"secondary_y": True}, {}]],
                        subplot_titles=("per keypoint", "per camera"))
    names = list(kps)
    fig.add_trace(go.Bar(x=names, y=[kps[k]["median_error_px"] for k in names],
                         name="median error (px)"), row=1, col=1)
    fig.add_trace(go.Scatter(x=names, y=[kps[k]["mean_cameras"] for k in names],
                             mode="markers", name="cameras used (mean)",
                             marker={"color": "black"}), row=1, col=1, secondary_y=True)
    fig.add_trace(go.Bar(x=list(cams), y=[cams[c]["median_error_px"] for c in cams],
                         name="camera median error (px)"), row=1, col=2)
    fig.update_layout(title="triangulation quality", height=420)
    fig.update_yaxes(title_text="px", row=1, col=1, secondary_y=False)
    # whole cameras from 0 on the right, without a grid of its own (its ticks would not
    # meet the error axis's grid lines)
    most = max([len(cams), *(kps[k]["mean_cameras"] or 0 for k in names)], default=2)
    fig.update_yaxes(title_text="cameras", row=1, col=1, secondary_y=True, showgrid=False,
                     range=[0, float(np.ceil(most)) + 0.3], dtick=1)
    return fig


def longest_gaps(points: FloatArray) -> NDArray[np.int64]:
    """Longest run of missing frames per keypoint (k,)."""
    missing = ~np.isfinite(points).all(axis=-1)
    out = np.zeros(missing.shape[1], np.int64)
    for j in range(missing.shape[1]):
        edges = np.diff(np.concatenate([[0], missing[:, j].astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        out[j] = int((stops - starts).max()) if len(starts) else 0
    return out


def error_heatmap(errors: FloatArray, keypoints: Sequence[str], fnum: Frames
                  ) -> go.Figure:
    """Reprojection error per keypoint and frame; gaps (no 3D) show blank. Values go into
    the page as 32-bit floats (:data:`PLOT_DTYPE`)."""
    fig = go.Figure(go.Heatmap(z=np.asarray(errors, PLOT_DTYPE).T,
                               x=np.asarray(fnum, np.int32), y=list(keypoints),
                               colorscale="Viridis",
                               colorbar={"title": "px"}, hoverongaps=False))
    fig.update_layout(title="reprojection error over time (blank = gap)", xaxis_title="frame",
                      height=max(300, 14 * len(keypoints) + 120))
    fig.update_yaxes(dtick=1, tickfont={"size": 10})  # every keypoint named
    return fig


def angle_lines(table: pd.DataFrame, truth: pd.DataFrame | None = None) -> go.Figure:
    """Every angle column over time; ground-truth angles dashed when given (32-bit floats
    in the page, :data:`PLOT_DTYPE`)."""
    fig = go.Figure()

    def values(frame: pd.DataFrame, col: str) -> NDArray[np.float32]:
        return frame[col].to_numpy(PLOT_DTYPE)

    for col in [c for c in table.columns if c not in ("fnum", "time")]:
        fig.add_trace(go.Scatter(x=values(table, "time"), y=values(table, col), mode="lines",
                                 name=col, legendgroup=col))
        if truth is not None and col in truth.columns and "time" in truth.columns:
            fig.add_trace(go.Scatter(x=values(truth, "time"), y=values(truth, col),
                                     mode="lines",
                                     name=f"{col} (truth)", legendgroup=col,
                                     line={"dash": "dot", "width": 1}))
    fig.update_layout(title="joint angles", xaxis_title="time (s)", yaxis_title="deg",
                      height=480)
    return fig


def top_view_png(group: CameraGroup, points: FloatArray | None, path: Path, units: str = ""
                 ) -> Path:
    """:func:`cameras_top_view` as a matplotlib PNG (for papers)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    up = up_axis(group)
    h, v = [a for a in range(3) if a != up]
    fig, ax = plt.subplots(figsize=(5, 5))
    centres = np.array([c.center for c in group])
    span = float(np.ptp(centres[:, [h, v]], axis=0).max() or 1.0)
    for cam in group:
        c, d = cam.center, cam.rotation[2]
        d = 0.25 * span * d / (np.linalg.norm(d[[h, v]]) or 1.0)
        ax.arrow(c[h], c[v], d[h], d[v], width=0.005 * span, length_includes_head=True)
        ax.annotate(cam.name, (c[h], c[v]), textcoords="offset points", xytext=(4, 4))
    if points is not None:
        with np.errstate(all="ignore"):
            trail = np.nanmean(points, axis=1)
        ax.plot(trail[:, h], trail[:, v], "k-", lw=1, label="subject")
        ax.legend(loc="best", fontsize=8)
    ax.set_aspect("equal")
    ax.set_xlabel(axis_title(h, units))
    ax.set_ylabel(axis_title(v, units))
    ax.set_title("cameras seen from above")
    fig.tight_layout()
    write_figure_atomic(fig, path, dpi=150)
    return path
