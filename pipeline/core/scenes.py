"""Scenes for counting: a video shot or a still, joined with everything dedupe links to it.

A unit is one shot of one media (a still is shot 0). Frame matches that dedupe accepted join
units; an analyst's label joins the units its rows point at. Each connected group is one
scene, so a repost annotated twice under two labels is one scene counted once. A
disjointness between two labels that end up in one scene is a contradiction (one picture
cannot show two different groups): the merged scene is used and the contradiction listed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Unit = tuple[str, int]  # (media_id, shot_id)
SceneRef = str | Unit  # an analyst's label, or a unit (what reviewers point at)
CountOrigin = Literal["review", "annotation", "detector"]


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
