"""core/tracks: boxes linked across a shot's sampled frames, without files or models."""

from __future__ import annotations

import json

import numpy as np

from pipeline.core.records import Detection, StoredFrame
from pipeline.core.scenes import ShotIndex
from pipeline.core.shots import SampledFrame
from pipeline.core.tracks import (
    TrackBox,
    TrackSettings,
    frame_boxes,
    link_tracks,
    shot_track_count,
    track_id,
    track_rows,
    unit_tracks,
)

SETTINGS = TrackSettings()


def box(
    frame: int, index: int, x: int, y: int = 50, size: int = 40, label: str = "person"
) -> TrackBox:
    return TrackBox(frame, index, label, x, y, size, size)


def xs(track_boxes: tuple[TrackBox, ...]) -> list[int]:
    return [b.x for b in track_boxes]


def test_two_walkers_crossing_keep_their_tracks() -> None:
    """One walks right and one left at 20 px a frame (half a box) on one line, passing each
    other between frames 2 and 3: from where each was last seen the other's new box is
    nearer, so only each track's velocity tells them apart."""
    frames = [(f, [box(f, 0, 44 + 20 * f), box(f, 1, 156 - 20 * f)]) for f in range(7)]
    tracks = link_tracks(frames, SETTINGS)
    assert len(tracks) == 2
    for track in tracks:
        steps = np.diff(xs(track.boxes))
        assert (steps > 0).all() or (steps < 0).all()
        assert (track.first_frame, track.last_frame) == (0, 6)


def test_assignment_is_optimal_not_greedy() -> None:
    """Track A could take box a (its nearest) or b; track B only a. A greedy choice gives
    A box a and ends B; the assignment links both."""
    frames = [
        (0, [box(0, 0, 100), box(0, 1, 120)]),  # A at 100, B at 120
        (1, [box(1, 0, 108), box(1, 1, 86)]),  # a at 108 (A +8, B -12), b at 86 (A -14)
    ]
    tracks = link_tracks(frames, TrackSettings(max_shift=0.4))
    assert sorted(xs(t.boxes) for t in tracks) == [[100, 86], [120, 108]]


def test_a_person_missed_in_one_frame_keeps_the_track_two_frames_break_it() -> None:
    one_gap = [(0, [box(0, 0, 100)]), (1, []), (2, [box(2, 0, 104)])]
    assert [xs(t.boxes) for t in link_tracks(one_gap, SETTINGS)] == [[100, 104]]
    two_gaps = [(0, [box(0, 0, 100)]), (1, []), (2, []), (3, [box(3, 0, 104)])]
    assert len(link_tracks(two_gaps, SETTINGS)) == 2  # a break: two tracks of one person


def test_boxes_too_far_or_of_another_size_start_new_tracks() -> None:
    far = [(0, [box(0, 0, 100)]), (1, [box(1, 0, 130)])]  # 0.75 box sizes away
    assert len(link_tracks(far, SETTINGS)) == 2
    bigger = [(0, [box(0, 0, 100, size=40)]), (1, [box(1, 0, 100, size=90)])]
    assert len(link_tracks(bigger, SETTINGS)) == 2


def test_labels_are_tracked_apart() -> None:
    frames = [(f, [box(f, 0, 100), box(f, 0, 100, label="face")]) for f in range(3)]
    tracks = link_tracks(frames, SETTINGS)
    assert sorted(t.label for t in tracks) == ["face", "person"]
    assert shot_track_count(tracks) == 1


def _unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


def test_faces_far_apart_are_never_one_track_however_close_the_boxes() -> None:
    frames = [(0, [box(0, 0, 100, label="face")]), (1, [box(1, 0, 102, label="face")])]
    different = {(0, 0): _unit(1), (1, 0): _unit(2)}  # ~1.4 apart
    assert len(link_tracks(frames, SETTINGS, different)) == 2
    same = {(0, 0): _unit(1), (1, 0): _unit(1)}
    assert len(link_tracks(frames, SETTINGS, same)) == 1


def test_agreeing_faces_may_move_further_than_boxes_alone() -> None:
    """1 box size in one frame: too far for an undescribed box, not for the same face."""
    frames = [(0, [box(0, 0, 100, label="face")]), (1, [box(1, 0, 140, label="face")])]
    assert len(link_tracks(frames, SETTINGS)) == 2
    same = {(0, 0): _unit(1), (1, 0): _unit(1)}
    assert len(link_tracks(frames, SETTINGS, same)) == 1


def _stored(index: int) -> StoredFrame:
    return StoredFrame("m" * 64, SampledFrame(index, float(index), 0, 0.0, "interval"), 8, 8, "t")


def test_unit_tracks_read_stored_detections_and_become_catalog_rows() -> None:
    shots = ShotIndex.build([_stored(i) for i in range(3)])
    stored = [
        {"label": "person", "x": 10 + 5 * i, "y": 0, "width": 20, "height": 40, "score": 3}
        for i in range(3)
    ]
    detections = {("m" * 64, i): Detection(1, json.dumps([stored[i]])) for i in (0, 2)}
    tracked = unit_tracks(shots, [("m" * 64, 0)], detections, {}, SETTINGS)
    ((unit, rows),) = track_rows(tracked).items()
    (row,) = rows
    assert unit == ("m" * 64, 0) and row.label == "person"
    assert json.loads(row.boxes_json) == [[0, 0, 10, 0, 20, 40], [2, 0, 20, 0, 20, 40]]
    assert track_id(row.media_id, row.shot_id, row.track_index) == "mmmmmmmmmmmm#0#t0"


def test_frame_boxes_number_faces_as_their_face_refs() -> None:
    stored = [
        {"label": label, "x": 0, "y": 0, "width": 1, "height": 1, "score": 1}
        for label in ("face", "person", "face")
    ]
    assert [(b.label, b.index) for b in frame_boxes(4, stored)] == [
        ("face", 0),
        ("person", 0),
        ("face", 1),
    ]
