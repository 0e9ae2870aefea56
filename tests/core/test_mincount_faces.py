"""core/mincount/faces: identities and distinct faces in the minimum, exact against a brute
force search over assignments of people, certificates checked."""

from __future__ import annotations

import itertools
from fractions import Fraction
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.mincount.faces import FaceIdentity, face_model, min_individuals_with_faces

TWO_FIVES = {"A": 5, "B": 5}


def faces_in(scene: str, names: str) -> list[FaceIdentity]:
    return [FaceIdentity(name, frozenset({scene})) for name in names]


def all_distinct(identities: list[FaceIdentity]) -> list[tuple[str, str]]:
    return [(a.identity_id, b.identity_id) for a, b in itertools.combinations(identities, 2)]


def test_ten_pairwise_different_faces_in_two_scenes_of_five_need_ten() -> None:
    ids = faces_in("A", "abcde") + faces_in("B", "fghij")
    result, _ = min_individuals_with_faces(TWO_FIVES, [], ids, all_distinct(ids))
    assert result.minimum == 10
    assert min_individuals_with_faces(TWO_FIVES, [], [], [])[0].minimum == 5


def test_one_face_shared_by_both_scenes_lowers_it_by_one() -> None:
    ids = [*faces_in("A", "abcd"), *faces_in("B", "fghi"), FaceIdentity("s", frozenset("AB"))]
    result, model = min_individuals_with_faces(TWO_FIVES, [], ids, all_distinct(ids))
    assert result.minimum == 9
    assert "s" in model.placed["A"] and "s" in model.placed["B"]


def test_faces_not_proven_different_may_be_one_person() -> None:
    ids = faces_in("A", "abcde") + faces_in("B", "fghij")
    within = [p for p in all_distinct(ids) if (p[0] in "abcde") == (p[1] in "abcde")]
    assert min_individuals_with_faces(TWO_FIVES, [], ids, within)[0].minimum == 5


def test_a_face_in_two_disjoint_scenes_is_a_contradiction_left_out() -> None:
    ids = [FaceIdentity("x", frozenset("AB")), FaceIdentity("y", frozenset("A"))]
    result, model = min_individuals_with_faces(TWO_FIVES, [("A", "B")], ids, [])
    assert [(c.identity_id, c.scene_a, c.scene_b) for c in model.contradictions] == [
        ("x", "A", "B")
    ]
    assert "face:x" not in model.counts and result.minimum == 10


def test_certificate_names_the_faces_that_prove_it() -> None:
    ids = faces_in("A", "abcde") + faces_in("B", "fghij")
    result, model = min_individuals_with_faces(TWO_FIVES, [], ids, all_distinct(ids))
    check_certificate(result.certificate, model.counts, model.edges, result.minimum)
    assert any(e.scene_id.startswith("face:") for e in result.certificate)


def check_certificate(
    certificate: tuple, counts: dict[str, int], edges: tuple, minimum: int
) -> None:
    """No compatible set of nodes (an independent set of the graph) weighs more than 1, and
    the weighted counts reach the minimum: the proof a reader can check."""
    weight = {e.scene_id: Fraction(e.weight) for e in certificate}
    nodes = sorted(weight)
    apart = {frozenset(e) for e in edges}
    for size in range(1, len(nodes) + 1):
        for group in itertools.combinations(nodes, size):
            if all(frozenset(p) not in apart for p in itertools.combinations(group, 2)):
                assert sum(weight[n] for n in group) <= 1
    assert sum(weight[n] * counts[n] for n in nodes) > minimum - 1


# --- brute force: the model in docs/count.md searched directly --------------------------------


def brute_force(
    counts: dict[str, int],
    disjoint: list[tuple[str, str]],
    identities: list[FaceIdentity],
    distinct: list[tuple[str, str]],
) -> int:
    """Smallest number of people: identities are merged into people (never two distinct
    ones), each person is in a set of pairwise compatible scenes containing every scene where
    its faces were seen, and anonymous people fill each scene up to its count."""
    scenes = sorted(counts)
    apart = {frozenset(p) for p in disjoint}
    different = {frozenset(p) for p in distinct}
    ids = [i for i in identities if not _clash(i.scenes & set(scenes), apart)]
    compatible = [
        frozenset(c)
        for size in range(1, len(scenes) + 1)
        for c in itertools.combinations(scenes, size)
        if not _clash(frozenset(c), apart)
    ]

    @cache
    def fill(deficit: tuple[int, ...]) -> int:
        if all(d <= 0 for d in deficit):
            return 0
        first = next(k for k, d in enumerate(deficit) if d > 0)
        return 1 + min(
            fill(tuple(d - (scenes[k] in c) for k, d in enumerate(deficit)))
            for c in compatible
            if scenes[first] in c
        )

    best = None
    for blocks in _partitions(list(range(len(ids)))):
        if any(
            frozenset((ids[a].identity_id, ids[b].identity_id)) in different
            for block in blocks
            for a, b in itertools.combinations(block, 2)
        ):
            continue
        needs = [frozenset().union(*(ids[k].scenes & set(scenes) for k in b)) for b in blocks]
        if any(_clash(n, apart) for n in needs):
            continue
        options = [[c for c in compatible if n <= c] for n in needs]
        for chosen in itertools.product(*options):
            deficit = tuple(counts[s] - sum(s in c for c in chosen) for s in scenes)
            total = len(blocks) + fill(deficit)
            best = total if best is None else min(best, total)
    assert best is not None
    return best


def _clash(scenes: frozenset[str], apart: set[frozenset[str]]) -> bool:
    return any(frozenset(p) in apart for p in itertools.combinations(sorted(scenes), 2))


def _partitions(items: list[int]) -> list[list[list[int]]]:
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for partition in _partitions(rest):
        out.append([[first], *partition])
        for k in range(len(partition)):
            out.append([*partition[:k], [first, *partition[k]], *partition[k + 1 :]])
    return out


SCENES = ("A", "B", "C")
PAIRS = list(itertools.combinations(SCENES, 2))


@st.composite
def cases(draw: st.DrawFn) -> tuple:
    counts = {s: draw(st.integers(0, 2)) for s in SCENES}
    disjoint = [p for p in PAIRS if draw(st.booleans())]
    n = draw(st.integers(0, 3))
    identities = [
        FaceIdentity(f"i{k}", frozenset(draw(st.sets(st.sampled_from(SCENES), min_size=1))))
        for k in range(n)
    ]
    names = [i.identity_id for i in identities]
    distinct = [p for p in itertools.combinations(names, 2) if draw(st.booleans())]
    return counts, disjoint, identities, distinct


@settings(max_examples=150, deadline=None)
@given(cases())
def test_exact_against_brute_force_with_checked_certificates(case: tuple) -> None:
    counts, disjoint, identities, distinct = case
    result, model = min_individuals_with_faces(counts, disjoint, identities, distinct)
    assert result.minimum == brute_force(counts, disjoint, identities, distinct)
    check_certificate(result.certificate, model.counts, model.edges, result.minimum)


def test_face_model_places_only_pairwise_distinct_faces_in_a_scene() -> None:
    ids = faces_in("A", "abc")
    model = face_model({"A": 5}, [], ids, [("a", "b")])
    assert model.placed["A"] == ("a", "b") and model.counts["A"] == 3
