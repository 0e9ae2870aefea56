"""Faces in the minimum-count model: identities placed in the scenes where they appear.

Evidence: an *identity* is one person's face seen in one or more scenes (faces grouped as
the same person); two identities are *distinct* when they are proven different people. The
model (docs/count.md, "Faces"): every scene s has a set P_s of people with |P_s| >= c_s that
contains the person of every identity seen in s; disjoint scenes share no one; distinct
identities are different people; identities not proven distinct may be one person.

It reduces exactly to the weighted multicolouring that `min_individuals` solves, on a graph
of two kinds of node:

- `face:<id>`, count 1: the identity's person;
- the scene s itself, count c_s - |F_s|: the people of s other than F_s, a pairwise-distinct
  set of the identities seen in s (greedy, in identity order; the other identities seen in s
  may be among those others or one of F_s's people, so they constrain nothing more).

Edges: the scene's disjointness; s with each identity of F_s; s with every identity seen in a
scene disjoint from s; two identities that are distinct or seen in two disjoint scenes.
A colouring of this graph is an assignment of people (P_s = the colours of s and of every
identity seen in s), and every assignment gives a colouring, so the minimum is the same
(tests/core/test_mincount_faces.py checks it against a brute-force search). An identity seen
in two disjoint scenes is a contradiction: listed, and left out of the model.

Two scenes of 5 people, not disjoint, whose 10 faces are pairwise distinct, need 10 people;
one face shared between them (one identity in both) makes it 9.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.core.mincount import MinCountResult, min_individuals

FACE_PREFIX = "face:"


@dataclass(frozen=True)
class FaceIdentity:
    """One person's face: where it was seen (scene ids) and the faces that show it."""

    identity_id: str
    scenes: frozenset[str]
    faces: tuple[str, ...] = ()

    @property
    def node(self) -> str:
        return FACE_PREFIX + self.identity_id


@dataclass(frozen=True)
class FaceContradiction:
    identity_id: str
    scene_a: str
    scene_b: str


@dataclass(frozen=True)
class FaceModel:
    """The graph `min_individuals` solves, and what the faces did to it."""

    counts: dict[str, int]  # scene residuals and face nodes
    edges: tuple[tuple[str, str], ...]
    placed: dict[str, tuple[str, ...]]  # scene -> identities counted as its distinct people
    contradictions: tuple[FaceContradiction, ...]
    identities: dict[str, FaceIdentity]  # node -> identity, those in the model


def face_model(
    counts: Mapping[str, int],
    disjoint: Iterable[tuple[str, str]],
    identities: Iterable[FaceIdentity],
    distinct: Iterable[tuple[str, str]],
) -> FaceModel:
    """The exact reduction described in the module docstring. Identities naming unknown
    scenes keep only the known ones; an identity in no known scene is left out."""
    apart = {frozenset(pair) for pair in disjoint if pair[0] != pair[1]}
    different = {frozenset(pair) for pair in distinct if pair[0] != pair[1]}
    kept: list[FaceIdentity] = []
    contradictions: list[FaceContradiction] = []
    for identity in sorted(identities, key=lambda i: i.identity_id):
        seen = sorted(s for s in identity.scenes if s in counts)
        clash = next(
            (
                (a, b)
                for i, a in enumerate(seen)
                for b in seen[i + 1 :]
                if frozenset((a, b)) in apart
            ),
            None,
        )
        if clash:
            contradictions.append(FaceContradiction(identity.identity_id, *clash))
        elif seen:
            kept.append(FaceIdentity(identity.identity_id, frozenset(seen), identity.faces))

    def distinct_people(a: FaceIdentity, b: FaceIdentity) -> bool:
        return frozenset((a.identity_id, b.identity_id)) in different or any(
            frozenset((s, t)) in apart for s in a.scenes for t in b.scenes
        )

    placed: dict[str, list[FaceIdentity]] = {scene: [] for scene in counts}
    for identity in kept:
        for scene in sorted(identity.scenes):
            if all(distinct_people(identity, other) for other in placed[scene]):
                placed[scene].append(identity)
    node_counts = {scene: max(0, c - len(placed[scene])) for scene, c in counts.items()}
    node_counts.update({identity.node: 1 for identity in kept})
    edges: set[tuple[str, str]] = {tuple(sorted(pair)) for pair in apart}  # type: ignore[misc]
    for identity in kept:
        for scene in counts:
            if identity in placed[scene] or any(
                frozenset((scene, s)) in apart for s in identity.scenes
            ):
                edges.add(_edge(scene, identity.node))
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            if distinct_people(a, b):
                edges.add(_edge(a.node, b.node))
    return FaceModel(
        node_counts,
        tuple(sorted(e for e in edges if e[0] in node_counts and e[1] in node_counts)),
        {scene: tuple(i.identity_id for i in group) for scene, group in placed.items()},
        tuple(contradictions),
        {identity.node: identity for identity in kept},
    )


def _edge(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def min_individuals_with_faces(
    counts: Mapping[str, int],
    disjoint: Iterable[tuple[str, str]],
    identities: Iterable[FaceIdentity],
    distinct: Iterable[tuple[str, str]],
    *,
    time_limit_s: float | None = None,
) -> tuple[MinCountResult, FaceModel]:
    """The minimum with face evidence, and the model it solved (its certificate names scene
    residuals and `face:` nodes; FaceModel.counts gives their weights)."""
    model = face_model(counts, list(disjoint), identities, distinct)
    return min_individuals(model.counts, model.edges, time_limit_s=time_limit_s), model
