"""Camera and camera-group models, and the Anipose ``calibration.toml`` format."""

from posekit.camera.model import Camera, CameraGroup
from posekit.camera.toml_io import load_calibration, save_calibration

__all__ = ["Camera", "CameraGroup", "load_calibration", "save_calibration"]
