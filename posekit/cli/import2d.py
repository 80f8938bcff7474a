"""``posekit import-2d``: convert 2D keypoints from another tool to a DeepLabCut file."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import click

from posekit.cli.common import domain_errors, project_config, project_option


def namesake_video(output: Path, config: Any) -> Path | None:
    """The video OUTPUT is named after: ``<session>/<videos_raw>/<OUTPUT's stem>.<ext>``
    when OUTPUT is in the session's ``[pipeline] pose_2d`` folder; None otherwise."""
    from posekit.project.layout import video_extensions

    if output.parent.name != config.pipeline.pose_2d:
        return None
    folder = output.parent.parent / config.pipeline.videos_raw
    exts = video_extensions(config)  # matched as the trials' videos are: any case
    return next((path for path in sorted(folder.glob(f"{glob.escape(output.stem)}.*"))
                 if path.suffix.lstrip(".").lower() in exts and path.is_file()), None)


def attach_frame_times(pose: Any, source: Path, video: Path) -> None:
    """Store ``video``'s frame times and capture rate with the imported ``pose`` (read
    from ``source``); an error when the frame counts differ."""
    from posekit.errors import PosekitError
    from posekit.io.video import probe_video, read_frame_times
    from posekit.pose2d.step import capture_rate

    times = read_frame_times(video)
    if len(times) != pose.n_frames:
        raise PosekitError(
            f"{source}: {pose.n_frames} frames of 2D keypoints, but {video} has {len(times)} "
            "frames: the 2D was not made from this video (or the tool skipped frames); "
            "give the video it was made from with --video, or re-run the other tool on "
            "this video")
    pose.frame_times = times
    pose.metadata["fps"] = capture_rate(times, probe_video(video).fps)
    pose.metadata["video"] = video.name


def _person(value: str) -> str | int:
    if value == "best":
        return value
    try:
        index = int(value)
    except ValueError:
        raise click.BadParameter(f"'best' or a person index >= 0 (got {value!r})") from None
    if index < 0:
        raise click.BadParameter(f"'best' or a person index >= 0 (got {value!r})")
    return index


@click.command(name="import-2d")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["auto", "openpose", "sleap", "dlc"]),
              default="auto", show_default=True,
              help="Source format; auto: a folder is OpenPose JSON, an .h5 with a 'tracks' "
              "dataset is SLEAP, other .h5/.csv are DeepLabCut.")
@click.option("--skeleton", default=None,
              help="Keypoint names: body25 (OpenPose default), body25b, coco17, halpe26, "
              "mediapipe33, or a [skeletons.<name>] of the project's config.toml. OpenPose "
              "default: body25; SLEAP/DLC: keep the file's names unless given.")
@click.option("--person", default="best", show_default=True,
              help="OpenPose: 'best' follows one person from frame to frame; a number takes "
              "that person index in every frame.")
@click.option("--track", default="0", show_default=True,
              help="SLEAP: track index or track name.")
@click.option("--video", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None,
              help="The video the 2D was made from: its frame times and rate are stored "
              "with the 2D (dropped frames and cameras at other rates are then placed by "
              "time) and its frame count checked. Default: OUTPUT's namesake in the "
              "session's raw-videos folder, when there is one.")
@project_option
def import_2d(source: Path, output: Path, fmt: str, skeleton: str | None, person: str,
              track: str, video: Path | None, project_dir: Path) -> None:
    """Convert SOURCE (OpenPose JSON folder, SLEAP analysis .h5, DeepLabCut .h5/.csv) to
    OUTPUT, a DeepLabCut-format .h5 or .csv that posekit and Anipose read.

    Put OUTPUT in a session's pose-2d folder, named after the video (e.g.
    pose-2d/walk-camA.h5), to use it in place of detection; the video's frame times are
    then stored with it.
    """
    from posekit.io.atomic import mark_complete
    from posekit.pose2d.importers import import_2d as run_import
    from posekit.pose2d.table import write_pose2d
    from posekit.skeletons import Skeleton, get_skeleton

    if output.suffix.lower() not in (".h5", ".csv"):
        raise click.BadParameter("must end in .h5 or .csv", param_hint="OUTPUT")
    person_arg = _person(person)
    track_arg: int | str = int(track) if track.lstrip("-").isdigit() else track
    with domain_errors():
        config = project_config(project_dir)
        skel: Skeleton | None = None
        if skeleton is not None:
            skel = get_skeleton(skeleton, dict(config.skeletons))
        pose = run_import(source, format=fmt, skeleton=skel, person=person_arg,
                          track=track_arg)
        video = video or namesake_video(output, config)
        if video is not None:
            attach_frame_times(pose, source, video)
        write_pose2d(pose, output)
        mark_complete([output])  # a marker a killed detect left no longer applies
    n = pose.n_frames
    detected = int(pose.detected().sum())
    rate = 100.0 * detected / n if n else 0.0
    found = float((pose.likelihood > 0).mean()) * 100 if n else 0.0
    fmt_used = pose.metadata.get("format", fmt)
    click.echo(f"Wrote {output} ({fmt_used}, scorer {pose.scorer}): {n} frames, "
               f"{len(pose.keypoints)} keypoints.")
    click.echo(f"Detected in {detected}/{n} frames ({rate:.1f} %); "
               f"{found:.1f} % of all keypoints found.")
    if video is not None:
        click.echo(f"Frame times from {video} ({pose.metadata['fps']:g} fps).")
