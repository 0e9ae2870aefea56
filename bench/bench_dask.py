"""The frames and hash stages on a Dask cluster against the local executor, same machine.

What the scheduler costs where it cannot win: a `distributed.LocalCluster` of 2 worker
processes with 1 thread each (how docs/scale-out.md tells to start workers) against the local
executor (threads for ffmpeg, a forkserver pool for hashing, one per core), both running
`run_frames` then `run_hash` as `crosscheck run` does, on the same generated collection and the
same ingested catalog, in one process. The ratio is the overhead a cluster must win back by
adding machines: task submission, pickling thumbnails to workers and back, the scheduler's
round trips. Each run starts from the same pristine catalog (ingested, nothing sampled) and an
empty thumbnail store; rounds alternate which executor goes first, figures are medians.
Before timing, one untimed run on each warms the cluster's workers (imports, OpenCV) and the
page cache; the local pool is created by every run, as the stage does.

The collection: videos of slowly panning sample photos with hard cuts (pipeline/synth/
videos.py, 640x360, 25 fps, H.264) and JPEG stills, sized by --scale.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from pipeline.config import Settings, load_settings, with_executor
from pipeline.io.catalog import Catalog
from pipeline.layout import DataLayout
from pipeline.stages.context import Operator, open_run
from pipeline.stages.frames import run_frames
from pipeline.stages.hash import run_hash
from pipeline.stages.ingest import run_ingest
from pipeline.synth import images as im
from pipeline.synth.videos import Shot, write_shots

NAME = "Dask executor: frames and hash stages on a 2-worker LocalCluster vs the local executor"

ROOT = Path(__file__).resolve().parents[1]
VIDEOS = 8  # at scale 1
STILLS = 24
SHOTS_PER_VIDEO = 3
SHOT_S = 5.0
REPEATS = 5  # background load on 2 shared cores moved 3-round medians by ±0.15×


def _collection(layout: DataLayout, scale: float) -> tuple[int, int]:
    videos, stills = max(2, round(VIDEOS * scale)), max(2, round(STILLS * scale))
    pictures = [im.photo(name) for name in im.PHOTOS]
    for v in range(videos):
        shots = [Shot(pictures[(v + s) % len(pictures)], SHOT_S) for s in range(SHOTS_PER_VIDEO)]
        path = layout.raw / "bench" / f"source{v % 3}" / f"clip{v:03d}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_shots(path, shots, fps=25, width=640, height=360)
    for s in range(stills):
        picture = im.resize(pictures[s % len(pictures)], 0.5 + 0.5 * (s // len(pictures)) / 4)
        path = layout.raw / "bench" / f"source{s % 3}" / f"still{s:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(im.jpeg_bytes(picture, 70 + s % 20))
    return videos, stills


def _decode_once(layout: DataLayout, settings: Settings, pristine: Path) -> tuple[float, Any]:
    """frames then hash from the pristine catalog with an empty store; wall s and the rows."""
    shutil.rmtree(layout.processed)
    layout.processed.mkdir(parents=True)
    shutil.copyfile(pristine, layout.catalog)
    started = time.perf_counter()
    with open_run(layout, settings, "bench", Operator("bench"), False) as ctx:
        run_frames(ctx)
        run_hash(ctx)
    wall_s = time.perf_counter() - started
    with Catalog(layout.catalog) as catalog:
        rows = catalog.hash_rows(), catalog.frames()
    return wall_s, rows


def run(scale: float) -> str:
    from distributed import LocalCluster

    root = Path(tempfile.mkdtemp(prefix="crosscheck-bench-dask-"))
    try:
        layout = DataLayout(root / "data")
        started = time.perf_counter()
        videos, stills = _collection(layout, scale)
        generated_s = time.perf_counter() - started
        local = load_settings(ROOT / "configs")
        with open_run(layout, local, "ingest", Operator("bench"), False) as ctx:
            run_ingest(ctx)
        pristine = root / "pristine.sqlite"
        shutil.copyfile(layout.catalog, pristine)
        with LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0"
        ) as cluster:
            dask = with_executor(local, "dask", cluster.scheduler_address)
            runs: dict[str, list[float]] = {"local": [], "dask": []}
            rows: dict[str, Any] = {}
            load_before = os.getloadavg()[0]
            for name, settings in (("local", local), ("dask", dask)):  # warm-up, untimed
                rows[name] = _decode_once(layout, settings, pristine)[1]
            for round_no in range(REPEATS):
                order = [("local", local), ("dask", dask)]
                for name, settings in order if round_no % 2 == 0 else order[::-1]:
                    runs[name].append(_decode_once(layout, settings, pristine)[0])
            load_after = os.getloadavg()[0]
        same = rows["local"] == rows["dask"]
        frames = len(rows["local"][1])
        return _report(videos, stills, frames, generated_s, runs, same, load_before, load_after)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _report(
    videos: int,
    stills: int,
    frames: int,
    generated_s: float,
    runs: dict[str, list[float]],
    same: bool,
    load_before: float,
    load_after: float,
) -> str:
    local, dask = median(runs["local"]), median(runs["dask"])
    paired = median(d / lo for d, lo in zip(runs["dask"], runs["local"], strict=True))
    cores = os.cpu_count() or 1
    batch = load_settings(ROOT / "configs").default.hash.batch_frames
    batches = math.ceil(frames / batch)
    return "\n".join(
        [
            f"Collection: {videos} videos ({SHOTS_PER_VIDEO} shots of {SHOT_S:g} s, 640×360, "
            f"25 fps, H.264) and {stills} JPEG stills: {frames} frames kept. Generated in "
            f"{generated_s:.0f} s (not timed). Each run: `run_frames` then `run_hash` from the "
            "same ingested catalog with an empty thumbnail store (catalog commits, thumbnail "
            f"writes and custody entries included). Medians of {len(runs['local'])} rounds, "
            f"order alternating, after one untimed warm-up run each. Load average "
            f"{load_before:.2f} before, {load_after:.2f} after.",
            "",
            "| executor | workers | frames + hash, wall (min–max) | vs local |",
            "|---|---|---|---|",
            f"| local (threads for ffmpeg, forkserver processes for hashing) | {cores} "
            f"| {local:.2f} s ({min(runs['local']):.2f}–{max(runs['local']):.2f}) | 1.00× |",
            f"| Dask `LocalCluster`, 2 processes × 1 thread | 2 | {dask:.2f} s "
            f"({min(runs['dask']):.2f}–{max(runs['dask']):.2f}) | **{paired:.2f}×** |",
            "",
            f"- Overhead of the Dask executor on one machine: **{paired:.2f}×** the local "
            "executor's wall time (median of per-round ratios). On one machine it buys nothing; "
            "it pays off when workers on other machines add cores (docs/scale-out.md).",
            f"- The hash stage's {frames} frames make {batches} batch(es) of `hash.batch_frames` "
            f"({batch}): the local executor runs a single batch in the driver, without a pool, "
            "and Dask sends it to one worker; the frames stage's media spread over both.",
            "- Outputs: frames and hash rows "
            + ("**identical**" if same else "**DIFFER**")
            + " between the two executors.",
        ]
    )
