"""A held-out labelled repost corpus that no matching work has seen (`make eval`, family
`holdout`).

The `augly` family was read during development, so it no longer measures matching on unseen
material. This family shares no ingredient with `synthetic` (scikit-image photos, the
project's edits) nor with `augly` (OpenCV's sample data, Meta's AugLy):

- pictures: the real photographs of Debian's `mate-backgrounds` (MATE_BACKGROUNDS, GPL-2+ per
  the package's copyright file; `make setup` installs it): a ladybird, flowers, a storm over
  a road (dark, low contrast), a water drop (little texture), a grey plank of wood (low
  contrast), a dune, leaves. Its abstract artworks only fill screenshot sidebars; its
  Elephants painting is panned across by a camera for two master videos.
- image edits: `albumentations` (PyPI, MIT): crops, pads, rotations, gamma, hue and
  saturation, grayscale, CLAHE, perspective, heavy JPEG, blur, noise, downscales, aspect
  change, mirror, mirrored crops and chains of 2-3 of them; text and logo overlays and two
  screenshot-like compositions (the picture inside a phone app or a news web page with bars,
  text, avatars, an advert and other thumbnails) are drawn here with Pillow in matplotlib's
  DejaVu fonts.
- video: masters made with ffmpeg's filters and lavfi sources (a camera panning with zoompan
  along two paths that never cross over MATE's Elephants painting, a fixed camera on a
  meadow photo with two different lavfi patterns moving in front), re-uploaded with ffmpeg
  filter chains: re-encode, 9:16 with a Gaussian-blurred fill, a top text banner, 1.25x
  speed, 15 fps, a crop, a mirrored crop, picture-in-picture, a channel card before the
  footage, trims, a compilation of three, stills grabbed between the 1 s samples, a grab
  then screenshotted, and a video made from a photo.
- hard negatives: different objects pasted on one meadow photo and two videos of the same
  meadow with different things moving (`same_backdrop`); two views of one dune from a camera
  that moved (`same_scene`); the two halves of one photo of leaves, and the two pans over
  one painting (`sibling_crop`); screenshots and picture-in-picture frames of different
  pictures in one template (`shared_template`); unrelated clips opening on one channel card
  (`shared_title_card`).

The files are described with the `augly` family's data model (`CorpusFile`, `Segment`) and
the truth is derived from what each file shows by the same rules (`truth_rows`), so the
two families are scored alike. Report on this family; never choose a threshold on it.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from pipeline.io import ffmpeg
from pipeline.layout import DataLayout
from pipeline.synth.augly_corpus import (
    AUGLY_TRUTH_COLUMNS,
    corpus_counts,
    truth_rows,
)
from pipeline.synth.family import corpus_main, render_jobs, write_rendered_corpus
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

FAMILY = "holdout"
INCIDENT = "holdout"
MATE_BACKGROUNDS = Path("/usr/share/backgrounds/mate")
HOLDOUT_TRUTH_COLUMNS = AUGLY_TRUTH_COLUMNS
SOURCES = tuple(f"user{index:02d}" for index in range(1, 8))
HARD_NEGATIVE_KINDS = (
    "shared_template",
    "shared_title_card",
    "same_scene",
    "sibling_crop",
    "same_backdrop",
)
FPS = 25.0
_GRAB_QUALITY = 87  # JPEG quality of a still saved from a video
_LONG_SIDE = 1280  # originals as posted: the wallpapers are up to 2560 px wide

# Originals with reposts; the dark and the low-texture ones early so that small corpora
# keep them.
_ORIGINALS = (
    "LadyBird",
    "Storm",
    "Garden",
    "Aqua",
    "FreshFlower",
    "Wood",
    "YellowFlower",
    "RainDrops",
)
_SCENE_SOURCE = "Dune"  # two views of it: a camera that moved
_SIBLING_SOURCE = "Blinds"  # its left and right parts, a gap between them
_BACKDROP = "GreenMeadow"
_PASTED_OBJECTS = ("seeds", "logo", "wave")
_ALWAYS = ("screenshot_phone", "screenshot_page")


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """matplotlib's DejaVu fonts: a dev dependency that ships them, the same on every
    machine (a system font would change the bytes)."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf" / name), size)


def _font_path(bold: bool = True) -> str:
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return str(Path(matplotlib.get_data_path()) / "fonts/ttf" / name)


# ---------------------------------------------------------------------------------------
# Public API


def available() -> str:
    """'' when the ingredients are installed, else what is missing (for a clear error)."""
    missing = []
    if not (MATE_BACKGROUNDS / "nature" / "LadyBird.jpg").is_file():
        missing.append(
            f"MATE's photographs in {MATE_BACKGROUNDS} (Debian package mate-backgrounds)"
        )
    try:
        _albumentations()
    except ImportError:
        missing.append("albumentations (pip package albumentations)")
    return "; ".join(missing)


def write_holdout_corpus(layout: DataLayout, scale: float = 1.0, seed: int = 0) -> Path:
    """Write the corpus under layout.raw/holdout and its truth to DIR/eval_truth.csv.

    Every category and every kind of hard negative at any scale; the same (scale, seed)
    gives the same bytes with the same ffmpeg, Pillow and albumentations. Files already
    under raw/holdout are reused when they are exactly this corpus (per eval_corpus.json);
    otherwise FileExistsError, and nothing under raw/ is overwritten."""
    problem = available()
    if problem:
        raise RuntimeError(f"the held-out corpus needs {problem}; run `make setup`")
    jobs = _plan(scale, seed)
    files = [job.file for job in jobs]
    return write_rendered_corpus(
        layout,
        INCIDENT,
        {"family": FAMILY, "scale": scale, "seed": seed},
        jobs,
        HOLDOUT_TRUTH_COLUMNS,
        lambda: truth_rows(files),
        corpus_counts(files),
    )


def corpus_files(scale: float = 1.0, seed: int = 0) -> tuple[CorpusFile, ...]:
    """The files write_holdout_corpus makes for (scale, seed), without rendering anything."""
    return tuple(job.file for job in _plan(scale, seed))


def render_files(raw: Path, paths: Collection[str], scale: float = 1.0, seed: int = 0) -> None:
    """Render only the named files of the (scale, seed) plan under raw (their masters must
    be there already); KeyError for a path the plan does not make."""
    jobs = {job.file.path: job for job in _plan(scale, seed)}
    render_jobs(raw, [jobs[path] for path in paths])


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipeline.synth.holdout_corpus --data-dir DIR [--scale S] [--seed N]`."""
    return corpus_main(
        argv,
        module="holdout_corpus",
        description="Write the held-out MATE-photo / albumentations repost corpus into "
        "DIR/raw/holdout and its ground truth into DIR/eval_truth.csv.",
        scale_help="1.0: every original with ten edits; 0.3: three originals",
        write=write_holdout_corpus,
        counts=lambda scale, seed: corpus_counts(corpus_files(scale, seed)),
        errors=(FileExistsError, RuntimeError),
    )


# ---------------------------------------------------------------------------------------
# Image edits: albumentations, and compositions drawn with Pillow

_AlbuFactory = Callable[[Any, int, int], list[Any]]  # (albumentations, width, height)


@dataclass(frozen=True)
class _Edit:
    name: str
    category: str
    apply: PilEdit
    quality: int = 88  # JPEG quality of the saved copy; 0 for PNG
    template: str = ""


def _albumentations() -> Any:
    # Its import otherwise asks PyPI for a newer version: no network in a corpus build.
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations

    return albumentations


def _albu(factory: _AlbuFactory, seed: int = 7) -> PilEdit:
    """An albumentations pipeline, built for the picture's size, with a fixed seed (noise)."""

    def edit(image: Image.Image) -> Image.Image:
        albu = _albumentations()
        array = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        transforms = factory(albu, image.width, image.height)
        result = albu.Compose(transforms, seed=seed)(image=array)["image"]
        return Image.fromarray(np.ascontiguousarray(result))

    return edit


def _crop(left: float, top: float, right: float, bottom: float) -> _AlbuFactory:
    def factory(albu: Any, width: int, height: int) -> list[Any]:
        box = (
            round(left * width),
            round(top * height),
            round(right * width),
            round(bottom * height),
        )
        return [albu.Crop(x_min=box[0], y_min=box[1], x_max=box[2], y_max=box[3], p=1.0)]

    return factory


def _text_overlay(image: Image.Image) -> Image.Image:
    """A reposter's handle and time in a translucent bar over the lower part."""
    image = image.convert("RGBA")
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(12, image.height // 14)
    top = round(image.height * 0.78)
    draw.rectangle((0, top, image.width, top + round(size * 1.6)), fill=(0, 0, 0, 120))
    draw.text(
        (size // 2, top + size // 4),
        "@ground_truth_live  21:47",
        font=_font(size, True),
        fill=(255, 255, 255, 235),
    )
    return Image.alpha_composite(image, layer).convert("RGB")


def _logo_overlay(image: Image.Image) -> Image.Image:
    """A channel's corner watermark: a ring with letters, half transparent."""
    image = image.convert("RGBA")
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    radius = max(16, round(min(image.size) * 0.11))
    cx, cy = image.width - radius - radius // 3, radius + radius // 3
    draw.ellipse(
        (cx - radius, cy - radius, cx + radius, cy + radius),
        fill=(200, 20, 40, 150),
        outline=(255, 255, 255, 200),
        width=max(2, radius // 8),
    )
    font = _font(radius, True)
    draw.text((cx, cy), "N9", font=font, fill=(255, 255, 255, 220), anchor="mm")
    return Image.alpha_composite(image, layer).convert("RGB")


def _fit(image: Image.Image, width: int, height: int, fill: tuple[int, int, int]) -> Image.Image:
    scale = min(width / image.width, height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    box = Image.new("RGB", (width, height), fill)
    box.paste(
        image.convert("RGB").resize(size, Image.Resampling.LANCZOS),
        ((width - size[0]) // 2, (height - size[1]) // 2),
    )
    return box


def _artwork(name: str, size: tuple[int, int]) -> Image.Image:
    """One of MATE's abstract artworks or desktop backgrounds (never a picture of the corpus),
    cut to size."""
    folder = "abstract" if (MATE_BACKGROUNDS / "abstract" / name).is_file() else "desktop"
    with Image.open(MATE_BACKGROUNDS / folder / name) as source:
        art = source.convert("RGB")
    scale = max(size[0] / art.width, size[1] / art.height)
    art = art.resize(
        (math.ceil(art.width * scale), math.ceil(art.height * scale)), Image.Resampling.BILINEAR
    )
    left, top = (art.width - size[0]) // 2, (art.height - size[1]) // 2
    return art.crop((left, top, left + size[0], top + size[1]))


def _avatar(
    draw: ImageDraw.ImageDraw,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    letter: str,
) -> None:
    draw.ellipse(box, fill=colour)
    centre = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
    draw.text(
        centre, letter, font=_font((box[3] - box[1]) // 2, True), fill=(255, 255, 255), anchor="mm"
    )


def _phone_screenshot(image: Image.Image) -> Image.Image:
    """The picture in a phone app's post: status bar, header with avatar and handle, the
    picture, actions, likes, caption, a sponsored strip, the navigation bar."""
    width, height = 720, 1480
    page = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, width, 52), fill=(12, 12, 12))
    draw.text((24, 12), "9:41", font=_font(26, True), fill=(255, 255, 255))
    draw.rectangle((620, 16, 680, 38), outline=(255, 255, 255), width=3)
    draw.rectangle((624, 20, 664, 34), fill=(255, 255, 255))
    _avatar(draw, (20, 66, 92, 138), (230, 120, 30), "R")
    draw.text((108, 76), "reporter_on_site", font=_font(28, True), fill=(20, 20, 20))
    draw.text((108, 110), "2 h  ·  shared", font=_font(20), fill=(120, 120, 120))
    draw.rounded_rectangle((560, 80, 696, 124), radius=10, fill=(0, 149, 246))
    draw.text((628, 102), "Follow", font=_font(22, True), fill=(255, 255, 255), anchor="mm")
    page.paste(_fit(image, width, 860, (0, 0, 0)), (0, 152))
    y = 1030
    for x in (28, 100, 172):
        draw.ellipse((x, y, x + 44, y + 44), outline=(30, 30, 30), width=4)
    draw.text((24, 1090), "1,204 likes", font=_font(26, True), fill=(20, 20, 20))
    draw.text(
        (24, 1130), "reporter_on_site  this is what we saw", font=_font(22), fill=(20, 20, 20)
    )
    draw.text((24, 1162), "View all 88 comments", font=_font(22), fill=(140, 140, 140))
    page.paste(_artwork("Spring.png", (672, 150)), (24, 1210))
    draw.rectangle((24, 1210, 200, 1246), fill=(255, 255, 255))
    draw.text((32, 1214), "Sponsored", font=_font(22, True), fill=(20, 20, 20))
    draw.rectangle((0, 1392, width, height), fill=(248, 248, 248))
    for index in range(5):
        x = 52 + index * 144
        draw.rounded_rectangle((x, 1414, x + 40, 1454), radius=8, outline=(30, 30, 30), width=4)
    return page


def _page_screenshot(image: Image.Image) -> Image.Image:
    """The picture on a news web page in a desktop browser: tab and address bars, the
    site's header, a headline, the picture, a sidebar of related stories and an advert."""
    width, height = 1366, 768
    page = Image.new("RGB", (width, height), (246, 246, 246))
    draw = ImageDraw.Draw(page)
    draw.rectangle((0, 0, width, 40), fill=(222, 225, 230))
    draw.rounded_rectangle((10, 6, 300, 40), radius=8, fill=(255, 255, 255))
    draw.text((24, 14), "Eyewitness Daily - Live", font=_font(16), fill=(40, 40, 40))
    draw.rectangle((0, 40, width, 84), fill=(255, 255, 255))
    draw.rounded_rectangle((110, 48, 1250, 78), radius=14, fill=(238, 240, 244))
    draw.text(
        (130, 54),
        "https://eyewitness-daily.example/live/updates",
        font=_font(16),
        fill=(60, 60, 60),
    )
    draw.rectangle((0, 84, width, 140), fill=(16, 48, 96))
    draw.text((40, 96), "EYEWITNESS DAILY", font=_font(30, True), fill=(255, 255, 255))
    for index, word in enumerate(("World", "Live", "Video", "Opinion")):
        draw.text((860 + index * 110, 104), word, font=_font(20), fill=(210, 220, 240))
    draw.text(
        (40, 156),
        "Live: footage shared by readers this morning",
        font=_font(28, True),
        fill=(20, 20, 20),
    )
    page.paste(_fit(image, 860, 540, (30, 30, 30)), (40, 204))
    draw.text((940, 160), "Related", font=_font(24, True), fill=(20, 20, 20))
    for index, art in enumerate(("Silk.png", "Waves.png", "Flow.png")):
        top = 204 + index * 120
        page.paste(_artwork(art, (150, 100)), (940, top))
        draw.text(
            (1104, top + 10), f"Story {index + 1}: more", font=_font(18, True), fill=(30, 30, 30)
        )
        draw.text((1104, top + 40), "from the scene", font=_font(18), fill=(90, 90, 90))
    page.paste(_artwork("Gulp.png", (386, 170)), (940, 570))
    draw.text((950, 576), "ADVERTISEMENT", font=_font(14, True), fill=(255, 255, 255))
    return page


def _pad_factory(albu: Any, width: int, height: int) -> list[Any]:
    pad = (round(width * 0.18), round(height * 0.1), round(width * 0.18), round(height * 0.1))
    return [albu.Pad(padding=pad, fill=(250, 250, 250), p=1.0)]


def _edits() -> tuple[_Edit, ...]:
    """Every image edit of the family, in the order originals take them."""
    return (
        _Edit("screenshot_phone", "screenshot_mobile", _phone_screenshot, template="phone"),
        _Edit("screenshot_page", "screenshot_web", _page_screenshot, template="page"),
        _Edit("crop_18", "crop", _albu(_crop(0.18, 0.0, 1.0, 1.0))),
        _Edit(
            "gamma_60",
            "colour",
            _albu(lambda a, w, h: [a.RandomGamma(gamma_limit=(60, 60), p=1.0)]),
        ),
        _Edit("text_bar", "overlay", _text_overlay),
        _Edit("rotate_6", "rotate", _albu(lambda a, w, h: [a.Rotate(limit=(6, 6), fill=0, p=1.0)])),
        _Edit("pad_18x10", "pad", _albu(_pad_factory)),
        _Edit(
            "jpeg_q7",
            "jpeg",
            _albu(lambda a, w, h: [a.ImageCompression(quality_range=(7, 7), p=1.0)]),
            quality=95,
        ),
        _Edit(
            "mirror_crop_15",
            "mirror_crop",
            _albu(lambda a, w, h: [a.HorizontalFlip(p=1.0), *_crop(0.0, 0.08, 0.85, 1.0)(a, w, h)]),
        ),
        _Edit(
            "hue_saturation",
            "colour",
            _albu(
                lambda a, w, h: [
                    a.HueSaturationValue(
                        hue_shift_limit=(14, 14),
                        sat_shift_limit=(45, 45),
                        val_shift_limit=(-12, -12),
                        p=1.0,
                    )
                ]
            ),
        ),
        _Edit("logo_corner", "overlay", _logo_overlay),
        _Edit(
            "noise", "noise", _albu(lambda a, w, h: [a.GaussNoise(std_range=(0.09, 0.09), p=1.0)])
        ),
        _Edit("mirror", "mirror", _albu(lambda a, w, h: [a.HorizontalFlip(p=1.0)])),
        _Edit("crop_25", "crop", _albu(_crop(0.05, 0.12, 0.8, 0.92))),
        _Edit("grayscale", "colour", _albu(lambda a, w, h: [a.ToGray(p=1.0)])),
        _Edit(
            "perspective", "warp", _albu(lambda a, w, h: [a.Perspective(scale=(0.07, 0.07), p=1.0)])
        ),
        _Edit(
            "aspect_1.6",
            "aspect",
            _albu(lambda a, w, h: [a.Resize(height=h, width=round(w * 1.6), p=1.0)]),
        ),
        _Edit(
            "blur_sigma3",
            "blur",
            _albu(
                lambda a, w, h: [a.GaussianBlur(blur_limit=(0, 0), sigma_limit=(3.0, 3.0), p=1.0)]
            ),
        ),
        _Edit(
            "downscale_25",
            "scale",
            _albu(lambda a, w, h: [a.Resize(height=round(h * 0.25), width=round(w * 0.25), p=1.0)]),
        ),
        _Edit(
            "rotate_-3",
            "rotate",
            _albu(lambda a, w, h: [a.Rotate(limit=(-3, -3), crop_border=True, p=1.0)]),
        ),
        _Edit(
            "crop_12+gamma_140+jpeg_q18",
            "chain",
            _albu(
                lambda a, w, h: [
                    *_crop(0.0, 0.12, 0.88, 1.0)(a, w, h),
                    a.RandomGamma(gamma_limit=(140, 140), p=1.0),
                    a.ImageCompression(quality_range=(18, 18), p=1.0),
                ]
            ),
        ),
        _Edit(
            "mirror+noise+downscale_50",
            "chain",
            _albu(
                lambda a, w, h: [
                    a.HorizontalFlip(p=1.0),
                    a.GaussNoise(std_range=(0.05, 0.05), p=1.0),
                    a.Resize(height=h // 2, width=w // 2, p=1.0),
                ]
            ),
        ),
        _Edit(
            "rotate_4+screenshot_phone",
            "chain",
            chain(
                _albu(lambda a, w, h: [a.Rotate(limit=(4, 4), fill=0, p=1.0)]), _phone_screenshot
            ),
            template="phone",
        ),
        _Edit(
            "clahe+pad+blur",
            "chain",
            chain(
                _albu(lambda a, w, h: [a.CLAHE(clip_limit=(4, 4), p=1.0)]),
                _albu(_pad_factory),
                _albu(
                    lambda a, w, h: [
                        a.GaussianBlur(blur_limit=(0, 0), sigma_limit=(1.5, 1.5), p=1.0)
                    ]
                ),
            ),
        ),
        _Edit(
            "text_bar+crop_20",
            "chain",
            chain(_text_overlay, _albu(_crop(0.1, 0.1, 0.9, 0.9))),
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
    per_original = max(math.ceil(len(edits) / n_originals), min(len(edits), round(10 * scale)))
    offset = int(rng.integers(len(edits)))
    jobs: list[Job] = []
    for index, name in enumerate(originals):
        start = offset + index * per_original
        picked = [edits[(start + j) % len(edits)] for j in range(per_original)]
        jobs += _still_family(name, [*every, *picked], place)
    jobs += _same_scene(place)
    jobs += _siblings(place)
    jobs += _backdrop(scale, place)
    jobs += _videos(scale, originals[0], place)
    paths = [job.file.path for job in jobs]
    assert len(set(paths)) == len(paths), "file names must be unique"
    return jobs


def _original(key: str, picture: str, place: Callable[[str], str], **traps: Any) -> CorpusFile:
    return CorpusFile(
        place(f"{key}.jpg"),
        key,
        "image",
        "original",
        "original",
        "original",
        picture=picture,
        **traps,
    )


def _repost(
    original: CorpusFile, edit: _Edit, place: Callable[[str], str], **traps: Any
) -> CorpusFile:
    extension = "jpg" if edit.quality else "png"
    return CorpusFile(
        place(f"{original.key}_{edit.name.replace('+', '__')}.{extension}"),
        f"{original.key}/{edit.name}",
        "image",
        edit.name,
        edit.category,
        "repost",
        (original.key,),
        picture=original.picture,
        template=edit.template,
        **traps,
    )


def _still_family(name: str, edits: Sequence[_Edit], place: Callable[[str], str]) -> list[Job]:
    original = _original(name, f"photo:{name}", place)
    jobs = [Job(original, functools.partial(_render_still, original.picture, None, 92))]
    for edit in edits:
        copy = _repost(original, edit, place)
        jobs.append(Job(copy, functools.partial(_render_still, copy.picture, edit, edit.quality)))
    return jobs


def _pair_with_repost(
    key: str, picture: str, edit: _Edit, place: Callable[[str], str], **traps: Any
) -> list[Job]:
    original = _original(key, picture, place, **traps)
    copy = _repost(original, edit, place, **traps)
    return [
        Job(original, functools.partial(_render_still, picture, None, 90)),
        Job(copy, functools.partial(_render_still, picture, edit, edit.quality)),
    ]


def _same_scene(place: Callable[[str], str]) -> list[Job]:
    """Two views of one dune from a camera that moved (a fifth of the frame in common, other
    exposure and perspective), and a repost of the first view."""
    scene = f"{_SCENE_SOURCE}:views"
    repost = _Edit(
        "downscale_50",
        "scale",
        _albu(lambda a, w, h: [a.Resize(height=h // 2, width=w // 2, p=1.0)]),
        82,
    )
    jobs = _pair_with_repost(
        f"{_SCENE_SOURCE}_view1", f"view:{_SCENE_SOURCE}:1", repost, place, scene=scene
    )
    second = _original(f"{_SCENE_SOURCE}_view2", f"view:{_SCENE_SOURCE}:2", place, scene=scene)
    jobs.append(Job(second, functools.partial(_render_still, second.picture, None, 90)))
    return jobs


def _siblings(place: Callable[[str], str]) -> list[Job]:
    """The left and right parts of one photo of leaves, each with a repost: no shared pixels."""
    jobs = []
    for side, edit in (
        (
            "left",
            _Edit(
                "jpeg_q25",
                "jpeg",
                _albu(lambda a, w, h: [a.ImageCompression(quality_range=(25, 25), p=1.0)]),
                95,
            ),
        ),
        (
            "right",
            _Edit(
                "rotate_3",
                "rotate",
                _albu(lambda a, w, h: [a.Rotate(limit=(3, 3), fill=0, p=1.0)]),
                88,
            ),
        ),
    ):
        key = f"{_SIBLING_SOURCE}_{side}"
        jobs += _pair_with_repost(
            key, f"part:{_SIBLING_SOURCE}:{side}", edit, place, sibling=_SIBLING_SOURCE
        )
    return jobs


def _backdrop(scale: float, place: Callable[[str], str]) -> list[Job]:
    """Different objects pasted in front of one meadow photo, each with a repost."""
    jobs = []
    repost = _Edit(
        "jpeg_q35",
        "jpeg",
        _albu(lambda a, w, h: [a.ImageCompression(quality_range=(35, 35), p=1.0)]),
        95,
    )
    for obj in _PASTED_OBJECTS[: 3 if scale >= 0.6 else 2]:
        jobs += _pair_with_repost(
            f"meadow_{obj}",
            f"pasted:{_BACKDROP}:{obj}",
            repost,
            place,
            backdrops=frozenset({"meadow"}),
        )
    return jobs


# Masters (10 s unless said): key -> (seconds, backdrop)
_MASTERS = {
    "river": (10.0, ""),
    "gallery": (10.0, ""),
    "meadow_a": (8.0, "meadow"),
    "meadow_b": (8.0, "meadow"),
}
# master times of the stills grabbed from them: on the 25 fps grid, between 1 s samples
# zoompan's window (x, y in the painting's pixels; `on` the frame number) of the two pans
_PANS = {"gallery": ("1500+12*on", "700+2.4*on"), "river": ("3300-6*on", "2450+0.8*on")}
_GRABS = {"river": (4.36,), "gallery": (2.68, 7.24), "meadow_a": (3.52,), "meadow_b": (5.2,)}
_TRIMS = {"river": (2.5, 7.5), "gallery": (1.0, 6.0)}
_COMPILATION = (("river", 1.0, 4.6), ("gallery", 5.0, 8.0), ("meadow_a", 2.0, 4.0))
_CARD_S = 1.6
_SIZE = (640, 360)
_VERTICAL = (
    "split[a][b];[a]scale=406:720:force_original_aspect_ratio=increase,crop=406:720,"
    "gblur=sigma=24[bg];[b]scale=406:-2[fg];[bg][fg]overlay=0:(H-h)/2,format=yuv420p"
)


@dataclass(frozen=True)
class _VideoCopy:
    transform: str
    category: str
    args: tuple[str, ...]
    speed: float = 1.0
    masters: tuple[str, ...] = ("river", "gallery")
    min_scale: float = 0.0


def _video_copies() -> tuple[_VideoCopy, ...]:
    font = _font_path().replace(":", r"\:")
    banner = (
        "drawbox=x=0:y=0:w=iw:h=54:color=0xB01020@0.85:t=fill,"
        f"drawtext=fontfile={font}:text='LIVE  reader footage':x=14:y=14:fontsize=26:"
        "fontcolor=white"
    )
    return (
        _VideoCopy("reencode_426_crf35", "reupload", ("-vf", "scale=426:-2", "-crf", "35")),
        _VideoCopy("reencode_crf32", "reupload", ("-crf", "32"), masters=("meadow_a",)),
        _VideoCopy("vertical_gblur", "vertical_blurfill", ("-vf", _VERTICAL, "-crf", "30")),
        _VideoCopy("banner_top", "text_banner", ("-vf", banner, "-crf", "28")),
        _VideoCopy(
            "speed_1.25", "speed", ("-vf", "setpts=PTS/1.25", "-r", "25", "-crf", "28"), 1.25
        ),
        _VideoCopy("fps_15", "fps_change", ("-vf", "fps=15", "-crf", "30"), masters=("gallery",)),
        _VideoCopy(
            "crop_75", "video_crop", ("-vf", "crop=iw*0.75:ih*0.75:iw*0.05:ih*0.2", "-crf", "28")
        ),
        _VideoCopy(
            "mirror_crop_80",
            "mirror_crop",
            ("-vf", "hflip,crop=iw*0.8:ih*0.8:iw*0.2:0", "-crf", "28"),
            masters=("gallery",),
        ),
        _VideoCopy(
            "mirror_crop_80",
            "mirror_crop",
            ("-vf", "hflip,crop=iw*0.8:ih*0.8:iw*0.2:0", "-crf", "28"),
            masters=("river",),
            min_scale=0.6,
        ),
    )


def _master(key: str, place: Callable[[str], str]) -> CorpusFile:
    seconds, backdrop = _MASTERS[key]
    return CorpusFile(
        place(f"{key}.mp4"),
        key,
        "video",
        "original",
        "original",
        "original",
        segments=(Segment(0.0, seconds, key, 0.0),),
        sibling="elephants" if key in _PANS else "",
        backdrops=frozenset({backdrop}) if backdrop else frozenset(),
    )


def _videos(scale: float, photo_name: str, place: Callable[[str], str]) -> list[Job]:
    masters = {key: _master(key, place) for key in _MASTERS}
    jobs = [Job(file, functools.partial(_render_master, key)) for key, file in masters.items()]
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
                sibling=master.sibling,
                backdrops=master.backdrops,
            )
            args = (*copy.args, *X264)
            jobs.append(Job(file, functools.partial(render_copy, master.path, args), master.path))
    for key, (start_s, end_s) in _TRIMS.items():
        jobs.append(_trim(masters[key], start_s, end_s, place))
    for key, times in _GRABS.items():
        jobs += [_grab(masters[key], time_s, place) for time_s in times]
    jobs.append(_grab(masters["gallery"], _GRABS["gallery"][-1], place, screenshot=True))
    jobs.append(_pip(masters["gallery"], place))
    if scale >= 0.6:
        jobs.append(_pip(masters["river"], place))
    jobs.append(compilation_job(_COMPILATION, masters, place))
    jobs += _title_cards(masters["river"], place)
    jobs.append(_photo_video(photo_name, place))
    return jobs


def _trim(master: CorpusFile, start_s: float, end_s: float, place: Callable[[str], str]) -> Job:
    file = CorpusFile(
        place(f"{master.key}_trim.mp4"),
        f"{master.key}/trim",
        "video",
        "trim",
        "trim",
        "trim",
        (master.key,),
        segments=(Segment(0.0, end_s - start_s, master.key, start_s),),
        sibling=master.sibling,
        backdrops=master.backdrops,
    )
    args = ("-ss", f"{start_s:g}", "-t", f"{end_s - start_s:g}", "-crf", "27", *X264)
    return Job(file, functools.partial(render_copy, master.path, args), master.path)


def _grab(
    master: CorpusFile, time_s: float, place: Callable[[str], str], screenshot: bool = False
) -> Job:
    """A still saved from the master at time_s; optionally then screenshotted in the phone app."""
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
        template="phone" if screenshot else "",
        sibling=master.sibling,
        backdrops=master.backdrops,
    )
    edit = _phone_screenshot if screenshot else None
    return Job(
        file, functools.partial(render_grab, _GRAB_QUALITY, master.path, time_s, edit), master.path
    )


def _pip(master: CorpusFile, place: Callable[[str], str]) -> Job:
    """The footage at 40% in the lower left of a reaction stream's frame."""
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
        template="reaction_stream",
        sibling=master.sibling,
        backdrops=master.backdrops,
    )
    font = _font_path().replace(":", r"\:")
    background = f"color=c=0x3a1f4d:s=960x540:r=25:d={seconds:g}"
    graph = (
        "[0:v]drawbox=x=0:y=0:w=iw:h=60:color=0x111111:t=fill,"
        f"drawtext=fontfile={font}:text='REACTING LIVE':x=20:y=16:fontsize=28:fontcolor=0xffd000,"
        "drawbox=x=560:y=120:w=360:h=380:color=0x6b4a8a:t=fill[bg];"
        "[1:v]scale=384:-2[small];[bg][small]overlay=24:H-h-40,format=yuv420p[out]"
    )
    inputs = (("-f", "lavfi", "-i", background),)
    args = ("-filter_complex", graph, "-map", "[out]", "-crf", "28", *X264)
    return Job(file, functools.partial(render_composed, inputs, (master.path,), args), master.path)


def _title_cards(master: CorpusFile, place: Callable[[str], str]) -> list[Job]:
    """A channel's card before a re-upload and before two unrelated lavfi clips."""
    reupload = CorpusFile(
        place(f"{master.key}_card.mp4"),
        f"{master.key}/card",
        "video",
        "title_card_reupload",
        "title_card_reupload",
        "reupload",
        (master.key,),
        segments=(Segment(_CARD_S, _CARD_S + master.segments[0].end_s, master.key, 0.0),),
        card="channel9",
        sibling=master.sibling,
    )
    jobs = [Job(reupload, functools.partial(_render_carded, master.path, ""), master.path)]
    for key, spec in (
        (
            "life_card",
            "life=s=320x180:mold=10:r=25:ratio=0.12:seed=5:life_color=#40ff60:death_color=#203040,scale=640:360:flags=neighbor",
        ),
        ("automaton_card", "cellauto=s=640x360:rule=110:r=25:seed=3:full=1,negate"),
    ):
        file = CorpusFile(
            place(f"{key}.mp4"), key, "video", "original", "original", "original", card="channel9"
        )
        jobs.append(Job(file, functools.partial(_render_carded, "", spec)))
    return jobs


def _photo_video(name: str, place: Callable[[str], str]) -> Job:
    """A video made from a photo: ffmpeg's zoompan pushing slowly into it for 5 s."""
    file = CorpusFile(
        place(f"{name}_zoom_video.mp4"),
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


def _photo_path(name: str) -> Path:
    for folder in ("nature", "desktop", "abstract"):
        path = MATE_BACKGROUNDS / folder / f"{name}.jpg"
        if path.is_file():
            return path
    raise FileNotFoundError(f"{name} not in {MATE_BACKGROUNDS}")


@functools.lru_cache(maxsize=32)
def _photo(name: str) -> Image.Image:
    """A wallpaper photograph scaled to _LONG_SIDE pixels on its long side."""
    with Image.open(_photo_path(name)) as source:
        image = source.convert("RGB")
    factor = _LONG_SIDE / max(image.size)
    return image.resize(
        (round(image.width * factor), round(image.height * factor)), Image.Resampling.LANCZOS
    )


@functools.lru_cache(maxsize=32)
def _picture(unit: str) -> Image.Image:
    """The picture a unit names (RGB)."""
    family, _, name = unit.partition(":")
    if family == "photo":
        return _photo(name)
    if family == "view":
        return _view(*name.split(":"))
    if family == "part":
        source, side = name.split(":")
        image = _photo(source)
        box = (0, 0, round(image.width * 0.45), image.height)
        if side == "right":
            box = (round(image.width * 0.55), 0, image.width, image.height)
        return image.crop(box)
    if family == "pasted":
        return _pasted(*name.split(":"))
    raise ValueError(f"no picture for unit {unit!r}")


def _view(source: str, which: str) -> Image.Image:
    """One of two views of a scene: 60% of the width each, a fifth in common; the second
    brighter, with a slight perspective (the camera moved and re-metered)."""
    image = _photo(source)
    width, height = image.size
    if which == "1":
        return image.crop((0, round(height * 0.04), round(width * 0.6), round(height * 0.96)))
    view = image.crop((round(width * 0.4), 0, width, round(height * 0.92)))
    warp = _albu(
        lambda a, w, h: [
            a.Perspective(scale=(0.05, 0.05), p=1.0),
            a.RandomBrightnessContrast(
                brightness_limit=(0.12, 0.12), contrast_limit=(0.1, 0.1), p=1.0
            ),
        ],
        seed=3,
    )
    return warp(view)


def _pasted(backdrop: str, obj: str) -> Image.Image:
    """An object cut out of another picture (never one of the corpus), pasted in the middle."""
    canvas = _photo(backdrop).copy()
    size = (round(canvas.width * 0.36), round(canvas.height * 0.4))
    if obj == "seeds":
        seeds = _photo("TwoWings")
        left, top = round(seeds.width * 0.35), round(seeds.height * 0.2)
        piece = seeds.crop((left, top, left + size[0], top + size[1]))
    elif obj == "logo":
        with Image.open(MATE_BACKGROUNDS / "desktop" / "GreenTraditional.jpg") as source:
            logo = source.convert("RGB")
        piece = logo.crop((540, 320, 1360, 900)).resize(size, Image.Resampling.LANCZOS)
    else:
        piece = _artwork("Ubuntu-Mate-Warm-no-logo.png", size)  # in no screenshot; CC-BY-SA-4.0
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size[0] - 1, size[1] - 1), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(4))
    canvas.paste(piece, ((canvas.width - size[0]) // 2, (canvas.height - size[1]) // 2), mask)
    return canvas


def _render_still(unit: str, edit: _Edit | None, quality: int, target: Path, raw: Path) -> None:
    image = _picture(unit)
    if edit is not None:
        image = edit.apply(image.copy())
    save_still(image, quality, target)


def _render_master(key: str, target: Path, raw: Path) -> None:
    """The master footage, all made by ffmpeg: lavfi sources, zoompan over a painting."""
    target.parent.mkdir(parents=True, exist_ok=True)
    seconds, _ = _MASTERS[key]
    frames = round(seconds * FPS)
    output = ("-frames:v", str(frames), "-crf", "20", *X264)
    if key in _PANS:
        # A 720x405 window of the 5640 px painting moving a few pixels a frame: it travels its
        # own width in 2.4 s (gallery, to the right past the elephants) or 4.8 s (river, to the
        # left along the water below them), so frames further apart share no pixels. A slow
        # pan or a zoom (an earlier Mandelbrot master) makes every frame a crop of the others
        # and the truth's intervals ambiguous. The two paths never cross: sibling crops.
        x, y = _PANS[key]
        painting = MATE_BACKGROUNDS / "abstract" / "Elephants_5640x3172.jpg"
        pan = f"[0:v]zoompan=z=5640/720:x='{x}':y='{y}':d={frames}:s=640x360:fps=25,setsar=1[out]"
        ffmpeg.compose(
            (("-i", str(painting)),), target, ("-filter_complex", pan, "-map", "[out]", *output)
        )
        return
    # A fixed camera on the meadow; something different moves in front in each master.
    meadow = _photo(_BACKDROP).resize((640, 512), Image.Resampling.LANCZOS).crop((0, 76, 640, 436))
    mover = (
        "testsrc2=s=160x120:r=25"
        if key == "meadow_a"
        else "sierpinski=s=150x150:r=25:seed=9:type=triangle"
    )
    path_x = "x='20+t*60':y='H-h-30'" if key == "meadow_a" else "x='W-w-40':y='20+t*22'"
    with tempfile.TemporaryDirectory(prefix="crosscheck-meadow-") as tmp:
        still = Path(tmp) / "meadow.png"
        meadow.save(still)
        inputs = (
            ("-loop", "1", "-framerate", "25", "-i", str(still)),
            ("-f", "lavfi", "-i", mover),
        )
        graph = f"[0:v][1:v]overlay={path_x}:shortest=0,setsar=1[out]"
        ffmpeg.compose(inputs, target, ("-filter_complex", graph, "-map", "[out]", *output))


def _card_image() -> Image.Image:
    """The channel's card: a white ring and the channel's name on deep red."""
    card = Image.new("RGB", _SIZE, (120, 10, 24))
    draw = ImageDraw.Draw(card)
    draw.ellipse((250, 60, 390, 200), outline=(255, 255, 255), width=12)
    draw.text((320, 130), "9", font=_font(80, True), fill=(255, 255, 255), anchor="mm")
    draw.text(
        (320, 260), "CHANNEL NINE WITNESS", font=_font(30, True), fill=(255, 255, 255), anchor="mm"
    )
    return card


def _render_carded(body: str, lavfi: str, target: Path, raw: Path) -> None:
    """The card for _CARD_S seconds, then `body` (a path under raw) or 5 s of a lavfi spec."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="crosscheck-card-") as tmp:
        card_path = Path(tmp) / "card.png"
        _card_image().save(card_path)
        second = (
            ("-f", "lavfi", "-t", "5", "-i", lavfi)
            if lavfi
            else ("-i", str((raw / body).absolute()))
        )
        inputs = (
            ("-loop", "1", "-framerate", "25", "-t", f"{_CARD_S:g}", "-i", str(card_path)),
            second,
        )
        graph = (
            f"[0:v]{FIT_640x360}[card];[1:v]setpts=PTS-STARTPTS,{FIT_640x360}[body];"
            "[card][body]concat=n=2:v=1:a=0[out]"
        )
        ffmpeg.compose(
            inputs, target, ("-filter_complex", graph, "-map", "[out]", "-crf", "28", *X264)
        )


def _render_photo_video(name: str, target: Path, raw: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    frames = round(5.0 * FPS)
    with tempfile.TemporaryDirectory(prefix="crosscheck-zoom-") as tmp:
        still = Path(tmp) / "photo.png"
        _photo(name).save(still)
        graph = (
            f"[0:v]zoompan=z='1+0.15*on/{frames}':x='(iw-iw/zoom)/2':y='(ih-ih/zoom)/2':"
            f"d={frames}:s=640x400:fps=25,setsar=1[out]"
        )
        args = (
            "-filter_complex",
            graph,
            "-map",
            "[out]",
            "-frames:v",
            str(frames),
            "-crf",
            "24",
            *X264,
        )
        ffmpeg.compose((("-i", str(still)),), target, args)


if __name__ == "__main__":
    raise SystemExit(main())
