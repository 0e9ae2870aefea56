"""What "the same outputs" means when two runs are compared (crash safety, executors).

Two runs over the same collection (same data dir, so raw paths and mtimes agree) have the same
outputs when:

- every file under DIR/processed has the same bytes, except the catalog database itself, the
  custody log and the run bookkeeping: the report's page of run records (`report/runs.html`,
  a view of the `runs` table below), the run lock and `runs/<run_id>.json`. Contract CSVs,
  dedupe index files, thumbnails and report pages are compared by name and bytes;
  temporaries `.*.tmp` must not exist at all;
- the catalog's *content* is the same: every row of every table except `runs` (one record per
  run: start and end times, counts of that run's own work), `custody` (entries carry times,
  run ids and how the work was batched; their chain is checked by `crosscheck verify`
  instead), `generations` (how many row writes each table has seen, which a killed and
  repeated transaction changes) and `derived_state` (keyed by those counters), compared as
  sorted tuples of exact values (BLOBs byte for byte). New tables are content unless listed
  here.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

NOT_CONTENT_TABLES = frozenset({"runs", "custody", "generations", "derived_state"})
NOT_CONTENT_FILES = frozenset(
    {
        "catalog.sqlite",
        "catalog.sqlite-wal",
        "catalog.sqlite-shm",
        "custody.jsonl",
        "report/runs.html",
        "run.lock",
    }
)
RUN_RECORDS = "runs"  # DIR/processed/runs/<run_id>.json: one summary per run


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
    files = (path for path in sorted(processed.rglob("*")) if path.is_file())
    return {
        name: path.read_bytes()
        for path in files
        if (name := path.relative_to(processed).as_posix()) not in NOT_CONTENT_FILES
        and not name.startswith(f"{RUN_RECORDS}/")
    }


def temporaries(processed: Path) -> list[str]:
    return sorted(str(p) for p in processed.rglob(".*.tmp"))


def differences(a: dict[str, object], b: dict[str, object]) -> list[str]:
    """Names whose values differ (or exist on one side only): a readable assertion message."""
    return sorted(name for name in set(a) | set(b) if a.get(name) != b.get(name))
