"""The project folder tree: sessions, trials, cameras, calibration and output paths.

Anipose's conventions, unchanged:

- ``config.toml`` at the project root; sessions are the folders ``nesting`` levels below it
  (``nesting = 0``: the project folder is the only session; ``-1``: every folder that has a
  raw-videos folder, at any depth).
- Raw videos of a session sit in ``<session>/videos-raw/``. The camera is the first group of
  ``[triangulation] cam_regex`` matched on the file name without extension, and the trial
  name is the file name with that match removed, so one folder may hold many trials.
- The calibration folder is searched from the session upward to the project root.
- Outputs go into folders named as Anipose names them (renamable under ``[pipeline]``).

posekit adds a configuration cascade: a ``config.toml`` in any folder between the project
and a session overrides the one above it, and ``<session>/config.<trial>.toml`` overrides it
for one trial.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from posekit.config import Config, load_config
from posekit.errors import ConfigError, ProjectError

log = logging.getLogger(__name__)

CONFIG_NAME = "config.toml"
AUTO_VIDEO_EXTENSIONS = ("mp4", "avi", "mov", "mkv", "webm", "mpg", "mpeg", "m4v")


def nfc(text: str) -> str:
    """``text`` in Unicode normal form C: a name typed on one system and the same name
    read from a disk written by another (macOS writes decomposed accents) compare equal."""
    return unicodedata.normalize("NFC", text)


def natural_key(text: str) -> list[int | str]:
    """Sort key that orders embedded numbers by value: ``cam2`` before ``cam10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def video_extensions(config: Config) -> tuple[str, ...]:
    """Lower-case extensions (no dot) accepted as videos under ``config``."""
    ext = config.video_extension.strip().lstrip(".").lower()
    return AUTO_VIDEO_EXTENSIONS if ext in ("", "auto") else (ext,)


def split_camera(stem: str, cam_regex: str) -> tuple[str, str] | None:
    """``(trial, camera)`` of a video file stem, or None when ``cam_regex`` does not match."""
    try:
        pattern = re.compile(cam_regex)
    except re.error as exc:
        raise ConfigError(
            f"[triangulation] cam_regex: invalid regular expression ({exc})"
        ) from None
    match = pattern.search(stem)
    if match is None:
        return None
    if not match.groups():
        raise ConfigError(
            f"[triangulation] cam_regex {cam_regex!r} has no group: put the camera name in "
            "parentheses, e.g. '-cam([A-Z])$'"
        )
    camera = (match.group(1) or "").strip()
    trial = (stem[: match.start()] + stem[match.end():]).strip()
    return trial, camera


@dataclass(frozen=True)
class Trial:
    """One trial: the videos of one take, one per camera, in a session."""

    session: Session
    name: str
    videos: dict[str, Path]  # camera name -> raw video, in natural camera order

    @property
    def cameras(self) -> list[str]:
        return list(self.videos)

    @property
    def key(self) -> str:
        """``session/trial`` label used in messages and filters."""
        return f"{self.session.key}/{self.name}" if self.session.key else self.name

    @property
    def config_path(self) -> Path:
        """Per-trial override file (may not exist); its name may be in either Unicode
        form of the trial name."""
        path = self.session.path / f"config.{self.name}.toml"
        if path.is_file() or not self.session.path.is_dir():
            return path
        for other in self.session.path.iterdir():
            if nfc(other.name) == nfc(path.name) and other.is_file():
                return other
        return path

    @property
    def config_files(self) -> list[Path]:
        files = list(self.session.config_files)
        if self.config_path.is_file():
            files.append(self.config_path)
        return files

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_files)

    def output_dir(self, step_folder: str) -> Path:
        return self.session.path / step_folder


#: How deep below the project root calibration folders are looked for when ``nesting`` is
#: negative (sessions at any depth).
MAX_CALIBRATION_DEPTH = 8


@dataclass(frozen=True)
class Session:
    """A session folder holding a raw-videos folder."""

    project: Project
    path: Path
    parts: tuple[str, ...]  # folder names from the project root down to this session
    config_files: tuple[Path, ...] = field(default=())

    @property
    def key(self) -> str:
        return "/".join(self.parts)

    @cached_property
    def config(self) -> Config:
        return load_config(list(self.config_files))

    @property
    def videos_dir(self) -> Path:
        return self.path / self.config.pipeline.videos_raw

    def calibration_folder(self) -> Path | None:
        """Nearest folder at or above the session that holds the calibration folder."""
        name = self.config.pipeline.calibration_videos
        cur = self.path
        while True:
            if (cur / name).is_dir():
                return cur
            if cur == self.project.root or self.project.root not in cur.parents:
                return None
            cur = cur.parent

    def trials(self) -> list[Trial]:
        """Trials found in the session's raw-videos folder, in natural name order.

        Hidden files (``.name``, such as the ``._name.mp4`` files macOS leaves on
        external drives) are ignored. Anything else named like a video counts, even a
        folder or a link to a missing file, so that the step that reads it fails with a
        message naming it instead of the camera silently dropping out of the trial.
        Trial and camera names are compared in Unicode normal form C."""
        folder = self.videos_dir
        if not folder.is_dir():
            return []
        exts = video_extensions(self.config)
        regex = self.config.triangulation.cam_regex
        grouped: dict[str, dict[str, Path]] = {}
        for path in sorted(folder.iterdir(), key=lambda p: natural_key(p.name)):
            if path.name.startswith(".") or path.suffix.lstrip(".").lower() not in exts:
                continue
            split = split_camera(nfc(path.stem), regex)
            if split is None:
                log.warning(
                    "%s: no camera name found by cam_regex %r; file ignored", path, regex
                )
                continue
            trial, cam = split
            if not path.is_file():
                what = ("a folder" if path.is_dir() else f"a link to {os.readlink(path)}, "
                        "which does not exist" if path.is_symlink() else "not a file")
                log.warning("%s: named like a video of camera %s but is %s; the steps that "
                            "read it will fail until it is a video file", path, cam, what)
            if cam in grouped.setdefault(trial, {}):
                raise ProjectError(
                    f"{folder}: trial {trial!r} has two videos for camera {cam!r}: "
                    f"{grouped[trial][cam].name} and {path.name}"
                )
            grouped[trial][cam] = path
        return [
            Trial(self, name, dict(sorted(cams.items(), key=lambda kv: natural_key(kv[0]))))
            for name, cams in sorted(grouped.items(), key=lambda kv: natural_key(kv[0]))
        ]


@dataclass(frozen=True)
class Project:
    """A posekit (or Anipose) project rooted at the folder holding ``config.toml``."""

    root: Path

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> Project:
        path = Path(root).expanduser().resolve()
        if not path.is_dir():
            raise ProjectError(f"{path}: project folder not found")
        if not (path / CONFIG_NAME).is_file():
            raise ProjectError(
                f"{path}: no {CONFIG_NAME} here, so this is not a posekit project; run "
                f"`posekit init {root}` to create one, or pass --project DIR"
            )
        return cls(path)

    @cached_property
    def config(self) -> Config:
        return load_config([self.root / CONFIG_NAME])

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` as written in output files: relative to the project root (``/``
        separators), so that the files stay the same when the project is moved or copied;
        the absolute path for a file outside the project, and anything not absolute (a
        relative path, or a description such as "[sync] offsets in config.toml") as it
        is."""
        path = Path(path)
        if not path.is_absolute():
            return str(path)
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def configs_down_to(self, parts: tuple[str, ...]) -> tuple[Path, ...]:
        """config.toml files from the project root down through the folders ``parts``."""
        files = [self.root / CONFIG_NAME]
        cur = self.root
        for part in parts:
            cur = cur / part
            if (cur / CONFIG_NAME).is_file():
                files.append(cur / CONFIG_NAME)
        return tuple(files)

    def _session(self, parts: tuple[str, ...]) -> Session:
        return Session(self, self.root.joinpath(*parts), parts, self.configs_down_to(parts))

    def _subfolders(self, path: Path) -> Iterator[Path]:
        for child in sorted(path.iterdir(), key=lambda p: natural_key(p.name)):
            if child.is_dir() and not child.name.startswith("."):
                yield child

    def sessions(self) -> list[Session]:
        """Session folders under the project, following ``nesting``."""
        nesting = self.config.nesting
        if nesting == 0:
            return [self._session(())]
        found: list[Session] = []
        videos_raw = self.config.pipeline.videos_raw

        def walk(path: Path, parts: tuple[str, ...]) -> None:
            for child in self._subfolders(path):
                sub = (*parts, child.name)
                if nesting < 0:
                    session = self._session(sub)
                    if session.videos_dir.is_dir():
                        found.append(session)
                    elif child.name != videos_raw:
                        walk(child, sub)
                elif len(sub) == nesting:
                    found.append(self._session(sub))
                else:
                    walk(child, sub)

        walk(self.root, ())
        return [s for s in found if s.videos_dir.is_dir()]

    def calibration_owners(self, session: str | None = None) -> list[Path]:
        """Every folder that holds a calibration folder (``[pipeline]
        calibration_videos``), whether or not trials sit below it yet: the project root
        and the folders down to the session level (``nesting``; any depth up to
        :data:`MAX_CALIBRATION_DEPTH` when negative), in natural order. With ``session``
        (a pattern as in :meth:`trials`), only the folders whose path from the root it
        matches. Lets a calibration be made and checked before any trial is filmed."""
        pipeline = self.config.pipeline
        name = pipeline.calibration_videos
        skip = {name, pipeline.videos_raw}
        depth = self.config.nesting if self.config.nesting >= 0 else MAX_CALIBRATION_DEPTH
        found: list[Path] = []

        def walk(path: Path, parts: tuple[str, ...]) -> None:
            key = "/".join(parts)
            if (path / name).is_dir() and (session is None or (parts and _matches(key, session))):
                found.append(path)
            if len(parts) < depth:
                for child in self._subfolders(path):
                    if child.name not in skip:
                        walk(child, (*parts, child.name))

        walk(self.root, ())
        return found

    def trials(self, session: str | None = None, trial: str | None = None) -> list[Trial]:
        """Every trial, optionally filtered by shell-style patterns on session and trial
        (a name that is matched exactly counts too, so ``day [1]`` selects the session
        ``day [1]``; names compare in Unicode normal form C)."""
        out = []
        for sess in self.sessions():
            if session is not None and not _matches(sess.key, session):
                continue
            for tr in sess.trials():
                if trial is None or _matches(tr.name, trial):
                    out.append(tr)
        return out


def _matches(name: str, pattern: str) -> bool:
    """Whether ``name`` is ``pattern`` or matches it as a shell-style pattern."""
    from fnmatch import fnmatchcase

    name, pattern = nfc(name), nfc(pattern)
    return name == pattern or fnmatchcase(name, pattern)
