"""Records that cross module lines. Media are named by the SHA-256 hex of their bytes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

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
