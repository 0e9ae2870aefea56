"""Reductions that keep the optimum, the clique bound and the LP value (module docstring of
pipeline.core.mincount, step 1), and restoring the removed scenes into a witness."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.core.mincount.bounds import (
    _heaviest_clique,
)
from pipeline.core.mincount.model import (
    _bits,
    _Deadline,
)

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
