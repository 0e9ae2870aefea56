"""The run lock: one writing command per collection; a lock whose holder was killed is
taken over. Every test uses real processes: the lock is the kernel's, held per process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.core.outcome import EXIT_LOCKED
from pipeline.io.runlock import LOCK_NAME, RunLocked, run_lock
from pipeline.layout import DataLayout
from tests.child import cli_process
from tests.conftest import REPO
from tests.media import jpeg, put

HOLDER = """
import sys
from pathlib import Path
from pipeline.io.runlock import run_lock
with run_lock(Path(sys.argv[1]), "run", "2026-01-01T00:00:00Z"):
    print("held", flush=True)
    sys.stdin.read()
"""


@pytest.fixture
def collection(layout: DataLayout) -> DataLayout:
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    return layout


@pytest.fixture
def holder(collection: DataLayout) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the collection's lock until its stdin closes."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(collection.processed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate()  # reaps it and closes its pipes


@pytest.mark.parametrize("command", [["run"], ["ingest"], ["verify"]])
def test_a_second_command_exits_at_once_with_the_locked_status(
    collection: DataLayout, holder: subprocess.Popen[str], command: list[str]
) -> None:
    done = cli_process(collection, "--no-progress", *command)
    assert done.returncode == EXIT_LOCKED
    message = done.stderr.strip()
    assert "\n" not in message and "is locked by `run`" in message
    assert f"pid {holder.pid}" in message and "not started" in message
    assert not (collection.processed / "catalog.sqlite").exists()  # nothing was touched


def test_lock_file_names_its_holder_while_held(
    collection: DataLayout, holder: subprocess.Popen[str]
) -> None:
    fields = json.loads((collection.processed / LOCK_NAME).read_text())
    assert fields["pid"] == holder.pid and fields["command"] == "run" and fields["host"]


def test_lock_of_a_killed_process_is_taken_over(
    collection: DataLayout, holder: subprocess.Popen[str]
) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.communicate()
    assert json.loads((collection.processed / LOCK_NAME).read_text())["pid"] == holder.pid
    done = cli_process(collection, "--no-progress", "ingest")
    assert done.returncode == 0
    assert f"took over the run lock of `run` (pid {holder.pid}" in done.stderr
    assert (collection.processed / "media.csv").exists()
    assert (collection.processed / LOCK_NAME).read_text() == ""  # released cleanly


def test_released_lock_is_free_and_empty(tmp_path: Path) -> None:
    with run_lock(tmp_path, "run", "now") as held:
        assert held.taken_over is None
    with run_lock(tmp_path, "run", "later") as again:
        assert again.taken_over is None
    assert (tmp_path / LOCK_NAME).read_text() == ""


def test_lock_is_exclusive_between_open_descriptions_in_one_process(tmp_path: Path) -> None:
    with (
        run_lock(tmp_path, "run", "now"),
        pytest.raises(RunLocked, match="is locked by"),
        run_lock(tmp_path, "verify", "now"),
    ):
        pass
