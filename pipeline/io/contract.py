"""The contract CSV files in DIR/processed (DESIGN.md, "Contract files"): their columns and
their one writer. Rows are sorted and values formatted deterministically, so an unchanged
catalog gives byte-identical files, and files are replaced atomically."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
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
    "metadata_warnings",
)
OBSERVATION_COLUMNS = ("media_id", "incident", "source", "path", "posted_at", "url", "account")
REJECT_COLUMNS = ("path", "reason")


# OWASP "CSV Injection": a cell a spreadsheet would run as a formula starts with one of these
# (and their full-width forms, which some spreadsheets fold to ASCII).
_FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def spreadsheet_safe(text: str) -> str:
    """Text that no spreadsheet runs as a formula (OWASP: prefix a single quote), undone by
    `from_spreadsheet_safe`. A text that already starts with the quote gets one more, so the
    prefix is never ambiguous; a plain number (`-37.1`) is left alone, it runs nothing."""
    if text and (text[0] == _QUOTE or (text[0] in _FORMULA_STARTS and not _NUMBER.fullmatch(text))):
        return _QUOTE + text
    return text


def from_spreadsheet_safe(cell: str) -> str:
    """The text `spreadsheet_safe` was given."""
    if len(cell) > 1 and cell[0] == _QUOTE and (cell[1] == _QUOTE or cell[1] in _FORMULA_STARTS):
        return cell[1:]
    return cell


def format_value(value: Any) -> str:
    """One cell: numbers in a fixed form, text neutralised for spreadsheets."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if value == value else ""
    if isinstance(value, int):
        return str(value)
    return spreadsheet_safe(str(value))


def render_csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> bytes:
    lines = [_csv_line(list(columns))]
    lines.extend(_csv_line([format_value(row.get(column)) for column in columns]) for row in rows)
    return "".join(lines).encode("utf-8")


def _csv_line(cells: list[str]) -> str:
    """One CSV record as Python's csv writer makes it (minimal quoting, `\n` ends it), except
    that a cell holding a carriage return is quoted too: the csv writer leaves a lone CR
    bare when the line ends in `\n`, and every reader then starts a new row there."""
    if cells == [""]:
        return '""\n'
    return ",".join(_quoted(cell) for cell in cells) + "\n"


def _quoted(cell: str) -> str:
    if any(char in cell for char in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


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
    "reason",
    "frames_compared",
    "inliers",
    "coverage_a",
    "coverage_b",
    "pixel_agreement",
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
    "minimum_without_faces",
    "face_identities",
)
CERTIFICATE_COLUMNS = ("incident", "scene_id", "count", "count_origin", "weight", "media_ids")
LIST_MATCH_COLUMNS = (
    "list",
    "entry",
    "label",
    "media_id",
    "signal_type",
    "distance",
    "media_start_s",
    "media_end_s",
    "matched_percent",
    "score",
)

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
    "list_matches.csv",
)


def read_contract_csv(path: Path) -> list[dict[str, str]]:
    """A contract file's rows, every value a string as it was before `spreadsheet_safe`
    (empty when the file does not exist yet). The one reader of contract CSVs: report, review
    app, evaluation, API."""
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
        text = path.read_bytes().decode("utf-8")  # no newline translation: a CR in a cell stays
    except FileNotFoundError:
        return [], []
    lines = list(csv.reader(io.StringIO(text, newline="")))
    if not lines:
        return [], []
    width = len(lines[0])
    return lines[0], [
        [from_spreadsheet_safe(cell) for cell in (row + [""] * width)[:width]]
        for row in lines[1:]
        if row
    ]
