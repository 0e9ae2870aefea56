"""A labelled repost corpus for scoring the dedupe stage (`make eval`).

The corpus imitates what investigators collect about one incident: originals and the copies
that reposting makes of them (re-encodes, resizes, padding, mirrors, watermarks, colour
shifts, crops of 5–25%, stacked edits; video re-uploads, trims, compilations, stills taken
from videos), mixed with the hard negatives that fool perceptual hashes: non-overlapping
crops of one large photo, different objects pasted on one background, unrelated videos that
open on the same black or uniform title card, excerpts of one video that share no footage,
and originals without any copy. Everything is made from scikit-image's sample photos and
ffmpeg's test sources; no real footage.

Every file is described by what it shows (a `CorpusFile`): a still photo unit, a frame of a
master video at a known time, or stretches of master footage at known offsets. The ground
truth is derived from those descriptions, never typed by hand, so every pair that shares
content is listed — including pairs implied transitively (two reposts of one original, a
trim and a compilation cut from the same footage). The design keeps truth unambiguous:
two files that show parts of one shot of a master always share real footage (the generator
raises otherwise), because a slowly panning shot makes nearby frames look alike.

Layout: media under `DIR/raw/eval/<source>/`, the truth in `DIR/eval_truth.csv` (outside
raw/, so ingest never sees it) with columns `TRUTH_COLUMNS`:

- one row per unordered pair of files that share content: relation `near_duplicate`
  (still–still), `still_in_video` (the video side's start = end = the frame's time, the
  still side empty), `video_overlap` (where the shared footage lies in each file), or
  `exact` (byte-identical files; ingest gives them one media id);
- `transform`: for an original and its copy, the copy's edit (`crop_center_10`,
  `mirror+resize_50`, `trim`, `compilation`, ...); for two copies of one original, their
  roles joined by `+` (`repost+repost`, `compilation+trim`, `grab+reupload`);
- hard negatives are listed too, with relation `none` and the trap as transform:
  `sibling_crop`, `shared_background`, `black_intro`, `uniform_intro`, `disjoint_excerpts`,
  and issue 15's precision traps (synth/traps.py): `shared_template` (screenshots of
  different pictures in one page), `same_backdrop` (one static scene, a different object in
  front), `same_scene` (a stereo pair). Pairs not listed at all share nothing.

For an original and its copy, path_a is the original. Times are seconds on the 25 fps frame
grid. `DIR/eval_corpus.json` records (scale, seed, SHA-256 of every file), so a second run
reuses an intact corpus instead of touching raw/.

Crop names: `crop_center_NN` cuts NN% of the width and of the height, split evenly between
the sides; `crop_{bottom,top,left,right}_NN` cuts an NN% strip from one side (a caption, a
watermark band); `crop_corner_NN` cuts NN% from the right and from the bottom.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.io import ffmpeg
from pipeline.layout import DataLayout
from pipeline.synth import images as im
from pipeline.synth import traps
from pipeline.synth.family import MANIFEST_FILE as MANIFEST_FILE
from pipeline.synth.family import (
    TRUTH_COLUMNS,
    SharedContent,
    TruthRow,
    corpus_main,
    pair_truth,
    write_rendered_corpus,
)
from pipeline.synth.family import TRUTH_FILE as TRUTH_FILE
from pipeline.synth.videos import Shot, shot_frames

EVAL_INCIDENT = "eval"
RELATIONS = ("exact", "near_duplicate", "video_overlap", "still_in_video", "none")
HARD_NEGATIVE_KINDS = (
    "sibling_crop",
    "shared_background",
    "black_intro",
    "uniform_intro",
    "disjoint_excerpts",
    "shared_template",  # issue 15's precision traps (synth/traps.py)
    "same_backdrop",
    "same_scene",
)
SOURCES = tuple(f"src{index:02d}" for index in range(1, 9))
CROP_PERCENTS = (5, 10, 15, 20, 25)
ONE_SIDED_ANCHORS = ("bottom", "right", "top", "left", "corner")
FPS = 25.0  # every generated video; shot and trim lengths are whole frames at this rate

# Colour photos come first so that small corpora are mostly colour; greyscale ones fill up.
_COLOUR_FAMILIES = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")
_GREY_FAMILIES = ("camera", "coins", "moon")
_MAX_FAMILIES = len(_COLOUR_FAMILIES) + len(_GREY_FAMILIES)

_BLACK = (0, 0, 0)
_WHITE = (255, 255, 255)
_UNIFORM_INTRO_COLOUR = "0x1f3f8f"
_UNIFORM_INTRO_RGB = (0x1F, 0x3F, 0x8F)
_BLACK_INTRO_S = 1.6
_UNIFORM_INTRO_S = 1.2
_X264 = ("-c:v", "libx264", "-preset", "veryfast", "-threads", "1", "-pix_fmt", "yuv420p", "-an")
_EPS_S = 1e-6


@dataclass(frozen=True)
class Segment:
    """A stretch [start_s, end_s) of a video file showing master footage from master_start_s."""

    start_s: float
    end_s: float
    master: str
    master_start_s: float

    @property
    def master_end_s(self) -> float:
        return self.master_start_s + (self.end_s - self.start_s)


@dataclass(frozen=True)
class CorpusFile:
    """One generated file and what it shows: enough to derive every pair that shares content.

    `key` names the file inside the corpus (`astronaut`, `astronaut/crop_center_10`,
    `video1/trim`); an original's key is its family name, and `derived_from` lists the
    originals a copy was made from. `role` is the coarse kind used to label pairs of two
    copies (`original`, `repost`, `reupload`, `mirror_reupload`, `trim`, `compilation`,
    `grab`). A still shows either `still_unit` (a photo) or `grab` (master key, seconds); a
    video shows `segments`, after an optional `intro` title card (`black` or `uniform`) that
    is not content. `units` are the pictures shown, for finding hard negatives.
    """

    path: str
    key: str
    kind: str
    transform: str
    role: str
    derived_from: tuple[str, ...] = ()
    still_unit: str = ""
    grab: tuple[str, float] | None = None
    segments: tuple[Segment, ...] = ()
    intro: str = ""
    units: frozenset[str] = frozenset()

    @property
    def masters(self) -> frozenset[str]:
        found = {segment.master for segment in self.segments}
        if self.grab is not None:
            found.add(self.grab[0])
        return frozenset(found)


@dataclass(frozen=True)
class _Master:
    """An original video: shots panning over one picture each, cut hard one after another."""

    key: str
    shots: tuple[tuple[str, float], ...]
    width: int
    height: int
    min_scale: float
    window: float = 0.8  # videos.Shot.window: the fast master pans with a smaller window

    @property
    def duration_s(self) -> float:
        return sum(seconds for _, seconds in self.shots)

    def shot_spans(self) -> list[tuple[float, float, str]]:
        spans, start = [], 0.0
        for unit, seconds in self.shots:
            spans.append((start, start + seconds, unit))
            start += seconds
        return spans


# Retina's four quadrants make sibling crops across videos; each shot shows one picture
# that no other master and no still family shows.
_MASTERS = (
    _Master("video1", (("retina:q0", 3.0), ("photo:page", 3.0), ("photo:brick", 3.0)), 640, 360, 0),
    _Master("video2", (("retina:q1", 4.0), ("photo:text", 4.0)), 480, 270, 0),
    _Master("video3", (("retina:q2", 4.0), ("photo:clock", 3.0)), 640, 360, 0.6),
    _Master("video4", (("retina:q3", 3.6), ("photo:gravel", 3.4)), 480, 270, 0.9),
    # Issue 15 development grabs: a fast pan (a window of half the photo crossing it in 3 s,
    # about a fifth of the frame every half second), grabbed halfway between two samples.
    _Master("video5", (("photo:grass", 3.0),), 640, 360, 0, window=0.5),
)
_MASTER_BY_KEY = {master.key: master for master in _MASTERS}

# The copies of each master. Trims, grabs and compilation parts are placed so that two files
# showing any part of one shot always share footage (truth_rows checks it): a file either
# holds a grab's frame or none of its shot, and two excerpts of a master either overlap or
# touch different shots.
_REUPLOADS: dict[str, tuple[tuple[str, str, tuple[str, ...]], ...]] = {
    # (transform, role, ffmpeg output options)
    "video1": (
        ("reupload_crf38_426x240", "reupload", ("-vf", "scale=426:240", "-crf", "38")),
        ("mirror_reupload", "mirror_reupload", ("-vf", "hflip", "-crf", "30")),
    ),
    "video2": (
        ("reupload_150k_320x180", "reupload", ("-vf", "scale=320:180", "-b:v", "150k")),
        ("reupload_15fps_crf34", "reupload", ("-r", "15", "-crf", "34")),
        # Mirrored and cropped by a fifth (issue 15: cropped and mirrored-and-cropped re-uploads).
        (
            "mirrorcrop_reupload",
            "reupload",
            ("-vf", "hflip,crop=iw*4/5:ih*4/5:iw/20:ih/8,scale=480:-2", "-crf", "30"),
        ),
    ),
    "video3": (
        ("reupload_crf38_426x240", "reupload", ("-vf", "scale=426:240", "-crf", "38")),
        # Picture-in-picture: the footage at 45% width over another moving picture.
        (
            "pip_reupload",
            "reupload",
            (
                "-filter_complex",
                "testsrc2=s=640x360:r=25[bg];[0:v]scale=288:-2[fg];"
                "[bg][fg]overlay=320:40:shortest=1",
                "-crf",
                "28",
            ),
        ),
    ),
    "video4": (
        ("reupload_150k_320x180", "reupload", ("-vf", "scale=320:180", "-b:v", "150k")),
        ("mirror_reupload", "mirror_reupload", ("-vf", "hflip,scale=426:240", "-crf", "36")),
    ),
    "video5": (("reupload_crf34_480x270", "reupload", ("-vf", "scale=480:270", "-crf", "34")),),
}
# (start_s, end_s) in the master: 3–5 s excerpts.
_TRIMS = {
    "video1": (3.0, 7.4),
    "video2": (4.2, 8.0),
    "video3": (4.0, 7.0),
    "video4": (0.0, 3.6),
    "video5": (0.8, 2.8),
}
# (time_s in the master, scale factors of the stills saved from that frame)
_GRABS: dict[str, tuple[float, tuple[float, ...]]] = {
    "video1": (4.6, (1.0, 0.5)),
    "video2": (2.0, (1.0,)),
    "video3": (5.6, (1.0, 0.5)),
    "video4": (5.0, (1.0,)),
    "video5": (1.52, (1.0, 0.5)),
}
# (master, intro kind, intro seconds, card colour)
_INTRO_REUPLOADS = (
    ("video1", "black", _BLACK_INTRO_S, _BLACK),
    ("video3", "uniform", _UNIFORM_INTRO_S, _UNIFORM_INTRO_RGB),
)
# (name, parts as (master, start_s, end_s), width, height); made only when all masters are.
_COMPILATIONS: tuple[tuple[str, tuple[tuple[str, float, float], ...], int, int], ...] = (
    ("compilation1", (("video1", 0.4, 2.8), ("video2", 4.4, 7.6)), 480, 270),
    ("compilation2", (("video3", 0.6, 3.6), ("video1", 6.2, 8.8), ("video2", 0.6, 3.4)), 640, 360),
    ("compilation3", (("video4", 3.8, 6.6), ("video3", 4.4, 6.6)), 480, 270),
)


@dataclass(frozen=True)
class _Job:
    """How to render one file: `render(target)` writes it; `needs` is a file it reads."""

    file: CorpusFile
    render: Callable[[Path], None]
    needs: str = ""

    @property
    def path(self) -> str:
        return self.file.path

    def render_into(self, raw: Path) -> None:
        self.render(raw / self.file.path)


# ---------------------------------------------------------------------------------------
# Public API


def write_eval_corpus(layout: DataLayout, scale: float = 1.0, seed: int = 0) -> Path:
    """Write the corpus under layout.raw/eval and its truth to layout.data_dir/eval_truth.csv.

    scale 1.0 gives about 200 media (all eight still families, four master videos, three
    compilations); 0.3 gives about 60 and still holds every transform and every kind of
    hard negative; counts stop growing above 1.0. The same (scale, seed) gives the same
    bytes. Raw files are evidence-like: when raw/eval already holds files, they are reused
    if they are exactly the ones this (scale, seed) makes (per eval_corpus.json), and
    otherwise FileExistsError is raised rather than anything under raw/ being overwritten.
    Returns the truth file's path.
    """
    jobs = _plan(scale, seed)
    files = [job.file for job in jobs]
    return write_rendered_corpus(
        layout,
        EVAL_INCIDENT,
        {"scale": scale, "seed": seed},
        jobs,
        TRUTH_COLUMNS,
        lambda: truth_rows(files),
        corpus_counts(files),
    )


def corpus_files(scale: float = 1.0, seed: int = 0) -> tuple[CorpusFile, ...]:
    """The files write_eval_corpus makes for (scale, seed), without rendering anything."""
    return tuple(job.file for job in _plan(scale, seed))


def corpus_counts(files: Sequence[CorpusFile]) -> dict[str, int]:
    """Files per kind (images, videos) and per role (original, repost, trim, ...)."""
    counts: Counter[str] = Counter()
    for f in files:
        counts[f"{f.kind}s"] += 1
        counts[f"role:{f.role}"] += 1
    return dict(sorted(counts.items()))


def truth_rows(files: Sequence[CorpusFile]) -> list[TruthRow]:
    """Every pair of files that shares content, then the hard-negative pairs.

    Rows for an original and its copy come first, then pairs of two copies, then the
    negatives, each sorted by path; a scorer that keys rows by media pair keeps the first.
    Raises ValueError when two files show parts of one shot without sharing footage: the
    design must keep such pairs unambiguous.
    """
    return pair_truth(files, _shared_content, _hard_negative_kind)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipeline.synth.corpus --data-dir DIR [--scale S] [--seed N]`."""
    return corpus_main(
        argv,
        module="corpus",
        description="Write the labelled repost corpus into DIR/raw/eval and its ground "
        "truth into DIR/eval_truth.csv (for `python -m pipeline.evaluate`).",
        scale_help="1.0: ~200 media; 0.3: ~60",
        write=write_eval_corpus,
        counts=lambda scale, seed: corpus_counts(corpus_files(scale, seed)),
    )


# ---------------------------------------------------------------------------------------
# Ground truth from the descriptions


def _shared_content(x: CorpusFile, y: CorpusFile) -> SharedContent | None:
    """(relation, x's interval, y's interval) when x and y share content, else None."""
    if x.kind == "image" and y.kind == "image":
        if x.still_unit and x.still_unit == y.still_unit:
            same_bytes = (x.transform == "byte_identical" and y.key in x.derived_from) or (
                y.transform == "byte_identical" and x.key in y.derived_from
            )
            return "exact" if same_bytes else "near_duplicate", None, None
        if x.grab and y.grab and x.grab[0] == y.grab[0]:
            if abs(x.grab[1] - y.grab[1]) < _EPS_S:
                return "near_duplicate", None, None
            if _shot_at(*x.grab) == _shot_at(*y.grab):
                raise ValueError(f"{x.path} and {y.path}: two frames of one shot")
        return None
    if x.kind == "image" or y.kind == "image":
        still, video = (x, y) if x.kind == "image" else (y, x)
        time_s = _grab_time_in(still, video)
        if time_s is None:
            return None
        span = (time_s, time_s)
        return ("still_in_video", None, span) if still is x else ("still_in_video", span, None)
    overlaps = [
        overlap
        for sx, sy in itertools.product(x.segments, y.segments)
        if (overlap := _segment_overlap(sx, sy, x.path, y.path)) is not None
    ]
    if not overlaps:
        return None
    if len(overlaps) > 1:
        raise ValueError(f"{x.path} and {y.path} share more than one stretch of footage")
    x_span, y_span = overlaps[0]
    return "video_overlap", x_span, y_span


def _grab_time_in(still: CorpusFile, video: CorpusFile) -> float | None:
    """Where the frame that `still` was taken from lies in `video`, or None."""
    if still.grab is None:
        return None
    master, time_s = still.grab
    for segment in video.segments:
        if segment.master != master:
            continue
        if segment.master_start_s - _EPS_S <= time_s <= segment.master_end_s + _EPS_S:
            return round(segment.start_s + (time_s - segment.master_start_s), 6)
        if _shot_at(master, time_s) in _shots_touched(segment):
            raise ValueError(f"{video.path} shows the shot of {still.path} but not its frame")
    return None


def _segment_overlap(
    sx: Segment, sy: Segment, x_path: str, y_path: str
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    if sx.master != sy.master:
        return None
    start = max(sx.master_start_s, sy.master_start_s)
    end = min(sx.master_end_s, sy.master_end_s)
    if end - start <= _EPS_S:
        if _shots_touched(sx) & _shots_touched(sy):
            raise ValueError(f"{x_path} and {y_path} show one shot without sharing footage")
        return None

    def local(segment: Segment) -> tuple[float, float]:
        offset = segment.start_s - segment.master_start_s
        return round(start + offset, 6), round(end + offset, 6)

    return local(sx), local(sy)


def _shot_at(master: str, time_s: float) -> int:
    spans = _MASTER_BY_KEY[master].shot_spans()
    for index, (start, end, _) in enumerate(spans):
        if start <= time_s < end:
            return index
    return len(spans) - 1


def _shots_touched(segment: Segment) -> set[int]:
    spans = _MASTER_BY_KEY[segment.master].shot_spans()
    return {
        index
        for index, (start, end, _) in enumerate(spans)
        if segment.master_start_s < end - _EPS_S and segment.master_end_s > start + _EPS_S
    }


def _units_in(master: str, start_s: float, end_s: float) -> frozenset[str]:
    segment = Segment(0.0, end_s - start_s, master, start_s)
    spans = _MASTER_BY_KEY[master].shot_spans()
    return frozenset(spans[index][2] for index in _shots_touched(segment))


def _hard_negative_kind(x: CorpusFile, y: CorpusFile) -> str:
    """The trap a non-matching pair sets for a matcher, or '' when it is an easy negative."""
    if x.intro and x.intro == y.intro:
        return f"{x.intro}_intro"
    for u, v in itertools.product(x.units, y.units):
        group_u, group_v = _unit_group(u), _unit_group(v)
        if group_u and group_u == group_v and u != v:
            return group_u[1]
    if x.masters & y.masters:
        return "disjoint_excerpts"
    return ""


def _unit_group(unit: str) -> tuple[str, str] | None:
    family = unit.split(":", 1)[0]
    if family in {"retina", "hubble"}:
        return family, "sibling_crop"
    if family == "background":
        return family, "shared_background"
    if family in {"template", "backdrop", "scene"}:  # synth/traps.py
        return family, _TRAP_KINDS[family]
    return None


_TRAP_KINDS = {"template": "shared_template", "backdrop": "same_backdrop", "scene": "same_scene"}


# ---------------------------------------------------------------------------------------
# The plan: which files, what they show, how to render them


def _plan(scale: float, seed: int) -> list[_Job]:
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    _check_whole_frames()
    rng = np.random.default_rng(seed)

    def place(name: str, avoid: str = "") -> str:
        choices = [s for s in SOURCES if s != avoid]
        return f"{EVAL_INCIDENT}/{choices[int(rng.integers(len(choices)))]}/{name}"

    families = [
        *rng.permutation(_COLOUR_FAMILIES).tolist(),
        *rng.permutation(_GREY_FAMILIES).tolist(),
    ][: min(_MAX_FAMILIES, max(2, round(_MAX_FAMILIES * scale)))]
    offset = int(rng.integers(1000))
    jobs: list[_Job] = []
    for index, name in enumerate(families):
        jobs.extend(_still_family(name, index, len(families), scale, offset, place))
    jobs.extend(_byte_identical_copy(jobs[0].file, place))
    jobs.extend(_sibling_crops(place))
    jobs.extend(_shared_background(scale, place))
    jobs.extend(_precision_traps(place))
    jobs.extend(_video_jobs(scale, place))
    jobs.extend(_intro_videos(scale, place))
    jobs.extend(_singletons(place))
    jobs.extend(_low_texture_family(place))
    paths = [job.file.path for job in jobs]
    assert len(set(paths)) == len(paths), "file names must be unique"
    return jobs


def _check_whole_frames() -> None:
    """Every designed time must fall on a frame, or the truth would be off by a frame."""
    times = [seconds for master in _MASTERS for _, seconds in master.shots]
    times += [t for trim in _TRIMS.values() for t in trim]
    times += [time_s for time_s, _ in _GRABS.values()]
    times += [t for _, parts, _, _ in _COMPILATIONS for _, *span in parts for t in span]
    times += [intro_s for _, _, intro_s, _ in _INTRO_REUPLOADS]
    off = [t for t in times if abs(t * FPS - round(t * FPS)) > 1e-6]
    if off:
        raise ValueError(f"designed times off the {FPS:g} fps frame grid: {off}")


def _pick(options: Sequence[str], index: int, per_family: int, offset: int) -> list[str]:
    """Consecutive blocks of `options` per family, so that the families together cover all."""
    start = index * per_family + offset
    return [options[(start + j) % len(options)] for j in range(min(per_family, len(options)))]


def _per_family(options: int, families: int, scale: float, floor: int = 1) -> int:
    """Edits of a group per family: enough for the families to cover the group, more as the
    scale grows (all of them at scale 1)."""
    return max(floor, math.ceil(options / families), min(options, round(options * scale)))


_Edit = Callable[[np.ndarray], np.ndarray]


def _crop_edges(
    image: np.ndarray, top: float = 0.0, bottom: float = 0.0, left: float = 0.0, right: float = 0.0
) -> np.ndarray:
    height, width = image.shape[:2]
    return np.ascontiguousarray(
        image[
            round(height * top) : height - round(height * bottom),
            round(width * left) : width - round(width * right),
        ]
    )


def _crop_edit(anchor: str, percent: int) -> _Edit:
    fraction = percent / 100
    if anchor == "center":
        return lambda image: im.crop(image, fraction, "center")
    sides = {
        "bottom": {"bottom": fraction},
        "top": {"top": fraction},
        "left": {"left": fraction},
        "right": {"right": fraction},
        "corner": {"right": fraction, "bottom": fraction},
    }[anchor]
    return lambda image: _crop_edges(image, **sides)


# name -> (edit, JPEG quality or 0 for PNG)
_BASIC_EDITS: dict[str, tuple[_Edit, int]] = {
    "jpeg_q30": (lambda image: image, 30),
    "resize_40": (lambda image: im.resize(image, 0.4), 85),
    "mirror": (im.mirror, 88),
    "watermark": (lambda image: im.watermark(image, "@repost_channel"), 85),
    "colour_shift": (lambda image: im.colour_shift(image, 1.15, 12), 88),
}
_PAD_EDITS: dict[str, tuple[_Edit, int]] = {
    "letterbox_black": (lambda image: im.pad(image, 0.12, _BLACK, "tb"), 88),
    "letterbox_white": (lambda image: im.pad(image, 0.12, _WHITE, "tb"), 0),
    "pillarbox_black": (lambda image: im.pad(image, 0.10, _BLACK, "lr"), 88),
    "pillarbox_white": (lambda image: im.pad(image, 0.10, _WHITE, "lr"), 88),
    "border_black": (lambda image: im.pad(image, 0.06, _BLACK, "all"), 0),
    "border_white": (lambda image: im.pad(image, 0.06, _WHITE, "all"), 88),
}
# Development examples of the kinds the independent corpora miss (issue 15, recall): a picture
# inside a phone or web screenshot, a chain of three edits, a mirrored crop.
_RECALL_EDITS: dict[str, tuple[_Edit, int]] = {
    "screenshot_phone": (im.screenshot_phone, 0),
    "screenshot_web": (im.screenshot_web, 88),
    "crop_corner_12+colour_shift+watermark": (
        lambda image: im.watermark(
            im.colour_shift(_crop_edges(image, right=0.12, bottom=0.12), 0.9, 8), "@relay"
        ),
        75,
    ),
    "mirrorcrop_center_15": (lambda image: im.crop(im.mirror(image), 0.15, "center"), 85),
    "screenshot_phone_inset": (lambda image: im.screenshot_phone(image, 1, 0.6), 80),
    "screenshot_web_inset": (lambda image: im.screenshot_web(image, 1, 0.3), 80),
    "crop_left_20+resize_50+watermark": (
        lambda image: im.watermark(
            im.resize(_crop_edges(image, left=0.2), 0.5), "@breaking_now", opacity=0.8
        ),
        40,
    ),
}
# Reposts of the dark, low-contrast original (`_low_texture_family`).
_LOW_TEXTURE_EDITS: dict[str, tuple[_Edit, int]] = {
    "lowtex_jpeg_q30": (lambda image: image, 30),
    "lowtex_resize_50": (lambda image: im.resize(image, 0.5), 85),
    "lowtex_mirror": (im.mirror, 88),
    "lowtex_watermark": (lambda image: im.watermark(image, "@repost_channel"), 85),
    "lowtex_crop_center_10": (lambda image: im.crop(image, 0.10, "center"), 88),
}
_STACKED_EDITS: dict[str, tuple[_Edit, int]] = {
    "crop_center_10+jpeg_q40": (lambda image: im.crop(image, 0.10, "center"), 40),
    "mirror+resize_50": (lambda image: im.resize(im.mirror(image), 0.5), 85),
    "crop_bottom_15+watermark": (
        lambda image: im.watermark(_crop_edges(image, bottom=0.15), "@news_desk"),
        85,
    ),
    "letterbox_black+resize_60": (
        lambda image: im.resize(im.pad(image, 0.12, _BLACK, "tb"), 0.6),
        85,
    ),
}


def _still_family(
    name: str,
    index: int,
    families: int,
    scale: float,
    offset: int,
    place: Callable[[str], str],
) -> list[_Job]:
    """An original photo and its reposts; which edits each family gets rotates so that the
    families together cover every edit, each edit on several photos at scale 1."""
    percents = [f"{p:02d}" for p in CROP_PERCENTS]
    per_pad = _per_family(len(_PAD_EDITS), families, 0, floor=2)
    per_crop = _per_family(len(percents), families, scale)
    per_stacked = _per_family(len(_STACKED_EDITS), families, 0, floor=2)
    per_recall = _per_family(len(_RECALL_EDITS), families, scale, floor=2)
    edits: dict[str, tuple[_Edit, int]] = dict(_BASIC_EDITS)
    for pad in _pick(list(_PAD_EDITS), index, per_pad, offset):
        edits[pad] = _PAD_EDITS[pad]
    for pct in _pick(percents, index, per_crop, offset):
        edits[f"crop_center_{pct}"] = (_crop_edit("center", int(pct)), 88)
    for pct in _pick(percents, index, per_crop, offset + 2):
        anchor = ONE_SIDED_ANCHORS[(index + offset + int(pct) // 5) % len(ONE_SIDED_ANCHORS)]
        edits[f"crop_{anchor}_{pct}"] = (_crop_edit(anchor, int(pct)), 88)
    for stacked in _pick(list(_STACKED_EDITS), index, per_stacked, offset):
        edits[stacked] = _STACKED_EDITS[stacked]
    for recall in _pick(list(_RECALL_EDITS), index, per_recall, offset):
        edits[recall] = _RECALL_EDITS[recall]
    return _family_jobs(name, f"photo:{name}", edits, place)


def _low_texture_family(place: Callable[[str], str]) -> list[_Job]:
    """Two dark, low-contrast photos (fog at dusk: PDQ quality below the minimum) and their
    reposts: the issue's independent corpus lost all seven reposts of such a picture. The
    text photo keeps some structure (PDQ quality about 28); the clock almost none (about 5,
    a handful of keypoints even at full contrast)."""
    return [
        *_family_jobs("text_dusk", "lowtex:text", dict(_LOW_TEXTURE_EDITS), place),
        *_family_jobs("clock_dusk", "lowtex:clock", dict(_LOW_TEXTURE_EDITS), place),
    ]


def _family_jobs(
    name: str, unit: str, edits: dict[str, tuple[_Edit, int]], place: Callable[[str], str]
) -> list[_Job]:
    """The original of a content unit (as name.jpg) and one repost per edit."""
    jobs = [_original_job(name, unit, 92, place)]
    for transform, (edit, quality) in edits.items():
        extension = "jpg" if quality else "png"
        file_name = f"{name}_{transform.replace('+', '__')}.{extension}"
        copy = CorpusFile(
            place(file_name),
            f"{name}/{transform}",
            "image",
            transform,
            "repost",
            (name,),
            still_unit=unit,
            units=frozenset({unit}),
        )
        jobs.append(_still_job(copy, unit, edit, quality))
    return jobs


def _original_job(key: str, unit: str, quality: int, place: Callable[[str], str]) -> _Job:
    """An original still (key.jpg) that shows the content unit unedited."""
    original = CorpusFile(
        place(f"{key}.jpg"),
        key,
        "image",
        "original",
        "original",
        still_unit=unit,
        units=frozenset({unit}),
    )
    return _still_job(original, unit, lambda image: image, quality)


def _still_job(file: CorpusFile, unit: str, edit: _Edit, quality: int) -> _Job:
    def render(target: Path) -> None:
        image = edit(_unit_image(unit))
        _write(target, im.jpeg_bytes(image, quality) if quality else im.png_bytes(image))

    return _Job(file, render)


def _byte_identical_copy(original: CorpusFile, place: Callable[..., str]) -> list[_Job]:
    """The same bytes collected from a second source: ingest must make them one media."""
    source = original.path.split("/")[1]
    name = original.path.rsplit("/", 1)[1]
    copy = CorpusFile(
        place(f"copy_of_{name}", avoid=source),
        f"{original.key}/byte_identical",
        "image",
        "byte_identical",
        "repost",
        (original.key,),
        still_unit=original.still_unit,
        units=original.units,
    )

    def render(target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((target.parents[2] / original.path).read_bytes())

    return [_Job(copy, render, needs=original.path)]


def _sibling_crops(place: Callable[[str], str]) -> list[_Job]:
    """Left and right halves of hubble_deep_field, each with one repost: one photo, no
    shared pixels, so every cross pair is a negative that looks alike."""
    jobs = []
    for half, repost, edit, quality in (
        ("left", "resize_60", lambda image: im.resize(image, 0.6), 75),
        ("right", "jpeg_q50", lambda image: image, 50),
    ):
        unit, key = f"hubble:{half}", f"hubble_{half}"
        original = _original_job(key, unit, 90, place)  # placed first: place() draws from rng
        copy = CorpusFile(
            place(f"{key}_{repost}.jpg"),
            f"{key}/{repost}",
            "image",
            repost,
            "repost",
            (key,),
            still_unit=unit,
            units=frozenset({unit}),
        )
        jobs += [
            original,
            _still_job(copy, unit, edit, quality),
        ]
    return jobs


def _shared_background(scale: float, place: Callable[[str], str]) -> list[_Job]:
    """Different objects pasted at one place on one background photo (grass): a homography
    fits the background, only the object differs."""
    objects = ("logo", "horse", "colorwheel")[: 3 if scale >= 0.6 else 2]
    jobs = []
    for obj in objects:
        unit, key = f"background:grass+{obj}", f"grass_{obj}"
        jobs.append(_original_job(key, unit, 90, place))
        if scale >= 0.6:
            copy = CorpusFile(
                place(f"{key}_resize_70.jpg"),
                f"{key}/resize_70",
                "image",
                "resize_70",
                "repost",
                (key,),
                still_unit=unit,
                units=frozenset({unit}),
            )
            jobs.append(_still_job(copy, unit, lambda image: im.resize(image, 0.7), 80))
    return jobs


def _precision_traps(place: Callable[[str], str]) -> list[_Job]:
    """Issue 15's traps as development examples (synth/traps.py): screenshots of different
    pictures in one page, one static camera's scene with different objects in front, a
    stereo pair. Each file stands alone: every pair among them is a hard negative."""
    units = [
        *(f"template:{name}" for name in traps.TEMPLATE_PICTURES),
        *(f"backdrop:{obj}" for obj in traps.BACKDROP_OBJECTS),
        "scene:left",
        "scene:right",
    ]
    jobs = []
    for unit in units:
        key = unit.replace(":", "_")
        jobs.append(_original_job(key, unit, 88, place))
    return jobs


def _singletons(place: Callable[[str], str]) -> list[_Job]:
    """Originals that nothing else shows: one still and one video from ffmpeg test sources."""
    still = CorpusFile(
        place("life_pattern.png"),
        "life_pattern",
        "image",
        "original",
        "original",
        still_unit="lavfi:life-11",
        units=frozenset({"lavfi:life-11"}),
    )
    video = CorpusFile(
        place("test_pattern.mp4"),
        "test_pattern",
        "video",
        "original",
        "original",
        units=frozenset({"lavfi:testsrc"}),
    )
    return [
        _Job(
            still,
            lambda target: _lavfi(
                "life=s=400x300:r=25:seed=11:ratio=0.3:mold=20:life_color=#33ccff:"
                "death_color=#203040,trim=start_frame=30",
                target,
                ("-frames:v", "1"),
            ),
        ),
        _Job(video, lambda target: _lavfi("testsrc=s=426x240:r=25,trim=duration=5", target, _X264)),
    ]


def _video_jobs(scale: float, place: Callable[..., str]) -> list[_Job]:
    """The master videos of this scale, their copies, intro re-uploads and compilations."""
    originals = {
        master.key: CorpusFile(
            place(f"{master.key}.mp4"),
            master.key,
            "video",
            "original",
            "original",
            segments=(Segment(0.0, master.duration_s, master.key, 0.0),),
            units=_units_in(master.key, 0.0, master.duration_s),
        )
        for master in _MASTERS
        if scale >= master.min_scale
    }
    jobs = [
        _frames_job(file, master.width, master.height, (), _master_frames(master))
        for key, file in originals.items()
        for master in [_MASTER_BY_KEY[key]]
    ]
    for original in originals.values():
        jobs += _copy_jobs(original, place)
    for key, intro, intro_s, rgb in _INTRO_REUPLOADS:
        if key in originals:
            jobs.append(_intro_reupload_job(originals[key], intro, intro_s, rgb, place))
    for name, parts, width, height in _COMPILATIONS:
        if {key for key, _, _ in parts} <= originals.keys():
            jobs.append(_compilation_job(name, parts, width, height, place))
    return jobs


def _copy_jobs(original: CorpusFile, place: Callable[..., str]) -> list[_Job]:
    """Re-uploads (ffmpeg re-encodes of the posted file), one trim, one or two grabs."""
    key = original.key
    jobs = []
    for transform, role, args in _REUPLOADS[key]:
        copy = CorpusFile(
            place(f"{key}_{transform}.mp4"),
            f"{key}/{transform}",
            "video",
            transform,
            role,
            (key,),
            segments=original.segments,
            units=original.units,
        )
        jobs.append(_transcode_job(copy, original.path, (*args, *_X264)))
    start_s, end_s = _TRIMS[key]
    trim = CorpusFile(
        place(f"{key}_trim.mp4"),
        f"{key}/trim",
        "video",
        "trim",
        "trim",
        (key,),
        segments=(Segment(0.0, end_s - start_s, key, start_s),),
        units=_units_in(key, start_s, end_s),
    )
    # -ss after -i: ffmpeg decodes up to start_s and cuts frame-exactly there.
    trim_args = ("-ss", f"{start_s:g}", "-t", f"{end_s - start_s:g}", "-crf", "26", *_X264)
    jobs.append(_transcode_job(trim, original.path, trim_args))
    time_s, scales = _GRABS[key]
    master = _MASTER_BY_KEY[key]
    unit = master.shot_spans()[_shot_at(key, time_s)][2]
    for factor in scales:
        transform = "grab" if factor == 1.0 else f"grab_resized_{round(factor * 100)}"
        grab = CorpusFile(
            place(f"{key}_{transform}.jpg"),
            f"{key}/{transform}",
            "image",
            transform,
            "grab",
            (key,),
            grab=(key, time_s),
            units=frozenset({unit}),
        )
        jobs.append(_Job(grab, functools.partial(_render_grab, master, time_s, factor)))
    return jobs


def _intro_reupload_job(
    original: CorpusFile,
    intro: str,
    intro_s: float,
    rgb: tuple[int, int, int],
    place: Callable[..., str],
) -> _Job:
    """A re-upload behind a channel's title card: the card is not content, the rest is."""
    master = _MASTER_BY_KEY[original.key]
    transform = f"{intro}_intro_reupload"
    copy = CorpusFile(
        place(f"{master.key}_{transform}.mp4"),
        f"{master.key}/{transform}",
        "video",
        transform,
        "reupload",
        (master.key,),
        segments=(Segment(intro_s, intro_s + master.duration_s, master.key, 0.0),),
        intro=intro,
        units=original.units,
    )
    frames = itertools.chain(
        itertools.repeat(im.uniform(270, 480, rgb), round(intro_s * FPS)),
        _resized(_master_frames(master), 480, 270),
    )
    return _frames_job(copy, 480, 270, ("-crf", "30"), frames)


def _compilation_job(
    name: str,
    parts: Sequence[tuple[str, float, float]],
    width: int,
    height: int,
    place: Callable[..., str],
) -> _Job:
    """Excerpts of several masters cut one after another, as an editor would."""
    segments: list[Segment] = []
    units: set[str] = set()
    start = 0.0
    for key, part_start, part_end in parts:
        end = round(start + part_end - part_start, 6)
        segments.append(Segment(start, end, key, part_start))
        units |= _units_in(key, part_start, part_end)
        start = end
    comp = CorpusFile(
        place(f"{name}.mp4"),
        name,
        "video",
        "compilation",
        "compilation",
        tuple(key for key, _, _ in parts),
        segments=tuple(segments),
        units=frozenset(units),
    )
    frames = _compilation_frames(parts, width, height)
    return _frames_job(comp, width, height, ("-crf", "28"), frames)


def _intro_videos(scale: float, place: Callable[[str], str]) -> list[_Job]:
    """Unrelated clips that open on the same black (or uniform blue) title card: frames of
    no content that hash alike and must never link two videos."""
    specs = [
        ("black", _BLACK_INTRO_S, "black", "mandelbrot", "mandelbrot=s={s}:r=25", "480x270"),
        (
            "black",
            _BLACK_INTRO_S,
            "black",
            "life",
            "life=s={s}:r=25:seed=3:ratio=0.1:mold=10:life_color=#ffcc00:death_color=#802010",
            "480x270",
        ),
        (
            "uniform",
            _UNIFORM_INTRO_S,
            _UNIFORM_INTRO_COLOUR,
            "testsrc2",
            "testsrc2=s={s}:r=25",
            "480x270",
        ),
        (
            "uniform",
            _UNIFORM_INTRO_S,
            _UNIFORM_INTRO_COLOUR,
            "sierpinski",
            "sierpinski=s={s}:r=25:seed=2",
            "640x360",
        ),
    ]
    if scale >= 0.6:
        specs.append(
            (
                "black",
                _BLACK_INTRO_S,
                "black",
                "cellauto",
                "cellauto=s={s}:r=25:rule=110:random_seed=5",
                "640x360",
            )
        )
    jobs = []
    for intro, intro_s, colour, name, source, size in specs:
        unit = f"lavfi:{name}"
        file = CorpusFile(
            place(f"{name}_{intro}_intro.mp4"),
            f"{name}_{intro}_intro",
            "video",
            "original",
            "original",
            intro=intro,
            units=frozenset({unit}),
        )
        spec = (
            f"color=c={colour}:s={size}:r=25:d={intro_s:g}[intro];"
            f"{source.format(s=size)},trim=duration=4,setpts=PTS-STARTPTS[body];"
            "[intro][body]concat=n=2:v=1:a=0"
        )
        jobs.append(_Job(file, functools.partial(_lavfi, spec, args=_X264)))
    return jobs


# ---------------------------------------------------------------------------------------
# Pictures and rendering


@functools.lru_cache(maxsize=64)
def _unit_image(unit: str) -> np.ndarray:
    """The picture a content unit names, read-only (cached across files)."""
    family, _, name = unit.partition(":")
    if family == "photo":
        image = im.photo(name)
    elif family == "retina":
        retina, half = im.photo("retina"), im.photo("retina").shape[0] // 2
        quadrant = int(name[1])
        top, left = (quadrant // 2) * (half + 1), (quadrant % 2) * (half + 1)
        image = np.ascontiguousarray(retina[top : top + half, left : left + half])
    elif family == "hubble":
        hubble = im.photo("hubble_deep_field")
        middle = hubble.shape[1] // 2
        image = np.ascontiguousarray(hubble[:, :middle] if name == "left" else hubble[:, middle:])
    elif family == "lowtex":
        image = im.low_texture(im.photo(name))
    elif family == "background":
        image = _composite(name.split("+", 1)[1])
    elif family == "template":
        image = traps.template_picture(name)
    elif family == "backdrop":
        image = traps.backdrop_picture(name)
    elif family == "scene":
        image = traps.scene_picture(name)
    else:
        raise ValueError(f"no picture for unit {unit!r}")
    image.setflags(write=False)
    return image


def _composite(obj: str) -> np.ndarray:
    """A greenish grass background with one object pasted in the same place."""
    from skimage import data

    grass = data.grass().astype(np.float32)
    background = np.clip(
        grass[..., None] * np.array([0.55, 0.85, 0.45]) + np.array([20, 35, 10]), 0, 255
    ).astype(np.uint8)
    if obj == "horse":
        mask = ~data.horse()
        picture = np.zeros((*mask.shape, 3), np.uint8)
        picture[:] = (92, 58, 36)
    elif obj == "logo":
        picture = data.logo()[..., :3]
        mask = picture.min(axis=-1) < 235
    else:
        picture = im.photo(obj)
        mask = picture.sum(axis=-1) > 40
    height, width = background.shape[:2]
    target_w = round(width * 0.55)
    target_h = round(picture.shape[0] * target_w / picture.shape[1])
    picture = np.asarray(
        Image.fromarray(picture).resize((target_w, target_h), Image.Resampling.LANCZOS)
    )
    mask = (
        np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((target_w, target_h))) > 127
    )
    top, left = (height - target_h) // 2 + height // 10, (width - target_w) // 2
    region = background[top : top + target_h, left : left + target_w]
    region[mask] = picture[mask]
    return background


def _master_frames(master: _Master) -> Iterator[np.ndarray]:
    for unit, seconds in master.shots:
        shot = Shot(_unit_image(unit), seconds, master.window)
        yield from shot_frames(shot, FPS, master.width, master.height)


def _resized(frames: Iterable[np.ndarray], width: int, height: int) -> Iterator[np.ndarray]:
    for frame in frames:
        if frame.shape[:2] == (height, width):
            yield frame
        else:
            yield np.asarray(
                Image.fromarray(frame).resize((width, height), Image.Resampling.BILINEAR)
            )


def _compilation_frames(
    parts: Sequence[tuple[str, float, float]], width: int, height: int
) -> Iterator[np.ndarray]:
    for key, start_s, end_s in parts:
        frames = _master_frames(_MASTER_BY_KEY[key])
        excerpt = itertools.islice(frames, round(start_s * FPS), round(end_s * FPS))
        yield from _resized(excerpt, width, height)


def _frames_job(
    file: CorpusFile,
    width: int,
    height: int,
    args: Sequence[str],
    frames: Iterable[np.ndarray],
) -> _Job:
    def render(target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        ffmpeg.encode_frames(frames, target, width, height, FPS, (*args, "-an"))

    return _Job(file, render)


def _transcode_job(file: CorpusFile, source: str, args: Sequence[str]) -> _Job:
    def render(target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        ffmpeg.transcode(target.parents[2] / source, target, args)

    return _Job(file, render, needs=source)


def _render_grab(master: _Master, time_s: float, factor: float, target: Path) -> None:
    """A still taken from the master at time_s (a screenshot), optionally resized."""
    index = round(time_s * FPS)
    frame = next(itertools.islice(_master_frames(master), index, None))
    if factor != 1.0:
        frame = im.resize(frame, factor)
    _write(target, im.jpeg_bytes(frame, 85))


def _lavfi(spec: str, target: Path, args: Sequence[str]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg.lavfi_source(spec, target, args)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


if __name__ == "__main__":
    raise SystemExit(main())
