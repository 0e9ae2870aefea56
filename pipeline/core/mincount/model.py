"""The model: scene counts and disjointness as bitmask graphs, the result and its proof
records, the deadline, and the shared solution of a part of the graph."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from numbers import Integral
from typing import TypeVar

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
