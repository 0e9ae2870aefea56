"""Synthetic footage: shots that pan slowly across sample photos, encoded with ffmpeg.

A shot moves its crop window a little every frame, so consecutive frames differ like real
footage while frames of two shots differ completely (a hard cut between photos).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.io import ffmpeg


@dataclass(frozen=True)
class Shot:
    image: np.ndarray
    seconds: float
    window: float = 0.8  # the crop window's share of the photo: smaller pans faster


def shot_frames(shot: Shot, fps: float, width: int, height: int) -> Iterator[np.ndarray]:
    """Frames of one shot: a window of 80% of the photo (`shot.window`) drifting from left to
    right across 80% of the room left."""
    src_h, src_w = shot.image.shape[:2]
    aspect = width / height
    win_h = int(min(src_h * shot.window, src_w * shot.window / aspect))
    win_w = int(win_h * aspect)
    count = max(1, round(shot.seconds * fps))
    base = Image.fromarray(shot.image)
    for index in range(count):
        progress = index / max(1, count - 1)
        left = int((src_w - win_w) * (0.1 + 0.8 * progress))
        top = (src_h - win_h) // 2
        window = base.crop((left, top, left + win_w, top + win_h))
        yield np.asarray(window.resize((width, height), Image.Resampling.BILINEAR))


def write_shots(
    path: Path,
    shots: Sequence[Shot],
    fps: float = 25.0,
    width: int = 640,
    height: int = 360,
    extra_output_args: Sequence[str] = (),
) -> None:
    """Encode the shots one after another (hard cuts) as an H.264 file."""

    def frames() -> Iterator[np.ndarray]:
        for shot in shots:
            yield from shot_frames(shot, fps, width, height)

    ffmpeg.encode_frames(frames(), path, width, height, fps, extra_output_args)
