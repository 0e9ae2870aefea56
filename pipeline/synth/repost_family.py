"""What the two repost families (augly_corpus, holdout_corpus) describe and render files with.

Both describe a file the same way (CorpusFile, Segment: the truth is derived from these;
the rules are augly_corpus's truth_rows), plan one job per file, save edited stills the same
way and derive their copies from a master video under raw with ffmpeg. They differ in their
ingredients and edits, which stay in their own modules; one copy of the rest means a fix to
how a file is described or written reaches both families."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from pipeline.io import ffmpeg

X264 = ("-c:v", "libx264", "-preset", "veryfast", "-threads", "1", "-pix_fmt", "yuv420p", "-an")

PilEdit = Callable[[Image.Image], Image.Image]

# Any video fitted into 640x360 (letterboxed) at 25 fps, for the parts of a composed video.
FIT_640x360 = (
    "scale=640:360:force_original_aspect_ratio=decrease,pad=640:360:(ow-iw)/2:(oh-ih)/2,"
    "setsar=1,fps=25,format=yuv420p"
)


@dataclass(frozen=True)
class Segment:
    """A stretch [start_s, end_s) of a file showing master footage from master_start_s, at
    `speed` times the master's pace (1.25: the copy plays 1.25 s of master per second)."""

    start_s: float
    end_s: float
    master: str
    master_start_s: float
    speed: float = 1.0

    @property
    def master_end_s(self) -> float:
        return self.master_start_s + (self.end_s - self.start_s) * self.speed

    def local_s(self, master_s: float) -> float:
        return round(self.start_s + (master_s - self.master_start_s) / self.speed, 6)


@dataclass(frozen=True)
class CorpusFile:
    """One generated file and what it shows; the truth is derived from these fields.

    `picture` is what a still shows (`photo:NAME`, or `frame:MASTER@SECONDS`); a video shows
    `segments` of masters and, if made from photos, `photos` (shown throughout). The other
    fields are what a file shares with others without sharing content: a screenshot or meme
    `template`, a title `card`, a `scene` captured twice, a `sibling` group of crops, the
    `backdrops` its content stands in front of.
    """

    path: str
    key: str
    kind: str
    transform: str
    category: str
    role: str
    derived_from: tuple[str, ...] = ()
    picture: str = ""
    segments: tuple[Segment, ...] = ()
    photos: frozenset[str] = frozenset()
    template: str = ""
    card: str = ""
    scene: str = ""
    sibling: str = ""
    backdrops: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Job:
    """One planned file and how to render it; `needs` is the generated file it reads."""

    file: CorpusFile
    render: Callable[[Path, Path], None]  # (target, raw root)
    needs: str = ""

    @property
    def path(self) -> str:
        return self.file.path

    def render_into(self, raw: Path) -> None:
        self.render(raw / self.file.path, raw)


def chain(*edits: PilEdit) -> PilEdit:
    def edit(image: Image.Image) -> Image.Image:
        for step in edits:
            image = step(image)
        return image

    return edit


def save_still(image: Image.Image, quality: int, target: Path) -> None:
    """JPEG at `quality`, or PNG when quality is 0."""
    target.parent.mkdir(parents=True, exist_ok=True)
    image = image.convert("RGB")
    if quality:
        image.save(target, format="JPEG", quality=quality)
    else:
        image.save(target, format="PNG")


def render_grab(
    quality: int, master_path: str, time_s: float, edit: PilEdit | None, target: Path, raw: Path
) -> None:
    """The master's frame at time_s, edited, saved as a JPEG at `quality`."""
    with tempfile.TemporaryDirectory(prefix="crosscheck-grab-") as tmp:
        frame_path = Path(tmp) / "frame.png"
        ffmpeg.transcode(raw / master_path, frame_path, ("-ss", f"{time_s:g}", "-frames:v", "1"))
        with Image.open(frame_path) as frame:
            image = frame.convert("RGB")
    if edit is not None:
        image = edit(image)
    save_still(image, quality, target)


def render_copy(master_path: str, args: Sequence[str], target: Path, raw: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg.transcode(raw / master_path, target, args)


def render_composed(
    inputs: Sequence[Sequence[str]],
    sources: Sequence[str],
    args: Sequence[str],
    target: Path,
    raw: Path,
) -> None:
    """ffmpeg.compose of `inputs` then the generated files `sources` (paths under raw)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    files = [("-i", str((raw / path).absolute())) for path in sources]
    ffmpeg.compose([*inputs, *files], target, args)


def compilation_job(
    parts: Sequence[tuple[str, float, float]],
    masters: dict[str, CorpusFile],
    place: Callable[[str], str],
) -> Job:
    """compilation.mp4: the (master key, start, end) parts one after another, each fitted
    into 640x360."""
    segments, start, graph, labels = [], 0.0, [], []
    for index, (key, part_start, part_end) in enumerate(parts):
        end = round(start + part_end - part_start, 6)
        segments.append(Segment(start, end, key, part_start))
        start = end
        graph.append(
            f"[{index}:v]trim=start={part_start:g}:end={part_end:g},setpts=PTS-STARTPTS,"
            f"{FIT_640x360}[p{index}]"
        )
        labels.append(f"[p{index}]")
    graph.append("".join(labels) + f"concat=n={len(labels)}:v=1:a=0[out]")
    file = CorpusFile(
        place("compilation.mp4"),
        "compilation",
        "video",
        "compilation",
        "compilation",
        "compilation",
        tuple(key for key, _, _ in parts),
        segments=tuple(segments),
        backdrops=frozenset().union(*(masters[key].backdrops for key, _, _ in parts)),
    )
    sources = tuple(masters[key].path for key, _, _ in parts)
    args = ("-filter_complex", ";".join(graph), "-map", "[out]", "-crf", "26", *X264)
    return Job(file, functools.partial(render_composed, (), sources, args), sources[0])
