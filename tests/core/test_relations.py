"""core/relations: frame matches to media relations, without files."""

from __future__ import annotations

from pipeline.core.relations import (
    FrameMatch,
    MediaInfo,
    MediaMatch,
    OverlapRules,
    accepted_relations,
    infer_transitive,
    media_matches,
    with_exact,
)

STILL_A = MediaInfo("a", "image", None)
STILL_B = MediaInfo("b", "image", None)
TIMES = tuple(float(t) for t in range(10))
VIDEO_V = MediaInfo("v", "video", 10.0, TIMES)
VIDEO_W = MediaInfo("w", "video", 10.0, TIMES)
MEDIA = {m.media_id: m for m in (STILL_A, STILL_B, VIDEO_V, VIDEO_W)}


def _never(a: str, b: str) -> bool:
    return False


def test_two_stills_are_near_duplicates_at_their_smallest_distance() -> None:
    found = media_matches(
        [FrameMatch("a", 0, None, "b", 0, None, 12), FrameMatch("b", 0, None, "a", 0, None, 4)],
        MEDIA,
        OverlapRules(),
    )
    assert found == [MediaMatch("a", "b", "near_duplicate", 4)]


def test_a_still_in_a_video_is_placed_at_its_best_frame() -> None:
    found = media_matches(
        [
            FrameMatch("a", 0, None, "v", 3, 3.0, 20),
            FrameMatch("a", 0, None, "v", 7, 7.0, 6),
        ],
        MEDIA,
        OverlapRules(),
    )
    assert [(m.relation, m.b_start_s, m.distance) for m in found] == [("still_in_video", 7.0, 6)]


def test_one_chance_frame_match_never_links_two_videos() -> None:
    found = media_matches([FrameMatch("v", 2, 2.0, "w", 5, 5.0, 10)], MEDIA, OverlapRules())
    assert found == []


def test_agreeing_frames_give_an_overlap_with_its_offset() -> None:
    run = [FrameMatch("v", i, float(i), "w", i + 3, float(i + 3), 8) for i in range(2, 6)]
    (overlap,) = media_matches(run, MEDIA, OverlapRules())
    assert overlap.relation == "video_overlap" and overlap.frames_agreeing == 4
    assert overlap.b_start_s is not None and overlap.a_start_s is not None
    assert round(overlap.b_start_s - overlap.a_start_s, 3) == 3.0


def test_exact_pairs_replace_other_relations_of_the_pair() -> None:
    kept = with_exact([MediaMatch("a", "b", "near_duplicate", 4)], {("a", "b")})
    assert kept == [MediaMatch("a", "b", "exact", 0)]


def test_a_rejected_pair_is_neither_direct_nor_inferred() -> None:
    frames = [
        FrameMatch("a", 0, None, "v", 3, 3.0, 5),
        FrameMatch("b", 0, None, "v", 3, 3.0, 5),
    ]

    def rejected(x: str, y: str) -> bool:
        return {x, y} == {"b", "v"}

    direct, every = accepted_relations(frames, MEDIA, OverlapRules(), set(), rejected)
    assert [(m.media_a, m.media_b) for m in direct] == [("a", "v")]
    assert all({m.media_a, m.media_b} != {"b", "v"} for m in every)


def test_two_stills_of_one_moment_are_inferred_near_duplicates() -> None:
    direct = [
        MediaMatch("a", "v", "still_in_video", 5, None, None, 3.0, 3.0),
        MediaMatch("b", "v", "still_in_video", 5, None, None, 3.0, 3.0),
    ]
    inferred = infer_transitive(direct, MEDIA)
    assert [(m.media_a, m.media_b, m.method) for m in inferred] == [("a", "b", "inferred")]


def test_no_frame_matches_no_relations() -> None:
    assert accepted_relations([], MEDIA, OverlapRules(), set(), _never) == ([], [])
