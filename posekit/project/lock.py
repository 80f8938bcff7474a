"""One command at a time per trial: locks that keep two posekit runs off the same outputs.

Two commands working on the same trial would do the work twice and, worse, each clears the
temporary files that an interrupted run left beside its outputs, which may be the files the
other one is writing. So :func:`lock_units` takes an exclusive lock per unit (trial or
calibration folder) before a run starts, and a second command that wants any of them stops
at once with a message that names the units and the command holding them. Commands on
different trials of one project (one cluster job per session, say) do not wait for each
other.

The locks are operating-system file locks (``flock`` on Linux and macOS, ``msvcrt`` on
Windows) on small files in ``<project>/.posekit-locks/``: the system releases them as soon
as the process holding them ends, even when it is killed, so a lock is never left behind.
Each file holds a line about its last holder (process, host, command, start time) for the
message; the folder's own ``.gitignore`` keeps it out of a project under git. Where the
folder cannot be written or the file system has no locks, the run goes on unlocked (a debug
message says so). :func:`held_units` tells which units another command holds right now
(``posekit status`` lists them); it takes each free lock for an instant, so a command that
finds a lock taken tries again a few times over a fraction of a second before it stops.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from posekit.errors import PosekitError

log = logging.getLogger(__name__)

LOCK_FOLDER = ".posekit-locks"
#: how often, and how many seconds apart, a taken lock is tried again before a command
#: stops (``posekit status`` holds each free lock for an instant while it looks)
RETRIES, RETRY_WAIT = 3, 0.05


class ProjectBusy(PosekitError):
    """Units this command needs are held by another posekit command."""


def _try_lock(handle: IO[str]) -> bool:
    """Take the lock on ``handle`` without waiting; False when another process holds it."""
    try:
        if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
            import msvcrt

            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        else:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
            return False
        raise
    return True


def lock_path(root: Path, key: str) -> Path:
    """The lock file of unit ``key`` (``session/trial`` or a calibration folder's key)."""
    readable = re.sub(r"[^\w.-]+", "_", key).strip("_")[:60] or "project"
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return root / LOCK_FOLDER / f"{readable}-{digest}.lock"


def _make_folder(folder: Path) -> None:
    """The lock folder, with a ``.gitignore`` that keeps it out of a project under git."""
    folder.mkdir(exist_ok=True)
    ignore = folder / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# posekit's lock files (see docs/project.md)\n*\n", encoding="utf-8")


def _holder() -> str:
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
    return (f"process {os.getpid()} on {socket.gethostname()}, `{command[:120]}`, "
            f"since {time.strftime('%Y-%m-%d %H:%M:%S')}")


def _read_holder(handle: IO[str]) -> str:
    handle.seek(0)
    return handle.read().strip() or "a process that did not say which"


def held_units(root: Path, keys: Iterable[str]) -> dict[str, str]:
    """The units among ``keys`` of the project at ``root`` that another process holds
    right now, each with its holder (process, host, command, start time). Units without a
    lock file, and any lock that cannot be checked, count as free."""
    held: dict[str, str] = {}
    for key in sorted(set(keys)):
        path = lock_path(root, key)
        if not path.is_file():
            continue
        try:
            handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115
        except OSError:
            continue
        with handle:  # closing the file releases a lock taken here
            try:
                if not _try_lock(handle):
                    held[key] = _read_holder(handle)
            except OSError:
                continue
    return held


@contextlib.contextmanager
def lock_units(root: Path, keys: Iterable[str]) -> Iterator[None]:
    """Hold the locks of units ``keys`` of the project at ``root`` for the block. Raises
    :class:`ProjectBusy`, holding none, when another process holds any of them."""
    keys = sorted(set(keys))
    held: list[IO[str]] = []
    busy: dict[str, list[str]] = {}  # holder -> units
    try:
        _make_folder(root / LOCK_FOLDER)
    except OSError as exc:
        log.debug("no locks in %s (%s); running unlocked", root / LOCK_FOLDER, exc)
        keys = []
    try:
        for key in keys:
            try:
                handle: IO[str] = open(lock_path(root, key), "a+",  # noqa: SIM115
                                       encoding="utf-8")
            except OSError as exc:
                log.debug("no lock for %s (%s); running unlocked", key, exc)
                continue
            try:
                taken = _try_lock(handle)
                for _ in range(RETRIES if not taken else 0):
                    time.sleep(RETRY_WAIT)
                    if taken := _try_lock(handle):
                        break
            except OSError as exc:  # a file system without locks
                log.debug("no lock for %s (%s); running unlocked", key, exc)
                handle.close()
                continue
            if not taken:
                holder = _read_holder(handle)
                handle.close()
                busy.setdefault(holder, []).append(key)
                continue
            handle.seek(0)
            handle.truncate()
            handle.write(_holder() + "\n")
            handle.flush()
            held.append(handle)
        if busy:
            who = "; ".join(f"{', '.join(units)} by {holder}" for holder, units in busy.items())
            raise ProjectBusy(
                f"another posekit command is working on the same trials: {who}. Wait for "
                "it to end, or leave these out (--session, --trial); its locks go as soon "
                "as it ends, even if it is killed")
        yield
    finally:
        for file in held:
            file.close()  # closing the file releases its lock
