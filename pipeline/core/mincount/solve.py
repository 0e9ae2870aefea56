"""Decomposition (step 2) and the solve of one prime part (steps 3-5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

from pipeline.core.mincount.bounds import (
    _heaviest_clique,
)
from pipeline.core.mincount.certificate import (
    _verified_certificate,
)
from pipeline.core.mincount.columns import (
    _CoverSearch,
    _greedy_groups,
    _initial_columns,
)
from pipeline.core.mincount.model import (
    _EARLY_LPS,
    _bits,
    _complement,
    _components,
    _Deadline,
    _Limits,
    _Part,
    _TimeUp,
)


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
