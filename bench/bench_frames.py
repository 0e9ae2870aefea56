"""Frames and hash stages on a generated 1280x720 H.264 clip, each against a bare baseline.

The issue's yardsticks, measured in the same process on the same clip:

- sampling (`sample_video`, default `FramesConfig`) against bare
  `ffmpeg -i clip -vf fps=1 -f null -`, which decodes every frame as sampling must
  (REFERENCES.md "Decoding": the fps filter does not skip decoding); target at most 1.3x;
- key-frame mode (`keyframes_only`) against the same baseline; target at least 3x faster;
- hashing against a bare `pdqhash.compute` loop over the same decoded 320 px frames, per core
  (`hash_frame` in one process) and as the stage runs (`run_hash`: JPEG load, trimming, PDQ
  and pHash with mirrors, SIFT on shot-representative frames, one process per core, catalog
  commits); target at least 0.8x;
- peak memory of both stages on the 1-minute clip and on 10 minutes of the same content,
  each in a fresh subprocess; flat means a 10 min / 1 min ratio near 1.

The clip is six 10 s shots of ffmpeg's synthetic sources (a moving test pattern, fractal
zooms, cellular automata), so it has real cuts for the scene detector, with light temporal
noise so every frame costs real decoding; libx264 `veryfast` at its default CRF and GOP
(keyint 250, plus x264's scene-cut key frames). The 10-minute clip is the same clip ten
times, joined by stream copy. Generation is not timed.

Two cores are shared with other engineers' work, so timed runs alternate (the order rotates
every round), every figure is a median of the rounds, and CPU seconds (this process and its
finished children) are reported beside wall time: CPU time hardly moves with background load.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
import pdqhash

from pipeline.config import FramesConfig, HashConfig, IngestConfig, Settings, load_settings
from pipeline.core.hashing import hash_frame
from pipeline.core.keypoints import sift_features
from pipeline.core.records import MediaRecord
from pipeline.core.shots import SampledFrame
from pipeline.io import ffmpeg, thumbs
from pipeline.io.catalog import Catalog, FrameState, StoredFrame
from pipeline.io.mediafile import examine
from pipeline.io.rawtree import digest_file
from pipeline.layout import DataLayout
from pipeline.stages import frames as frames_stage
from pipeline.stages import hash as hash_stage
from pipeline.stages.context import Operator, open_run

NAME = "Frames and hash stages: sampling, key frames, hashing throughput, peak memory"

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
REPEATS = 5
QUICK_REPEATS = 3  # below scale 0.5, so that `--scale 0.1` stays under a minute
SHOT_S = 10.0  # per shot at scale 1: six shots make the 60 s clip
LONG_COPIES = 10  # the long clip is the short one this many times: 10 minutes at scale 1
SAMPLING_TARGET = 1.3  # sampling wall time at most 1.3x the bare fps=1 decode
KEYFRAME_TARGET = 3.0  # key-frame mode at least 3x faster than the bare fps=1 decode
HASH_TARGET = 0.8  # hashing at least 0.8x the frames/s of a bare pdqhash loop
# Frames per batch of the hash stage, as configured (`hash.batch_frames`).
STAGE_BATCH = load_settings(CONFIGS).default.hash.batch_frames
ENCODE = ("-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")  # default CRF, GOP

# (what the shot shows, lavfi source chain producing 1280x720 at 30 fps)
SHOTS: tuple[tuple[str, str], ...] = (
    ("moving test pattern", "testsrc2=s=1280x720:r=30"),
    ("fractal zoom", "mandelbrot=s=640x360:r=30,scale=1280:720"),
    (
        "Game of Life, 4 px cells",
        "life=s=320x180:r=30:mold=10:ratio=0.3:life_color=#e0c050:death_color=#203050,"
        "scale=1280:720:flags=neighbor",
    ),
    ("cellular automaton (rule 30)", "cellauto=s=320x180:r=30:rule=30,scale=1280:720"),
    ("test pattern, hue-shifted and flipped", "testsrc2=s=1280x720:r=30,hue=h=150:s=1.5,vflip"),
    (
        "fractal zoom, another region",
        "mandelbrot=s=640x360:r=30:start_x=-0.75:start_y=0.1:start_scale=0.5,scale=1280:720",
    ),
)

# Memory is measured in a fresh interpreter that imports only what the stage needs (the CLI
# imports every stage, cv2 included, which would hide the stage's own growth). Peaks are
# VmHWM from /proc, not ru_maxrss: Linux carries a parent's ru_maxrss over fork and exec, so
# every child of a 500 MB process reports at least 500 MB (measured here). Children (ffmpeg,
# hash workers) are found by scanning /proc every 100 ms and their VmHWM read every 10 ms
# until they exit: a lower bound that misses at most their last 10 ms. Each script prints
# one JSON line; sizes in KiB.
_PEAKS = """
import json, os, subprocess, sys, threading, time
from pathlib import Path


def vm_hwm_kb(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_pids():
    # Every descendant: the hash stage's workers are children of its forkserver.
    parents = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    text = stat.read()
            except OSError:
                continue
            parents[pid] = text[text.rfind(")") + 2 :].split()[1]
    found, frontier = [], {str(os.getpid())}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier}
        found += sorted(frontier)
    return found


class ChildPeaks(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peaks, self.done = {}, threading.Event()

    def run(self):
        tick = 0
        while not self.done.wait(0.01):
            if tick % 10 == 0:
                for pid in child_pids():
                    self.peaks.setdefault(pid, 0)
            for pid in self.peaks:
                self.peaks[pid] = max(self.peaks[pid], vm_hwm_kb(pid))
            tick += 1

    def stop(self):
        self.done.set()
        self.join()
        return max(self.peaks.values(), default=0)
"""

_BARE_CHILD = (
    _PEAKS
    + """
watch = ChildPeaks()
watch.start()
started = time.perf_counter()
subprocess.run(json.loads(sys.argv[1]), stdin=subprocess.DEVNULL, check=True)
wall_s = time.perf_counter() - started
print(json.dumps({"children_kb": watch.stop(), "wall_s": wall_s}))
"""
)

_SAMPLE_CHILD = (
    _PEAKS
    + """
from pipeline.config import load_settings
from pipeline.core.records import MediaRecord
from pipeline.stages.frames import sample_video, store_pictures

media_json, clip, store, keyframes, configs = sys.argv[1:6]
floor_kb = vm_hwm_kb()
cfg = load_settings(Path(configs)).default.frames
cfg = cfg.model_copy(update={"keyframes_only": keyframes == "1"})
watch = ChildPeaks()
watch.start()
started = time.perf_counter()
sampled = sample_video(MediaRecord(**json.loads(media_json)), Path(clip), cfg, os.cpu_count() or 1)
store_pictures(Path(store), sampled)
wall_s = time.perf_counter() - started
print(json.dumps({
    "floor_kb": floor_kb,
    "self_kb": vm_hwm_kb(),
    "children_kb": watch.stop(),
    "wall_s": wall_s,
    "error": sampled.error,
    "frames": [
        [f.frame.frame_index, f.frame.pts_s, f.frame.shot_id, f.frame.scene_score,
         f.frame.reason, f.width, f.height, f.thumb_sha256]
        for f in sampled.frames
    ],
}))
"""
)

_HASH_CHILD = (
    _PEAKS
    + """
from pipeline.config import load_settings
from pipeline.layout import DataLayout
from pipeline.stages.context import Operator, open_run
from pipeline.stages.hash import run_hash

data_dir, configs = Path(sys.argv[1]), Path(sys.argv[2])
floor_kb = vm_hwm_kb()
settings = load_settings(configs)
watch = ChildPeaks()
watch.start()
started = time.perf_counter()
with open_run(DataLayout(data_dir), settings, "hash", Operator("bench"), False) as ctx:
    counts = run_hash(ctx)
wall_s = time.perf_counter() - started
print(json.dumps({
    "floor_kb": floor_kb,
    "self_kb": vm_hwm_kb(),
    "children_kb": watch.stop(),
    "wall_s": wall_s,
    "counts": counts,
}))
"""
)

# The stage's workers are forked from a forkserver, a fresh interpreter, so each imports the
# stage's modules (OpenCV, SciPy, pdqhash, PIL) before its first frame.
_IMPORT_CHILD = """
import json, time
started = time.perf_counter()
import pipeline.stages.hash
print(json.dumps({"import_s": time.perf_counter() - started}))
"""


# ---- generation (untimed) ---------------------------------------------------------------


@dataclass(frozen=True)
class _Clip:
    path: Path
    media: MediaRecord  # as ingest describes it
    key_frames: int

    @property
    def mbit_s(self) -> float:
        return self.media.size_bytes * 8 / 1e6 / (self.media.duration_s or 1.0)


def _shots_spec(shot_s: float) -> str:
    """One lavfi graph: the shots cut together, then noise that changes every frame (allf=t)
    so that the encoder cannot skip static areas and decoding costs what footage costs."""
    parts = [
        f"{source},trim=duration={shot_s:g},setpts=PTS-STARTPTS[s{i}]"
        for i, (_, source) in enumerate(SHOTS)
    ]
    inputs = "".join(f"[s{i}]" for i in range(len(SHOTS)))
    return ";".join(parts) + f";{inputs}concat=n={len(SHOTS)},noise=alls=4:allf=t[out0]"


def _join_copies(source: Path, target: Path, copies: int) -> None:
    """`copies` times the source, back to back, by stream copy (concat demuxer): the same
    content and bitrate, only longer. A bench-only call: no evidence is ever opened here."""
    listing = target.with_suffix(".txt")
    listing.write_text("".join(f"file '{source.absolute()}'\n" for _ in range(copies)))
    command = ["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing)]
    subprocess.run([*command, "-c", "copy", str(target)], capture_output=True, check=True)


def _key_frames(path: Path) -> int:
    """Key frames in the video stream, as `-skip_frame nokey` decodes them."""
    done = subprocess.run(
        [
            "ffprobe", "-v", "error", "-select_streams", "v:0", "-skip_frame", "nokey",
            "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
            str(path),
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(done.stdout.strip().rstrip(","))


def _describe(path: Path) -> _Clip:
    """The MediaRecord ingest would store for the file (digest, ffprobe), and its key frames."""
    cfg = IngestConfig()
    described = examine(
        path, digest_file(path, cfg.read_chunk_bytes), cfg.max_image_pixels, cfg.probe_timeout_s
    )
    if described.media is None:
        raise RuntimeError(f"generated clip {path.name} is not media: {described.reason}")
    return _Clip(path, described.media, _key_frames(path))


def make_clips(root: Path, shot_s: float) -> tuple[_Clip, _Clip]:
    """The short clip (six shots of shot_s) and the long one (LONG_COPIES copies of it)."""
    short, long = root / "clip_1.mp4", root / f"clip_{LONG_COPIES}.mp4"
    ffmpeg.lavfi_source(_shots_spec(shot_s), short, ENCODE, timeout_s=900)
    _join_copies(short, long, LONG_COPIES)
    return _describe(short), _describe(long)


# ---- measurement helpers ----------------------------------------------------------------


def _cpu_s() -> float:
    """CPU seconds of this process (all threads) and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass(frozen=True)
class _Run:
    wall_s: float
    cpu_s: float
    frames: int = 0


@dataclass
class _Rounds:
    """Every run of every row, in the order taken; rows are compared by their medians."""

    runs: dict[str, list[_Run]] = field(default_factory=dict)

    def add(self, key: str, run: _Run) -> None:
        self.runs.setdefault(key, []).append(run)

    def wall(self, key: str) -> float:
        return median(r.wall_s for r in self.runs[key])

    def cpu(self, key: str) -> float:
        return median(r.cpu_s for r in self.runs[key])

    def spread(self, key: str) -> str:
        walls = [r.wall_s for r in self.runs[key]]
        return f"{min(walls):.2f}–{max(walls):.2f}"

    def paired(self, numerator: str, denominator: str) -> float:
        """Median over rounds of numerator/denominator wall time, each pair taken close
        together, so a burst of background load mostly cancels."""
        pairs = zip(self.runs[numerator], self.runs[denominator], strict=True)
        return median(a.wall_s / b.wall_s for a, b in pairs)

    def frames(self, key: str) -> int:
        return self.runs[key][-1].frames

    @property
    def count(self) -> int:
        """Rounds taken (every row runs once per round)."""
        return min(len(runs) for runs in self.runs.values())


def _bare(command: Sequence[str]) -> _Run:
    """Run a command, reading its own CPU time from wait4 (not the summed RUSAGE_CHILDREN
    of everything this process ever started)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            list(command), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            message = ffmpeg.last_error_line(errors.read())
            raise RuntimeError(f"{command[0]} exited with {process.returncode}: {message}")
    return _Run(wall_s, usage.ru_utime + usage.ru_stime)


def _timed(work: Callable[[], int]) -> _Run:
    """Wall and CPU time (this process and finished children) of work(), which returns the
    number of frames it produced or handled."""
    cpu, started = _cpu_s(), time.perf_counter()
    frames = work()
    return _Run(time.perf_counter() - started, _cpu_s() - cpu, frames)


_Job = tuple[str, Callable[[], _Run]]


def _rotated(jobs: list[_Job], turn: int) -> list[_Job]:
    """The jobs starting at a different one each round, so no row always runs first."""
    shift = turn % len(jobs)
    return jobs[shift:] + jobs[:shift]


def _child(args: Sequence[str]) -> dict[str, Any]:
    """Run `python ARGS` in the repository and return the JSON line it prints last."""
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"measurement subprocess failed: {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ---- sampling ---------------------------------------------------------------------------


def _sample(clip: _Clip, cfg: FramesConfig, threads: int, scratch: Path) -> int:
    """One `sample_video` into a fresh store (thumbnail writes included); frames kept."""
    store = Path(tempfile.mkdtemp(dir=scratch))
    try:
        sampled = frames_stage.sample_video(clip.media, clip.path, cfg, threads)
        frames_stage.store_pictures(store, sampled)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    if sampled.error:
        raise RuntimeError(f"sampling {clip.path.name} reported: {sampled.error}")
    return len(sampled.frames)


_NULL_OUT = ("-f", "null", "-")  # decode and filter, write nothing


def _fps1(clip: Path, threads: int | None = None) -> list[str]:
    """The issue's baseline: decode everything, keep one frame a second, write nothing."""
    thread_args = [] if threads is None else ["-threads", str(threads)]
    return ["ffmpeg", "-v", "error", *thread_args, "-i", str(clip), "-vf", "fps=1", *_NULL_OUT]


def _key_decode(clip: Path) -> list[str]:
    """Bare key-frame decode: the floor for key-frame mode."""
    return ["ffmpeg", "-v", "error", "-skip_frame", "nokey", "-i", str(clip), *_NULL_OUT]


def measure_sampling(clip: _Clip, cfg: FramesConfig, scratch: Path, repeats: int) -> _Rounds:
    """`repeats` rounds of: the bare baseline with ffmpeg's default threads and with one thread,
    sample_video with the threads the stage gives one video alone (one per core) and with
    one, key-frame mode, and a bare key-frame decode."""
    cores = os.cpu_count() or 1
    keyframes = cfg.model_copy(update={"keyframes_only": True})
    jobs: list[_Job] = [
        ("fps1", partial(_bare, _fps1(clip.path))),
        ("ours", partial(_timed, partial(_sample, clip, cfg, cores, scratch))),
        ("keyframes", partial(_timed, partial(_sample, clip, keyframes, cores, scratch))),
        ("fps1_t1", partial(_bare, _fps1(clip.path, threads=1))),
        ("ours_t1", partial(_timed, partial(_sample, clip, cfg, 1, scratch))),
        ("key_decode", partial(_bare, _key_decode(clip.path))),
    ]
    rounds = _Rounds()
    for turn in range(repeats):
        for key, job in _rotated(jobs, turn):
            rounds.add(key, job())
    return rounds


# ---- hashing ----------------------------------------------------------------------------


FrameRef = hash_stage.FrameRef


@dataclass(frozen=True)
class _HashInput:
    layout: DataLayout
    pristine: Path  # the catalog after frames, before hash: copied in for every stage run
    refs: list[FrameRef]
    arrays: list[np.ndarray]  # the stored thumbnails, decoded once (RGB, ~320 px)


def _catalog_from_frames(layout: DataLayout, clip: _Clip, result: dict[str, Any]) -> Path:
    """A catalog holding the clip and the frames a sampling child stored, as `run_frames`
    commits them; saved aside as the pristine copy every hash run starts from."""
    cfg = load_settings(CONFIGS).default.frames
    frames = [
        StoredFrame(clip.media.media_id, SampledFrame(index, pts, shot, score, reason), w, h, sha)
        for index, pts, shot, score, reason, w, h, sha in result["frames"]
    ]
    state = FrameState(clip.media.media_id, frames_stage.params_hash(cfg), len(frames), "")
    with Catalog(layout.catalog) as catalog, catalog.transaction():
        catalog.put_media(clip.media)
        catalog.replace_frames(state, frames, [])
    pristine = layout.data_dir / "catalog.pristine.sqlite"
    shutil.copyfile(layout.catalog, pristine)
    return pristine


def _fresh_catalog(layout: DataLayout, pristine: Path) -> None:
    """Put the pristine catalog back: no hashes yet, no custody entries of earlier runs."""
    for name in ("catalog.sqlite-wal", "catalog.sqlite-shm", "custody.jsonl"):
        (layout.processed / name).unlink(missing_ok=True)
    shutil.copyfile(pristine, layout.catalog)


def _hash_input(layout: DataLayout, pristine: Path, cfg: HashConfig) -> _HashInput:
    with Catalog(pristine) as catalog:
        refs = catalog.frames_without_hashes(hash_stage.params_hash(cfg))
    arrays = [thumbs.load(layout.thumbs, sha) for _, _, sha, _ in refs]
    return _HashInput(layout, pristine, refs, arrays)


def _bare_pdq(arrays: list[np.ndarray]) -> int:
    for rgb in arrays:
        pdqhash.compute(rgb)
    return len(arrays)


def _hash_frames(arrays: list[np.ndarray], cfg: HashConfig) -> int:
    for rgb in arrays:
        hash_frame(rgb, cfg)
    return len(arrays)


def _load_only(hash_input: _HashInput) -> int:
    for _, _, sha, _ in hash_input.refs:
        thumbs.load(hash_input.layout.thumbs, sha)
    return len(hash_input.refs)


def _sift_only(hash_input: _HashInput) -> int:
    """SIFT on the frames the stage extracts features of (uniform ones aside: none here)."""
    chosen = [
        rgb
        for (_, _, _, reason), rgb in zip(hash_input.refs, hash_input.arrays, strict=True)
        if reason in hash_stage.FEATURE_REASONS
    ]
    for rgb in chosen:
        sift_features(rgb)
    return len(chosen)


def _one_process(hash_input: _HashInput, cfg: HashConfig) -> int:
    """The stage's per-frame work on one core: `hash_batch` over every frame at once."""
    batch = hash_stage.hash_batch(_hash_job(hash_input.layout.thumbs, hash_input.refs, cfg))
    return len(batch.rows)


def _hash_job(store: Path, refs: list[FrameRef], cfg: HashConfig) -> hash_stage.HashJob:
    """A batch as the stage hands it to a worker: the thumbnails' bytes read beforehand."""
    pictures = [thumbs.read(store, sha) for _, _, sha, _ in refs]
    return hash_stage.HashJob(refs, pictures, cfg, hash_stage.params_hash(cfg))


def _stage(layout: DataLayout, pristine: Path, settings: Settings) -> int:
    """`run_hash` as `crosscheck hash` runs it, on a catalog with no hashes yet."""
    _fresh_catalog(layout, pristine)
    with open_run(layout, settings, "hash", Operator("bench"), False) as ctx:
        return hash_stage.run_hash(ctx)["frames_hashed"]


def _pool(store: Path, refs: list[FrameRef], cfg: HashConfig, batch: int) -> int:
    """`hash_batch` in one process per core like `_hash_all`, without the catalog, with a
    chosen batch size."""
    batches = [refs[i : i + batch] for i in range(0, len(refs), batch)]
    with ProcessPoolExecutor(min(os.cpu_count() or 1, len(batches))) as pool:
        futures = [pool.submit(hash_stage.hash_batch, _hash_job(store, b, cfg)) for b in batches]
        return sum(len(f.result().rows) for f in futures)


def _pool_job(job: dict[str, Any]) -> _Run:
    """One pooled hashing run, timed inside a fresh interpreter (see `_in_fresh_process`)."""
    settings = load_settings(CONFIGS)
    layout, pristine = DataLayout(Path(job["data_dir"])), Path(job["pristine"])
    if not job["batch"]:
        run = _timed(partial(_stage, layout, pristine, settings))
        return dataclasses.replace(run, cpu_s=run.cpu_s + _live_children_cpu_s())
    cfg = settings.default.hash
    with Catalog(pristine) as catalog:
        refs = catalog.frames_without_hashes(hash_stage.params_hash(cfg))
    return _timed(partial(_pool, layout.thumbs, refs, cfg, job["batch"]))


def _live_children_cpu_s() -> float:
    """CPU seconds of this process's children still alive, with what their own finished
    children used: the stage's forkserver outlives the run, so RUSAGE_CHILDREN misses it and
    the workers it reaped."""
    total = 0
    for entry in Path("/proc").iterdir():
        try:
            text = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if fields and fields[1] == str(os.getpid()):
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def _in_fresh_process(hash_input: _HashInput, batch: int) -> _Run:
    """Pooled rows run in a fresh interpreter, as `crosscheck hash` does: the pool forks its
    workers, and a fork of this process, which has run OpenCV's thread pool for the per-core
    rows, can hang inside OpenCV (seen here: cv2.setNumThreads in such a worker never
    returned). batch 0 runs the stage itself."""
    job = {"data_dir": str(hash_input.layout.data_dir), "pristine": str(hash_input.pristine)}
    result = _child(["-m", "bench.bench_frames", json.dumps({**job, "batch": batch})])
    return _Run(result["wall_s"], result["cpu_s"], result["frames"])


def balanced_batch(frames: int, workers: int) -> int:
    """About four batches per worker (so an uneven tail costs little), 16 to 256 frames."""
    return max(16, min(STAGE_BATCH, math.ceil(frames / (4 * workers))))


def measure_hashing(hash_input: _HashInput, settings: Settings, repeats: int) -> _Rounds:
    """`repeats` rounds of every hashing row over the same frames, order rotating."""
    cfg = settings.default.hash
    cores = os.cpu_count() or 1
    balanced = balanced_batch(len(hash_input.refs), cores)
    jobs: list[_Job] = [
        ("bare", partial(_timed, partial(_bare_pdq, hash_input.arrays))),
        ("hash_frame", partial(_timed, partial(_hash_frames, hash_input.arrays, cfg))),
        ("load", partial(_timed, partial(_load_only, hash_input))),
        ("sift", partial(_timed, partial(_sift_only, hash_input))),
        ("one_process", partial(_timed, partial(_one_process, hash_input, cfg))),
        ("stage", partial(_in_fresh_process, hash_input, 0)),
        ("pool_256", partial(_in_fresh_process, hash_input, STAGE_BATCH)),
        ("pool_balanced", partial(_in_fresh_process, hash_input, balanced)),
    ]
    rounds = _Rounds()
    for turn in range(repeats):
        for key, job in _rotated(jobs, turn):
            rounds.add(key, job())
    return rounds


# ---- memory -----------------------------------------------------------------------------


@dataclass
class _Memory:
    bare: dict[str, dict[str, Any]] = field(default_factory=dict)  # clip -> fps=1 run
    sample: dict[tuple[str, bool], dict[str, Any]] = field(default_factory=dict)
    hash: dict[str, dict[str, Any]] = field(default_factory=dict)


def _media_json(media: MediaRecord) -> str:
    """The record for the child's argv: ffprobe's raw output left out (sampling ignores it)."""
    return json.dumps(dataclasses.asdict(dataclasses.replace(media, raw_metadata={})))


def measure_memory(
    clips: dict[str, _Clip], root: Path
) -> tuple[_Memory, dict[str, DataLayout], dict[str, Path]]:
    """Per clip, each in a fresh process: the bare baseline, sample_video (default and key
    frames), then run_hash over the default sampling's frames. Returns the layouts and
    pristine catalogs, which the hashing timings reuse."""
    memory = _Memory()
    layouts: dict[str, DataLayout] = {}
    pristine: dict[str, Path] = {}
    for name, clip in clips.items():
        memory.bare[name] = _child(["-c", _BARE_CHILD, json.dumps(_fps1(clip.path))])
        layout = DataLayout(root / f"data_{name}")
        for keyframes in (False, True):
            store = layout.thumbs if not keyframes else root / f"keyframes_{name}"
            args = [_media_json(clip.media), str(clip.path), str(store), str(int(keyframes))]
            result = _child(["-c", _SAMPLE_CHILD, *args, str(CONFIGS)])
            if result["error"]:
                raise RuntimeError(f"sampling {clip.path.name} reported: {result['error']}")
            memory.sample[name, keyframes] = result
        layouts[name] = layout
        pristine[name] = _catalog_from_frames(layout, clip, memory.sample[name, False])
        memory.hash[name] = _child(["-c", _HASH_CHILD, str(layout.data_dir), str(CONFIGS)])
    return memory, layouts, pristine


# ---- run and report ---------------------------------------------------------------------


def run(scale: float) -> str:
    settings = load_settings(CONFIGS)
    shot_s = max(0.5, SHOT_S * scale)
    repeats = REPEATS if scale >= 0.5 else QUICK_REPEATS
    root = Path(tempfile.mkdtemp(prefix="crosscheck-bench-frames-"))
    try:
        started = time.perf_counter()
        short, long = make_clips(root, shot_s)
        generated_s = time.perf_counter() - started
        load_before = os.getloadavg()[0]
        sampling = measure_sampling(short, settings.default.frames, root, repeats)
        clips = {"short": short, "long": long}
        memory, layouts, pristine = measure_memory(clips, root)
        hash_input = _hash_input(layouts["long"], pristine["long"], settings.default.hash)
        hashing = measure_hashing(hash_input, settings, repeats)
        import_s = median(_child(["-c", _IMPORT_CHILD])["import_s"] for _ in range(repeats))
        load = (load_before, os.getloadavg()[0])
        return _report(clips, generated_s, sampling, memory, hash_input, hashing, import_s, load)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _verdict(value: float, target: float, at_least: bool) -> str:
    met = value >= target if at_least else value <= target
    sign = "≥" if at_least else "≤"
    return f"{'**met**' if met else '**missed**'} (target {sign} {target:g}×)"


def _minutes(clip: _Clip) -> str:
    seconds = clip.media.duration_s or 0.0
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def _report(
    clips: dict[str, _Clip],
    generated_s: float,
    sampling: _Rounds,
    memory: _Memory,
    hash_input: _HashInput,
    hashing: _Rounds,
    import_s: float,
    load: tuple[float, float],
) -> str:
    short, long = clips["short"], clips["long"]
    cores = os.cpu_count() or 1
    shot_s = (short.media.duration_s or 0.0) / len(SHOTS)
    lines = [
        f"Clip: {_minutes(short)}, {short.media.width}×{short.media.height}, 30 fps, H.264 "
        f"(libx264 `veryfast`, default CRF 23 and GOP: keyint 250 plus scene-cut key frames), "
        f"{short.media.size_bytes / 1e6:.1f} MB, **{short.mbit_s:.2f} Mbit/s**, "
        f"{short.key_frames} key frames. Six {shot_s:g} s shots cut together: "
        + ", ".join(label for label, _ in SHOTS)
        + "; light temporal noise on every frame (`noise=alls=4:allf=t`), so decoding costs "
        f"what camera footage costs. Long clip: the same clip {LONG_COPIES} times, joined "
        f"by stream copy ({_minutes(long)}, {long.media.size_bytes / 1e6:.0f} MB, "
        f"{long.key_frames} key frames). Generated in {generated_s:.0f} s (not timed).",
        "",
        "### Sampling (frames stage) vs bare `ffmpeg -i clip -vf fps=1 -f null -`",
        "",
        f"Medians of {sampling.count} rounds on the {_minutes(short)} clip; each round runs "
        "every row once, starting at a different row. `sample_video` runs with the default "
        f"`FramesConfig` (interval 1 s, scene threshold 0.3, 320 px JPEG thumbnails written "
        f"to a fresh store) and `threads={cores}`, what the stage gives one video alone "
        f"(`os.cpu_count()`). CPU s: the process and its ffmpeg, from rusage.",
        "",
        "| run | frames kept | wall s | range | CPU s | wall vs baseline | paired | "
        "CPU vs baseline |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def sampling_row(label: str, key: str, base: str) -> str:
        frames = str(sampling.frames(key)) if sampling.frames(key) else "–"
        return (
            f"| {label} | {frames} | {sampling.wall(key):.2f} | {sampling.spread(key)} | "
            f"{sampling.cpu(key):.2f} | {sampling.wall(key) / sampling.wall(base):.2f}× | "
            f"{sampling.paired(key, base):.2f}× | "
            f"{sampling.cpu(key) / sampling.cpu(base):.2f}× |"
        )

    lines += [
        sampling_row(
            "baseline: `ffmpeg -i clip -vf fps=1 -f null -` (default threads)", "fps1", "fps1"
        ),
        sampling_row(f"**`sample_video`**, threads={cores}", "ours", "fps1"),
        sampling_row(f"**`sample_video`, `keyframes_only`**, threads={cores}", "keyframes", "fps1"),
        sampling_row(
            "bare key-frame decode: `ffmpeg -skip_frame nokey -i clip -f null -`",
            "key_decode",
            "fps1",
        ),
        sampling_row("baseline with `-threads 1`", "fps1_t1", "fps1_t1"),
        sampling_row("`sample_video`, threads=1 (vs baseline `-threads 1`)", "ours_t1", "fps1_t1"),
    ]
    ours_ratio = sampling.paired("ours", "fps1")
    key_speedup = 1 / sampling.paired("keyframes", "fps1")
    lines += [
        "",
        f"- Sampling: **{ours_ratio:.2f}×** the baseline's wall time (median of the "
        f"per-round ratios; CPU {sampling.cpu('ours') / sampling.cpu('fps1'):.2f}×; ratio of "
        f"the median walls {sampling.wall('ours') / sampling.wall('fps1'):.2f}×, the figure "
        f"background load moves most): {_verdict(ours_ratio, SAMPLING_TARGET, at_least=False)}. "
        f"Single-threaded on both sides: {sampling.paired('ours_t1', 'fps1_t1'):.2f}× (CPU "
        f"{sampling.cpu('ours_t1') / sampling.cpu('fps1_t1'):.2f}×). The extra CPU is the "
        "scene score of every decoded frame, the RGB scaling of the kept ones and their JPEG "
        "encoding; decoding is the rest, as in the baseline.",
        f"- Key-frame mode: **{key_speedup:.1f}× faster** than the baseline (paired; by "
        f"medians {sampling.wall('fps1') / sampling.wall('keyframes'):.1f}×, by CPU "
        f"{sampling.cpu('fps1') / sampling.cpu('keyframes'):.1f}×): "
        f"{_verdict(key_speedup, KEYFRAME_TARGET, at_least=True)}. It keeps "
        f"{sampling.frames('keyframes')} frames (every key frame at least 1 s after the last "
        f"kept) against {sampling.frames('ours')} in the default mode.",
    ]

    n = len(hash_input.refs)
    featured = sum(ref[3] in hash_stage.FEATURE_REASONS for ref in hash_input.refs)
    balanced = balanced_batch(n, cores)
    stage_batches = math.ceil(n / STAGE_BATCH)
    lines += [
        "",
        "### Hashing (hash stage) vs a bare `pdqhash.compute` loop",
        "",
        f"The {n} frames the default sampling kept from the {_minutes(long)} clip "
        f"({hash_input.arrays[0].shape[1]}×{hash_input.arrays[0].shape[0]} JPEG thumbnails; "
        f"{featured} of them first-of-shot, which also get SIFT). The in-memory rows hash the "
        "same decoded RGB arrays; the others load the JPEGs as the stage does. Medians of "
        f"{hashing.count} rounds, order rotating. CPU s: all threads of this process and of "
        "finished child processes, so frames per CPU s is the per-core efficiency that background "
        "load hardly moves.",
        "",
        "| run | processes | wall s | frames/s | vs bare (wall) | CPU s | frames per CPU s | "
        "vs bare (CPU) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def hash_row(label: str, key: str, processes: str, frames: int = n) -> str:
        wall, cpu = hashing.wall(key), hashing.cpu(key)
        bare_rate, bare_cpu_rate = n / hashing.wall("bare"), n / hashing.cpu("bare")
        return (
            f"| {label} | {processes} | {wall:.2f} | {frames / wall:,.0f} | "
            f"{frames / wall / bare_rate:.2f}× | {cpu:.2f} | {frames / cpu:,.0f} | "
            f"{frames / cpu / bare_cpu_rate:.2f}× |"
        )

    lines += [
        hash_row("baseline: bare `pdqhash.compute(frame)` loop", "bare", "1"),
        hash_row(
            "**`hash_frame`** loop (trim, PDQ and its mirror, pHash and its mirror)",
            "hash_frame",
            "1",
        ),
        hash_row("part: `thumbs.load` (JPEG decode) alone", "load", "1"),
        hash_row(
            f"part: `sift_features` alone, on the {featured} first-of-shot frames",
            "sift",
            "1",
            featured,
        ),
        hash_row(
            "`hash_batch` over all frames in one process (the stage's work per core)",
            "one_process",
            "1",
        ),
        hash_row(
            f"**`run_hash`** (the stage: batches of {STAGE_BATCH}, catalog commits)",
            "stage",
            f"{min(cores, stage_batches)}",
        ),
        hash_row(
            f"`hash_batch` pool, batches of {STAGE_BATCH}, no catalog",
            "pool_256",
            f"{min(cores, stage_batches)}",
        ),
        hash_row(f"candidate: pool, batches of {balanced}", "pool_balanced", f"{cores}"),
    ]
    per_core = hashing.wall("bare") / hashing.wall("hash_frame")
    stage = hashing.paired("bare", "stage")
    sift_ms = 1000 * hashing.cpu("sift") / max(1, featured)
    lines += [
        "",
        f"- Per core, `hash_frame` runs at **{per_core:.2f}×** the bare loop's frames/s "
        f"(CPU: {hashing.cpu('bare') / hashing.cpu('hash_frame'):.2f}×): "
        f"{_verdict(per_core, HASH_TARGET, at_least=True)}. After border trimming it runs "
        "PDQ once, on the picture squeezed to 160 px, and takes the mirror's PDQ from the "
        "same DCT; then both pHashes from one 32 px DCT. The bare loop runs PDQ on the "
        "320 px frame.",
        f"- The stage (`run_hash`) runs at {stage:.2f}× the bare loop's frames/s (paired; "
        f"per CPU second {hashing.cpu('bare') / hashing.cpu('stage'):.2f}×). This is not "
        "the target's measure, which compares hashing over the same decoded frames: "
        "besides hashing, the stage decodes every stored JPEG and runs SIFT "
        f"({sift_ms:.0f} CPU ms a frame) on the first frame of every shot for the crop path, "
        f"which alone costs {hashing.cpu('sift') / hashing.cpu('one_process'):.0%} of its "
        f"per-core work here ({featured / n:.0%} of frames; more cuts per minute mean more "
        "SIFT). JPEG decoding and hashing alone would run at "
        f"{hashing.cpu('bare') / (hashing.cpu('load') + hashing.cpu('hash_frame')):.2f}× "
        "per CPU second (sum of the part rows).",
        f"- The stage spends {hashing.cpu('stage') - hashing.cpu('one_process'):.2f} CPU s "
        "more than the same work in one process: starting the forkserver and the workers, "
        "committing rows and custody entries, and in each worker the import of the stage's "
        f"modules ({import_s:.2f} s, median of {hashing.count} fresh interpreters).",
        f"- Batches of {balanced} instead of {STAGE_BATCH} (no idle worker while the "
        f"other finishes a long batch): {hashing.wall('pool_balanced'):.2f} s against "
        f"{hashing.wall('pool_256'):.2f} s; a gain needs a second free core, which this "
        f"load ({load[0]:.1f} to {load[1]:.1f} on {cores} cores) seldom left.",
    ]

    def mb(kb: float) -> str:
        return f"{kb / 1024:.0f}" if kb else "–"

    def ratio(a: float, b: float) -> str:
        return f"{b / a:.2f}" if a else "–"

    s_bare, l_bare = memory.bare["short"], memory.bare["long"]
    s_ours, l_ours = memory.sample["short", False], memory.sample["long", False]
    s_key, l_key = memory.sample["short", True], memory.sample["long", True]
    s_hash, l_hash = memory.hash["short"], memory.hash["long"]
    long_batches = math.ceil(len(l_ours["frames"]) / STAGE_BATCH)
    short_batches = math.ceil(len(s_ours["frames"]) / STAGE_BATCH)

    def mem_row(label: str, short_kb: float, long_kb: float) -> str:
        return f"| {label} | {mb(short_kb)} | {mb(long_kb)} | {ratio(short_kb, long_kb)} |"

    lines += [
        "",
        f"### Peak memory, {_minutes(short)} vs {_minutes(long)}",
        "",
        "Each stage in a fresh interpreter importing only that stage (`python -c`): peak "
        "resident set (VmHWM) of the Python process and of its largest child (ffmpeg, or the "
        "largest hash worker, polled from /proc every 10 ms; ru_maxrss would report the "
        "parent's high-water mark, which Linux carries over fork and exec). Forked hash "
        "workers count the pages they share with the main process, so the two do not add "
        "up. MB = MiB. One run each.",
        "",
        f"| process | {_minutes(short)}, MB | {_minutes(long)}, MB | ratio |",
        "|---|---:|---:|---:|",
        mem_row("bare `ffmpeg -vf fps=1 -f null -`", s_bare["children_kb"], l_bare["children_kb"]),
        mem_row("frames: Python, after imports", s_ours["floor_kb"], l_ours["floor_kb"]),
        mem_row("frames: Python, peak", s_ours["self_kb"], l_ours["self_kb"]),
        mem_row(
            f"frames: its ffmpeg (threads={cores})", s_ours["children_kb"], l_ours["children_kb"]
        ),
        mem_row("frames, key frames: Python, peak", s_key["self_kb"], l_key["self_kb"]),
        mem_row("frames, key frames: its ffmpeg", s_key["children_kb"], l_key["children_kb"]),
        mem_row("hash: Python, after imports", s_hash["floor_kb"], l_hash["floor_kb"]),
        mem_row("hash: main process, peak", s_hash["self_kb"], l_hash["self_kb"]),
        mem_row(
            "hash: largest worker (– : one batch, hashed in the main process)",
            s_hash["children_kb"],
            l_hash["children_kb"],
        ),
    ]
    short_total = max(s_ours["self_kb"] + s_ours["children_kb"], 1)
    long_total = l_ours["self_kb"] + l_ours["children_kb"]
    lines += [
        "",
        f"- Frames kept: {len(s_ours['frames'])} vs {len(l_ours['frames'])} (key frames: "
        f"{len(s_key['frames'])} vs {len(l_key['frames'])}). Frames stage, Python + ffmpeg: "
        f"{mb(short_total)} MB vs {mb(long_total)} MB, ratio "
        f"**{long_total / short_total:.2f}**. Wall, single runs: sampling "
        f"{s_ours['wall_s']:.1f} s vs {l_ours['wall_s']:.1f} s; bare baseline "
        f"{s_bare['wall_s']:.1f} s vs {l_bare['wall_s']:.1f} s.",
        f"- Hash stage: {s_hash['counts']['frames_hashed']} frames in {short_batches} batch(es) "
        f"vs {l_hash['counts']['frames_hashed']} in {long_batches}: with one batch the stage "
        "hashes in its own process (no pool), with more it starts "
        f"min({cores} cores, batches) workers, each holding one batch's rows and features at a "
        "time. Peak per process: "
        f"{mb(max(s_hash['self_kb'], s_hash['children_kb']))} MB vs "
        f"{mb(max(l_hash['self_kb'], l_hash['children_kb']))} MB; wall "
        f"{s_hash['wall_s']:.1f} s vs {l_hash['wall_s']:.1f} s.",
        "",
        f"Load average {load[0]:.2f} before the timings, {load[1]:.2f} after, on {cores} "
        "cores: wall times and their ranges carry that load; CPU columns do not.",
    ]
    return "\n".join(lines) + "\n"


def _main(argv: list[str]) -> int:
    """Child entry point: one pooled hashing job; prints its timing as one JSON line."""
    run = _pool_job(json.loads(argv[0]))
    print(json.dumps({"wall_s": run.wall_s, "cpu_s": run.cpu_s, "frames": run.frames}))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
