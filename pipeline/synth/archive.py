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

`ArchiveMix` changes the mix; `SCALE_MIX` is the scale benchmark's (bench/bench_scale.py):
more reposts, near-duplicates of earlier items (cropped, colour-shifted, re-encoded smaller),
incidents that keep arriving (a new one every `incident_media` items, with some items filed
under an earlier one), and every `annotated_every`-th incident annotated by analysts
(DIR/annotations/<incident>/annotations.csv naming some of its media), the others not.
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
class ArchiveMix:
    """What an archive holds. Shares are of all items; reposts and near-duplicates copy an
    earlier item (never one of the first 20). incident_media 0 spreads items over the four
    INCIDENTS; otherwise incident k collects items k*incident_media onwards (a fifth of them
    filed under an earlier incident). annotated_every 0: no analyst annotations."""

    video_share: float = 0.2
    repost_share: float = 0.05
    near_share: float = 0.0
    incident_media: int = 0
    annotated_every: int = 0
    annotated_share: float = 0.25  # of an annotated incident's items, those with a row


DEFAULT_MIX = ArchiveMix()
# The scale benchmark's archive. About half the items are copies of earlier ones: the eval
# corpora are 88% copies (pipeline.synth.corpus at scale 1: 180 of 204 files share content
# with another), but they are test sets built around copies; an archive keeps more
# originals. Videos: 15% (the eval corpus: 26 of 204). A new incident every 200 items, one
# incident in eight annotated.
SCALE_MIX = ArchiveMix(
    video_share=0.15,
    repost_share=0.3,
    near_share=0.2,
    incident_media=200,
    annotated_every=8,
)


@dataclass(frozen=True)
class ArchiveItem:
    """One file of the archive: what it is and where it goes under the raw root."""

    index: int
    rel: str  # <incident>/<source>/<name>
    kind: str  # still | video | still_repost | video_repost | still_near | video_near
    of: int = -1  # the copied item's index
    annotation: tuple[int, str] = field(default=(-1, ""))  # (people, scene) or (-1, "")

    @property
    def incident(self) -> str:
        return self.rel.split("/", 1)[0]


def archive_plan(
    count: int, seed: int = 0, start: int = 0, mix: ArchiveMix = DEFAULT_MIX
) -> list[ArchiveItem]:
    """Items start .. start+count-1 of the archive with this seed (deterministic)."""
    items = []
    for index in range(start, start + count):
        rng = random.Random(f"{seed}:{index}")
        place = f"{_incident(rng, index, mix)}/{rng.choice(SOURCES)}"
        roll = rng.random()
        if index >= 20 and roll < mix.repost_share + mix.near_share:
            of = rng.randrange(index)
            original = _kind(seed, of, mix)
            copy = "repost" if roll < mix.repost_share else "near"
            kind = f"{'video' if original.startswith('video') else 'still'}_{copy}"
            rel = f"{place}/item{index:07d}_{copy}.{_ext(kind)}"
        else:
            kind = "video" if rng.random() < mix.video_share else "still"
            of, rel = -1, f"{place}/item{index:07d}.{_ext(kind)}"
        annotation = (-1, "")
        incident_number = _incident_number(rel.split("/", 1)[0])
        if (
            mix.annotated_every
            and incident_number is not None
            and incident_number % mix.annotated_every == 0
            and rng.random() < mix.annotated_share
        ):
            annotation = (rng.randrange(1, 13), f"scene-{index:07d}")
        items.append(ArchiveItem(index, rel, kind, of, annotation))
    return items


def write_archive(
    raw: Path,
    count: int,
    seed: int = 0,
    start: int = 0,
    workers: int = 2,
    mix: ArchiveMix = DEFAULT_MIX,
    annotations: Path | None = None,
) -> list[Path]:
    """Write the items into raw (a test collection, never evidence); returns their paths.
    With annotations (DIR/annotations), the annotated incidents' annotations.csv files are
    written for every item so far (0 .. start+count-1)."""
    plan = archive_plan(count, seed, start, mix)

    def one(item: ArchiveItem) -> Path:
        target = raw / item.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if item.kind == "still":
            target.write_bytes(im.jpeg_bytes(distinct_still(seed, item.index), 85))
        elif item.kind == "video":
            ffmpeg.lavfi_source(distinct_clip_spec(seed, item.index), target, X264)
        elif item.kind == "still_repost":
            rng = random.Random(f"{seed}:repost:{item.index}")
            picture = distinct_still(seed, _root(seed, item.of, mix))
            picture = rng.choice((im.mirror, lambda p: im.resize(p, 0.75), lambda p: p))(picture)
            target.write_bytes(im.jpeg_bytes(picture, rng.choice((60, 70, 75))))
        elif item.kind == "still_near":
            rng = random.Random(f"{seed}:near:{item.index}")
            picture = distinct_still(seed, _root(seed, item.of, mix))
            picture = im.crop(picture, rng.uniform(0.05, 0.15), rng.choice(("center", "tl", "br")))
            picture = im.colour_shift(picture, rng.uniform(0.9, 1.15), rng.randrange(-12, 13))
            target.write_bytes(im.jpeg_bytes(im.resize(picture, 0.85), rng.choice((65, 80))))
        elif item.kind == "video_repost":
            spec = distinct_clip_spec(seed, _root(seed, item.of, mix))
            ffmpeg.lavfi_source(spec, target, (*X264, "-crf", "32", "-vf", "scale=160:90"))
        else:
            spec = distinct_clip_spec(seed, _root(seed, item.of, mix))
            near = "crop=iw*0.9:ih*0.9,scale=176:98,eq=brightness=0.05:saturation=1.2"
            ffmpeg.lavfi_source(spec, target, (*X264, "-crf", "28", "-vf", near))
        return target

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        written = list(pool.map(one, plan))
    if annotations is not None and mix.annotated_every:
        write_annotations(annotations, archive_plan(start + count, seed, 0, mix))
    return written


def write_annotations(annotations: Path, plan: Sequence[ArchiveItem]) -> list[Path]:
    """annotations.csv of every incident with an annotated item: one row per annotated item
    (its people count, its own scene label; t_s 0.5 for a video). A file that already holds
    these bytes is left alone, so a run after an upload that annotated nothing sees no
    change."""
    rows: dict[str, list[str]] = {}
    for item in plan:
        people, scene = item.annotation
        if people < 0:
            continue
        rel = item.rel.split("/", 1)[1]
        t_s = "0.5" if item.kind.startswith("video") else ""
        rows.setdefault(item.incident, []).append(f"{rel},{t_s},{people},{scene},generated")
    written = []
    for incident, lines in sorted(rows.items()):
        path = annotations / incident / "annotations.csv"
        text = "path,t_s,count,scene,note\n" + "".join(f"{line}\n" for line in lines)
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            written.append(path)
    return written


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


def _incident(rng: random.Random, index: int, mix: ArchiveMix) -> str:
    if not mix.incident_media:
        return rng.choice(INCIDENTS)
    newest = index // mix.incident_media
    number = newest if rng.random() < 0.8 else rng.randrange(newest + 1)
    return f"incident-{number:05d}"


def _incident_number(incident: str) -> int | None:
    head, _, number = incident.partition("-")
    return int(number) if head == "incident" and number.isdigit() else None


def _kind(seed: int, index: int, mix: ArchiveMix) -> str:
    return archive_plan(1, seed, index, mix)[0].kind


def _root(seed: int, index: int, mix: ArchiveMix) -> int:
    """The original an item (or a copy of a copy) shows."""
    item = archive_plan(1, seed, index, mix)[0]
    while item.of >= 0:
        item = archive_plan(1, seed, item.of, mix)[0]
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
    parser.add_argument(
        "--mix",
        choices=("default", "scale"),
        default="default",
        help="default: few reposts, four incidents; scale: the scale benchmark's mix",
    )
    parser.add_argument(
        "--annotations", type=Path, help="DIR/annotations: write the analysts' annotations"
    )
    parser.add_argument("--workers", type=int, default=2, help="files generated in parallel")
    args = parser.parse_args(argv)
    mix = SCALE_MIX if args.mix == "scale" else DEFAULT_MIX
    written = write_archive(
        args.raw, args.count, args.seed, args.start, args.workers, mix, args.annotations
    )
    print(f"archive: {len(written)} files written under {args.raw}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
