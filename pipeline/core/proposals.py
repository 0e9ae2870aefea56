"""What the count stage asks the detector and the face describer to do, and what it makes of
their answers: pure functions over stored frames and cached results.

The stage (pipeline/stages/count.py) selects the frames still to detect and the frames
whose faces are still to describe, hands them to the run's executor as per-frame tasks
(pipeline/io/count_tasks.py), stores each answer on the driver as it comes back, and then
assembles a unit's proposal (its busiest frame) and the incident's faces here.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence

import numpy as np

from pipeline.core.faces import (
    Face,
    distinct_identities,
    identities,
    propose_relations,
    reviewed_relations,
)
from pipeline.core.records import Detection, FaceRow, FrameKey, StoredFrame
from pipeline.core.review import ReviewState, face_ref
from pipeline.core.scenes import FaceInput, FrameProposal, ShotIndex, Unit, busiest_frames


def units_frames(shots: ShotIndex, units: Iterable[Unit]) -> list[StoredFrame]:
    """Every stored frame of the units, unit by unit in frame order."""
    return [f for unit in units for f in shots.unit_frames(unit)]


def frames_to_detect(
    frames: Sequence[StoredFrame], known: Collection[FrameKey]
) -> list[StoredFrame]:
    """The frames whose detection is not cached yet (once each, in the order given):
    detection runs once per stored frame and detector setting."""
    todo: dict[FrameKey, StoredFrame] = {}
    for f in frames:
        key = (f.media_id, f.frame.frame_index)
        if key not in known:
            todo.setdefault(key, f)
    return list(todo.values())


def unit_proposals(
    shots: ShotIndex,
    units: Sequence[Unit],
    known: Mapping[FrameKey, Detection],
) -> tuple[dict[Unit, FrameProposal], dict[FrameKey, Detection]]:
    """Each unit's busiest detected frame, and the detections of the units' frames (a frame
    whose detection failed has none: the unit's proposal comes from its other frames, still
    a proven lower bound)."""
    seen = {
        (f.media_id, f.frame.frame_index): known[(f.media_id, f.frame.frame_index)]
        for f in units_frames(shots, units)
        if (f.media_id, f.frame.frame_index) in known
    }
    people = {key: detection.people for key, detection in seen.items()}
    return busiest_frames(shots, units, people), seen


def face_boxes(detection: Detection) -> list[dict[str, object]]:
    """The face boxes of one frame's detection, as stored (JSON objects)."""
    boxes: list[dict[str, object]] = json.loads(detection.boxes_json or "[]")
    return [b for b in boxes if b.get("label") == "face"]


def frames_to_describe(
    detections: Mapping[FrameKey, Detection],
    described: Collection[FrameKey],
    thumbs_of: Mapping[FrameKey, str],
) -> list[FrameKey]:
    """Frames with a detected face whose faces this describer has not described yet, sorted:
    every face is described once per describer."""
    return [
        key
        for key, detection in sorted(detections.items())
        if key not in described and key in thumbs_of and face_boxes(detection)
    ]


def incident_faces(
    rows: Sequence[FaceRow],
    shots: ShotIndex,
    frames: Collection[FrameKey],
    review: ReviewState,
    same_max: float,
    distinct_min: float,
) -> FaceInput:
    """The incident's described faces (those of its frames) as identities and distinct sets,
    with every machine proposal and with reviewers' confirmations only (core/faces)."""
    faces = [
        Face(
            face_ref(r.media_id, r.frame_index, r.face_index),
            r.media_id,
            r.frame_index,
            np.frombuffer(r.descriptor, dtype=np.float32),
        )
        for r in rows
        if r.descriptor is not None and (r.media_id, r.frame_index) in frames
    ]
    proposed = propose_relations(faces, same_max, distinct_min)
    full = reviewed_relations(proposed, review, confirmed_only=False)
    strict = reviewed_relations(proposed, review, confirmed_only=True)
    groups = identities([f.ref for f in faces], full)
    strict_refs = sorted({r for key in (strict.same | strict.distinct) for r in key})
    strict_groups = identities(strict_refs, strict)
    unit_of = {f.ref: (f.media_id, shots.shot_of_frame(f.media_id, f.frame_index)) for f in faces}
    return FaceInput(
        tuple(groups),
        tuple(distinct_identities(groups, full)),
        tuple(strict_groups),
        tuple(distinct_identities(strict_groups, strict)),
        unit_of,
    )


def face_descriptors(
    rows: Sequence[FaceRow], frames: Collection[FrameKey]
) -> dict[tuple[str, int, int], np.ndarray]:
    """The described faces of these frames by (media_id, frame_index, face_index), for the
    tracker's face agreement."""
    return {
        (r.media_id, r.frame_index, r.face_index): np.frombuffer(r.descriptor, dtype=np.float32)
        for r in rows
        if r.descriptor is not None and (r.media_id, r.frame_index) in frames
    }
