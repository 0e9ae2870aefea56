"""Stage `signatures`: media (catalog) + raw files -> signatures table; hash lists ->
list_matches table and `list_matches.csv`.

Second stage of the DAG, after ingest and independent of frames and hash: every media gets
the hash-sharing ecosystem's standard perceptual signatures (PDQ of the whole still; vPDQ of
a video through Meta's `vpdq` and TMK+PDQF through `tmkpy`; MD5 and SHA-256 come from
ingest), once per signature parameters. Then every hash list named in `signatures.lists`
(and, for `crosscheck match-list`, the files given) is matched against the whole
collection, again only when the list or the collection's signatures changed.
docs/hash-sharing.md says what to do with a match.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from tqdm import tqdm

from pipeline.config import RunConfig, SignaturesConfig
from pipeline.core.outcome import ItemFailure, StageResult
from pipeline.core.params import signatures_params_hash as params_hash
from pipeline.core.signatures import (
    PDQ,
    VPDQ,
    CollectionFrame,
    CollectionIndex,
    ListEntry,
    MatchRules,
    match_entries,
    parse_vpdq_text,
)
from pipeline.core.tmk import parse_tmk
from pipeline.executors import open_executor
from pipeline.io import contract
from pipeline.io.catalog import CheckedList, StoredSignature
from pipeline.io.signatures import (
    ListFormatError,
    SignatureJob,
    SignatureResult,
    compute_signature,
    list_name,
    read_list,
)
from pipeline.stages import derived
from pipeline.stages.context import RunContext, utc_now

STAGE = "signatures"
COMMIT_EVERY = 32  # media per transaction (and custody entry)
LIST_MATCHES = "list_matches.csv"


def match_rules(cfg: SignaturesConfig) -> MatchRules:
    return MatchRules(
        cfg.pdq_max_distance,
        cfg.pdq_quality_min,
        cfg.vpdq_query_match_percent,
        cfg.vpdq_compared_match_percent,
    )


def configured_lists(ctx: RunContext) -> list[Path]:
    """`signatures.lists`, relative paths taken from DIR (the collection's folder)."""
    return [
        path if path.is_absolute() else ctx.layout.data_dir / path
        for path in map(Path, ctx.settings.default.signatures.lists)
    ]


def run_signatures(ctx: RunContext, extra_lists: Sequence[Path] = ()) -> StageResult:
    """Sign what is new, check the hash lists whose content or our signatures moved, write
    list_matches.csv; a media or list that fails is one failed item, never a stopped stage."""
    cfg = ctx.settings.default.signatures
    failures: list[ItemFailure] = []
    signed, failed = _sign_media(ctx, cfg, failures)
    lists = [*configured_lists(ctx), *extra_lists]
    checked, matches = _check_lists(ctx, cfg, lists, failures)
    _write_contract(ctx)
    counts = {
        "media_signed": signed,
        "media_failed": failed,
        "tmk_failed": sum(1 for f in failures if f.reason.startswith("tmk: ")),
        "lists_checked": checked,
        "list_matches": matches,
    }
    return StageResult(counts, signed + failed + checked, tuple(failures))


def _sign_media(
    ctx: RunContext, cfg: SignaturesConfig, failures: list[ItemFailure]
) -> tuple[int, int]:
    params = params_hash(cfg)
    todo = ctx.catalog.media_without_signatures(params)
    if not todo:
        return 0, 0
    files = ctx.catalog.media_files()
    max_pixels = ctx.settings.default.ingest.max_image_pixels
    jobs = (
        SignatureJob(
            m.media_id,
            m.kind,
            ctx.layout.raw / files[m.media_id],
            max_pixels,
            cfg.vpdq_seconds_per_hash,
        )
        for m in todo
    )
    workers = min(cfg.workers or os.cpu_count() or 1, len(todo))
    signed = failed = 0
    progress = tqdm(
        total=len(todo), desc=STAGE, unit="media", disable=not ctx.show_progress or None
    )
    with progress, open_executor(RunConfig(), workers, "processes") as executor:
        for batch in _batches(executor.map_unordered(compute_signature, jobs)):
            with ctx.catalog.transaction():
                for result in batch:
                    ctx.catalog.put_signature(_stored(result, params))
                    if result.tmk or result.tmk_error:
                        ctx.catalog.put_tmk(result.media_id, params, result.tmk, result.tmk_error)
                ctx.custody(
                    STAGE,
                    "sign_media",
                    inputs=sorted(r.media_id for r in batch),
                    params={
                        "config": cfg.model_dump(),
                        "params": params,
                        "vpdq": _version("vpdq"),
                        "tmkpy": _version("tmkpy"),
                    },
                )
            for result in batch:
                if result.error:
                    failed += 1
                    failures.append(ItemFailure(result.media_id[:12], result.error))
                else:
                    signed += 1
                    if result.tmk_error:  # vPDQ stands; the missing TMK is still reported
                        failures.append(ItemFailure(result.media_id[:12], result.tmk_error))
            progress.update(len(batch))
    return signed, failed


def _batches(results: Iterable[SignatureResult]) -> Iterator[list[SignatureResult]]:
    batch: list[SignatureResult] = []
    for result in results:
        batch.append(result)
        if len(batch) >= COMMIT_EVERY:
            yield batch
            batch = []
    if batch:
        yield batch


def _stored(result: SignatureResult, params: str) -> StoredSignature:
    return StoredSignature(
        result.media_id,
        params,
        result.signal_type,
        result.signal,
        result.quality,
        result.frames,
        result.error,
    )


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return ""


def _check_lists(
    ctx: RunContext, cfg: SignaturesConfig, lists: Sequence[Path], failures: list[ItemFailure]
) -> tuple[int, int]:
    generation = ctx.catalog.generations().get("signatures", 0)
    rules = match_rules(cfg)
    index: CollectionIndex | None = None
    checked = total = 0
    seen: set[str] = set()
    for path in lists:
        # Configured names are distinct (config validation); a file given to match-list with
        # a configured list's name would overwrite its matches: that file is a failed item.
        if list_name(path) in seen:
            failures.append(
                ItemFailure(f"list {path}", "another list with this file name is checked too")
            )
            checked += 1
            continue
        seen.add(list_name(path))
        try:
            digest = _file_sha256(path)
        except OSError as exc:
            failures.append(ItemFailure(f"list {path}", f"cannot read: {exc.strerror or exc}"))
            checked += 1
            continue
        key = _list_key(digest, generation, rules, ctx.settings.default.dedupe.index)
        known = ctx.catalog.checked_list(list_name(path))
        if known is not None and known.inputs_key == key:
            continue
        checked += 1
        if index is None:
            index = _collection_index(ctx, rules)
        entries = _Counted(read_list(path))
        try:
            matches = match_entries(index, entries)
        except (ListFormatError, OSError) as exc:
            failures.append(ItemFailure("list", str(exc)))
            continue
        record = CheckedList(list_name(path), key, digest, entries.count, utc_now())
        with ctx.catalog.transaction():
            ctx.catalog.replace_list_matches(record, matches)
            ctx.custody(
                STAGE,
                "match_list",
                list=record.list_name,
                list_sha256=digest,
                entries=entries.count,
                matches=len(matches),
                params={"rules": rules.__dict__},
            )
        total += len(matches)
    return checked, total


class _Counted(Iterator[ListEntry]):
    def __init__(self, entries: Iterator[ListEntry]) -> None:
        self._entries = entries
        self.count = 0

    def __next__(self) -> ListEntry:
        entry = next(self._entries)
        self.count += 1
        return entry


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _list_key(digest: str, generation: int, rules: MatchRules, index_kind: str) -> str:
    payload = {
        "list": digest,
        "signatures": generation,
        "rules": rules.__dict__,
        "index": index_kind,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _collection_index(ctx: RunContext, rules: MatchRules) -> CollectionIndex:
    media = ctx.catalog.signatures()
    frames: list[CollectionFrame] = []
    for m in media:
        if m.signal_type == PDQ and m.signal:
            frames.append(CollectionFrame(m.media_id, -1, None, m.signal, m.quality))
        elif m.signal_type == VPDQ and m.signal:
            frames += [
                CollectionFrame(m.media_id, f.frame, f.timestamp_s, f.pdq_hex, f.quality)
                for f in parse_vpdq_text(m.signal)
            ]
    byte_hashes = [(m.media_id, m.md5) for m in media]
    tmk = [(media_id, parse_tmk(data)) for media_id, data in ctx.catalog.tmk_signatures().items()]
    return CollectionIndex(frames, byte_hashes, rules, ctx.settings.default.dedupe.index, tmk)


def _write_contract(ctx: RunContext) -> None:
    key = derived.inputs_key(ctx, ("list_matches",), {})
    if derived.up_to_date(ctx, STAGE, key):
        return
    rows = [
        {
            "list": m.list_name,
            "entry": m.entry,
            "label": m.label,
            "media_id": m.media_id,
            "signal_type": m.signal_type,
            "distance": m.distance,
            "media_start_s": m.media_start_s,
            "media_end_s": m.media_end_s,
            "matched_percent": m.matched_percent,
            "score": m.score,
        }
        for m in ctx.catalog.list_matches()
    ]
    path = ctx.layout.contract_file(LIST_MATCHES)
    with ctx.catalog.transaction():
        sha = contract.write_contract_csv(path, contract.LIST_MATCH_COLUMNS, rows)
        ctx.custody(STAGE, "write_contract", outputs={LIST_MATCHES: sha})
        derived.record(ctx, STAGE, key, {LIST_MATCHES: sha})
