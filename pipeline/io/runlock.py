"""The run lock, DIR/processed/run.lock: one writing command at a time per collection.

A kernel lock (flock) on the file, not the file's existence, is what excludes: the kernel
drops it when its process ends however it ends (SIGKILL, a crash, power loss), so a lock
left by a killed run is never mistaken for a live one and taking it over is safe by
construction. The file's text (pid, host, command, start time) only explains who holds it;
it is emptied on a clean release, so text found by the next holder means its predecessor
died holding the lock. The file is never deleted: a process could still hold the old inode
while another locks a new one.

flock is local to one kernel: on NFS it may not exclude processes on other machines, so a
collection is processed from one host at a time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.io.atomic import open_in_place

LOCK_NAME = "run.lock"


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) the lock; empty fields when the file said nothing readable."""

    pid: int = 0
    host: str = ""
    command: str = ""
    started_at: str = ""

    def describe(self) -> str:
        if not self.pid:
            return "another crosscheck process (it has not written its details yet)"
        return f"`{self.command}` (pid {self.pid} on {self.host}, started {self.started_at})"


class RunLocked(RuntimeError):
    """Another process holds the collection's run lock."""

    def __init__(self, path: Path, holder: LockHolder) -> None:
        super().__init__(f"{path.parent.parent} is locked by {holder.describe()}")
        self.path = path
        self.holder = holder


@dataclass(frozen=True)
class HeldLock:
    """The lock this process holds, and the holder it took over (a run that was killed)."""

    path: Path
    holder: LockHolder
    taken_over: LockHolder | None


def _read_holder(fd: int) -> LockHolder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    data = os.read(fd, 65536)
    if not data.strip():
        return None
    try:
        fields = json.loads(data)
        return LockHolder(
            int(fields.get("pid", 0)),
            str(fields.get("host", "")),
            str(fields.get("command", "")),
            str(fields.get("started_at", "")),
        )
    except (ValueError, TypeError, AttributeError):
        return LockHolder(command="unreadable lock file")


@contextlib.contextmanager
def run_lock(processed: Path, command: str, started_at: str) -> Iterator[HeldLock]:
    """Hold DIR/processed/run.lock for the duration; RunLocked at once when it is held."""
    processed.mkdir(parents=True, exist_ok=True)
    path = processed / LOCK_NAME
    # Written in place, so never through a link, never blocking on a pipe, and only a
    # regular file with no other name (a hard link to evidence).
    fd = open_in_place(path, os.O_RDWR | os.O_CREAT)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(path, _read_holder(fd) or LockHolder()) from None
        previous = _read_holder(fd)
        me = LockHolder(os.getpid(), platform.node(), command, started_at)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(vars(me), sort_keys=True).encode() + b"\n", 0)
        os.fsync(fd)
        try:
            yield HeldLock(path, me, previous)
        finally:
            os.ftruncate(fd, 0)  # a clean release leaves no holder behind
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
