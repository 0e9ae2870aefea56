"""`crosscheck export-hashes`: signatures (catalog) + clusters (contract) -> a hash export.

Not a stage of the DAG: it reads what `signatures` stored and writes one file (or a folder of
vPDQ or TMK files) wherever the analyst asks, in a format partners and hash-sharing tools read
(docs/hash-sharing.md). Only hashes, media SHA-256s and the given label leave: no path, file
name, source, account, time or metadata, because these lists go to other organisations.

Every export is sealed into the custody log: the format, the options, how many media and
signals left, and the SHA-256 of what was written (of each file, for a folder), never the
content.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline import __version__
from pipeline.core.outcome import EXIT_OK, EXIT_USAGE
from pipeline.core.signatures import PDQ, VPDQ, parse_vpdq_text
from pipeline.io import contract
from pipeline.io.atomic import write_bytes_atomic
from pipeline.io.catalog import Catalog, SignedMedia
from pipeline.io.custody_log import append_missing, locked
from pipeline.io.signatures import (
    ExportItem,
    export_csv,
    export_threatexchange,
    export_tmk_files,
    export_vpdq_files,
)
from pipeline.layout import DataLayout
from pipeline.stages.context import utc_now

FORMATS = ("csv", "threatexchange", "vpdq", "tmk")


def select_media(
    media: Sequence[SignedMedia],
    incident_of: dict[str, set[str]],
    incidents: Sequence[str],
    most_original: set[str] | None,
) -> list[SignedMedia]:
    """The media an export includes: those observed in one of `incidents` (all when empty)
    and, when `most_original` is given, only those in it."""
    wanted = set(incidents)
    return [
        m
        for m in media
        if (not wanted or incident_of.get(m.media_id, set()) & wanted)
        and (most_original is None or m.media_id in most_original)
    ]


def _most_original(layout: DataLayout) -> set[str]:
    """Each cluster's most original member; a media in no multi-member cluster stands alone."""
    processed = layout.processed
    keep = {
        row["most_original"]
        for row in contract.read_contract_csv(processed / "cluster_provenance.csv")
        if row.get("most_original")
    }
    members: dict[str, list[str]] = {}
    for row in contract.read_contract_csv(processed / "clusters.csv"):
        members.setdefault(row["cluster_id"], []).append(row["media_id"])
    keep |= {ids[0] for ids in members.values() if len(ids) == 1}
    return keep


def _item(m: SignedMedia, tmk: bytes) -> ExportItem:
    if m.signal_type == PDQ and m.signal:
        return ExportItem(m.media_id, m.kind, m.md5, pdq=m.signal, pdq_quality=m.quality)
    if m.signal_type == VPDQ and m.signal:
        return ExportItem(m.media_id, m.kind, m.md5, vpdq=parse_vpdq_text(m.signal), tmk=tmk)
    return ExportItem(m.media_id, m.kind, m.md5, tmk=tmk)


def _signals(items: Sequence[ExportItem], fmt: str) -> int:
    """How many signals an export carries (the custody entry's count, beside media)."""
    if fmt == "vpdq":
        return sum(1 for i in items if i.vpdq)
    if fmt == "tmk":
        return sum(1 for i in items if i.tmk)
    perceptual = sum(bool(i.pdq) + bool(i.vpdq) + (fmt == "csv" and bool(i.tmk)) for i in items)
    byte_hashes = 2 * (len(items) if fmt == "csv" else sum(i.kind == "video" for i in items))
    return perceptual + byte_hashes


def export_hashes(
    layout: DataLayout,
    fmt: str,
    output: Path,
    incidents: Sequence[str],
    most_original: bool,
    label: str,
    pdq_quality_min: int = 50,
    operator: str = "",
) -> int:
    if not layout.catalog.exists():
        print(
            f"crosscheck: no catalog at {layout.catalog}: run the pipeline first", file=sys.stderr
        )
        return EXIT_USAGE
    with Catalog(layout.catalog) as catalog:
        media = catalog.signatures()
        tmk = catalog.tmk_signatures()
        incident_of: dict[str, set[str]] = {}
        for obs in catalog.observations():
            incident_of.setdefault(obs.media_id, set()).add(obs.incident)
    if most_original and not layout.contract_file("clusters.csv").exists():
        print("crosscheck: --most-original needs clusters.csv: run dedupe first", file=sys.stderr)
        return EXIT_USAGE
    unknown = sorted(set(incidents) - {i for s in incident_of.values() for i in s})
    if unknown:
        print(f"crosscheck: no incident {', '.join(unknown)} in the catalog", file=sys.stderr)
        return EXIT_USAGE
    chosen = select_media(
        media, incident_of, incidents, _most_original(layout) if most_original else None
    )
    unsigned = sum(1 for m in chosen if not m.signal)
    items = [_item(m, tmk.get(m.media_id, b"")) for m in chosen]
    if fmt == "csv":
        files = {output.name: export_csv(items, label)}
    elif fmt == "threatexchange":
        files = {output.name: export_threatexchange(items, pdq_quality_min)}
    else:
        files = export_vpdq_files(items) if fmt == "vpdq" else export_tmk_files(items)
    folder = output.parent if fmt in ("csv", "threatexchange") else output
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        write_bytes_atomic(folder / name, data)
    _record_export(
        layout,
        operator,
        {
            "format": fmt,
            "incidents": sorted(incidents),
            "most_original": most_original,
            "label": label,
            "media": len(items),
            "signals": _signals(items, fmt),
            # not "outputs": verify checks those under DIR/processed; an export leaves it
            "exported_sha256": {
                name: hashlib.sha256(data).hexdigest() for name, data in files.items()
            },
        },
    )
    print(
        f"export-hashes: {len(items)} media written to {output} ({fmt})"
        + (
            f"; {unsigned} without a perceptual signature (not yet signed, or failed)"
            if unsigned
            else ""
        )
    )
    return EXIT_OK


def _record_export(layout: DataLayout, operator: str, fields: dict[str, object]) -> None:
    """Seal what left (format, options, counts, each output's SHA-256; never the content or
    the destination's path) into the catalog's chain and the custody log."""
    with locked(layout.custody_log) as log, Catalog(layout.catalog) as catalog:
        with catalog.transaction():
            catalog.append_custody(
                {
                    "time_utc": utc_now(),
                    "run_id": None,
                    "stage": "export-hashes",
                    "action": "export",
                    "tool": "crosscheck",
                    "tool_version": __version__,
                    "operator": operator or _operator(),
                    "host": platform.node(),
                    **fields,
                }
            )
        append_missing(catalog, layout.custody_log, log)


def _operator() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
