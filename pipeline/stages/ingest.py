"""Stage `ingest`: DIR/raw -> catalog (media, observations, rejects) -> media.csv,
observations.csv, rejects.csv.

First stage of the DAG. Every file is hashed once (SHA-256 and MD5 of the bytes as received);
a stat cache keyed by (path, size, mtime) makes a rerun hash nothing that did not change.
Each file is committed with its custody entry in one transaction; a bad file becomes a
reject row and the batch goes on.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from tqdm import tqdm

from pipeline.core.outcome import StageResult
from pipeline.core.records import Observation, Reject
from pipeline.core.timeparse import earliest
from pipeline.io import contract, ffmpeg
from pipeline.io.catalog import FileState
from pipeline.io.mediafile import Examined, bomb_warnings_as_errors, examine
from pipeline.io.rawtree import (
    EvidenceChanged,
    FileDigest,
    FileIdentity,
    RawFile,
    RawListing,
    digest_file,
    list_raw,
)
from pipeline.io.sidecars import Provenance, read_sidecar, read_sources_sheet
from pipeline.stages import derived
from pipeline.stages.context import RunContext

STAGE = "ingest"
CONTRACT_INPUTS = ("media", "observations", "rejects", "file_state")


@dataclass(frozen=True)
class _Outcome:
    file: RawFile
    state: FileState
    examined: Examined | None  # None when the bytes were already known as media
    probe_command: list[str] | None = None
    digest: FileDigest | None = None


def run_ingest(ctx: RunContext) -> StageResult:
    if not ctx.layout.raw.is_dir():
        raise FileNotFoundError(f"no raw folder at {ctx.layout.raw}")
    listing = list_raw(ctx.layout.raw)
    provenance, sidecar_rejects = _provenance(listing)
    rejects: dict[str, Reject] = {r.path: r for r in sidecar_rejects}
    rejected_before = {r.path for r in ctx.catalog.rejects()}
    states = {state.path: state for state in ctx.catalog.file_states()}  # one query, not one each
    todo: list[RawFile] = []
    cached = 0
    with ctx.catalog.transaction():  # one commit for every unchanged file, not one each
        for raw in listing.files:
            if raw.problem:
                rejects[raw.path] = Reject(raw.path, raw.problem)
                continue
            state = states.get(raw.path)
            if state and (state.size_bytes, state.mtime_ns) == (raw.size_bytes, raw.mtime_ns):
                cached += 1
                _record(ctx, raw, state, provenance.get(raw.path), rejects)
            else:
                todo.append(raw)

    new_media = 0
    for outcome in _examine_all(ctx, todo):
        with ctx.catalog.transaction():
            media = outcome.examined.media if outcome.examined else None
            if media and not ctx.catalog.has_media(media.media_id):
                ctx.catalog.put_media(media)
                new_media += 1
            ctx.catalog.put_file_state(outcome.state)
            _record(ctx, outcome.file, outcome.state, provenance.get(outcome.file.path), rejects)
            ctx.custody(
                STAGE,
                "examine_file",
                inputs=[
                    {
                        "path": outcome.file.path,
                        "sha256": outcome.state.sha256,
                        "md5": outcome.state.md5,
                        "size_bytes": outcome.state.size_bytes,
                    }
                ],
                outcome=outcome.state.reject_reason or "media",
                params={"ffprobe_command": outcome.probe_command} if outcome.probe_command else {},
            )

    present = [f.path for f in listing.files] + list(rejects)
    with ctx.catalog.transaction():
        for reject in rejects.values():
            ctx.catalog.put_reject(reject)
        ctx.catalog.retain_rejects(rejects)
        vanished = ctx.catalog.forget_paths_except(present)
        counts = {
            "files_seen": len(listing.files),
            "files_hashed": len(todo),
            "files_cached": cached,
            "new_media": new_media,
            "rejects": len(rejects),
            "new_rejects": len(set(rejects) - rejected_before),
            "vanished": len(vanished),
        }
        # Unchanged media, observations, rejects and stat cache: the contract files stand
        # as they are, and there is nothing for the custody log.
        key = derived.inputs_key(ctx, CONTRACT_INPUTS, {})
        if not derived.up_to_date(ctx, STAGE, key):
            outputs = write_ingest_contract(ctx)
            ctx.custody(
                STAGE,
                "ingest_run",
                params={
                    "config": ctx.settings.default.ingest.model_dump(),
                    "ffprobe": ffmpeg.tool_version("ffprobe"),
                },
                outputs=outputs,
                vanished_paths=vanished,
                counts=counts,
            )
            derived.record(ctx, STAGE, key, outputs)
    return StageResult(counts, counts["files_hashed"])


def _record(
    ctx: RunContext,
    raw: RawFile,
    state: FileState,
    prov: Provenance | None,
    rejects: dict[str, Reject],
) -> None:
    if state.reject_reason:
        rejects[raw.path] = Reject(raw.path, state.reject_reason, state.sha256)
        return
    prov = prov or Provenance()
    ctx.catalog.put_observation(
        Observation(
            path=raw.path,
            media_id=state.sha256,
            incident=raw.incident,
            source=raw.source,
            posted_at=prov.posted_at,
            url=prov.url,
            account=prov.account,
            provenance_origin=prov.origin,
        ),
        os.path.relpath(raw.abs_path, ctx.layout.raw),
    )


def _examine_all(ctx: RunContext, todo: list[RawFile]) -> Iterator[_Outcome]:
    cfg = ctx.settings.default.ingest
    workers = cfg.workers or os.cpu_count() or 1
    known_media = ctx.catalog.media_ids()
    claimed: set[str] = set()  # bytes a worker of this batch is already examining
    lock = threading.Lock()

    def one(raw: RawFile) -> _Outcome:
        try:
            digest = digest_file(raw.abs_path, cfg.read_chunk_bytes)
        except OSError as exc:
            # A file that changed under us is tried again next run (no stat matches -1).
            changed = isinstance(exc, EvidenceChanged)
            reason = str(exc) if changed else f"cannot be read: {exc.strerror or exc}"
            mtime_ns = -1 if changed else raw.mtime_ns
            return _Outcome(
                raw, FileState(raw.path, raw.size_bytes, mtime_ns, "", "", reason), None
            )
        with lock:
            known = digest.sha256 in known_media or digest.sha256 in claimed
            claimed.add(digest.sha256)
        examined = None if known else _examine(raw, digest)
        reason = examined.reason if examined else ""
        command = None
        if examined and examined.media and examined.media.kind == "video":
            command = ffmpeg.probe_command(raw.abs_path)
        # The stat cache keeps what was hashed, not what was listed before it.
        hashed = digest.identity or FileIdentity(raw.size_bytes, raw.mtime_ns)
        state = FileState(
            raw.path, hashed.size_bytes, hashed.mtime_ns, digest.sha256, digest.md5, reason
        )
        return _Outcome(raw, state, examined, command, digest)

    def _examine(raw: RawFile, digest: FileDigest) -> Examined:
        try:
            return examine(raw.abs_path, digest, cfg.max_image_pixels, cfg.probe_timeout_s)
        except Exception as exc:  # one file never stops the batch: it is a reject with a reason
            return Examined(None, f"internal error while examining: {type(exc).__name__}: {exc}")

    seen: dict[str, Examined] = {}  # what this batch found for each content
    with bomb_warnings_as_errors(), ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(one, todo)  # in order, lazily: each is committed as it arrives
        for outcome in tqdm(
            results,
            total=len(todo),
            desc="ingest",
            unit="file",
            disable=not ctx.show_progress or None,
        ):
            sha = outcome.state.sha256
            if outcome.examined is not None:
                seen[sha] = outcome.examined
            elif sha and sha not in known_media and outcome.digest is not None:
                # A byte-identical repost in this batch: reuse its twin's examination (or
                # examine here when the later twin's worker happened to claim it first).
                twin = seen.get(sha) or _examine(outcome.file, outcome.digest)
                seen[sha] = twin
                outcome = replace(
                    outcome, examined=twin, state=replace(outcome.state, reject_reason=twin.reason)
                )
            yield outcome


def _provenance(listing: RawListing) -> tuple[dict[str, Provenance], list[Reject]]:
    """Provenance per media path: its `<file>.json` first, else its incident's sources.csv."""
    found: dict[str, Provenance] = {}
    rejects: list[Reject] = []
    listed = {f.path for f in listing.files} | set(listing.sidecars)
    for incident, sheet in sorted(listing.sheets.items()):
        sheet_path = f"{incident}/sources.csv"
        rows, problems = read_sources_sheet(sheet, sheet_path)
        for rel, prov in rows.items():
            if f"{incident}/{rel}" in listed:
                found[f"{incident}/{rel}"] = prov
            else:
                problems.append(f"{rel!r} names no file of the incident; its row is not used")
        if problems:
            rejects.append(Reject(sheet_path, "sources sheet: " + "; ".join(problems)))
    for media_path, sidecar in sorted(listing.sidecars.items()):
        sidecar_path = media_path + ".json"
        sidecar_prov, problems = read_sidecar(sidecar, sidecar_path)
        if sidecar_prov:
            found[media_path] = sidecar_prov
        if problems:
            rejects.append(Reject(sidecar_path, "sidecar: " + "; ".join(problems)))
    return found, rejects


def write_ingest_contract(ctx: RunContext) -> dict[str, str]:
    """media.csv, observations.csv and rejects.csv from the catalog; returns their SHA-256s."""
    observations = ctx.catalog.observations()
    posted: dict[str, list[str]] = {}
    for obs in observations:
        posted.setdefault(obs.media_id, []).append(obs.posted_at)
    media_rows: list[dict[str, Any]] = []
    for media in ctx.catalog.observed_media():
        media_rows.append(
            {
                **media.derived,
                "media_id": media.media_id,
                "kind": media.kind,
                "width": media.width,
                "height": media.height,
                "duration_s": media.duration_s,
                "first_seen": earliest(posted.get(media.media_id, [])),
                "md5": media.md5,
                "size_bytes": media.size_bytes,
                "format": media.format,
            }
        )
    processed = ctx.layout.processed
    return {
        "media.csv": contract.write_contract_csv(
            processed / "media.csv", contract.MEDIA_COLUMNS, media_rows
        ),
        "observations.csv": contract.write_contract_csv(
            processed / "observations.csv",
            contract.OBSERVATION_COLUMNS,
            [vars(obs) for obs in observations],
        ),
        "rejects.csv": contract.write_contract_csv(
            processed / "rejects.csv",
            contract.REJECT_COLUMNS,
            [vars(r) for r in ctx.catalog.rejects()],
        ),
    }
