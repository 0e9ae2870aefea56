"""The evidence behind a media relation, in numbers (issue 15: precision first).

A relation in matches.csv says two files show the same content; a reviewer must see why.
Each frame match checked by keypoints or pixels carries its evidence (core/keypoints.verify:
inliers, how much of each picture the matched region covers, the fraction of content blocks
that agree after the warp); a relation takes the evidence of its best such frame match (the
most inliers) and counts the frames compared. A plain PDQ match is a whole-picture hash
comparison: its evidence is the distance alone, and the pixel columns stay empty.

`coverage_rule` is one rule on that evidence: a keypoint match whose matched region covers
little of either picture shows a shared part (a backdrop, a page's chrome), not the content
of the smaller picture, and is only a candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # relations calls these hooks: types only, no import cycle at run time
    from pipeline.core.relations import FrameMatch, MediaInfo, MediaMatch


def frames_compared(
    match: MediaMatch, support: Sequence[FrameMatch], media: dict[str, MediaInfo]
) -> int:
    """How many frame pairs the relation was judged on: for a video overlap, the sampled
    frames of the shorter side inside the overlap (the alignment compared each of them with
    its peer); otherwise the distinct frame pairs supporting it."""
    if match.relation == "video_overlap" or (
        media[match.media_a].kind == "video" and media[match.media_b].kind == "video"
    ):
        inside = [
            sum(1 for t in media[m].sample_times if start - 1e-6 <= t <= end + 1e-6)
            for m, start, end in (
                (match.media_a, match.a_start_s, match.a_end_s),
                (match.media_b, match.b_start_s, match.b_end_s),
            )
            if start is not None and end is not None
        ]
        if inside:
            return max(min(inside), match.frames_agreeing)
    return len({(m.frame_a, m.frame_b) for m in support})


def with_evidence(
    match: MediaMatch, support: Sequence[FrameMatch], media: dict[str, MediaInfo]
) -> MediaMatch:
    """The relation with its evidence columns filled from its supporting frame matches."""
    checked = [m for m in support if m.agreement is not None]
    compared = frames_compared(match, support, media)
    if not checked:
        return replace(match, frames_compared=compared)
    best = max(checked, key=lambda m: (m.inliers or 0, m.agreement or 0.0, -m.distance))
    return replace(
        match,
        frames_compared=compared,
        inliers=best.inliers,
        coverage_a=best.coverage_a,
        coverage_b=best.coverage_b,
        pixel_agreement=best.agreement,
    )


def coverage_rule(
    match: MediaMatch, support: Sequence[FrameMatch], min_coverage: float
) -> MediaMatch:
    """A relation decided by keypoints alone (no PDQ frame match) whose every checked frame
    match covers less than min_coverage of both pictures becomes a candidate: the match holds
    on a part the two share (a backdrop, a page template), not on the smaller picture's
    content. 0 turns the rule off."""
    if not min_coverage or not match.same_content or match.relation == "exact":
        return match
    if any(m.method == "pdq" for m in support):
        return match
    checked = [m for m in support if m.coverage_a is not None and m.coverage_b is not None]
    if not checked:
        return match
    widest = max(max(m.coverage_a or 0.0, m.coverage_b or 0.0) for m in checked)
    if widest >= min_coverage:
        return match
    return replace(
        match,
        relation="candidate",
        reason=f"{match.reason}; the matched region covers at most {widest:.0%} of either "
        f"picture (a shared part, not the smaller picture's content): {match.relation} unproven",
    )
