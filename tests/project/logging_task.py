"""A task that only logs, one record per level (imported by name in worker processes)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("posekit.sync.step")


def log_levels(unit: Any, overwrite: bool = False) -> None:
    log.debug("%s: a debug record", unit)
    log.info("%s: an info record", unit)
    log.warning("%s: a warning record", unit)


def log_then_crash(unit: Any, overwrite: bool = False) -> None:
    log.warning("%s: a warning record before the crash", unit)
    raise RuntimeError("an unexpected crash")


class Unit:
    """A stand-in for a trial: its key names it in task labels and in the records."""

    key = "s1/t"

    def __str__(self) -> str:
        return self.key


def die(unit: Any, overwrite: bool = False) -> None:
    """Kill this worker process (SIGKILL: nothing can clean up)."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
