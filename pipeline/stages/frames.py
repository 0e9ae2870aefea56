"""Stage `frames`: media (catalog) -> frames table + content-addressed thumbnails.

Second stage of the DAG, after ingest. Each video is decoded once by ffmpeg, streamed through
a pipe: the first frame, a frame at every shot change and one every `interval_s` are kept,
scaled inside ffmpeg, and stored as small JPEGs; each still becomes one frame. A media whose
frames exist under the same parameters is skipped, so a rerun decodes nothing and a new
upload costs its own decoding only. Decoding runs on the configured executor (local threads
or a Dask cluster, pipeline/executors.py); this process alone writes the thumbnails and then
commits each media with its custody entry at once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from pipeline.config import FramesConfig, RunConfig
from pipeline.core.outcome import ItemFailure, StageResult
from pipeline.core.params import frames_params_hash as params_hash
from pipeline.core.pathnames import display_path
from pipeline.core.records import FrameState, MediaRecord, StoredFrame
from pipeline.core.shots import assign_shots, parse_metadata_lines, still_frame
from pipeline.executors import open_executor
from pipeline.io import ffmpeg, thumbs
from pipeline.io.mediafile import decode_still
from pipeline.io.rawtree import (
    EvidenceChanged,
    FileIdentity,
    access_time_kept,
    check_unchanged,
    open_evidence,
)
from pipeline.stages.context import RunContext

STAGE = "frames"
INTERLACED = {"tt", "bb", "tb", "bt"}


@dataclass(frozen=True)
class Sampled:
    """One media's sampling, as a worker returns it: frames with their thumbnails' JPEG bytes
    (by SHA-256) for the driver to store. `failure` is set when the pipeline itself failed
    (not the media); `error` says what went wrong with the media."""

    media_id: str
    frames: list[StoredFrame]
    error: str
    command: list[str]
    pictures: dict[str, bytes] = field(default_factory=dict)
    failure: str = ""


@dataclass(frozen=True)
class SamplingJob:
    """One media to sample: everything a worker needs, without the catalog. `path` is
    absolute: on a cluster every worker must see DIR/raw at the same path."""

    media: MediaRecord
    path: Path
    cfg: FramesConfig
    threads: int
    expect: FileIdentity | None = None  # what ingest hashed at path (size, mtime)


def plan_for(media: MediaRecord, cfg: FramesConfig, threads: int) -> ffmpeg.SamplingPlan:
    width, height = thumbs.fit_size(media.width or 1, media.height or 1, cfg.thumb_size_px)
    return ffmpeg.SamplingPlan(
        width=width,
        height=height,
        interval_s=cfg.interval_s,
        scene_threshold=cfg.scene_threshold,
        keyframes_only=cfg.keyframes_only,
        deinterlace=str(media.derived.get("field_order", "")) in INTERLACED,
        threads=threads,
        timeout_s=cfg.decode_timeout_s + (media.duration_s or 0.0),
        stall_s=cfg.decode_stall_s,
    )


def sample_video(
    media: MediaRecord,
    path: Path,
    cfg: FramesConfig,
    threads: int,
    expect: FileIdentity | None = None,
) -> Sampled:
    plan = plan_for(media, cfg, threads)
    command = ffmpeg.sampling_command(path, plan)
    try:
        with open_evidence(path, expect) as handle:  # before ffmpeg opens it by name...
            hashed = FileIdentity.of(os.fstat(handle.fileno()))
    except OSError as exc:
        return Sampled(media.media_id, [], _not_evidence(exc), command)
    stream = ffmpeg.FrameStream(command, plan.width, plan.height, plan.timeout_s, plan.stall_s)
    pictures: dict[str, bytes] = {}
    shas: list[str] = []
    with access_time_kept(path):
        for frame in stream:
            sha, data = thumbs.encode(frame, cfg.thumb_jpeg_quality)
            pictures[sha] = data
            shas.append(sha)
    try:
        check_unchanged(path, hashed)  # ...and after: the same file all along
    except OSError as exc:
        return Sampled(media.media_id, [], _not_evidence(exc), command)
    samples, problems = parse_metadata_lines(stream.stderr_lines)
    kept = assign_shots(samples[: len(shas)], cfg.scene_threshold)
    if stream.stopped:
        problems.insert(0, stream.stopped)
    elif stream.returncode and not problems:
        problems.append(f"ffmpeg exited with status {stream.returncode}")
    if not shas:
        problems.insert(0, "no frame could be decoded")
    frames = [
        StoredFrame(media.media_id, frame, plan.width, plan.height, sha)
        for frame, sha in zip(kept, shas, strict=False)
    ]
    error = "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else "")
    return Sampled(media.media_id, frames, error, command, pictures)


def _not_evidence(exc: OSError) -> str:
    reason = str(exc) if isinstance(exc, EvidenceChanged) else (exc.strerror or str(exc))
    return f"raw file not decoded: {reason}"


def sample_still(
    media: MediaRecord, path: Path, cfg: FramesConfig, expect: FileIdentity | None = None
) -> Sampled:
    try:
        rgb = decode_still(path, cfg.thumb_size_px, expect)
    except EvidenceChanged as exc:
        return Sampled(media.media_id, [], _not_evidence(exc), [])
    except (OSError, ValueError) as exc:
        return Sampled(media.media_id, [], f"no frame could be decoded: {exc}", [])
    sha, data = thumbs.encode(rgb, cfg.thumb_jpeg_quality)
    height, width = rgb.shape[:2]
    frame = StoredFrame(media.media_id, still_frame(), width, height, sha)
    return Sampled(media.media_id, [frame], "", [], {sha: data})


def sample_media(job: SamplingJob) -> Sampled:
    """The unit of work a local thread or a Dask worker runs: one media, any kind. Never
    raises: one bad media never aborts the batch."""
    media = job.media
    try:
        if media.kind == "video":
            return sample_video(media, job.path, job.cfg, job.threads, job.expect)
        return sample_still(media, job.path, job.cfg, job.expect)
    except Exception as exc:
        problem = f"internal error: {type(exc).__name__}: {exc}"
        return Sampled(media.media_id, [], problem, [], failure=problem)


def store_pictures(store: Path, sampled: Sampled) -> None:
    """Write a sampling's thumbnails (content-addressed, atomically) before its catalog rows
    name them: a run killed in between leaves only files the rerun writes again."""
    for sha, data in sampled.pictures.items():
        thumbs.put(store, sha, data)


def ffmpeg_threads(cfg: FramesConfig, run: RunConfig) -> int:
    """Threads per ffmpeg: the cores left to each of the configured workers (one
    single-threaded ffmpeg per core is fastest, REFERENCES.md "Decoding"); 1 on a Dask
    cluster, whose workers each run one task per thread. A function of the configuration
    and the machine only, never of how much is left to do, so that the ffmpeg command
    recorded for a media is the same whether or not an earlier run was interrupted."""
    if run.executor == "dask":
        return 1
    cores = os.cpu_count() or 1
    return max(1, cores // (cfg.workers or cores))


def run_frames(ctx: RunContext) -> StageResult:
    cfg = ctx.settings.default.frames
    wanted = params_hash(cfg)
    states = ctx.catalog.frame_states()
    files = ctx.catalog.media_files()
    todo = [
        m
        for m in ctx.catalog.observed_media()
        if states.get(m.media_id) is None or states[m.media_id].params_hash != wanted
    ]
    decoded = errors = frames_kept = 0
    hashed = {s.path: FileIdentity(s.size_bytes, s.mtime_ns) for s in ctx.catalog.file_states()}
    expect = {m: hashed.get(display_path(rel)) for m, rel in files.items()}
    failures: list[ItemFailure] = []
    for result in _sample_all(ctx, cfg, todo, files, expect):
        if result.failure:
            failures.append(ItemFailure(result.media_id[:12], result.failure))
        store_pictures(ctx.layout.thumbs, result)
        state = FrameState(result.media_id, wanted, len(result.frames), result.error)
        with ctx.catalog.transaction():
            ctx.catalog.replace_frames(state, result.frames, result.command)
            ctx.custody(
                STAGE,
                "sample_frames",
                inputs=[{"sha256": result.media_id}],
                outputs=[f.thumb_sha256 for f in result.frames],
                params={"ffmpeg_command": result.command, "config": cfg.model_dump()},
                error=result.error,
            )
        decoded += 1
        frames_kept += len(result.frames)
        errors += bool(result.error)
    counts = {
        "media_sampled": decoded,
        "media_reused": len(files) - decoded,
        "frames_kept": frames_kept,
        "media_with_errors": errors,
    }
    return StageResult(counts, decoded, tuple(failures))


def _sample_all(
    ctx: RunContext,
    cfg: FramesConfig,
    todo: list[MediaRecord],
    files: dict[str, str],
    expect: dict[str, FileIdentity | None],
) -> Iterator[Sampled]:
    run = ctx.settings.default.run
    threads = ffmpeg_threads(cfg, run)
    workers = min(cfg.workers or os.cpu_count() or 1, len(todo) or 1)
    raw = ctx.layout.raw.absolute()
    # Videos first (longest work), so the workers' tail is short.
    ordered = sorted(todo, key=lambda m: (m.kind != "video", -(m.duration_s or 0), m.media_id))
    jobs = (
        SamplingJob(m, raw / files[m.media_id], cfg, threads, expect.get(m.media_id))
        for m in ordered
    )
    with open_executor(run, workers, "threads") as executor:
        yield from tqdm(
            executor.map_unordered(sample_media, jobs),
            total=len(ordered),
            desc="frames",
            unit="media",
            disable=not ctx.show_progress or None,
        )
