"""Render ``config_template.toml`` from the schema, so the template can never drift.

Every key is written with its default and its description as a comment; keys whose default
is unset are written commented out. Free-form tables (``[angles]``, ``[cameras]``,
``[sync.offsets]``) are shown with a commented example.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from posekit.config.schema import DEFAULT_ANGLES, Config
from posekit.io.tomlfile import to_toml

HEADER = """\
# posekit configuration.
#
# Put a config.toml in the project folder; a config.toml in a session folder (or any folder
# between the project and a session) overrides it for that folder, and a file
# config.<trial>.toml in a session folder overrides it for one trial.
# Keys and sections follow Anipose's config.toml, so an Anipose project's config works as is.
# Every key below is shown with its default value.
"""

def _angles_example() -> str:
    """The default ``[angles]`` table, live, then the other forms, commented."""
    lines = ["[angles]"]
    lines += [f"{name} = {json.dumps(kps)}" for name, kps in DEFAULT_ANGLES.items()]
    lines += [
        "# Anipose's other forms (docs/angles.md):",
        '# shank_about_thigh_left = ["axis", "left_hip", "left_knee", "left_ankle"]',
        '# arm_plane_left = ["cross-axis", "left_shoulder", "left_elbow", "left_wrist"]',
        '# arm = ["chain", "left_shoulder", "left_elbow", "left_wrist", "left_index"]',
    ]
    return "\n".join(lines)


EXAMPLES: dict[str, str] = {
    "angles": _angles_example(),
    "angle_conventions": '# [angle_conventions]\n# left_knee = "flexion"\n'
                         '# right_knee = "flexion"',
    "cameras": "# [cameras.camA]\n# offset = [0, 0, 1920, 1080]",
    "offsets": "# [sync.offsets]\n# camA = 0\n# camB = 12",
    "lengths": '# [triangulation.lengths]\n# "left_hip-left_knee" = 410.0',
}


def _value(key: str, value: Any) -> str:
    return to_toml({key: value}).strip()


def _field_lines(model: type[BaseModel], defaults: BaseModel) -> tuple[list[str], list[str]]:
    """Lines for the scalar keys of ``model`` and names of its sub-tables."""
    lines: list[str] = []
    tables: list[str] = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            tables.append(name)
            continue
        value = getattr(defaults, name)
        if isinstance(value, tuple):
            value = list(value)
        lines.append(f"# {field.description}" if field.description else "#")
        if isinstance(value, dict):
            tables.append(name)
            lines.pop()
        elif value is None:
            lines.append(f"# {name} = ...")
        else:
            lines.append(_value(name, value))
    return lines, tables


def _table(path: str, model: type[BaseModel], defaults: BaseModel) -> list[str]:
    doc = (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else ""
    out = ["", f"[{path}]"]
    if doc:
        out.insert(1, f"# {doc}")
    lines, tables = _field_lines(model, defaults)
    out.extend(lines)
    for name in tables:
        if name in EXAMPLES:
            desc = model.model_fields[name].description or ""
            out.extend(["", f"# {desc}", EXAMPLES[name]])
    return out


def render_template() -> str:
    """The full commented template as TOML text."""
    defaults = Config()
    lines, tables = _field_lines(Config, defaults)
    out = [HEADER.rstrip(), "", *lines]
    for name in tables:
        field = Config.model_fields[name]
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.extend(_table(name, ann, getattr(defaults, name)))
        else:
            out.extend(["", f"# [{name}]: {field.description}", EXAMPLES.get(name, "")])
    return "\n".join(out).rstrip() + "\n"
