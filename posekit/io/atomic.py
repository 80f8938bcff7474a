"""Atomic file writing: an interrupted run never leaves a half-written output.

Outputs are written to a temporary file ``.<stem>.<random>.partial<suffix>`` in the
destination folder, flushed to the disk, and moved into place with :func:`os.replace`,
which is atomic on POSIX and Windows when source and target share a filesystem. A process
killed mid-write (SIGKILL, power cut) leaves at most such a temporary file, never a
truncated output; :func:`remove_partials` deletes the leftovers, and the pipeline runner
calls it after every step.

A step with several outputs may be killed *between* two of them. While a step works on a
unit, :func:`writing_outputs` keeps an empty marker ``.<name>.incomplete`` beside each of
the unit's declared outputs and removes it only when the step has returned (or, when it
failed, beside the outputs it did not touch); an output with a marker beside it is never
up to date (:func:`marked_incomplete`), so the next run redoes the unit.

A write that fails because the disk is full, the file is too large or the folder is not
writable raises :class:`WriteError`, whose message names the file and says what to do.
Some writers (HDF5 through PyTables, OpenCV's video writer) do not report every failed
write; a temporary file that ends at the process's file size limit, or that was written
while the disk filled up, is therefore treated as failed too rather than moved into place.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from posekit.errors import PosekitError

#: ``atomic_path``'s temporary names: ``.<stem>.<random>.partial<suffix>``
PARTIAL = re.compile(r"^\.(?P<stem>.+)\.[A-Za-z0-9_]+\.partial(\.[^.]+)?$")
#: The suffix of the markers of outputs whose step has not finished.
INCOMPLETE = ".incomplete"
#: Below this many free bytes a filesystem counts as full (see the module docstring).
FULL_DISK_BYTES = 64 * 1024

_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_NOT_WRITABLE = {errno.EACCES, errno.EPERM, errno.EROFS}
#: errnos that mean "this file cannot be written here", whatever wrote it
WRITE_ERRNOS = frozenset({*_NO_SPACE, *_NOT_WRITABLE, errno.EFBIG, errno.EIO})


class WriteError(PosekitError):
    """An output could not be written: full disk, file size limit, read-only folder."""


def write_error_message(path: str | os.PathLike[str], exc: BaseException | None = None,
                        code: int | None = None) -> str:
    """What went wrong writing ``path`` and what to do about it (``code``: an errno, by
    default ``exc``'s)."""
    path = Path(path)
    if code is None and isinstance(exc, OSError):
        code = exc.errno
    detail = os.strerror(code) if code is not None else f"{type(exc).__name__}: {exc}"
    folder = path.parent
    while not folder.exists() and folder.parent != folder:  # where it would be created
        folder = folder.parent
    if code in _NO_SPACE:
        advice = (f"the disk holding {folder} is full (or your quota is used up); "
                  "free some space, then run the command again")
    elif code == errno.EFBIG:
        advice = ("the file is larger than this system lets a process write (see `ulimit "
                  "-f`) or than the filesystem allows; raise the limit or write the outputs "
                  "to another disk, then run the command again")
    elif code == errno.EROFS:
        advice = (f"{folder} is on a read-only filesystem; copy the project to a "
                  "writable disk (or remount it read-write), then run the command again")
    elif code in _NOT_WRITABLE:
        advice = (f"the folder {folder} (or the file) is not writable for you; fix "
                  f"its permissions (`ls -ld {folder}`; `lsattr -d` shows an immutable "
                  "flag), then run the command again")
    else:
        advice = "check the disk, then run the command again"
    return f"cannot write {path}: {detail}; {advice}"


def _limit_reached(tmp: Path) -> int | None:
    """An errno when writing ``tmp`` has most likely failed unnoticed: ``EFBIG`` when it
    ends at the process's file size limit, ``ENOSPC`` when its filesystem is full."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        if soft != resource.RLIM_INFINITY and tmp.stat().st_size >= soft:
            return errno.EFBIG
    except (ImportError, OSError, ValueError):
        pass
    with contextlib.suppress(OSError, AttributeError):
        fs = os.statvfs(tmp.parent)
        free = fs.f_bfree if os.geteuid() == 0 else fs.f_bavail  # root may use the reserve
        if free * fs.f_frsize < FULL_DISK_BYTES:
            return errno.ENOSPC
    return None


def _fsync(path: Path) -> None:
    """Flush ``path``'s data to the disk (a crash after the rename then never shows an
    empty file)."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.fsync(fd)
    except OSError as exc:  # a filesystem without fsync: nothing more can be done
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success rename it onto ``target``.

    The temporary file keeps ``target``'s suffix so that writers choosing a format by
    extension (OpenCV, pandas) behave the same. On any exception the temporary file is
    removed and ``target`` is left as it was. A full disk, a file size limit or a folder
    that is not writable raise :class:`WriteError` (module docstring).
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=target.parent
        )
    except OSError as exc:
        raise WriteError(write_error_message(target, exc)) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; outputs get the usual mode
        try:
            yield tmp
        except (PosekitError, KeyboardInterrupt, SystemExit, GeneratorExit):
            raise
        except OSError as exc:
            if exc.errno in WRITE_ERRNOS and exc.filename in (None, str(tmp), tmp):
                raise WriteError(write_error_message(target, exc)) from exc
            raise
        except Exception as exc:  # a writer's own error type may hide a failed write
            code = _limit_reached(tmp)
            if code is not None:
                raise WriteError(write_error_message(target, exc, code)) from exc
            raise
        code = _limit_reached(tmp)
        if code is not None:
            raise WriteError(write_error_message(target, code=code))
        try:
            _fsync(tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise WriteError(write_error_message(target, exc)) from None
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_text_atomic(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically and return the path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_figure_atomic(fig: Any, target: str | os.PathLike[str], dpi: int = 100) -> Path:
    """Save a matplotlib figure as PNG to ``target`` atomically, close it, and return the
    path. The PNG holds no date, so the same figure gives the same bytes."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=dpi, format="png")
    finally:
        plt.close(fig)
    return Path(target)


def remove_partials(folder: Path, stems: Iterable[str] | None = None) -> list[Path]:
    """Delete the temporary files of interrupted writes in ``folder``: those of outputs
    named ``<stem>.*`` or ``<stem>.<more>.*`` for one of ``stems`` (None: of any output).
    Returns the deleted paths. Only call it when nothing is writing these outputs."""
    wanted = None if stems is None else tuple(stems)
    removed: list[Path] = []
    with contextlib.suppress(FileNotFoundError, NotADirectoryError):
        for entry in os.scandir(folder):
            match = PARTIAL.match(entry.name)
            if match is None:
                continue
            stem = match["stem"]
            if wanted is not None and not any(stem == s or stem.startswith(s + ".")
                                              for s in wanted):
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def incomplete_marker(output: Path) -> Path:
    """The marker that says ``output``'s step has not finished: ``.<name>.incomplete``."""
    return output.with_name(f".{output.name}{INCOMPLETE}")


def marked_incomplete(output: Path) -> bool:
    """Whether the step that writes ``output`` started and has not finished."""
    return incomplete_marker(output).exists()


def mark_complete(outputs: Iterable[Path]) -> None:
    """Remove the markers of ``outputs`` (their step finished, or a complete file was put
    there by other means, e.g. an import)."""
    for output in outputs:
        with contextlib.suppress(FileNotFoundError):
            incomplete_marker(output).unlink()


def mark_incomplete(outputs: Iterable[Path]) -> None:
    """Put a marker beside each of ``outputs`` (creating their folders): until
    :func:`mark_complete`, they are not up to date. Raises :class:`WriteError` when a
    folder is not writable."""
    for output in outputs:
        marker = incomplete_marker(output)
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError as exc:
            raise WriteError(write_error_message(output, exc)) from None


def _file_state(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is written or replaced (None: no file)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


FileStates = dict[Path, "tuple[int, int, int] | None"]


def mark_for_writing(outputs: Iterable[Path]) -> FileStates:
    """:func:`mark_incomplete` ``outputs``; returns the state of each output whose marker
    this call put there (not those already marked by an earlier, unfinished run), for
    :func:`unmark_untouched`."""
    paths = list(outputs)
    ours = {p: _file_state(p) for p in paths if not marked_incomplete(p)}
    mark_incomplete(paths)
    return ours


def unmark_untouched(ours: FileStates) -> None:
    """After a step failed: remove the markers of the outputs in ``ours`` (from
    :func:`mark_for_writing`) that are as they were. A step that fails before it writes
    (no calibration videos, a missing input, an output it cannot replace) thus leaves the
    previous outputs as usable as they were, instead of making a valid file look
    half-written; an output it did replace keeps its marker."""
    mark_complete(p for p, state in ours.items() if _file_state(p) == state)


@contextlib.contextmanager
def writing_outputs(outputs: Iterable[Path]) -> Iterator[None]:
    """Mark ``outputs`` incomplete while the block runs; unmark them when it returns. On an
    exception they stay marked (the step did not finish), except those the block left as
    they were (:func:`unmark_untouched`)."""
    paths = list(outputs)
    ours = mark_for_writing(paths)
    try:
        yield
    except BaseException:
        unmark_untouched(ours)
        raise
    mark_complete(paths)
