"""A large generated archive for the scheduled batch job: thousands of small, distinct stills
and short low-resolution clips spread over incidents and sources, with a few reposts.

The benchmark of unattended incremental runs (bench/bench_incremental.py) and the tests of
`crosscheck run` build their archives here. Item i of an archive depends only on (seed, i),
so `write_archive(raw, 20, start=2000)` adds twenty files that were never there before: an
upload to an existing archive.

Stills are cut from scikit-image's sample photos and made distinct by a random colour field,
random shapes and a serial number stamped into each; clips are ffmpeg lavfi sources (cellular
automata, the Game of Life, gradients) with random seeds (fractal zooms all open on the
whole Mandelbrot set, so they would be true matches of each other), two shots each.
About one item in twenty is a repost of an earlier item (re-encoded, resized or mirrored),
so dedupe always has real matches to find. Everything is small on purpose: the archive
measures what scales with the number of media, not decoding speed.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pipeline.io import ffmpeg
from pipeline.synth import images as im

INCIDENTS = ("incident-north", "incident-south", "incident-east", "incident-west")
SOURCES = ("witness_upload", "telegram_channel", "news_site", "x_account", "youtube_channel")
COLOUR_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina")
GREY_PHOTOS = ("camera", "moon", "brick", "grass", "gravel", "coins", "clock", "page")
STILL_SIZE = (240, 180)
VIDEO_SIZE = (192, 108)
VIDEO_FPS = 12
X264 = ("-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast", "-threads", "1")


@dataclass(frozen=True)
class ArchiveItem:
    """One file of the archive: what it is and where it goes under the raw root."""

    index: int
    rel: str  # <incident>/<source>/<name>
    kind: str  # still | video | still_repost | video_repost
    of: int = -1  # the reposted item's index


def archive_plan(
    count: int, seed: int = 0, start: int = 0, video_share: float = 0.2, repost_share: float = 0.05
) -> list[ArchiveItem]:
    """Items start .. start+count-1 of the archive with this seed (deterministic)."""
    items = []
    for index in range(start, start + count):
        rng = random.Random(f"{seed}:{index}")
        place = f"{rng.choice(INCIDENTS)}/{rng.choice(SOURCES)}"
        roll = rng.random()
        if index >= 20 and roll < repost_share:
            of = rng.randrange(index)
            original = _kind(seed, of, video_share, repost_share)
            kind = "video_repost" if original.startswith("video") else "still_repost"
            items.append(
                ArchiveItem(index, f"{place}/item{index:07d}_repost.{_ext(kind)}", kind, of)
            )
            continue
        kind = "video" if rng.random() < video_share else "still"
        items.append(ArchiveItem(index, f"{place}/item{index:07d}.{_ext(kind)}", kind))
    return items


def write_archive(
    raw: Path,
    count: int,
    seed: int = 0,
    start: int = 0,
    workers: int = 2,
    video_share: float = 0.2,
    repost_share: float = 0.05,
) -> list[Path]:
    """Write the items into raw (a test collection, never evidence); returns their paths."""
    plan = archive_plan(count, seed, start, video_share, repost_share)

    def one(item: ArchiveItem) -> Path:
        target = raw / item.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.kind == "still":
            target.write_bytes(im.jpeg_bytes(distinct_still(seed, item.index), 85))
        elif item.kind == "video":
            ffmpeg.lavfi_source(distinct_clip_spec(seed, item.index), target, X264)
        elif item.kind == "still_repost":
            rng = random.Random(f"{seed}:repost:{item.index}")
            picture = distinct_still(seed, _root(seed, item.of, video_share, repost_share))
            picture = rng.choice((im.mirror, lambda p: im.resize(p, 0.75), lambda p: p))(picture)
            target.write_bytes(im.jpeg_bytes(picture, rng.choice((60, 70, 75))))
        else:
            spec = distinct_clip_spec(seed, _root(seed, item.of, video_share, repost_share))
            ffmpeg.lavfi_source(spec, target, (*X264, "-crf", "32", "-vf", "scale=160:90"))
        return target

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return list(pool.map(one, plan))


def distinct_still(seed: int, index: int) -> np.ndarray:
    """A 240x180 picture no other index gives: a sample-photo crop under a random colour
    field, random shapes and the index stamped as a barcode."""
    rng = np.random.default_rng([seed, index])
    name = str(rng.choice(COLOUR_PHOTOS + GREY_PHOTOS))
    photo = _photo(name)
    height, width = photo.shape[:2]
    crop_h = int(height * rng.uniform(0.35, 0.7))
    crop_w = min(width, int(crop_h * STILL_SIZE[0] / STILL_SIZE[1]))
    top = int(rng.integers(0, height - crop_h + 1))
    left = int(rng.integers(0, width - crop_w + 1))
    base = Image.fromarray(photo[top : top + crop_h, left : left + crop_w]).resize(
        STILL_SIZE, Image.Resampling.BILINEAR
    )
    field = Image.fromarray(rng.integers(0, 256, (4, 5, 3), dtype=np.uint8)).resize(
        STILL_SIZE, Image.Resampling.BICUBIC
    )
    picture = Image.blend(base, field, float(rng.uniform(0.3, 0.5)))
    draw = ImageDraw.Draw(picture)
    for _ in range(int(rng.integers(4, 9))):
        x0, y0 = int(rng.integers(0, STILL_SIZE[0] - 20)), int(rng.integers(0, STILL_SIZE[1] - 20))
        x1, y1 = x0 + int(rng.integers(12, 90)), y0 + int(rng.integers(12, 70))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour, outline=(0, 0, 0))
    for bit in range(24):  # the index as a barcode along the top edge
        if (index >> bit) & 1:
            draw.rectangle((8 + bit * 9, 2, 13 + bit * 9, 9), fill=(255, 255, 255))
    return np.asarray(picture)


def distinct_clip_spec(seed: int, index: int) -> str:
    """A lavfi graph for a 2-3 s, two-shot clip no other index gives."""
    rng = random.Random(f"{seed}:clip:{index}")
    width, height = VIDEO_SIZE
    size = f"s={width}x{height}:r={VIDEO_FPS}"

    def source() -> str:
        which = rng.choice(("life", "cellauto", "gradients"))
        number = rng.randrange(1, 2**31)
        if which == "life":
            return (
                f"life={size}:seed={number}:ratio={rng.uniform(0.2, 0.5):.2f}:mold=10:"
                f"life_color=#{rng.randrange(2**24):06x}:death_color=#{rng.randrange(2**24):06x}"
            )
        if which == "cellauto":
            return f"cellauto={size}:rule={rng.choice((18, 30, 90, 110, 150))}:seed={number}"
        speed, colours = rng.uniform(0.01, 0.05), rng.randrange(3, 8)
        return f"gradients={size}:seed={number}:speed={speed:.3f}:n={colours}"

    first, second = rng.uniform(1.0, 1.5), rng.uniform(1.0, 1.5)
    return (
        f"{source()},trim=duration={first:.2f},setpts=PTS-STARTPTS,format=yuv420p[a];"
        f"{source()},trim=duration={second:.2f},setpts=PTS-STARTPTS,format=yuv420p[b];"
        "[a][b]concat=n=2:v=1:a=0"
    )


@functools.lru_cache(maxsize=32)
def _photo(name: str) -> np.ndarray:
    return im.photo(name)


def _kind(seed: int, index: int, video_share: float, repost_share: float) -> str:
    return archive_plan(1, seed, index, video_share, repost_share)[0].kind


def _root(seed: int, index: int, video_share: float, repost_share: float) -> int:
    """The original an item (or a repost of a repost) shows."""
    item = archive_plan(1, seed, index, video_share, repost_share)[0]
    while item.of >= 0:
        item = archive_plan(1, seed, item.of, video_share, repost_share)[0]
    return item.index


def _ext(kind: str) -> str:
    return "mp4" if kind.startswith("video") else "jpg"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.synth.archive", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--raw", type=Path, required=True, help="raw root to write into")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--start", type=int, default=0, help="first item (to add an upload)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    written = write_archive(args.raw, args.count, args.seed, args.start)
    print(f"archive: {len(written)} files written under {args.raw}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
