"""The custody log file, `processed/custody.jsonl`: an append-only mirror of the catalog's chain.

Entries are sealed inside the catalog transaction that does the work they describe, then
appended here. The file is only ever opened without following links (`O_NOFOLLOW`), as a
regular file with a single name (a hard link to an evidence file is refused too), in append
mode, under an exclusive `flock` on the file itself: two writers (a run and the review app,
two reviewers) never append the same entry twice, and nothing is ever written through a link.

A command killed between its catalog commit and its append leaves the file a prefix of the
catalog's chain, possibly ending in a partial line. The next command mends that on start
(`mend`): it drops the partial line only when it is the start of the entry the catalog sealed
next, appends the missing entries from the catalog's copy, and says what it did, so the run
seals a `custody_log_mended` entry and `verify` shows it instead of calling it deleted lines.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.io import crashpoints
from pipeline.io.atomic import UnsafeFile, open_in_place
from pipeline.io.catalog import Catalog


class CustodyLogError(OSError):
    """The custody log cannot be opened or appended safely; nothing was written to it."""


@dataclass(frozen=True)
class Mend:
    """What `mend` found and did: a partial last line dropped, entries appended."""

    appended_seqs: tuple[int, ...] = ()
    partial_line_bytes: int = 0
    partial_line_sha256: str = ""
    partial_of_seq: int = 0

    @property
    def anything(self) -> bool:
        return bool(self.appended_seqs or self.partial_line_bytes)

    def describe(self) -> str:
        parts = []
        if self.partial_line_bytes:
            parts.append(
                f"dropped a partial last line of {self.partial_line_bytes} bytes (sha256 "
                f"{self.partial_line_sha256[:16]}), the cut-off start of entry "
                f"{self.partial_of_seq}"
            )
        if self.appended_seqs:
            first, last = self.appended_seqs[0], self.appended_seqs[-1]
            parts.append(
                f"appended entries {first}-{last} from the catalog's copy, sealed before the "
                "command that made them was killed or crashed before writing them here"
            )
        return "; ".join(parts)

    def as_fields(self) -> dict[str, object]:
        return {
            "appended_seqs": list(self.appended_seqs),
            "partial_line_bytes": self.partial_line_bytes,
            "partial_line_sha256": self.partial_line_sha256,
            "partial_of_seq": self.partial_of_seq,
        }


@dataclass
class OpenedLog:
    fd: int
    data: bytes = field(default=b"")


def _refuse(path: Path, why: str) -> CustodyLogError:
    return CustodyLogError(
        f"custody log {path}: {why}; nothing was read or written through it. Move it aside "
        "(it may be evidence), restore the log from a copy, or let crosscheck write a new one "
        "from the catalog's copy"
    )


def _open(path: Path, flags: int) -> int:
    """Open the log without following a link or blocking on a FIFO; a regular file with one
    name only (anything else is refused, never written)."""
    try:
        return open_in_place(path, flags)
    except UnsafeFile as exc:
        raise _refuse(path, f"is {exc.kind}") from exc


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _split(data: bytes) -> list[str]:
    return [line for line in data.decode("utf-8", errors="replace").split("\n") if line]


def read_lines(path: Path) -> list[str]:
    """The log's lines (a partial last line included), read without following a link."""
    try:
        fd = _open(path, os.O_RDONLY)
    except FileNotFoundError:
        return []
    try:
        return _split(_read_all(fd))
    finally:
        os.close(fd)


@contextmanager
def locked(path: Path) -> Iterator[OpenedLog]:
    """The log opened for appending (created when missing), under an exclusive flock, with its
    current bytes. Whoever holds it is the only writer of the file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield OpenedLog(fd, _read_all(fd))
    finally:
        os.close(fd)  # closing releases the flock


def _entry_key(line: str) -> tuple[int, str] | None:
    try:
        entry = json.loads(line)
        return int(entry["seq"]), str(entry["entry_hash"])
    except (ValueError, KeyError, TypeError):
        return None


def _last_shared_seq(catalog: Catalog, lines: list[str]) -> int:
    """The seq of the last line of the file that is an entry of the catalog's chain: what
    follows it in the catalog is what the file lacks. Lines after it that the catalog does not
    know (a forged entry) stay where they are, and `verify` names them."""
    for line in reversed(lines):
        key = _entry_key(line)
        if key is not None and catalog.custody_entry_hash(key[0]) == key[1]:
            return key[0]
    return 0


def _append(fd: int, entries: list[str]) -> None:
    crashpoints.reached("custody log about to be appended")
    os.write(fd, "".join(line + "\n" for line in entries).encode("utf-8"))
    os.fsync(fd)
    crashpoints.reached("custody log appended")


def sync_log_file(catalog: Catalog, path: Path) -> int:
    """Append the catalog's entries that the file lacks; returns how many were appended."""
    with locked(path) as log:
        return len(append_missing(catalog, path, log).appended_seqs)


def append_missing(catalog: Catalog, path: Path, log: OpenedLog) -> Mend:
    """Under the lock that `locked` gives: drop a partial last line when it is the cut-off
    start of the entry the catalog sealed next (anything else is refused), then append what
    the catalog sealed after the file's last entry. Says what it did."""
    partial = _check_partial(catalog, path, log.data)
    if partial.partial_line_bytes:
        log.data = log.data[: len(log.data) - partial.partial_line_bytes]
        os.ftruncate(log.fd, len(log.data))
        os.fsync(log.fd)
    missing = catalog.custody_entries(after_seq=_last_shared_seq(catalog, _split(log.data)))
    if missing:
        _append(log.fd, missing)
    return Mend(
        appended_seqs=tuple(key[0] for line in missing if (key := _entry_key(line))),
        partial_line_bytes=partial.partial_line_bytes,
        partial_line_sha256=partial.partial_line_sha256,
        partial_of_seq=partial.partial_of_seq,
    )


def _check_partial(catalog: Catalog, path: Path, data: bytes) -> Mend:
    """A last line without its newline: ours (the start of the entry sealed after the last
    complete one) is recoverable; anything else is refused."""
    if not data or data.endswith(b"\n"):
        return Mend()
    cut = data.rfind(b"\n") + 1
    partial = data[cut:]
    following = _last_shared_seq(catalog, _split(data[:cut])) + 1
    expected = catalog.custody_entries(after_seq=following - 1)[:1]
    if not expected or not expected[0].encode("utf-8").startswith(partial):
        raise _refuse(
            path,
            f"ends in an incomplete line of {len(partial)} bytes that is not the start of "
            f"entry {following} as the catalog sealed it",
        )
    return Mend(
        partial_line_bytes=len(partial),
        partial_line_sha256=hashlib.sha256(partial).hexdigest(),
        partial_of_seq=following,
    )


def mend(catalog: Catalog, path: Path) -> Mend:
    """On a command's start (under the run lock): make the file whole again after a command
    was killed between its commit and its append, and say what was done."""
    if not path.exists() and not path.is_symlink() and catalog.custody_head().seq == 0:
        return Mend()
    with locked(path) as log:
        return append_missing(catalog, path, log)
