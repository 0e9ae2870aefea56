"""The minimum number of distinct individuals that a set of scenes proves, and the proof.

Model (DESIGN.md, "The minimum count"): scene s shows c_s people; a disjointness edge says two
scenes share no one. One person can appear in any set of pairwise compatible scenes (an
independent set I of the disjointness graph G), so the minimum is the weighted multicolouring

    min Σ_I x_I   over independent sets I of G, x_I ∈ ℤ≥0,   with Σ_{I ∋ s} x_I ≥ c_s for all s.

Two kinds of proof come with it. The heaviest clique of G (pairwise-disjoint scenes, counts
summed) is the one a reader checks by hand. The general one is the LP dual: scene weights
y_s ≥ 0 such that no independent set weighs more than 1, so each person adds at most 1 to
Σ_s y_s c_s, and the minimum is at least its ceiling (five 10-person scenes disjoint in a ring:
y = 1/2 each, 25 people, where the clique bound says 20).

How it is solved, exactly and deterministically:

1. Reductions that keep the optimum, the clique bound and the LP value: scenes with count 0
   drop out; a scene whose disjoint partners all are partners of a scene t with c_t ≥ c_s
   rides along with t's people; a scene outside the heaviest clique with c_s + Σ_{t~s} c_t
   at most the clique bound fits among the people its partners leave free.
2. Decomposition: over the components of G the minimum is the maximum (people are shared);
   over the components of G's complement (every scene of one part disjoint from every scene
   of the other, as for two named groups) it is the sum. Certificates and witnesses compose.
3. Each remaining part: the exact heaviest clique against a greedy witness; when they meet,
   the clique is the certificate. Otherwise column generation solves the LP (greedy and
   local-search pricing; exact pricing by our branch and bound on small supports, HiGHS on
   large ones), and the integer side tries, in order: a short price-and-dive; HiGHS on the
   compact colour-assignment model for z = ⌈LP⌉, ⌈LP⌉ + 1, ... people (binary "person k is
   in scene s", with the clique's scenes given the first people in blocks, which removes
   most of the symmetry); a longer dive and HiGHS over the generated columns. Where the LP
   meets the clique (random sparse graphs with counts like annotations) the assignment model
   usually finds that colouring at its root node, so the clique proves the minimum.
4. The exact step, when the bounds still differ: the assignment model proves "z people do
   not suffice" when it finishes within its node limit; otherwise, a solution of z people only
   uses maximal independent sets whose reduced cost 1 - y(I) is at most z - Σ y_s c_s, so
   those sets are enumerated and HiGHS decides whether z people suffice. Where they are too
   many (LP dual ≈ the clique on big sparse graphs), branch-and-price on aggregated column
   sums Σ_{I ⊇ S} x_I, which is complete but can be slow.
5. The dual weights are rounded to nearby fractions and re-verified exactly (integer branch
   and bound for the heaviest compatible set); if they overshoot they are scaled down, so the
   certificate is always valid and its bound is exact rational arithmetic.

HiGHS runs under node limits, not time limits, unless the caller gives one, so the exact mode
does not depend on the machine. 200 random scenes with 2,000 edges and counts like annotations
take 0.1-6 s (BENCHMARKS.md, solver). Many heavy scenes together are the hard case (the same
graphs with counts uniform in 1..30): weighted colouring is NP-hard, the assignment model does
not find a colouring at the clique bound within minutes, and above the clique the LP needs
exact pricing, itself a maximum-weight independent set problem, on ~160-scene supports, which
takes minutes. With `time_limit_s` the solver stops and reports the best bound it can prove
(`optimal` is False), never the unproven upper side.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral
from typing import TypeVar, cast

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csc_array, hstack, vstack

METHOD_CLIQUE = "clique"  # the heaviest clique proves the minimum
METHOD_LP_DUAL = "lp-dual"  # the fractional certificate proves it, the clique does not
METHOD_SEARCH = "exhaustive-search"  # above every certificate: the integer search proves it
METHOD_TIME_LIMIT = "time-limit"  # not proven optimal; `minimum` is the best proven bound

# The exact step enumerates the maximal independent sets that can still be in a better
# solution (small reduced cost) and hands them to HiGHS; past this many, branch-and-price.
# Enumeration runs ~100,000 sets/s; HiGHS solves 10^4-column covers in about a second.
DEFAULT_MAX_ENUMERATED_SETS = 50_000
# HiGHS branch-and-bound nodes on the colour-assignment model, per number of people tried.
# On 200 random scenes with 2,000 edges it finds the colouring at the root node (bench_solver);
# the cap bounds the symmetric search when no colouring exists, before the exact steps. It does
# not bound the root node itself: with uniform counts in 1..30, HiGHS's root at the clique bound
# ran past 300 s even with a limit of 3 nodes, so only `time_limit_s` bounds that case.
DEFAULT_MAX_COLOURING_NODES = 500

_EPS = 1e-7  # HiGHS's default primal/dual feasibility tolerance
_INTEGRAL_EPS = 1e-6  # an LP value this close to an integer counts as that integer
_DENOMINATOR_LIMITS = (1_000, 1_000_000)  # dual vertices have small denominators in practice
_PRICING_COLUMNS = 30  # columns added per pricing round: fewer LP solves, small masters
_CHECK_EVERY = 2_000  # branch-and-bound nodes between deadline checks
# Our pricing branch and bound beats HiGHS up to ~60-scene supports (0.04 s vs 0.6 s at 50
# scenes in bench_solver's instances) and loses above ~100: past this many nodes, HiGHS.
_PRICING_NODE_BUDGET = 20_000
# The restricted integer master closes most one-person gaps the dive leaves, in well under a
# second at 60 scenes (bench_solver); the limits keep it from eating the exact step's time.
_POOL_ILP_NODES = 1_000
# Before the assignment model, the dive may run until the root and it have solved this many
# master LPs. On 200 random scenes (bench_solver) a dive that reaches ⌈LP⌉ quickly does so by
# then, after a root of a few LPs; a root of 40 LPs comes with a dive of 100+ (13 s) that
# fails, where the assignment model takes 1-3 s.
_EARLY_LPS = 20
_POOL_ILP_SHARE = 0.25

W = TypeVar("W", int, float, Fraction)


@dataclass(frozen=True)
class CertificateEntry:
    """One scene of the proof and its weight y_s (1 for every scene of a clique)."""

    scene_id: str
    weight: Fraction


@dataclass(frozen=True)
class PersonGroup:
    """`people` individuals who each appear in exactly these scenes (pairwise compatible)."""

    scene_ids: tuple[str, ...]
    people: int


@dataclass(frozen=True)
class MinCountResult:
    """The minimum count, its bounds and its proof.

    `minimum` is the exact optimum when `optimal`; after a time limit it is the best bound the
    certificate or the decomposition proves, so a report may always say "at least `minimum`".
    `witness` is an assignment of `witness_total` people that gives every scene exactly its
    count and never puts one person in two disjoint scenes: it shows the minimum is reachable.
    `lp_bound` is Σ y_s c_s of the verified fractional certificate (the LP optimum when solved).
    After a time limit `clique_bound` is the heaviest clique found, which may not be the
    heaviest there is.
    """

    minimum: int
    optimal: bool
    clique_bound: int
    upper_bound: int
    clique: tuple[str, ...]
    certificate: tuple[CertificateEntry, ...]
    certificate_bound: int
    lp_bound: Fraction
    method: str
    witness: tuple[PersonGroup, ...]

    @property
    def witness_total(self) -> int:
        return sum(group.people for group in self.witness)


def min_individuals(
    counts: Mapping[str, int],
    disjoint: Iterable[tuple[str, str]],
    *,
    time_limit_s: float | None = None,
    max_enumerated_sets: int = DEFAULT_MAX_ENUMERATED_SETS,
    max_colouring_nodes: int = DEFAULT_MAX_COLOURING_NODES,
) -> MinCountResult:
    """Smallest number of individuals consistent with the counts and the disjointness edges.

    Counts are non-negative integers (0 is allowed); edges name two different known scenes
    (repeated edges are harmless), else ValueError. Without a time limit the answer is exact
    and deterministic; with one, a slower machine may stop with a weaker (still proven) bound.
    `max_enumerated_sets` caps the exact step's enumeration (module docstring, step 4) before
    it hands over to branch-and-price; 0 goes straight to branch-and-price.
    `max_colouring_nodes` caps HiGHS's branch and bound on the colour-assignment model (step
    3); 0 skips that model, leaving the column-based steps alone.
    """
    ids, weights, adj = _graph(counts, disjoint)
    deadline = _Deadline(time_limit_s)
    active = sum(1 << v for v, count in enumerate(weights) if count > 0)
    kept, removals = _reduce(active, adj, weights, deadline)
    limits = _Limits(max_enumerated_sets, max_colouring_nodes)
    part = _solve_decomposed(kept, adj, weights, deadline, limits)
    groups = _restore(part.groups, removals, adj, weights)
    return _result(ids, weights, part, groups)


def heaviest_compatible_set(
    scene_ids: Iterable[str],
    disjoint: Iterable[tuple[str, str]],
    weights: Mapping[str, Fraction | int],
) -> tuple[tuple[str, ...], Fraction]:
    """The heaviest set of mutually compatible scenes under `weights`, exactly (no floats).

    Scenes missing from `weights` weigh 0. This is the check behind every certificate: the
    weights prove "at least ⌈Σ y_s c_s⌉" only if the returned weight is at most 1.
    """
    ids, _, adj = _graph(dict.fromkeys(scene_ids, 0), disjoint)
    index = {scene_id: v for v, scene_id in enumerate(ids)}
    rational = [Fraction(0)] * len(ids)
    for scene_id, weight in weights.items():
        if scene_id not in index:
            raise ValueError(f"weight for unknown scene {scene_id!r}")
        rational[index[scene_id]] = Fraction(weight)
    mask = sum(1 << v for v, weight in enumerate(rational) if weight > 0)
    heaviest, chosen = _heaviest_independent_set_exact(mask, adj, rational, _Deadline(None))
    return tuple(ids[v] for v in _bits(chosen)), heaviest


def certificate_violation(
    scene_ids: Iterable[str],
    disjoint: Iterable[tuple[str, str]],
    weights: Mapping[str, Fraction | int],
) -> tuple[str, ...] | None:
    """Compatible scenes whose weights sum above 1 (or a negatively weighted scene), else None."""
    negative = tuple(sorted(scene_id for scene_id, w in weights.items() if w < 0))
    if negative:
        return negative
    scenes, heaviest = heaviest_compatible_set(scene_ids, disjoint, weights)
    return scenes if heaviest > 1 else None


def is_valid_certificate(
    scene_ids: Iterable[str],
    disjoint: Iterable[tuple[str, str]],
    weights: Mapping[str, Fraction | int],
) -> bool:
    """True when no set of mutually compatible scenes weighs more than 1 (all weights ≥ 0)."""
    return certificate_violation(scene_ids, disjoint, weights) is None


def explain(
    result: MinCountResult,
    counts: Mapping[str, int],
    reasons: Mapping[tuple[str, str], str] | None = None,
    time_limit_s: float | None = None,
) -> str:
    """The sentence counts.csv and the report show: "At least N individuals: A shows a, B
    shows b (weight 1/2); A and B cannot share anyone (reason)." naming each certificate scene
    with its count (and its weight when not 1) and quoting the reasons of every disjoint pair
    among them, which is what a reader checks by hand.

    `reasons` maps disjointness pairs (either order) to the written reason. When the solver
    stopped at `time_limit_s`, the sentence says the minimum is proven and how many people
    are enough, so the exact minimum lies between them.
    """
    written = {frozenset(pair): reason for pair, reason in (reasons or {}).items()}
    proof = [entry.scene_id for entry in result.certificate]
    because = "; ".join(
        f"{a} and {b} cannot share anyone ({written[frozenset((a, b))]})"
        for i, a in enumerate(proof)
        for b in proof[i + 1 :]
        if frozenset((a, b)) in written
    )
    shown = ", ".join(
        f"{e.scene_id} shows {counts[e.scene_id]}"
        + (f" (weight {e.weight})" if e.weight != 1 else "")
        for e in result.certificate
    )
    sentence = (
        f"At least {result.minimum} individuals: {shown}"
        + (f"; {because}" if because else "")
        + "."
    )
    if not result.optimal:
        sentence += (
            f" Not proven exact: the solver stopped after {time_limit_s or 0:g} s"
            f" (count.solver_time_limit_s); {result.minimum} is proven, and"
            f" {result.witness_total} people are enough, so the minimum lies between them."
        )
    return sentence


# --- input -------------------------------------------------------------------------------


def _graph(
    counts: Mapping[str, int], disjoint: Iterable[tuple[str, str]]
) -> tuple[list[str], list[int], list[int]]:
    """Scene ids in sorted order (the determinism), their counts and adjacency bitmasks."""
    ids = sorted(counts)
    index = {scene_id: v for v, scene_id in enumerate(ids)}
    weights: list[int] = []
    for scene_id in ids:
        count = counts[scene_id]
        if isinstance(count, bool) or not isinstance(count, Integral) or count < 0:
            raise ValueError(f"count for scene {scene_id!r} must be a non-negative integer")
        weights.append(int(count))
    adj = [0] * len(ids)
    for edge in disjoint:
        a, b = edge
        for scene_id in (a, b):
            if scene_id not in index:
                raise ValueError(f"disjointness names unknown scene {scene_id!r}")
        if a == b:
            raise ValueError(f"scene {a!r} cannot be disjoint from itself")
        adj[index[a]] |= 1 << index[b]
        adj[index[b]] |= 1 << index[a]
    return ids, weights, adj


class _TimeUp(Exception):
    """Raised deep in a search when the caller's time limit has passed."""


class _Deadline:
    def __init__(self, limit_s: float | None) -> None:
        self._end = None if limit_s is None else time.monotonic() + max(0.0, limit_s)

    def remaining(self) -> float:
        return math.inf if self._end is None else self._end - time.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise _TimeUp


# --- bitmask graph helpers ---------------------------------------------------------------


def _bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _complement(mask: int, adj: Sequence[int]) -> list[int]:
    out = [0] * len(adj)
    for v in _bits(mask):
        out[v] = mask & ~adj[v] & ~(1 << v)
    return out


def _components(mask: int, adj: Sequence[int]) -> list[int]:
    components = []
    rest = mask
    while rest:
        component = frontier = rest & -rest
        while frontier:
            v = (frontier & -frontier).bit_length() - 1
            frontier &= frontier - 1
            new = adj[v] & rest & ~component
            component |= new
            frontier |= new
        components.append(component)
        rest &= ~component
    return components


def _heaviest_clique(
    mask: int,
    adj: Sequence[int],
    weight: Sequence[W],
    deadline: _Deadline,
    node_budget: int | None = None,
) -> tuple[W, int, bool]:
    """Heaviest clique within `mask`: branch and bound with a greedy colouring bound.

    Vertices of one colour class are pairwise non-adjacent, so a clique takes at most one of
    each; the class maxima summed bound what is left. On the deadline or past `node_budget`
    the best clique found so far comes back (still a clique, so still a valid bound) with
    complete=False.
    """
    order = sorted((v for v in _bits(mask) if weight[v] > 0), key=lambda v: (-weight[v], v))
    zero = cast(W, weight[order[0]] * 0 if order else 0)  # 0 of the weights' own type
    best: list = [zero, 0]
    nodes = [0]

    def expand(clique: int, clique_weight: W, candidates: int) -> None:
        if clique_weight > best[0]:
            best[0], best[1] = clique_weight, clique
        nodes[0] += 1
        if nodes[0] % _CHECK_EVERY == 0:
            deadline.check()
        if node_budget is not None and nodes[0] > node_budget:
            raise _TimeUp
        classes: list[int] = []
        members: list[list[int]] = []
        maxima: list[W] = []
        for v in order:
            if not candidates >> v & 1:
                continue
            for i, colour in enumerate(classes):
                if not adj[v] & colour:
                    classes[i] |= 1 << v
                    members[i].append(v)
                    break
            else:
                classes.append(1 << v)
                members.append([v])
                maxima.append(weight[v])
        sequence: list[int] = []
        bounds: list[W] = []
        total = zero
        for i, colour_members in enumerate(members):
            total += maxima[i]
            sequence.extend(colour_members)
            bounds.extend([total] * len(colour_members))
        for i in range(len(sequence) - 1, -1, -1):
            if clique_weight + bounds[i] <= best[0]:
                return
            v = sequence[i]
            expand(clique | 1 << v, clique_weight + weight[v], candidates & adj[v])
            candidates &= ~(1 << v)

    try:
        expand(0, zero, sum(1 << v for v in order))
    except _TimeUp:
        return best[0], best[1], False
    return best[0], best[1], True


def _heaviest_independent_set_exact(
    mask: int, adj: Sequence[int], weight: Sequence[Fraction], deadline: _Deadline
) -> tuple[Fraction, int]:
    """Exact heaviest independent set: rational weights scaled to integers, then cliques of
    the complement. Raises _TimeUp rather than return an unproven value."""
    denominator = math.lcm(*(weight[v].denominator for v in _bits(mask))) if mask else 1
    scaled = [int(w * denominator) if mask >> v & 1 else 0 for v, w in enumerate(weight)]
    total, chosen, complete = _heaviest_clique(mask, _complement(mask, adj), scaled, deadline)
    if not complete:
        raise _TimeUp
    return Fraction(total, denominator), chosen


def _maximal_independent_sets(
    mask: int,
    adj: Sequence[int],
    weight: Sequence[float],
    threshold: float,
    limit: int,
    deadline: _Deadline,
) -> list[int] | None:
    """Every maximal independent set within `mask` weighing at least `threshold` (Bron–Kerbosch
    with pivoting on the complement; a branch whose candidates cannot reach the threshold is
    cut), or None when there are more than `limit`."""
    complement = _complement(mask, adj)
    found: list[int] = []
    nodes = [0]

    def visit(chosen: int, chosen_weight: float, candidates: int, excluded: int) -> bool:
        nodes[0] += 1
        if nodes[0] % _CHECK_EVERY == 0:
            deadline.check()
        if chosen_weight + sum(weight[v] for v in _bits(candidates)) < threshold:
            return True
        if not candidates:
            if not excluded:
                found.append(chosen)
            return len(found) <= limit
        pivot = max(
            _bits(candidates | excluded), key=lambda u: (complement[u] & candidates).bit_count()
        )
        for v in _bits(candidates & ~complement[pivot]):
            if not visit(
                chosen | 1 << v,
                chosen_weight + weight[v],
                candidates & complement[v],
                excluded & complement[v],
            ):
                return False
            candidates &= ~(1 << v)
            excluded |= 1 << v
        return True

    return found if visit(0, 0.0, mask, 0) else None


def _fill(chosen: int, order: Sequence[int], adj: Sequence[int]) -> int:
    """Add vertices of `order` (in that order) to the independent set `chosen` while possible."""
    blocked = chosen
    for v in _bits(chosen):
        blocked |= adj[v]
    for v in order:
        if not blocked >> v & 1:
            chosen |= 1 << v
            blocked |= adj[v] | 1 << v
    return chosen


# --- reductions and decomposition --------------------------------------------------------


@dataclass(frozen=True)
class _Removal:
    """A scene set aside before solving: `host` is the scene whose people it joins, or -1
    for a scene that joins people its disjoint partners leave free."""

    scene: int
    host: int


def _reduce(
    mask: int, adj: Sequence[int], weight: Sequence[int], deadline: _Deadline
) -> tuple[int, list[_Removal]]:
    """Set aside dominated and light scenes until none is left (see the module docstring).

    The light test needs a lower bound for the graph without s: the heaviest clique, when s
    is not in it. A pass starts over when it removes a scene of that clique.
    """
    removals: list[_Removal] = []
    changed = True
    while changed:
        changed = False
        clique_weight, clique, _ = _heaviest_clique(mask, adj, weight, deadline)
        hosts = sorted(_bits(mask), key=lambda t: (-weight[t], t))
        for s in sorted(_bits(mask), key=lambda v: (weight[v], (adj[v] & mask).bit_count(), v)):
            partners = adj[s] & mask
            host = next(
                (
                    t
                    for t in hosts
                    if t != s
                    and mask >> t & 1
                    and weight[t] >= weight[s]
                    and not partners & ~adj[t]
                ),
                None,
            )
            if host is not None:
                removals.append(_Removal(s, host))
            elif not clique >> s & 1 and (
                weight[s] + sum(weight[t] for t in _bits(partners)) <= clique_weight
            ):
                removals.append(_Removal(s, -1))
            else:
                continue
            mask &= ~(1 << s)
            changed = True
            if clique >> s & 1:
                break
    return mask, removals


@dataclass(frozen=True)
class _Part:
    """Solution of a set of scenes: proven lower bound, witness groups (scene mask, people)
    with exact coverage, heaviest clique, and the verified fractional certificate."""

    lower: int
    groups: tuple[tuple[int, int], ...]
    clique: int
    clique_weight: int
    weights: tuple[tuple[int, Fraction], ...]
    lp_value: Fraction

    @property
    def upper(self) -> int:
        return sum(people for _, people in self.groups)


@dataclass(frozen=True)
class _Limits:
    """The caller's effort limits for the integer side (see `min_individuals`)."""

    enumerated_sets: int
    colouring_nodes: int


def _solve_decomposed(
    mask: int, adj: Sequence[int], weight: Sequence[int], deadline: _Deadline, limits: _Limits
) -> _Part:
    components = _components(mask, adj)
    if len(components) > 1:
        return _combine_shared(
            [_solve_decomposed(c, adj, weight, deadline, limits) for c in components]
        )
    co_components = _components(mask, _complement(mask, adj))
    if len(co_components) > 1:
        return _combine_disjoint(
            [_solve_decomposed(c, adj, weight, deadline, limits) for c in co_components]
        )
    return _solve_prime(mask, adj, weight, deadline, limits)


def _combine_shared(parts: Sequence[_Part]) -> _Part:
    """Parts with no disjointness between them: the same people can serve all of them."""
    by_clique = max(parts, key=lambda p: p.clique_weight)
    by_lp = max(parts, key=lambda p: p.lp_value)
    runs = [list(p.groups) for p in parts]
    merged: list[tuple[int, int]] = []
    while any(runs):
        step = min(run[0][1] for run in runs if run)
        merged.append((sum(run[0][0] for run in runs if run), step))
        for run in runs:
            if run:
                scenes, people = run[0]
                if people == step:
                    run.pop(0)
                else:
                    run[0] = (scenes, people - step)
    return _Part(
        max(p.lower for p in parts),
        tuple(merged),
        by_clique.clique,
        by_clique.clique_weight,
        by_lp.weights,
        by_lp.lp_value,
    )


def _combine_disjoint(parts: Sequence[_Part]) -> _Part:
    """Parts where every scene of one is disjoint from every scene of another: people add up."""
    return _Part(
        sum(p.lower for p in parts),
        tuple(g for p in parts for g in p.groups),
        sum(p.clique for p in parts),
        sum(p.clique_weight for p in parts),
        tuple(w for p in parts for w in p.weights),
        sum((p.lp_value for p in parts), Fraction(0)),
    )


# --- one prime part ----------------------------------------------------------------------


def _solve_prime(
    mask: int, adj: Sequence[int], weight: Sequence[int], deadline: _Deadline, limits: _Limits
) -> _Part:
    """Clique against greedy; else the LP certificate by column generation, then the integer
    side: HiGHS on the colour-assignment model at ⌈LP⌉ colours, a dive and HiGHS over the
    generated columns, and the exact steps (module docstring, step 4)."""
    clique_weight, clique, _ = _heaviest_clique(mask, adj, weight, deadline)
    certificate = tuple((v, Fraction(1)) for v in _bits(clique))
    value = Fraction(clique_weight)
    greedy = _greedy_groups(mask, adj, weight)
    if sum(people for _, people in greedy) == clique_weight:
        return _Part(clique_weight, tuple(greedy), clique, clique_weight, certificate, value)
    search = _CoverSearch(
        mask, adj, weight, deadline, _initial_columns(greedy, mask, adj, weight), greedy
    )
    lower = clique_weight
    try:
        search.solve_root()
        certificate, value = _verified_certificate(
            mask, adj, weight, search.root_duals, deadline, certificate, clique_weight
        )
        lower = max(lower, math.ceil(value))
        if limits.colouring_nodes:  # a short dive, then the assignment model, then the rest
            search.dive(lower, _EARLY_LPS - search.lp_solves)
            if lower < search.upper:
                lower = search.solve_assignment(lower, clique, limits.colouring_nodes)
        if lower < search.upper:
            search.dive(lower)
        if lower < search.upper:
            search.solve_pool()
        if lower < search.upper:
            lower = search.solve_reduced_cost_columns(
                dict(certificate), value, lower, limits.enumerated_sets
            )
        if lower < search.upper:
            lower = max(lower, search.branch_and_price())
    except _TimeUp:
        pass
    return _Part(lower, tuple(search.best_groups), clique, clique_weight, certificate, value)


def _greedy_groups(mask: int, adj: Sequence[int], weight: Sequence[int]) -> list[tuple[int, int]]:
    """A quick witness: repeatedly give the next people to a maximal compatible set of the
    scenes with the most people still unplaced. Two orderings, keep the smaller total."""
    degree = {v: (adj[v] & mask).bit_count() for v in _bits(mask)}
    best: list[tuple[int, int]] | None = None
    for by_degree in (False, True):
        residual = {v: weight[v] for v in _bits(mask)}
        groups: list[tuple[int, int]] = []
        while True:
            live = [v for v, left in residual.items() if left > 0]
            if not live:
                break
            live.sort(key=lambda v: (-residual[v] * (degree[v] + 1 if by_degree else 1), v))
            chosen = _fill(0, live, adj)
            people = min(residual[v] for v in _bits(chosen))
            for v in _bits(chosen):
                residual[v] -= people
            groups.append((chosen, people))
        if best is None or sum(p for _, p in groups) < sum(p for _, p in best):
            best = groups
    return best or []


def _initial_columns(
    groups: Sequence[tuple[int, int]], mask: int, adj: Sequence[int], weight: Sequence[int]
) -> list[int]:
    order = sorted(_bits(mask), key=lambda v: (-weight[v], v))
    return list(dict.fromkeys(_fill(scenes, order, adj) for scenes, _ in groups))


def _verified_certificate(
    mask: int,
    adj: Sequence[int],
    weight: Sequence[int],
    duals: Mapping[int, float],
    deadline: _Deadline,
    fallback: tuple[tuple[int, Fraction], ...],
    fallback_value: int,
) -> tuple[tuple[tuple[int, Fraction], ...], Fraction]:
    """Round the LP duals to fractions, check them exactly, scale them down if they overshoot;
    on a tie with the clique keep them (the report still shows the clique when both round up
    to the same bound; the exact step enumerates fewer columns with the wider support)."""
    best, best_value = fallback, Fraction(fallback_value)
    for limit in _DENOMINATOR_LIMITS:
        rational = [Fraction(0)] * len(weight)
        for v, y in duals.items():
            if y > _EPS:
                rational[v] = Fraction(y).limit_denominator(limit)
        support = sum(1 << v for v, y in enumerate(rational) if y > 0)
        heaviest, _ = _heaviest_independent_set_exact(support, adj, rational, deadline)
        if heaviest > 1:
            rational = [y / heaviest for y in rational]
        value = sum((rational[v] * weight[v] for v in _bits(support)), Fraction(0))
        if value >= best_value:  # on a tie the wider support cuts more columns later
            best = tuple((v, rational[v]) for v in _bits(support))
            best_value = value
        if heaviest <= 1:
            break
    return best, best_value


@dataclass(frozen=True)
class _BranchRow:
    """Branching constraint on the people whose scene set contains `scenes`: ≥ or ≤ `bound`."""

    scenes: int
    at_least: bool
    bound: int


class _CoverSearch:
    """Column generation, diving and branch-and-price for one prime part (private state).

    Columns are independent sets (bitmasks); the master LP covers every scene's count. A
    branching row bounds X_S = Σ_{I ⊇ S} x_I; if x is fractional some X_S is (take S the
    inclusion-maximal fractional column), so branching on these sums is complete. Pairs come
    first: "how many people are in both s and t" is the multicolouring form of Ryan–Foster.
    """

    def __init__(
        self,
        mask: int,
        adj: Sequence[int],
        weight: Sequence[int],
        deadline: _Deadline,
        columns: Sequence[int],
        groups: Sequence[tuple[int, int]],
    ) -> None:
        self.adj, self.weight, self.deadline = adj, weight, deadline
        self.scenes = list(_bits(mask))
        self.row_of = {v: i for i, v in enumerate(self.scenes)}
        self.demand = np.array([weight[v] for v in self.scenes], dtype=float)
        self.columns: list[int] = []
        self.column_rows: list[list[int]] = []
        self.known: set[int] = set()
        self._add_columns(columns)
        self.best_groups = list(groups)
        self.upper = sum(p for _, p in groups)
        self.root_duals: dict[int, float] = {}
        self.root_value = 0.0
        self.root_x: np.ndarray = np.zeros(0)
        self.lp_solves = 0  # master LPs so far: the dive's budget counts them

    def _add_columns(self, columns: Iterable[int]) -> int:
        added = 0
        for column in columns:
            if column and column not in self.known:
                self.known.add(column)
                self.columns.append(column)
                self.column_rows.append([self.row_of[v] for v in _bits(column)])
                added += 1
        return added

    # master problems --------------------------------------------------------------------

    def _incidence(self) -> csc_array:
        return _incidence(self.column_rows, len(self.scenes))

    def _master_lp(
        self, rows: Sequence[_BranchRow], penalty: float, demand: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray, float]:
        """LP over the pool; ≥ rows get artificial slack at `penalty` each, so it is always
        feasible. Returns (value, x, row duals as y ≥ 0 / μ, artificial total)."""
        self.deadline.check()
        self.lp_solves += 1
        blocks = [-self._incidence()]
        if rows:
            entries = [
                (k, j, -1.0 if row.at_least else 1.0)
                for k, row in enumerate(rows)
                for j, column in enumerate(self.columns)
                if column & row.scenes == row.scenes
            ]
            r, c, d = zip(*entries, strict=True) if entries else ((), (), ())
            blocks.append(csc_array((d, (r, c)), shape=(len(rows), len(self.columns))))
        at_least = [True] * len(self.scenes) + [row.at_least for row in rows]
        slack_rows = [i for i, flag in enumerate(at_least) if flag]
        slack = csc_array(
            ([-1.0] * len(slack_rows), (slack_rows, range(len(slack_rows)))),
            shape=(len(at_least), len(slack_rows)),
        )
        a_ub = hstack([vstack(blocks), slack], format="csc")
        bounds = [-row.bound if row.at_least else row.bound for row in rows]
        b_ub = np.concatenate([-demand, np.array(bounds, dtype=float)])
        cost = np.concatenate([np.ones(len(self.columns)), np.full(len(slack_rows), penalty)])
        result = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
        if result.status != 0:
            raise RuntimeError(f"HiGHS could not solve the master LP: {result.message}")
        marginals = -np.asarray(result.ineqlin.marginals)  # ≥ rows: y ≥ 0; ≤ rows: μ ≤ 0
        x = np.asarray(result.x)
        k = len(self.columns)
        return float(result.fun), x[:k], marginals, float(x[k:].sum())

    def _reduced_gain(self, column: int, y: np.ndarray, rows: Sequence[_BranchRow]) -> float:
        """Σ duals a column collects; it prices out (improves the LP) when this exceeds 1."""
        gain = sum(y[self.row_of[v]] for v in _bits(column))
        for k, row in enumerate(rows):
            if column & row.scenes == row.scenes:
                gain += y[len(self.scenes) + k]
        return float(gain)

    def _column_generation(
        self, rows: Sequence[_BranchRow], penalty: float, demand: np.ndarray, exact: bool = True
    ) -> tuple[float, np.ndarray, np.ndarray, float]:
        """Solve the master LP, add priced columns, repeat. Only with `exact` pricing is the
        final value the LP optimum (a bound); the dive only needs a good LP solution."""
        while True:
            value, x, duals, artificial = self._master_lp(rows, penalty, demand)
            if self._add_columns(self._price(duals, rows, exact)) == 0:
                return value, x, duals, artificial

    def _price(self, duals: np.ndarray, rows: Sequence[_BranchRow], exact: bool) -> list[int]:
        y = {v: float(duals[i]) for i, v in enumerate(self.scenes) if duals[i] > _EPS}
        active = [
            (row, float(duals[len(self.scenes) + k]))
            for k, row in enumerate(rows)
            if abs(duals[len(self.scenes) + k]) > _EPS
        ]
        in_rows = sum(row.scenes for row, _ in active)
        neutral = [
            v
            for v in sorted(self.scenes, key=lambda v: (-self.weight[v], v))
            if v not in y and not in_rows >> v & 1
        ]
        found: dict[int, float] = {}

        def offer(column: int) -> None:
            for candidate in (_fill(column, neutral, self.adj), column):
                gain = self._reduced_gain(candidate, duals, rows)
                if gain > 1 + _EPS and candidate not in self.known:
                    found[candidate] = gain
                    return

        support = sorted(y, key=lambda v: (-y[v], v))
        for start in support:
            offer(_local_search(1 << start, support, y, self.adj))
        if not found and exact:
            self.deadline.check()
            column = _exact_pricing(support, y, active, self.adj, self.deadline)
            if column is not None:
                offer(column)
        ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
        return [column for column, _ in ranked[:_PRICING_COLUMNS]]

    # the root and the integer side ----------------------------------------------------------

    def solve_root(self) -> None:
        value, x, duals, _ = self._column_generation((), float(self.upper + 1), self.demand)
        self.root_value, self.root_x = value, x
        self.root_duals = {v: float(duals[i]) for i, v in enumerate(self.scenes)}

    def solve_reduced_cost_columns(
        self, certificate: Mapping[int, Fraction], value: Fraction, lower: int, limit: int
    ) -> int:
        """Exact optimum from few columns, target by target; returns the proven lower bound.

        With a valid certificate y, a solution of z people satisfies
        Σ_I (1 - y(I)) x_I ≤ z - Σ_s y_s c_s, and every column can be taken maximal; so a
        solution of at most `target` people uses only maximal sets with
        y(I) ≥ 1 - (target - Σ y c). For target = lower, lower + 1, ... those sets are
        enumerated and HiGHS decides "at most target people": infeasible raises the bound,
        feasible meets it. Stops (keeping the bound so far) past `limit` sets per target.
        """
        weights = [float(certificate.get(v, 0)) for v in range(len(self.weight))]
        mask = sum(1 << v for v in self.scenes)
        for target in range(lower, self.upper):
            threshold = float(1 - (target - value)) - 1e-9  # rounding may only let more in
            columns = _maximal_independent_sets(
                mask, self.adj, weights, threshold, limit, self.deadline
            )
            self.deadline.check()
            if columns is None:
                return target
            if columns and self._cover_at_most(columns, target):
                return target
        return self.upper

    def _cover_at_most(self, columns: Sequence[int], target: int) -> bool:
        """Whether the columns cover every count with at most `target` people: HiGHS minimises
        (a cap row Σ x ≤ target made it several times slower) and the best cover is kept."""
        rows = [[self.row_of[v] for v in _bits(column)] for column in columns]
        options: dict[str, float] = {"mip_rel_gap": 0.0}
        if self.deadline.remaining() < math.inf:
            options["time_limit"] = max(0.05, self.deadline.remaining())
        result = milp(
            np.ones(len(columns)),
            constraints=LinearConstraint(_incidence(rows, len(self.scenes)), self.demand),
            integrality=np.ones(len(columns)),
            bounds=Bounds(0, np.inf),
            options=options,
        )
        self.deadline.check()
        if result.status == 2:  # infeasible: nobody can do it with `target` people
            return False
        if result.status != 0 or result.x is None:
            raise RuntimeError(f"HiGHS could not solve the integer programme: {result.message}")
        self._offer_solution(
            [(c, round(k)) for c, k in zip(columns, result.x, strict=True) if round(k) > 0]
        )
        return round(result.fun) <= target

    def solve_assignment(self, lower: int, clique: int, node_limit: int) -> int:
        """Colour by colour: can `target` people, for target = lower, lower + 1, ..., give every
        scene its count? HiGHS on the assignment model (`_colour_assignment`) decides; a yes
        meets the bound, a proven no raises it. Returns the proven lower bound, which stays
        where it is when HiGHS runs out of nodes undecided."""
        mask = sum(1 << v for v in self.scenes)
        for target in range(lower, self.upper):
            options: dict[str, float] = {"node_limit": node_limit}
            if self.deadline.remaining() < math.inf:
                options["time_limit"] = max(0.05, self.deadline.remaining())
            feasible, groups = _colour_assignment(
                mask, self.adj, self.weight, target, clique, options
            )
            self.deadline.check()
            if feasible is None:
                return target
            if feasible:
                self._offer_solution(groups)
                return target
        return self.upper

    def solve_pool(self) -> None:
        """HiGHS on the columns generated so far (a restricted master, so only an upper
        bound), under a node limit so that the result does not depend on the machine."""
        options: dict[str, float] = {"mip_rel_gap": 0.0, "node_limit": _POOL_ILP_NODES}
        if self.deadline.remaining() < math.inf:
            options["time_limit"] = max(0.05, self.deadline.remaining() * _POOL_ILP_SHARE)
        result = milp(
            np.ones(len(self.columns)),
            constraints=LinearConstraint(self._incidence(), self.demand),
            integrality=np.ones(len(self.columns)),
            bounds=Bounds(0, np.inf),
            options=options,
        )
        if result.x is not None:
            self._offer_solution(
                [(c, round(k)) for c, k in zip(self.columns, result.x, strict=True) if round(k) > 0]
            )
        self.deadline.check()

    def dive(self, lower: int, max_lps: int | None = None) -> None:
        """Price-and-dive: fix the integral part of the LP (or one person of its largest
        fractional column), re-solve the rest with pricing, repeat until every count is met.
        Stops as soon as it cannot beat the incumbent, or after `max_lps` master LPs."""
        demand = self.demand.copy()
        fixed: list[tuple[int, int]] = []
        value, x = self.root_value, self.root_x
        budget = math.inf if max_lps is None else self.lp_solves + max_lps
        while True:
            spent = sum(people for _, people in fixed)
            if max(lower, spent + math.ceil(value - _INTEGRAL_EPS)) >= self.upper:
                return
            if self.lp_solves >= budget:
                return
            whole = np.floor(x + _INTEGRAL_EPS).astype(int)
            if not whole.any():
                whole[int(np.argmax(x))] = 1
            for j in np.flatnonzero(whole):
                fixed.append((self.columns[j], int(whole[j])))
                for r in self.column_rows[j]:
                    demand[r] = max(0.0, demand[r] - whole[j])
            if not demand.any():
                self._offer_solution(fixed)
                return
            value, x, _, _ = self._column_generation((), float(self.upper + 1), demand, False)

    def _offer_solution(self, chosen: Sequence[tuple[int, int]]) -> None:
        """Complete a partial assignment greedily, trim it to exact counts, keep it if better."""
        residual = {v: self.weight[v] for v in self.scenes}
        for column, people in chosen:
            for v in _bits(column):
                residual[v] -= people
        short = sum(1 << v for v, left in residual.items() if left > 0)
        rest = _greedy_groups(
            short, self.adj, [max(0, residual.get(v, 0)) for v in range(len(self.weight))]
        )
        groups = _trim(list(chosen) + rest, self.weight)
        if sum(p for _, p in groups) < self.upper:
            self.upper = sum(p for _, p in groups)
            self.best_groups = groups

    def branch_and_price(self) -> int:
        """Best-first branch-and-price on ⌈LP⌉ until the bounds meet; returns the proven lower
        bound, which is then the upper bound. Among equal bounds the deepest node goes first."""
        counter = 0
        root = (math.ceil(self.root_value - _INTEGRAL_EPS), 0, 0, ())
        heap: list[tuple[int, int, int, tuple[_BranchRow, ...]]] = [root]
        while heap:
            bound, _, _, rows = heapq.heappop(heap)
            if bound >= self.upper:
                break  # best first: every open node is bounded at least as high
            value, x = self._node(rows)
            if value is None or math.ceil(value - _INTEGRAL_EPS) >= self.upper:
                continue
            if not (np.abs(x - np.round(x)) > _INTEGRAL_EPS).any():
                self._offer_solution(
                    [(c, round(k)) for c, k in zip(self.columns, x, strict=False) if round(k) > 0]
                )
                continue
            scenes, total = self._branching_set(x)
            for row in (
                _BranchRow(scenes, True, math.ceil(total)),
                _BranchRow(scenes, False, math.floor(total)),
            ):
                counter += 1  # equal bounds: deepest first, so the search reaches leaves
                child = (math.ceil(value - _INTEGRAL_EPS), -len(rows) - 1, counter, (*rows, row))
                heapq.heappush(heap, child)
        return self.upper

    def _node(self, rows: Sequence[_BranchRow]) -> tuple[float | None, np.ndarray]:
        """Node LP; raises the artificial penalty until the artificials vanish or the bound
        alone prunes the node (an LP with artificials is a relaxation, so it bounds)."""
        penalty = float(self.upper + 1)
        while True:
            value, x, _, artificial = self._column_generation(rows, penalty, self.demand)
            if artificial <= _INTEGRAL_EPS:
                return value, x
            if math.ceil(value - _INTEGRAL_EPS) >= self.upper:
                return None, x
            penalty *= 10

    def _branching_set(self, x: np.ndarray) -> tuple[int, float]:
        """A set S with fractional X_S = Σ_{I ⊇ S} x_I: the most fractional pair, else the
        most fractional single scene, else the inclusion-maximal fractional column."""
        used = np.flatnonzero(x > _EPS)
        incidence = self._incidence()[:, used].toarray()
        together = (incidence * x[used]) @ incidence.T  # X_{st}; X_{ss} on the diagonal
        distance = np.abs(together - np.round(together))
        for candidates in (np.triu(distance, 1), np.diag(np.diag(distance))):
            s, t = np.unravel_index(int(np.argmax(candidates)), candidates.shape)
            if candidates[s, t] > _INTEGRAL_EPS:
                scenes = 1 << self.scenes[s] | 1 << self.scenes[t]
                return scenes, float(together[s, t])
        fractional = [self.columns[j] for j in used if abs(x[j] - round(x[j])) > _INTEGRAL_EPS]
        maximal = max(fractional, key=lambda c: (c.bit_count(), -c))  # no larger set contains it
        total = sum(float(x[j]) for j in used if self.columns[j] & maximal == maximal)
        return maximal, total


def _incidence(column_rows: Sequence[Sequence[int]], n_rows: int) -> csc_array:
    """Scenes × columns, 1 where the column's people appear in the scene."""
    lengths = [len(rows) for rows in column_rows]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.fromiter(
        (r for rows in column_rows for r in rows), dtype=np.int64, count=int(indptr[-1])
    )
    shape = (n_rows, len(column_rows))
    return csc_array((np.ones(len(indices)), indices, indptr), shape=shape)


def _local_search(
    start: int, order: Sequence[int], y: Mapping[int, float], adj: Sequence[int]
) -> int:
    """Greedy independent set by dual weight from `start`, then (1, k)-swaps while they gain."""
    chosen = _fill(start, order, adj)
    improved = True
    while improved:
        improved = False
        for v in order:
            if chosen >> v & 1:
                continue
            conflict = chosen & adj[v]
            if y[v] > sum(y.get(u, 0.0) for u in _bits(conflict)) + 1e-12:
                chosen = _fill((chosen & ~conflict) | 1 << v, order, adj)
                improved = True
    return chosen


def _exact_pricing(
    support: Sequence[int],
    y: Mapping[int, float],
    rows: Sequence[tuple[_BranchRow, float]],
    adj: Sequence[int],
    deadline: _Deadline,
) -> int | None:
    """The column of largest dual gain. Without branching rows it is a heaviest independent
    set: our branch and bound first (much faster on small supports), HiGHS past a node budget
    (faster on large ones). HiGHS model: binary x_v per scene, binary b_k per branching row
    (b_k ≤ x_v for a reward, b_k ≥ Σ x_v - |S| + 1 for a penalty), edges x_u + x_v ≤ 1."""
    scenes = sorted(set(support) | {v for row, _ in rows for v in _bits(row.scenes)})
    if not scenes:
        return None
    if not rows:
        mask = sum(1 << v for v in scenes)
        weights = [y.get(v, 0.0) for v in range(len(adj))]
        heaviest, chosen, complete = _heaviest_clique(
            mask, _complement(mask, adj), weights, deadline, _PRICING_NODE_BUDGET
        )
        deadline.check()
        if complete:
            return chosen if heaviest > 1 + _EPS else None
    position = {v: i for i, v in enumerate(scenes)}
    n_x, n_b = len(scenes), len(rows)
    data: list[float] = []
    row_index: list[int] = []
    col_index: list[int] = []
    upper: list[float] = []

    def constraint(entries: Sequence[tuple[int, float]], bound: float) -> None:
        r = len(upper)
        for col, coeff in entries:
            data.append(coeff)
            row_index.append(r)
            col_index.append(col)
        upper.append(bound)

    for v in scenes:
        for u in _bits(adj[v]):
            if u > v and u in position:
                constraint([(position[v], 1.0), (position[u], 1.0)], 1.0)
    for k, (row, dual) in enumerate(rows):
        members = [position[v] for v in _bits(row.scenes)]
        if dual > 0:
            for m in members:
                constraint([(n_x + k, 1.0), (m, -1.0)], 0.0)
        else:
            constraint([(m, 1.0) for m in members] + [(n_x + k, -1.0)], len(members) - 1.0)
    cost = -np.array([y.get(v, 0.0) for v in scenes] + [dual for _, dual in rows])
    options: dict[str, float] = {"mip_rel_gap": 1e-9}
    if deadline.remaining() < math.inf:
        options["time_limit"] = max(0.01, deadline.remaining())
    constraints = []
    if upper:
        matrix = csc_array((data, (row_index, col_index)), shape=(len(upper), n_x + n_b))
        constraints = [LinearConstraint(matrix, -np.inf, np.array(upper))]
    result = milp(
        cost,
        constraints=constraints,
        integrality=np.ones(n_x + n_b),
        bounds=Bounds(0, 1),
        options=options,
    )
    if result.status == 1:
        raise _TimeUp
    if result.status != 0 or result.x is None:
        raise RuntimeError(f"HiGHS could not price a column: {result.message}")
    if -result.fun <= 1 + _EPS:
        return None
    return sum(1 << v for v, value in zip(scenes, result.x, strict=False) if value > 0.5)


def _colour_assignment(
    mask: int,
    adj: Sequence[int],
    weight: Sequence[int],
    colours: int,
    clique: int,
    options: Mapping[str, float],
) -> tuple[bool | None, list[tuple[int, int]]]:
    """Whether `colours` people can cover every scene of `mask`, by HiGHS on the compact model:
    binary z_{s,k} when person k appears in scene s, Σ_k z_{s,k} = c_s, and z_{s,k} + z_{t,k}
    ≤ 1 for disjoint s, t. People are interchangeable, so the scenes of `clique` (pairwise
    disjoint) take the first people in blocks, which removes most of the symmetry, and no one
    of a block appears in a scene disjoint from its owner.

    Returns (True, groups) with the people as groups of one, (False, []) when proven
    impossible, (None, []) when HiGHS stopped undecided (node or time limit).
    """
    scenes = list(_bits(mask))
    if max((weight[v] for v in scenes), default=0) > colours:
        return False, []
    if not scenes or colours == 0:
        return True, []
    row_of = {v: i for i, v in enumerate(scenes)}
    n, k = len(scenes), colours
    pairs = np.array(
        [(row_of[v], row_of[u]) for v in scenes for u in _bits(adj[v] & mask) if u > v],
        dtype=np.int64,
    ).reshape(-1, 2)
    people = np.arange(k)
    count_rows = np.repeat(np.arange(n), k)
    edge_rows = n + np.repeat(np.arange(len(pairs) * k), 2)
    edge_cols = np.stack(
        [(pairs[:, 0, None] * k + people).ravel(), (pairs[:, 1, None] * k + people).ravel()],
        axis=1,
    ).ravel()
    matrix = csc_array(
        (
            np.ones(n * k + len(edge_cols)),
            (
                np.concatenate([count_rows, edge_rows]),
                np.concatenate([np.arange(n * k), edge_cols]),
            ),
        ),
        shape=(n + len(pairs) * k, n * k),
    )
    demand = np.array([weight[v] for v in scenes], dtype=float)
    lower_rows = np.concatenate([demand, np.zeros(len(pairs) * k)])
    upper_rows = np.concatenate([demand, np.ones(len(pairs) * k)])
    low, high = np.zeros((n, k)), np.ones((n, k))
    start = 0
    for q in _bits(clique & mask):
        block = slice(start, start + weight[q])
        high[row_of[q]] = 0
        low[row_of[q], block] = high[row_of[q], block] = 1
        for u in _bits(adj[q] & mask):
            high[row_of[u], block] = 0
        start += weight[q]
    if start > k:
        return False, []
    result = milp(
        np.zeros(n * k),
        constraints=LinearConstraint(matrix, lower_rows, upper_rows),
        integrality=np.ones(n * k),
        bounds=Bounds(low.ravel(), high.ravel()),
        options=dict(options),
    )
    if result.status == 2:
        return False, []
    if result.x is None:
        if result.status == 1:
            return None, []
        raise RuntimeError(f"HiGHS could not solve the assignment model: {result.message}")
    chosen = np.asarray(result.x).reshape(n, k) > 0.5
    groups = [
        (sum(1 << scenes[i] for i in np.flatnonzero(chosen[:, person])), 1) for person in range(k)
    ]
    return True, _merge(groups)


# --- witness -----------------------------------------------------------------------------


def _trim(groups: Sequence[tuple[int, int]], weight: Sequence[int]) -> list[tuple[int, int]]:
    """Take scenes out of groups (splitting a group where needed) until every scene is covered
    exactly its count: subsets of compatible sets stay compatible. Merges equal groups."""
    work = [[scenes, people] for scenes, people in groups if people > 0]
    coverage: dict[int, int] = {}
    for scenes, people in work:
        for v in _bits(scenes):
            coverage[v] = coverage.get(v, 0) + people
    for v in sorted(coverage):
        excess = coverage[v] - weight[v]
        for i in range(len(work)):
            if excess <= 0:
                break
            scenes, people = work[i]
            if not scenes >> v & 1:
                continue
            take = min(excess, people)
            if take < people:
                work.append([scenes, people - take])
            work[i] = [scenes & ~(1 << v), take]
            excess -= take
    return _merge(work)


def _merge(groups: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    total: dict[int, int] = {}
    for scenes, people in groups:
        if scenes and people > 0:
            total[scenes] = total.get(scenes, 0) + people
    return sorted(total.items(), key=lambda item: (-item[1], item[0]))


def _restore(
    groups: Sequence[tuple[int, int]],
    removals: Sequence[_Removal],
    adj: Sequence[int],
    weight: Sequence[int],
) -> list[tuple[int, int]]:
    """Put the reduced-away scenes back, newest first: a dominated scene joins its host's
    people; a light scene joins people who are in none of its disjoint partners."""
    work = [list(g) for g in groups]
    for removal in reversed(removals):
        s, need = removal.scene, weight[removal.scene]
        for i in range(len(work)):
            if need == 0:
                break
            scenes, people = work[i]
            fits = (scenes >> removal.host & 1) if removal.host >= 0 else not scenes & adj[s]
            if not fits:
                continue
            take = min(need, people)
            if take < people:
                work.append([scenes, people - take])
            work[i] = [scenes | 1 << s, take]
            need -= take
        if need:
            raise AssertionError(f"internal error: no room to restore scene {s}")
    return _merge(work)


def _result(
    ids: Sequence[str], weight: Sequence[int], part: _Part, groups: Sequence[tuple[int, int]]
) -> MinCountResult:
    total = sum(people for _, people in groups)
    clique_ids = tuple(ids[v] for v in _bits(part.clique))
    use_clique = part.clique_weight >= math.ceil(part.lp_value)
    if use_clique:
        certificate = tuple(CertificateEntry(ids[v], Fraction(1)) for v in _bits(part.clique))
        certificate_bound = part.clique_weight
    else:
        certificate = tuple(CertificateEntry(ids[v], w) for v, w in sorted(part.weights) if w > 0)
        certificate_bound = math.ceil(part.lp_value)
    lower = max(part.lower, certificate_bound)
    if lower > total:
        raise RuntimeError(f"internal error: lower bound {lower} above a witness of {total}")
    optimal = lower == total
    minimum = total if optimal else lower
    if not optimal:
        method = METHOD_TIME_LIMIT
    elif minimum == part.clique_weight:
        method = METHOD_CLIQUE
    elif minimum == certificate_bound:
        method = METHOD_LP_DUAL
    else:
        method = METHOD_SEARCH
    witness = tuple(
        PersonGroup(tuple(ids[v] for v in _bits(scenes)), people)
        for scenes, people in sorted(
            groups, key=lambda g: (-g[1], tuple(ids[v] for v in _bits(g[0])))
        )
    )
    return MinCountResult(
        minimum=minimum,
        optimal=optimal,
        clique_bound=part.clique_weight,
        upper_bound=sum(weight),
        clique=clique_ids,
        certificate=certificate,
        certificate_bound=certificate_bound,
        lp_bound=part.lp_value,
        method=method,
        witness=witness,
    )
