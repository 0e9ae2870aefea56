"""Shots from ffmpeg's scene scores: which sampled frames start a new shot, and why each was kept.

ffmpeg's `select` keeps the first frame, every frame whose scene score (0..1, the change from
the previous decoded frame) exceeds the threshold, and a frame whenever `interval_s` passed
since the last kept one; its `metadata=print` reports each kept frame's pts and score. This
module turns those lines into frame records; a kept frame above the threshold opens a shot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

FrameReason = Literal["first", "shot_change", "interval", "still"]

_FRAME_LINE = re.compile(r"^frame:\s*(\d+)\s+pts:\s*(-?\d+)\s+pts_time:\s*(-?[\d.eE+-]+)")
_SCORE_LINE = re.compile(r"^lavfi\.scene_score=([\d.eE+-]+|nan|inf)")


@dataclass(frozen=True)
class SampledFrame:
    frame_index: int
    pts_s: float | None  # None for stills
    shot_id: int
    scene_score: float
    reason: FrameReason


def parse_metadata_lines(lines: Iterable[str]) -> tuple[list[tuple[float, float]], list[str]]:
    """Split ffmpeg stderr into (pts_s, scene_score) per kept frame and the other lines
    (errors and warnings: at `-v error` anything else is a problem worth recording)."""
    samples: list[tuple[float, float]] = []
    other: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if frame := _FRAME_LINE.match(line):
            samples.append((float(frame.group(3)), 0.0))
        elif score := _SCORE_LINE.match(line):
            if samples:
                value = float(score.group(1))
                samples[-1] = (samples[-1][0], value if value == value else 0.0)
        else:
            other.append(line)
    return samples, other


def assign_shots(samples: list[tuple[float, float]], threshold: float) -> list[SampledFrame]:
    """Number the kept frames and give each the id of the shot it belongs to (from 0)."""
    frames: list[SampledFrame] = []
    shot = 0
    for index, (pts_s, score) in enumerate(samples):
        if index == 0:
            reason: FrameReason = "first"
        elif score > threshold:
            shot += 1
            reason = "shot_change"
        else:
            reason = "interval"
        frames.append(SampledFrame(index, round(pts_s, 6), shot, round(score, 6), reason))
    return frames


def still_frame() -> SampledFrame:
    """A still is one frame of one shot, with no time."""
    return SampledFrame(0, None, 0, 0.0, "still")
