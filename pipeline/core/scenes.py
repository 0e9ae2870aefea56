"""Scenes for counting: a video shot or a still, joined with everything dedupe links to it.

A unit is one shot of one media (a still is shot 0). Frame matches that dedupe accepted join
units; an analyst's label joins the units its rows point at. Each connected group is one
scene, so a repost annotated twice under two labels is one scene counted once. A
disjointness between two labels that end up in one scene is a contradiction (one picture
cannot show two different groups): the merged scene is used and the contradiction listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pipeline.core.records import FrameMatchRow, MediaRecord, StoredFrame
from pipeline.core.relations import MediaMatch
from pipeline.core.review import ReviewState, format_ref, pair

if TYPE_CHECKING:
    from pipeline.core.mincount.faces import FaceIdentity

Unit = tuple[str, int]  # (media_id, shot_id)
FACE_NODE = "face:"  # core/mincount/faces.FACE_PREFIX: how face identities are named in proofs
SceneRef = str | Unit  # an analyst's label, or a unit (what reviewers point at)
CountOrigin = Literal["review", "annotation", "detector"]


@dataclass(frozen=True)
class Annotation:
    """One row of an analyst's annotations.csv (line: where it is, for error messages)."""

    path: str  # relative to DIR/raw/<incident>/
    t_s: float | None
    count: int
    scene: str
    note: str
    line: int


@dataclass(frozen=True)
class Disjointness:
    """One row of disjoint.csv: two labelled scenes that share no one, and why."""

    scene_a: str
    scene_b: str
    reason: str
    line: int


@dataclass(frozen=True)
class LabelledCount:
    label: str
    unit: Unit
    count: int


@dataclass(frozen=True)
class Scene:
    scene_id: str
    units: tuple[Unit, ...]
    labels: tuple[str, ...]
    count: int
    origin: CountOrigin

    @property
    def ref(self) -> SceneRef:
        """How a reviewer's decision names this scene: its first label, else its first unit."""
        return self.labels[0] if self.labels else self.units[0]

    @property
    def media_ids(self) -> tuple[str, ...]:
        return tuple(sorted({media for media, _ in self.units}))


@dataclass(frozen=True)
class Contradiction:
    label_a: str
    label_b: str
    reason: str
    scene_id: str


@dataclass(frozen=True)
class SceneGraph:
    scenes: tuple[Scene, ...]
    disjoint: tuple[tuple[str, str, str], ...]  # (scene_id, scene_id, reasons)
    contradictions: tuple[Contradiction, ...]


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, item: object) -> object:
        self.parent.setdefault(item, item)
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: object, b: object) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb, key=repr)] = min(ra, rb, key=repr)


def build_scenes(
    units: Iterable[Unit],
    links: Iterable[tuple[Unit, Unit]],
    labelled: Iterable[LabelledCount],
    disjoint: Iterable[tuple[SceneRef, SceneRef, str]],
    detector_counts: dict[Unit, int],
    reviewed_counts: dict[Unit, int] | None = None,
) -> SceneGraph:
    """Group units into scenes, give each its count, and map disjointness onto scenes.

    A scene's count is the largest count a reviewer set on one of its units, else the largest
    annotated count among its rows, else the largest detector proposal among its units;
    scenes with none of these (or a count of 0) are not counted. Disjointness names scenes by
    label or by unit.
    """
    reviewed_counts = reviewed_counts or {}
    groups = _UnionFind()
    all_units = set(units)
    for unit in all_units:
        groups.find(("unit", unit))
    for a, b in links:
        if a in all_units and b in all_units:
            groups.union(("unit", a), ("unit", b))
    labelled = list(labelled)
    for row in labelled:
        groups.union(("label", row.label), ("unit", row.unit))

    members: dict[object, list[Unit]] = defaultdict(list)
    for unit in sorted(all_units | {row.unit for row in labelled}):
        members[groups.find(("unit", unit))].append(unit)
    annotated: dict[object, list[LabelledCount]] = defaultdict(list)
    for row in labelled:
        annotated[groups.find(("label", row.label))].append(row)

    scenes: dict[object, Scene] = {}
    for root, group in members.items():
        rows = annotated.get(root, [])
        reviewed = [reviewed_counts[u] for u in group if u in reviewed_counts]
        labels = tuple(sorted({r.label for r in rows}))
        first = min(group)
        default_id = f"m:{first[0][:12]}#{first[1]}"
        if reviewed:
            if max(reviewed) > 0:
                scenes[root] = Scene(
                    "+".join(labels) or default_id, tuple(group), labels, max(reviewed), "review"
                )
        elif rows:
            scenes[root] = Scene(
                "+".join(labels), tuple(group), labels, max(r.count for r in rows), "annotation"
            )
        else:
            proposals = [detector_counts[u] for u in group if u in detector_counts]
            if proposals and max(proposals) > 0:
                scenes[root] = Scene(default_id, tuple(group), (), max(proposals), "detector")

    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    contradictions: list[Contradiction] = []
    for ref_a, ref_b, reason in disjoint:
        scene_a = scenes.get(groups.find(_node(ref_a)))
        scene_b = scenes.get(groups.find(_node(ref_b)))
        if scene_a is None or scene_b is None:
            continue
        if scene_a.scene_id == scene_b.scene_id:
            contradictions.append(
                Contradiction(_name(ref_a), _name(ref_b), reason, scene_a.scene_id)
            )
            continue
        key = tuple(sorted((scene_a.scene_id, scene_b.scene_id)))
        edges[(key[0], key[1])].append(reason)
    return SceneGraph(
        scenes=tuple(sorted(scenes.values(), key=lambda s: s.scene_id)),
        disjoint=tuple((a, b, " / ".join(reasons)) for (a, b), reasons in sorted(edges.items())),
        contradictions=tuple(contradictions),
    )


def _node(ref: SceneRef) -> tuple[str, object]:
    return ("label", ref) if isinstance(ref, str) else ("unit", ref)


def _name(ref: SceneRef) -> str:
    return ref if isinstance(ref, str) else f"m:{ref[0][:12]}#{ref[1]}"


# --- from stored frames and matches to units, links and labelled counts -------------------


@dataclass(frozen=True)
class ShotIndex:
    """Each media's stored frames (by frame_index): its units, which shot a time falls in,
    and each shot's first frame."""

    frames: Mapping[str, tuple[StoredFrame, ...]]
    shot_of: Mapping[tuple[str, int], int]  # (media_id, frame_index) -> shot_id
    first: Mapping[Unit, tuple[int, str]]  # unit -> (frame_index, thumb_sha256)

    @classmethod
    def build(cls, frames: Iterable[StoredFrame]) -> ShotIndex:
        by_media: dict[str, list[StoredFrame]] = defaultdict(list)
        for f in sorted(frames, key=lambda f: (f.media_id, f.frame.frame_index)):
            by_media[f.media_id].append(f)
        first: dict[Unit, tuple[int, str]] = {}
        for media_id, group in by_media.items():
            for f in group:
                first.setdefault((media_id, f.frame.shot_id), (f.frame.frame_index, f.thumb_sha256))
        return cls(
            {m: tuple(g) for m, g in by_media.items()},
            {
                (f.media_id, f.frame.frame_index): f.frame.shot_id
                for g in by_media.values()
                for f in g
            },
            first,
        )

    def units(self, media_id: str) -> list[Unit]:
        """The media's shots as units, sorted (a still is one unit, shot 0)."""
        return sorted({(media_id, f.frame.shot_id) for f in self.frames.get(media_id, ())})

    def shot_at(self, media_id: str, t_s: float) -> int:
        """The shot of the last frame sampled at or before t_s (shot 0 before the first)."""
        shot = 0
        for f in self.frames.get(media_id, ()):
            if f.frame.pts_s is not None and f.frame.pts_s <= t_s + 1e-6:
                shot = f.frame.shot_id
        return shot

    def first_frame(self, unit: Unit) -> tuple[int, str] | None:
        """(frame_index, thumb_sha256) of the unit's first stored frame."""
        return self.first.get(unit)

    def shot_of_frame(self, media_id: str, frame_index: int) -> int:
        return self.shot_of.get((media_id, frame_index), 0)

    def unit_frames(self, unit: Unit) -> tuple[StoredFrame, ...]:
        """Every stored frame of the unit, in frame order."""
        return tuple(f for f in self.frames.get(unit[0], ()) if f.frame.shot_id == unit[1])


@dataclass(frozen=True)
class FrameProposal:
    """A unit's detector proposal: the most people seen at once in one of its stored
    frames, and the first frame that shows that many (what the report shows as evidence)."""

    people: int
    frame_index: int
    thumb_sha256: str


def busiest_frames(
    shots: ShotIndex, units: Iterable[Unit], people: Mapping[tuple[str, int], int]
) -> dict[Unit, FrameProposal]:
    """Per unit, its frame with the most people (people: per (media_id, frame_index), the
    frames detected); units none of whose frames was detected get no proposal."""
    proposals: dict[Unit, FrameProposal] = {}
    for unit in units:
        for f in shots.unit_frames(unit):
            seen = people.get((f.media_id, f.frame.frame_index))
            if seen is None:
                continue
            best = proposals.get(unit)
            if best is None or seen > best.people:
                proposals[unit] = FrameProposal(seen, f.frame.frame_index, f.thumb_sha256)
    return proposals


def scene_links(
    media_matches: Iterable[MediaMatch],
    frame_matches: Iterable[FrameMatchRow],
    shots: ShotIndex,
    review: ReviewState,
    confirmed_only: bool,
) -> list[tuple[Unit, Unit]]:
    """Unit pairs joined by accepted relations: through their frame matches, or shot by shot
    for exact copies. Inferred relations and those a reviewer rejected join nothing;
    confirmed_only keeps exact matches and those a reviewer confirmed. A proposal (a
    `candidate`, or a `same_scene` capture of one moment) joins nothing until a reviewer
    confirms it, and never separates anything either: only declared disjointness does."""
    accepted = {
        (m.media_a, m.media_b): m.relation
        for m in media_matches
        if m.method != "inferred"
        and not review.is_rejected(m.media_a, m.media_b)
        and (m.same_content or pair(m.media_a, m.media_b) in review.confirmed_pairs)
    }
    links: list[tuple[Unit, Unit]] = []
    for (a, b), relation in accepted.items():
        if relation == "exact":
            units_b = set(shots.units(b))
            links += [((a, s), (b, s)) for _, s in shots.units(a) if (b, s) in units_b]
    for m in frame_matches:
        a, b = m.media_a, m.media_b
        if (a, b) in accepted and (not confirmed_only or pair(a, b) in review.confirmed_pairs):
            links.append(
                ((a, shots.shot_of_frame(a, m.frame_a)), (b, shots.shot_of_frame(b, m.frame_b)))
            )
    return links


def resolve_annotations(
    incident: str,
    rows: Iterable[Annotation],
    media_by_path: Mapping[str, MediaRecord],
    shots: ShotIndex,
    file: str,
) -> tuple[list[LabelledCount], list[str]]:
    """Annotation rows onto units; unknown paths and impossible times are errors
    ("file:line: problem"). media_by_path: the incident's observed paths (relative to the raw
    root, `<incident>/...`) and their media."""
    labelled: list[LabelledCount] = []
    errors: list[str] = []
    for row in rows:
        where = f"{file}:{row.line}"
        record = media_by_path.get(f"{incident}/{row.path}")
        if record is None:
            errors.append(
                f"{where}: unknown path {row.path!r} (not an ingested file of "
                f"incident {incident!r})"
            )
            continue
        if record.kind == "video":
            if row.t_s is None:
                errors.append(f"{where}: {row.path!r} is a video: t_s (seconds) is required")
                continue
            if record.duration_s is not None and row.t_s > record.duration_s + 1e-6:
                errors.append(
                    f"{where}: t_s {row.t_s:g} is past the end of the video "
                    f"({record.duration_s:g} s)"
                )
                continue
            unit = (record.media_id, shots.shot_at(record.media_id, row.t_s))
        else:
            if row.t_s is not None:
                errors.append(f"{where}: {row.path!r} is a still: leave t_s empty")
                continue
            unit = (record.media_id, 0)
        labelled.append(LabelledCount(row.scene, unit, row.count))
    return labelled, errors


# --- the count of one incident --------------------------------------------------------------


@dataclass(frozen=True)
class IncidentCount:
    """One incident's row of counts.csv, its rows of count_certificate.csv, and what the
    report and review app show of its scenes (scenes.json)."""

    row: dict[str, Any]
    certificate: tuple[dict[str, Any], ...]
    details: dict[str, Any]


def count_incident(
    incident: str,
    graph: SceneGraph,
    strict: SceneGraph,
    declared: Sequence[tuple[SceneRef, SceneRef, str]],
    first_frame: Callable[[Unit], tuple[int, str] | None],
    time_limit_s: float,
    proposals: Mapping[Unit, FrameProposal] | None = None,
    faces: FaceInput | None = None,
) -> IncidentCount:
    """The minimum with every machine match (graph) and with only exact and confirmed ones
    (strict), its certificate and its explanation (core/mincount.explain), and any
    contradictions for review. With `faces`, identities and distinct faces take part
    (core/mincount/faces): proposals in the first figure, reviewers' decisions alone in
    `minimum_confirmed_only`."""
    # The solver brings SciPy's optimizer (~0.7 s of imports): loaded only when a count is
    # solved, so a scheduled run with nothing new starts fast.
    from pipeline.core.mincount import explain, min_individuals
    from pipeline.core.mincount.faces import min_individuals_with_faces

    scenes = {s.scene_id: s for s in graph.scenes}
    counts = {s.scene_id: s.count for s in graph.scenes}
    edges = [(a, b) for a, b, _ in graph.disjoint]
    plain = min_individuals(counts, edges, time_limit_s=time_limit_s)
    full_faces = (
        face_identities(graph, faces.groups, faces.distinct, faces.unit_of) if faces else ([], [])
    )
    result, model = min_individuals_with_faces(
        counts, edges, full_faces[0], full_faces[1], time_limit_s=time_limit_s
    )
    strict_faces = (
        face_identities(strict, faces.confirmed_groups, faces.confirmed_distinct, faces.unit_of)
        if faces
        else ([], [])
    )
    confirmed, _ = min_individuals_with_faces(
        {s.scene_id: s.count for s in strict.scenes},
        [(a, b) for a, b, _ in strict.disjoint],
        strict_faces[0],
        strict_faces[1],
        time_limit_s=time_limit_s,
    )
    # faces that change nothing stay out of the proof: the scenes alone are easier to check
    proof_counts = model.counts if result.minimum > plain.minimum else counts
    result = result if result.minimum > plain.minimum else plain
    reasons = {(a, b): reason for a, b, reason in graph.disjoint}
    apart = {frozenset((a, b)) for a, b in edges}
    for a, b in model.edges:
        if a.startswith(FACE_NODE) and b.startswith(FACE_NODE):
            reasons[(a, b)] = "their faces show different people (face proposal)"
        elif a.startswith(FACE_NODE) or b.startswith(FACE_NODE):
            face, scene = (a, b) if a.startswith(FACE_NODE) else (b, a)
            seen = model.identities[face].scenes
            elsewhere = sorted(t for t in seen if frozenset((scene, t)) in apart)
            reasons[(a, b)] = (
                f"the face is seen in {elsewhere[0]}, which shares no one with {scene}"
                if elsewhere
                else f"the face is one of {scene}'s people, counted apart from the others"
            )
    explanation = explain(result, proof_counts, reasons, time_limit_s)
    if result.minimum > plain.minimum:
        explanation += (
            f" Faces raise the figure from {plain.minimum}: {len(model.identities)} faces "
            "(proposed identities, machine proposals until a reviewer confirms them) are "
            "different people placed in the scenes where they appear; a scene named in the "
            "proof counts the people besides its faces."
        )
    if model.contradictions:
        explanation += (
            " Face contradictions for review: "
            + "; ".join(
                f"face {c.identity_id} is seen in {c.scene_a} and {c.scene_b}, declared disjoint"
                for c in model.contradictions
            )
            + "."
        )
    if graph.contradictions:
        explanation += (
            " Contradictions for review: "
            + "; ".join(
                f"{c.label_a} and {c.label_b} are declared disjoint ({c.reason}) but show the same "
                f"content (scene {c.scene_id})"
                for c in graph.contradictions
            )
            + "."
        )
    row = {
        "incident": incident,
        "minimum_count": result.minimum,
        "clique_bound": result.clique_bound,
        "upper_bound": result.upper_bound,
        "scenes": len(graph.scenes),
        "reviewed": all(s.origin != "detector" for s in graph.scenes),
        "minimum_confirmed_only": confirmed.minimum,
        "contradictions": len(graph.contradictions) + len(model.contradictions),
        "explanation": explanation,
        "minimum_without_faces": plain.minimum,
        "face_identities": len(model.identities),
    }
    certificate = tuple(
        {
            "incident": incident,
            "scene_id": e.scene_id,
            "count": proof_counts[e.scene_id],
            "count_origin": scenes[e.scene_id].origin if e.scene_id in scenes else "face",
            "weight": str(e.weight),
            "media_ids": ";".join(
                scenes[e.scene_id].media_ids
                if e.scene_id in scenes
                else sorted({f.split("#")[0] for f in model.identities[e.scene_id].faces})
            ),
        }
        for e in result.certificate
    )
    details = scene_details(graph, declared, certificate, first_frame, proposals or {})
    details["faces"] = {
        "placed": {scene: list(ids) for scene, ids in model.placed.items() if ids},
        "identities": [
            {"identity": i.identity_id, "faces": list(i.faces), "scenes": sorted(i.scenes)}
            for i in model.identities.values()
        ],
        "distinct": [
            [a, b]
            for a, b in full_faces[1]
            if FACE_NODE + a in model.identities and FACE_NODE + b in model.identities
        ],
        "contradictions": [
            {"identity": c.identity_id, "scene_a": c.scene_a, "scene_b": c.scene_b}
            for c in model.contradictions
        ],
        "minimum_without_faces": plain.minimum,
        "raised_by_faces": result.minimum > plain.minimum,
    }
    return IncidentCount(row, certificate, details)


@dataclass(frozen=True)
class FaceInput:
    """An incident's faces for the count: groups of face refs (one person each) and pairs of
    groups (indices) proven different, with every proposal and with confirmations only.
    Face refs are `<media_id>#<frame_index>#<face_index>`; unit_of maps a face to its unit."""

    groups: tuple[tuple[str, ...], ...]
    distinct: tuple[tuple[int, int], ...]
    confirmed_groups: tuple[tuple[str, ...], ...]
    confirmed_distinct: tuple[tuple[int, int], ...]
    unit_of: Mapping[str, Unit]


def face_identities(
    graph: SceneGraph,
    groups: Sequence[tuple[str, ...]],
    distinct: Sequence[tuple[int, int]],
    unit_of: Mapping[str, Unit],
) -> tuple[list[FaceIdentity], list[tuple[str, str]]]:
    """Face groups as identities placed in the graph's scenes (by the units of their faces);
    each is named by its first face's media (12 hex) and position."""
    from pipeline.core.mincount.faces import FaceIdentity

    scene_of = {unit: scene.scene_id for scene in graph.scenes for unit in scene.units}
    identities: list[FaceIdentity] = []
    names: list[str] = []
    for group in groups:
        media, frame, face = group[0].split("#")
        name = f"{media[:12]}#{frame}#{face}"
        names.append(name)
        seen = frozenset(scene_of[unit_of[r]] for r in group if unit_of.get(r) in scene_of)
        identities.append(FaceIdentity(name, seen, group))
    pairs = [(names[i], names[j]) for i, j in distinct]
    return identities, pairs


def scene_details(
    graph: SceneGraph,
    disjoint: Sequence[tuple[SceneRef, SceneRef, str]],
    certificate: Sequence[Mapping[str, Any]],
    first_frame: Callable[[Unit], tuple[int, str] | None],
    proposals: Mapping[Unit, FrameProposal] | None = None,
) -> dict[str, Any]:
    """Everything the report and the review app show about one incident's scenes. A scene
    counted from a detector proposal shows the frame where the most people were seen;
    others show their first frame."""
    weights = {row["scene_id"]: row["weight"] for row in certificate}
    proposals = proposals or {}
    scenes = []
    for scene in graph.scenes:
        shown_unit, frame = scene.units[0], first_frame(scene.units[0])
        offered = [u for u in scene.units if u in proposals]
        if scene.origin == "detector" and offered:
            shown_unit = min(offered, key=lambda u: (-proposals[u].people, u))
            best = proposals[shown_unit]
            frame = (best.frame_index, best.thumb_sha256)
        scenes.append(
            {
                "scene_id": scene.scene_id,
                "ref": format_ref(scene.ref),
                "count": scene.count,
                "count_origin": scene.origin,
                "labels": list(scene.labels),
                "units": [format_ref(u) for u in scene.units],
                "media_ids": list(scene.media_ids),
                "frame": {"media_id": shown_unit[0], "frame_index": frame[0], "thumb": frame[1]}
                if frame
                else None,
                "certificate_weight": weights.get(scene.scene_id, ""),
            }
        )
    return {
        "scenes": scenes,
        "scene_disjointness": [
            {"scene_a": a, "scene_b": b, "reason": reason} for a, b, reason in graph.disjoint
        ],
        "declared_disjointness": [
            {"a": format_ref(a), "b": format_ref(b), "reason": reason} for a, b, reason in disjoint
        ],
        "contradictions": [
            {"a": c.label_a, "b": c.label_b, "reason": c.reason, "scene_id": c.scene_id}
            for c in graph.contradictions
        ],
    }
