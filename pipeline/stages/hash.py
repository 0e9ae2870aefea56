"""Stage `hash`: frames (catalog + thumbnails) -> hashes table.

Third stage of the DAG, after frames. Every stored frame (a still or a sampled video frame)
gets PDQ and pHash, each also of its mirror image, after uniform borders are trimmed, with
PDQ's quality and a uniform-frame flag so blank and black frames never link two media.
A frame is hashed once per hashing parameters: a rerun hashes nothing, a new upload only
its own frames. Batches run on the configured executor (one local process per core, or a
Dask cluster, pipeline/executors.py), which gets the thumbnails' bytes from this process;
each batch's rows are committed here as it completes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from tqdm import tqdm

from pipeline.config import HashConfig
from pipeline.core.hashing import hash_frame
from pipeline.core.keypoints import sift_features
from pipeline.core.outcome import ItemFailure, StageResult
from pipeline.core.params import hash_params_hash as params_hash
from pipeline.core.records import FeatureRow, FrameRef, HashRow
from pipeline.executors import open_executor
from pipeline.io import thumbs
from pipeline.stages.context import RunContext

STAGE = "hash"

# Frames that also get local features for the crop path: stills and the first frame of
# every shot (a cropped re-upload of a video is found through its shots' first frames).
FEATURE_REASONS = {"still", "first", "shot_change"}


class HashedBatch(NamedTuple):
    """A batch's catalog rows, and one line per frame that could not be hashed (its stored
    thumbnail missing or unreadable): that frame only is left for a later run."""

    rows: list[HashRow]
    feature_rows: list[FeatureRow]
    errors: list[ItemFailure]


@dataclass(frozen=True)
class HashJob:
    """A batch of frames with their thumbnails' JPEG bytes: a worker needs no access to
    DIR/processed, so a Dask worker on another machine hashes them as well as a local one."""

    refs: list[FrameRef]
    pictures: list[bytes]
    cfg: HashConfig
    params: str


def hash_batch(job: HashJob) -> HashedBatch:
    """Hash a batch of stored frames (and extract local features of shot-representative
    ones); returns catalog rows. Runs in a worker process."""
    rows: list[HashRow] = []
    feature_rows: list[FeatureRow] = []
    errors: list[ItemFailure] = []
    for ref, data in zip(job.refs, job.pictures, strict=True):
        try:
            picture = thumbs.decode(data)
        except (OSError, ValueError) as exc:
            errors.append(
                ItemFailure(
                    f"{ref.media_id[:12]} frame {ref.frame_index}",
                    thumbs.unreadable(ref.thumb_sha256, exc),
                )
            )
            continue
        result = hash_frame(picture, job.cfg)
        box = result.box
        rows.append(
            HashRow(
                ref.media_id,
                ref.frame_index,
                job.params,
                result.pdq,
                result.pdq_mirror,
                result.pdq_quality,
                result.phash,
                result.phash_mirror,
                box.left,
                box.top,
                box.right,
                box.bottom,
                bool(result.uniform),
                result.grey_std,
            )
        )
        if ref.reason in FEATURE_REASONS and not result.uniform:
            points, descriptors = sift_features(picture).to_bytes()
            feature_rows.append(
                FeatureRow(ref.media_id, ref.frame_index, job.params, points, descriptors)
            )
    return HashedBatch(rows, feature_rows, errors)


def run_hash(ctx: RunContext) -> StageResult:
    cfg = ctx.settings.default.hash
    params = params_hash(cfg)
    todo = ctx.catalog.frames_without_hashes(params)
    hashed = uniform = failed = 0
    failures: list[ItemFailure] = []
    for rows, feature_rows, errors in _hash_all(ctx, cfg, params, todo):
        failures += errors
        failed += len(errors)
        with ctx.catalog.transaction():
            ctx.catalog.put_hash_rows(rows)
            ctx.catalog.put_feature_rows(feature_rows)
            ctx.custody(
                STAGE,
                "hash_frames",
                inputs=sorted({row.media_id for row in rows}),
                frames=len(rows),
                params={"config": cfg.model_dump(), "params": params},
            )
        hashed += len(rows)
        uniform += sum(row.uniform for row in rows)
    counts = {"frames_hashed": hashed, "frames_uniform": uniform, "frames_failed": failed}
    return StageResult(counts, hashed + failed, tuple(failures))


def _hash_all(
    ctx: RunContext, cfg: HashConfig, params: str, todo: list[FrameRef]
) -> Iterator[HashedBatch]:
    size = cfg.batch_frames
    batches = [todo[i : i + size] for i in range(0, len(todo), size)]
    if not batches:
        return
    store = ctx.layout.thumbs
    # Each batch's thumbnails are read only when a worker is free for it, and its rows let
    # go once committed: memory holds a few batches, however many frames there are.
    jobs = (
        HashJob(b, [_stored(store, ref.thumb_sha256) for ref in b], cfg, params) for b in batches
    )
    workers = min(cfg.workers or os.cpu_count() or 1, len(batches))
    progress = tqdm(
        total=len(todo), desc="hash", unit="frame", disable=not ctx.show_progress or None
    )
    with progress, open_executor(ctx.settings.default.run, workers, "processes") as executor:
        for batch in executor.map_unordered(hash_batch, jobs):
            yield batch
            progress.update(len(batch.rows) + len(batch.errors))


def _stored(store: Path, sha256: str) -> bytes:
    """A thumbnail's bytes; b"" when the file is gone, which its worker reports as an error."""
    try:
        return thumbs.read(store, sha256)
    except OSError:
        return b""
