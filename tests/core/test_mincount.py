"""The minimum count: exact against brute force, with a valid certificate and a feasible witness.

The brute force here shares nothing with the solver: it places people one at a time (each
person covers a maximal compatible set of the scenes still short of people), and checks
certificates by listing every compatible set.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from fractions import Fraction
from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from pipeline.core.mincount import (
    METHOD_CLIQUE,
    METHOD_LP_DUAL,
    METHOD_SEARCH,
    METHOD_TIME_LIMIT,
    MinCountResult,
    certificate_violation,
    explain,
    heaviest_compatible_set,
    is_valid_certificate,
    min_individuals,
)
from pipeline.core.mincount.model import _graph
from pipeline.core.mincount.search import (
    _colour_assignment,  # the model behind step 3, tested on its own
)

Edges = list[tuple[str, str]]


# --- brute force ----------------------------------------------------------------------------


def compatible_sets(scenes: Sequence[str], edges: Edges) -> list[frozenset[str]]:
    """Every non-empty set of scenes no two of which are disjoint."""
    disjoint = {frozenset(e) for e in edges}
    return [
        frozenset(subset)
        for size in range(1, len(scenes) + 1)
        for subset in itertools.combinations(scenes, size)
        if not any(frozenset(pair) in disjoint for pair in itertools.combinations(subset, 2))
    ]


def brute_minimum(counts: Mapping[str, int], edges: Edges) -> int:
    """Place people one by one; a person may as well cover a maximal compatible set of the
    scenes still short, since covering more never hurts."""
    scenes = sorted(counts)
    sets = compatible_sets(scenes, edges)

    @cache
    def people_needed(short: tuple[int, ...]) -> int:
        open_scenes = {s for s, left in zip(scenes, short, strict=True) if left > 0}
        if not open_scenes:
            return 0
        candidates = [c & open_scenes for c in sets if c & open_scenes]
        maximal = {c for c in candidates if not any(c < other for other in candidates)}
        return 1 + min(
            people_needed(tuple(left - (s in c) for s, left in zip(scenes, short, strict=True)))
            for c in maximal
        )

    return people_needed(tuple(counts[s] for s in scenes))


def lp_minimum(counts: Mapping[str, int], edges: Edges) -> float:
    scenes = sorted(counts)
    sets = compatible_sets(scenes, edges)
    if not sets:
        return 0.0
    cover = np.array([[s in c for c in sets] for s in scenes], dtype=float)
    demand = np.array([counts[s] for s in scenes], dtype=float)
    result = linprog(np.ones(len(sets)), A_ub=-cover, b_ub=-demand, method="highs")
    return float(result.fun)


def heaviest_by_listing(counts: Mapping[str, int], edges: Edges, weights: Mapping[str, Fraction]):
    return max(
        (
            sum((weights.get(s, Fraction(0)) for s in c), Fraction(0))
            for c in compatible_sets(sorted(counts), edges)
        ),
        default=Fraction(0),
    )


def assert_witness_feasible(result: MinCountResult, counts: Mapping[str, int], edges: Edges):
    disjoint = {frozenset(e) for e in edges}
    covered = dict.fromkeys(counts, 0)
    for group in result.witness:
        assert group.people > 0
        for pair in itertools.combinations(group.scene_ids, 2):
            assert frozenset(pair) not in disjoint, f"{pair} are disjoint but share people"
        for scene in group.scene_ids:
            covered[scene] += group.people
    assert covered == dict(counts)


# --- strategies -------------------------------------------------------------------------------


@st.composite
def incidents(draw, max_scenes: int = 7, max_count: int = 3) -> tuple[dict[str, int], Edges]:
    scenes = [f"s{i}" for i in range(draw(st.integers(1, max_scenes)))]
    counts = {s: draw(st.integers(0, max_count)) for s in scenes}
    pairs = list(itertools.combinations(scenes, 2))
    chosen = draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
    return counts, [pair for pair, keep in zip(pairs, chosen, strict=True) if keep]


@st.composite
def holed_incidents(draw, max_scenes: int = 7) -> tuple[dict[str, int], Edges]:
    """An odd ring of disjointness (C5, C7) or its complement (the 7-antihole), where the
    clique bound falls short, plus other scenes and edges; names shuffled."""
    size = draw(st.sampled_from([5, 7] if max_scenes >= 7 else [5]))
    extra = draw(st.integers(0, max_scenes - size))
    names = draw(st.permutations([f"s{i}" for i in range(size + extra)]))
    ring = {frozenset((names[i], names[(i + 1) % size])) for i in range(size)}
    pairs = [frozenset(p) for p in itertools.combinations(names[:size], 2)]
    antihole = size == 7 and draw(st.booleans())
    edges = {p for p in pairs if (p in ring) != antihole}
    for pair in itertools.combinations(names, 2):
        if names.index(pair[1]) >= size and draw(st.booleans()):
            edges.add(frozenset(pair))
    counts = {n: draw(st.integers(2, 3)) for n in names[:size]}
    counts |= {n: draw(st.integers(0, 3)) for n in names[size:]}
    return counts, [tuple(sorted(e)) for e in sorted(edges, key=sorted)]


def any_incidents(max_scenes: int = 7) -> st.SearchStrategy[tuple[dict[str, int], Edges]]:
    return st.one_of(incidents(max_scenes), holed_incidents(max_scenes))


SMALL = settings(max_examples=150, deadline=None)


# --- properties -------------------------------------------------------------------------------


@SMALL
@given(any_incidents())
def test_minimum_equals_brute_force(incident: tuple[dict[str, int], Edges]) -> None:
    counts, edges = incident
    assert min_individuals(counts, edges).minimum == brute_minimum(counts, edges)


@SMALL
@given(any_incidents())
def test_column_generation_without_enumeration_equals_brute_force(incident) -> None:
    counts, edges = incident
    result = min_individuals(counts, edges, max_enumerated_sets=0, max_colouring_nodes=0)
    assert result.minimum == brute_minimum(counts, edges)


@SMALL
@given(any_incidents())
def test_without_the_assignment_model_the_exact_step_equals_brute_force(incident) -> None:
    counts, edges = incident
    result = min_individuals(counts, edges, max_colouring_nodes=0)
    assert result.minimum == brute_minimum(counts, edges)


def heaviest_disjoint_set(counts: Mapping[str, int], edges: Edges) -> frozenset[str]:
    """The heaviest set of pairwise-disjoint scenes, by listing every subset."""
    disjoint = {frozenset(e) for e in edges}
    scenes = sorted(counts)
    cliques = [
        frozenset(subset)
        for size in range(len(scenes) + 1)
        for subset in itertools.combinations(scenes, size)
        if all(frozenset(pair) in disjoint for pair in itertools.combinations(subset, 2))
    ]
    return max(cliques, key=lambda c: sum(counts[s] for s in c))


@SMALL
@given(any_incidents(), st.booleans())
def test_the_assignment_model_decides_exactly_whether_that_many_people_suffice(
    incident, fixed_clique: bool
) -> None:
    counts, edges = incident
    minimum = brute_minimum(counts, edges)
    ids, weights, adj = _graph(counts, edges)
    mask = sum(1 << v for v, count in enumerate(weights) if count > 0)
    clique = heaviest_disjoint_set(counts, edges) if fixed_clique else frozenset()
    clique_mask = sum(1 << ids.index(s) for s in clique if counts[s] > 0)
    for people in range(max(0, minimum - 1), minimum + 2):
        feasible, groups = _colour_assignment(mask, adj, weights, people, clique_mask, {})
        assert feasible is (people >= minimum)
        if feasible:
            named = [
                ([ids[v] for v in range(len(ids)) if scenes >> v & 1], n) for scenes, n in groups
            ]
            assert sum(n for _, n in named) <= people
            disjoint = {frozenset(e) for e in edges}
            covered = dict.fromkeys(counts, 0)
            for scenes, n in named:
                assert not any(frozenset(p) in disjoint for p in itertools.combinations(scenes, 2))
                for scene in scenes:
                    covered[scene] += n
            assert covered == dict(counts)


@SMALL
@given(any_incidents())
def test_witness_gives_every_scene_its_count_with_minimum_people(incident) -> None:
    counts, edges = incident
    result = min_individuals(counts, edges)
    assert result.optimal
    assert result.witness_total == result.minimum
    assert_witness_feasible(result, counts, edges)


@SMALL
@given(any_incidents())
def test_certificate_is_valid_and_bounds_the_minimum(incident) -> None:
    counts, edges = incident
    result = min_individuals(counts, edges)
    weights = {e.scene_id: e.weight for e in result.certificate}
    assert all(w > 0 for w in weights.values())
    assert heaviest_by_listing(counts, edges, weights) <= 1
    assert is_valid_certificate(counts, edges, weights)
    proven = sum((w * counts[s] for s, w in weights.items()), Fraction(0))
    assert result.certificate_bound == math.ceil(proven) <= result.minimum
    assert result.clique_bound <= result.certificate_bound


@SMALL
@given(any_incidents())
def test_certificate_proves_the_minimum_whenever_the_lp_rounds_up_to_it(incident) -> None:
    counts, edges = incident
    result = min_individuals(counts, edges)
    if math.ceil(lp_minimum(counts, edges) - 1e-9) == result.minimum:
        assert result.certificate_bound == result.minimum
        assert result.method in (METHOD_CLIQUE, METHOD_LP_DUAL)
    else:
        assert result.method == METHOD_SEARCH


@SMALL
@given(any_incidents(max_scenes=6), st.data())
def test_a_repost_without_disjointness_never_raises_the_minimum(incident, data) -> None:
    counts, edges = incident
    original = data.draw(st.sampled_from(sorted(counts)))
    reposted = {**counts, "repost": counts[original]}
    assert min_individuals(reposted, edges).minimum == min_individuals(counts, edges).minimum


@SMALL
@given(any_incidents(max_scenes=6), st.data())
def test_a_repost_with_the_originals_disjointness_never_raises_the_minimum(incident, data):
    counts, edges = incident
    original = data.draw(st.sampled_from(sorted(counts)))
    copied = [("repost", b if a == original else a) for a, b in edges if original in (a, b)]
    reposted = {**counts, "repost": counts[original]}
    assert (
        min_individuals(reposted, edges + copied).minimum == min_individuals(counts, edges).minimum
    )


@SMALL
@given(any_incidents(), st.data())
def test_removing_a_disjointness_never_raises_the_minimum(incident, data) -> None:
    counts, edges = incident
    if not edges:
        return
    dropped = data.draw(st.sampled_from(edges))
    fewer = [e for e in edges if e != dropped]
    assert min_individuals(counts, fewer).minimum <= min_individuals(counts, edges).minimum


@settings(max_examples=25, deadline=None)
@given(incidents(max_scenes=12, max_count=20))
def test_assignment_model_exact_step_and_branch_and_price_agree_on_larger_incidents(
    incident,
) -> None:
    counts, edges = incident
    default = min_individuals(counts, edges)
    enumerated = min_individuals(counts, edges, max_colouring_nodes=0)
    searched = min_individuals(counts, edges, max_enumerated_sets=0, max_colouring_nodes=0)
    assert default.minimum == enumerated.minimum == searched.minimum
    for result in (default, enumerated, searched):
        assert_witness_feasible(result, counts, edges)


def random_sparse_incident(seed: int, scenes: int, edges: int) -> tuple[dict[str, int], Edges]:
    """G(n, m) with counts like annotations (log-normal, median 4, clipped to 1..30): the
    instances of bench_solver, where greedy witnesses miss the heaviest clique."""
    rng = random.Random(seed)
    ids = [f"scene{i:03d}" for i in range(scenes)]
    counts = {s: min(30, max(1, round(rng.lognormvariate(math.log(4), 0.8)))) for s in ids}
    chosen = rng.sample(list(itertools.combinations(ids, 2)), edges)
    return counts, sorted(chosen)


def test_two_hundred_random_scenes_are_solved_exactly_where_the_dive_falls_short() -> None:
    # bench_solver's seed 17: the greedy witness needs 44 people, a full dive 40; the assignment
    # model finds 39, the heaviest clique.
    counts, edges = random_sparse_incident(17, 200, 2000)
    result = min_individuals(counts, edges)
    assert result.optimal
    assert result.minimum == result.clique_bound == result.witness_total
    assert result.method == METHOD_CLIQUE
    assert_witness_feasible(result, counts, edges)


def test_same_incident_in_any_order_gives_the_same_result() -> None:
    counts = {f"s{i}": (7 * i) % 11 for i in range(9)}
    edges = [(f"s{i}", f"s{(i + 1) % 9}") for i in range(9)] + [("s0", "s4"), ("s2", "s6")]
    shuffled_counts = dict(reversed(list(counts.items())))
    shuffled_edges = [(b, a) for a, b in reversed(edges)]
    assert min_individuals(counts, edges) == min_individuals(shuffled_counts, shuffled_edges)


# --- named examples ---------------------------------------------------------------------------


def test_without_disjointness_the_busiest_scene_is_the_minimum() -> None:
    result = min_individuals({"a": 4, "b": 12, "c": 9}, [])
    assert result.minimum == result.clique_bound == 12
    assert result.clique == ("b",)
    assert result.upper_bound == 25
    assert result.method == METHOD_CLIQUE


def test_all_scenes_pairwise_disjoint_sum_up() -> None:
    counts = {"a": 4, "b": 12, "c": 9, "d": 1}
    result = min_individuals(counts, list(itertools.combinations(counts, 2)))
    assert result.minimum == result.upper_bound == 26
    assert [e.weight for e in result.certificate] == [1, 1, 1, 1]


def test_five_scenes_disjoint_in_a_ring_need_twenty_five() -> None:
    ring = {scene: 10 for scene in "ABCDE"}
    edges = [("A", "B"), ("B", "C"), ("C", "D"), ("D", "E"), ("E", "A")]
    result = min_individuals(ring, edges)
    assert result.minimum == 25
    assert result.clique_bound == 20
    assert result.method == METHOD_LP_DUAL
    assert [(e.scene_id, e.weight) for e in result.certificate] == [
        (scene, Fraction(1, 2)) for scene in "ABCDE"
    ]
    assert result.lp_bound == 25
    assert_witness_feasible(result, ring, edges)


def test_two_groups_disjoint_from_each_other_add_their_largest_scenes() -> None:
    counts = {"town_1": 12, "town_1_later": 9, "town_2": 7, "town_2_later": 4}
    edges = [(a, b) for a in ("town_1", "town_1_later") for b in ("town_2", "town_2_later")]
    result = min_individuals(counts, edges)
    assert result.minimum == 19
    assert result.clique == ("town_1", "town_2")
    assert result.method == METHOD_CLIQUE


def test_scenes_with_nobody_change_nothing() -> None:
    result = min_individuals({"a": 5, "empty": 0}, [("a", "empty")])
    assert result.minimum == 5
    assert all(group.scene_ids == ("a",) for group in result.witness)


def test_no_scenes_need_no_one() -> None:
    result = min_individuals({}, [])
    assert (result.minimum, result.witness, result.certificate) == (0, (), ())


def test_above_every_certificate_the_exhaustive_search_decides() -> None:
    # The Grötzsch graph: fractional chromatic number 29/10, chromatic number 4.
    cycle = [(i, (i + 1) % 5) for i in range(5)]
    pairs = cycle + [(a, 5 + b) for a, b in cycle] + [(b, 5 + a) for a, b in cycle]
    pairs += [(5 + i, 10) for i in range(5)]
    counts = {f"v{i:02d}": 1 for i in range(11)}
    edges = [(f"v{a:02d}", f"v{b:02d}") for a, b in pairs]
    for max_sets, max_nodes in ((50_000, 500), (50_000, 0), (0, 0)):
        result = min_individuals(
            counts, edges, max_enumerated_sets=max_sets, max_colouring_nodes=max_nodes
        )
        assert (result.minimum, result.certificate_bound) == (4, 3)
        assert result.lp_bound == Fraction(29, 10)
        assert result.method == METHOD_SEARCH
        assert_witness_feasible(result, counts, edges)


def test_a_time_limit_reports_a_proven_bound_never_the_witness() -> None:
    ring = {scene: 10 for scene in "ABCDE"}
    edges = [("A", "B"), ("B", "C"), ("C", "D"), ("D", "E"), ("E", "A")]
    result = min_individuals(ring, edges, time_limit_s=0)
    assert result.minimum <= 25 <= result.witness_total
    if not result.optimal:
        assert result.method == METHOD_TIME_LIMIT
        assert result.minimum == result.certificate_bound
    assert_witness_feasible(result, ring, edges)


# --- input errors -----------------------------------------------------------------------------


def test_disjointness_naming_an_unknown_scene_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown scene 'ghost'"):
        min_individuals({"a": 1, "b": 2}, [("a", "ghost")])


def test_a_scene_disjoint_from_itself_is_an_error() -> None:
    with pytest.raises(ValueError, match="itself"):
        min_individuals({"a": 1}, [("a", "a")])


@pytest.mark.parametrize("count", [-1, 2.5, True, "3"])
def test_counts_must_be_non_negative_integers(count: object) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        min_individuals({"a": count}, [])  # type: ignore[dict-item]


# --- certificate checks and the sentence ------------------------------------------------------


def test_an_overweight_certificate_is_caught_with_the_offending_scenes() -> None:
    edges = [("A", "B"), ("B", "C"), ("C", "D"), ("D", "E"), ("E", "A")]
    weights = dict.fromkeys("ABCDE", Fraction(2, 3))
    offending = certificate_violation("ABCDE", edges, weights)
    assert offending is not None and len(offending) == 2
    assert not is_valid_certificate("ABCDE", edges, weights)
    assert heaviest_compatible_set("ABCDE", edges, weights)[1] == Fraction(4, 3)
    assert is_valid_certificate("ABCDE", edges, dict.fromkeys("ABCDE", Fraction(1, 2)))


def test_negative_weights_are_not_a_certificate() -> None:
    assert certificate_violation("AB", [], {"A": Fraction(-1), "B": 1}) == ("A",)


def test_explanation_quotes_the_reasons_of_a_clique() -> None:
    counts = {"A": 12, "B": 7}
    result = min_individuals(counts, [("A", "B")])
    sentence = explain(result, counts, {("B", "A"): "different towns, same hour"})
    assert sentence == (
        "At least 19 individuals: A shows 12, B shows 7; "
        "A and B cannot share anyone (different towns, same hour)."
    )


def test_explanation_spells_out_fractional_weights() -> None:
    ring = {scene: 10 for scene in "ABCDE"}
    edges = [("A", "B"), ("B", "C"), ("C", "D"), ("D", "E"), ("E", "A")]
    sentence = explain(min_individuals(ring, edges), ring)
    assert sentence.startswith("At least 25 individuals: A shows 10 (weight 1/2)")
    assert sentence.count("(weight 1/2)") == 5


def test_explanation_after_a_time_limit_gives_both_sides() -> None:
    counts = {"A": 3}
    exact = min_individuals(counts, [])
    stopped = replace(exact, optimal=False, method="time-limit")
    sentence = explain(stopped, counts, time_limit_s=2.5)
    assert "the solver stopped after 2.5 s" in sentence and "lies between them" in sentence
    assert "Not proven" not in explain(exact, counts)
