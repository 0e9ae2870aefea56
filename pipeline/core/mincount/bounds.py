"""Bounds and their checks: the heaviest clique (the proof a reader checks by hand), the
heaviest compatible set under exact weights (the check behind every certificate)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import cast

from pipeline.core.mincount.model import (
    _CHECK_EVERY,
    W,
    _bits,
    _complement,
    _Deadline,
    _graph,
    _TimeUp,
)


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
