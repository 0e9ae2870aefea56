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

Modules, in the order they build on each other: `model` (graph, records, deadline),
`bounds` (cliques, compatible sets), `reductions` (step 1 and restoring a witness),
`search` (the colour-assignment model), `columns` (LP by column generation and the integer
search over columns), `certificate` (step 5 and the explanation), `solve` (steps 2-5).
`min_individuals` is the entry point.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipeline.core.mincount.bounds import (
    certificate_violation,
    heaviest_compatible_set,
    is_valid_certificate,
)
from pipeline.core.mincount.certificate import _result, explain
from pipeline.core.mincount.model import (
    DEFAULT_MAX_COLOURING_NODES,
    DEFAULT_MAX_ENUMERATED_SETS,
    METHOD_CLIQUE,
    METHOD_LP_DUAL,
    METHOD_SEARCH,
    METHOD_TIME_LIMIT,
    CertificateEntry,
    MinCountResult,
    PersonGroup,
    _Deadline,
    _graph,
    _Limits,
)
from pipeline.core.mincount.reductions import _reduce, _restore
from pipeline.core.mincount.solve import _solve_decomposed

__all__ = [
    "DEFAULT_MAX_COLOURING_NODES",
    "DEFAULT_MAX_ENUMERATED_SETS",
    "METHOD_CLIQUE",
    "METHOD_LP_DUAL",
    "METHOD_SEARCH",
    "METHOD_TIME_LIMIT",
    "CertificateEntry",
    "MinCountResult",
    "PersonGroup",
    "certificate_violation",
    "explain",
    "heaviest_compatible_set",
    "is_valid_certificate",
    "min_individuals",
]


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
