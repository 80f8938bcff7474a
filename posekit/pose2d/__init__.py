"""2D keypoints: the in-memory table, DeepLabCut-format files, detectors and importers."""

from posekit.pose2d.table import Pose2D, read_pose2d, write_pose2d

__all__ = ["Pose2D", "read_pose2d", "write_pose2d"]
