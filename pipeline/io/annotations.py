"""Analysts' input: `DIR/annotations/<incident>/annotations.csv` and `disjoint.csv`.

Read exactly as DESIGN.md specifies and validated line by line: every problem is reported
with the file and line it is on, and a path from a CSV is never allowed to leave the
incident's raw folder.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pipeline.core.scenes import Annotation, Disjointness

ANNOTATION_COLUMNS = ("path", "t_s", "count", "scene", "note")
DISJOINT_COLUMNS = ("scene_a", "scene_b", "reason")
__all__ = [
    "ANNOTATION_COLUMNS",
    "DISJOINT_COLUMNS",
    "AnalystInput",
    "Annotation",
    "Disjointness",
    "analyst_input_fingerprint",
    "read_analyst_input",
    "safe_relative",
]


@dataclass(frozen=True)
class AnalystInput:
    annotations: tuple[Annotation, ...]
    disjoint: tuple[Disjointness, ...]
    errors: tuple[str, ...]  # "file:line: problem"


def _rows(
    path: Path, columns: tuple[str, ...], errors: list[str]
) -> list[tuple[int, dict[str, str]]]:
    if not path.exists():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                errors.append(f"{path}:1: missing column(s) {', '.join(missing)}")
                return []
            return [
                (line, {k: (v or "").strip() for k, v in row.items() if k})
                for line, row in enumerate(reader, start=2)
            ]
    except (UnicodeDecodeError, csv.Error) as exc:
        errors.append(f"{path}: cannot be read as UTF-8 CSV: {exc}")
        return []


def safe_relative(text: str) -> str | None:
    """The path if it stays inside the incident folder (no absolute path, no `..`)."""
    if not text or text.startswith(("/", "\\")) or "\\" in text:
        return None
    parts = PurePosixPath(text).parts
    if any(part in ("..", "") for part in parts):
        return None
    return str(PurePosixPath(*parts))


def read_analyst_input(folder: Path) -> AnalystInput:
    """Parse both files of one incident; structural checks only (the stage checks the
    paths and times against the catalog)."""
    errors: list[str] = []
    annotations: list[Annotation] = []
    ann_file = folder / "annotations.csv"
    for line, row in _rows(ann_file, ANNOTATION_COLUMNS, errors):
        where = f"{ann_file}:{line}"
        rel = safe_relative(row["path"])
        if rel is None:
            errors.append(f"{where}: path {row['path']!r} escapes the incident folder or is empty")
            continue
        try:
            count = int(row["count"])
        except ValueError:
            errors.append(f"{where}: count {row['count']!r} is not a whole number")
            continue
        if count < 0:
            errors.append(f"{where}: count {count} is negative")
            continue
        t_s: float | None = None
        if row["t_s"]:
            try:
                t_s = float(row["t_s"])
            except ValueError:
                errors.append(f"{where}: t_s {row['t_s']!r} is not a number of seconds")
                continue
            if t_s < 0 or t_s != t_s:
                errors.append(f"{where}: t_s {row['t_s']} is negative")
                continue
        if not row["scene"]:
            errors.append(f"{where}: empty scene label")
            continue
        annotations.append(Annotation(rel, t_s, count, row["scene"], row.get("note", ""), line))

    labels = {a.scene for a in annotations}
    disjoint: list[Disjointness] = []
    dis_file = folder / "disjoint.csv"
    for line, row in _rows(dis_file, DISJOINT_COLUMNS, errors):
        where = f"{dis_file}:{line}"
        unknown = [s for s in (row["scene_a"], row["scene_b"]) if s not in labels]
        if unknown:
            errors.append(
                f"{where}: scene label(s) {', '.join(map(repr, unknown))} never "
                f"defined in annotations.csv"
            )
            continue
        if row["scene_a"] == row["scene_b"]:
            errors.append(f"{where}: a scene cannot be disjoint from itself")
            continue
        if not row["reason"]:
            errors.append(f"{where}: a disjointness needs a written reason")
            continue
        disjoint.append(Disjointness(row["scene_a"], row["scene_b"], row["reason"], line))
    return AnalystInput(tuple(annotations), tuple(disjoint), tuple(errors))


def analyst_input_fingerprint(root: Path) -> str:
    """SHA-256 over every analyst file under DIR/annotations (names and bytes): the count
    stage's own input besides the catalog, so an edited annotation is never missed."""
    digest = hashlib.sha256()
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(root)).encode("utf-8", "surrogateescape"))
            digest.update(b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
