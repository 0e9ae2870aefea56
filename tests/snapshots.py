"""What "the same outputs" means when two runs are compared (crash safety, executors).

Two runs over the same collection (same data dir, so raw paths and mtimes agree) have the same
outputs when:

- every file under DIR/processed has the same bytes, except the catalog database itself and
  the custody log (contract CSVs, dedupe index files, thumbnails: compared by name and bytes;
  temporaries `.*.tmp` must not exist at all);
- the catalog's *content* is the same: every row of every table except `runs` (one record per
  run: start and end times, counts of that run's own work) and `custody` (entries carry
  times, run ids and how the work was batched; their chain is checked by `crosscheck verify`
  instead), compared as sorted tuples of exact values (BLOBs byte for byte). New tables are
  content unless listed here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

NOT_CONTENT_TABLES = frozenset({"runs", "custody"})
# runs.html is the report's page of the run record (times of each run), like the runs table.
NOT_CONTENT_FILES = (
    "catalog.sqlite",
    "catalog.sqlite-wal",
    "catalog.sqlite-shm",
    "custody.jsonl",
    "runs.html",
)


def catalog_content(catalog: Path) -> dict[str, list[tuple[object, ...]]]:
    """table -> its rows, sorted, for every content table."""
    db = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
    try:
        tables = [
            row[0]
            for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {
            table: sorted(
                db.execute(f"SELECT * FROM {table}").fetchall(),
                key=lambda row: tuple((v is None, type(v).__name__, v) for v in row),
            )
            for table in tables
            if table not in NOT_CONTENT_TABLES
        }
    finally:
        db.close()


def processed_files(processed: Path) -> dict[str, bytes]:
    """relative path -> bytes of every output file but the catalog and the custody log."""
    return {
        str(path.relative_to(processed)): path.read_bytes()
        for path in sorted(processed.rglob("*"))
        if path.is_file() and path.name not in NOT_CONTENT_FILES
    }


def temporaries(processed: Path) -> list[str]:
    return sorted(str(p) for p in processed.rglob(".*.tmp"))


def differences(a: dict[str, object], b: dict[str, object]) -> list[str]:
    """Names whose values differ (or exist on one side only): a readable assertion message."""
    return sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))
