"""The plumbing the two repost families (augly_corpus, holdout_corpus) render files with.

Both plan one job per file, save edited stills the same way and derive their copies from a
master video under raw with ffmpeg; they differ in their ingredients and edits, which stay
in their own modules. One copy of this plumbing means a fix to how a still or a copy is
written reaches both families (their data model and truth rules are augly_corpus's)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from pipeline.io import ffmpeg

if TYPE_CHECKING:
    from pipeline.synth.augly_corpus import CorpusFile

X264 = ("-c:v", "libx264", "-preset", "veryfast", "-threads", "1", "-pix_fmt", "yuv420p", "-an")

PilEdit = Callable[[Image.Image], Image.Image]


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
