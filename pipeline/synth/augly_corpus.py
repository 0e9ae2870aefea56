"""A second labelled repost corpus, from ingredients the project did not make (`make eval`).

`pipeline.synth.corpus` builds its corpus from scikit-image's photos with the project's own
edits; matching tuned on it can learn its quirks. This family shares none of its
ingredients:

- pictures: real photographs and clips that Debian's `opencv-doc` package ships in
  OPENCV_DATA (OpenCV's sample data, Apache-2.0 / BSD-3-Clause per the package's copyright
  file; `make setup` installs the package). Lena and the portrait photos are not used.
- image edits: Meta's AugLy (`augly` on PyPI, MIT), the transform families of the image
  copy-detection benchmarks: mobile and web screenshots in AugLy's templates, meme format
  (AugLy's layout and font; its own function needs Pillow < 10, so the band is drawn
  here), text, emoji and stripe overlays, padding, aspect change, rotation, colour jitter,
  grayscale, blur, heavy JPEG, scaling, crops of 12–28%, mirror, and chains of 2–3 of them.
- video re-uploads, made with ffmpeg from real footage (OpenCV's `vtest.avi` street camera
  and `Megamind.avi` clip): plain re-encode, vertical 9:16 with a blurred fill, a text
  banner, 1.25x speed, a frame-rate change, a crop, a mirrored crop, picture-in-picture,
  a channel's title card before the footage, a trim, a compilation, stills grabbed between
  sampled frames, a grab that was then screenshotted, and a video made from a photo.
- hard negatives: two captures of one scene (stereo pairs, frames of one moving scene,
  two viewpoints), sibling halves of one picture, different objects pasted on one
  backdrop, two original videos of one street camera minutes apart (same backdrop,
  different people), screenshots and memes of *different* pictures in one template, and
  unrelated videos that open on the same title card.

The truth file has the format that `pipeline.evaluate` reads (`corpus.TRUTH_COLUMNS`) plus
a `category` column: the coarse kind of repost of a direct original–copy row, empty for
pairs of two copies and for hard negatives. As in the first family, the truth is derived
from what each file shows, never typed by hand: two files share content when they show the
same photo, the same frame of a master video, or overlapping stretches of one master.
Times are seconds; a video's footage can run at another speed than its master's.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pipeline.io import ffmpeg
from pipeline.layout import DataLayout
from pipeline.synth.family import (
    TRUTH_COLUMNS,
    SharedContent,
    Span,
    TruthRow,
    corpus_main,
    pair_truth,
    render_jobs,
    write_rendered_corpus,
)
from pipeline.synth.repost_family import (
    X264,
    CorpusFile,
    FIT_640x360,
    Job,
    PilEdit,
    Segment,
    chain,
    compilation_job,
    render_composed,
    render_copy,
    render_grab,
    save_still,
)
from pipeline.synth.videos import Shot, shot_frames

FAMILY = "augly"
INCIDENT = "augly"
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
AUGLY_TRUTH_COLUMNS = (*TRUTH_COLUMNS, "category")
SOURCES = tuple(f"acct{index:02d}" for index in range(1, 9))
HARD_NEGATIVE_KINDS = (
    "shared_template",
    "shared_title_card",
    "same_scene",
    "sibling_crop",
    "same_backdrop",
)
FPS = 25.0
_GRAB_QUALITY = 85  # JPEG quality of a still saved from a video
_EPS_S = 1e-6

# Originals with reposts, most textured first so that small corpora keep variety.
_ORIGINALS = (
    "fruits",
    "building",
    "baboon",
    "smarties",
    "home",
    "butterfly",
    "squirrel_cls",
    "stuff",
    "board",
    "orange",
)
# Two captures of one scene: stereo pairs, two frames of a moving scene, two viewpoints.
_SAME_SCENE = (
    ("leuvenA", "leuvenB"),
    ("aloeL", "aloeR"),
    ("rubberwhale1", "rubberwhale2"),
    ("left", "right"),
    ("graf1", "graf3"),
)
_SIBLING_SOURCE = "starry_night"
_BACKDROP = "aero1"
_BACKDROP_OBJECTS = ("apple", "HappyFish", "WindowsLogo")
# Every original gets these: collections are full of screenshots of one site or app, and
# pictures of different content in one template are the trap that matters most.
_ALWAYS = ("screenshot_mobile", "screenshot_web", "meme")
_MEME_CAPTION = "WHEN THE NEWS\nFINALLY DROPS"
_TEXT_BANNER = "BREAKING - shared 2 min ago"
# Characters (indices into AugLy's font's character list) of the text overlays: AugLy's
# default is drawn at random when it is imported, which changed these files' bytes from
# one process to the next.
_OVERLAY_TEXT = (310, 520, 205, 645, 90)


# ---------------------------------------------------------------------------------------
# Public API


def available() -> str:
    """'' when the ingredients are installed, else what is missing (for a clear error)."""
    missing = []
    if not (OPENCV_DATA / "vtest.avi").is_file():
        missing.append(f"OpenCV's sample data in {OPENCV_DATA} (Debian package opencv-doc)")
    try:
        import augly.image  # noqa: F401
    except ImportError:
        missing.append("AugLy (pip package augly)")
    return "; ".join(missing)


def write_augly_corpus(layout: DataLayout, scale: float = 1.0, seed: int = 0) -> Path:
    """Write the corpus under layout.raw/augly and its truth to DIR/eval_truth.csv.

    scale 1.0 gives 184 media (24 videos), 0.3 and below 74 (22 videos), with every
    category and every kind of hard negative at any scale. The same (scale, seed) gives
    the same bytes with the same ffmpeg, Pillow and AugLy. Files already under raw/augly
    are reused when they are exactly this corpus (per eval_corpus.json); otherwise
    FileExistsError, and nothing under raw/ is overwritten. Returns the truth file's path.
    """
    problem = available()
    if problem:
        raise RuntimeError(f"the AugLy corpus needs {problem}; run `make setup`")
    jobs = _plan(scale, seed)
    files = [job.file for job in jobs]
    return write_rendered_corpus(
        layout,
        INCIDENT,
        {"family": FAMILY, "scale": scale, "seed": seed},
        jobs,
        AUGLY_TRUTH_COLUMNS,
        lambda: truth_rows(files),
        corpus_counts(files),
    )


def corpus_files(scale: float = 1.0, seed: int = 0) -> tuple[CorpusFile, ...]:
    """The files write_augly_corpus makes for (scale, seed), without rendering anything."""
    return tuple(job.file for job in _plan(scale, seed))


def render_files(raw: Path, paths: Collection[str], scale: float = 1.0, seed: int = 0) -> None:
    """Render only the named files of the (scale, seed) plan under raw; the generated files
    they read (a copy's master) must be there already. A partial second render checks that
    rendering is deterministic without the cost of the whole corpus. KeyError for a path
    the plan does not make."""
    jobs = {job.file.path: job for job in _plan(scale, seed)}
    render_jobs(raw, [jobs[path] for path in paths])


def corpus_counts(files: Sequence[CorpusFile]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for f in files:
        counts[f"{f.kind}s"] += 1
        counts[f"category:{f.category}"] += 1
    return dict(sorted(counts.items()))


def truth_rows(files: Sequence[CorpusFile]) -> list[TruthRow]:
    """Every pair of files that shares content (original–copy rows first, path_a the
    original), then pairs of two copies, then the hard negatives; each group sorted by path.
    Raises ValueError when two files share more than one stretch of footage."""
    return pair_truth(files, _shared_content, _hard_negative_kind, lambda copy: copy.category)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipeline.synth.augly_corpus --data-dir DIR [--scale S] [--seed N]`."""
    return corpus_main(
        argv,
        module="augly_corpus",
        description="Write the AugLy / OpenCV-photo repost corpus into DIR/raw/augly and its "
        "ground truth into DIR/eval_truth.csv (for `python -m pipeline.evaluate`).",
        scale_help="1.0: 184 media; 0.3: 74",
        write=write_augly_corpus,
        counts=lambda scale, seed: corpus_counts(corpus_files(scale, seed)),
        errors=(FileExistsError, RuntimeError),
    )


# ---------------------------------------------------------------------------------------
# Ground truth from the descriptions


def _shared_content(x: CorpusFile, y: CorpusFile) -> SharedContent | None:
    """(relation, x's interval, y's interval) when x and y share content, else None."""
    if x.kind == "image" and y.kind == "image":
        return ("near_duplicate", None, None) if x.picture == y.picture else None
    if x.kind == "image" or y.kind == "image":
        still, video = (x, y) if x.kind == "image" else (y, x)
        span = _still_in(still, video)
        if span is None:
            return None
        times: Span = None if isinstance(span, str) else span
        return ("still_in_video", None, times) if still is x else ("still_in_video", times, None)
    overlaps = [
        overlap
        for sx, sy in itertools.product(x.segments, y.segments)
        if (overlap := _segment_overlap(sx, sy)) is not None
    ]
    if x.photos & y.photos:
        overlaps.append((None, None))
    if not overlaps:
        return None
    if len(overlaps) > 1:
        raise ValueError(f"{x.path} and {y.path} share more than one stretch of footage")
    x_span, y_span = overlaps[0]
    return "video_overlap", x_span, y_span


def _still_in(still: CorpusFile, video: CorpusFile) -> tuple[float, float] | str | None:
    """Where the still's picture shows in the video: a frame time, 'anywhere' (a video made
    from that photo), or None."""
    if still.picture in video.photos:
        return "anywhere"
    if not still.picture.startswith("frame:"):
        return None
    master, time_text = still.picture.removeprefix("frame:").split("@")
    time_s = float(time_text)
    for segment in video.segments:
        if segment.master != master:
            continue
        if segment.master_start_s - _EPS_S <= time_s <= segment.master_end_s + _EPS_S:
            local = segment.local_s(time_s)
            return local, local
    return None


def _segment_overlap(sx: Segment, sy: Segment) -> tuple[Span, Span] | None:
    if sx.master != sy.master:
        return None
    start = max(sx.master_start_s, sy.master_start_s)
    end = min(sx.master_end_s, sy.master_end_s)
    if end - start <= _EPS_S:
        return None
    return (sx.local_s(start), sx.local_s(end)), (sy.local_s(start), sy.local_s(end))


def _hard_negative_kind(x: CorpusFile, y: CorpusFile) -> str:
    """The trap a pair that shares no content sets for a matcher, or '' (an easy negative)."""
    if x.template and x.template == y.template:
        return "shared_template"
    if x.card and x.card == y.card:
        return "shared_title_card"
    if x.scene and x.scene == y.scene:
        return "same_scene"
    if x.sibling and x.sibling == y.sibling:
        return "sibling_crop"
    if x.backdrops & y.backdrops:
        return "same_backdrop"
    return ""


# ---------------------------------------------------------------------------------------
# Image edits (AugLy)


@dataclass(frozen=True)
class _Edit:
    name: str
    category: str
    apply: PilEdit
    quality: int = 85  # JPEG quality of the saved copy; 0 for PNG
    template: str = ""


def _augly() -> object:
    import augly.image as imaugs

    return imaugs


def _screenshot(template: str) -> PilEdit:
    """AugLy's overlay_onto_screenshot with its shipped templates and boxes (its own function
    leaves the boxes file open, which the tests' warnings-as-errors catch): the picture
    scaled into the template's box, padded to it, pasted."""

    def edit(image: Image.Image) -> Image.Image:
        import augly.image as imaugs
        from augly import utils
        from augly.image import utils as imutils

        folder = Path(utils.SCREENSHOT_TEMPLATES_DIR)
        boxes = json.loads((folder / "bboxes.json").read_text())
        left, top, right, bottom = boxes[f"{template}.png"]
        with Image.open(folder / f"{template}.png") as source:
            page = source.convert("RGB")
        width, height = right - left, bottom - top
        scaled = imaugs.scale(image, factor=min(width / image.width, height / image.height))
        fitted = imutils.resize_and_pad_to_given_size(scaled, width, height, crop=False)
        page.paste(fitted, box=(left, top, right, bottom))
        return page

    return edit


def _meme(image: Image.Image) -> Image.Image:
    """AugLy's meme_format layout (a white caption band above the picture, its meme font,
    text fitted to the band) without its Pillow < 10 text measuring call."""
    from augly import utils

    width, height = image.size
    band = max(40, round(height * 0.28))
    size = band - 10
    draw_probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    while True:
        font = ImageFont.truetype(utils.MEME_DEFAULT_FONT, size)
        left, top, right, bottom = draw_probe.multiline_textbbox((0, 0), _MEME_CAPTION, font=font)
        if (right - left <= width - 10 and bottom - top <= band - 10) or size <= 8:
            break
        size -= 4
    meme = Image.new("RGB", (width, height + band), (255, 255, 255))
    meme.paste(image.convert("RGB"), (0, band))
    position = (round((width - (right - left)) / 2), round((band - (bottom - top)) / 2) - top)
    ImageDraw.Draw(meme).multiline_text(
        position, _MEME_CAPTION, font=font, fill=(0, 0, 0), align="center"
    )
    return meme


def _call(name: str, **kwargs: object) -> PilEdit:
    def edit(image: Image.Image) -> Image.Image:
        function = getattr(_augly(), name)
        result: Image.Image = function(image, **kwargs)
        return result

    return edit


def _edits() -> tuple[_Edit, ...]:
    """Every image edit of the family, in the order families take them."""
    return (
        _Edit("screenshot_mobile", "screenshot_mobile", _screenshot("mobile"), template="mobile"),
        _Edit("crop_12", "crop", _call("crop", x1=0.12, y1=0.0, x2=1.0, y2=1.0)),
        _Edit(
            "colour_jitter",
            "colour",
            _call(
                "color_jitter", brightness_factor=1.25, contrast_factor=1.3, saturation_factor=1.8
            ),
        ),
        _Edit(
            "text_overlay",
            "overlay",
            _call(
                "overlay_text",
                text=list(_OVERLAY_TEXT),
                font_size=0.12,
                opacity=0.9,
                color=(255, 230, 0),
                x_pos=0.05,
                y_pos=0.72,
            ),
        ),
        _Edit("rotate_5", "rotate", _call("rotate", degrees=5.0)),
        _Edit("screenshot_web", "screenshot_web", _screenshot("web"), template="web"),
        _Edit("pad_30x15", "pad", _call("pad", w_factor=0.3, h_factor=0.15, color=(24, 24, 24))),
        _Edit("jpeg_q8", "jpeg", _call("encoding_quality", quality=8), quality=95),
        _Edit("meme", "meme", _meme, template="meme"),
        _Edit("crop_20", "crop", _call("crop", x1=0.1, y1=0.1, x2=0.9, y2=0.9)),
        _Edit(
            "stripes",
            "overlay",
            _call(
                "overlay_stripes", line_width=0.4, line_angle=35, line_density=0.4, line_opacity=0.5
            ),
        ),
        _Edit("grayscale", "colour", _call("grayscale")),
        _Edit("mirror", "mirror", _call("hflip")),
        _Edit("aspect_1.8", "aspect", _call("change_aspect_ratio", ratio=1.8)),
        _Edit(
            "emoji_overlay",
            "overlay",
            _call("overlay_emoji", emoji_size=0.3, x_pos=0.55, y_pos=0.45),
        ),
        _Edit("blur_3", "blur", _call("blur", radius=3.0)),
        _Edit("scale_30", "scale", _call("scale", factor=0.3)),
        _Edit("crop_28", "crop", _call("crop", x1=0.0, y1=0.0, x2=0.72, y2=0.9)),
        _Edit("rotate_-4", "rotate", _call("rotate", degrees=-4.0)),
        _Edit(
            "crop_15+colour_jitter+jpeg_q20",
            "chain",
            chain(
                _call("crop", x1=0.15, y1=0.05, x2=1.0, y2=0.95),
                _call("color_jitter", brightness_factor=0.8, saturation_factor=1.5),
                _call("encoding_quality", quality=20),
            ),
        ),
        _Edit(
            "mirror+text_overlay+scale_50",
            "chain",
            chain(
                _call("hflip"),
                _call(
                    "overlay_text",
                    text=list(_OVERLAY_TEXT),
                    font_size=0.1,
                    color=(255, 255, 255),
                    y_pos=0.1,
                ),
                _call("scale", factor=0.5),
            ),
        ),
        _Edit(
            "rotate_4+screenshot_mobile",
            "chain",
            chain(_call("rotate", degrees=4.0), _screenshot("mobile")),
            template="mobile",
        ),
        _Edit(
            "grayscale+pad+blur_2",
            "chain",
            chain(
                _call("grayscale"),
                _call("pad", w_factor=0.1, h_factor=0.25, color=(255, 255, 255)),
                _call("blur", radius=2.0),
            ),
        ),
    )


# ---------------------------------------------------------------------------------------
# The plan


def _plan(scale: float, seed: int) -> list[Job]:
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    rng = np.random.default_rng(seed)

    def place(name: str) -> str:
        return f"{INCIDENT}/{SOURCES[int(rng.integers(len(SOURCES)))]}/{name}"

    every = [edit for edit in _edits() if edit.name in _ALWAYS]
    edits = [edit for edit in _edits() if edit.name not in _ALWAYS]
    n_originals = min(len(_ORIGINALS), max(3, round(len(_ORIGINALS) * scale)))
    originals = list(_ORIGINALS[:n_originals])
    per_original = max(math.ceil(len(edits) / n_originals), min(len(edits), round(9 * scale)))
    offset = int(rng.integers(len(edits)))
    jobs: list[Job] = []
    for index, name in enumerate(originals):
        start = offset + index * per_original
        picked = [edits[(start + j) % len(edits)] for j in range(per_original)]
        jobs += _still_family(name, [*every, *picked], place)
    jobs += _same_scene(scale, place)
    jobs += _siblings(place)
    jobs += _backdrop(scale, place)
    jobs += _videos(scale, originals[0], place)
    paths = [job.file.path for job in jobs]
    assert len(set(paths)) == len(paths), "file names must be unique"
    return jobs


def _photo_file(name: str, place: Callable[[str], str], scene: str = "") -> CorpusFile:
    return CorpusFile(
        place(f"{name}.jpg"),
        name,
        "image",
        "original",
        "original",
        "original",
        picture=f"photo:{name}",
        scene=scene,
    )


def _still_family(name: str, edits: Sequence[_Edit], place: Callable[[str], str]) -> list[Job]:
    original = _photo_file(name, place)
    jobs = [Job(original, functools.partial(_render_still, f"photo:{name}", None, 92))]
    for edit in edits:
        extension = "jpg" if edit.quality else "png"
        copy = CorpusFile(
            place(f"{name}_{edit.name.replace('+', '__')}.{extension}"),
            f"{name}/{edit.name}",
            "image",
            edit.name,
            edit.category,
            "repost",
            (name,),
            picture=f"photo:{name}",
            template=edit.template,
        )
        jobs.append(Job(copy, functools.partial(_render_still, copy.picture, edit, edit.quality)))
    return jobs


def _same_scene(scale: float, place: Callable[[str], str]) -> list[Job]:
    """Two captures of one scene, and a repost of the first: the repost is a copy of one
    capture only."""
    pairs = _SAME_SCENE[: len(_SAME_SCENE) if scale >= 0.6 else 2]
    jobs = []
    repost = _Edit("scale_50", "scale", _call("scale", factor=0.5), 80)
    for first, second in pairs:
        scene = f"{first}+{second}"
        for name in (first, second):
            file = _photo_file(name, place, scene=scene)
            jobs.append(Job(file, functools.partial(_render_still, file.picture, None, 90)))
        copy = CorpusFile(
            place(f"{first}_scale_50.jpg"),
            f"{first}/scale_50",
            "image",
            "scale_50",
            "scale",
            "repost",
            (first,),
            picture=f"photo:{first}",
            scene=scene,
        )
        jobs.append(Job(copy, functools.partial(_render_still, copy.picture, repost, 80)))
    return jobs


def _siblings(place: Callable[[str], str]) -> list[Job]:
    """The left and right halves of one painting, each with a repost: no shared pixels."""
    jobs = []
    for half, edit in (
        ("left", _Edit("jpeg_q30", "jpeg", _call("encoding_quality", quality=30), 95)),
        ("right", _Edit("scale_60", "scale", _call("scale", factor=0.6), 85)),
    ):
        picture = f"half:{_SIBLING_SOURCE}:{half}"
        key = f"{_SIBLING_SOURCE}_{half}"
        jobs += _photo_and_repost(key, picture, edit, place, sibling=_SIBLING_SOURCE)
    return jobs


def _backdrop(scale: float, place: Callable[[str], str]) -> list[Job]:
    """Different objects in front of one backdrop photo, at one place: a homography fits the
    backdrop, only the object differs."""
    jobs = []
    repost = _Edit("jpeg_q40", "jpeg", _call("encoding_quality", quality=40), 95)
    for obj in _BACKDROP_OBJECTS[: 3 if scale >= 0.6 else 2]:
        picture = f"pasted:{_BACKDROP}:{obj}"
        key = f"{_BACKDROP}_{obj}"
        backdrops = frozenset({_BACKDROP})
        jobs += _photo_and_repost(key, picture, repost, place, backdrops=backdrops)
    return jobs


def _photo_and_repost(
    key: str,
    picture: str,
    edit: _Edit,
    place: Callable[[str], str],
    sibling: str = "",
    backdrops: frozenset[str] = frozenset(),
) -> list[Job]:
    """An original still (JPEG quality 90) and one repost of it made by edit."""
    original = CorpusFile(
        place(f"{key}.jpg"),
        key,
        "image",
        "original",
        "original",
        "original",
        picture=picture,
        sibling=sibling,
        backdrops=backdrops,
    )
    copy = CorpusFile(
        place(f"{key}_{edit.name}.jpg"),
        f"{key}/{edit.name}",
        "image",
        edit.name,
        edit.category,
        "repost",
        (key,),
        picture=picture,
        sibling=sibling,
        backdrops=backdrops,
    )
    return [
        Job(original, functools.partial(_render_still, picture, None, 90)),
        Job(copy, functools.partial(_render_still, picture, edit, edit.quality)),
    ]


# Masters: (key, source clip, start in the clip, seconds, width, height, backdrop)
_MASTERS = (
    ("street", "vtest.avi", 0.0, 12.0, 640, 480, "street"),
    ("megamind", "Megamind.avi", 0.0, 10.0, 640, 470, ""),
)
_LATER = ("street_later", "vtest.avi", 40.0, 10.0, 640, 480, "street")
# (master time of each grab): between the stage's 1 s samples, inside every excerpt below
_GRABS = {"street": (5.44,), "megamind": (3.36, 6.52)}
_TRIMS = {"street": (3.0, 8.0), "megamind": (2.0, 7.0)}
_COMPILATION = (("street", 4.0, 7.6), ("megamind", 3.0, 7.0))
_CARD_S = 1.6
_CARD_SIZE = (640, 360)
_BLUR_FILL = (
    "split[a][b];[a]scale=360:640:force_original_aspect_ratio=increase,crop=360:640,"
    "boxblur=20:2[bg];[b]scale=360:-2[fg];[bg][fg]overlay=0:(H-h)/2"
)


@dataclass(frozen=True)
class _VideoCopy:
    transform: str
    category: str
    args: tuple[str, ...]  # output options of one ffmpeg over the master
    speed: float = 1.0
    masters: tuple[str, ...] = ("street", "megamind")
    min_scale: float = 0.0


def _video_copies() -> tuple[_VideoCopy, ...]:
    from augly import utils

    font = str(Path(utils.FONTS_DIR) / "Raleway-ExtraBold.ttf").replace(":", r"\:")
    banner = (
        "drawbox=x=0:y=ih-64:w=iw:h=64:color=black@0.75:t=fill,"
        f"drawtext=fontfile={font}:text='{_TEXT_BANNER}':x=16:y=h-48:fontsize=30:"
        "fontcolor=white"
    )
    return (
        _VideoCopy("reupload_crf36_480", "reupload", ("-vf", "scale=480:-2", "-crf", "36")),
        _VideoCopy("vertical_blurfill", "vertical_blurfill", ("-vf", _BLUR_FILL, "-crf", "30")),
        _VideoCopy("text_banner", "text_banner", ("-vf", banner, "-crf", "28")),
        _VideoCopy("speed_1.25", "speed", ("-vf", "setpts=PTS/1.25", "-r", "25"), 1.25),
        _VideoCopy("fps_12", "fps_change", ("-vf", "fps=12", "-crf", "30"), masters=("street",)),
        _VideoCopy(
            "crop_80",
            "video_crop",
            ("-vf", "crop=iw*0.8:ih*0.8:iw*0.15:ih*0.05", "-crf", "28"),
            masters=("street",),
            min_scale=0.6,
        ),
        _VideoCopy(
            "crop_80",
            "video_crop",
            ("-vf", "crop=iw*0.8:ih*0.8:iw*0.15:ih*0.05", "-crf", "28"),
            masters=("megamind",),
        ),
        _VideoCopy(
            "mirror_crop_85",
            "mirror_crop",
            ("-vf", "hflip,crop=iw*0.85:ih*0.85:0:0", "-crf", "28"),
            masters=("megamind",),
        ),
    )


def _videos(scale: float, photo_name: str, place: Callable[[str], str]) -> list[Job]:
    jobs: list[Job] = []
    masters: dict[str, CorpusFile] = {}
    for key, clip, start_s, seconds, width, height, backdrop in (*_MASTERS, _LATER):
        file = CorpusFile(
            place(f"{key}.mp4"),
            key,
            "video",
            "original",
            "original",
            "original",
            segments=(Segment(0.0, seconds, key, 0.0),),
            backdrops=frozenset({backdrop}) if backdrop else frozenset(),
        )
        masters[key] = file
        args = (
            "-ss",
            f"{start_s:g}",
            "-t",
            f"{seconds:g}",
            "-vf",
            f"fps=25,scale={width}:{height},setsar=1",
            "-crf",
            "20",
            *X264,
        )
        jobs.append(Job(file, functools.partial(_render_clip, OPENCV_DATA / clip, args)))
    for copy in _video_copies():
        if scale < copy.min_scale:
            continue
        for key in copy.masters:
            master = masters[key]
            duration = master.segments[0].end_s / copy.speed
            file = CorpusFile(
                place(f"{key}_{copy.transform}.mp4"),
                f"{key}/{copy.transform}",
                "video",
                copy.transform,
                copy.category,
                "reupload",
                (key,),
                segments=(Segment(0.0, round(duration, 6), key, 0.0, copy.speed),),
                backdrops=master.backdrops,
            )
            jobs.append(
                Job(
                    file,
                    functools.partial(render_copy, master.path, (*copy.args, *X264)),
                    needs=master.path,
                )
            )
    for key in ("street", "megamind"):
        jobs += _excerpt_and_grabs(masters[key], place)
    jobs.append(_pip(masters["megamind"], place))
    if scale >= 0.6:
        jobs.append(_pip(masters["street"], place))
    jobs.append(compilation_job(_COMPILATION, masters, place))
    jobs += _title_cards(masters["megamind"], place)
    jobs.append(_grab(masters["street_later"], 5.0, place))
    jobs.append(_photo_video(photo_name, place))
    return jobs


def _excerpt_and_grabs(master: CorpusFile, place: Callable[[str], str]) -> list[Job]:
    key = master.key
    start_s, end_s = _TRIMS[key]
    trim = CorpusFile(
        place(f"{key}_trim.mp4"),
        f"{key}/trim",
        "video",
        "trim",
        "trim",
        "trim",
        (key,),
        segments=(Segment(0.0, end_s - start_s, key, start_s),),
        backdrops=master.backdrops,
    )
    args = ("-ss", f"{start_s:g}", "-t", f"{end_s - start_s:g}", "-crf", "26", *X264)
    jobs = [Job(trim, functools.partial(render_copy, master.path, args), needs=master.path)]
    jobs += [_grab(master, time_s, place) for time_s in _GRABS[key]]
    if key == "megamind":
        jobs.append(_grab(master, _GRABS[key][-1], place, screenshot=True))
    return jobs


def _grab(
    master: CorpusFile, time_s: float, place: Callable[[str], str], screenshot: bool = False
) -> Job:
    """A still saved from the master at time_s (on the 25 fps grid); optionally then
    screenshotted on a phone."""
    assert abs(time_s * FPS - round(time_s * FPS)) < 1e-6, "grabs fall on a frame"
    transform = "grab_screenshot" if screenshot else "grab"
    name = f"{master.key}_{transform}_{time_s:g}s".replace(".", "_")
    file = CorpusFile(
        place(f"{name}.jpg"),
        f"{master.key}/{transform}@{time_s:g}",
        "image",
        transform,
        transform,
        "grab",
        (master.key,),
        picture=f"frame:{master.key}@{time_s:g}",
        template="mobile" if screenshot else "",
        backdrops=master.backdrops,
    )
    edit = _screenshot("mobile") if screenshot else None
    return Job(
        file, functools.partial(render_grab, _GRAB_QUALITY, master.path, time_s, edit), master.path
    )


def _pip(master: CorpusFile, place: Callable[[str], str]) -> Job:
    """The footage at 45% in the corner of a plain studio frame (picture-in-picture)."""
    seconds = master.segments[0].end_s
    file = CorpusFile(
        place(f"{master.key}_pip.mp4"),
        f"{master.key}/pip",
        "video",
        "pip",
        "pip",
        "reupload",
        (master.key,),
        segments=(Segment(0.0, seconds, master.key, 0.0),),
        template="pip_studio",
        backdrops=master.backdrops,
    )
    inputs = (("-f", "lavfi", "-i", f"color=c=0x2a3440:s=854x480:r=25:d={seconds:g}"),)
    graph = "[1:v]scale=384:-2[small];[0:v][small]overlay=W-w-24:24,format=yuv420p[out]"
    args = ("-filter_complex", graph, "-map", "[out]", "-crf", "28", *X264)
    return Job(file, functools.partial(render_composed, inputs, (master.path,), args), master.path)


def _title_cards(master: CorpusFile, place: Callable[[str], str]) -> list[Job]:
    """A channel's logo card before a re-upload and before two unrelated clips: the card
    is not content and must link none of them."""
    reupload = CorpusFile(
        place(f"{master.key}_title_card.mp4"),
        f"{master.key}/title_card",
        "video",
        "title_card_reupload",
        "title_card_reupload",
        "reupload",
        (master.key,),
        segments=(Segment(_CARD_S, _CARD_S + master.segments[0].end_s, master.key, 0.0),),
        card="logo",
    )
    tree = CorpusFile(
        place("tree_title_card.mp4"),
        "tree_title_card",
        "video",
        "original",
        "original",
        "original",
        card="logo",
    )
    plate = CorpusFile(
        place("plate_title_card.mp4"),
        "plate_title_card",
        "video",
        "original",
        "original",
        "original",
        card="logo",
    )
    return [
        Job(reupload, functools.partial(_render_carded, master.path, 0.0, 0.0), master.path),
        Job(tree, functools.partial(_render_carded, str(OPENCV_DATA / "tree.avi"), 0.0, 5.0)),
        Job(plate, _render_carded_pan),
    ]


def _photo_video(name: str, place: Callable[[str], str]) -> Job:
    """A video made from a photo: a slow 4 s zoom into it, letterboxed to 640x360."""
    file = CorpusFile(
        place(f"{name}_photo_video.mp4"),
        f"{name}/photo_video",
        "video",
        "photo_video",
        "photo_video",
        "reupload",
        (name,),
        photos=frozenset({f"photo:{name}"}),
    )
    return Job(file, functools.partial(_render_photo_video, name))


# ---------------------------------------------------------------------------------------
# Rendering


@functools.lru_cache(maxsize=32)
def _picture(unit: str) -> Image.Image:
    """The picture a unit names (RGB), from OpenCV's sample data."""
    family, _, name = unit.partition(":")
    if family == "photo":
        return _load(name)
    if family == "half":
        source, side = name.split(":")
        image = _load(source)
        middle = image.width // 2
        box = (
            (0, 0, middle, image.height)
            if side == "left"
            else (middle, 0, image.width, image.height)
        )
        return image.crop(box)
    if family == "pasted":
        backdrop_name, obj = name.split(":")
        return _pasted(backdrop_name, obj)
    raise ValueError(f"no picture for unit {unit!r}")


def _load(name: str) -> Image.Image:
    matches = sorted(OPENCV_DATA.glob(f"{name}.*"))
    if not matches:
        raise FileNotFoundError(f"{name} not in {OPENCV_DATA}")
    with Image.open(matches[0]) as image:
        return image.convert("RGB")


def _pasted(backdrop_name: str, obj: str) -> Image.Image:
    backdrop = _load(backdrop_name).copy()
    with Image.open(next(OPENCV_DATA.glob(f"{obj}.*"))) as source:
        picture = source.convert("RGBA")
    width = round(backdrop.width * 0.42)
    picture = picture.resize(
        (width, round(picture.height * width / picture.width)), Image.Resampling.LANCZOS
    )
    position = ((backdrop.width - width) // 2, (backdrop.height - picture.height) // 2)
    backdrop.paste(picture, position, picture)
    return backdrop


def _render_still(unit: str, edit: _Edit | None, quality: int, target: Path, raw: Path) -> None:
    image = _picture(unit)
    if edit is not None:
        image = edit.apply(image.copy())
    save_still(image, quality, target)


def _render_clip(source: Path, args: Sequence[str], target: Path, raw: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg.transcode(source, target, args)


def _card_image() -> Image.Image:
    """The channel's title card: OpenCV's logo on a dark blue field."""
    card = Image.new("RGB", _CARD_SIZE, (18, 28, 64))
    with Image.open(OPENCV_DATA / "opencv-logo.png") as source:
        logo = source.convert("RGBA")
    height = round(_CARD_SIZE[1] * 0.7)
    logo = logo.resize((round(logo.width * height / logo.height), height), Image.Resampling.LANCZOS)
    card.paste(logo, ((_CARD_SIZE[0] - logo.width) // 2, (_CARD_SIZE[1] - height) // 2), logo)
    return card


def _render_carded(body: str, start_s: float, seconds: float, target: Path, raw: Path) -> None:
    """The card for _CARD_S seconds, then `body` (a path under raw, or an absolute path),
    from start_s for `seconds` (0: to its end), fitted into 640x360."""
    target.parent.mkdir(parents=True, exist_ok=True)
    body_path = Path(body) if Path(body).is_absolute() else raw / body
    trim = f"trim=start={start_s:g}:end={start_s + seconds:g}," if seconds else ""
    with tempfile.TemporaryDirectory(prefix="crosscheck-card-") as tmp:
        card_path = Path(tmp) / "card.png"
        _card_image().save(card_path)
        inputs = (
            ("-loop", "1", "-framerate", "25", "-t", f"{_CARD_S:g}", "-i", str(card_path)),
            ("-i", str(body_path.absolute())),
        )
        graph = (
            f"[0:v]{FIT_640x360}[card];"
            f"[1:v]{trim}setpts=PTS-STARTPTS,{FIT_640x360}[body];"
            "[card][body]concat=n=2:v=1:a=0[out]"
        )
        ffmpeg.compose(
            inputs, target, ("-filter_complex", graph, "-map", "[out]", "-crf", "28", *X264)
        )


def _render_carded_pan(target: Path, raw: Path) -> None:
    """The card, then a 4 s pan over a photo of a licence plate (nothing else shows it)."""
    card = np.asarray(_card_image())
    shot = Shot(np.asarray(_load("licenseplate_motion")), 4.0)

    def frames() -> Iterator[np.ndarray]:
        yield from itertools.repeat(card, round(_CARD_S * FPS))
        yield from shot_frames(shot, FPS, *_CARD_SIZE)

    target.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg.encode_frames(frames(), target, *_CARD_SIZE, FPS, ("-crf", "26", "-an"))


def _render_photo_video(name: str, target: Path, raw: Path) -> None:
    photo = _picture(f"photo:{name}")
    width, height = _CARD_SIZE
    count = round(4.0 * FPS)

    def frames() -> Iterator[np.ndarray]:
        for index in range(count):
            zoom = 1.0 - 0.12 * index / (count - 1)
            box_w, box_h = photo.width * zoom, photo.height * zoom
            left, top = (photo.width - box_w) / 2, (photo.height - box_h) / 2
            window = photo.crop((round(left), round(top), round(left + box_w), round(top + box_h)))
            fit = min(width / window.width, height / window.height)
            size = (round(window.width * fit), round(window.height * fit))
            frame = Image.new("RGB", (width, height))
            frame.paste(
                window.resize(size, Image.Resampling.BILINEAR),
                ((width - size[0]) // 2, (height - size[1]) // 2),
            )
            yield np.asarray(frame)

    target.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg.encode_frames(frames(), target, width, height, FPS, ("-crf", "24", "-an"))


if __name__ == "__main__":
    raise SystemExit(main())
