"""Ingest throughput on a generated mixed collection (~1 GB at scale 1), against `sha256sum`.

Ingest must read every byte of the evidence once (SHA-256 and MD5, DESIGN.md "Originals are
evidence") and describe each file (Pillow and exifread for stills, ffprobe for videos), so
the yardstick is coreutils `sha256sum` over exactly the same files in the same run. Both
read from the page cache: every file is read once, untimed, before any timing, and the
collection is checked to fit in free memory. Each round runs every measurement once
(sha256sum, sha256sum in two processes, ingest on a fresh processed folder, ingest again with
nothing new, then ingest's hashing and its examination each on their own) so that another
engineer's load on the two cores falls on all of them alike; every figure is the median of
the rounds, with CPU seconds beside wall seconds because CPU time hardly moves with that load.

The collection is seeded and rebuilt the same way every time: stills cut from scikit-image's
sample photos (a different crop and noise per file, so every file is distinct content),
H.264 videos rendered from ffmpeg's test sources (noise at a high bitrate keeps large files
fast to make), byte-identical reposts across sources, and a few bad files. Generation is not
timed. MB and GB are decimal (10^6, 10^9 bytes).
"""

from __future__ import annotations

import io
import logging
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from statistics import median
from typing import TypeVar

import numpy as np
from PIL import Image

from pipeline.config import IngestConfig, Settings, load_settings
from pipeline.io import ffmpeg
from pipeline.io.catalog import Catalog
from pipeline.io.mediafile import examine
from pipeline.io.rawtree import FileDigest, digest_file
from pipeline.layout import DataLayout
from pipeline.stages.context import Operator, open_run
from pipeline.stages.ingest import run_ingest
from pipeline.synth import images as im

NAME = "Ingest throughput: hashing and describing a mixed collection"

ROOT = Path(__file__).resolve().parents[1]
SEED = 20_250_301
REPEATS = 3
FULL_BYTES = 1_000_000_000
SHA256SUM_BATCH = 256  # paths per sha256sum call, as `xargs -n 256` would pass them
INCIDENTS = ("incident-north", "incident-south")
SOURCES = ("witness_upload", "telegram_channel", "news_site", "x_account", "youtube_channel")
_T = TypeVar("_T")

# kind -> (label, share of the byte budget); bad files are a fixed handful on top
KINDS: dict[str, tuple[str, float]] = {
    "jpeg": ("JPEG, 640×480 to 1920×1080, half with EXIF", 0.08),
    "jpeg_large": ("JPEG, 4000×3000, with EXIF", 0.12),
    "png": ("PNG, 800×600 to 1920×1080, some 4000×3000", 0.15),
    "video": ("MP4 (H.264), 640×360 to 1280×720, 4–20 s, half with AAC audio", 0.15),
    "video_large": ("MP4 (H.264), 1920×1080, 60–150 MB at high bitrate", 0.40),
    "duplicate": ("byte-identical reposts of the above in another source", 0.10),
    "bad": ("bad files (empty, truncated JPEG and MP4, text, random bytes, audio only)", 0.0),
}


@dataclass(frozen=True)
class _File:
    path: Path
    kind: str
    size_bytes: int


@dataclass(frozen=True)
class _Collection:
    raw: Path
    files: list[_File]  # sorted by path

    @property
    def total_bytes(self) -> int:
        return sum(f.size_bytes for f in self.files)


# ---- generation (untimed) ---------------------------------------------------------------


class _Stills:
    """Sample photos scaled once per output size (10% larger, so every file can be a
    different crop of it); scaling a 512 px photo to 4400 px per file would dominate."""

    def __init__(self) -> None:
        self._photos: dict[str, Image.Image] = {}
        self._bases: dict[tuple[str, int, int], np.ndarray] = {}
        self._lock = threading.Lock()

    def base(self, name: str, width: int, height: int) -> np.ndarray:
        key = (name, width, height)
        with self._lock:
            if name not in self._photos:
                self._photos[name] = Image.fromarray(im.photo(name))
            if key not in self._bases:
                size = (width + width // 10, height + height // 10)
                scaled = self._photos[name].resize(size, Image.Resampling.BICUBIC)
                self._bases[key] = np.asarray(scaled)
            return self._bases[key]


def _still(base: np.ndarray, width: int, height: int, seed: int, noise: int) -> np.ndarray:
    """A width×height crop of base at a seeded offset: camera-like noise of ±noise grey
    levels, or (noise 0, for PNG screenshots that must stay compressible) a coloured box."""
    rng = np.random.default_rng(seed)
    top = int(rng.integers(0, base.shape[0] - height + 1))
    left = int(rng.integers(0, base.shape[1] - width + 1))
    window = base[top : top + height, left : left + width]
    if noise:
        grain = rng.integers(-noise, noise + 1, window.shape, dtype=np.int16)
        return np.clip(window.astype(np.int16) + grain, 0, 255).astype(np.uint8)
    out = window.copy()
    box_h, box_w = height // 8, width // 5
    y, x = int(rng.integers(0, height - box_h)), int(rng.integers(0, width - box_w))
    out[y : y + box_h, x : x + box_w] = rng.integers(0, 256, 3, dtype=np.uint8)
    return out


def _png_bytes(image: np.ndarray) -> bytes:
    """PNG at zlib level 1: the same decoder work at ingest, several times faster to make."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _make_image(stills: _Stills, kind: str, path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    photo = im.PHOTOS[int(rng.integers(len(im.PHOTOS)))]
    if kind == "jpeg_large":
        width, height = 4000, 3000
    elif kind == "jpeg":
        width, height = ((640, 480), (1024, 768), (1280, 720), (1920, 1080))[int(rng.integers(4))]
    else:
        sizes = ((800, 600), (1280, 720), (1600, 1200), (1920, 1080), (4000, 3000))
        width, height = sizes[int(rng.choice(5, p=[0.25, 0.25, 0.2, 0.2, 0.1]))]
    noise = 0 if kind == "png" else int(rng.integers(8, 17))  # ±8-16 grey levels: 2-4 MB at 12 MP
    pixels = _still(stills.base(photo, width, height), width, height, seed, noise)
    if kind == "png":
        _write(path, _png_bytes(pixels))
        return
    exif = None
    if kind == "jpeg_large" or rng.random() < 0.5:
        day, minute = int(rng.integers(1, 28)), int(rng.integers(0, 60))
        exif = im.exif_block(
            "Canon",
            "EOS 80D",
            f"2024:03:{day:02d} 10:{minute:02d}:00",
            36.0 + float(rng.random()),
            37.0 + float(rng.random()),
        )
    _write(path, im.jpeg_bytes(pixels, int(rng.integers(80, 96)), exif))


def _make_video(kind: str, path: Path, seed: int, size_bytes: int = 0) -> None:
    """ffmpeg's test sources with seeded noise; large ones run until `-fs` stops them."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = ("testsrc2", "smptehdbars", "testsrc")[int(rng.integers(3))]
    encode = ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-threads", "1"]
    if kind == "video_large":
        spec = f"{source}=s=1920x1080:r=25:d=600,noise=alls=20:allf=t+u:all_seed={seed % 2**31}"
        args = [*encode, "-preset", "ultrafast", "-crf", "18", "-fs", str(size_bytes)]
        ffmpeg.lavfi_source(spec, path, args, timeout_s=600)
        return
    width, height = ((640, 360), (960, 540), (1280, 720))[int(rng.integers(3))]
    seconds = int(rng.integers(4, 21))
    spec = (
        f"{source}=s={width}x{height}:r=25:d={seconds},noise=alls=4:allf=t:all_seed={seed % 2**31}"
    )
    args = [*encode, "-preset", "ultrafast", "-crf", "23"]  # about 5 Mbit/s at 1280x720
    if rng.random() < 0.5:
        spec += f"[out0];sine=f={int(rng.integers(200, 900))}:d={seconds}[out1]"
        args += ["-c:a", "aac", "-b:a", "96k"]
    ffmpeg.lavfi_source(spec, path, args, timeout_s=600)


def _place(rng: np.random.Generator, name: str, raw: Path) -> Path:
    incident = INCIDENTS[int(rng.integers(len(INCIDENTS)))]
    return raw / incident / SOURCES[int(rng.integers(len(SOURCES)))] / name


def _fill(
    kind: str,
    budget: int,
    pool: ThreadPoolExecutor,
    make: Callable[[Path, int], None],
    names: Iterator[tuple[Path, int]],
) -> list[_File]:
    """Make files of one kind two at a time until their bytes reach the budget (at least one)."""
    made: list[_File] = []
    while not made or sum(f.size_bytes for f in made) < budget:
        batch = [next(names), next(names)]
        list(pool.map(lambda item: make(*item), batch))
        made += [_File(path, kind, path.stat().st_size) for path, _ in batch]
    return made


def make_collection(root: Path, target_bytes: int, seed: int = SEED) -> _Collection:
    """The seeded collection under root/data/raw/<incident>/<source>/<files>."""
    raw = root / "data" / "raw"
    rng = np.random.default_rng(seed)
    stills = _Stills()
    budget = {kind: round(share * target_bytes) for kind, (_, share) in KINDS.items()}
    files: list[_File] = []
    suffix = {
        "jpeg": ".jpg",
        "jpeg_large": ".jpg",
        "png": ".png",
        "video": ".mp4",
        "video_large": ".mp4",
    }

    def names(kind: str) -> Iterator[tuple[Path, int]]:
        for number in range(10**6):
            yield _place(rng, f"{kind}_{number:04d}{suffix[kind]}", raw), int(rng.integers(2**62))

    with ThreadPoolExecutor(max_workers=2) as pool:
        for kind in ("jpeg", "jpeg_large", "png"):
            files += _fill(
                kind, budget[kind], pool, partial(_make_image, stills, kind), names(kind)
            )
        files += _fill(
            "video", budget["video"], pool, partial(_make_video, "video"), names("video")
        )
        remaining = budget["video_large"]
        large: list[_File] = []
        large_names = names("video_large")
        while not large or remaining > 0:
            size = min(remaining, int(rng.integers(60_000_000, 150_000_001)))
            path, file_seed = next(large_names)
            _make_video("video_large", path, file_seed, max(size, 1_000_000))
            large.append(_File(path, "video_large", path.stat().st_size))
            remaining -= large[-1].size_bytes
        files += large

    copies: list[_File] = []
    originals = sorted(files, key=lambda f: f.path)
    while not copies or sum(f.size_bytes for f in copies) < budget["duplicate"]:
        left = budget["duplicate"] - sum(f.size_bytes for f in copies)
        fitting = [f for f in originals if f.size_bytes <= max(left, 5_000_000)]
        original = fitting[int(rng.integers(len(fitting)))]
        others = [s for s in SOURCES if s != original.path.parent.name]
        target = (
            original.path.parents[1]
            / others[int(rng.integers(len(others)))]
            / f"repost_{len(copies):04d}{original.path.suffix}"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(original.path, target)
        copies.append(_File(target, "duplicate", target.stat().st_size))
    files += copies
    files += _bad_files(raw, rng, files)
    return _Collection(raw, sorted(files, key=lambda f: f.path))


def _bad_files(raw: Path, rng: np.random.Generator, good: Sequence[_File]) -> list[_File]:
    """What collections really hold besides media: each must become a reject, not an abort."""
    where = raw / INCIDENTS[0] / "witness_upload"
    where.mkdir(parents=True, exist_ok=True)
    jpeg = next(f for f in good if f.kind == "jpeg").path.read_bytes()
    video = next(f for f in good if f.kind == "video").path.read_bytes()
    contents = {
        "empty.jpg": b"",
        "truncated.jpg": jpeg[: len(jpeg) * 2 // 5],
        "truncated.mp4": video[: len(video) * 3 // 10],  # the moov atom is at the end: lost
        "notes.mp4": b"not a video: analyst notes about the upload\n" * 200,
        "random.jpg": rng.bytes(1 << 20),
    }
    for name, data in contents.items():
        (where / name).write_bytes(data)
    ffmpeg.lavfi_source("sine=f=300:d=5", where / "voice_message.m4a", ["-c:a", "aac"])
    names = [*contents, "voice_message.m4a"]
    return [_File(where / n, "bad", (where / n).stat().st_size) for n in names]


# ---- measurement ------------------------------------------------------------------------


def _read_all(paths: Sequence[Path]) -> None:
    """Untimed warm-up read, so that every timed run finds the files in the page cache."""
    buffer = bytearray(1 << 20)
    for path in paths:
        with path.open("rb", buffering=0) as handle:
            while handle.readinto(buffer):
                pass


def _mem_available_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def _cpu_s() -> float:
    """CPU seconds of this process (all threads) and its finished children (sha256sum,
    ffprobe): unlike wall time, hardly moved by another engineer's load on the cores."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class _Timings:
    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)

    def time(self, key: str, work: Callable[[], _T]) -> _T:
        cpu, started = _cpu_s(), time.perf_counter()
        result = work()
        self.wall.setdefault(key, []).append(time.perf_counter() - started)
        self.cpu.setdefault(key, []).append(_cpu_s() - cpu)
        return result


def _sha256sum(lanes: list[list[Path]]) -> dict[str, str]:
    """`sha256sum` over the lanes, SHA256SUM_BATCH paths per call (an argument list, never a
    shell line), the lanes side by side like `xargs -n 256 -P len(lanes)`; path -> digest."""

    def lane(paths: list[Path]) -> str:
        names = [str(p) for p in paths]
        out = []
        for start in range(0, len(names), SHA256SUM_BATCH):
            batch = names[start : start + SHA256SUM_BATCH]
            done = subprocess.run(["sha256sum", "--", *batch], capture_output=True, check=True)
            out.append(done.stdout.decode())
        return "".join(out)

    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        outputs = list(pool.map(lane, lanes))
    digests: dict[str, str] = {}
    for line in "".join(outputs).splitlines():
        digest, name = line.split("  ", 1)
        digests[name] = digest
    return digests


def _two_lanes(files: Sequence[_File]) -> list[list[Path]]:
    """Split the files into two lanes of nearly equal bytes (largest first, to the lighter)."""
    lanes: list[list[Path]] = [[], []]
    load = [0, 0]
    for f in sorted(files, key=lambda f: -f.size_bytes):
        lighter = load.index(min(load))
        lanes[lighter].append(f.path)
        load[lighter] += f.size_bytes
    return [sorted(lane) for lane in lanes]


def _ingest(data_dir: Path, settings: Settings) -> dict[str, int]:
    """One `crosscheck ingest`, through the same calls as the CLI, without progress bars."""
    with open_run(
        DataLayout(data_dir), settings, "ingest", Operator("bench"), show_progress=False
    ) as ctx:
        return run_ingest(ctx)


def _digest_all(files: Sequence[_File], cfg: IngestConfig, workers: int) -> dict[Path, FileDigest]:
    """Ingest's hashing alone (SHA-256 and MD5, one pass), in a pool of ingest's size."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        digests = list(pool.map(lambda f: digest_file(f.path, cfg.read_chunk_bytes), files))
    return {f.path: d for f, d in zip(files, digests, strict=True)}


def _examine_all(
    files: Sequence[_File], digests: dict[Path, FileDigest], cfg: IngestConfig, workers: int
) -> dict[str, float]:
    """Ingest's examination alone (every file, as a fresh ingest does); per kind the summed
    per-file wall time."""

    def one(f: _File) -> tuple[str, float]:
        started = time.perf_counter()
        examine(f.path, digests[f.path], cfg.max_image_pixels, cfg.probe_timeout_s)
        return f.kind, time.perf_counter() - started

    per_kind: dict[str, float] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for kind, seconds in pool.map(one, files):
            per_kind[kind] = per_kind.get(kind, 0.0) + seconds
    return per_kind


def _agreement(data_dir: Path, collection: _Collection, sums: dict[str, str]) -> int:
    """Files whose SHA-256 in the catalog equals sha256sum's."""
    with Catalog(DataLayout(data_dir).catalog) as catalog:
        states = {s.path: s.sha256 for s in catalog.file_states()}
    return sum(
        states.get(f.path.relative_to(collection.raw).as_posix()) == sums.get(str(f.path))
        for f in collection.files
    )


@dataclass
class _Results:
    timings: _Timings
    counts: dict[str, int]
    rerun_counts: dict[str, int]
    examine_per_kind: list[dict[str, float]]
    agreeing: int
    fits_in_memory: bool
    workers: int
    load: tuple[float, float]


def run(scale: float) -> str:
    logging.getLogger("exifread").setLevel(logging.ERROR)  # as the CLI: it warns on every PNG
    settings = load_settings(ROOT / "configs")
    target = max(20_000_000, round(FULL_BYTES * scale))
    root = Path(tempfile.mkdtemp(prefix="crosscheck-bench-ingest-"))
    try:
        started = time.perf_counter()
        collection = make_collection(root, target)
        generated_s = time.perf_counter() - started
        results = _measure(root / "data", collection, settings)
        return _report(collection, generated_s, results)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _measure(data_dir: Path, collection: _Collection, settings: Settings) -> _Results:
    """REPEATS rounds of every measurement, one of each per round in the same order, so
    background load falls on all of them alike and each round's ratios are paired."""
    cfg = settings.default.ingest
    workers = cfg.workers or os.cpu_count() or 1
    files = collection.files
    paths = [f.path for f in files]
    lanes = _two_lanes(files)
    processed = DataLayout(data_dir).processed
    fits = _mem_available_bytes() > 2 * collection.total_bytes
    load_before = os.getloadavg()[0]
    _read_all(paths)
    timings = _Timings()
    sums: dict[str, str] = {}
    counts: dict[str, int] = {}
    rerun_counts: dict[str, int] = {}
    per_kind: list[dict[str, float]] = []
    for _ in range(REPEATS):
        sums = timings.time("sha1", partial(_sha256sum, [paths]))
        timings.time("sha2", partial(_sha256sum, lanes))
        shutil.rmtree(processed, ignore_errors=True)  # fresh: no catalog, nothing cached
        counts = timings.time("ingest", partial(_ingest, data_dir, settings))
        rerun_counts = timings.time("rerun", partial(_ingest, data_dir, settings))
        digests = timings.time("digest", partial(_digest_all, files, cfg, workers))
        per_kind.append(
            timings.time("examine", partial(_examine_all, files, digests, cfg, workers))
        )
    return _Results(
        timings,
        counts,
        rerun_counts,
        per_kind,
        _agreement(data_dir, collection, sums),
        fits,
        workers,
        (load_before, os.getloadavg()[0]),
    )


# ---- report -----------------------------------------------------------------------------


def _report(collection: _Collection, generated_s: float, res: _Results) -> str:
    files = collection.files
    total = collection.total_bytes
    by_kind: dict[str, list[_File]] = {}
    for f in files:
        by_kind.setdefault(f.kind, []).append(f)
    lines = [
        f"Collection: {len(files):,} files, {total / 1e9:.3f} GB, seeded, generated in "
        f"{generated_s:.0f} s (not timed) under `<tmp>/data/raw/<incident>/<source>/` "
        f"({len(INCIDENTS)} incidents × {len(SOURCES)} sources).",
        "",
        "| kind | files | GB | mean MB per file | share of bytes |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, (label, _) in KINDS.items():
        group = by_kind.get(kind, [])
        size = sum(f.size_bytes for f in group)
        lines.append(
            f"| {label} | {len(group):,} | {size / 1e9:.3f} | "
            f"{size / 1e6 / max(1, len(group)):.2f} | {size / total:.1%} |"
        )
    lines.append(
        f"| **all** | **{len(files):,}** | **{total / 1e9:.3f}** | "
        f"{total / 1e6 / len(files):.2f} | 100% |"
    )

    wall = {k: median(v) for k, v in res.timings.wall.items()}
    cpu = {k: median(v) for k, v in res.timings.cpu.items()}
    mb = total / 1e6

    def row(label: str, key: str, bytes_row: bool = True) -> str:
        spread = f"{min(res.timings.wall[key]):.2f}–{max(res.timings.wall[key]):.2f}"
        if not bytes_row:
            return f"| {label} | {wall[key]:.2f} | {spread} | – | – | {cpu[key]:.2f} | – | – |"
        return (
            f"| {label} | {wall[key]:.2f} | {spread} | {mb / wall[key]:.0f} | "
            f"{wall['sha1'] / wall[key]:.2f} | {cpu[key]:.2f} | {mb / cpu[key]:.0f} | "
            f"{cpu['sha1'] / cpu[key]:.2f} |"
        )

    paired = median(
        s / i for s, i in zip(res.timings.wall["sha1"], res.timings.wall["ingest"], strict=True)
    )
    memory = (
        "the collection fits in free memory"
        if res.fits_in_memory
        else "WARNING: free memory is under twice the collection size, runs may hit disk"
    )
    lines += [
        "",
        f"Medians of {REPEATS} rounds; each round runs every row once, in table order, so "
        "background load falls on all rows alike. Every file was read once before timing, so "
        f"all runs read from the page cache ({memory}). CPU s counts this process's threads "
        "and its finished child processes (sha256sum, ffprobe), so it moves far less with "
        "other work on the machine than wall time does. Ingest runs with "
        f"{res.workers} worker threads (`ingest.workers`: one per core) on a fresh processed "
        "folder each round: catalog created, every file hashed, examined and committed with "
        "its custody entry, contract CSVs written.",
        "",
        "| run | wall s | range | MB/s | speed vs `sha256sum` | CPU s | MB per CPU s "
        "| CPU efficiency vs `sha256sum` |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row(f"`sha256sum`, 1 process, {SHA256SUM_BATCH} paths per call", "sha1"),
        row("`sha256sum`, 2 processes side by side (bytes split evenly)", "sha2"),
        row("**crosscheck ingest**, fresh catalog", "ingest"),
        row(
            f"ingest's hashing alone: `digest_file` (SHA-256 + MD5), {res.workers} threads",
            "digest",
        ),
        row(
            f"ingest's examination alone: `examine` (Pillow, exifread, ffprobe), {res.workers} "
            "threads",
            "examine",
            bytes_row=False,
        ),
        row("crosscheck ingest again, nothing new (stat cache)", "rerun", bytes_row=False),
    ]
    kinds_s = {k: median(run.get(k, 0.0) for run in res.examine_per_kind) for k in KINDS}
    busy = sum(kinds_s.values()) or 1.0
    lines += [
        "",
        f"Ingest, fresh: **{mb / wall['ingest']:.0f} MB/s**, {wall['sha1'] / wall['ingest']:.2f}× "
        f"the speed of one `sha256sum` (median of the per-round ratios: {paired:.2f}×). "
        f"Rerun with nothing new: {wall['rerun']:.2f} s, "
        f"{len(files) / wall['rerun']:,.0f} files/s, reading no content.",
        "",
        f"Counts, fresh run: {', '.join(f'{k}={v}' for k, v in res.counts.items())}; rerun: "
        f"{', '.join(f'{k}={v}' for k, v in res.rerun_counts.items())}. The SHA-256 in the "
        f"catalog equals `sha256sum`'s for {res.agreeing:,} of {len(files):,} files.",
        "",
        "Where ingest's time goes: hashing alone takes "
        f"{wall['digest'] / wall['ingest']:.0%} of ingest's wall time and examination alone "
        f"{wall['examine'] / wall['ingest']:.0%} (same pool size; inside ingest the two "
        "overlap, so these are a guide, not a partition). Examination per kind, summed "
        "per-file wall time in the pool:",
        "",
        "| kind | files | examine s | ms per file | share |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        n = len(by_kind.get(kind, []))
        if n:
            lines.append(
                f"| {kind} | {n:,} | {kinds_s[kind]:.2f} | "
                f"{1000 * kinds_s[kind] / n:.1f} | {kinds_s[kind] / busy:.0%} |"
            )
    heaviest = max(KINDS, key=lambda k: kinds_s[k])
    pace = (
        "Hashing is the small part; examination sets the pace"
        if wall["digest"] < wall["examine"]
        else "Examination is the small part; hashing sets the pace"
    )
    lines += [
        "",
        "Reading: `sha256sum` computes one digest; ingest computes SHA-256 and MD5 of every "
        "byte, decodes every still (Pillow reads the whole image, at reduced scale for JPEG), "
        "starts one ffprobe per video (and per file it cannot place by content), and commits "
        f"every file with a custody entry. {pace}: the largest share of examination is "
        f"`{heaviest}` ({kinds_s[heaviest] / busy:.0%}); the byte-identical reposts' share, "
        "what examining each SHA-256 only once per run would save, is "
        f"{kinds_s['duplicate'] / busy:.0%}. Load average {res.load[0]:.2f} before, "
        f"{res.load[1]:.2f} after, on {os.cpu_count()} cores.",
    ]
    return "\n".join(lines) + "\n"
