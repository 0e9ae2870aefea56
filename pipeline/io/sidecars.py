"""Provenance sidecars: `<file>.json` beside a media file, or `raw/<incident>/sources.csv`.

Sidecars are metadata about an observation (where and when it was posted), never media
themselves. A malformed sidecar is reported and ignored; the media beside it is still ingested.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.timeparse import normalise_iso
from pipeline.io.rawtree import open_evidence

FIELDS = ("url", "posted_at", "account")
# A sidecar holds a URL, a time and an account: kilobytes. Far larger ones are not read.
MAX_SIDECAR_BYTES = 1 << 20
MAX_SHEET_BYTES = 64 << 20  # sources.csv: ~100 bytes a row, so 10^5 rows fit many times over


@dataclass(frozen=True)
class Provenance:
    url: str = ""
    posted_at: str = ""
    account: str = ""
    origin: str = ""  # which sidecar said so


def _provenance(values: dict[str, object], origin: str) -> tuple[Provenance, list[str]]:
    problems: list[str] = []
    text = {key: str(values.get(key) or "").strip() for key in FIELDS}
    posted = ""
    if text["posted_at"]:
        posted = normalise_iso(text["posted_at"]) or ""
        if not posted:
            problems.append(
                f"posted_at {text['posted_at'][:80]!r} is not an ISO 8601 time in years "
                "1-9999; ignored"
            )
    return Provenance(text["url"], posted, text["account"], origin), problems


def _read_limited(path: Path, limit: int) -> bytes:
    """A raw text file's bytes, read like evidence (no link, no pipe, access time kept);
    ValueError when it is larger than limit."""
    with open_evidence(path) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit} bytes: not read")
    return data


def read_sidecar(path: Path, origin: str) -> tuple[Provenance | None, list[str]]:
    """One `<file>.json`; returns (provenance or None, problems)."""
    try:
        loaded = json.loads(_read_limited(path, MAX_SIDECAR_BYTES).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        return None, [f"sidecar is not valid UTF-8 JSON: {type(exc).__name__}: {exc}"[:300]]
    except ValueError as exc:
        return None, [f"sidecar {exc}"]
    except OSError as exc:
        return None, [f"sidecar cannot be read: {exc.strerror or exc}"]
    if not isinstance(loaded, dict):
        return None, ["sidecar is not a JSON object"]
    provenance, problems = _provenance(loaded, origin)
    return provenance, problems


def read_sources_sheet(path: Path, origin: str) -> tuple[dict[str, Provenance], list[str]]:
    """An incident's `sources.csv` (columns: path, url, posted_at, account); path is relative
    to the incident folder. Two rows that say different things about one path are a
    problem: the first row is kept (a later row never silently wins)."""
    found: dict[str, Provenance] = {}
    first_line: dict[str, int] = {}
    problems: list[str] = []
    try:
        text = _read_limited(path, MAX_SHEET_BYTES).decode("utf-8-sig")  # Excel writes a BOM
        reader = csv.DictReader(io.StringIO(text, newline=""))
        if not reader.fieldnames or "path" not in reader.fieldnames:
            return {}, ["sources.csv has no 'path' column"]
        for line_no, row in enumerate(reader, start=2):
            rel = str(row.get("path") or "").strip()
            if not rel:
                problems.append(f"line {line_no}: empty path")
                continue
            provenance, row_problems = _provenance(
                {k: v for k, v in row.items() if isinstance(k, str)}, origin
            )
            problems.extend(f"line {line_no}: {p}" for p in row_problems)
            if rel in found:
                if found[rel] != provenance:
                    problems.append(
                        f"line {line_no}: {rel!r} is also on line {first_line[rel]} with other "
                        f"provenance; line {first_line[rel]} is kept"
                    )
                continue
            found[rel] = provenance
            first_line[rel] = line_no
    except (UnicodeDecodeError, csv.Error, ValueError, OSError) as exc:
        return {}, [f"sources.csv cannot be read: {exc}"]
    return found, problems
