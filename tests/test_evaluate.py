"""The dedupe scorer on small hand-made tables: what counts as found, wrong, and how far off."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.evaluate import (
    acceptance,
    category_of,
    conformance,
    families_markdown,
    family_acceptance,
    family_result,
    main,
    score,
)

# Paths as observations.csv shows them, and the media id each was ingested as.
MEDIA = {
    "eval/s1/photo.jpg": "m_photo",
    "eval/s2/photo_crop_center_10.jpg": "m_crop",
    "eval/s3/photo_copy.jpg": "m_photo",  # byte-identical: one media, two observations
    "eval/s1/video.mp4": "m_video",
    "eval/s2/video_trim.mp4": "m_trim",
    "eval/s3/video_grab.jpg": "m_grab",
    "eval/s1/mandelbrot_black_intro.mp4": "m_intro_a",
    "eval/s2/life_black_intro.mp4": "m_intro_b",
    "eval/s1/hubble_left.jpg": "m_left",
    "eval/s2/hubble_right.jpg": "m_right",
}
TRUTH_ROWS = [
    ("eval/s1/photo.jpg", "eval/s2/photo_crop_center_10.jpg", "near_duplicate", "crop_center_10"),
    ("eval/s1/photo.jpg", "eval/s3/photo_copy.jpg", "exact", "byte_identical"),
    (
        "eval/s2/photo_crop_center_10.jpg",
        "eval/s3/photo_copy.jpg",
        "near_duplicate",
        "repost+repost",
    ),
    ("eval/s1/video.mp4", "eval/s2/video_trim.mp4", "video_overlap", "trim", 2.0, 6.0, 0.0, 4.0),
    ("eval/s1/video.mp4", "eval/s3/video_grab.jpg", "still_in_video", "grab", 3.0, 3.0, None, None),
    ("eval/s2/video_trim.mp4", "eval/s3/video_grab.jpg", "still_in_video", "grab+trim", 1.0, 1.0),
    ("eval/s1/mandelbrot_black_intro.mp4", "eval/s2/life_black_intro.mp4", "none", "black_intro"),
    ("eval/s1/hubble_left.jpg", "eval/s2/hubble_right.jpg", "none", "sibling_crop"),
]
PERFECT = [
    ("m_photo", "m_crop", "near_duplicate", None, None, None, None),
    ("m_video", "m_trim", "video_overlap", 2.0, 6.0, 0.0, 4.0),
    ("m_grab", "m_video", "still_in_video", None, None, 3.0, 3.0),
    ("m_trim", "m_grab", "still_in_video", 1.0, 1.0, None, None),
]
CLUSTERS = {
    "m_photo": "c1",
    "m_crop": "c1",
    "m_video": "c2",
    "m_trim": "c2",
    "m_grab": "c2",
    "m_intro_a": "c3",
    "m_intro_b": "c4",
    "m_left": "c5",
    "m_right": "c6",
}
TIMES = ("a_start_s", "a_end_s", "b_start_s", "b_end_s")


def truth_frame() -> pd.DataFrame:
    rows = []
    for row in TRUTH_ROWS:
        times = (*row[4:], None, None, None, None)[:4]
        rows.append(
            dict(zip(("path_a", "path_b", "relation", "transform"), row[:4], strict=True))
            | dict(zip(TIMES, times, strict=True))
        )
    return pd.DataFrame(rows)


def observations_frame() -> pd.DataFrame:
    return pd.DataFrame({"path": list(MEDIA), "media_id": list(MEDIA.values())})


def matches_frame(rows: list[tuple[object, ...]]) -> pd.DataFrame:
    columns = ("media_a", "media_b", "relation", *TIMES)
    return pd.DataFrame([dict(zip(columns, row, strict=True)) for row in rows], columns=columns)


def clusters_frame(assignment: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({"media_id": list(assignment), "cluster_id": list(assignment.values())})


def run(rows: list[tuple[object, ...]], clusters: dict[str, str] | None = None):
    return score(
        truth_frame(),
        matches_frame(rows),
        observations_frame(),
        clusters_frame(clusters or CLUSTERS),
    )


def test_perfect_prediction_scores_one_and_meets_every_target() -> None:
    report = run(PERFECT)
    assert (report.overall.precision, report.overall.recall, report.overall.f1) == (1, 1, 1)
    assert report.clusters is not None and report.clusters.f1 == 1.0
    assert report.crop_recall.recall == 1.0
    assert acceptance(report) == []


def test_byte_identical_paths_are_one_media_not_a_pair() -> None:
    report = run(PERFECT)
    assert report.n_collapsed == 1
    assert report.overall.n_true == 4  # the copy's other row repeats photo ↔ crop


def test_missing_pair_lowers_recall_only() -> None:
    report = run(PERFECT[1:])
    assert report.overall.recall == pytest.approx(3 / 4)
    assert report.overall.precision == 1.0
    assert report.crop_recall.recall == 0.0
    assert [(e.path_a, e.label) for e in report.missed] == [("eval/s1/photo.jpg", "crop_center_10")]
    assert any("crops" in failure for failure in acceptance(report))


def test_wrong_link_lowers_precision_and_counts_as_hard_negative_link() -> None:
    wrong = ("m_intro_b", "m_intro_a", "video_overlap", 0.0, 1.6, 0.0, 1.6)
    report = run([*PERFECT, wrong])
    assert report.overall.precision == pytest.approx(4 / 5)
    assert report.overall.recall == 1.0
    linked = {h.kind: h.n_linked for h in report.hard_negatives}
    assert linked == {"black_intro": 1, "sibling_crop": 0}
    assert report.wrong[0].label == "video_overlap (black_intro)"
    assert any("black/uniform" in failure for failure in acceptance(report))


def test_interval_error_is_measured_per_side_in_the_truth_orientation() -> None:
    # Reported the other way round (trim first): a 1.5 s late start on the original's side.
    trim = ("m_trim", "m_video", "video_overlap", 0.0, 4.0, 3.5, 6.0)
    report = run([PERFECT[0], trim, *PERFECT[2:]])
    errors = {(e.relation, e.side, e.bound): e.max_s for e in report.intervals}
    assert errors[("video_overlap", "a", "start")] == pytest.approx(1.5)
    assert errors[("video_overlap", "a", "end")] == 0.0
    assert errors[("video_overlap", "b", "start")] == 0.0
    assert errors[("still_in_video", "video", "start")] == 0.0
    assert report.source_links[0].max_error_s == pytest.approx(1.5)
    assert acceptance(report) == []  # within 2 s


def test_interval_beyond_two_seconds_or_missing_fails_the_source_link_target() -> None:
    late = ("m_video", "m_trim", "video_overlap", 4.5, 8.5, 0.0, 4.0)
    untimed = ("m_video", "m_trim", "near_duplicate", None, None, None, None)
    for trim in (late, untimed):
        report = run([PERFECT[0], trim, *PERFECT[2:]])
        assert not report.source_links[0].ok()
        assert any("trim and compilation" in failure for failure in acceptance(report))


def test_closest_of_several_rows_for_one_pair_is_scored() -> None:
    far = ("m_video", "m_trim", "video_overlap", 0.0, 1.0, 7.0, 8.0)
    report = run([PERFECT[0], far, PERFECT[1], *PERFECT[2:]])
    assert report.source_links[0].max_error_s == 0.0
    assert report.overall.n_predicted == 4


def test_per_relation_recall_uses_true_relation_and_precision_the_predicted_one() -> None:
    # The trim reported as a near-duplicate: found overall, but not with its relation.
    as_still = ("m_video", "m_trim", "near_duplicate", None, None, None, None)
    report = run([PERFECT[0], as_still, *PERFECT[2:]])
    by_relation = {s.label: s for s in report.per_relation}
    assert by_relation["video_overlap"].recall == 1.0
    assert by_relation["video_overlap"].n_same_relation == 0
    assert by_relation["video_overlap"].precision is None  # nothing predicted as an overlap
    assert by_relation["near_duplicate"].n_predicted == 2
    assert by_relation["near_duplicate"].precision == 1.0


def test_recall_per_transform_counts_transitive_rows_separately() -> None:
    report = run([PERFECT[0], PERFECT[1], PERFECT[2]])
    recall = {t.transform: t.recall for t in report.per_transform}
    assert recall == {"crop_center_10": 1.0, "trim": 1.0, "grab": 1.0, "grab+trim": 0.0}


def test_cluster_merging_a_hard_negative_lowers_cluster_precision() -> None:
    merged = CLUSTERS | {"m_right": "c5"}
    report = run(PERFECT, merged)
    assert report.clusters is not None
    assert report.clusters.recall == 1.0
    assert report.clusters.precision == pytest.approx(4 / 5)
    co = {h.kind: h.n_co_clustered for h in report.hard_negatives}
    assert co == {"black_intro": 0, "sibling_crop": 1}


def test_truth_file_missing_from_observations_counts_as_missed() -> None:
    observations = observations_frame()
    observations = observations[observations["path"] != "eval/s3/video_grab.jpg"]
    report = score(truth_frame(), matches_frame(PERFECT[:2]), observations, None)
    assert report.unmapped_paths == ("eval/s3/video_grab.jpg",)
    assert report.overall.recall == pytest.approx(2 / 4)
    assert report.clusters is None


def test_markdown_lists_scores_transforms_and_failures() -> None:
    text = run(PERFECT[1:]).to_markdown()
    assert "| overall | 4 | 3 | 3 | 3 | 1.000 | 0.750 | 0.857 | 3 |" in text
    assert "| crop_center_10 | near_duplicate | 1 | 0 | 0.000 |" in text
    assert "FAILED: recall >= 0.9 on 5–25% crops" in text


def write_collection(data_dir: Path, with_matches: bool = True) -> None:
    processed = data_dir / "processed"
    processed.mkdir(parents=True)
    truth_frame().to_csv(data_dir / "eval_truth.csv", index=False)
    observations_frame().to_csv(processed / "observations.csv", index=False)
    clusters_frame(CLUSTERS).to_csv(processed / "clusters.csv", index=False)
    if with_matches:
        matches_frame(PERFECT).to_csv(processed / "matches.csv", index=False)


def test_main_prints_the_report_and_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_collection(tmp_path)
    assert main(["--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Dedupe evaluation")
    assert "- all targets met" in out


def test_main_exits_nonzero_when_a_file_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_collection(tmp_path, with_matches=False)
    assert main(["--data-dir", str(tmp_path)]) == 2
    assert "matches.csv" in capsys.readouterr().err


# --- per family (issue 15): relation graph, categories, hard-negative sets, headline ---


def test_relation_graph_joins_a_copy_through_a_chain_of_links() -> None:
    # No row between the video and its grab, but both are linked to the trim.
    report = run([PERFECT[0], PERFECT[1], PERFECT[3]])
    assert report.overall.recall == pytest.approx(3 / 4)
    assert report.relation_graph is not None
    assert (report.relation_graph.precision, report.relation_graph.recall) == (1.0, 1.0)
    grab = {c.category: c for c in report.categories}["grab"]
    assert (grab.n_copies, grab.n_joined, grab.n_direct) == (1, 1, 0)


def test_categories_come_from_the_transform_when_the_truth_has_no_column() -> None:
    report = run(PERFECT)
    assert {c.category: c.recall for c in report.categories} == {
        "crop": 1.0,
        "grab": 1.0,
        "trim": 1.0,
    }


@pytest.mark.parametrize(
    ("transform", "category"),
    [
        ("crop_center_10", "crop"),
        ("mirror+resize_50", "chain"),
        ("resize_40", "scale"),
        ("letterbox_black", "pad"),
        ("black_intro_reupload", "intro_reupload"),
        ("grab_resized_50", "grab"),
        ("reupload_crf38_426x240", "reupload"),
    ],
)
def test_category_of_a_transform(transform: str, category: str) -> None:
    assert category_of(transform) == category


def test_truth_category_column_names_the_category() -> None:
    truth = truth_frame()
    truth["category"] = ["screenshot_web", "", "", "", "", "", "", ""]
    report = score(truth, matches_frame(PERFECT), observations_frame(), None)
    assert [c.category for c in report.categories] == ["screenshot_web"]


def test_false_links_that_join_two_hard_negatives_through_a_third_media_merge_the_set() -> None:
    # Each half of the sibling pair linked to one side of the photo's pair: never to each
    # other, but one component of the relation graph.
    wrong = [
        ("m_left", "m_crop", "near_duplicate", None, None, None, None),
        ("m_right", "m_photo", "near_duplicate", None, None, None, None),
    ]
    report = run([*PERFECT, *wrong])
    sibling = {h.kind: h for h in report.hard_negatives}["sibling_crop"]
    assert (sibling.n_linked, sibling.n_graph_merged, sibling.merged) == (0, 1, True)
    assert report.relation_graph is not None
    # Predicted components: {photo, crop, left, right} (6 pairs) and the video's (3 pairs).
    assert report.relation_graph.precision == pytest.approx(4 / 9)
    failed = family_acceptance(report)
    assert any("sibling_crop" in f for f in failed)
    assert any("relation graph precision" in f for f in failed)


def test_a_proposal_relation_is_not_a_link() -> None:
    proposal = ("m_intro_a", "m_intro_b", "same_scene", None, None, None, None)
    report = run([*PERFECT, proposal])
    assert report.overall.precision == 1.0
    assert report.n_proposals == 1
    intro = {h.kind: h for h in report.hard_negatives}["black_intro"]
    assert (intro.n_linked, intro.n_proposed, intro.merged) == (0, 1, False)
    assert family_acceptance(report) == []


def test_family_targets_want_intervals_within_one_second() -> None:
    late = ("m_trim", "m_video", "video_overlap", 0.0, 4.0, 3.5, 6.0)  # 1.5 s off
    report = run([PERFECT[0], late, *PERFECT[2:]])
    assert acceptance(report) == []
    assert [f for f in family_acceptance(report) if "within 1 s" in f]


def test_conformance_wants_every_required_copy_joined_and_unrelated_files_alone() -> None:
    assert conformance(run(PERFECT), ("crop", "trim")) == []
    assert conformance(run(PERFECT[1:]), ("crop", "trim")) == [
        "crop: 0 of 1 joined to the original"
    ]
    truth = truth_frame()
    truth.loc[truth["transform"] == "sibling_crop", "transform"] = "unrelated"
    linked = ("m_left", "m_right", "near_duplicate", None, None, None, None)
    report = score(truth, matches_frame([*PERFECT, linked]), observations_frame(), None)
    assert conformance(report, ("crop",)) == ["unrelated: 1 pairs linked, 1 in one component"]


def test_headline_is_the_worst_family() -> None:
    wrong = ("m_intro_b", "m_intro_a", "video_overlap", 0.0, 1.6, 0.0, 1.6)
    good = family_result("own", run(PERFECT))
    bad = family_result("independent", run([*PERFECT, wrong]))
    text = families_markdown([good, bad])
    assert "**Headline (worst family: independent)**" in text
    assert "| own | 9 | 1.000 | 1.000 | 1.000 |" in text
    assert "## Family `independent`" in text
    assert "| black_intro | 1 | 1 | 1 | 0 | 0 | **yes** |" in text


def test_main_scores_every_family_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_collection(tmp_path / "one")
    write_collection(tmp_path / "two")
    assert main(["--family", f"a={tmp_path / 'one'}", "--family", f"b={tmp_path / 'two'}"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Dedupe evaluation, every family")
    assert "## Family `a`" in out and "## Family `b`" in out
    with pytest.raises(SystemExit):
        main(["--family", "no-folder"])
