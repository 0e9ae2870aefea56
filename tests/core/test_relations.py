"""core/relations: frame matches to media relations, without files."""

from __future__ import annotations

from pipeline.core.relations import (
    Evidence,
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
    assert found == [
        MediaMatch(
            "a", "b", "near_duplicate", 4, reason="pdq: 1 frame pair at 4 bits", frames_compared=1
        )
    ]


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
    assert [(m.relation, m.distance) for m in kept] == [("exact", 0)]


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


# --- issue 15: evidence rules (precision first) --------------------------------------------

VIDEO_X = MediaInfo("x", "video", 10.0, TIMES)
MEDIA_3 = {**MEDIA, "x": VIDEO_X}
RULES = OverlapRules(weak_pdq_bits=28, short_run_frames=3)


def test_every_relation_says_what_decided_it() -> None:
    run = [FrameMatch("v", i, float(i), "w", i, float(i), 6 + i) for i in range(2, 6)]
    run.append(FrameMatch("v", 7, 7.0, "w", 7, 7.0, 90, "keypoints"))
    (overlap,) = media_matches(run, MEDIA, RULES)
    assert overlap.reason == "pdq: 4 frame pairs at 8-11 bits; keypoints: 1 frame pair at 90 bits"


def test_videos_linked_only_by_weak_pdq_are_a_candidate() -> None:
    run = [FrameMatch("v", i, float(i), "w", i, float(i), 29) for i in range(10)]
    (found,) = media_matches(run, MEDIA, RULES)
    assert found.relation == "candidate" and "video_overlap unproven" in found.reason


def test_one_strong_frame_makes_a_weak_pdq_overlap_proven() -> None:
    run = [FrameMatch("v", i, float(i), "w", i, float(i), 29) for i in range(10)]
    run[4] = FrameMatch("v", 4, 4.0, "w", 4, 4.0, 12)
    (found,) = media_matches(run, MEDIA, RULES)
    assert found.relation == "video_overlap"


def test_a_still_in_a_video_by_weak_pdq_alone_is_a_candidate() -> None:
    found = media_matches([FrameMatch("a", 0, None, "v", 3, 3.0, 30)], MEDIA, RULES)
    assert [m.relation for m in found] == ["candidate"]


def test_a_keypoint_confirmed_still_in_video_is_not_weak_pdq() -> None:
    found = media_matches([FrameMatch("a", 0, None, "v", 3, 3.0, 120, "keypoints")], MEDIA, RULES)
    assert [m.relation for m in found] == ["still_in_video"]


def test_weak_pdq_between_two_stills_needs_its_pixels_confirmed() -> None:
    """Screenshots of different pictures in one page match by PDQ at 30 bits: unconfirmed,
    a candidate; the search's pixel check (core/alignment.weak_still_pairs) proves it."""
    (weak,) = media_matches([FrameMatch("a", 0, None, "b", 0, None, 30)], MEDIA, RULES)
    assert weak.relation == "candidate" and "near_duplicate unproven" in weak.reason
    checked = FrameMatch("a", 0, None, "b", 0, None, 30, "pdq", 55, 0.9, 0.92, 0.99)
    (proven,) = media_matches([checked], MEDIA, RULES)
    assert proven.relation == "near_duplicate"
    assert (proven.inliers, proven.coverage_a, proven.coverage_b, proven.pixel_agreement) == (
        55,
        0.9,
        0.92,
        0.99,
    )
    (strong,) = media_matches([FrameMatch("a", 0, None, "b", 0, None, 12)], MEDIA, RULES)
    assert strong.relation == "near_duplicate" and strong.pixel_agreement is None


def test_a_keypoint_match_on_a_small_shared_part_is_a_candidate() -> None:
    """A logo or avatar both pictures carry: the matched region covers little of either."""
    rules = OverlapRules(min_coverage=0.15)
    logo = FrameMatch("a", 0, None, "b", 0, None, 110, "keypoints", 20, 0.04, 0.06, 1.0)
    (found,) = media_matches([logo], MEDIA, rules)
    assert found.relation == "candidate" and "covers at most 6%" in found.reason
    crop = FrameMatch("a", 0, None, "b", 0, None, 110, "keypoints", 80, 0.55, 0.97, 1.0)
    assert [m.relation for m in media_matches([crop], MEDIA, rules)] == ["near_duplicate"]


def test_the_evidence_follows_the_pair_when_its_media_are_swapped() -> None:
    swapped = FrameMatch("b", 0, None, "a", 0, None, 90, "keypoints", 40, 0.3, 0.8, 0.99)
    (found,) = media_matches([swapped], MEDIA, OverlapRules())
    assert (found.media_a, found.coverage_a, found.coverage_b) == ("a", 0.8, 0.3)


def test_a_video_overlap_counts_the_frames_compared_inside_it() -> None:
    run = [FrameMatch("v", i, float(i), "w", i, float(i), 6) for i in (2, 3, 5)]
    (overlap,) = media_matches(run, MEDIA, OverlapRules())
    # Samples at 2, 3 and 5 s matched, the one at 4 s did not: 3 of the 4 inside agree.
    assert (overlap.frames_agreeing, overlap.frames_compared) == (3, 4)


def _title_card(first: str, second: str) -> list[FrameMatch]:
    return [FrameMatch(first, i, float(i), second, i, float(i), 2) for i in (0, 1)]


def test_a_short_run_through_frames_a_third_video_shares_is_a_candidate() -> None:
    card = _title_card("v", "w") + _title_card("v", "x") + _title_card("w", "x")
    found = media_matches(card, MEDIA_3, RULES)
    assert {m.relation for m in found} == {"candidate"} and len(found) == 3
    assert all("title card" in m.reason for m in found)


def test_a_short_run_through_shared_frames_inside_the_videos_is_an_overlap() -> None:
    def excerpt(first: str, second: str) -> list[FrameMatch]:
        return [FrameMatch(first, i, float(i), second, i, float(i + 2), 2) for i in (4, 5)]

    found = media_matches(excerpt("v", "w") + excerpt("v", "x") + excerpt("w", "x"), MEDIA_3, RULES)
    assert {m.relation for m in found} == {"video_overlap"}


def test_a_short_run_only_two_videos_share_is_an_overlap() -> None:
    (found,) = media_matches(_title_card("v", "w"), MEDIA_3, RULES)
    assert found.relation == "video_overlap"


def test_a_long_run_through_shared_frames_is_an_overlap() -> None:
    run = [FrameMatch("v", i, float(i), "w", i, float(i), 4) for i in range(6)]
    every = media_matches(run + _title_card("v", "x") + _title_card("w", "x"), MEDIA_3, RULES)
    (found,) = [m for m in every if m.media_b == "w"]
    assert found.relation == "video_overlap"


def test_two_exposures_of_one_scene_are_same_scene_not_near_duplicates() -> None:
    frames = [FrameMatch("a", 0, None, "b", 0, None, 6)]
    evidence = Evidence.of(frames, {"a": "2017-11-07T22:14:15", "b": "2017-11-07T22:14:30"})
    (found,) = media_matches(frames, MEDIA, RULES, evidence)
    assert found.relation == "same_scene" and "different exposures" in found.reason


def test_a_copy_keeping_its_capture_time_stays_a_near_duplicate() -> None:
    frames = [FrameMatch("a", 0, None, "b", 0, None, 6)]
    evidence = Evidence.of(frames, {"a": "2017-11-07T22:14:15", "b": "2017-11-07T22:14:15"})
    (found,) = media_matches(frames, MEDIA, RULES, evidence)
    assert found.relation == "near_duplicate"


def test_a_copy_with_stripped_metadata_stays_a_near_duplicate() -> None:
    frames = [FrameMatch("a", 0, None, "b", 0, None, 6)]
    (found,) = media_matches(frames, MEDIA, RULES, Evidence.of(frames, {"a": "2017-11-07T22:14"}))
    assert found.relation == "near_duplicate"


def test_proposals_join_no_cluster_and_carry_no_inference() -> None:
    frames = [FrameMatch("a", 0, None, "v", 3, 3.0, 30), FrameMatch("b", 0, None, "v", 3, 3.0, 5)]
    links, every = accepted_relations(frames, MEDIA, RULES, set(), _never)
    assert [(m.media_a, m.media_b) for m in links] == [("b", "v")]
    assert sorted((m.media_a, m.media_b, m.relation) for m in every) == [
        ("a", "v", "candidate"),
        ("b", "v", "still_in_video"),
    ]


def test_a_confirmed_candidate_links_its_pair_but_infers_nothing() -> None:
    frames = [FrameMatch("a", 0, None, "v", 3, 3.0, 30), FrameMatch("b", 0, None, "v", 3, 3.0, 5)]
    links, every = accepted_relations(
        frames, MEDIA, RULES, set(), _never, is_confirmed=lambda x, y: {x, y} == {"a", "v"}
    )
    assert sorted((m.media_a, m.media_b) for m in links) == [("a", "v"), ("b", "v")]
    assert all(m.method != "inferred" for m in every)


def test_no_inferred_relation_overrides_a_same_scene_proposal() -> None:
    frames = [
        FrameMatch("a", 0, None, "b", 0, None, 6),
        FrameMatch("a", 0, None, "v", 3, 3.0, 5),
        FrameMatch("b", 0, None, "v", 3, 3.0, 5),
    ]
    evidence = Evidence.of(frames, {"a": "2017-11-07T22:14:15", "b": "2017-11-07T22:14:30"})
    _, every = accepted_relations(frames, MEDIA, RULES, set(), _never, evidence)
    assert [m.relation for m in every if {m.media_a, m.media_b} == {"a", "b"}] == ["same_scene"]


def test_a_pixel_scene_proposal_yields_to_a_chain_of_verified_relations() -> None:
    """Two exposures stay a proposal (above); one frame pair that aligned only as one scene
    (a logo bar over part of a re-upload) does not outweigh copies proven link by link."""
    scene = FrameMatch("a", 0, None, "b", 0, None, 80, "scene", 97, 0.9, 0.9, 0.92)
    chain = [FrameMatch("a", 0, None, "v", 3, 3.0, 5), FrameMatch("b", 0, None, "v", 3, 3.0, 5)]
    (alone,) = media_matches([scene], MEDIA, RULES)
    assert alone.relation == "same_scene" and not alone.same_content
    _, every = accepted_relations([scene, *chain], MEDIA, RULES, set(), _never)
    assert [(m.relation, m.method) for m in every if {m.media_a, m.media_b} == {"a", "b"}] == [
        ("near_duplicate", "inferred")
    ]
    _, unproven = accepted_relations([scene, chain[0]], MEDIA, RULES, set(), _never)
    assert [m.relation for m in unproven if {m.media_a, m.media_b} == {"a", "b"}] == ["same_scene"]


def test_a_still_near_an_overlaps_edge_is_not_carried_through_it() -> None:
    """Overlap ends are estimated to half a sampling interval: a still placed within
    EDGE_MARGIN_S of the end of what two videos share may lie outside the other video, so it
    is carried only from well inside the shared footage."""
    overlap = MediaMatch("v", "w", "video_overlap", 4, 2.0, 8.0, 0.0, 6.0, 6)
    inside = infer_transitive(
        [MediaMatch("a", "v", "still_in_video", 5, None, None, 3.0, 3.0), overlap], MEDIA
    )
    assert [(m.media_a, m.media_b, m.b_start_s) for m in inside] == [("a", "w", 1.0)]
    near_edge = infer_transitive(
        [MediaMatch("a", "v", "still_in_video", 5, None, None, 2.2, 2.2), overlap], MEDIA
    )
    assert near_edge == []


# --- issue 15: intervals within 1 s ---------------------------------------------------------

SLOW = MediaInfo("s", "video", 8.0, tuple(float(t) for t in range(8)))  # v at 1.25x speed
MEDIA_SPEED = {**MEDIA_3, "s": SLOW}


def test_a_sped_up_reupload_is_fitted_with_its_rate_not_cut_short() -> None:
    # Each second of s shows 1.25 s of v: one offset holds only the first few frames.
    run = [FrameMatch("s", i, float(i), "v", round(i * 1.25), round(i * 1.25), 6) for i in range(8)]
    (overlap,) = media_matches(run, MEDIA_SPEED, OverlapRules())
    assert overlap.frames_agreeing == 8
    assert (overlap.a_start_s, overlap.a_end_s) == (0.0, 8.0)
    assert overlap.b_start_s == 0.0 and overlap.b_end_s is not None
    assert abs(overlap.b_end_s - 10.0) <= 0.5
    assert "playback rate 1.25" in overlap.reason


def test_still_slides_that_agree_with_several_rates_keep_rate_one() -> None:
    run = [FrameMatch("v", i, float(i), "w", i, float(i), 6) for i in range(10)]
    (overlap,) = media_matches(run, MEDIA, OverlapRules())
    assert (overlap.a_start_s, overlap.a_end_s, overlap.b_start_s, overlap.b_end_s) == (
        0.0,
        10.0,
        0.0,
        10.0,
    )
    assert "rate" not in overlap.reason


def test_an_inferred_interval_composes_along_each_relations_rate() -> None:
    direct = [
        MediaMatch("s", "v", "video_overlap", 6, 0.0, 8.0, 0.0, 10.0),  # s is v at 1.25x
        MediaMatch("v", "w", "video_overlap", 6, 0.0, 10.0, 0.0, 10.0),
        MediaMatch("a", "v", "still_in_video", 6, None, None, 5.0, 5.0),
    ]
    inferred = {(m.media_a, m.media_b): m for m in infer_transitive(direct, MEDIA_SPEED)}
    sw = inferred[("s", "w")]
    assert (sw.a_start_s, sw.a_end_s, sw.b_start_s, sw.b_end_s) == (0.0, 8.0, 0.0, 10.0)
    still = inferred[("a", "s")]
    assert still.b_start_s == 4.0  # 5 s of v is 4 s of its 1.25x copy


def test_an_inferred_interval_takes_the_chain_sharing_the_most_footage() -> None:
    # v-w is known whole through x (two hops), but also through a compilation c that holds
    # only 3 s of each (two hops, closer): the inferred interval is the whole, not 3 s.
    comp = MediaInfo("c", "video", 6.0, tuple(float(t) for t in range(6)))
    media = {**MEDIA_3, "c": comp, "y": MediaInfo("y", "video", 10.0, TIMES)}
    direct = [
        MediaMatch("c", "v", "video_overlap", 2, 0.0, 3.0, 1.0, 4.0),
        MediaMatch("c", "w", "video_overlap", 2, 0.0, 3.0, 1.0, 4.0),
        MediaMatch("v", "x", "video_overlap", 9, 0.0, 10.0, 0.0, 10.0),
        MediaMatch("x", "y", "video_overlap", 9, 0.0, 10.0, 0.0, 10.0),
        MediaMatch("w", "y", "video_overlap", 9, 0.0, 10.0, 0.0, 10.0),
    ]
    inferred = {(m.media_a, m.media_b): m for m in infer_transitive(direct, media)}
    vw = inferred[("v", "w")]
    assert (vw.a_start_s, vw.a_end_s, vw.b_start_s, vw.b_end_s) == (0.0, 10.0, 0.0, 10.0)
