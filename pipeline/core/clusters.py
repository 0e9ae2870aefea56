"""Clusters of media showing the same content, and where each cluster was first seen.

Media relations are edges; clusters are connected components, named after their smallest
media_id so a full run and an incremental one name them alike. Two guards against chaining
unrelated pictures together: a compilation (a video whose overlaps with other media fall in
separate parts of its timeline) is linked to its sources in matches.csv but does not merge
them into one cluster; and only relations the dedupe stage accepted (gated by quality,
uniform frames and offset agreement) are edges at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.core.records import MediaRecord, Observation
from pipeline.core.relations import MediaInfo, MediaMatch
from pipeline.core.timeparse import sort_key

COMPILATION_COVERAGE = 0.8  # an overlap covering this much of a compilation is a repost of it


def _side(match: MediaMatch, media_id: str) -> tuple[float | None, float | None]:
    if match.media_a == media_id:
        return match.a_start_s, match.a_end_s
    return match.b_start_s, match.b_end_s


def compilations(matches: Sequence[MediaMatch], media: dict[str, MediaInfo]) -> set[str]:
    """Videos holding separate segments of two or more media that do not match each other."""
    linked = {(m.media_a, m.media_b) for m in matches} | {(m.media_b, m.media_a) for m in matches}
    overlaps: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for match in matches:
        if match.relation != "video_overlap":
            continue
        for this, other in ((match.media_a, match.media_b), (match.media_b, match.media_a)):
            start, end = _side(match, this)
            overlaps[this].append((start or 0.0, end or 0.0, other))
    found: set[str] = set()
    for video, spans in overlaps.items():
        for i, (s1, e1, o1) in enumerate(spans):
            for s2, e2, o2 in spans[i + 1 :]:
                separate = min(e1, e2) - max(s1, s2) <= 0.5
                if o1 != o2 and separate and (o1, o2) not in linked:
                    found.add(video)
    return found


def _links(match: MediaMatch, media: dict[str, MediaInfo], compiled: set[str]) -> bool:
    for this in (match.media_a, match.media_b):
        if this in compiled:
            start, end = _side(match, this)
            duration = media[this].duration_s or 0.0
            if not duration or ((end or 0.0) - (start or 0.0)) < COMPILATION_COVERAGE * duration:
                return False
    return True


def cluster_media(
    media_ids: Sequence[str], matches: Sequence[MediaMatch], media: dict[str, MediaInfo]
) -> dict[str, str]:
    """media_id -> cluster_id for every media (a media with no match is its own cluster)."""
    ids = sorted(media_ids)
    position = {media_id: i for i, media_id in enumerate(ids)}
    compiled = compilations(matches, media)
    rows, cols = [], []
    for match in matches:
        if (
            match.media_a in position
            and match.media_b in position
            and _links(match, media, compiled)
        ):
            rows.append(position[match.media_a])
            cols.append(position[match.media_b])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    first: dict[int, str] = {}
    for media_id, label in zip(ids, labels, strict=True):
        first.setdefault(int(label), media_id)
    return {
        media_id: "c" + first[int(label)][:16] for media_id, label in zip(ids, labels, strict=True)
    }


@dataclass(frozen=True)
class MemberFacts:
    """What provenance needs to know of one media: its observations and its metadata."""

    media_id: str
    width: int
    height: int
    size_bytes: int
    kind: str
    posted: tuple[tuple[str, str, str], ...]  # (posted_at, source, path) per observation
    captured_at: str = ""
    creation_time: str = ""
    camera: str = ""
    gps: str = ""
    has_camera_metadata: bool = False


@dataclass(frozen=True)
class Provenance:
    cluster_id: str
    members: int
    sources: tuple[str, ...]
    observations: int
    first_seen: str
    first_seen_origin: str  # posted_at (sidecar) | captured_at (EXIF) | creation_time (container)
    first_seen_media: str
    first_seen_where: str
    most_original: str
    disagreements: tuple[str, ...] = field(default_factory=tuple)


def _originality(member: MemberFacts) -> tuple[int, int, float, str]:
    """Higher is more original: resolution, intact camera metadata, bytes per pixel."""
    pixels = member.width * member.height
    bytes_per_pixel = member.size_bytes / pixels if pixels else 0.0
    return (pixels, int(member.has_camera_metadata), round(bytes_per_pixel, 3), member.media_id)


def cluster_provenance(cluster_id: str, members: Iterable[MemberFacts]) -> Provenance:
    """Earliest known sighting (each time labelled by where it came from), the most original
    member, and any metadata on which members disagree."""
    group = sorted(members, key=lambda m: m.media_id)
    candidates: list[tuple[str, str, str, str]] = []  # (time, origin, media, where)
    for member in group:
        for posted_at, source, path in member.posted:
            if posted_at:
                candidates.append(
                    (posted_at, "posted_at (sidecar)", member.media_id, f"{source}: {path}")
                )
        if member.captured_at:
            candidates.append((member.captured_at, "captured_at (EXIF)", member.media_id, ""))
        if member.creation_time:
            candidates.append(
                (member.creation_time, "creation_time (container)", member.media_id, "")
            )
    first = min(candidates, key=lambda c: (sort_key(c[0]), c[1], c[2])) if candidates else None
    best = max(group, key=_originality)
    disagreements = []
    for label, values in (
        ("captured_at", {m.captured_at for m in group}),
        ("camera", {m.camera for m in group}),
        ("gps", {m.gps for m in group}),
    ):
        present = sorted(v for v in values if v)
        if len(present) > 1:
            disagreements.append(f"{label}: " + " | ".join(present))
    sources = sorted({source for m in group for _, source, _ in m.posted})
    return Provenance(
        cluster_id=cluster_id,
        members=len(group),
        sources=tuple(sources),
        observations=sum(len(m.posted) for m in group),
        first_seen=first[0] if first else "",
        first_seen_origin=first[1] if first else "",
        first_seen_media=first[2] if first else "",
        first_seen_where=first[3] if first else "",
        most_original=best.media_id,
        disagreements=tuple(disagreements),
    )


def member_facts(record: MediaRecord, posted: Iterable[tuple[str, str, str]]) -> MemberFacts:
    """A media's provenance facts from its record and its (posted_at, source, path)
    observations: camera and GPS as shown in cluster_provenance.csv."""
    d = record.derived
    camera = " ".join(x for x in (d.get("camera_make", ""), d.get("camera_model", "")) if x)
    gps = (
        f"{d['gps_lat']:.3f},{d['gps_lon']:.3f}"
        if d.get("gps_lat") is not None and d.get("gps_lon") is not None
        else ""
    )
    return MemberFacts(
        record.media_id,
        record.width or 0,
        record.height or 0,
        record.size_bytes,
        record.kind,
        tuple(sorted(posted)),
        d.get("captured_at", ""),
        d.get("creation_time", ""),
        camera,
        gps,
        bool(camera or d.get("captured_at")),
    )


def provenance_by_cluster(
    clusters: Mapping[str, str],
    records: Mapping[str, MediaRecord],
    observations: Iterable[Observation],
) -> list[Provenance]:
    """cluster_provenance for every cluster (by cluster_id), from its members' records and
    observations."""
    posted: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for obs in observations:
        posted[obs.media_id].append((obs.posted_at, obs.source, obs.path))
    members: dict[str, list[MemberFacts]] = defaultdict(list)
    for media_id, cluster in clusters.items():
        members[cluster].append(member_facts(records[media_id], posted[media_id]))
    return [cluster_provenance(c, group) for c, group in sorted(members.items())]
