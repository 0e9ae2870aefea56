"""Atomic file writes: a reader sees the old file or the new one, never a half-written one.

A writer killed mid-write leaves at most a temporary (`.NAME.XXXX.tmp`), never a partial file
under a final name; `remove_stale_temporaries` clears those at the start of the next run.

No write follows a link. The temporary is made with O_EXCL (mkstemp) and renamed over the
name, which replaces a link or an extra hard link instead of writing through it; given the
folder they write under (`root`, normally DIR/processed), writers refuse a folder on the way
that is a link (`processed/report` -> `raw/...` would put pages among the evidence).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Collection
from pathlib import Path

from pipeline.io import crashpoints

_TMP_SUFFIX = ".tmp"


class LinkRefused(OSError):
    """A path under DIR/processed that a writer would follow is a link (or a file with other
    names): nothing was written. The message says which and what to do."""


def write_bytes_atomic(
    path: Path, data: bytes, scratch_dir: Path | None = None, root: Path | None = None
) -> bool:
    """Write data to path via a temporary file, fsync and rename.

    scratch_dir holds the temporary (default: path's folder; it must be on the same file
    system). Returns False (and writes nothing) when the file already holds exactly these
    bytes, so a rerun that changes nothing leaves every mtime alone. With root, every folder
    between root and path (and the scratch folder) must be a real folder, not a link:
    LinkRefused otherwise, before anything is written.
    """
    scratch = scratch_dir or path.parent
    if root is not None:
        real_folders(root, path.parent)
        real_folders(root, scratch)
    if _holds(path, data):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TMP_SUFFIX, dir=scratch)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        crashpoints.reached(f"temporary for {path.name} written")
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)
    crashpoints.reached(f"{path.name} renamed into place")
    return True


def remove_stale_temporaries(root: Path, skip: Collection[Path] = ()) -> list[Path]:
    """Delete the temporaries that killed writers left under root; returns them.

    Only safe while no writer runs (the caller holds the run lock). Folders in skip are not
    entered (the thumbnail shards: millions of files, whose temporaries live in their own
    scratch folder instead).
    """
    skipped = {os.fspath(p) for p in skip}
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = sorted(s for s in subfolders if os.path.join(folder, s) not in skipped)
        for name in sorted(names):
            if name.startswith(".") and name.endswith(_TMP_SUFFIX):
                path = Path(folder) / name
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    return removed


def real_folders(root: Path, folder: Path) -> None:
    """Make folder (below root) and the folders between, refusing any that is a link."""
    current = root
    for part in folder.relative_to(root).parts:
        current = current / part
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(current)
            info = os.lstat(current)
        if not stat.S_ISDIR(info.st_mode):
            raise LinkRefused(
                f"{current} is a link or not a folder: nothing is written through it; "
                "remove it (it is derived, never evidence) and run again"
            )


def unsafe_kind(info: os.stat_result) -> str | None:
    """What makes a file unsafe to write in place: a link, not a regular file, or a regular
    file with other names (a hard link to evidence); None when it is safe."""
    if stat.S_ISLNK(info.st_mode):
        return "a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink > 1:
        return f"a file with {info.st_nlink} names (a hard link)"
    return None


class UnsafeFile(LinkRefused):
    """LinkRefused for a file written in place; `kind` says what the path is instead."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(
            f"{path} is {kind}: it is written in place, so nothing is written through it; "
            "check who made it, remove it and run again"
        )
        self.kind = kind


def refuse_unsafe_file(path: Path) -> None:
    """UnsafeFile when path exists as a link, as something other than a regular file, or as
    a regular file with other names (a hard link to evidence): for the files written in
    place (the run lock, the catalog database and its journals, the custody log)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    kind = unsafe_kind(info)
    if kind is not None:
        raise UnsafeFile(path, kind)


def open_in_place(path: Path, flags: int) -> int:
    """A descriptor on path for reading or writing in place, opened without following a link
    or blocking on a FIFO, and only for a regular file with one name: UnsafeFile otherwise,
    with nothing read or written through it. The descriptor is blocking again on return."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        if exc.errno in {errno.ELOOP, errno.ENXIO, errno.EISDIR}:
            refuse_unsafe_file(path)  # says what it is
        raise
    kind = unsafe_kind(os.fstat(fd))
    if kind is not None:
        os.close(fd)
        raise UnsafeFile(path, kind)
    os.set_blocking(fd, True)
    return fd


def _holds(path: Path, data: bytes) -> bool:
    """Whether path is a regular file (not a link) holding exactly data."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # missing, a link (ELOOP), unreadable: write it anew
        return False
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size != len(data) or info.st_nlink > 1:
            return False
        return handle.read(len(data) + 1) == data


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
