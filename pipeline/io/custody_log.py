"""The custody log file, `processed/custody.jsonl`: an append-only mirror of the catalog's chain.

Entries are sealed inside the catalog transaction that does the work they describe, then
appended here; a crash between the two is mended by the next append, so the file never
misses or repeats an entry.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.io import crashpoints
from pipeline.io.catalog import Catalog


def read_lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line]


def _last_seq(lines: list[str]) -> int:
    for line in reversed(lines):
        try:
            return int(json.loads(line)["seq"])
        except (ValueError, KeyError, TypeError):
            continue
    return 0


def sync_log_file(catalog: Catalog, path: Path) -> int:
    """Append the catalog's entries that the file lacks; returns how many were appended."""
    _drop_partial_line(path)
    lines = read_lines(path)
    missing = catalog.custody_entries(after_seq=_last_seq(lines))
    if not missing:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    crashpoints.reached("custody log about to be appended")
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in missing))
        handle.flush()
        os.fsync(handle.fileno())
    crashpoints.reached("custody log appended")
    return len(missing)


def _drop_partial_line(path: Path) -> None:
    """A crash mid-append can leave a line without its newline; it is ours, and incomplete."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)
            os.fsync(handle.fileno())
