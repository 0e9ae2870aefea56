"""The count stage's per-frame work, as executor tasks (pipeline/executors.py): detect the
people and faces of one stored frame, describe the faces of one frame.

A task gets the thumbnail's JPEG bytes and the settings, never a path or the catalog, so a
Dask worker on another machine runs it as well as this process does; the driver stores each
result as it comes back. Detectors and describers are built once per worker process and
settings (loading CenterFace or dlib's models costs more than a frame).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from pipeline.core.records import FaceRow
from pipeline.io import thumbs
from pipeline.io.detectors import Box, Detector, DetectorSettings, make_detector, people_count
from pipeline.io.faces import DlibFaceDescriber, make_describer


@dataclass(frozen=True)
class DetectJob:
    """One stored frame to detect: its key, its thumbnail's bytes (b"" when the driver could
    not read it) and the detector's settings."""

    media_id: str
    frame_index: int
    thumb_sha256: str
    picture: bytes
    settings: DetectorSettings


@dataclass(frozen=True)
class DetectedFrame:
    """The boxes found on one frame (JSON, as the detections table stores them) and the
    people they show; error says why there are none when the thumbnail was unreadable."""

    media_id: str
    frame_index: int
    boxes_json: str
    people: int
    error: str = ""


@dataclass(frozen=True)
class DescriberSettings:
    """The count section's face-descriptor settings (paths empty: the packaged models)."""

    shape_model: str
    descriptor_model: str
    min_face_px: int


@dataclass(frozen=True)
class DescribeJob:
    """One frame whose face boxes (the detection's JSON) are to be described."""

    media_id: str
    frame_index: int
    thumb_sha256: str
    picture: bytes
    boxes_json: str
    settings: DescriberSettings


@dataclass(frozen=True)
class DescribedFrame:
    """One catalog row per face of the frame, or an error and no rows."""

    media_id: str
    frame_index: int
    rows: tuple[FaceRow, ...]
    error: str = ""


@lru_cache(maxsize=4)
def detector_for(settings: DetectorSettings) -> Detector | None:
    """The detector of these settings, built once per process."""
    return make_detector(settings)


@lru_cache(maxsize=2)
def describer_for(settings: DescriberSettings) -> DlibFaceDescriber:
    """The face describer of these settings, built once per process."""
    return make_describer(settings.shape_model, settings.descriptor_model, settings.min_face_px)


def detect_frame(job: DetectJob) -> DetectedFrame:
    """People and face boxes on one stored frame. Runs in a worker."""
    detector = detector_for(job.settings)
    try:
        picture = thumbs.decode(job.picture)
    except (OSError, ValueError) as exc:
        return DetectedFrame(
            job.media_id, job.frame_index, "", 0, thumbs.unreadable(job.thumb_sha256, exc)
        )
    boxes = detector.detect(picture) if detector is not None else []
    return DetectedFrame(
        job.media_id,
        job.frame_index,
        json.dumps([asdict(b) for b in boxes]),
        people_count(boxes),
    )


def describe_frame(job: DescribeJob) -> DescribedFrame:
    """A descriptor for each face box of one frame (None for a face too small to describe;
    face_index: the box's place among the frame's face boxes). Runs in a worker."""
    describer = describer_for(job.settings)
    try:
        picture = thumbs.decode(job.picture)
    except (OSError, ValueError) as exc:
        return DescribedFrame(
            job.media_id, job.frame_index, (), thumbs.unreadable(job.thumb_sha256, exc)
        )
    boxes = [Box(**b) for b in json.loads(job.boxes_json or "[]") if b["label"] == "face"]
    rows = []
    for index, box in enumerate(boxes):
        vector = describer.describe(picture, box)
        rows.append(
            FaceRow(
                job.media_id,
                job.frame_index,
                index,
                json.dumps(asdict(box)),
                None if vector is None else vector.astype(np.float32).tobytes(),
            )
        )
    return DescribedFrame(job.media_id, job.frame_index, tuple(rows))
