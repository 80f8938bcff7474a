"""Angle definitions: the config's ``[angles]`` table (Anipose's format) parsed and checked.

Each entry of ``[angles]`` is ``name = [...]`` in one of Anipose's four forms (what each
computes: :mod:`posekit.angles.compute` and ``docs/angles.md``):

- ``name = [a, b, c]``: the inner angle at ``b`` between b→a and b→c (column ``name``);
  ``["flex", a, b, c]`` is the same, spelled out;
- ``name = ["axis", a, b, c]``: rotation of the segment c→b about the axis b→a (``name``);
- ``name = ["cross-axis", a, b, c]``: direction of a→c in the plane of a, b, c (``name``);
- ``name = ["chain", k0, k1, ..., kn]``: flexion / rotation / abduction at each joint of a
  chain of keypoints (columns ``<k>_flex``, ``<k>_rot``, ``<k>_abduct``; ``name`` itself is
  not a column); a keypoint written ``"k/"`` flips the sign of the flexion at ``k``.

``[angle_conventions]`` (posekit's own table, so ``[angles]`` stays Anipose's) sets a
three-point angle to ``"flexion"`` = 180° − the inner angle (0° = straight).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Literal, cast

from posekit.config.loader import key_source
from posekit.config.schema import DEFAULT_ANGLES, Config
from posekit.errors import ConfigError

AngleKind = Literal["flex", "axis", "cross-axis", "chain"]
Convention = Literal["inner", "flexion"]
KEYWORDS: tuple[str, ...] = ("flex", "axis", "cross-axis", "chain")

FORMS_HELP = ('use [a, b, c] (angle at b), ["axis", a, b, c], ["cross-axis", a, b, c] '
              'or ["chain", k1, k2, ...]')


@dataclass(frozen=True)
class AngleDefinition:
    """One ``[angles]`` entry.

    ``keypoints``: the keypoints it uses, in order (without the chain's ``/`` marks);
    ``flip``: per keypoint, True where a chain entry ends in ``/`` (all False otherwise);
    ``convention``: ``"inner"`` or ``"flexion"`` (three-point angles only).
    """

    name: str
    kind: AngleKind
    keypoints: tuple[str, ...]
    flip: tuple[bool, ...]
    convention: Convention = "inner"

    @property
    def columns(self) -> list[str]:
        """Output column names, in Anipose's order."""
        if self.kind != "chain":
            return [self.name]
        kps = self.keypoints
        n_joints = len(kps) - 1  # one per segment, named by the segment's first keypoint
        out: list[str] = []
        for i in range(n_joints):
            out.append(f"{kps[i]}_flex")
            if i != n_joints - 1:
                out.append(f"{kps[i]}_rot")
            if i == 0:
                out.append(f"{kps[i]}_abduct")
        return out

    @property
    def wraps(self) -> bool:
        """True when the values are directions on a circle (-180°, 180°] rather than an
        angle in [0°, 180°]: ``axis``, ``cross-axis`` and the chain's columns."""
        return self.kind != "flex"


def _where(source: str) -> str:
    return f"{source}: " if source else ""


def parse_definition(name: str, entry: Sequence[str], source: str = "") -> AngleDefinition:
    """One ``[angles]`` entry → :class:`AngleDefinition`; ConfigError when malformed."""
    at = f"{_where(source)}[angles] {name}"
    if isinstance(entry, str) or not all(isinstance(e, str) for e in entry):
        raise ConfigError(f"{at}: expected a list of keypoint names, got {entry!r}; "
                          f"{FORMS_HELP}")
    items = [e.strip() for e in entry]
    head = items[0] if items else ""
    if head == "chain":
        raw = items[1:]
        if len(raw) < 2:
            raise ConfigError(f"{at}: a chain needs at least 2 keypoints, got {raw}")
        flip = tuple(k.endswith("/") for k in raw)
        kps = tuple(k[:-1] if k.endswith("/") else k for k in raw)
        kind: AngleKind = "chain"
    elif head in ("flex", "axis", "cross-axis"):
        kps, flip, kind = tuple(items[1:]), (False,) * (len(items) - 1), cast(AngleKind, head)
        if len(kps) != 3:
            raise ConfigError(f"{at}: {head!r} takes exactly 3 keypoints, got "
                              f"{len(kps)} ({list(kps)})")
    elif len(items) == 3:
        kps, flip, kind = tuple(items), (False,) * 3, "flex"
    else:
        raise ConfigError(f"{at}: cannot read {list(entry)}: {FORMS_HELP}")
    if any(not k for k in kps):
        raise ConfigError(f"{at}: empty keypoint name in {list(entry)}")
    if kind != "chain" and len(set(kps)) != 3:
        raise ConfigError(f"{at}: the three keypoints must differ, got {list(kps)}")
    if kind == "chain" and any(a == b for a, b in pairwise(kps)):
        raise ConfigError(f"{at}: a chain cannot repeat a keypoint in a row ({list(kps)})")
    return AngleDefinition(name, kind, kps, flip)


def parse_angles(
    angles: Mapping[str, Sequence[str]],
    conventions: Mapping[str, str] | None = None,
    source: str = "",
) -> list[AngleDefinition]:
    """Every entry of ``[angles]`` (in order) with its ``[angle_conventions]`` applied.

    ConfigError names the angle at fault: a malformed entry, a convention for an angle
    that is not defined or not a three-point angle, or two angles writing the same column.
    """
    defs = [parse_definition(name, entry, source) for name, entry in angles.items()]
    by_name = {d.name: d for d in defs}
    for name, conv in (conventions or {}).items():
        if conv not in ("inner", "flexion"):
            raise ConfigError(f"{_where(source)}[angle_conventions] {name}: "
                              f'"inner" or "flexion", got {conv!r}')
        target = by_name.get(name)
        if target is None:
            raise ConfigError(f"{_where(source)}[angle_conventions] {name}: no angle of "
                              f"that name in [angles] (defined: {', '.join(by_name) or 'none'})")
        if target.kind != "flex":
            raise ConfigError(f"{_where(source)}[angle_conventions] {name}: conventions "
                              f"apply to three-point angles only, and {name} is a "
                              f"{target.kind!r} angle")
    out = [AngleDefinition(d.name, d.kind, d.keypoints, d.flip,
                           "flexion" if (conventions or {}).get(d.name) == "flexion"
                           else "inner") for d in defs]
    seen: dict[str, str] = {}
    for d in out:
        for col in d.columns:
            if col in seen or col in ("fnum", "time"):
                other = seen.get(col, "the frame columns")
                raise ConfigError(f"{_where(source)}[angles] {d.name}: writes column {col!r}, "
                                  f"as {other} does; rename one of them")
            seen[col] = d.name
    return out


def is_default(definition: AngleDefinition) -> bool:
    """True for an entry of posekit's default MediaPipe set, unchanged."""
    default = DEFAULT_ANGLES.get(definition.name)
    return default is not None and definition.kind == "flex" \
        and list(definition.keypoints) == list(default)


def _did_you_mean(name: str, keypoints: Sequence[str]) -> str:
    close = [k for k in keypoints if k.lower() == name.lower()]
    close = close or difflib.get_close_matches(name, list(keypoints), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: keypoints of other skeletons that stand in for a MediaPipe keypoint missing from the 3D
#: in posekit's *default* angles: OpenPose's BODY_25 and BODY_25B and HALPE-26 mark the big
#: toe where MediaPipe marks the foot's tip (``foot_index``), so their default ankle angle is
#: knee, ankle, big toe
STAND_INS: dict[str, str] = {f"{side}_foot_index": f"{side}_big_toe"
                             for side in ("left", "right")}


def angles_for(
    config: Config,
    keypoints: Sequence[str],
    source: str = "",
    config_files: Sequence[str | os.PathLike[str]] | None = None,
) -> tuple[list[AngleDefinition], list[AngleDefinition]]:
    """The definitions of ``config`` that ``keypoints`` (a 3D file's) can compute, and the
    default ones skipped because that file lacks their keypoints.

    posekit's default MediaPipe definitions use a :data:`STAND_INS` keypoint in place of
    a missing one where the 3D has it, and are skipped when keypoints are still missing
    (the 3D may come from another skeleton); any other definition naming a missing
    keypoint is a ConfigError naming the angle, the keypoint, the closest keypoint names
    and the keypoints available. With ``config_files`` (the cascade ``config`` was loaded
    from), the error names the file that defines the angle rather than ``source``.
    """
    defs = parse_angles(config.angles, config.angle_conventions, source)
    available = set(keypoints)
    usable: list[AngleDefinition] = []
    skipped: list[AngleDefinition] = []
    for d in defs:
        missing = [k for k in d.keypoints if k not in available]
        if not missing:
            usable.append(d)
        elif is_default(d):
            stand_in = tuple(STAND_INS.get(k, k) if k in missing else k for k in d.keypoints)
            if all(k in available for k in stand_in):
                usable.append(replace(d, keypoints=stand_in))
            else:
                skipped.append(d)
        else:
            where = (key_source(config_files, ("angles", d.name)) if config_files else None)
            raise ConfigError(
                f"{_where(where or source)}[angles] {d.name}: keypoint {missing[0]!r} is not "
                f"in the 3D data; available keypoints: {', '.join(keypoints)}; correct the "
                f"name in [angles]{_did_you_mean(missing[0], keypoints)}")
    return usable, skipped
