"""The contract CSV files in DIR/processed (DESIGN.md, "Contract files"): their columns and
their one writer. Rows are sorted and values formatted deterministically, so an unchanged
catalog gives byte-identical files, and files are replaced atomically."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.io.atomic import write_bytes_atomic

if TYPE_CHECKING:
    import pandas as pd

MEDIA_COLUMNS = (
    "media_id",
    "kind",
    "width",
    "height",
    "duration_s",
    "first_seen",
    "md5",
    "size_bytes",
    "format",
    "codec",
    "fps",
    "rotation",
    "captured_at",
    "creation_time",
    "camera_make",
    "camera_model",
    "software",
    "gps_lat",
    "gps_lon",
    "orientation",
    "encoder",
)
OBSERVATION_COLUMNS = ("media_id", "incident", "source", "path", "posted_at", "url", "account")
REJECT_COLUMNS = ("path", "reason")


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value == value else ""
    return str(value)


def render_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(row.get(column)) for column in columns])
    return buffer.getvalue().encode("utf-8")


def write_contract_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """Write one contract file atomically; return the SHA-256 of its bytes (for custody)."""
    data = render_csv(columns, rows)
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def write_json(path: Path, value: Any) -> str:
    """Write a JSON export atomically, keys sorted so equal content gives equal bytes; return
    the SHA-256 of its bytes."""
    data = (json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


MATCH_COLUMNS = (
    "media_a",
    "media_b",
    "relation",
    "distance",
    "a_start_s",
    "a_end_s",
    "b_start_s",
    "b_end_s",
    "frames_agreeing",
    "method",
)
CLUSTER_COLUMNS = ("media_id", "cluster_id")
PROVENANCE_COLUMNS = (
    "cluster_id",
    "members",
    "sources",
    "observations",
    "first_seen",
    "first_seen_origin",
    "first_seen_media",
    "first_seen_where",
    "most_original",
    "disagreements",
)
COUNT_COLUMNS = (
    "incident",
    "minimum_count",
    "clique_bound",
    "upper_bound",
    "scenes",
    "reviewed",
    "minimum_confirmed_only",
    "contradictions",
    "explanation",
)
CERTIFICATE_COLUMNS = ("incident", "scene_id", "count", "count_origin", "weight", "media_ids")

# Every contract file under DIR/processed/, in the order the stages write them (DESIGN.md).
CONTRACT_FILES = (
    "media.csv",
    "observations.csv",
    "rejects.csv",
    "matches.csv",
    "clusters.csv",
    "cluster_provenance.csv",
    "counts.csv",
    "count_certificate.csv",
)


def read_contract_csv(path: Path) -> list[dict[str, str]]:
    """A contract file's rows as written, every value a string (empty when the file does not
    exist yet). The one reader of contract CSVs: report, review app, evaluation, API."""
    columns, rows = _read_table(path)
    return [dict(zip(columns, row, strict=False)) for row in rows]


def read_contract_frame(path: Path) -> pd.DataFrame:
    """A contract file (or any CSV with a header row) as a DataFrame of strings, empty cells
    as "" (never NaN), its columns even when it has no rows; FileNotFoundError when absent."""
    import pandas as pd  # ~0.3 s of imports: only for the callers that want a DataFrame

    if not path.exists():
        raise FileNotFoundError(path)
    columns, rows = _read_table(path)
    return pd.DataFrame(rows, columns=columns, dtype=str)


def _read_table(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], []
    lines = list(csv.reader(io.StringIO(text)))
    if not lines:
        return [], []
    width = len(lines[0])
    return lines[0], [(row + [""] * width)[:width] for row in lines[1:] if row]
