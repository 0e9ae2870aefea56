"""Reading the evidence tree `DIR/raw/<incident>/<source>/...`: listing and hashing, never writing.

Symbolic links are never followed (their targets may lie outside the raw root), special
files are never opened, and every file gets either a place in the listing or a reason why not.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipeline.core.pathnames import display_path

SOURCES_SHEET = "sources.csv"
PLACEHOLDER = ".gitkeep"  # the repository's empty-folder marker at the raw root, not evidence
SIDECAR_SUFFIX = ".json"
# raw/<incident>/<source>/ plus the folders a download tool makes: a few levels in practice.
# Deeper folders are reported, not entered (a 1,000-level tree is an attack, not a collection).
MAX_DEPTH = 64


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


def _symlink_problem(entry: Path, raw_root: Path) -> str:
    target = Path(os.path.realpath(entry))
    inside = target.is_relative_to(raw_root.resolve())
    where = "inside" if inside else "outside"
    return f"symbolic link (target {where} the raw root): links are never followed"


def list_raw(raw_root: Path) -> RawListing:
    """List every entry under raw_root, sorted by path, without following links.

    Never raises for what it finds below the root: a folder that cannot be read or is nested
    deeper than MAX_DEPTH, and an entry that vanishes or cannot be stat'ed while listed, each
    become an entry with a problem (a reject row), and the rest is listed."""
    files: list[RawFile] = []
    plain: dict[str, RawFile] = {}
    json_files: dict[str, Path] = {}
    sheets: dict[str, Path] = {}

    for found in _walk(raw_root):
        parts = found.parts
        entry_path = raw_root.joinpath(*parts)
        display = display_path("/".join(parts))
        incident = parts[0]
        source = parts[1] if len(parts) > 2 else ""
        problem = found.problem
        info = found.info
        size = mtime = 0
        if problem:
            pass
        elif info is not None and stat.S_ISLNK(info.st_mode):
            problem = _symlink_problem(entry_path, raw_root)
        elif info is not None:
            size, mtime = info.st_size, info.st_mtime_ns
            if not stat.S_ISREG(info.st_mode):
                problem = "not a regular file (device, pipe or socket): not opened"
            elif parts == (PLACEHOLDER,) and size == 0:
                continue  # the repository's empty-folder marker
            elif len(parts) == 1:
                problem = "not inside an incident folder (expected raw/<incident>/<source>/<file>)"
            elif len(parts) == 2 and parts[1] == SOURCES_SHEET:
                sheets[incident] = entry_path
                continue
            elif len(parts) == 2:
                problem = "not inside a source folder (expected raw/<incident>/<source>/<file>)"
        record = RawFile(
            display,
            entry_path,
            display_path(incident),
            display_path(source),
            size,
            mtime,
            problem,
        )
        if not problem and display.endswith(SIDECAR_SUFFIX):
            json_files[display] = entry_path
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


@dataclass(frozen=True)
class _Found:
    parts: tuple[str, ...]
    info: os.stat_result | None  # lstat of a non-folder entry
    problem: str = ""


def _walk(root: Path) -> Iterator[_Found]:
    """Every non-folder entry below root (depth first, in byte order), and every folder that
    cannot be listed, with a problem. Iterative, so the depth of the tree never meets the
    interpreter's recursion limit; one descriptor open at a time; a folder is opened with
    O_NOFOLLOW, so one swapped for a link while listed is not followed."""
    stack: list[tuple[str, ...]] = [()]
    while stack:
        parts = stack.pop()
        try:
            fd = os.open(root.joinpath(*parts), _FOLDER_FLAGS | (os.O_NOFOLLOW if parts else 0))
        except OSError as exc:
            if not parts:
                raise  # the raw root itself: there is no collection to list
            yield _Found(parts, None, _folder_problem(exc))
            continue
        children: list[tuple[str, ...]] = []
        try:
            names = sorted(os.listdir(fd), key=os.fsencode)
        except OSError as exc:
            os.close(fd)
            if not parts:
                raise
            yield _Found(parts, None, _folder_problem(exc))
            continue
        try:
            for name in names:
                here = (*parts, name)
                try:
                    info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError as exc:
                    yield _Found(here, None, f"cannot be examined ({_why(exc)})")
                    continue
                if not stat.S_ISDIR(info.st_mode):
                    yield _Found(here, info)
                elif len(here) > MAX_DEPTH:
                    yield _Found(
                        here, None, f"folder nested deeper than {MAX_DEPTH} levels: not entered"
                    )
                else:
                    children.append(here)
        finally:
            os.close(fd)
        stack.extend(reversed(children))


_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def _folder_problem(exc: OSError) -> str:
    return f"folder cannot be read ({_why(exc)}): its files are not listed"


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


@dataclass(frozen=True)
class FileIdentity:
    """Which file a path held when it was read. A file edited, replaced or swapped for a link
    differs in one of these; device and inode 0 mean unknown (the stat cache keeps only size
    and mtime)."""

    size_bytes: int
    mtime_ns: int
    device: int = 0
    inode: int = 0

    @classmethod
    def of(cls, info: os.stat_result) -> FileIdentity:
        return cls(info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino)

    def matches(self, info: os.stat_result) -> bool:
        if (self.size_bytes, self.mtime_ns) != (info.st_size, info.st_mtime_ns):
            return False
        return not self.inode or (self.device, self.inode) == (info.st_dev, info.st_ino)


class EvidenceChanged(OSError):
    """The raw file is no longer the regular file that was listed or hashed: it was replaced
    by a link, a pipe or a device, or its bytes changed. The message is the reject reason."""


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    md5: str
    size_bytes: int
    head: bytes  # the first bytes, for sniffing the type by content
    identity: FileIdentity | None = None  # the file that was hashed


_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def open_evidence(path: Path, expect: FileIdentity | None = None) -> BinaryIO:
    """Open a raw file for reading, only if it is still the regular file expected.

    Never follows a link (O_NOFOLLOW), never blocks on a named pipe or device (O_NONBLOCK,
    then the type is checked on the descriptor itself), and leaves the access time alone
    (O_NOATIME, where the file's owner runs us). EvidenceChanged when it is not the file
    expected; the descriptor read is the one checked, so nothing can be swapped in between.
    """
    try:
        try:
            fd = os.open(path, _READ_FLAGS | getattr(os, "O_NOATIME", 0))
        except PermissionError:  # O_NOATIME needs ownership; without it, reads restore atime
            fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise EvidenceChanged("replaced by a symbolic link: links are never followed") from exc
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise EvidenceChanged("no longer a regular file (device, pipe or socket): not read")
        if expect is not None and not expect.matches(info):
            raise EvidenceChanged(_changed(expect, info))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")  # buffered: Pillow and exifread read in small pieces


def check_unchanged(path: Path, expect: FileIdentity) -> None:
    """EvidenceChanged unless path (not followed) is still the expected regular file."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise EvidenceChanged("replaced by a symbolic link while it was read")
    if not stat.S_ISREG(info.st_mode):
        raise EvidenceChanged("replaced by something other than a regular file while it was read")
    if not expect.matches(info):
        raise EvidenceChanged(_changed(expect, info))


def _changed(expect: FileIdentity, info: os.stat_result) -> str:
    return (
        f"changed since it was hashed (size {expect.size_bytes} -> {info.st_size} bytes, "
        f"mtime {expect.mtime_ns} -> {info.st_mtime_ns} ns, or another file in its place): "
        "ingest again to examine what it holds now"
    )


@contextlib.contextmanager
def access_time_kept(path: Path) -> Iterator[None]:
    """Put back the access time of a raw file that another program (ffprobe, ffmpeg) reads
    by name, where we own it; only when nothing else changed it meanwhile."""
    try:
        before = os.lstat(path)
    except OSError:
        before = None
    try:
        yield
    finally:
        if before is not None and stat.S_ISREG(before.st_mode):
            with contextlib.suppress(OSError):
                after = os.lstat(path)
                if (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns) and (
                    after.st_atime_ns != before.st_atime_ns
                ):
                    os.utime(
                        path, ns=(before.st_atime_ns, before.st_mtime_ns), follow_symlinks=False
                    )


def digest_file(path: Path, chunk_bytes: int, head_bytes: int = 8192) -> FileDigest:
    """SHA-256 and MD5 of the bytes as received, in one streaming pass (read-only).

    EvidenceChanged when path is not a regular file, or changes while it is read."""
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    head = b""
    size = 0
    with open_evidence(path) as handle:
        identity = FileIdentity.of(os.fstat(handle.fileno()))
        buffer = bytearray(chunk_bytes)
        view = memoryview(buffer)
        while count := handle.readinto(buffer):  # type: ignore[attr-defined]
            chunk = view[:count]
            if len(head) < head_bytes:
                head += bytes(chunk[: head_bytes - len(head)])
            sha.update(chunk)
            md5.update(chunk)
            size += count
        after = os.fstat(handle.fileno())
    if size != identity.size_bytes or not identity.matches(after):
        raise EvidenceChanged(
            "changed while it was being hashed: not recorded, ingest again to examine it"
        )
    return FileDigest(sha.hexdigest(), md5.hexdigest(), size, head, identity)
