"""What the report and the review app show, read from the contract files, scenes.json and the
catalog into one plain structure. Both render from this, so what a reviewer decides on is
exactly what the static report shows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.core.records import TrackRow
from pipeline.core.review import fold, pair
from pipeline.core.timelines import (
    OverlapDrawing,
    ProvenanceDrawing,
    overlap_drawing,
    provenance_drawing,
)
from pipeline.core.timeparse import normalise_iso, sort_key
from pipeline.core.tracks import track_count, track_id
from pipeline.io.catalog import Catalog, RunRecord
from pipeline.io.contract import read_contract_csv
from pipeline.layout import DataLayout

CLUSTERS_PER_PAGE = 20


def page_slug(prefix: str, name: str) -> str:
    """A file name for a page about `name` (an incident folder can be called anything)."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:60].strip("._") or "x"
    if clean != name:
        clean += "-" + hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return f"{prefix}-{clean}.html"


@dataclass
class Member:
    media_id: str
    kind: str
    resolution: str
    duration_s: str
    thumb: str  # path relative to processed/, empty when the media has no frame
    observations: list[dict[str, str]]
    metadata: dict[str, str]
    most_original: bool = False


@dataclass
class MatchView:
    media_a: str
    media_b: str
    relation: str
    distance: str
    method: str
    interval: str
    timeline: OverlapDrawing | None
    confirmed: bool = False
    reason: str = ""  # the evidence that decided the relation (matches.csv)
    # The evidence in numbers, as shown side by side: frames agreeing of those compared,
    # inliers, the matched region's coverage of a and of b, content blocks agreeing.
    frames: str = ""
    inliers: str = ""
    coverage: str = ""
    agreement: str = ""


@dataclass
class ClusterView:
    cluster_id: str
    members: list[Member]
    matches: list[MatchView]
    provenance: dict[str, str]
    disagreeing: set[str]
    timeline: ProvenanceDrawing | None
    incidents: list[str]
    page: str = ""
    known: list[dict[str, str]] = field(default_factory=list)  # list_matches.csv rows


@dataclass
class Box:
    label: str
    x: int
    y: int
    w: int
    h: int


@dataclass
class TrackView:
    """One person (or face) followed within a shot (core/tracks), shown once: the crop of
    its largest box, and the sampled frames it spans. A proposal for reviewers."""

    ref: str  # core/tracks.track_id
    label: str
    thumb: str
    thumb_size: tuple[int, int]
    box: Box
    frames: list[int]  # frame_index of every box, in order
    span: str  # "frames 3-9 (5 of them)" or with times "2.0-8.0 s"


@dataclass
class SceneView:
    scene: dict[str, Any]
    thumb: str
    thumb_size: tuple[int, int]
    boxes: list[Box]
    reasons: list[str]
    tracks: list[TrackView] = field(default_factory=list)  # of the shot the picture is from
    track_count: int = 0  # the tracks' proposal (core/tracks.shot_track_count)


@dataclass
class FaceView:
    """One face of the gallery: its source frame and where the face lies in it (the page
    shows the crop by positioning the frame, so no face image is written anywhere)."""

    ref: str  # <media_id>#<frame_index>#<face_index>
    thumb: str
    thumb_size: tuple[int, int]
    box: Box


@dataclass
class IdentityView:
    identity: str
    faces: list[FaceView]
    scenes: list[str]


@dataclass
class IncidentView:
    name: str
    page: str
    counts: dict[str, str]
    certificate: list[dict[str, str]]
    scenes: list[SceneView]
    disjointness: list[dict[str, str]]
    declared: list[dict[str, str]]
    contradictions: list[dict[str, str]]
    media: int
    sources: list[str]
    known: list[dict[str, str]] = field(default_factory=list)  # list_matches.csv rows
    identities: list[IdentityView] = field(default_factory=list)
    distinct: list[tuple[IdentityView, IdentityView]] = field(default_factory=list)
    faces: dict[str, Any] = field(default_factory=dict)  # scenes.json "faces"


@dataclass
class ReportData:
    incidents: list[IncidentView]
    clusters: list[ClusterView]  # clusters with two or more members, largest first
    singletons: int
    media_total: int
    observations_total: int
    sources_total: int
    rejects: list[dict[str, str]]
    runs: list[RunRecord]
    pages: int

    def cluster_pages(self) -> list[list[ClusterView]]:
        return [
            self.clusters[i : i + CLUSTERS_PER_PAGE]
            for i in range(0, len(self.clusters), CLUSTERS_PER_PAGE)
        ]


def duplicates_page(number: int) -> str:
    return f"duplicates-{number}.html"


def _resolution(row: dict[str, str]) -> str:
    return f"{row['width']}x{row['height']}" if row.get("width") else ""


def _metadata(row: dict[str, str]) -> dict[str, str]:
    camera = " ".join(v for v in (row.get("camera_make"), row.get("camera_model")) if v)
    gps = f"{row['gps_lat']},{row['gps_lon']}" if row.get("gps_lat") else ""
    return {
        "captured_at": row.get("captured_at", ""),
        "camera": camera,
        "gps": gps,
        "software": row.get("software", ""),
        "format": row.get("format", ""),
        "codec": row.get("codec", ""),
    }


def _float(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _match_view(row: dict[str, str], media: dict[str, dict[str, str]]) -> MatchView:
    starts = [_float(row[k]) for k in ("a_start_s", "a_end_s", "b_start_s", "b_end_s")]
    timeline = None
    interval = ""
    if starts[2] is not None and starts[3] is not None:
        a0, a1 = (starts[0], starts[1] or 0.0) if starts[0] is not None else (0.0, 0.0)
        b0, b1 = starts[2], starts[3]
        interval = (
            f"a {a0:g}-{a1:g} s, b {b0:g}-{b1:g} s"
            if starts[0] is not None
            else f"at {b0:g}-{b1:g} s of b"
        )
        if row["relation"] == "video_overlap":
            timeline = overlap_drawing(
                _float(media.get(row["media_a"], {}).get("duration_s", "")),
                a0,
                a1,
                _float(media.get(row["media_b"], {}).get("duration_s", "")),
                b0,
                b1,
            )
    cells = _evidence_cells(row)
    return MatchView(
        row["media_a"],
        row["media_b"],
        row["relation"],
        row["distance"],
        row.get("method", ""),
        interval,
        timeline,
        reason=row.get("reason", ""),
        frames=cells["frames"],
        inliers=cells["inliers"],
        coverage=cells["coverage"],
        agreement=cells["agreement"],
    )


def _percent(text: str) -> str:
    value = _float(text)
    return "" if value is None else f"{value:.0%}"


def _evidence_cells(row: dict[str, str]) -> dict[str, str]:
    """matches.csv's evidence columns as the duplicate pages show them (empty where not
    measured: plain PDQ matches, inferred relations, files written before the columns)."""
    compared = row.get("frames_compared", "")
    agreeing = row.get("frames_agreeing", "")
    a, b = _percent(row.get("coverage_a", "")), _percent(row.get("coverage_b", ""))
    return {
        "frames": f"{agreeing} of {compared}" if compared not in ("", "0") else "",
        "inliers": row.get("inliers", ""),
        "coverage": f"a {a}, b {b}" if a and b else "",
        "agreement": _percent(row.get("pixel_agreement", "")),
    }


def _sightings(members: list[Member]) -> list[tuple[datetime, str, str]]:
    out = []
    for member in members:
        for obs in member.observations:
            iso = normalise_iso(obs.get("posted_at", "")) if obs.get("posted_at") else None
            if iso:
                out.append((sort_key(iso), obs["source"], iso))
        if member.metadata.get("captured_at"):
            iso = normalise_iso(member.metadata["captured_at"])
            if iso:
                out.append((sort_key(iso), "captured (EXIF)", iso))
    return out


def load_report_data(layout: DataLayout, catalog: Catalog) -> ReportData:
    processed = layout.processed
    media = {row["media_id"]: row for row in read_contract_csv(processed / "media.csv")}
    observations: dict[str, list[dict[str, str]]] = defaultdict(list)
    for obs in read_contract_csv(processed / "observations.csv"):
        observations[obs["media_id"]].append(obs)
    thumbs: dict[str, str] = {}
    sizes: dict[str, tuple[int, int]] = {}
    frame_thumbs: dict[tuple[str, int], str] = {}
    frame_shot: dict[tuple[str, int], tuple[int, float | None]] = {}  # -> (shot_id, pts_s)
    for frame in catalog.frames():
        frame_thumbs[(frame.media_id, frame.frame.frame_index)] = frame.thumb_sha256
        frame_shot[(frame.media_id, frame.frame.frame_index)] = (
            frame.frame.shot_id,
            frame.frame.pts_s,
        )
        if frame.media_id not in thumbs:
            sha = frame.thumb_sha256
            thumbs[frame.media_id] = f"thumbs/{sha[:2]}/{sha}.jpg"
        sizes[frame.thumb_sha256] = (frame.width, frame.height)
    members_of: dict[str, list[str]] = defaultdict(list)
    for row in read_contract_csv(processed / "clusters.csv"):
        members_of[row["cluster_id"]].append(row["media_id"])
    provenance = {
        row["cluster_id"]: row for row in read_contract_csv(processed / "cluster_provenance.csv")
    }
    cluster_of = {m: c for c, ms in members_of.items() for m in ms}
    known_of: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_contract_csv(processed / "list_matches.csv"):
        known_of[row["media_id"]].append(row)
    matches_of: dict[str, list[MatchView]] = defaultdict(list)
    confirmed = fold(catalog.decisions()).confirmed_pairs  # the one rule for decisions
    for row in read_contract_csv(processed / "matches.csv"):
        view = _match_view(row, media)
        view.confirmed = pair(view.media_a, view.media_b) in confirmed
        matches_of[cluster_of.get(row["media_a"], "")].append(view)
        other = cluster_of.get(row["media_b"], "")
        if other != cluster_of.get(row["media_a"], ""):  # a proposal: shown in both clusters
            matches_of[other].append(view)

    clusters: list[ClusterView] = []
    for cluster_id, ids in members_of.items():
        if len(ids) < 2 and not matches_of.get(cluster_id):  # alone, and no proposal either
            continue
        prov = provenance.get(cluster_id, {})
        members = [
            Member(
                media_id=m,
                kind=media.get(m, {}).get("kind", ""),
                resolution=_resolution(media.get(m, {})),
                duration_s=media.get(m, {}).get("duration_s", ""),
                thumb=thumbs.get(m, ""),
                observations=observations.get(m, []),
                metadata=_metadata(media.get(m, {})),
                most_original=prov.get("most_original") == m,
            )
            for m in sorted(ids)
        ]
        disagreeing = {
            part.split(":", 1)[0] for part in prov.get("disagreements", "").split(";") if part
        }
        clusters.append(
            ClusterView(
                cluster_id,
                members,
                matches_of.get(cluster_id, []),
                prov,
                disagreeing,
                provenance_drawing(_sightings(members)),
                sorted({o["incident"] for m in members for o in m.observations}),
                known=[row for m in sorted(ids) for row in known_of.get(m, [])],
            )
        )
    clusters.sort(key=lambda c: (-len(c.members), c.cluster_id))
    for i, cluster in enumerate(clusters):
        cluster.page = duplicates_page(i // CLUSTERS_PER_PAGE + 1)

    scenes_json = processed / "scenes.json"
    details = json.loads(scenes_json.read_text(encoding="utf-8")) if scenes_json.exists() else {}
    boxes = catalog.detection_boxes()
    face_boxes = catalog.face_boxes()

    def face_view(ref: str) -> FaceView | None:
        media_id, frame_index, _ = ref.split("#")
        sha = frame_thumbs.get((media_id, int(frame_index)), "")
        box = face_boxes.get(ref)
        if not sha or box is None:
            return None
        return FaceView(
            ref,
            f"thumbs/{sha[:2]}/{sha}.jpg",
            sizes.get(sha, (320, 180)),
            Box("face", box.x, box.y, box.width, box.height),
        )

    tracks_of: dict[tuple[str, int], list[TrackRow]] = defaultdict(list)
    for track in catalog.tracks():
        tracks_of[(track.media_id, track.shot_id)].append(track)

    def track_view(row: TrackRow) -> TrackView:
        boxes = json.loads(row.boxes_json)  # [frame_index, index, x, y, width, height]
        frame, _, x, y, w, h = max(boxes, key=lambda b: (b[4] * b[5], -b[0]))
        sha = frame_thumbs.get((row.media_id, frame), "")
        frames = [b[0] for b in boxes]
        times = [frame_shot.get((row.media_id, f), (0, None))[1] for f in (frames[0], frames[-1])]
        span = f"frames {frames[0]}-{frames[-1]} ({len(frames)} sampled)"
        if times[0] is not None and times[1] is not None:
            span += f", {times[0]:.1f}-{times[1]:.1f} s"
        return TrackView(
            track_id(row.media_id, row.shot_id, row.track_index),
            row.label,
            f"thumbs/{sha[:2]}/{sha}.jpg" if sha else "",
            sizes.get(sha, (320, 180)),
            Box(row.label, x, y, w, h),
            frames,
            span,
        )

    def scene_tracks(shown: dict[str, Any]) -> list[TrackView]:
        """The tracks of the shot the scene's picture is from."""
        media_id, frame_index = shown.get("media_id", ""), int(shown.get("frame_index", -1))
        if (media_id, frame_index) not in frame_shot:
            return []
        unit = (media_id, frame_shot[(media_id, frame_index)][0])
        return [track_view(t) for t in tracks_of.get(unit, [])]

    certificate_rows: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in read_contract_csv(processed / "count_certificate.csv"):
        certificate_rows[row["incident"]].append(row)
    counts = {row["incident"]: row for row in read_contract_csv(processed / "counts.csv")}
    incident_media: dict[str, set[str]] = defaultdict(set)
    incident_sources: dict[str, set[str]] = defaultdict(set)
    for media_id, rows in observations.items():
        for obs in rows:
            incident_media[obs["incident"]].add(media_id)
            incident_sources[obs["incident"]].add(obs["source"])
    incidents = []
    for name in sorted(incident_media):
        detail = details.get(name, {})
        reasons: dict[str, list[str]] = defaultdict(list)
        for edge in detail.get("scene_disjointness", []):
            reasons[edge["scene_a"]].append(f"disjoint from {edge['scene_b']}: {edge['reason']}")
            reasons[edge["scene_b"]].append(f"disjoint from {edge['scene_a']}: {edge['reason']}")
        scenes = []
        for scene in detail.get("scenes", []):
            shown = scene.get("frame") or {}
            sha = shown.get("thumb", "")
            followed = scene_tracks(shown)
            scenes.append(
                SceneView(
                    scene,
                    f"thumbs/{sha[:2]}/{sha}.jpg" if sha else "",
                    sizes.get(sha, (320, 180)),
                    [
                        Box(b.label, b.x, b.y, b.width, b.height)
                        for b in boxes.get(
                            (shown.get("media_id", ""), int(shown.get("frame_index", -1))), []
                        )
                    ],
                    reasons.get(scene["scene_id"], []),
                    followed,
                    track_count([t.label for t in followed]),
                )
            )
        face_detail = detail.get("faces", {})
        identities = [
            IdentityView(
                i["identity"],
                [v for v in (face_view(f) for f in i["faces"]) if v],
                i["scenes"],
            )
            for i in face_detail.get("identities", [])
        ]
        by_name = {i.identity: i for i in identities if i.faces}
        distinct = [
            (by_name[a], by_name[b])
            for a, b in face_detail.get("distinct", [])
            if a in by_name and b in by_name
        ]
        incidents.append(
            IncidentView(
                name=name,
                page=page_slug("incident", name),
                counts=counts.get(name, {}),
                certificate=certificate_rows.get(name, []),
                scenes=scenes,
                disjointness=detail.get("scene_disjointness", []),
                declared=detail.get("declared_disjointness", []),
                contradictions=detail.get("contradictions", []),
                media=len(incident_media[name]),
                sources=sorted(incident_sources[name]),
                known=[row for m in sorted(incident_media[name]) for row in known_of.get(m, [])],
                identities=[i for i in identities if i.faces],
                distinct=distinct,
                faces=face_detail,
            )
        )
    rejects = read_contract_csv(processed / "rejects.csv")
    all_sources = {(o["incident"], o["source"]) for rows in observations.values() for o in rows}
    return ReportData(
        incidents=incidents,
        clusters=clusters,
        singletons=sum(1 for ids in members_of.values() if len(ids) == 1),
        media_total=len(media),
        observations_total=sum(len(v) for v in observations.values()),
        sources_total=len(all_sources),
        rejects=rejects,
        runs=[r for r in catalog.runs() if r.status != "running"],
        pages=max(1, -(-len(clusters) // CLUSTERS_PER_PAGE)),
    )


def run_record_data(catalog: Catalog) -> ReportData:
    """Just what the run-record page (runs.html) and the navigation around it show: a run
    with nothing new updates that page alone, without reading the contract files."""
    incidents = [
        IncidentView(name, page_slug("incident", name), {}, [], [], [], [], [], 0, [])
        for name in catalog.incidents()
    ]
    runs = [r for r in catalog.runs() if r.status != "running"]
    return ReportData(incidents, [], 0, 0, 0, 0, [], runs, pages=1)
