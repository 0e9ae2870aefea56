"""`crosscheck export-hashes`: signatures (catalog) + clusters (contract) -> a hash export.

Not a stage of the DAG: it reads what `signatures` stored and writes one file (or a folder of
vPDQ files) wherever the analyst asks, in a format partners and hash-sharing tools read
(docs/hash-sharing.md). Only hashes, media SHA-256s and the given label leave: no path, file
name, source, account, time or metadata, because these lists go to other organisations.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.core.outcome import EXIT_OK, EXIT_USAGE
from pipeline.core.signatures import PDQ, VPDQ, parse_vpdq_text
from pipeline.io import contract
from pipeline.io.atomic import write_bytes_atomic
from pipeline.io.catalog import Catalog, SignedMedia
from pipeline.io.signatures import (
    ExportItem,
    export_csv,
    export_threatexchange,
    export_vpdq_files,
)
from pipeline.layout import DataLayout

FORMATS = ("csv", "threatexchange", "vpdq")


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


def _item(m: SignedMedia) -> ExportItem:
    if m.signal_type == PDQ and m.signal:
        return ExportItem(m.media_id, m.kind, m.md5, pdq=m.signal, pdq_quality=m.quality)
    if m.signal_type == VPDQ and m.signal:
        return ExportItem(m.media_id, m.kind, m.md5, vpdq=parse_vpdq_text(m.signal))
    return ExportItem(m.media_id, m.kind, m.md5)


def export_hashes(
    layout: DataLayout,
    fmt: str,
    output: Path,
    incidents: Sequence[str],
    most_original: bool,
    label: str,
    pdq_quality_min: int = 50,
) -> int:
    if not layout.catalog.exists():
        print(
            f"crosscheck: no catalog at {layout.catalog}: run the pipeline first", file=sys.stderr
        )
        return EXIT_USAGE
    with Catalog(layout.catalog) as catalog:
        media = catalog.signatures()
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
    items = [_item(m) for m in chosen]
    if fmt == "csv":
        write_bytes_atomic(output, export_csv(items, label))
    elif fmt == "threatexchange":
        write_bytes_atomic(output, export_threatexchange(items, pdq_quality_min))
    else:
        output.mkdir(parents=True, exist_ok=True)
        for name, data in export_vpdq_files(items).items():
            write_bytes_atomic(output / name, data)
    print(
        f"export-hashes: {len(items)} media written to {output} ({fmt})"
        + (
            f"; {unsigned} without a perceptual signature (not yet signed, or failed)"
            if unsigned
            else ""
        )
    )
    return EXIT_OK
