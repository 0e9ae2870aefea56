"""From frame matches to media relations: what the contract's matches.csv says of two media.

Input is every pair of frames (from two different media) whose hashes lie within the match
threshold. A pair of stills is a `near_duplicate`; a still and a video frame make a
`still_in_video` at that frame's time; two videos overlap only when several frame matches
agree on one time offset, so a single chance frame match never links two videos. The
overlapping interval is read off the whole run of agreeing matches, widened to the
neighbouring unmatched samples, not from the best pair alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Literal

Relation = Literal["exact", "near_duplicate", "video_overlap", "still_in_video"]


@dataclass(frozen=True)
class MediaInfo:
    media_id: str
    kind: str  # image | video
    duration_s: float | None
    sample_times: tuple[float, ...] = ()  # pts of every sampled frame, ascending (videos)


@dataclass(frozen=True)
class FrameMatch:
    """Two frames of two media within the hash threshold (a's media_id < b's)."""

    media_a: str
    frame_a: int
    time_a: float | None
    media_b: str
    frame_b: int
    time_b: float | None
    distance: int
    method: str = "pdq"  # pdq | keypoints (the crop path)


@dataclass(frozen=True)
class MediaMatch:
    media_a: str
    media_b: str
    relation: Relation
    distance: int
    a_start_s: float | None = None
    a_end_s: float | None = None
    b_start_s: float | None = None
    b_end_s: float | None = None
    frames_agreeing: int = 1
    method: str = "pdq"


@dataclass(frozen=True)
class OverlapRules:
    """Offset agreement: matches whose offsets lie within `offset_tolerance_s` of each other
    form one run; a run needs `min_frames` distinct frames on each side (fewer only when a
    video has fewer sampled frames than that)."""

    offset_tolerance_s: float = 1.5
    min_frames: int = 2


def ordered(match: FrameMatch) -> FrameMatch:
    """The same match with media_a < media_b, so every pair has one spelling."""
    if match.media_a <= match.media_b:
        return match
    return FrameMatch(
        match.media_b,
        match.frame_b,
        match.time_b,
        match.media_a,
        match.frame_a,
        match.time_a,
        match.distance,
        match.method,
    )


def _method(matches: Iterable[FrameMatch]) -> str:
    return "pdq" if any(m.method == "pdq" for m in matches) else "keypoints"


def media_matches(
    frame_matches: Iterable[FrameMatch], media: dict[str, MediaInfo], rules: OverlapRules
) -> list[MediaMatch]:
    """Every media relation the frame matches support, sorted by (media_a, media_b, start)."""
    by_pair: dict[tuple[str, str], list[FrameMatch]] = defaultdict(list)
    for match in frame_matches:
        match = ordered(match)
        if match.media_a != match.media_b:
            by_pair[(match.media_a, match.media_b)].append(match)
    found: list[MediaMatch] = []
    for (a_id, b_id), matches in sorted(by_pair.items()):
        a, b = media[a_id], media[b_id]
        if a.kind != "video" and b.kind != "video":
            found.append(
                MediaMatch(
                    a_id,
                    b_id,
                    "near_duplicate",
                    min(m.distance for m in matches),
                    method=_method(matches),
                )
            )
        elif a.kind != "video" or b.kind != "video":
            found.append(_still_in_video(a, b, matches))
        else:
            found.extend(_overlaps(a, b, matches, rules))
    return sorted(found, key=lambda m: (m.media_a, m.media_b, m.a_start_s or 0.0))


def _still_in_video(a: MediaInfo, b: MediaInfo, matches: list[FrameMatch]) -> MediaMatch:
    best = min(matches, key=lambda m: (m.distance, m.time_a or 0.0, m.time_b or 0.0))
    if a.kind == "video":
        return MediaMatch(
            a.media_id,
            b.media_id,
            "still_in_video",
            best.distance,
            a_start_s=best.time_a,
            a_end_s=best.time_a,
            method=best.method,
        )
    return MediaMatch(
        a.media_id,
        b.media_id,
        "still_in_video",
        best.distance,
        b_start_s=best.time_b,
        b_end_s=best.time_b,
        method=best.method,
    )


def _overlaps(
    a: MediaInfo, b: MediaInfo, matches: list[FrameMatch], rules: OverlapRules
) -> list[MediaMatch]:
    """Runs of frame matches agreeing on one offset; a compilation may hold several."""
    remaining = sorted(matches, key=lambda m: ((m.time_b or 0.0) - (m.time_a or 0.0), m.distance))
    need = min(rules.min_frames, len(a.sample_times) or 1, len(b.sample_times) or 1)
    runs: list[MediaMatch] = []
    while remaining:
        run = _best_run(remaining, rules.offset_tolerance_s)
        if min(len({m.frame_a for m in run}), len({m.frame_b for m in run})) < need:
            break
        runs.append(_interval(a, b, run))
        used = set(map(id, run))
        remaining = [m for m in remaining if id(m) not in used]
    return runs


def _best_run(matches: Sequence[FrameMatch], tolerance: float) -> list[FrameMatch]:
    """The window of offsets (width `tolerance`) holding the most distinct frames of a."""
    offsets = [(m.time_b or 0.0) - (m.time_a or 0.0) for m in matches]
    best: tuple[int, int, int] = (0, 0, 0)  # (distinct frames, -summed distance, start index)
    best_end = 0
    end = 0
    for start in range(len(matches)):
        end = max(end, start)
        while end + 1 < len(matches) and offsets[end + 1] - offsets[start] <= tolerance:
            end += 1
        window = matches[start : end + 1]
        score = (len({m.frame_a for m in window}), -sum(m.distance for m in window), -start)
        if score > best:
            best, best_end = score, end
    start = -best[2]
    return list(matches[start : best_end + 1])


def _widen(
    times: Sequence[float], first: float, last: float, duration: float | None
) -> tuple[float, float]:
    """Stretch a matched span to halfway to the neighbouring unmatched samples (or the ends)."""
    earlier = [t for t in times if t < first - 1e-6]
    later = [t for t in times if t > last + 1e-6]
    start = (earlier[-1] + first) / 2 if earlier else 0.0
    end = (last + later[0]) / 2 if later else (duration if duration else last)
    return start, end


def _interval(a: MediaInfo, b: MediaInfo, run: list[FrameMatch]) -> MediaMatch:
    times_a = [m.time_a or 0.0 for m in run]
    times_b = [m.time_b or 0.0 for m in run]
    offset = median(tb - ta for ta, tb in zip(times_a, times_b, strict=True))
    a_start, a_end = _widen(a.sample_times, min(times_a), max(times_a), a.duration_s)
    b_start, b_end = _widen(b.sample_times, min(times_b), max(times_b), b.duration_s)
    start = max(a_start, b_start - offset, 0.0)
    end = min(a_end, b_end - offset)
    if a.duration_s:
        end = min(end, a.duration_s)
    end = max(end, start)
    return MediaMatch(
        a.media_id,
        b.media_id,
        "video_overlap",
        min(m.distance for m in run),
        round(start, 3),
        round(end, 3),
        round(start + offset, 3),
        round(end + offset, 3),
        frames_agreeing=len({m.frame_a for m in run}),
        method=_method(run),
    )
