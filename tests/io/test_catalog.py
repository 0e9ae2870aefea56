"""io/catalog: typed rows in and out (never sqlite3.Row or positional tuples), and the
rules the catalog keeps for repeated rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.core import alignment
from pipeline.core.records import (
    Detection,
    FaceRow,
    FeatureRow,
    FrameMatchRow,
    FrameRef,
    FrameState,
    HashedFrame,
    HashRow,
    IndexEntry,
    MediaRecord,
    StoredBox,
    StoredFrame,
    TrackRow,
)
from pipeline.core.shots import SampledFrame
from pipeline.io.catalog import Catalog, DerivedState


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog(tmp_path / "catalog.sqlite") as opened:
        with opened.transaction():
            opened.put_media(MediaRecord("m1", "md5", 10, "video", "mp4", 64, 48, 2.0))
            frames = [
                StoredFrame("m1", SampledFrame(0, 0.0, 0, 0.0, "first"), 64, 48, "t0"),
                StoredFrame("m1", SampledFrame(1, 1.5, 1, 0.7, "shot_change"), 64, 48, "t1"),
            ]
            opened.replace_frames(FrameState("m1", "fp", 2), frames, ["ffmpeg"])
        yield opened


def _hash_row(frame_index: int, uniform: bool) -> HashRow:
    return HashRow(
        "m1", frame_index, "hp", bytes(range(32)), bytes(32), 87, bytes(8), bytes(8), 1, 2, 60, 40,
        uniform, 12.5,
    )  # fmt: skip


def test_frames_without_hashes_are_typed_refs(catalog: Catalog) -> None:
    assert catalog.frames_without_hashes("hp") == [
        FrameRef("m1", 0, "t0", "first"),
        FrameRef("m1", 1, "t1", "shot_change"),
    ]


def test_hash_rows_come_back_as_stored_with_time_and_shot(catalog: Catalog) -> None:
    rows = [_hash_row(0, False), _hash_row(1, True)]
    with catalog.transaction():
        catalog.put_hash_rows(rows)
    assert catalog.hash_rows() == [HashedFrame(rows[0], 0.0, 0), HashedFrame(rows[1], 1.5, 1)]
    assert catalog.hashes() == rows
    assert catalog.frames_without_hashes("hp") == []
    assert catalog.frames_without_hashes("other params") != []


def test_a_frame_match_found_again_keeps_its_method_and_smaller_distance(
    catalog: Catalog,
) -> None:
    first = [FrameMatchRow("a", 0, "b", 1, 20, "pdq")]
    again = [FrameMatchRow("a", 0, "b", 1, 7, "keypoints"), FrameMatchRow("a", 2, "b", 3, 9, "pdq")]
    with catalog.transaction():
        catalog.add_frame_matches(first)
    with catalog.transaction():
        catalog.add_frame_matches(again)
    stored = catalog.frame_matches()
    assert stored == [
        FrameMatchRow("a", 0, "b", 1, 7, "pdq"),
        FrameMatchRow("a", 2, "b", 3, 9, "pdq"),
    ]
    assert stored == alignment.merge_frame_matches(first, again)  # the in-memory rule agrees


def test_a_frame_matchs_evidence_comes_back_as_stored(catalog: Catalog) -> None:
    checked = FrameMatchRow("a", 0, "b", 1, 90, "keypoints", 41, 0.38, 0.97, 0.981)
    with catalog.transaction():
        catalog.add_frame_matches([checked, FrameMatchRow("a", 2, "b", 3, 9, "pdq")])
    assert catalog.frame_matches() == [checked, FrameMatchRow("a", 2, "b", 3, 9, "pdq")]


def test_index_entries_and_reset(catalog: Catalog) -> None:
    entries = [IndexEntry(0, "m1", 0, "dp"), IndexEntry(1, "m1", 1, "dp")]
    with catalog.transaction():
        catalog.add_index_entries(entries)
        catalog.put_feature_rows([FeatureRow("m1", 0, "hp", b"p", b"d")])
        catalog.mark_features_searched([("m1", 0)], "dp")
        catalog.add_frame_matches([FrameMatchRow("a", 0, "b", 1, 3, "pdq")])
    assert catalog.index_entries() == entries
    assert catalog.feature_rows() == [FeatureRow("m1", 0, "hp", b"p", b"d", "dp")]
    with catalog.transaction():
        catalog.reset_index()
    assert catalog.index_entries() == [] and catalog.frame_matches() == []
    assert catalog.feature_rows()[0].searched_params == ""


def test_detections_and_derived_state_are_records(catalog: Catalog) -> None:
    with catalog.transaction():
        catalog.put_detection("m1", 0, "hog", "[]", 3)
        catalog.put_derived_state("count", "key", {"counts.csv": "abc"})
    assert catalog.detections("hog") == {("m1", 0): Detection(3, "[]")}
    assert catalog.detections("other") == {}
    assert catalog.derived_state("count") == DerivedState("key", {"counts.csv": "abc"})
    assert catalog.derived_state("dedupe") is None


def test_stored_boxes_come_back_as_records_first_detector_by_name(catalog: Catalog) -> None:
    person = '[{"label": "person", "x": 1, "y": 2, "width": 30, "height": 60, "score": 2.0}]'
    face = '{"label": "face", "x": 5, "y": 6, "width": 20, "height": 22, "score": 0.9}'
    with catalog.transaction():
        catalog.put_detection("m1", 0, "zz-later", "[]", 0)
        catalog.put_detection("m1", 0, "centerface", person, 1)
        catalog.put_faces("dlib", [FaceRow("m1", 0, 0, face, None)])
    assert catalog.detection_boxes() == {("m1", 0): [StoredBox("person", 1, 2, 30, 60)]}
    assert catalog.face_boxes() == {"m1#0#0": StoredBox("face", 5, 6, 20, 22)}


def test_a_shots_tracks_are_replaced_and_an_unchanged_rerun_writes_nothing(
    catalog: Catalog,
) -> None:
    first = [TrackRow("m1", 0, 0, "person", "[[0, 0, 1, 2, 3, 4]]")]
    with catalog.transaction():
        catalog.put_tracks("det|gap=1", ("m1", 0), first)
    before = catalog.generations()["tracks"]
    with catalog.transaction():
        catalog.put_tracks("det|gap=1", ("m1", 0), first)
    assert catalog.generations()["tracks"] == before  # nothing written
    second = [
        TrackRow("m1", 0, 0, "person", "[[0, 0, 1, 2, 3, 4]]"),
        TrackRow("m1", 0, 1, "face", "[[0, 0, 2, 2, 2, 2]]"),
    ]
    with catalog.transaction():
        catalog.put_tracks("det|gap=2", ("m1", 0), second)  # other settings: one set per shot
        catalog.put_tracks("det|gap=2", ("m1", 1), [])
    assert catalog.tracks() == second


def test_a_scene_match_found_again_as_the_same_picture_is_the_same_picture(
    catalog: Catalog,
) -> None:
    scene = [FrameMatchRow("a", 0, "b", 1, 80, "scene", 90, 0.9, 0.9, 0.8)]
    again = [FrameMatchRow("a", 0, "b", 1, 82, "keypoints", 120, 0.95, 0.95, 0.99)]
    with catalog.transaction():
        catalog.add_frame_matches(scene)
    with catalog.transaction():
        catalog.add_frame_matches(again)
    expected = [FrameMatchRow("a", 0, "b", 1, 80, "keypoints", 120, 0.95, 0.95, 0.99)]
    assert catalog.frame_matches() == expected
    assert alignment.merge_frame_matches(scene, again) == expected
