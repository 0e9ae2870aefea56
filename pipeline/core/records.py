"""Records that cross module lines. Media are named by the SHA-256 hex of their bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.core.shots import SampledFrame

MediaKind = Literal["image", "video"]


@dataclass(frozen=True)
class MediaRecord:
    """One distinct content (one SHA-256), however many times and places it was seen."""

    media_id: str
    md5: str
    size_bytes: int
    kind: MediaKind
    format: str
    width: int | None
    height: int | None
    duration_s: float | None
    derived: dict[str, Any] = field(default_factory=dict)
    raw_metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Observation:
    """One file in the raw tree: where a media was seen, and what its sidecar says of it."""

    path: str
    media_id: str
    incident: str
    source: str
    posted_at: str = ""
    url: str = ""
    account: str = ""
    provenance_origin: str = ""


@dataclass(frozen=True)
class Reject:
    """An input that could not be used, and why, in words an analyst can act on."""

    path: str
    reason: str
    sha256: str = ""


# --- catalog rows: what io/catalog.py hands out and takes in (never sqlite3.Row or tuples) --

FrameKey = tuple[str, int]  # (media_id, frame_index)


@dataclass(frozen=True)
class FrameRef:
    """A stored frame still to be hashed: its thumbnail and why it was sampled."""

    media_id: str
    frame_index: int
    thumb_sha256: str
    reason: str


@dataclass(frozen=True)
class HashRow:
    """One row of the hashes table: a frame's PDQ and pHash (32 and 8 bytes), each also of
    its mirror image, PDQ's quality (0-100), the trimmed box in pixels, and whether the frame
    is uniform (blank, black: never matched)."""

    media_id: str
    frame_index: int
    params_hash: str
    pdq: bytes
    pdq_mirror: bytes
    pdq_quality: int
    phash: bytes
    phash_mirror: bytes
    box_left: int
    box_top: int
    box_right: int
    box_bottom: int
    uniform: bool
    grey_std: float

    @property
    def key(self) -> FrameKey:
        return (self.media_id, self.frame_index)


@dataclass(frozen=True)
class HashedFrame:
    """A hash row with its frame's time (None for a still) and shot."""

    hashes: HashRow
    pts_s: float | None
    shot_id: int


@dataclass(frozen=True)
class FeatureRow:
    """A frame's SIFT keypoints and descriptors (core/keypoints.Features.to_bytes), and the
    dedupe parameters they were last searched under ('' when not yet searched)."""

    media_id: str
    frame_index: int
    params_hash: str
    points: bytes
    descriptors: bytes
    searched_params: str = ""

    @property
    def key(self) -> FrameKey:
        return (self.media_id, self.frame_index)


@dataclass(frozen=True)
class IndexEntry:
    """A frame in the dedupe Hamming index: entry_id is its id in the index files."""

    entry_id: int
    media_id: str
    frame_index: int
    params_hash: str

    @property
    def key(self) -> FrameKey:
        return (self.media_id, self.frame_index)


@dataclass(frozen=True)
class FrameMatchRow:
    """Two frames of different media that show the same picture (media_a < media_b):
    PDQ distance in bits, what decided it (`pdq` or `keypoints`) and, where keypoints or
    pixels were checked, the evidence: inliers, how much of each picture the matched region
    covers, and the fraction of content blocks that agree after the warp (None: not
    measured, a plain PDQ match)."""

    media_a: str
    frame_a: int
    media_b: str
    frame_b: int
    distance: int
    method: str
    inliers: int | None = None
    coverage_a: float | None = None
    coverage_b: float | None = None
    agreement: float | None = None


@dataclass(frozen=True)
class Detection:
    """A detector's proposal on one frame: people counted and the boxes (JSON)."""

    people: int
    boxes_json: str


@dataclass(frozen=True)
class FrameState:
    """Which sampling parameters a media's frames were made with, and what went wrong."""

    media_id: str
    params_hash: str
    frames: int
    error: str = ""


@dataclass(frozen=True)
class FaceRow:
    """One face box of one stored frame and its descriptor (float32 bytes; None when the
    face was too small to describe)."""

    media_id: str
    frame_index: int
    face_index: int
    box_json: str
    descriptor: bytes | None


@dataclass(frozen=True)
class StoredBox:
    """A detector's box as the catalog keeps it (a detection's or a face's JSON), for drawing:
    where it is, not how sure the detector was."""

    label: str  # person | face
    x: int
    y: int
    width: int
    height: int

    @classmethod
    def from_json(cls, value: dict[str, Any], label: str = "") -> StoredBox:
        return cls(
            str(value.get("label", label)),
            int(value["x"]),
            int(value["y"]),
            int(value["width"]),
            int(value["height"]),
        )


@dataclass(frozen=True)
class TrackRow:
    """One track of one shot (core/tracks): its boxes as JSON, a list of [frame_index,
    index among the frame's boxes of the label, x, y, width, height], in frame order."""

    media_id: str
    shot_id: int
    track_index: int
    label: str
    boxes_json: str


@dataclass(frozen=True)
class StoredFrame:
    """A sampled frame of a media and its stored thumbnail (content-addressed JPEG)."""

    media_id: str
    frame: SampledFrame
    width: int
    height: int
    thumb_sha256: str
