"""The catalog database (SQLite, WAL): the one owner of every table and its migrations.

Stages talk to the catalog through these methods, never through SQL of their own. Each
unit of work (one file ingested, one video's frames) is committed in one transaction, so a
killed run leaves either all of a unit or none of it.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.core.custody import GENESIS_HASH, Anchor, SealedRow, seal_entry
from pipeline.core.records import (
    Detection,
    FaceRow,
    FeatureRow,
    FrameKey,
    FrameMatchRow,
    FrameRef,
    FrameState,
    HashedFrame,
    HashRow,
    IndexEntry,
    MediaRecord,
    Observation,
    Reject,
    StoredBox,
    StoredFrame,
    TrackRow,
)
from pipeline.core.relations import MediaMatch
from pipeline.core.review import Decision
from pipeline.core.shots import SampledFrame
from pipeline.core.signatures import ListMatch
from pipeline.io import crashpoints
from pipeline.io.atomic import refuse_unsafe_file


def _generation_triggers(tables: tuple[str, ...]) -> str:
    """A counter per table and the triggers that bump it on every row changed."""
    script = ""
    for table in tables:  # names from the migration's own literal list, never from input
        script += f"INSERT INTO generations (name) VALUES ('{table}');\n"  # noqa: S608
        for event in ("INSERT", "UPDATE", "DELETE"):
            bump = f"UPDATE generations SET generation = generation + 1 WHERE name = '{table}'"  # noqa: S608
            name = f"generation_{table}_{event.lower()}"
            script += f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {bump}; END;\n"
    return script


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
        provenance_origin TEXT NOT NULL DEFAULT '',
        fs_path_hex TEXT NOT NULL DEFAULT ''
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
    """
    CREATE TABLE frame_state (
        media_id TEXT PRIMARY KEY REFERENCES media(media_id),
        params_hash TEXT NOT NULL,
        frames INTEGER NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        command_json TEXT NOT NULL DEFAULT '[]'
    );
    CREATE TABLE frames (
        media_id TEXT NOT NULL REFERENCES media(media_id),
        frame_index INTEGER NOT NULL,
        pts_s REAL,
        shot_id INTEGER NOT NULL,
        scene_score REAL NOT NULL,
        reason TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        thumb_sha256 TEXT NOT NULL,
        PRIMARY KEY (media_id, frame_index)
    );
    CREATE TABLE hashes (
        media_id TEXT NOT NULL,
        frame_index INTEGER NOT NULL,
        params_hash TEXT NOT NULL,
        pdq BLOB NOT NULL,
        pdq_mirror BLOB NOT NULL,
        pdq_quality INTEGER NOT NULL,
        phash BLOB NOT NULL,
        phash_mirror BLOB NOT NULL,
        box_left INTEGER NOT NULL,
        box_top INTEGER NOT NULL,
        box_right INTEGER NOT NULL,
        box_bottom INTEGER NOT NULL,
        uniform INTEGER NOT NULL,
        grey_std REAL NOT NULL,
        PRIMARY KEY (media_id, frame_index),
        FOREIGN KEY (media_id, frame_index) REFERENCES frames(media_id, frame_index)
    );
    """,
    """
    CREATE TABLE index_entries (
        entry_id INTEGER PRIMARY KEY,
        media_id TEXT NOT NULL,
        frame_index INTEGER NOT NULL,
        params_hash TEXT NOT NULL,
        UNIQUE (media_id, frame_index)
    );
    CREATE TABLE frame_matches (
        media_a TEXT NOT NULL,
        frame_a INTEGER NOT NULL,
        media_b TEXT NOT NULL,
        frame_b INTEGER NOT NULL,
        distance INTEGER NOT NULL,
        method TEXT NOT NULL,
        PRIMARY KEY (media_a, frame_a, media_b, frame_b)
    );
    CREATE TABLE media_matches (
        media_a TEXT NOT NULL,
        media_b TEXT NOT NULL,
        relation TEXT NOT NULL,
        distance INTEGER NOT NULL,
        a_start_s REAL,
        a_end_s REAL,
        b_start_s REAL,
        b_end_s REAL,
        frames_agreeing INTEGER NOT NULL,
        method TEXT NOT NULL
    );
    CREATE TABLE detections (
        media_id TEXT NOT NULL,
        frame_index INTEGER NOT NULL,
        detector TEXT NOT NULL,
        boxes_json TEXT NOT NULL,
        people INTEGER NOT NULL,
        PRIMARY KEY (media_id, frame_index, detector)
    );
    CREATE TABLE features (
        media_id TEXT NOT NULL,
        frame_index INTEGER NOT NULL,
        params_hash TEXT NOT NULL,
        points BLOB NOT NULL,
        descriptors BLOB NOT NULL,
        searched_params TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (media_id, frame_index)
    );
    """,
    # 4: reviewers' decisions, an append-only audit log (triggers refuse edits and deletes).
    """
    CREATE TABLE review_decisions (
        decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
        time_utc TEXT NOT NULL,
        reviewer TEXT NOT NULL,
        action TEXT NOT NULL,
        subject_json TEXT NOT NULL,
        value_json TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TRIGGER review_decisions_no_update BEFORE UPDATE ON review_decisions
    BEGIN SELECT RAISE(ABORT, 'review decisions are append-only'); END;
    CREATE TRIGGER review_decisions_no_delete BEFORE DELETE ON review_decisions
    BEGIN SELECT RAISE(ABORT, 'review decisions are append-only'); END;
    """,
    # 5: content generations: every insert, update or delete of a watched table bumps its
    # counter in the same transaction (triggers, so no writer can forget), which lets a step
    # whose inputs did not move skip its work (derived_state), and a run tell whether it
    # changed anything. runs.summary_json keeps the run's timings and outcome.
    """
    CREATE TABLE generations (
        name TEXT PRIMARY KEY,
        generation INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE derived_state (
        step TEXT PRIMARY KEY,
        inputs_key TEXT NOT NULL,
        outputs_json TEXT NOT NULL DEFAULT '{}'
    );
    ALTER TABLE runs ADD COLUMN summary_json TEXT NOT NULL DEFAULT '{}';
    """
    + _generation_triggers(
        (
            "media",
            "observations",
            "rejects",
            "file_state",
            "frame_state",
            "frames",
            "hashes",
            "index_entries",
            "frame_matches",
            "media_matches",
            "detections",
            "features",
            "review_decisions",
        )
    ),
    # 6 (issue 18): the hash-sharing
    # ecosystem's standard signatures per media (PDQ of the whole still, vPDQ per-frame text
    # of a video; MD5 and SHA-256 are in media), and what hash lists matched.
    """
    CREATE TABLE signatures (
        media_id TEXT PRIMARY KEY,
        params_hash TEXT NOT NULL,
        signal_type TEXT NOT NULL,
        signal TEXT NOT NULL,
        quality INTEGER NOT NULL,
        frames INTEGER NOT NULL,
        error TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE list_matches (
        list_name TEXT NOT NULL,
        entry INTEGER NOT NULL,
        label TEXT NOT NULL,
        media_id TEXT NOT NULL,
        signal_type TEXT NOT NULL,
        distance INTEGER NOT NULL,
        media_start_s REAL,
        media_end_s REAL,
        matched_percent REAL,
        PRIMARY KEY (list_name, entry, media_id, signal_type)
    );
    CREATE TABLE checked_lists (
        list_name TEXT PRIMARY KEY,
        inputs_key TEXT NOT NULL,
        list_sha256 TEXT NOT NULL,
        entries INTEGER NOT NULL,
        checked_at TEXT NOT NULL
    );
    """
    + _generation_triggers(("signatures", "list_matches")),
    # 7 (issue 15): every media relation says what decided it.
    """
    ALTER TABLE media_matches ADD COLUMN reason TEXT NOT NULL DEFAULT '';
    """,
    # 8 (issue 18): TMK+PDQF per video, the reference `.tmk` file's
    # bytes (~260 KB each), written with the video's signatures row under its params_hash;
    # a list match's score (TMK's level-2 score, where a bit distance means nothing).
    """
    CREATE TABLE tmk_signatures (
        media_id TEXT PRIMARY KEY,
        params_hash TEXT NOT NULL,
        tmk BLOB NOT NULL,
        error TEXT NOT NULL DEFAULT ''
    );
    ALTER TABLE list_matches ADD COLUMN score REAL;
    """
    + _generation_triggers(("tmk_signatures",)),
    # 9 (issue 16): faces found by the detector,
    # described once per face and describer. descriptor is NULL for a face too small to
    # describe. Descriptors are personal data: they stay here, never in an export.
    """
    CREATE TABLE faces (
        media_id TEXT NOT NULL,
        frame_index INTEGER NOT NULL,
        face_index INTEGER NOT NULL,
        describer TEXT NOT NULL,
        box_json TEXT NOT NULL,
        descriptor BLOB,
        PRIMARY KEY (media_id, frame_index, describer, face_index)
    );
    """
    + _generation_triggers(("faces",)),
    # 10 (issue 16): people followed within a shot (core/tracks), one set per shot, with the
    # tracker that made it (the detector's name and the tracking settings): a proposal for
    # reviewers, written by the count stage from its detections, never a bound by itself.
    """
    CREATE TABLE tracks (
        media_id TEXT NOT NULL,
        shot_id INTEGER NOT NULL,
        tracker TEXT NOT NULL,
        track_index INTEGER NOT NULL,
        label TEXT NOT NULL,
        boxes_json TEXT NOT NULL,
        PRIMARY KEY (media_id, shot_id, tracker, track_index)
    );
    """
    + _generation_triggers(("tracks",)),
    # 11: unused (it was reserved for dedupe's scaling work, which needed no table: its
    # descriptor index is a file under processed/index/); kept so the numbers stay stable.
    "",
    # 12 (issue 15, precision): the evidence of each frame match (inliers, the matched
    # region's coverage of each picture, content blocks agreeing after the warp; NULL for a
    # plain PDQ match) and of each media relation (frames compared, and its best frame
    # match's evidence), so a reviewer sees why two files were called the same.
    """
    ALTER TABLE frame_matches ADD COLUMN inliers INTEGER;
    ALTER TABLE frame_matches ADD COLUMN coverage_a REAL;
    ALTER TABLE frame_matches ADD COLUMN coverage_b REAL;
    ALTER TABLE frame_matches ADD COLUMN agreement REAL;
    ALTER TABLE media_matches ADD COLUMN frames_compared INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE media_matches ADD COLUMN inliers INTEGER;
    ALTER TABLE media_matches ADD COLUMN coverage_a REAL;
    ALTER TABLE media_matches ADD COLUMN coverage_b REAL;
    ALTER TABLE media_matches ADD COLUMN pixel_agreement REAL;
    """,
)


# An identical row is left alone (no write, no generation bump): a rerun over unchanged
# files writes nothing.
_SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")  # SQLite opens these by name beside the database

_PUT_OBSERVATION = """
    INSERT INTO observations VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET
        media_id = excluded.media_id, incident = excluded.incident, source = excluded.source,
        posted_at = excluded.posted_at, url = excluded.url, account = excluded.account,
        provenance_origin = excluded.provenance_origin, fs_path_hex = excluded.fs_path_hex
    WHERE media_id IS NOT excluded.media_id OR incident IS NOT excluded.incident
        OR source IS NOT excluded.source OR posted_at IS NOT excluded.posted_at
        OR url IS NOT excluded.url OR account IS NOT excluded.account
        OR provenance_origin IS NOT excluded.provenance_origin
        OR fs_path_hex IS NOT excluded.fs_path_hex
"""


@dataclass(frozen=True)
class FileState:
    """The stat cache: what a path held when it was last hashed, and what came of it."""

    path: str
    size_bytes: int
    mtime_ns: int
    sha256: str
    md5: str
    reject_reason: str = ""


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements; a trigger's body holds semicolons of its own."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending.strip()
            pending = ""
    if pending.strip():
        yield pending.strip()


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Catalog:
    """A connection to `processed/catalog.sqlite`, migrated to the newest schema on open."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for written_in_place in (path, *(Path(f"{path}{end}") for end in _SQLITE_SIDE_FILES)):
            refuse_unsafe_file(written_in_place)  # SQLite would write through a link
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
                for statement in _statements(script):
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
        crashpoints.reached("catalog transaction about to commit")
        self._db.execute("COMMIT")
        crashpoints.reached("catalog transaction committed")

    @contextmanager
    def tables_read(self) -> Iterator[set[str]]:
        """The set of tables (of the schema's own, not SQLite's) that statements read while
        inside, filled as they run: how a test checks a stage's declared inputs against what
        it actually reads (sqlite3's authorizer sees every column read)."""
        found: set[str] = set()

        def authorize(action: int, table: str | None, *_: str | None) -> int:
            if action == sqlite3.SQLITE_READ and table and not table.startswith("sqlite_"):
                found.add(table)
            return sqlite3.SQLITE_OK

        self._db.set_authorizer(authorize)
        try:
            yield found
        finally:
            self._db.set_authorizer(None)

    @contextmanager
    def queries(self) -> Iterator[list[str]]:
        """Every SELECT statement run while inside, as SQLite ran it: how a test checks that
        a stage reads each table once per run."""
        found: list[str] = []

        def trace(statement: str) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                found.append(statement)

        self._db.set_trace_callback(trace)
        try:
            yield found
        finally:
            self._db.set_trace_callback(None)

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
            (
                state.path,
                state.size_bytes,
                state.mtime_ns,
                state.sha256,
                state.md5,
                state.reject_reason,
            ),
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
            (
                media.media_id,
                media.md5,
                media.size_bytes,
                media.kind,
                media.format,
                media.width,
                media.height,
                media.duration_s,
                _dumps(media.derived),
                _dumps(media.raw_metadata),
            ),
        )

    def media(self, media_id: str) -> MediaRecord | None:
        row = self._db.execute("SELECT * FROM media WHERE media_id = ?", (media_id,)).fetchone()
        return _media_from_row(row) if row else None

    def media_records(self) -> list[MediaRecord]:
        """Every media ever ingested (observed now or not), by media_id."""
        rows = self._db.execute("SELECT * FROM media ORDER BY media_id").fetchall()
        return [_media_from_row(row) for row in rows]

    def observed_media(self) -> list[MediaRecord]:
        """Every media with at least one observation in the current raw tree, by media_id."""
        rows = self._db.execute(
            "SELECT * FROM media WHERE media_id IN (SELECT media_id FROM observations)"
            " ORDER BY media_id"
        ).fetchall()
        return [_media_from_row(row) for row in rows]

    def put_observation(self, obs: Observation, fs_path: str) -> None:
        """fs_path: the os-level path relative to the raw root (it differs from obs.path only
        for names that are not valid UTF-8, whose display form escapes the bytes)."""
        fs_hex = "" if fs_path == obs.path else os.fsencode(fs_path).hex()
        self._db.execute(
            _PUT_OBSERVATION,
            (
                obs.path,
                obs.media_id,
                obs.incident,
                obs.source,
                obs.posted_at,
                obs.url,
                obs.account,
                obs.provenance_origin,
                fs_hex,
            ),
        )

    def observations(self) -> list[Observation]:
        rows = self._db.execute("SELECT * FROM observations ORDER BY path").fetchall()
        return [_observation(row) for row in rows]

    def incidents(self) -> list[str]:
        """Every incident with at least one observation, sorted."""
        rows = self._db.execute("SELECT DISTINCT incident FROM observations ORDER BY incident")
        return [str(row[0]) for row in rows]

    def media_files(self) -> dict[str, str]:
        """media_id -> one os-level raw path holding its bytes (the first by path)."""
        found: dict[str, str] = {}
        for row in self._db.execute("SELECT * FROM observations ORDER BY path"):
            if row["media_id"] not in found:
                found[row["media_id"]] = (
                    os.fsdecode(bytes.fromhex(row["fs_path_hex"]))
                    if row["fs_path_hex"]
                    else row["path"]
                )
        return found

    # --- rejects --------------------------------------------------------------------------
    def put_reject(self, reject: Reject) -> None:
        self._db.execute(
            "INSERT INTO rejects VALUES (?, ?, ?) ON CONFLICT (path) DO UPDATE SET"
            " reason = excluded.reason, sha256 = excluded.sha256"
            " WHERE reason IS NOT excluded.reason OR sha256 IS NOT excluded.sha256",
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

    # --- frames ---------------------------------------------------------------------------
    def frame_states(self) -> dict[str, FrameState]:
        rows = self._db.execute("SELECT media_id, params_hash, frames, error FROM frame_state")
        return {row["media_id"]: FrameState(**dict(row)) for row in rows}

    def replace_frames(
        self, state: FrameState, frames: list[StoredFrame], command: list[str]
    ) -> None:
        """Swap a media's frames (and drop their hashes) for a new sampling, atomically."""
        self._db.execute("DELETE FROM hashes WHERE media_id = ?", (state.media_id,))
        self._db.execute("DELETE FROM features WHERE media_id = ?", (state.media_id,))
        self._db.execute("DELETE FROM frames WHERE media_id = ?", (state.media_id,))
        self._db.executemany(
            "INSERT INTO frames VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    f.media_id,
                    f.frame.frame_index,
                    f.frame.pts_s,
                    f.frame.shot_id,
                    f.frame.scene_score,
                    f.frame.reason,
                    f.width,
                    f.height,
                    f.thumb_sha256,
                )
                for f in frames
            ],
        )
        self._db.execute(
            "INSERT OR REPLACE INTO frame_state VALUES (?, ?, ?, ?, ?)",
            (state.media_id, state.params_hash, state.frames, state.error, _dumps(command)),
        )

    def frames(self, media_id: str | None = None) -> list[StoredFrame]:
        query = "SELECT * FROM frames"
        args: tuple[str, ...] = ()
        if media_id is not None:
            query += " WHERE media_id = ?"
            args = (media_id,)
        rows = self._db.execute(query + " ORDER BY media_id, frame_index", args).fetchall()
        return [
            StoredFrame(
                row["media_id"],
                SampledFrame(
                    row["frame_index"],
                    row["pts_s"],
                    row["shot_id"],
                    row["scene_score"],
                    row["reason"],
                ),
                row["width"],
                row["height"],
                row["thumb_sha256"],
            )
            for row in rows
        ]

    # --- hashes ---------------------------------------------------------------------------
    def frames_without_hashes(self, params_hash: str) -> list[FrameRef]:
        """Frames with no hash under these params, by media_id and frame_index."""
        rows = self._db.execute(
            "SELECT f.media_id, f.frame_index, f.thumb_sha256, f.reason FROM frames f"
            " LEFT JOIN hashes h"
            " ON h.media_id = f.media_id AND h.frame_index = f.frame_index"
            " AND h.params_hash = ? WHERE h.media_id IS NULL ORDER BY f.media_id, f.frame_index",
            (params_hash,),
        ).fetchall()
        return [FrameRef(row[0], row[1], row[2], row[3]) for row in rows]

    def put_hash_rows(self, rows: Sequence[HashRow]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r.media_id,
                    r.frame_index,
                    r.params_hash,
                    r.pdq,
                    r.pdq_mirror,
                    r.pdq_quality,
                    r.phash,
                    r.phash_mirror,
                    r.box_left,
                    r.box_top,
                    r.box_right,
                    r.box_bottom,
                    int(r.uniform),
                    r.grey_std,
                )
                for r in rows
            ],
        )

    def hashes(self) -> list[HashRow]:
        """Every row of the hashes table, by media_id and frame_index."""
        rows = self._db.execute("SELECT * FROM hashes ORDER BY media_id, frame_index")
        return [_hash_row(row) for row in rows]

    def hash_rows(self) -> list[HashedFrame]:
        """Every hashed frame with its time and shot, by media_id and frame_index."""
        rows = self._db.execute(
            "SELECT h.*, f.pts_s, f.shot_id FROM hashes h JOIN frames f"
            " ON f.media_id = h.media_id AND f.frame_index = h.frame_index"
            " ORDER BY h.media_id, h.frame_index"
        ).fetchall()
        return [HashedFrame(_hash_row(row), row["pts_s"], row["shot_id"]) for row in rows]

    # --- dedupe index and frame matches ----------------------------------------------------
    def index_entries(self) -> list[IndexEntry]:
        rows = self._db.execute(
            "SELECT entry_id, media_id, frame_index, params_hash FROM index_entries"
            " ORDER BY entry_id"
        ).fetchall()
        return [IndexEntry(row[0], row[1], row[2], row[3]) for row in rows]

    def reset_index(self) -> None:
        """Forget the index and every frame match (parameters changed: start over)."""
        self._db.execute("DELETE FROM index_entries")
        self._db.execute("DELETE FROM frame_matches")
        self._db.execute("UPDATE features SET searched_params = ''")

    def add_index_entries(self, entries: Sequence[IndexEntry]) -> None:
        self._db.executemany(
            "INSERT INTO index_entries VALUES (?, ?, ?, ?)",
            [(e.entry_id, e.media_id, e.frame_index, e.params_hash) for e in entries],
        )

    def add_frame_matches(self, matches: Sequence[FrameMatchRow]) -> None:
        """Insert frame matches; a pair found again keeps its first method, its smaller
        distance and its first measured evidence (core/alignment.merge_frame_matches is the
        same rule in memory)."""
        self._db.executemany(
            "INSERT INTO frame_matches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO"
            " UPDATE SET distance = MIN(distance, excluded.distance),"
            # A `scene` match found again as the same picture takes the new method and
            # evidence (core/alignment.merge_frame_matches is the same rule in memory).
            " inliers = CASE WHEN method = 'scene' AND excluded.method != 'scene'"
            " THEN excluded.inliers ELSE COALESCE(inliers, excluded.inliers) END,"
            " coverage_a = CASE WHEN method = 'scene' AND excluded.method != 'scene'"
            " THEN excluded.coverage_a ELSE COALESCE(coverage_a, excluded.coverage_a) END,"
            " coverage_b = CASE WHEN method = 'scene' AND excluded.method != 'scene'"
            " THEN excluded.coverage_b ELSE COALESCE(coverage_b, excluded.coverage_b) END,"
            " agreement = CASE WHEN method = 'scene' AND excluded.method != 'scene'"
            " THEN excluded.agreement ELSE COALESCE(agreement, excluded.agreement) END,"
            " method = CASE WHEN method = 'scene' THEN excluded.method ELSE method END",
            [
                (
                    m.media_a,
                    m.frame_a,
                    m.media_b,
                    m.frame_b,
                    m.distance,
                    m.method,
                    m.inliers,
                    m.coverage_a,
                    m.coverage_b,
                    m.agreement,
                )
                for m in matches
            ],
        )

    def frame_matches(self) -> list[FrameMatchRow]:
        rows = self._db.execute(
            "SELECT media_a, frame_a, media_b, frame_b, distance, method, inliers, coverage_a,"
            " coverage_b, agreement FROM frame_matches ORDER BY media_a, frame_a, media_b, frame_b"
        ).fetchall()
        return [FrameMatchRow(*row) for row in rows]

    # --- media relations (the dedupe stage's result, for count and review) -----------------
    def replace_media_matches(self, matches: list[MediaMatch]) -> None:
        self._db.execute("DELETE FROM media_matches")
        self._db.executemany(
            "INSERT INTO media_matches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    m.media_a,
                    m.media_b,
                    m.relation,
                    m.distance,
                    m.a_start_s,
                    m.a_end_s,
                    m.b_start_s,
                    m.b_end_s,
                    m.frames_agreeing,
                    m.method,
                    m.reason,
                    m.frames_compared,
                    m.inliers,
                    m.coverage_a,
                    m.coverage_b,
                    m.pixel_agreement,
                )
                for m in matches
            ],
        )

    def media_matches(self) -> list[MediaMatch]:
        rows = self._db.execute("SELECT * FROM media_matches ORDER BY media_a, media_b, a_start_s")
        return [MediaMatch(**dict(row)) for row in rows]

    # --- detections (proposals) -------------------------------------------------------------
    def detections(self, detector: str) -> dict[FrameKey, Detection]:
        rows = self._db.execute(
            "SELECT media_id, frame_index, people, boxes_json FROM detections WHERE detector = ?",
            (detector,),
        )
        return {(row[0], row[1]): Detection(row[2], row[3]) for row in rows}

    def detection_boxes(self) -> dict[FrameKey, list[StoredBox]]:
        """Every stored proposal's boxes by frame (the first detector by name when several
        looked at one frame), for drawing in the report."""
        rows = self._db.execute(
            "SELECT media_id, frame_index, boxes_json FROM detections"
            " ORDER BY media_id, frame_index, detector"
        )
        boxes: dict[FrameKey, list[StoredBox]] = {}
        for row in rows:
            if (row[0], row[1]) not in boxes:
                boxes[(row[0], row[1])] = [StoredBox.from_json(b) for b in json.loads(row[2])]
        return boxes

    def put_detection(
        self, media_id: str, frame_index: int, detector: str, boxes_json: str, people: int
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO detections VALUES (?, ?, ?, ?, ?)",
            (media_id, frame_index, detector, boxes_json, people),
        )

    # --- tracks (people followed within a shot) -------------------------------------------
    def put_tracks(self, tracker: str, unit: tuple[str, int], rows: Sequence[TrackRow]) -> None:
        """Replace one shot's tracks with these, made by `tracker` (one set per shot: the
        latest count's); unchanged tracks are left alone (no write, no generation bump), so
        a rerun writes nothing."""
        media_id, shot_id = unit
        stored = self._db.execute(
            "SELECT tracker, track_index, label, boxes_json FROM tracks"
            " WHERE media_id = ? AND shot_id = ? ORDER BY track_index",
            (media_id, shot_id),
        ).fetchall()
        wanted = [(tracker, r.track_index, r.label, r.boxes_json) for r in rows]
        if [tuple(row) for row in stored] == wanted:
            return
        self._db.execute(
            "DELETE FROM tracks WHERE media_id = ? AND shot_id = ?", (media_id, shot_id)
        )
        self._db.executemany(
            "INSERT INTO tracks VALUES (?, ?, ?, ?, ?, ?)",
            [(media_id, shot_id, *row) for row in wanted],
        )

    def tracks(self) -> list[TrackRow]:
        """Every shot's tracks, for the report and the review app."""
        rows = self._db.execute(
            "SELECT media_id, shot_id, track_index, label, boxes_json FROM tracks"
            " ORDER BY media_id, shot_id, track_index"
        )
        return [TrackRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    # --- faces (descriptors stay local) ------------------------------------------------------
    def faces(self, describer: str) -> list[FaceRow]:
        rows = self._db.execute(
            "SELECT media_id, frame_index, face_index, box_json, descriptor FROM faces"
            " WHERE describer = ? ORDER BY media_id, frame_index, face_index",
            (describer,),
        )
        return [FaceRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def face_boxes(self) -> dict[str, StoredBox]:
        """Every stored face's box by face ref `<media_id>#<frame_index>#<face_index>` (the
        first describer by name), for the report's gallery: boxes only, no descriptor."""
        rows = self._db.execute(
            "SELECT media_id, frame_index, face_index, box_json FROM faces"
            " ORDER BY media_id, frame_index, face_index, describer"
        )
        boxes: dict[str, StoredBox] = {}
        for row in rows:
            ref = f"{row[0]}#{row[1]}#{row[2]}"
            if ref not in boxes:
                boxes[ref] = StoredBox.from_json(json.loads(row[3]), label="face")
        return boxes

    def faces_described(self) -> int:
        """Faces stored under any describer (what a switch-off must leave at 0)."""
        return int(self._db.execute("SELECT COUNT(*) FROM faces").fetchone()[0])

    def put_faces(self, describer: str, rows: Sequence[FaceRow]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO faces VALUES (?, ?, ?, ?, ?, ?)",
            [
                (r.media_id, r.frame_index, r.face_index, describer, r.box_json, r.descriptor)
                for r in rows
            ],
        )

    # --- local features (crop path) ------------------------------------------------------
    def put_feature_rows(self, rows: Sequence[FeatureRow]) -> None:
        """Store features (their searched mark starts empty: the next dedupe searches them)."""
        self._db.executemany(
            "INSERT OR REPLACE INTO features (media_id, frame_index, params_hash, points,"
            " descriptors) VALUES (?, ?, ?, ?, ?)",
            [(r.media_id, r.frame_index, r.params_hash, r.points, r.descriptors) for r in rows],
        )

    def feature_rows(self) -> list[FeatureRow]:
        rows = self._db.execute("SELECT * FROM features ORDER BY media_id, frame_index")
        return [
            FeatureRow(
                row["media_id"],
                row["frame_index"],
                row["params_hash"],
                bytes(row["points"]),
                bytes(row["descriptors"]),
                row["searched_params"],
            )
            for row in rows
        ]

    def mark_features_searched(self, keys: list[tuple[str, int]], params: str) -> None:
        self._db.executemany(
            "UPDATE features SET searched_params = ? WHERE media_id = ? AND frame_index = ?",
            [(params, media_id, frame) for media_id, frame in keys],
        )

    # --- review decisions (append-only) ---------------------------------------------------
    def append_decision(
        self,
        time_utc: str,
        reviewer: str,
        action: str,
        subject: dict[str, Any],
        value: dict[str, Any],
        reason: str,
    ) -> int:
        cursor = self._db.execute(
            "INSERT INTO review_decisions (time_utc, reviewer, action, subject_json, value_json,"
            " reason) VALUES (?, ?, ?, ?, ?, ?)",
            (time_utc, reviewer, action, _dumps(subject), _dumps(value), reason),
        )
        return int(cursor.lastrowid or 0)

    def decisions(self) -> list[Decision]:
        rows = self._db.execute("SELECT * FROM review_decisions ORDER BY decision_id")
        return [
            Decision(
                decision_id=row["decision_id"],
                time_utc=row["time_utc"],
                reviewer=row["reviewer"],
                action=row["action"],
                subject=json.loads(row["subject_json"]),
                value=json.loads(row["value_json"]),
                reason=row["reason"],
            )
            for row in rows
        ]

    # --- content generations and derived outputs ------------------------------------------
    def generations(self) -> dict[str, int]:
        """Per watched table, a counter that every change bumps (migration 5's triggers)."""
        rows = self._db.execute("SELECT name, generation FROM generations ORDER BY name")
        return {row[0]: int(row[1]) for row in rows}

    def derived_state(self, step: str) -> DerivedState | None:
        """What the step recorded when it last wrote its outputs."""
        row = self._db.execute(
            "SELECT inputs_key, outputs_json FROM derived_state WHERE step = ?", (step,)
        ).fetchone()
        return DerivedState(str(row[0]), json.loads(row[1])) if row else None

    def put_derived_state(self, step: str, inputs_key: str, outputs: dict[str, str]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO derived_state VALUES (?, ?, ?)",
            (step, inputs_key, _dumps(outputs)),
        )

    def forget_derived_states(self) -> None:
        """Every step recomputes its outputs on its next run (`run --full`)."""
        self._db.execute("DELETE FROM derived_state")

    # --- runs -----------------------------------------------------------------------------
    def start_run(self, command: str, started_at: str, config_hash: str, code_version: str) -> int:
        cursor = self._db.execute(
            "INSERT INTO runs (command, started_at, status, config_hash, code_version)"
            " VALUES (?, ?, 'running', ?, ?)",
            (command, started_at, config_hash, code_version),
        )
        return int(cursor.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        finished_at: str,
        status: str,
        counts: dict[str, Any],
        errors: list[str],
        summary: dict[str, Any] | None = None,
    ) -> None:
        self._db.execute(
            "UPDATE runs SET finished_at = ?, status = ?, counts_json = ?, errors_json = ?,"
            " summary_json = ? WHERE run_id = ?",
            (finished_at, status, _dumps(counts), _dumps(errors), _dumps(summary or {}), run_id),
        )

    def runs(self) -> list[RunRecord]:
        return [
            RunRecord(**dict(row)) for row in self._db.execute("SELECT * FROM runs ORDER BY run_id")
        ]

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

    def custody_entry_hash(self, seq: int) -> str | None:
        """The entry_hash recorded with entry `seq` (None when the catalog has no such entry)."""
        row = self._db.execute("SELECT entry_hash FROM custody WHERE seq = ?", (seq,)).fetchone()
        return str(row[0]) if row else None

    def custody_rows(self) -> list[SealedRow]:
        """Every entry of the catalog's copy of the log: what `verify` checks."""
        rows = self._db.execute("SELECT seq, entry_hash, entry_json FROM custody ORDER BY seq")
        return [SealedRow(int(row[0]), str(row[1]), str(row[2])) for row in rows]

    def custody_head(self) -> Anchor:
        """The last sealed entry (seq 0 and the genesis hash for an empty log)."""
        row = self._db.execute(
            "SELECT seq, entry_hash FROM custody ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return Anchor(int(row["seq"]), str(row["entry_hash"])) if row else Anchor(0, GENESIS_HASH)

    # --- standard signatures and hash-list matches (migration 6) --------------------------
    def media_without_signatures(self, params_hash: str) -> list[MediaToSign]:
        """Observed media with no signature row under these parameters, by media_id."""
        rows = self._db.execute(
            "SELECT m.media_id, m.kind FROM media m LEFT JOIN signatures s"
            " ON s.media_id = m.media_id AND s.params_hash = ?"
            " WHERE s.media_id IS NULL AND m.media_id IN (SELECT media_id FROM observations)"
            " ORDER BY m.media_id",
            (params_hash,),
        ).fetchall()
        return [MediaToSign(str(row[0]), str(row[1])) for row in rows]

    def put_signature(self, signature: StoredSignature) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO signatures VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                signature.media_id,
                signature.params_hash,
                signature.signal_type,
                signature.signal,
                signature.quality,
                signature.frames,
                signature.error,
            ),
        )

    def put_tmk(self, media_id: str, params_hash: str, tmk: bytes, error: str) -> None:
        """A video's TMK+PDQF (empty with the reason when it could not be computed)."""
        self._db.execute(
            "INSERT OR REPLACE INTO tmk_signatures VALUES (?, ?, ?, ?)",
            (media_id, params_hash, tmk, error),
        )

    def tmk_signatures(self) -> dict[str, bytes]:
        """media_id -> `.tmk` bytes of every observed video that has one made with its
        current signatures (a video signed again without TMK keeps no stale one)."""
        rows = self._db.execute(
            "SELECT t.media_id, t.tmk FROM tmk_signatures t JOIN signatures s"
            " ON s.media_id = t.media_id AND s.params_hash = t.params_hash"
            " WHERE length(t.tmk) > 0"
            " AND t.media_id IN (SELECT media_id FROM observations) ORDER BY t.media_id"
        ).fetchall()
        return {str(row[0]): bytes(row[1]) for row in rows}

    def signatures(self) -> list[SignedMedia]:
        """Every observed media with its byte hashes and its stored signature (empty signal
        when it has none yet or it failed), by media_id."""
        rows = self._db.execute(
            "SELECT m.media_id, m.kind, m.md5, COALESCE(s.signal_type, ''),"
            " COALESCE(s.signal, ''), COALESCE(s.quality, 0), COALESCE(s.error, '')"
            " FROM media m LEFT JOIN signatures s ON s.media_id = m.media_id"
            " WHERE m.media_id IN (SELECT media_id FROM observations) ORDER BY m.media_id"
        ).fetchall()
        return [SignedMedia(*(row[i] for i in range(7))) for row in rows]

    def checked_list(self, list_name: str) -> CheckedList | None:
        row = self._db.execute(
            "SELECT * FROM checked_lists WHERE list_name = ?", (list_name,)
        ).fetchone()
        return CheckedList(**dict(row)) if row else None

    def replace_list_matches(self, checked: CheckedList, matches: list[ListMatch]) -> None:
        """Swap one list's matches for a new check of it, atomically with its record."""
        self._db.execute("DELETE FROM list_matches WHERE list_name = ?", (checked.list_name,))
        self._db.executemany(
            "INSERT OR REPLACE INTO list_matches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    m.list_name,
                    m.entry,
                    m.label,
                    m.media_id,
                    m.signal_type,
                    m.distance,
                    m.media_start_s,
                    m.media_end_s,
                    m.matched_percent,
                    m.score,
                )
                for m in matches
            ],
        )
        self._db.execute(
            "INSERT OR REPLACE INTO checked_lists VALUES (?, ?, ?, ?, ?)",
            (
                checked.list_name,
                checked.inputs_key,
                checked.list_sha256,
                checked.entries,
                checked.checked_at,
            ),
        )

    def list_matches(self) -> list[ListMatch]:
        rows = self._db.execute(
            "SELECT * FROM list_matches ORDER BY list_name, entry, media_id, signal_type"
        )
        return [ListMatch(**dict(row)) for row in rows]


@dataclass(frozen=True)
class MediaToSign:
    media_id: str
    kind: str


@dataclass(frozen=True)
class StoredSignature:
    """A media's standard perceptual signature: PDQ hex of a still, vPDQ per-frame text of a
    video; error says why there is none."""

    media_id: str
    params_hash: str
    signal_type: str
    signal: str
    quality: int
    frames: int
    error: str = ""


@dataclass(frozen=True)
class SignedMedia:
    media_id: str
    kind: str
    md5: str
    signal_type: str
    signal: str
    quality: int
    error: str


@dataclass(frozen=True)
class CheckedList:
    """When a hash list was last matched, against what (inputs_key) and how many entries."""

    list_name: str
    inputs_key: str
    list_sha256: str
    entries: int
    checked_at: str


@dataclass(frozen=True)
class RunRecord:
    """One command's run: what ran, with which configuration and code, and how it ended
    (counts, failed items and summary as the JSON they are stored as)."""

    run_id: int
    command: str
    started_at: str
    finished_at: str | None
    status: str
    config_hash: str
    code_version: str
    counts_json: str
    errors_json: str
    summary_json: str


@dataclass(frozen=True)
class DerivedState:
    """A derived step's inputs key and {output file: SHA-256} when it last wrote them."""

    inputs_key: str
    outputs: dict[str, str]


def _hash_row(row: sqlite3.Row) -> HashRow:
    return HashRow(
        media_id=row["media_id"],
        frame_index=row["frame_index"],
        params_hash=row["params_hash"],
        pdq=bytes(row["pdq"]),
        pdq_mirror=bytes(row["pdq_mirror"]),
        pdq_quality=row["pdq_quality"],
        phash=bytes(row["phash"]),
        phash_mirror=bytes(row["phash_mirror"]),
        box_left=row["box_left"],
        box_top=row["box_top"],
        box_right=row["box_right"],
        box_bottom=row["box_bottom"],
        uniform=bool(row["uniform"]),
        grey_std=row["grey_std"],
    )


def _observation(row: sqlite3.Row) -> Observation:
    values = dict(row)
    values.pop("fs_path_hex", None)
    return Observation(**values)


def _media_from_row(row: sqlite3.Row) -> MediaRecord:
    return MediaRecord(
        media_id=row["media_id"],
        md5=row["md5"],
        size_bytes=row["size_bytes"],
        kind=row["kind"],
        format=row["format"],
        width=row["width"],
        height=row["height"],
        duration_s=row["duration_s"],
        derived=json.loads(row["derived_json"]),
        raw_metadata=json.loads(row["raw_metadata_json"]),
    )
