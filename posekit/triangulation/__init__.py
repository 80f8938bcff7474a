"""Triangulation of 2D keypoints seen by calibrated cameras."""
