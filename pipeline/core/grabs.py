"""Stills grabbed between sampled frames (issue 15 recall): decode around, then verify.

The frames stage keeps about one frame a second, so a still grabbed from a moving part of a
video lies up to half a second from every stored frame: 30-60 PDQ bits away, and keypoints
and pixels disagree where the picture moved. Such a still comes out of the searches as a
*candidate* (core/alignment): a `scene` match with a video frame, or the closest video frame
that keypoints did not confirm. For each candidate the video is decoded at its full frame
rate in a short window around that frame (the stage's decoder, io/ffmpeg.window_command:
a few seconds, never the whole file), the decoded frames closest to the still in PDQ are
verified by the same keypoint and pixel check as every other match
(`alignment.verify_checks`), and a confirmed one becomes a `keypoints` frame match between
the still and the candidate's stored frame, with the evidence measured on the decoded frame
and the time it was found at. The decoded frame must be a copy of the still by PDQ as well
(under `dedupe.weak_pdq_bits`): what a grab is. Unconfirmed, nothing changes: precision
first.

Pure: the decoded window comes from a callable the stage hands in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.config import HashConfig
from pipeline.core.alignment import Check, FrameTable, frame_distance, verify_checks
from pipeline.core.hashing import hamming, hash_frame
from pipeline.core.keypoints import Verification, VerifyRules
from pipeline.core.records import FrameKey, FrameMatchRow
from pipeline.core.relations import SCENE_METHOD

WINDOW_HALF_S = 1.0  # decode this far either side of the candidate frame (samples are 1 s apart)
VERIFY_CLOSEST = 3  # decoded frames verified per candidate, closest in PDQ first
# A decoded frame must be this close to the still: on synthetic, grabs lie 0-16 bits from the
# frame they were grabbed at (through crf 38 re-uploads, mirrors, halving), the next frame of
# fast footage 20-36 bits away, two moments of one static camera 28-30.
GRAB_COPY_BITS = 20
WINDOW_STEP_S = 0.5  # windows start on this grid, so candidates near one moment share a decode


@dataclass(frozen=True)
class GrabCandidate:
    """A still frame and the stored video frame it may have been grabbed near."""

    still: FrameKey
    video: FrameKey
    pts_s: float


@dataclass(frozen=True)
class Window:
    """A video's frames decoded at full rate: pictures (the stored frames' size) and times."""

    pictures: tuple[np.ndarray, ...]
    times_s: tuple[float, ...]


@dataclass(frozen=True)
class Grab:
    """A confirmed grab: the frame match to store and where in the video the still lies."""

    match: FrameMatchRow
    time_s: float


Decoder = Callable[[str, float, float], Window]  # (video media id, start_s, duration_s)


def grab_candidates(
    table: FrameTable,
    found: Iterable[FrameMatchRow],
    unconfirmed: Iterable[tuple[FrameKey, FrameKey]],
    linked: Iterable[FrameMatchRow],
) -> list[GrabCandidate]:
    """One candidate per (still, video) pair that no stored match proves: its closest `scene`
    match found this run, else its anchor pair that keypoints did not confirm. Only pairs
    found in this run, so a rerun or an upload retries nothing (incremental = full run)."""
    proven = {(m.media_a, m.media_b) for m in linked if m.method != SCENE_METHOD}
    best: dict[tuple[str, str], tuple[int, int, FrameKey, FrameKey]] = {}
    scenes = [((m.media_a, m.frame_a), (m.media_b, m.frame_b)) for m in found]
    scene_pairs = [pair for pair, m in zip(scenes, found, strict=True) if m.method == SCENE_METHOD]
    for rank, pairs in enumerate((scene_pairs, list(unconfirmed))):
        for a, b in pairs:
            fa, fb = table.hashed.get(a), table.hashed.get(b)
            if fa is None or fb is None or (fa.pts_s is None) == (fb.pts_s is None):
                continue  # a grab is one still and one video frame
            still, video = (a, b) if fa.pts_s is None else (b, a)
            if tuple(sorted((a[0], b[0]))) in proven:
                continue
            entry = (rank, frame_distance(fa, fb), still, video)
            key = (still[0], video[0])
            best[key] = min(best.get(key, entry), entry)
    return [
        GrabCandidate(still, video, float(table.hashed[video].pts_s or 0.0))
        for _, _, still, video in sorted(best.values())
    ]


def window_start(pts_s: float, half_s: float = WINDOW_HALF_S) -> float:
    """Where the window around pts_s starts: on a WINDOW_STEP_S grid (shared decodes)."""
    return max(0.0, np.floor((pts_s - half_s) / WINDOW_STEP_S) * WINDOW_STEP_S)


def closest_frames(
    still: np.ndarray,
    window: Window,
    config: HashConfig,
    max_bits: int,
    count: int = VERIFY_CLOSEST,
) -> list[int]:
    """The decoded frames closest to the still in mirror-invariant PDQ (at most count, under
    max_bits), closest first; ties go to the earlier frame. None unless the window moves:
    its median frame at least `moving_bits` (max_bits) from the still (below)."""
    target = hash_frame(still, config)
    ranked = []
    for index, picture in enumerate(window.pictures):
        frame = hash_frame(picture, config)
        distance = min(
            hamming(target.pdq, frame.pdq),
            hamming(target.pdq, frame.pdq_mirror),
            hamming(target.pdq_mirror, frame.pdq),
        )
        ranked.append((distance, index))
    if not ranked or sorted(ranked)[len(ranked) // 2][0] < max_bits:
        return []  # still footage: the stored samples are as close, nothing between to find
    return [index for distance, index in sorted(ranked)[:count] if distance < GRAB_COPY_BITS]


def confirm_grab(
    still: np.ndarray, window: Window, config: HashConfig, rules: VerifyRules, max_bits: int
) -> tuple[int, Verification] | None:
    """The decoded frame (index) that keypoints and pixels confirm the still was grabbed
    from, with its evidence, or None.

    A grab is a copy of one moment of moving footage: the decoded frame must be a PDQ copy
    (under GRAB_COPY_BITS) and the window must move (its median frame at max_bits,
    `dedupe.weak_pdq_bits`, or more from the still). Two moments of one static camera,
    different things in front of one backdrop, match at 28-30 bits frame after frame:
    without these rules, trying every frame of a window found one where what differs was
    small enough for the pixel rule (augly: a still of the street a moment later).
    Keypoints only: plain frames are not aligned by intensity here (any two plain pictures
    pass that), so an unverifiable grab stays a candidate."""
    tried = closest_frames(still, window, config, max_bits)
    if not tried:
        return None
    pictures: dict[FrameKey, np.ndarray] = {("still", 0): still}
    pictures.update({("window", i): window.pictures[i] for i in tried})
    checks = [Check(("still", 0), ("window", i), plain_fallback=False) for i in tried]
    answers = verify_checks(checks, pictures.__getitem__, rules)
    for index, answer in zip(tried, answers, strict=True):
        if answer.confirmed is not None:
            return index, answer.confirmed
    return None


def grab_matches(
    table: FrameTable,
    candidates: Sequence[GrabCandidate],
    still_picture: Callable[[FrameKey], np.ndarray],
    decode: Decoder,
    durations: Mapping[str, float | None],
    config: HashConfig,
    rules: VerifyRules,
    max_bits: int,
) -> list[Grab]:
    """Each candidate whose video, decoded around the candidate frame, holds a frame the
    still is confirmed to show: a `keypoints` match between the still and the candidate's
    stored frame (the relation then proves the pair; its time is the stored frame's, within
    half a sampling interval of the grab), with the decoded frame's evidence. Windows are
    decoded once per (video, start) for all candidates that share them."""
    decoded: dict[tuple[str, float], Window] = {}
    grabs: list[Grab] = []
    for candidate in candidates:
        video_id = candidate.video[0]
        start = float(window_start(candidate.pts_s))
        end = candidate.pts_s + WINDOW_HALF_S
        duration = durations.get(video_id)
        if duration is not None:
            end = min(end, duration)
        if end <= start:
            continue
        key = (video_id, start)
        if key not in decoded:
            decoded[key] = decode(video_id, start, end - start + WINDOW_STEP_S)
        window = decoded[key]
        answer = confirm_grab(still_picture(candidate.still), window, config, rules, max_bits)
        if answer is None:
            continue
        index, evidence = answer
        a, b = sorted((candidate.still, candidate.video))
        match = FrameMatchRow(
            a[0],
            a[1],
            b[0],
            b[1],
            frame_distance(table.hashed[a], table.hashed[b]),
            "keypoints",
            evidence.inliers,
            evidence.coverage_a if a == candidate.still else evidence.coverage_b,
            evidence.coverage_b if a == candidate.still else evidence.coverage_a,
            evidence.agreement,
        )
        grabs.append(Grab(match, window.times_s[index]))
    return grabs
