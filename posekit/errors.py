"""Error types raised by posekit.

Every error a user can trigger derives from :class:`PosekitError`; its message names the
file, key, camera or trial at fault and says what to do. The CLI turns these into a clean
message and a non-zero exit status; any other exception is a bug.
"""

from __future__ import annotations


class PosekitError(Exception):
    """Base class of every error caused by input, configuration or environment."""


class ConfigError(PosekitError):
    """A config file is unreadable, has an unknown key or a value of the wrong type."""


class ProjectError(PosekitError):
    """The project folder tree is not as expected (missing folders, unmatched videos)."""


class CalibrationError(PosekitError):
    """A calibration file is missing, malformed or inconsistent with a trial."""


class NotYetAvailableError(PosekitError):
    """A pipeline step that this version of posekit does not implement yet."""
