"""The LP over independent sets by column generation, and the integer search over its columns:
dive, restricted master, enumeration and branch-and-price (steps 3 and 4)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csc_array, hstack, vstack

from pipeline.core.mincount.bounds import (
    _fill,
    _heaviest_clique,
    _maximal_independent_sets,
)
from pipeline.core.mincount.model import (
    _EPS,
    _INTEGRAL_EPS,
    _POOL_ILP_NODES,
    _POOL_ILP_SHARE,
    _PRICING_COLUMNS,
    _PRICING_NODE_BUDGET,
    _bits,
    _complement,
    _Deadline,
    _TimeUp,
)
from pipeline.core.mincount.reductions import (
    _trim,
)
from pipeline.core.mincount.search import (
    _colour_assignment,
)


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
