"""posekit: markerless multi-camera human motion capture."""

__version__ = "0.1.0"
