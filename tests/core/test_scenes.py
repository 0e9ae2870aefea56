"""core/scenes: units, links, annotations, scenes and one incident's count, without files."""

from __future__ import annotations

from pipeline.core.records import FrameMatchRow, MediaRecord, StoredFrame
from pipeline.core.relations import MediaMatch
from pipeline.core.review import Decision, fold
from pipeline.core.scenes import (
    Annotation,
    FrameProposal,
    LabelledCount,
    ShotIndex,
    build_scenes,
    busiest_frames,
    count_incident,
    resolve_annotations,
    scene_links,
)
from pipeline.core.shots import SampledFrame

V, W, S = "v" * 64, "w" * 64, "s" * 64


def _frame(media: str, index: int, pts: float | None, shot: int) -> StoredFrame:
    reason = "still" if pts is None else ("first" if index == 0 else "interval")
    return StoredFrame(
        media, SampledFrame(index, pts, shot, 0.0, reason), 8, 8, f"{media[0]}{index}"
    )


SHOTS = ShotIndex.build(
    [
        _frame(V, 0, 0.0, 0),
        _frame(V, 1, 1.0, 0),
        _frame(V, 2, 2.0, 1),
        _frame(V, 3, 3.0, 1),
        _frame(W, 0, 0.0, 0),
        _frame(W, 1, 1.0, 1),
        _frame(S, 0, None, 0),
    ]
)


def test_shot_index_finds_units_shots_and_first_frames() -> None:
    assert SHOTS.units(V) == [(V, 0), (V, 1)]
    assert SHOTS.shot_at(V, 1.9) == 0 and SHOTS.shot_at(V, 2.0) == 1 and SHOTS.shot_at(V, 99) == 1
    assert SHOTS.first_frame((V, 1)) == (2, "v2")
    assert SHOTS.first_frame((V, 7)) is None
    assert SHOTS.shot_of_frame(V, 3) == 1


def _decision(n: int, action: str, a: str, b: str) -> Decision:
    return Decision(n, "t", "r", action, {"media_a": a, "media_b": b}, {}, "because")


def test_exact_copies_link_shot_by_shot_and_rejected_pairs_not_at_all() -> None:
    relations = [MediaMatch(V, W, "exact", 0), MediaMatch(S, V, "still_in_video", 3)]
    frames = [FrameMatchRow(S, 0, V, 2, 3, "pdq")]
    links = scene_links(relations, frames, SHOTS, fold([]), confirmed_only=False)
    assert sorted(links) == [((S, 0), (V, 1)), ((V, 0), (W, 0)), ((V, 1), (W, 1))]
    rejected = fold([_decision(1, "match_reject", S, V)])
    assert ((S, 0), (V, 1)) not in scene_links(relations, frames, SHOTS, rejected, False)


def test_confirmed_only_keeps_what_a_reviewer_confirmed() -> None:
    relations = [MediaMatch(S, V, "still_in_video", 3)]
    frames = [FrameMatchRow(S, 0, V, 2, 3, "pdq")]
    assert scene_links(relations, frames, SHOTS, fold([]), confirmed_only=True) == []
    confirmed = fold([_decision(1, "match_confirm", S, V)])
    assert scene_links(relations, frames, SHOTS, confirmed, confirmed_only=True) == [
        ((S, 0), (V, 1))
    ]


def test_a_proposal_joins_no_scene_until_a_reviewer_confirms_it() -> None:
    frames = [FrameMatchRow(S, 0, V, 2, 30, "pdq")]
    for relation in ("candidate", "same_scene"):
        relations = [MediaMatch(S, V, relation, 30)]  # type: ignore[arg-type]
        assert scene_links(relations, frames, SHOTS, fold([]), confirmed_only=False) == []
        confirmed = fold([_decision(1, "match_confirm", S, V)])
        assert scene_links(relations, frames, SHOTS, confirmed, False) == [((S, 0), (V, 1))]


def _record(media: str, kind: str, duration: float | None) -> MediaRecord:
    return MediaRecord(media, "md5", 1, kind, "x", 8, 8, duration)  # type: ignore[arg-type]


def test_annotations_land_on_the_shot_at_their_time_and_bad_rows_are_errors() -> None:
    paths = {"inc/src/v.mp4": _record(V, "video", 4.0), "inc/src/s.jpg": _record(S, "image", None)}
    rows = [
        Annotation("src/v.mp4", 2.5, 7, "yard", "", 2),
        Annotation("src/s.jpg", None, 3, "gate", "", 3),
        Annotation("src/v.mp4", None, 1, "x", "", 4),
        Annotation("src/v.mp4", 9.0, 1, "x", "", 5),
        Annotation("src/s.jpg", 1.0, 1, "x", "", 6),
        Annotation("src/gone.jpg", None, 1, "x", "", 7),
    ]
    labelled, errors = resolve_annotations("inc", rows, paths, SHOTS, "a.csv")
    assert labelled == [LabelledCount("yard", (V, 1), 7), LabelledCount("gate", (S, 0), 3)]
    assert [e.split(":")[1] for e in errors] == ["4", "5", "6", "7"]
    assert "t_s (seconds) is required" in errors[0] and "past the end" in errors[1]


def test_a_repost_annotated_twice_is_one_scene_and_its_disjointness_a_contradiction() -> None:
    units = [(V, 0), (V, 1), (S, 0)]
    labelled = [LabelledCount("yard", (V, 1), 7), LabelledCount("repost", (S, 0), 5)]
    graph = build_scenes(units, [((S, 0), (V, 1))], labelled, [("yard", "repost", "r")], {})
    assert [(s.scene_id, s.count) for s in graph.scenes] == [("repost+yard", 7)]
    assert [(c.label_a, c.label_b) for c in graph.contradictions] == [("yard", "repost")]


def test_count_incident_solves_explains_and_certifies() -> None:
    units = [(V, 0), (V, 1), (S, 0)]
    labelled = [LabelledCount("yard", (V, 1), 7), LabelledCount("gate", (S, 0), 3)]
    disjoint = [("yard", "gate", "different towns")]
    graph = build_scenes(units, [], labelled, disjoint, {(V, 0): 2})
    counted = count_incident("inc", graph, graph, disjoint, SHOTS.first_frame, 10.0)
    assert counted.row["minimum_count"] == 10 and counted.row["clique_bound"] == 10
    assert counted.row["reviewed"] is False  # the detector's scene is unreviewed
    assert counted.row["explanation"] == (
        "At least 10 individuals: gate shows 3, yard shows 7; "
        "gate and yard cannot share anyone (different towns)."
    )
    assert [(r["scene_id"], r["weight"]) for r in counted.certificate] == [
        ("gate", "1"),
        ("yard", "1"),
    ]
    frames = {s["scene_id"]: s["frame"] for s in counted.details["scenes"]}
    assert frames["yard"] == {"media_id": V, "frame_index": 2, "thumb": "v2"}


def test_same_scene_captures_are_never_disjoint_their_minimum_is_the_larger_count() -> None:
    relations = [MediaMatch(S, V, "same_scene", 6)]
    frames = [FrameMatchRow(S, 0, V, 2, 6, "pdq")]
    links = scene_links(relations, frames, SHOTS, fold([]), confirmed_only=False)
    units = [(V, 0), (V, 1), (S, 0)]
    labelled = [LabelledCount("burst-1", (V, 1), 7), LabelledCount("burst-2", (S, 0), 5)]
    graph = build_scenes(units, links, labelled, [], {})
    counted = count_incident("inc", graph, graph, [], SHOTS.first_frame, 10.0)
    assert len(graph.scenes) == 2  # two captures stay two scenes (not one picture) ...
    assert counted.row["minimum_count"] == 7  # ... that may show the same people


def test_busiest_frame_is_the_first_frame_with_the_most_people() -> None:
    people = {(V, 0): 1, (V, 1): 3, (W, 0): 2, (W, 1): 2}
    proposals = busiest_frames(SHOTS, [(V, 0), (V, 1), (W, 0)], people)
    assert proposals[(V, 0)] == FrameProposal(3, 1, "v1")  # not its first frame
    assert proposals[(W, 0)] == FrameProposal(2, 0, "w0")
    assert (V, 1) not in proposals  # none of its frames was detected
