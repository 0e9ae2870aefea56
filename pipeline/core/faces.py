"""Faces across media: proposed identities (faces of one person) and proposed distinct pairs
(faces of different people), from descriptor distances and reviewers' decisions.

Two thresholds with a gap between them, so that no pair is both (docs/count.md, "Faces"):
faces at most `same_max` apart are proposed as one person; faces at least `distinct_min`
apart, or seen in one frame together, are proposed as different people; pairs in between
are left undecided and claim nothing. A reviewer's decision on a pair overrides the proposal.

What the minimum may use: identities merge faces (which can only lower the figure), so
every machine proposal of "same" may; "different" raises the figure, so two identities are
distinct only when every pair of their faces is proposed distinct (or a reviewer confirmed
one pair and rejected none). With confirmed_only, only reviewers' decisions count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.core.review import ReviewState, pair


@dataclass(frozen=True)
class Face:
    """One described face: `ref` is `<media_id>#<frame_index>#<face_index>`."""

    ref: str
    media_id: str
    frame_index: int
    descriptor: np.ndarray  # 128 float32


@dataclass(frozen=True)
class FaceRelations:
    """Face pairs (sorted refs) proposed or decided as one person and as different people."""

    same: frozenset[tuple[str, str]]
    distinct: frozenset[tuple[str, str]]
    distances: Mapping[tuple[str, str], float]
    confirmed_distinct: frozenset[tuple[str, str]] = frozenset()


def propose_relations(faces: Sequence[Face], same_max: float, distinct_min: float) -> FaceRelations:
    """Machine proposals over every pair of faces (all pairs: an incident has hundreds of
    faces at most, and one matrix product compares them)."""
    if same_max >= distinct_min:
        raise ValueError("same_max must be below distinct_min (the undecided gap)")
    same: set[tuple[str, str]] = set()
    distinct: set[tuple[str, str]] = set()
    distances: dict[tuple[str, str], float] = {}
    if faces:
        vectors = np.stack([f.descriptor.astype(np.float64) for f in faces])
        squared = (vectors**2).sum(axis=1)
        gaps = np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2 * vectors @ vectors.T, 0))
        for i, a in enumerate(faces):
            for j in range(i + 1, len(faces)):
                b = faces[j]
                key = pair(a.ref, b.ref)
                distance = round(float(gaps[i, j]), 4)
                distances[key] = distance
                together = (a.media_id, a.frame_index) == (b.media_id, b.frame_index)
                if together or distance >= distinct_min:
                    distinct.add(key)
                elif distance <= same_max:
                    same.add(key)
    return FaceRelations(frozenset(same), frozenset(distinct), distances)


def reviewed_relations(
    proposed: FaceRelations, review: ReviewState, confirmed_only: bool
) -> FaceRelations:
    """Proposals with reviewers' decisions applied (a rejection removes, a confirmation
    adds); with confirmed_only, the confirmations alone."""
    refs = {r for key in proposed.distances for r in key}

    def decided(
        machine: frozenset[tuple[str, str]], verdicts: Mapping[tuple[str, str], bool]
    ) -> frozenset[tuple[str, str]]:
        base = set() if confirmed_only else set(machine)
        for key, ok in verdicts.items():
            if key[0] in refs and key[1] in refs:
                (base.add if ok else base.discard)(key)
        return frozenset(base)

    same = decided(proposed.same, review.face_same)
    distinct = decided(proposed.distinct, review.face_distinct) - same
    confirmed = frozenset(
        k for k, ok in review.face_distinct.items() if ok and k[0] in refs and k[1] in refs
    )
    return FaceRelations(same, distinct, proposed.distances, confirmed - same)


def identities(refs: Sequence[str], relations: FaceRelations) -> list[tuple[str, ...]]:
    """Faces joined by `same` into groups (each sorted, groups sorted by first face)."""
    parent = {r: r for r in refs}

    def find(r: str) -> str:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    for a, b in sorted(relations.same):
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for r in sorted(refs):
        groups.setdefault(find(r), []).append(r)
    return sorted(tuple(g) for g in groups.values())


def distinct_identities(
    groups: Sequence[tuple[str, ...]], relations: FaceRelations
) -> list[tuple[int, int]]:
    """Pairs of groups (indices) proven different: every cross pair of faces distinct, or
    one cross pair confirmed distinct by a reviewer (then the others follow)."""
    out: list[tuple[int, int]] = []
    for i, a in enumerate(groups):
        for j in range(i + 1, len(groups)):
            cross = [pair(x, y) for x in a for y in groups[j]]
            if all(k in relations.distinct for k in cross) or any(
                k in relations.confirmed_distinct for k in cross
            ):
                out.append((i, j))
    return out
