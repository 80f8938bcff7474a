"""``posekit init``: a new project folder with the commented config template."""

from __future__ import annotations

import os
from pathlib import Path

from posekit.config.template import render_template
from posekit.errors import ProjectError
from posekit.io.atomic import write_text_atomic
from posekit.project.layout import CONFIG_NAME


def init_project(directory: str | os.PathLike[str]) -> Path:
    """Create ``directory`` (if needed) with a ``config.toml``; never overwrites one."""
    path = Path(directory)
    config = path / CONFIG_NAME
    if config.exists():
        raise ProjectError(f"{config}: already exists; not overwritten")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProjectError(f"{path}: cannot create the project folder ({exc.strerror})") from None
    text = render_template().replace("# project = ...", f'project = "{path.resolve().name}"', 1)
    return write_text_atomic(config, text)
