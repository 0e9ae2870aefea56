"""Provenance sidecars: `<file>.json` beside a media file, or `raw/<incident>/sources.csv`.

Sidecars are metadata about an observation (where and when it was posted), never media
themselves. A malformed sidecar is reported and ignored; the media beside it is still ingested.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.timeparse import normalise_iso

FIELDS = ("url", "posted_at", "account")


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
            problems.append(f"posted_at {text['posted_at']!r} is not an ISO 8601 time; ignored")
    return Provenance(text["url"], posted, text["account"], origin), problems


def read_sidecar(path: Path, origin: str) -> tuple[Provenance | None, list[str]]:
    """One `<file>.json`; returns (provenance or None, problems)."""
    try:
        loaded = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [f"sidecar is not valid UTF-8 JSON: {exc}"]
    except OSError as exc:
        return None, [f"sidecar cannot be read: {exc.strerror or exc}"]
    if not isinstance(loaded, dict):
        return None, ["sidecar is not a JSON object"]
    provenance, problems = _provenance(loaded, origin)
    return provenance, problems


def read_sources_sheet(path: Path, origin: str) -> tuple[dict[str, Provenance], list[str]]:
    """An incident's `sources.csv` (columns: path, url, posted_at, account); path is relative
    to the incident folder."""
    found: dict[str, Provenance] = {}
    problems: list[str] = []
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or "path" not in reader.fieldnames:
                return {}, ["sources.csv has no 'path' column"]
            for line_no, row in enumerate(reader, start=2):
                rel = (row.get("path") or "").strip()
                if not rel:
                    problems.append(f"line {line_no}: empty path")
                    continue
                provenance, row_problems = _provenance(dict(row), origin)
                problems.extend(f"line {line_no}: {p}" for p in row_problems)
                found[rel] = provenance
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        return {}, [f"sources.csv cannot be read: {exc}"]
    return found, problems
