"""core/proposals: what the count stage detects and describes, and what it makes of the
cached answers, without files or models."""

from __future__ import annotations

import json

import numpy as np

from pipeline.core.proposals import (
    face_boxes,
    frames_to_describe,
    frames_to_detect,
    incident_faces,
    unit_proposals,
    units_frames,
)
from pipeline.core.records import Detection, FaceRow, StoredFrame
from pipeline.core.review import ReviewState
from pipeline.core.scenes import FrameProposal, ShotIndex
from pipeline.core.shots import SampledFrame

V, S = "v" * 64, "s" * 64


def _frame(media: str, index: int, pts: float | None, shot: int) -> StoredFrame:
    reason = "still" if pts is None else ("first" if index == 0 else "interval")
    return StoredFrame(media, SampledFrame(index, pts, shot, 0.0, reason), 8, 8, f"t{index}")


SHOTS = ShotIndex.build(
    [_frame(V, 0, 0.0, 0), _frame(V, 1, 1.0, 0), _frame(V, 2, 2.0, 1), _frame(S, 0, None, 0)]
)


def _boxes(*labels: str) -> str:
    return json.dumps(
        [
            {"label": label, "x": 10 * i, "y": 0, "width": 40, "height": 40, "score": 0.9}
            for i, label in enumerate(labels)
        ]
    )


def test_only_frames_not_yet_detected_are_detected_once_each() -> None:
    frames = units_frames(SHOTS, [(V, 0), (V, 1), (V, 0)])
    todo = frames_to_detect(frames, {(V, 1)})
    assert [(f.media_id, f.frame.frame_index) for f in todo] == [(V, 0), (V, 2)]


def test_nothing_to_detect_when_every_frame_is_cached() -> None:
    frames = units_frames(SHOTS, [(S, 0)])
    assert frames_to_detect(frames, {(S, 0)}) == []


def test_a_units_proposal_is_its_busiest_detected_frame_and_failed_frames_are_left_out() -> None:
    known = {
        (V, 0): Detection(1, _boxes("face")),
        (V, 1): Detection(3, _boxes("person", "person", "person")),
        (S, 0): Detection(2, _boxes("face", "face")),
    }  # (V, 2) failed: no detection
    proposals, seen = unit_proposals(SHOTS, [(V, 0), (V, 1)], known)
    assert proposals == {(V, 0): FrameProposal(3, 1, "t1")}
    assert set(seen) == {(V, 0), (V, 1)}  # the still is not one of these units


def test_frames_to_describe_are_those_with_faces_not_yet_described() -> None:
    detections = {
        (V, 0): Detection(1, _boxes("face")),
        (V, 1): Detection(2, _boxes("person", "person")),
        (V, 2): Detection(1, _boxes("face")),
        (S, 0): Detection(1, _boxes("face")),
    }
    thumbs = {(V, 0): "t0", (V, 1): "t1", (V, 2): "t2"}  # the still is not in the incident
    assert frames_to_describe(detections, {(V, 2)}, thumbs) == [(V, 0)]
    assert [b["label"] for b in face_boxes(detections[(V, 0)])] == ["face"]


def _vector(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    v = rng.normal(size=128).astype(np.float32)
    return (v / np.linalg.norm(v)).tobytes()


def test_incident_faces_group_close_faces_and_keep_far_ones_apart() -> None:
    near = np.frombuffer(_vector(1), dtype=np.float32) + np.float32(0.01)
    rows = [
        FaceRow(V, 0, 0, "{}", _vector(1)),
        FaceRow(V, 2, 0, "{}", near.astype(np.float32).tobytes()),
        FaceRow(V, 2, 1, "{}", _vector(2)),
        FaceRow(V, 1, 0, "{}", None),  # too small to describe: not a face of the model
        FaceRow(S, 0, 0, "{}", _vector(3)),  # another incident's frame
    ]
    faces = incident_faces(rows, SHOTS, {(V, 0), (V, 1), (V, 2)}, ReviewState(), 0.5, 0.6)
    assert sorted(faces.groups) == [(f"{V}#0#0", f"{V}#2#0"), (f"{V}#2#1",)]
    assert len(faces.distinct) == 1
    assert faces.unit_of[f"{V}#2#1"] == (V, 1)
    assert faces.confirmed_groups == ()  # nothing confirmed by a reviewer
