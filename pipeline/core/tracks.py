"""Following people within a shot: the detector's boxes linked across a shot's sampled frames
into tracks, so a reviewer sees each person once and counts with the machine.

Boxes of one label (person, face) are linked frame by frame by an optimal assignment
(scipy's linear_sum_assignment, the Hungarian method) between the open tracks and the new
frame's boxes. A track predicts where its box is next from its last two boxes (constant
velocity), so two people crossing keep their tracks; a link is allowed only when the
predicted and the found box are close (centre shift at most `max_shift` box sizes) and of
similar size, and, for a face when both it and the track's latest described face have a
descriptor, when the two are not far apart (at least `face_distinct_min` apart: two people,
never one track); faces that agree (at most `face_same_max` apart) may have moved twice as
far and are preferred. A track may miss
`max_gap_frames` sampled frames (a missed detection, a person hidden by another) and go on.

Tracks are a proposal for reviewers, never the machine's lower bound: a track that breaks
(a long occlusion, a missed detection more than the gap) becomes two tracks of one person,
so the number of tracks can overcount. The proven bound stays the most people seen at once
in one frame (docs/count.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from pipeline.core.records import Detection, FrameKey, TrackRow
from pipeline.core.scenes import ShotIndex, Unit

# Cost of a link that is not allowed: above any allowed link's cost, and finite because
# linear_sum_assignment refuses a matrix without any feasible complete assignment.
_FORBIDDEN = 1e6


@dataclass(frozen=True)
class TrackSettings:
    """How far a person may move and how long they may be missed between sampled frames."""

    max_gap_frames: int = 1
    max_shift: float = 0.6  # centre shift from the prediction, in box sizes (sqrt of area)
    max_size_ratio: float = 2.0  # sides of linked boxes differ at most this much
    face_same_max: float = 0.5  # faces this close agree: the link is preferred
    face_distinct_min: float = 0.6  # faces this far apart are two people: never linked

    @property
    def name(self) -> str:
        """The settings as they name stored tracks (with the detector's name)."""
        return (
            f"gap={self.max_gap_frames},shift={self.max_shift:g},size={self.max_size_ratio:g},"
            f"face={self.face_same_max:g}/{self.face_distinct_min:g}"
        )


@dataclass(frozen=True)
class TrackBox:
    """One detected box on one sampled frame; index: its place among the frame's boxes of
    the same label (for a face, the face_index of its face ref)."""

    frame_index: int
    index: int
    label: str
    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class Track:
    """One person (or one face) followed across a shot's sampled frames, in frame order."""

    label: str
    boxes: tuple[TrackBox, ...]

    @property
    def first_frame(self) -> int:
        return self.boxes[0].frame_index

    @property
    def last_frame(self) -> int:
        return self.boxes[-1].frame_index

    def shown(self) -> TrackBox:
        """The box a reviewer sees for the track: its largest (the clearest crop), the
        earliest of equals."""
        return max(self.boxes, key=lambda b: (b.width * b.height, -b.frame_index))


Descriptors = Mapping[tuple[int, int], np.ndarray]  # (frame_index, face index) -> descriptor
FaceVectors = Mapping[tuple[str, int, int], np.ndarray]  # (media_id, frame_index, face_index)


@dataclass
class _Open:
    boxes: list[TrackBox]
    positions: list[int]  # position of each box's frame among the shot's sampled frames
    descriptor: np.ndarray | None = None  # of the track's latest described face

    def add(self, box: TrackBox, position: int, descriptors: Descriptors) -> None:
        self.boxes.append(box)
        self.positions.append(position)
        found = _descriptor(box, descriptors)
        self.descriptor = found if found is not None else self.descriptor


def _descriptor(box: TrackBox, descriptors: Descriptors) -> np.ndarray | None:
    return descriptors.get((box.frame_index, box.index)) if box.label == "face" else None


def link_tracks(
    frames: Sequence[tuple[int, Sequence[TrackBox]]],
    settings: TrackSettings,
    descriptors: Descriptors | None = None,
) -> list[Track]:
    """The tracks of one shot. frames: (frame_index, boxes) for each sampled frame of the
    shot that was detected, in time order (a frame that was not detected is left out and
    so counts as no gap). Tracks come back ordered by first frame, then label and box."""
    tracks: list[_Open] = []
    for label in sorted({b.label for _, boxes in frames for b in boxes}):
        tracks += _link_label(frames, label, settings, descriptors or {})
    ordered = sorted(
        tracks, key=lambda t: (t.boxes[0].frame_index, t.boxes[0].label, t.boxes[0].index)
    )
    return [Track(t.boxes[0].label, tuple(t.boxes)) for t in ordered]


def _link_label(
    frames: Sequence[tuple[int, Sequence[TrackBox]]],
    label: str,
    settings: TrackSettings,
    descriptors: Descriptors,
) -> list[_Open]:
    tracks: list[_Open] = []
    for position, (_, boxes) in enumerate(frames):
        found = [b for b in boxes if b.label == label]
        alive = [t for t in tracks if position - t.positions[-1] <= settings.max_gap_frames + 1]
        cost = np.full((len(alive), len(found)), _FORBIDDEN)
        for i, track in enumerate(alive):
            for j, box in enumerate(found):
                cost[i, j] = _link_cost(track, position, box, settings, descriptors)
        linked: set[int] = set()
        if alive and found:
            for i, j in zip(*linear_sum_assignment(cost), strict=True):
                if cost[i, j] < _FORBIDDEN:
                    alive[i].add(found[j], position, descriptors)
                    linked.add(int(j))
        tracks += [
            _Open([b], [position], _descriptor(b, descriptors))
            for j, b in enumerate(found)
            if j not in linked
        ]
    return tracks


def _size(box: TrackBox) -> float:
    return math.sqrt(max(1, box.width * box.height))


def _centre(box: TrackBox) -> tuple[float, float]:
    return box.x + box.width / 2, box.y + box.height / 2


def _predicted_centre(track: _Open) -> tuple[float, float]:
    """Where the track's box is expected next: its last centre moved on by one frame at the
    velocity of its last two boxes (standing still with one box). Never further across a
    gap: people seen once a second turn and stop, and a walker extrapolated over a missed
    frame took a bystander's box on vtest.avi."""
    cx, cy = _centre(track.boxes[-1])
    if len(track.boxes) < 2:
        return cx, cy
    px, py = _centre(track.boxes[-2])
    steps = track.positions[-1] - track.positions[-2]
    return cx + (cx - px) / steps, cy + (cy - py) / steps


def _link_cost(
    track: _Open,
    position: int,
    box: TrackBox,
    settings: TrackSettings,
    descriptors: Descriptors,
) -> float:
    """The cost of continuing the track with the box, or _FORBIDDEN."""
    last = track.boxes[-1]
    ratio = max(box.width / max(1, last.width), last.width / max(1, box.width))
    ratio = max(ratio, box.height / max(1, last.height), last.height / max(1, box.height))
    if ratio > settings.max_size_ratio:
        return _FORBIDDEN
    px, py = _predicted_centre(track)
    bx, by = _centre(box)
    shift = math.hypot(bx - px, by - py) / ((_size(last) + _size(box)) / 2)
    allowed, bonus = settings.max_shift, 0.0
    a, b = track.descriptor, _descriptor(box, descriptors)
    if a is not None and b is not None:
        distance = float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))
        if distance >= settings.face_distinct_min:
            return _FORBIDDEN  # two people, however close their boxes
        if distance <= settings.face_same_max:
            # the same face: it may have moved further (across a gap, where the prediction
            # goes one frame only), and it is preferred over a closer box of someone else
            allowed, bonus = 2 * settings.max_shift, 0.5
    if shift > allowed:
        return _FORBIDDEN
    return shift + (position - track.positions[-1] - 1) * 0.1 - bonus  # prefer no gap


def shot_track_count(tracks: Sequence[Track]) -> int:
    """The tracks' proposal for a reviewer (track_count of their labels)."""
    return track_count([t.label for t in tracks])


def track_count(labels: Sequence[str]) -> int:
    """As people_count does for one frame: the larger of person tracks and face tracks (a
    face usually lies inside a person box). A proposal, never a bound: a broken track
    counts one person twice."""
    return max(labels.count("person"), labels.count("face"))


def track_id(media_id: str, shot_id: int, track_index: int) -> str:
    """How the report and the review app name a track: `<media 12 hex>#<shot>#t<index>`."""
    return f"{media_id[:12]}#{shot_id}#t{track_index}"


def frame_boxes(frame_index: int, boxes: Sequence[Mapping[str, Any]]) -> list[TrackBox]:
    """A frame's stored detector boxes as track boxes, numbered within each label in the
    stored order (so a face's index is the face_index of its face ref)."""
    seen: dict[str, int] = {}
    found = []
    for b in boxes:
        label = str(b["label"])
        index = seen.get(label, 0)
        seen[label] = index + 1
        found.append(
            TrackBox(
                frame_index,
                index,
                label,
                int(b["x"]),
                int(b["y"]),
                int(b["width"]),
                int(b["height"]),
            )
        )
    return found


def unit_tracks(
    shots: ShotIndex,
    units: Sequence[Unit],
    detections: Mapping[FrameKey, Detection],
    descriptors: FaceVectors,
    settings: TrackSettings,
) -> dict[Unit, list[Track]]:
    """Each unit's tracks over its detected frames (face descriptors by (media_id,
    frame_index, face_index), where described)."""
    tracked: dict[Unit, list[Track]] = {}
    for unit in units:
        frames = [
            (
                f.frame.frame_index,
                frame_boxes(f.frame.frame_index, json.loads(d.boxes_json or "[]")),
            )
            for f in shots.unit_frames(unit)
            if (d := detections.get((f.media_id, f.frame.frame_index))) is not None
        ]
        own = {
            (frame, face): v for (media, frame, face), v in descriptors.items() if media == unit[0]
        }
        tracked[unit] = link_tracks(frames, settings, own)
    return tracked


def track_rows(tracked: Mapping[Unit, Sequence[Track]]) -> dict[Unit, list[TrackRow]]:
    """Each unit's tracks as catalog rows: boxes as [frame_index, index, x, y, width,
    height] lists."""
    return {
        unit: [
            TrackRow(
                unit[0],
                unit[1],
                index,
                track.label,
                json.dumps(
                    [[b.frame_index, b.index, b.x, b.y, b.width, b.height] for b in track.boxes]
                ),
            )
            for index, track in enumerate(tracks)
        ]
        for unit, tracks in sorted(tracked.items())
    }
