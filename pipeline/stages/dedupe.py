"""Stage `dedupe`: hashes (catalog) -> frame matches -> matches.csv, clusters.csv,
cluster_provenance.csv.

Fourth stage of the DAG, after hash. Every matchable frame (PDQ quality above the minimum, not
uniform) goes into a Hamming-space index kept between runs; only frames new since the last
run are searched (with their mirror-image hashes too), so an upload costs its own queries;
the crop path's SIFT descriptor index is kept between runs the same way. Candidate pairs
are confirmed (keypoints, RANSAC, pixels) in batches on the run's executor, a Dask cluster
included: thumbnails travel as bytes, the catalog stays here. Frame matches are stored;
media relations, clusters and provenance are then assembled from all stored matches (cheap
next to the search) and written as contract files. A match a reviewer rejected (or split
apart) never links its two media again.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from pipeline.config import DedupeConfig
from pipeline.core import alignment, grabs, hamming
from pipeline.core.alignment import (
    Check,
    Checked,
    Eligible,
    FrameSearch,
    FrameTable,
    KnownMatches,
    Verifier,
)
from pipeline.core.clusters import cluster_media, provenance_by_cluster
from pipeline.core.keypoints import DescriptorIndex, VerifyRules
from pipeline.core.metadata import exposure_stamp
from pipeline.core.outcome import StageResult
from pipeline.core.params import ASSEMBLY_VERSION, dedupe_params_hash
from pipeline.core.pathnames import display_path
from pipeline.core.records import FrameKey, IndexEntry, MediaRecord, Observation
from pipeline.core.relations import (
    Evidence,
    FrameMatch,
    MediaInfo,
    MediaMatch,
    OverlapRules,
    accepted_relations,
)
from pipeline.core.review import fold, pair
from pipeline.executors import Executor, open_executor
from pipeline.io import contract, ffmpeg, thumbs
from pipeline.io.atomic import write_bytes_atomic
from pipeline.io.rawtree import FileIdentity
from pipeline.io.windows import decode_window
from pipeline.stages import derived
from pipeline.stages.context import RunContext
from pipeline.stages.frames import INTERLACED

STAGE = "dedupe"
INDEX_COLUMNS = ("pdq", "pdq_mirror")  # the two index files: hashes and mirror-image hashes
SIFT_INDEX = "sift.faiss.bin"  # the crop path's descriptor index (core/keypoints.DescriptorIndex)
VERIFY_BATCH = 32  # checks per task: ~20-40 pictures of ~10 kB, a few seconds of work
THUMB_CACHE = 4096  # thumbnails' bytes kept on the driver during a run (~40 MB)


def params_hash(ctx: RunContext) -> str:
    """Everything that changes which frames are indexed or what matches: a change starts over."""
    return dedupe_params_hash(ctx.settings.default)


# What the searches and the assembly read: when none of it moved since the outputs were
# written, there is no new frame to search and nothing to assemble.
INPUTS = (
    "media",
    "observations",
    "frame_state",
    "frames",
    "hashes",
    "features",
    "index_entries",
    "frame_matches",
    "review_decisions",
)


def _inputs_key(ctx: RunContext, params: str) -> str:
    config = ctx.settings.default
    extra = {
        "params": params,
        "assembly": ASSEMBLY_VERSION,  # relations assembled by other code are assembled again
        "dedupe": config.dedupe.model_dump(exclude={"workers"}),
        "pdq_quality_min": config.hash.pdq_quality_min,
    }
    return derived.inputs_key(ctx, INPUTS, extra)


def run_dedupe(ctx: RunContext) -> StageResult:
    """Load every table once (frames and hashes as a FrameTable, index entries, frame
    matches, features), search what is new (core/alignment), commit the index and matches
    together, then assemble relations, clusters and provenance (core/relations,
    core/clusters) from all stored matches and write the contract files."""
    cfg = ctx.settings.default.dedupe
    params = params_hash(ctx)
    if derived.up_to_date(ctx, STAGE, _inputs_key(ctx, params)):
        return _result({"frames_searched": 0, "feature_frames_searched": 0, "new_matches": 0})
    known = _load_known(ctx, params)
    table = FrameTable.build(ctx.catalog.hashes(), ctx.catalog.frames())
    observations = ctx.catalog.observations()
    seen = {obs.media_id for obs in observations}
    observed = {m.media_id: m for m in ctx.catalog.media_records() if m.media_id in seen}
    eligible = Eligible.of(table, observed, ctx.settings.default.hash.pdq_quality_min)
    indexes = _Indexes.open(ctx, cfg, known.entries, table)
    search, searched = _search_new(ctx, params, table, eligible, known, indexes, observed)
    _save_search(ctx, indexes, search, params)
    stored = alignment.merge_frame_matches(known.matches, search.matches)
    frame_matches = alignment.timed_matches(table, stored, eligible.matchable, eligible.usable)
    media = table.media_infos({i: (m.kind, m.duration_s) for i, m in observed.items()})
    direct, matches = _relations(ctx, table, frame_matches, media, observed)
    clusters = cluster_media(sorted(observed), direct, media)
    counts = _save_outputs(ctx, params, matches, clusters, observed, observations)
    return _result({**searched, "frame_matches": len(frame_matches), **counts})


def _search_new(
    ctx: RunContext,
    params: str,
    table: FrameTable,
    eligible: Eligible,
    known: KnownMatches,
    indexes: _Indexes,
    observed: dict[str, MediaRecord],
) -> tuple[FrameSearch, dict[str, int]]:
    """What is new searched (core/alignment; keypoint checks on the run's executor), then
    stills that nothing proves tried against decoded windows of video (the grab path); the
    search with the grabs' matches added, and what each step did."""
    cfg = ctx.settings.default.dedupe
    pictures = _picture_loader(ctx, table)
    with open_executor(ctx.settings.default.run, cfg.workers, "processes") as executor:
        verifier = _batched_verifier(ctx, table, executor)
        search = alignment.search_frames(
            cfg, params, table, eligible, known, indexes.pair, pictures, verifier, indexes.sift
        )
    tried, placed = _grabs(ctx, table, known, search, observed, pictures)
    counts = {
        "frames_searched": len(search.new_entries),
        "feature_frames_searched": len(search.feature_frames),
        "frames_confirmed_by_alignment": search.confirmed_by_alignment,
        "grab_candidates_decoded": tried,
        "grabs_confirmed_by_decoding": len(placed),
    }
    return replace(search, matches=(*search.matches, *(g.match for g in placed))), counts


def _relations(
    ctx: RunContext,
    table: FrameTable,
    frame_matches: list[FrameMatch],
    media: dict[str, MediaInfo],
    observed: dict[str, MediaRecord],
) -> tuple[list[MediaMatch], list[MediaMatch]]:
    """The relations the stored frame matches prove (core/relations), under the reviewers'
    decisions: rejected pairs dropped, confirmed proposals linked."""
    cfg = ctx.settings.default.dedupe
    review = fold(ctx.catalog.decisions())
    captured = {i: exposure_stamp(m.raw_metadata) for i, m in observed.items()}
    return accepted_relations(
        frame_matches,
        media,
        OverlapRules(
            cfg.offset_tolerance_s,
            cfg.min_agreeing_frames,
            cfg.weak_pdq_bits,
            cfg.short_run_frames,
            cfg.keypoint_min_coverage,
        ),
        alignment.exact_pairs(table),
        review.is_rejected,
        Evidence.of(frame_matches, captured),
        lambda a, b: pair(a, b) in review.confirmed_pairs,
    )


def _result(counts: dict[str, int]) -> StageResult:
    """Items: the frames searched through the index and through their features."""
    return StageResult(counts, counts["frames_searched"] + counts["feature_frames_searched"])


def _load_known(ctx: RunContext, params: str) -> KnownMatches:
    """Index entries, frame matches and features; all forgotten first when the parameters
    changed since the index was built (search starts over)."""
    entries = ctx.catalog.index_entries()
    if any(entry.params_hash != params for entry in entries):
        with ctx.catalog.transaction():
            ctx.catalog.reset_index()
        entries = []
    return KnownMatches(
        tuple(entries), tuple(ctx.catalog.frame_matches()), tuple(ctx.catalog.feature_rows())
    )


def _grabs(
    ctx: RunContext,
    table: FrameTable,
    known: KnownMatches,
    search: FrameSearch,
    observed: dict[str, MediaRecord],
    pictures: alignment.PictureLoader,
) -> tuple[int, list[grabs.Grab]]:
    """Stills this run left unproven next to a video frame, checked against the video decoded
    at full rate around that frame (core/grabs; io/windows reads DIR/raw): how many were
    tried, and the confirmed grabs."""
    candidates = grabs.grab_candidates(
        table, search.matches, search.unconfirmed_anchors, [*known.matches, *search.matches]
    )
    if not candidates:
        return 0, []
    config = ctx.settings.default
    files = ctx.catalog.media_files()
    hashed = {s.path: FileIdentity(s.size_bytes, s.mtime_ns) for s in ctx.catalog.file_states()}
    raw = ctx.layout.raw.absolute()
    sizes = {key[0]: size for key, size in table.sizes().items()}

    def decode(video_id: str, start_s: float, duration_s: float) -> grabs.Window:
        width, height = sizes[video_id]
        field_order = str(observed[video_id].derived.get("field_order", ""))
        plan = ffmpeg.WindowPlan(
            start_s, duration_s, width, height, deinterlace=field_order in INTERLACED
        )
        rel = files[video_id]
        return decode_window(raw / rel, plan, hashed.get(display_path(rel)))

    return len(candidates), grabs.grab_matches(
        table,
        candidates,
        pictures,
        decode,
        {i: m.duration_s for i, m in observed.items()},
        config.hash,
        alignment.verify_rules(config.dedupe),
        config.dedupe.weak_pdq_bits or config.dedupe.pdq_max_distance + 1,
    )


def _picture_loader(ctx: RunContext, table: FrameTable) -> alignment.PictureLoader:
    def load(key: tuple[str, int]) -> np.ndarray:
        return thumbs.load(ctx.layout.thumbs, table.thumbs[key])

    return load


@dataclass(frozen=True)
class VerifyJob:
    """A batch of keypoint confirmations with the JPEG bytes of every thumbnail they name:
    a worker needs no access to DIR/processed or the catalog. `first`: the position of the
    batch's first check in the search's list."""

    first: int
    checks: tuple[Check, ...]
    pictures: dict[FrameKey, bytes]
    rules: VerifyRules


def verify_batch(job: VerifyJob) -> tuple[int, list[Checked]]:
    """Confirm a batch of candidate pairs (core/alignment.verify_checks), each with its
    evidence: each picture decoded and its features computed once for the batch. Runs on a
    worker."""
    return job.first, alignment.verify_checks(
        job.checks, lambda key: thumbs.decode(job.pictures[key]), job.rules
    )


def _batched_verifier(ctx: RunContext, table: FrameTable, executor: Executor) -> Verifier:
    """Checks go out in batches of VERIFY_BATCH (in the search's order: a pair's aligned
    frames and a frame's candidates sit together, so most pictures travel once) and their
    answers are put back in order; thumbnail bytes are read here, each once per run while
    it stays among the THUMB_CACHE last read."""

    @functools.lru_cache(maxsize=THUMB_CACHE)
    def read(key: FrameKey) -> bytes:
        return thumbs.read(ctx.layout.thumbs, table.thumbs[key])

    def verify_all(checks: Sequence[Check], rules: VerifyRules) -> list[Checked]:
        jobs = (
            VerifyJob(
                start,
                tuple(batch),
                {key: read(key) for check in batch for key in (check.a, check.b)},
                rules,
            )
            for start in range(0, len(checks), VERIFY_BATCH)
            for batch in [checks[start : start + VERIFY_BATCH]]
        )
        answers: list[Checked | None] = [None] * len(checks)
        for first, batch_answers in executor.map_unordered(verify_batch, jobs):
            answers[first : first + len(batch_answers)] = batch_answers
        return [answer for answer in answers if answer is not None]

    return verify_all


@dataclass(frozen=True)
class _Indexes:
    """The two Hamming indexes and their files; `rebuilt` names the files to write even
    when no frame is new (missing, or ahead of a rolled-back catalog)."""

    pair: tuple[hamming.HammingIndex, hamming.HammingIndex]
    paths: tuple[Path, Path]
    rebuilt: tuple[bool, bool]
    sift: DescriptorIndex | None  # the crop path's descriptors as the last run saved them
    sift_path: Path

    @classmethod
    def open(
        cls, ctx: RunContext, cfg: DedupeConfig, entries: tuple[IndexEntry, ...], table: FrameTable
    ) -> _Indexes:
        folder = ctx.layout.processed / "index"
        paths = tuple(folder / f"{column}.{cfg.index}.bin" for column in INDEX_COLUMNS)
        loaded = [
            _load_index(cfg, path, entries, table, column == "pdq_mirror")
            for column, path in zip(INDEX_COLUMNS, paths, strict=True)
        ]
        sift_path = folder / SIFT_INDEX
        return cls(
            (loaded[0][0], loaded[1][0]),
            (paths[0], paths[1]),
            (not loaded[0][1], not loaded[1][1]),
            _load_descriptors(sift_path),
            sift_path,
        )


def _load_descriptors(path: Path) -> DescriptorIndex | None:
    """The saved descriptor index, or None (none yet, or unreadable: it is rebuilt from the
    catalog's features, core/alignment.descriptor_index)."""
    try:
        return DescriptorIndex.from_bytes(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None


def _load_index(
    cfg: DedupeConfig,
    path: Path,
    entries: tuple[IndexEntry, ...],
    table: FrameTable,
    mirror: bool,
) -> tuple[hamming.HammingIndex, bool]:
    """The saved index when it agrees with the catalog's entries, else one rebuilt from them;
    and whether the file on disk already holds it. The file is written just before the
    catalog commits its entries, so a run killed in between leaves the file ahead (longer)."""
    if entries and path.exists():
        index = hamming.HammingIndex.from_bytes(path.read_bytes())
        if len(index) == len(entries):
            return index, True
    index = hamming.make_index(cfg.index, 256)
    usable = [e for e in entries if e.key in table.hashed]
    if usable:
        index.add(
            np.array([e.entry_id for e in usable], dtype=np.int64),
            table.codes([e.key for e in usable], mirror),
        )
    return index, not entries and not path.exists()


def _save_search(ctx: RunContext, indexes: _Indexes, search: FrameSearch, params: str) -> None:
    """The searches commit together, the index files written just before: a run killed
    before the commit redoes them all (committed one by one, a rerun found the first search
    done and skipped the later ones' work on the media it had searched)."""
    write_all = bool(search.new_entries)
    with ctx.catalog.transaction():
        for index, path, rebuilt in zip(indexes.pair, indexes.paths, indexes.rebuilt, strict=True):
            if write_all or rebuilt:
                write_bytes_atomic(path, index.to_bytes(), root=ctx.layout.processed)
        if search.feature_frames and search.descriptors is not None:
            write_bytes_atomic(
                indexes.sift_path, search.descriptors.to_bytes(), root=ctx.layout.processed
            )
        ctx.catalog.add_index_entries(search.new_entries)
        ctx.catalog.add_frame_matches(search.matches)
        ctx.catalog.mark_features_searched(list(search.feature_frames), params)


def _save_outputs(
    ctx: RunContext,
    params: str,
    matches: list[MediaMatch],
    clusters: dict[str, str],
    observed: dict[str, MediaRecord],
    observations: list[Observation],
) -> dict[str, int]:
    """Store the relations (only when they changed: count's inputs then stay unchanged),
    write the contract files, and record custody and the derived state; returns counts."""
    with ctx.catalog.transaction():
        before = Counter(ctx.catalog.media_matches())
        if before != Counter(matches):
            ctx.catalog.replace_media_matches(matches)
        outputs = _write_contract(ctx, matches, clusters, observed, observations)
        new = {(m.media_a, m.media_b, m.relation) for m in matches}
        counts = {
            "matches": len(matches),
            "new_matches": len(new - {(m.media_a, m.media_b, m.relation) for m in before}),
            "clusters": len(set(clusters.values())),
            "media": len(observed),
        }
        ctx.custody(
            STAGE,
            "dedupe_run",
            params={"config": ctx.settings.default.dedupe.model_dump(), "params": params},
            outputs=outputs,
            counts=counts,
        )
        derived.record(ctx, STAGE, _inputs_key(ctx, params), outputs)
    return counts


def _write_contract(
    ctx: RunContext,
    matches: list[MediaMatch],
    clusters: dict[str, str],
    observed: dict[str, MediaRecord],
    observations: list[Observation],
) -> dict[str, str]:
    processed = ctx.layout.processed
    provenance = provenance_by_cluster(clusters, observed, observations)
    return {
        "matches.csv": contract.write_contract_csv(
            processed / "matches.csv", contract.MATCH_COLUMNS, [vars(m) for m in matches]
        ),
        "clusters.csv": contract.write_contract_csv(
            processed / "clusters.csv",
            contract.CLUSTER_COLUMNS,
            [{"media_id": m, "cluster_id": c} for m, c in sorted(clusters.items())],
        ),
        "cluster_provenance.csv": contract.write_contract_csv(
            processed / "cluster_provenance.csv",
            contract.PROVENANCE_COLUMNS,
            [
                {
                    **vars(p),
                    "sources": ";".join(p.sources),
                    "disagreements": " ; ".join(p.disagreements),
                }
                for p in provenance
            ],
        ),
    }
