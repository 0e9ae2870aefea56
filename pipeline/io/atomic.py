"""Atomic file writes: a reader sees the old file or the new one, never a half-written one.

A writer killed mid-write leaves at most a temporary (`.NAME.XXXX.tmp`), never a partial file
under a final name; `remove_stale_temporaries` clears those at the start of the next run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Collection
from pathlib import Path

from pipeline.io import crashpoints

_TMP_SUFFIX = ".tmp"


def write_bytes_atomic(path: Path, data: bytes, scratch_dir: Path | None = None) -> bool:
    """Write data to path via a temporary file, fsync and rename.

    scratch_dir holds the temporary (default: path's folder; it must be on the same file
    system). Returns False (and writes nothing) when the file already holds exactly these
    bytes, so a rerun that changes nothing leaves every mtime alone.
    """
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = scratch_dir or path.parent
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


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
