"""The catalog database (SQLite, WAL): the one owner of every table and its migrations.

Stages talk to the catalog through these methods, never through SQL of their own. Each
unit of work (one file ingested, one video's frames) is committed in one transaction, so a
killed run leaves either all of a unit or none of it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.custody import GENESIS_HASH, seal_entry
from pipeline.core.records import MediaRecord, Observation, Reject

# Each migration moves the schema from version i to i + 1. Never edit a released one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE media (
        media_id TEXT PRIMARY KEY,
        md5 TEXT NOT NULL,
        size_bytes INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('image', 'video')),
        format TEXT NOT NULL,
        width INTEGER,
        height INTEGER,
        duration_s REAL,
        derived_json TEXT NOT NULL,
        raw_metadata_json TEXT NOT NULL
    );
    CREATE TABLE observations (
        path TEXT PRIMARY KEY,
        media_id TEXT NOT NULL REFERENCES media(media_id),
        incident TEXT NOT NULL,
        source TEXT NOT NULL,
        posted_at TEXT NOT NULL DEFAULT '',
        url TEXT NOT NULL DEFAULT '',
        account TEXT NOT NULL DEFAULT '',
        provenance_origin TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX observations_media ON observations(media_id);
    CREATE TABLE rejects (
        path TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        sha256 TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE file_state (
        path TEXT PRIMARY KEY,
        size_bytes INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        md5 TEXT NOT NULL,
        reject_reason TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE runs (
        run_id INTEGER PRIMARY KEY AUTOINCREMENT,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,
        config_hash TEXT NOT NULL,
        code_version TEXT NOT NULL,
        counts_json TEXT NOT NULL DEFAULT '{}',
        errors_json TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE custody (
        seq INTEGER PRIMARY KEY,
        entry_hash TEXT NOT NULL,
        entry_json TEXT NOT NULL
    );
    """,
)


@dataclass(frozen=True)
class FileState:
    """The stat cache: what a path held when it was last hashed, and what came of it."""

    path: str
    size_bytes: int
    mtime_ns: int
    sha256: str
    md5: str
    reject_reason: str = ""


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Catalog:
    """A connection to `processed/catalog.sqlite`, migrated to the newest schema on open."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                for statement in script.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One atomic unit of work; nested use joins the outer transaction."""
        if self._db.in_transaction:
            yield
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- stat cache -----------------------------------------------------------------------
    def file_state(self, path: str) -> FileState | None:
        row = self._db.execute("SELECT * FROM file_state WHERE path = ?", (path,)).fetchone()
        return FileState(**dict(row)) if row else None

    def file_states(self) -> list[FileState]:
        rows = self._db.execute("SELECT * FROM file_state ORDER BY path").fetchall()
        return [FileState(**dict(row)) for row in rows]

    def put_file_state(self, state: FileState) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO file_state VALUES (?, ?, ?, ?, ?, ?)",
            (state.path, state.size_bytes, state.mtime_ns, state.sha256, state.md5,
             state.reject_reason),
        )

    # --- media and observations -----------------------------------------------------------
    def has_media(self, media_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM media WHERE media_id = ?", (media_id,)).fetchone()
        return row is not None

    def media_ids(self) -> frozenset[str]:
        return frozenset(row[0] for row in self._db.execute("SELECT media_id FROM media"))

    def put_media(self, media: MediaRecord) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO media VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (media.media_id, media.md5, media.size_bytes, media.kind, media.format, media.width,
             media.height, media.duration_s, _dumps(media.derived), _dumps(media.raw_metadata)),
        )

    def media(self, media_id: str) -> MediaRecord | None:
        row = self._db.execute("SELECT * FROM media WHERE media_id = ?", (media_id,)).fetchone()
        return _media_from_row(row) if row else None

    def observed_media(self) -> list[MediaRecord]:
        """Every media with at least one observation in the current raw tree, by media_id."""
        rows = self._db.execute(
            "SELECT * FROM media WHERE media_id IN (SELECT media_id FROM observations)"
            " ORDER BY media_id"
        ).fetchall()
        return [_media_from_row(row) for row in rows]

    def put_observation(self, obs: Observation) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO observations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (obs.path, obs.media_id, obs.incident, obs.source, obs.posted_at, obs.url,
             obs.account, obs.provenance_origin),
        )

    def observation(self, path: str) -> Observation | None:
        row = self._db.execute("SELECT * FROM observations WHERE path = ?", (path,)).fetchone()
        return Observation(**dict(row)) if row else None

    def observations(self) -> list[Observation]:
        rows = self._db.execute("SELECT * FROM observations ORDER BY path").fetchall()
        return [Observation(**dict(row)) for row in rows]

    # --- rejects --------------------------------------------------------------------------
    def put_reject(self, reject: Reject) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO rejects VALUES (?, ?, ?)",
            (reject.path, reject.reason, reject.sha256),
        )

    def rejects(self) -> list[Reject]:
        rows = self._db.execute("SELECT * FROM rejects ORDER BY path").fetchall()
        return [Reject(**dict(row)) for row in rows]

    def retain_rejects(self, paths: Iterable[str]) -> None:
        """Keep only these reject rows: the rejects of the run that just looked at every file."""
        keep = set(paths)
        for (path,) in self._db.execute("SELECT path FROM rejects").fetchall():
            if path not in keep:
                self._db.execute("DELETE FROM rejects WHERE path = ?", (path,))

    def forget_paths_except(self, present: Iterable[str]) -> list[str]:
        """Drop observations, rejects and stat-cache rows of paths no longer in the raw tree.

        Returns the dropped paths so the caller can log them: a file vanishing from the
        evidence tree is a custody event.
        """
        keep = set(present)
        gone: set[str] = set()
        for table in ("observations", "rejects", "file_state"):
            for (path,) in self._db.execute(f"SELECT path FROM {table}").fetchall():  # noqa: S608
                if path not in keep:
                    gone.add(path)
                    self._db.execute(f"DELETE FROM {table} WHERE path = ?", (path,))  # noqa: S608
        return sorted(gone)

    # --- runs -----------------------------------------------------------------------------
    def start_run(self, command: str, started_at: str, config_hash: str, code_version: str) -> int:
        cursor = self._db.execute(
            "INSERT INTO runs (command, started_at, status, config_hash, code_version)"
            " VALUES (?, ?, 'running', ?, ?)",
            (command, started_at, config_hash, code_version),
        )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, finished_at: str, status: str,
                   counts: dict[str, Any], errors: list[str]) -> None:
        self._db.execute(
            "UPDATE runs SET finished_at = ?, status = ?, counts_json = ?, errors_json = ?"
            " WHERE run_id = ?",
            (finished_at, status, _dumps(counts), _dumps(errors), run_id),
        )

    def runs(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self._db.execute("SELECT * FROM runs ORDER BY run_id")]

    # --- custody log (the catalog's copy; the JSON-lines file mirrors it) -----------------
    def append_custody(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Seal an entry onto the chain inside the current transaction and return it."""
        row = self._db.execute(
            "SELECT seq, entry_hash FROM custody ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, prev = (int(row["seq"]) + 1, str(row["entry_hash"])) if row else (1, GENESIS_HASH)
        entry = seal_entry(fields, seq, prev)
        self._db.execute(
            "INSERT INTO custody VALUES (?, ?, ?)", (seq, entry["entry_hash"], _dumps(entry))
        )
        return entry

    def custody_entries(self, after_seq: int = 0) -> list[str]:
        rows = self._db.execute(
            "SELECT entry_json FROM custody WHERE seq > ? ORDER BY seq", (after_seq,)
        ).fetchall()
        return [str(row["entry_json"]) for row in rows]

    def custody_head(self) -> tuple[int, str]:
        row = self._db.execute(
            "SELECT seq, entry_hash FROM custody ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (int(row["seq"]), str(row["entry_hash"])) if row else (0, GENESIS_HASH)


def _media_from_row(row: sqlite3.Row) -> MediaRecord:
    return MediaRecord(
        media_id=row["media_id"], md5=row["md5"], size_bytes=row["size_bytes"], kind=row["kind"],
        format=row["format"], width=row["width"], height=row["height"],
        duration_s=row["duration_s"], derived=json.loads(row["derived_json"]),
        raw_metadata=json.loads(row["raw_metadata_json"]),
    )
