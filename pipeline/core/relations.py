"""From frame matches to media relations: what the contract's matches.csv says of two media.

Input is every pair of frames (from two different media) whose hashes lie within the match
threshold. A pair of stills is a `near_duplicate`; a still and a video frame make a
`still_in_video` at that frame's time; two videos overlap only when several frame matches
agree on one time offset, so a single chance frame match never links two videos. The
overlapping interval is read off the whole run of agreeing matches, widened to the
neighbouring unmatched samples, not from the best pair alone.

What is plausible but unproven is not stated as the same content (issue 15, precision first):
a relation whose only support is weak evidence becomes a `candidate` for reviewers, and two
stills whose cameras recorded different exposures become `same_scene`. Neither joins
clusters, scenes or inferred chains until a reviewer confirms it (core/review). Every
relation carries a `reason`: the evidence that decided it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from statistics import median
from typing import Literal

from pipeline.core import evidence as evidence_rules

Relation = Literal[
    "exact", "near_duplicate", "video_overlap", "still_in_video", "candidate", "same_scene"
]
# The relations that state the same content: edges of clusters, scenes and inferred chains.
# `candidate` (plausible, unproven) and `same_scene` (another capture of one moment) are
# proposals for reviewers.
SAME_CONTENT: frozenset[str] = frozenset(
    {"exact", "near_duplicate", "video_overlap", "still_in_video"}
)
SCENE_METHOD = "scene"  # a frame match of one scene, not one picture (core/alignment)


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
    # Evidence where keypoints or pixels were checked (FrameMatchRow); None for plain PDQ.
    inliers: int | None = None
    coverage_a: float | None = None
    coverage_b: float | None = None
    agreement: float | None = None


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
    reason: str = ""  # the evidence that decided the relation, in words (matches.csv)
    # The evidence in numbers (core/evidence.py): frames compared, and the inliers, the
    # matched region's coverage of each picture and the content blocks agreeing of the best
    # keypoint-checked frame match (None where only PDQ decided, or inferred).
    frames_compared: int = 0
    inliers: int | None = None
    coverage_a: float | None = None
    coverage_b: float | None = None
    pixel_agreement: float | None = None

    @property
    def same_content(self) -> bool:
        return self.relation in SAME_CONTENT


@dataclass(frozen=True)
class OverlapRules:
    """Offset agreement: matches whose offsets lie within `offset_tolerance_s` of each other
    form one run; a run needs `min_frames` distinct frames on each side (fewer only when a
    video has fewer sampled frames than that).

    Evidence rules (0 turns each off): a relation with a video side supported only by PDQ
    matches at `weak_pdq_bits` or more (two clips of one static camera at different moments
    differ by 28-30 bits) is a candidate; a video overlap of fewer than `short_run_frames`
    frames, every one of which also matches some third media (a channel's logo card, an
    intro every upload shares), is a candidate."""

    offset_tolerance_s: float = 1.5
    min_frames: int = 2
    weak_pdq_bits: int = 0
    short_run_frames: int = 0
    min_coverage: float = 0.0  # core/evidence.coverage_rule


@dataclass(frozen=True)
class Evidence:
    """What the collection says beyond one pair: which other media each frame matches (a frame
    matching many media is shared material, not proof), and each still's recorded capture
    time (two different exposures are two captures, never one picture)."""

    partners: dict[tuple[str, int], frozenset[str]]
    captured_at: dict[str, str]

    @classmethod
    def of(
        cls, frame_matches: Iterable[FrameMatch], captured_at: dict[str, str] | None = None
    ) -> Evidence:
        partners: dict[tuple[str, int], set[str]] = defaultdict(set)
        for m in frame_matches:
            if m.media_a != m.media_b and m.method != SCENE_METHOD:
                partners[(m.media_a, m.frame_a)].add(m.media_b)
                partners[(m.media_b, m.frame_b)].add(m.media_a)
        return cls({k: frozenset(v) for k, v in partners.items()}, dict(captured_at or {}))

    def shared_beyond(self, key: tuple[str, int], pair: tuple[str, str]) -> bool:
        """Does this frame also match a media outside the pair?"""
        return bool(self.partners.get(key, frozenset()) - set(pair))


NO_EVIDENCE = Evidence({}, {})


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
        match.inliers,
        match.coverage_b,
        match.coverage_a,
        match.agreement,
    )


def _method(matches: Iterable[FrameMatch]) -> str:
    return "pdq" if any(m.method == "pdq" for m in matches) else "keypoints"


def media_matches(
    frame_matches: Iterable[FrameMatch],
    media: dict[str, MediaInfo],
    rules: OverlapRules,
    evidence: Evidence | None = None,
) -> list[MediaMatch]:
    """Every media relation the frame matches support, sorted by (media_a, media_b, start);
    those the evidence does not prove are `candidate` or `same_scene` (see OverlapRules)."""
    frame_matches = list(frame_matches)
    if evidence is None:
        evidence = Evidence.of(frame_matches)
    by_pair: dict[tuple[str, str], list[FrameMatch]] = defaultdict(list)
    for match in frame_matches:
        match = ordered(match)
        if match.media_a != match.media_b:
            by_pair[(match.media_a, match.media_b)].append(match)
    found: list[MediaMatch] = []
    for (a_id, b_id), every in sorted(by_pair.items()):
        a, b = media[a_id], media[b_id]
        matches = [m for m in every if m.method != SCENE_METHOD]
        if not matches:  # one scene only, never one picture: a proposal
            found.append(evidence_rules.with_evidence(_one_scene(a_id, b_id, every), every, media))
        elif a.kind != "video" and b.kind != "video":
            stills = MediaMatch(
                a_id,
                b_id,
                "near_duplicate",
                min(m.distance for m in matches),
                frames_agreeing=1,
                method=_method(matches),
                reason=_support(matches),
            )
            found.append(_judged(stills, matches, evidence, rules, media))
        elif a.kind != "video" or b.kind != "video":
            found.append(_judged(_still_in_video(a, b, matches), matches, evidence, rules, media))
        else:
            found.extend(
                _judged(overlap, run, evidence, rules, media)
                for overlap, run in _overlaps(a, b, matches, rules)
            )
    return sorted(found, key=lambda m: (m.media_a, m.media_b, m.a_start_s or 0.0))


def _support(matches: Sequence[FrameMatch]) -> str:
    """The supporting frame matches in words: how many frame pairs, by which method, at what
    distance (each pair at its smallest, plain or mirrored)."""
    parts = []
    for method in ("pdq", "keypoints"):
        best: dict[tuple[int, int], int] = {}
        for m in matches:
            if m.method == method:
                key = (m.frame_a, m.frame_b)
                best[key] = min(best.get(key, m.distance), m.distance)
        if best:
            low, high = min(best.values()), max(best.values())
            bits = f"{low}" if low == high else f"{low}-{high}"
            plural = "s" if len(best) > 1 else ""
            parts.append(f"{method}: {len(best)} frame pair{plural} at {bits} bits")
    return "; ".join(parts)


def _at_both_edges(match: MediaMatch, media: dict[str, MediaInfo]) -> bool:
    """Does the overlap open both videos, or close both? Where a channel puts its card."""

    def near(value: float | None, edge: float | None) -> bool:
        return value is not None and edge is not None and abs(value - edge) <= EDGE_MARGIN_S

    a, b = media[match.media_a], media[match.media_b]
    opens = near(match.a_start_s, 0.0) and near(match.b_start_s, 0.0)
    closes = near(match.a_end_s, a.duration_s) and near(match.b_end_s, b.duration_s)
    return opens or closes


def _judged(
    match: MediaMatch,
    support: Sequence[FrameMatch],
    evidence: Evidence,
    rules: OverlapRules,
    media: dict[str, MediaInfo],
) -> MediaMatch:
    """The relation as the evidence allows it (same content, or a proposal with its reason),
    with its evidence in numbers (core/evidence)."""
    judged = _judged_by_rules(match, support, evidence, rules, media)
    judged = evidence_rules.coverage_rule(judged, support, rules.min_coverage)
    return evidence_rules.with_evidence(judged, support, media)


def _judged_by_rules(
    match: MediaMatch,
    support: Sequence[FrameMatch],
    evidence: Evidence,
    rules: OverlapRules,
    media: dict[str, MediaInfo],
) -> MediaMatch:
    pair = (match.media_a, match.media_b)
    if match.relation == "near_duplicate":
        taken = [evidence.captured_at.get(m, "") for m in pair]
        if all(taken) and taken[0] != taken[1]:
            return replace(
                match,
                relation="same_scene",
                reason=f"{match.reason}; different exposures: captured {taken[0]} and {taken[1]}",
            )
    if _weak_pdq_only(support, rules.weak_pdq_bits):
        why = (
            "screenshots of different pictures in one page look this alike, and the pixels "
            "did not confirm it"
            if match.relation == "near_duplicate"
            else "a static camera's different moments look this alike"
        )
        return replace(
            match,
            relation="candidate",
            reason=f"{match.reason}; only PDQ at {rules.weak_pdq_bits}+ bits: {why} "
            f"({match.relation} unproven)",
        )
    if match.relation == "near_duplicate":
        return match
    if (
        match.relation == "video_overlap"
        and rules.short_run_frames
        and match.frames_agreeing < rules.short_run_frames
        and _at_both_edges(match, media)
        and all(
            evidence.shared_beyond((m.media_a, m.frame_a), pair)
            and evidence.shared_beyond((m.media_b, m.frame_b), pair)
            for m in support
        )
    ):
        return replace(
            match,
            relation="candidate",
            reason=f"{match.reason}; a {match.frames_agreeing}-frame run through frames other "
            "media share too (a title card, an intro): video_overlap unproven",
        )
    return match


SCENE_REASON = "align as one scene"  # the words of every pixel scene proposal's reason


def _pixel_scene(match: MediaMatch) -> bool:
    """A same_scene proposal made from pixels (`_one_scene`), not from recorded exposures."""
    return match.relation == "same_scene" and SCENE_REASON in match.reason


def _one_scene(a_id: str, b_id: str, support: Sequence[FrameMatch]) -> MediaMatch:
    """Two media whose frames align as one scene whose content partly differs: a `same_scene`
    proposal (a static camera's other moment, a second viewpoint), never same content and
    never disjoint."""
    best = max(support, key=lambda m: (m.inliers or 0, -m.distance))
    differ = 1.0 - (best.agreement or 0.0)
    return MediaMatch(
        a_id,
        b_id,
        "same_scene",
        min(m.distance for m in support),
        a_start_s=best.time_a,
        a_end_s=best.time_a,
        b_start_s=best.time_b,
        b_end_s=best.time_b,
        frames_agreeing=0,
        method="keypoints",
        reason=f"keypoints: {len(support)} frame pair(s) {SCENE_REASON} ({best.inliers} "
        f"inliers), but {differ:.0%} of the content blocks differ: another moment or "
        "viewpoint of one scene, not a copy",
    )


def _weak_pdq_only(support: Sequence[FrameMatch], weak_bits: int) -> bool:
    """Every supporting frame match is plain PDQ at weak_bits or more, none confirmed by
    keypoints or pixels (0: the rule is off)."""
    return bool(weak_bits) and all(
        m.method == "pdq" and m.agreement is None and m.distance >= weak_bits for m in support
    )


def _still_in_video(a: MediaInfo, b: MediaInfo, matches: list[FrameMatch]) -> MediaMatch:
    best = min(matches, key=lambda m: (m.distance, m.time_a or 0.0, m.time_b or 0.0))
    moment = best.time_a if a.kind == "video" else None
    other = best.time_b if b.kind == "video" else None
    return MediaMatch(
        a.media_id,
        b.media_id,
        "still_in_video",
        best.distance,
        a_start_s=moment,
        a_end_s=moment,
        b_start_s=other,
        b_end_s=other,
        method=best.method,
        reason=_support(matches),
    )


# Playback rates a re-upload commonly has (b's time per a's time): sped up or slowed down by
# a quarter, a half, or twice. One offset cannot fit a 1.25x re-upload: its frames drift
# 0.2 s per second from any one offset, so only a few agree and the interval is cut short.
SPEED_RATES = (1.0, 1.25, 0.8, 1.5, 2 / 3, 2.0, 0.5)
RATE_MIN_FRAMES = 4  # a rate other than 1 is fitted only on this many agreeing frames


def _overlaps(
    a: MediaInfo, b: MediaInfo, matches: list[FrameMatch], rules: OverlapRules
) -> list[tuple[MediaMatch, list[FrameMatch]]]:
    """Runs of frame matches agreeing on one time line (offset and playback rate); a
    compilation may hold several."""
    remaining = list(matches)
    need = min(rules.min_frames, len(a.sample_times) or 1, len(b.sample_times) or 1)
    runs: list[tuple[MediaMatch, list[FrameMatch]]] = []
    while remaining:
        rate, run = _best_line(remaining, rules.offset_tolerance_s)
        if min(len({m.frame_a for m in run}), len({m.frame_b for m in run})) < need:
            break
        runs.append((_interval(a, b, run, rate), run))
        used = set(map(id, run))
        remaining = [m for m in remaining if id(m) not in used]
    return runs


def _offset(match: FrameMatch, rate: float) -> float:
    return (match.time_b or 0.0) - rate * (match.time_a or 0.0)


def _spread(run: Sequence[FrameMatch], rate: float) -> float:
    """Mean distance of the run's offsets from their median: how well one line fits."""
    offsets = [_offset(m, rate) for m in run]
    centre = median(offsets)
    return sum(abs(o - centre) for o in offsets) / len(offsets)


def _best_line(matches: Sequence[FrameMatch], tolerance: float) -> tuple[float, list[FrameMatch]]:
    """The rate and run of matches that agree best: the most distinct frames of a within
    `tolerance` of one offset. Rate 1 unless another common rate holds more frames, or as
    many (at least RATE_MIN_FRAMES) on a line at least twice as tight: a slideshow's still
    slides agree with several lines, a sped-up copy's moving frames with one."""
    plain = _best_run(sorted(matches, key=lambda m: (_offset(m, 1.0), m.distance)), tolerance, 1.0)
    best_rate, best = 1.0, plain
    for rate in SPEED_RATES[1:]:
        ordered_matches = sorted(matches, key=lambda m: (_offset(m, rate), m.distance))
        run = _best_run(ordered_matches, tolerance, rate)
        frames, best_frames = len({m.frame_a for m in run}), len({m.frame_a for m in best})
        if frames < RATE_MIN_FRAMES or frames < best_frames:
            continue
        if frames > best_frames or _spread(run, rate) * 2 < _spread(best, best_rate):
            best_rate, best = rate, run
    return best_rate, best


def _best_run(
    matches: Sequence[FrameMatch], tolerance: float, rate: float = 1.0
) -> list[FrameMatch]:
    """The window of offsets at `rate` (width `tolerance`) holding the most distinct frames
    of a; `matches` sorted by that offset."""
    offsets = [_offset(m, rate) for m in matches]
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


def _interval(a: MediaInfo, b: MediaInfo, run: list[FrameMatch], rate: float = 1.0) -> MediaMatch:
    """The run's interval on each side, on the fitted line time_b = offset + rate * time_a:
    each side's matched span widened, the narrower of the two read across."""
    times_a = [m.time_a or 0.0 for m in run]
    times_b = [m.time_b or 0.0 for m in run]
    offset = median(tb - rate * ta for ta, tb in zip(times_a, times_b, strict=True))
    a_start, a_end = _widen(a.sample_times, min(times_a), max(times_a), a.duration_s)
    b_start, b_end = _widen(b.sample_times, min(times_b), max(times_b), b.duration_s)
    start = max(a_start, (b_start - offset) / rate, 0.0)
    end = min(a_end, (b_end - offset) / rate)
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
        round(offset + rate * start, 3),
        round(offset + rate * end, 3),
        frames_agreeing=len({m.frame_a for m in run}),
        method=_method(run),
        reason=_support(run) + (f"; playback rate {rate:.3g}" if rate != 1.0 else ""),
    )


@dataclass(frozen=True)
class _Span:
    """Where a relation puts two media side by side: [x_start, x_end] of one is
    [y_start, y_end] of the other (a still is the single point 0)."""

    x_start: float
    x_end: float
    y_start: float
    y_end: float

    def reversed(self) -> _Span:
        return _Span(self.y_start, self.y_end, self.x_start, self.x_end)


POINT_TOLERANCE_S = 0.5  # two stills of one video are one moment only this close in time
MIN_SHARED_S = 1.0  # composed video overlaps must share at least this much footage
EDGE_MARGIN_S = 0.5  # half the 1 s sampling interval: how far overlap ends may be widened
MAX_INFERRED_HOPS = 4


def _spans(match: MediaMatch, media: dict[str, MediaInfo]) -> _Span:
    a, b = media[match.media_a], media[match.media_b]
    if match.relation == "exact" and a.kind == "video":
        return _Span(0.0, a.duration_s or 0.0, 0.0, b.duration_s or 0.0)
    return _Span(
        match.a_start_s or 0.0, match.a_end_s or 0.0, match.b_start_s or 0.0, match.b_end_s or 0.0
    )


def _rate(span: _Span) -> float:
    """Y's time per X's time along a span (1 for a point or a degenerate span)."""
    x_len, y_len = span.x_end - span.x_start, span.y_end - span.y_start
    return y_len / x_len if x_len > 1e-6 and y_len > 1e-6 else 1.0


def _compose(first: _Span, second: _Span) -> _Span | None:
    """X->Y then Y->Z as X->Z, over the part of Y both cover; None when they do not meet.

    Each span is a line (offset and playback rate: a sped-up re-upload's interval is shorter
    on its own side), so the shared part of Y is read back onto X and forward onto Z along
    each relation's own line. A moment (a still's place in a video) passes through an
    overlap only when it lies inside the overlap by EDGE_MARGIN_S: estimated overlaps are
    widened by up to half a sampling interval at each end, and a still just outside the
    shared footage must not be carried into a video that does not contain it."""
    rate_xy, rate_yz = _rate(first), _rate(second)

    def back(y: float) -> float:  # Y's time on X
        return first.x_start + (y - first.y_start) / rate_xy

    def forward(y: float) -> float:  # Y's time on Z
        return second.y_start + (y - second.x_start) * rate_yz

    first_point = first.y_start == first.y_end
    second_point = second.x_start == second.x_end
    if first_point and second_point:
        if abs(first.y_start - second.x_start) > POINT_TOLERANCE_S:
            return None
        return _Span(first.x_start, first.x_start, second.y_start, second.y_start)
    if first_point or second_point:
        moment = first.y_start if first_point else second.x_start
        low, high = (second.x_start, second.x_end) if first_point else (first.y_start, first.y_end)
        if not low + EDGE_MARGIN_S <= moment <= high - EDGE_MARGIN_S:
            return None
        x = first.x_start if first_point else back(moment)
        z = forward(moment) if first_point else second.y_start
        return _Span(x, x, z, z)
    start, end = max(first.y_start, second.x_start), min(first.y_end, second.x_end)
    if end - start < MIN_SHARED_S:
        return None
    return _Span(back(start), back(end), forward(start), forward(end))


def _chain_rank(span: _Span, hop: int, worst: int) -> tuple[float, int, int]:
    """Order of preference among chains reaching one media (smallest first)."""
    return (-round(max(span.x_end - span.x_start, span.y_end - span.y_start), 1), hop, worst)


def infer_transitive(
    matches: Sequence[MediaMatch], media: dict[str, MediaInfo]
) -> list[MediaMatch]:
    """Relations implied by chains of direct ones: two reposts of one original show the same
    content although neither was compared with the other's exact edit.

    Intervals compose (a trim of a re-upload overlaps the original where both cover it), so
    the sources of a compilation, which sit in separate parts of it, never meet. Each
    inferred relation carries the largest distance along its chain and method `inferred`.
    Only verified relations compose: a candidate or same_scene proposal is no edge, even
    when a reviewer confirmed it (it then links its own pair, nothing beyond).
    """
    graph: dict[str, list[tuple[str, _Span, int]]] = defaultdict(list)
    direct = {(m.media_a, m.media_b) for m in matches}
    for match in matches:
        if not match.same_content:
            continue
        span = _spans(match, media)
        graph[match.media_a].append((match.media_b, span, match.distance))
        graph[match.media_b].append((match.media_a, span.reversed(), match.distance))
    inferred: list[MediaMatch] = []
    for source in sorted(graph):
        best: dict[str, tuple[int, _Span, int]] = {}
        frontier = [
            (
                source,
                _Span(0.0, media[source].duration_s or 0.0, 0.0, media[source].duration_s or 0.0),
                0,
            )
        ]
        if media[source].kind != "video":
            frontier = [(source, _Span(0.0, 0.0, 0.0, 0.0), 0)]
        for hop in range(1, MAX_INFERRED_HOPS + 1):
            following = []
            for node, span, distance in frontier:
                for neighbour, edge, edge_distance in graph[node]:
                    if neighbour == source or (neighbour in best and best[neighbour][0] == 1):
                        continue  # a direct neighbour keeps its own relation's interval
                    composed = _compose(span, edge)
                    if composed is None:
                        continue
                    worst = max(distance, edge_distance)
                    # The chain showing the most shared footage wins, then the shortest,
                    # then the closest: a chain through a compilation or a partly confirmed
                    # re-upload shows only a part of what a chain of whole copies shows.
                    held = best.get(neighbour)
                    if held is None or _chain_rank(composed, hop, worst) < _chain_rank(
                        held[1], held[0], held[2]
                    ):
                        best[neighbour] = (hop, composed, worst)
                        following.append((neighbour, composed, worst))
            frontier = following
        for target, (hop, span, worst) in sorted(best.items()):
            if hop < 2 or source >= target or (source, target) in direct:
                continue
            inferred.append(_inferred(media[source], media[target], span, worst, hop))
    return inferred


def _inferred(a: MediaInfo, b: MediaInfo, span: _Span, distance: int, hops: int) -> MediaMatch:
    def times(kind: str, start: float, end: float) -> tuple[float | None, float | None]:
        return (round(start, 3), round(end, 3)) if kind == "video" else (None, None)

    relation: Relation
    if a.kind == "video" and b.kind == "video":
        relation = "video_overlap"
    elif a.kind == "video" or b.kind == "video":
        relation = "still_in_video"
    else:
        relation = "near_duplicate"
    a_start, a_end = times(a.kind, span.x_start, span.x_end)
    b_start, b_end = times(b.kind, span.y_start, span.y_end)
    return MediaMatch(
        a.media_id,
        b.media_id,
        relation,
        distance,
        a_start,
        a_end,
        b_start,
        b_end,
        frames_agreeing=0,
        method="inferred",
        reason=f"a chain of {hops} verified relations, the weakest at {distance} bits",
    )


def with_exact(matches: Iterable[MediaMatch], exact: set[tuple[str, str]]) -> list[MediaMatch]:
    """Relations with every pair in `exact` (different bytes, identical pictures: metadata
    stripped, container remuxed) stated as `exact`, replacing whatever else linked it."""
    kept = [m for m in matches if (m.media_a, m.media_b) not in exact]
    kept += [
        MediaMatch(a, b, "exact", 0, reason="every stored frame decodes to the same thumbnail")
        for a, b in sorted(exact)
    ]
    return sorted(kept, key=lambda m: (m.media_a, m.media_b, m.a_start_s or 0.0))


def accepted_relations(
    frame_matches: Iterable[FrameMatch],
    media: dict[str, MediaInfo],
    rules: OverlapRules,
    exact: set[tuple[str, str]],
    is_rejected: Callable[[str, str], bool],
    evidence: Evidence | None = None,
    is_confirmed: Callable[[str, str], bool] = lambda a, b: False,
) -> tuple[list[MediaMatch], list[MediaMatch]]:
    """(links, all): `all` is every relation the frame matches and exact pairs support, less
    those a reviewer rejected, plus the transitive ones (sorted by media pair and start);
    `links` are the verified same-content ones (and proposals a reviewer confirmed): the
    only edges of clusters and of inferred chains."""
    frame_matches = list(frame_matches)
    if evidence is None:
        evidence = Evidence.of(frame_matches)
    direct = [
        m
        for m in with_exact(media_matches(frame_matches, media, rules, evidence), exact)
        if not is_rejected(m.media_a, m.media_b)
    ]
    links = [m for m in direct if m.same_content or is_confirmed(m.media_a, m.media_b)]
    # A pixel scene proposal yields to a chain of verified relations (one frame pair that
    # aligned as a scene, against copies proven link by link); a candidate or two recorded
    # exposures do not.
    proposed = {
        (m.media_a, m.media_b) for m in direct if not m.same_content and not _pixel_scene(m)
    }
    inferred = [
        m
        for m in infer_transitive(links, media)
        if not is_rejected(m.media_a, m.media_b) and (m.media_a, m.media_b) not in proposed
    ]
    proven = {(m.media_a, m.media_b) for m in inferred}
    direct = [m for m in direct if not (_pixel_scene(m) and (m.media_a, m.media_b) in proven)]
    every = sorted(direct + inferred, key=lambda m: (m.media_a, m.media_b, m.a_start_s or 0.0))
    return links, every
