"""Run summaries on disk: DIR/processed/runs/<run_id>.json (and a copy where monitoring
wants it), written atomically, plus the snapshot of derived files that tells whether a run
changed any output."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pipeline.io.atomic import write_bytes_atomic

RUNS_FOLDER = "runs"
# Bookkeeping a run always touches, and folders kept out of the snapshot: thumbnails (their
# catalog rows say when they change; there may be millions) and the run records themselves.
_NOT_OUTPUTS = {"catalog.sqlite", "catalog.sqlite-wal", "catalog.sqlite-shm", "custody.jsonl"}
_SKIPPED_FOLDERS = {"thumbs", RUNS_FOLDER}
RUN_RECORD_PAGE = "runs.html"  # report/runs.html shows the run record: every run rewrites it


def summary_bytes(summary: dict[str, Any]) -> bytes:
    return (json.dumps(summary, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def write_run_summary(processed: Path, summary: dict[str, Any], copy_to: Path | None) -> Path:
    """Write runs/<run_id>.json (and copy_to, when given); returns the first path."""
    data = summary_bytes(summary)
    path = processed / RUNS_FOLDER / f"{summary['run_id']}.json"
    write_bytes_atomic(path, data, root=processed)
    if copy_to is not None:
        write_bytes_atomic(copy_to, data)
    return path


def output_snapshot(processed: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of every derived file a stage may write, by relative path.

    Contract files are only ever replaced when their bytes change (pipeline/io/atomic.py),
    so an unchanged snapshot means no output moved.
    """
    snapshot: dict[str, tuple[int, int]] = {}
    if not processed.is_dir():
        return snapshot
    for folder, subfolders, names in os.walk(processed):
        here = Path(folder)
        if here == processed:
            subfolders[:] = [s for s in subfolders if s not in _SKIPPED_FOLDERS]
        for name in names:
            if here == processed and (name in _NOT_OUTPUTS or name.endswith(".lock")):
                continue
            if name.startswith(".") and name.endswith(".tmp"):
                continue
            if here == processed / "report" and name == RUN_RECORD_PAGE:
                continue
            path = here / name
            try:
                info = path.stat()
            except FileNotFoundError:
                continue
            snapshot[str(path.relative_to(processed))] = (info.st_size, info.st_mtime_ns)
    return snapshot
