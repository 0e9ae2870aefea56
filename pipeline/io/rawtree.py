"""Reading the evidence tree `DIR/raw/<incident>/<source>/...`: listing and hashing, never writing.

Symbolic links are never followed (their targets may lie outside the raw root), special
files are never opened, and every file gets either a place in the listing or a reason why not.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.pathnames import display_path

SOURCES_SHEET = "sources.csv"
PLACEHOLDER = ".gitkeep"  # the repository's empty-folder marker at the raw root, not evidence
SIDECAR_SUFFIX = ".json"


@dataclass(frozen=True)
class RawFile:
    """One entry of the raw tree. `problem` is a reject reason when it cannot be ingested."""

    path: str  # display form, relative to the raw root, '/'-separated
    abs_path: Path
    incident: str
    source: str
    size_bytes: int
    mtime_ns: int
    problem: str = ""


@dataclass(frozen=True)
class RawListing:
    files: list[RawFile]  # candidate media (and entries with a problem)
    sidecars: dict[str, Path]  # display path of the media file -> its <file>.json
    sheets: dict[str, Path]  # incident -> its sources.csv


def _symlink_problem(entry: os.DirEntry[str], raw_root: Path) -> str:
    target = Path(os.path.realpath(entry.path))
    inside = target.is_relative_to(raw_root.resolve())
    where = "inside" if inside else "outside"
    return f"symbolic link (target {where} the raw root): links are never followed"


def list_raw(raw_root: Path) -> RawListing:
    """List every entry under raw_root, sorted by path, without following links."""
    files: list[RawFile] = []
    plain: dict[str, RawFile] = {}
    json_files: dict[str, Path] = {}
    sheets: dict[str, Path] = {}

    for entry, parts in _walk(raw_root, ()):
        if parts == (PLACEHOLDER,):
            continue
        display = display_path("/".join(parts))
        incident = parts[0]
        source = parts[1] if len(parts) > 2 else ""
        problem = ""
        size = mtime = 0
        if entry.is_symlink():
            problem = _symlink_problem(entry, raw_root)
        else:
            info = entry.stat(follow_symlinks=False)
            size, mtime = info.st_size, info.st_mtime_ns
            if stat.S_ISDIR(info.st_mode):
                continue
            if not stat.S_ISREG(info.st_mode):
                problem = "not a regular file (device, pipe or socket): not opened"
            elif len(parts) == 1:
                problem = "not inside an incident folder (expected raw/<incident>/<source>/<file>)"
            elif len(parts) == 2 and parts[1] == SOURCES_SHEET:
                sheets[incident] = Path(entry.path)
                continue
            elif len(parts) == 2:
                problem = "not inside a source folder (expected raw/<incident>/<source>/<file>)"
        record = RawFile(
            display,
            Path(entry.path),
            display_path(incident),
            display_path(source),
            size,
            mtime,
            problem,
        )
        if not problem and display.endswith(SIDECAR_SUFFIX):
            json_files[display] = Path(entry.path)
        files.append(record)
        if not problem:
            plain[display] = record

    sidecars = {
        name[: -len(SIDECAR_SUFFIX)]: path
        for name, path in json_files.items()
        if name[: -len(SIDECAR_SUFFIX)] in plain
    }
    sidecar_names = {name + SIDECAR_SUFFIX for name in sidecars}
    files = [f for f in files if f.path not in sidecar_names]
    files.sort(key=lambda f: f.path)
    return RawListing(files=files, sidecars=sidecars, sheets=sheets)


def _walk(
    directory: Path, parts: tuple[str, ...]
) -> Iterator[tuple[os.DirEntry[str], tuple[str, ...]]]:
    with os.scandir(directory) as entries:
        for entry in sorted(entries, key=lambda e: os.fsencode(e.name)):
            here = (*parts, entry.name)
            yield entry, here
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(Path(entry.path), here)


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    md5: str
    size_bytes: int
    head: bytes  # the first bytes, for sniffing the type by content


def digest_file(path: Path, chunk_bytes: int, head_bytes: int = 8192) -> FileDigest:
    """SHA-256 and MD5 of the bytes as received, in one streaming pass (read-only)."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    head = b""
    size = 0
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOATIME", 0)
    try:
        fd = os.open(path, flags)
    except PermissionError:  # O_NOATIME needs ownership; fall back without it
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb", buffering=0) as handle:
        buffer = bytearray(chunk_bytes)
        view = memoryview(buffer)
        while count := handle.readinto(buffer):
            chunk = view[:count]
            if len(head) < head_bytes:
                head += bytes(chunk[: head_bytes - len(head)])
            sha.update(chunk)
            md5.update(chunk)
            size += count
    return FileDigest(sha.hexdigest(), md5.hexdigest(), size, head)
