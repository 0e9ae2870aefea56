"""The minimum-count solver on 200 scenes and 2,000 disjointness edges (issue 5's yardstick).

Instances (deterministic per seed, `random.Random(seed)`):

- graph: G(n, m), exactly 2,000 distinct scene pairs drawn uniformly from all 19,900 (density
  0.10, mean degree 20). Random graphs are the hard case for colouring: analysts' real
  disjointness comes in groups (places, times), which the solver splits by decomposition;
- counts "like annotations": most pictures show a few people and a few show a crowd, so c_s is
  a log-normal with median 4 and σ = 0.8, rounded and clipped to 1..30 (mean about 5.5);
- stress: the same graphs with counts uniform in 1..30, where the LP optimum lies well above
  the heaviest clique and certifying it needs exact maximum-weight independent sets on
  ~160-scene dual supports (section text).

Every result is checked here: the witness gives each scene exactly its count with no person in
two disjoint scenes, the certificate is re-verified exactly, and an optimal minimum equals both.

Baselines, same process, same instances: the previous algorithm path (the same solver with the
colour-assignment step switched off, `max_colouring_nodes=0`: column generation, dive, HiGHS
over the generated columns, enumeration, branch-and-price) under a time limit, and the plain
textbook MILP (binary z_{s,k} "person k in scene s", u_k "person k exists", z_{s,k} + z_{t,k}
≤ u_k on each edge, u_k ≥ u_{k+1}, minimise Σ u_k, k below the greedy upper bound) through
`scipy.optimize.milp` under a time limit. One run each: the solver is deterministic, and
another engineer's work may share the two cores, so CPU seconds are given beside wall time.
"""

from __future__ import annotations

import itertools
import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import median

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from pipeline.core.mincount import MinCountResult, is_valid_certificate, min_individuals

NAME = "Minimum-count solver: 200 scenes, 2,000 disjointness edges"

SCENES, EDGES = 200, 2000  # issue 5: "200 scenes with 2,000 disjointness edges"
TARGET_S = 10.0  # issue 5: "finishes in under 10 s"
SEEDS = 20  # annotation-like instances at scale 1: seeds 0..19, every one reported
STRESS_SEEDS = 3
PLAIN_SEEDS = 3  # the textbook MILP proves nothing in its limit; three seeds show it
SAFETY_LIMIT_S = 120.0  # ours: far above the target, only so that a regression cannot hang
PREVIOUS_LIMIT_S = 20.0
PLAIN_LIMIT_S = 10.0
STRESS_LIMIT_S = 10.0
COUNT_MEDIAN, COUNT_SIGMA, COUNT_MAX = 4, 0.8, 30

Instance = tuple[dict[str, int], list[tuple[str, str]]]


def instance(seed: int, counts: str = "annotated") -> Instance:
    """Scenes `scene000`..`scene199`, 2,000 random disjointness edges, counts by `counts`
    ("annotated": log-normal median 4, clipped to 1..30; "uniform": uniform in 1..30)."""
    rng = random.Random(seed)
    ids = [f"scene{i:03d}" for i in range(SCENES)]
    if counts == "annotated":
        drawn = [
            min(COUNT_MAX, max(1, round(rng.lognormvariate(math.log(COUNT_MEDIAN), COUNT_SIGMA))))
            for _ in ids
        ]
    elif counts == "uniform":
        drawn = [rng.randint(1, COUNT_MAX) for _ in ids]
    else:
        raise ValueError(f"unknown count family {counts!r}")
    pairs = list(itertools.combinations(range(SCENES), 2))
    edges = sorted(rng.sample(pairs, EDGES))
    return dict(zip(ids, drawn, strict=True)), [(ids[a], ids[b]) for a, b in edges]


def check(result: MinCountResult, inst: Instance) -> None:
    """The witness is feasible and exact, the certificate valid, the figure consistent."""
    counts, edges = inst
    disjoint = {frozenset(e) for e in edges}
    covered = dict.fromkeys(counts, 0)
    for group in result.witness:
        for pair in itertools.combinations(group.scene_ids, 2):
            if frozenset(pair) in disjoint:
                raise AssertionError(f"witness puts one person in disjoint scenes {pair}")
        for scene in group.scene_ids:
            covered[scene] += group.people
    if covered != counts:
        raise AssertionError("witness does not give every scene exactly its count")
    weights = {e.scene_id: e.weight for e in result.certificate}
    if not is_valid_certificate(counts, edges, weights):
        raise AssertionError("certificate overweights a compatible set")
    proven = math.ceil(sum((w * counts[s] for s, w in weights.items()), start=0))
    if proven != result.certificate_bound or result.certificate_bound > result.minimum:
        raise AssertionError("certificate bound inconsistent")
    if result.optimal and result.minimum != result.witness_total:
        raise AssertionError("optimal minimum differs from its witness")


@dataclass(frozen=True)
class Timed:
    result: MinCountResult
    wall_s: float
    cpu_s: float


def timed(solve: Callable[[], MinCountResult]) -> Timed:
    wall, cpu = time.perf_counter(), time.process_time()
    result = solve()
    return Timed(result, time.perf_counter() - wall, time.process_time() - cpu)


def first_fit(inst: Instance) -> int:
    """People in a first-fit assignment (busiest scenes first, each takes the lowest-numbered
    people none of its disjoint partners has): the plain MILP's candidate people."""
    counts, edges = inst
    partners: dict[str, set[str]] = {s: set() for s in counts}
    for a, b in edges:
        partners[a].add(b)
        partners[b].add(a)
    taken: dict[str, set[int]] = {}
    for scene in sorted(counts, key=lambda s: (-counts[s], s)):
        blocked = set().union(*(taken.get(t, set()) for t in partners[scene]))
        free = (p for p in itertools.count() if p not in blocked)
        taken[scene] = set(itertools.islice(free, counts[scene]))
    return 1 + max((max(people) for people in taken.values() if people), default=-1)


@dataclass(frozen=True)
class PlainMilp:
    best: float | None  # people in the best assignment found, None if none
    bound: float  # HiGHS's proven lower bound
    proven: bool
    wall_s: float


def plain_milp(inst: Instance, colours: int, limit_s: float) -> PlainMilp:
    """The textbook assignment model with `colours` candidate people, minimising those used."""
    counts, edges = inst
    ids = sorted(counts)
    index = {s: i for i, s in enumerate(ids)}
    n, k = len(ids), colours
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    low: list[float] = []
    high: list[float] = []

    def row(entries: Sequence[tuple[int, float]], lo: float, hi: float) -> None:
        for col, val in entries:
            rows.append(len(low))
            cols.append(col)
            vals.append(val)
        low.append(lo)
        high.append(hi)

    for s in ids:
        row([(index[s] * k + c, 1.0) for c in range(k)], counts[s], counts[s])
    for a, b in edges:
        for c in range(k):
            row([(index[a] * k + c, 1.0), (index[b] * k + c, 1.0), (n * k + c, -1.0)], -np.inf, 0)
    for c in range(k - 1):
        row([(n * k + c, 1.0), (n * k + c + 1, -1.0)], 0, np.inf)
    matrix = coo_array((vals, (rows, cols)), shape=(len(low), n * k + k)).tocsc()
    started = time.perf_counter()
    result = milp(
        np.concatenate([np.zeros(n * k), np.ones(k)]),
        constraints=LinearConstraint(matrix, low, high),
        integrality=np.ones(n * k + k),
        bounds=Bounds(0, 1),
        options={"time_limit": limit_s},
    )
    wall = time.perf_counter() - started
    best = float(result.fun) if result.x is not None else None
    bound = float(getattr(result, "mip_dual_bound", math.nan))
    return PlainMilp(best, bound, result.status == 0, wall)


def _people(result: MinCountResult) -> str:
    if result.optimal:
        return f"**{result.minimum}**"
    return f"{result.minimum}–{result.witness_total}"


def _lp(result: MinCountResult) -> str:
    value = result.lp_bound
    return str(value) if value.denominator == 1 else f"{float(value):.2f}"


def run(scale: float) -> str:
    seeds = range(max(3, round(SEEDS * scale)))
    stress_seeds = range(max(1, round(STRESS_SEEDS * scale)))
    plain_seeds = range(max(1, round(PLAIN_SEEDS * scale)))
    load_before = os.getloadavg()[0]

    instances = {seed: instance(seed) for seed in seeds}
    ours: dict[int, Timed] = {}
    previous: dict[int, Timed] = {}
    for seed, inst in instances.items():
        ours[seed] = timed(lambda inst=inst: min_individuals(*inst, time_limit_s=SAFETY_LIMIT_S))
        check(ours[seed].result, inst)
        previous[seed] = timed(
            lambda inst=inst: min_individuals(
                *inst, time_limit_s=PREVIOUS_LIMIT_S, max_colouring_nodes=0
            )
        )
        check(previous[seed].result, inst)
    plain = {
        seed: plain_milp(instances[seed], first_fit(instances[seed]), PLAIN_LIMIT_S)
        for seed in plain_seeds
    }
    stress = {}
    for seed in stress_seeds:
        inst = instance(seed, "uniform")
        stress[seed] = timed(lambda inst=inst: min_individuals(*inst, time_limit_s=STRESS_LIMIT_S))
        check(stress[seed].result, inst)
    load_after = os.getloadavg()[0]

    all_counts = [c for counts, _ in instances.values() for c in counts.values()]
    lines = [
        f"Instances: G(n={SCENES}, m={EDGES}) (exactly {EDGES} distinct scene pairs drawn "
        f"uniformly, density {EDGES / math.comb(SCENES, 2):.2f}), counts like annotations "
        f"(log-normal, median {COUNT_MEDIAN}, σ {COUNT_SIGMA}, clipped to 1..{COUNT_MAX}: "
        f"mean {sum(all_counts) / len(all_counts):.1f}, {sum(c >= 10 for c in all_counts)} of "
        f"{len(all_counts)} scenes show 10 or more), seeds {seeds.start}–{seeds.stop - 1}, "
        "every seed reported. `bench/bench_solver.py` generates them. Each result is checked "
        "(witness exact and feasible, certificate re-verified in exact arithmetic).",
        "",
        f"Previous path: the same solver without the colour-assignment step "
        f"(`max_colouring_nodes=0`), stopped at {PREVIOUS_LIMIT_S:.0f} s; its ratio is "
        "wall time over ours (≥ where it was stopped).",
        "",
        "| seed | clique bound | LP bound | minimum | proof | wall s | CPU s | previous path: "
        "people | previous wall s | ratio |",
        "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for seed in seeds:
        mine, old = ours[seed], previous[seed]
        ratio = old.wall_s / mine.wall_s
        lines.append(
            f"| {seed} | {mine.result.clique_bound} | {_lp(mine.result)} | "
            f"{_people(mine.result)} | {mine.result.method} | {mine.wall_s:.2f} | "
            f"{mine.cpu_s:.2f} | {_people(old.result)} | {old.wall_s:.2f} | "
            f"{'≥ ' if not old.result.optimal else ''}{ratio:.1f}× |"
        )
    walls = [ours[s].wall_s for s in seeds]
    cpus = [ours[s].cpu_s for s in seeds]
    exact = sum(ours[s].result.optimal for s in seeds)
    old_exact = sum(previous[s].result.optimal for s in seeds)
    worst = max(seeds, key=lambda s: ours[s].wall_s)
    lines += [
        "",
        f"- **{exact} of {len(seeds)} exact** (optimal, with a checked certificate), worst "
        f"seed {worst}: **{ours[worst].wall_s:.2f} s** wall ({ours[worst].cpu_s:.2f} CPU s), "
        f"median {median(walls):.2f} s, max CPU {max(cpus):.2f} s: "
        f"{'meets' if exact == len(seeds) and max(walls) < TARGET_S else 'MISSES'} issue 5's "
        f"target (under {TARGET_S:.0f} s).",
        f"- Previous path: {old_exact} of {len(seeds)} exact within {PREVIOUS_LIMIT_S:.0f} s; "
        f"all seeds {sum(previous[s].wall_s for s in seeds):.1f} s against ours "
        f"{sum(walls):.1f} s. Where the greedy witness already meets the clique both take the "
        "same path (ratio ≈ 1).",
        "",
        f"Plain MILP (textbook assignment model, HiGHS through `scipy.optimize.milp`, "
        f"{PLAIN_LIMIT_S:.0f} s limit, candidate people = a first-fit assignment's total):",
        "",
        "| seed | minimum (ours) | plain MILP best | plain MILP proven bound | proven optimal | "
        "wall s |",
        "|---:|---:|---:|---:|---|---:|",
    ]
    for seed, result in plain.items():
        best = "none" if result.best is None else f"{result.best:.0f}"
        lines.append(
            f"| {seed} | {ours[seed].result.minimum} | {best} | {result.bound:.0f} | "
            f"{'yes' if result.proven else 'no'} | {result.wall_s:.1f} |"
        )
    lines += [
        "",
        f"Stress: the same graphs with counts uniform in 1..{COUNT_MAX}, "
        f"time_limit_s={STRESS_LIMIT_S:.0f}:",
        "",
        "| seed | clique bound | proven minimum – witness | optimal | wall s |",
        "|---:|---:|---:|---|---:|",
    ]
    for seed, run_ in stress.items():
        lines.append(
            f"| {seed} | {run_.result.clique_bound} | {run_.result.minimum}–"
            f"{run_.result.witness_total} | {'yes' if run_.result.optimal else 'no'} | "
            f"{run_.wall_s:.1f} |"
        )
    lines += [
        "",
        "With uniform counts the gap is small but neither side closes it in time. Measured "
        "once while building this benchmark (not re-run here), on seed 0 (clique 111): the "
        "assignment model finds 113 people in 7 s and is undecided at 112 and 111 after 60 s "
        "each, so the minimum is 111-113. The clique proves it only if a 111-person colouring "
        "exists; anything above needs the LP-dual certificate, and the LP is not solved: column "
        "generation with heuristic pricing stops at 114.7 with a dual support of 160 scenes, "
        "and one exact pricing step there (the heaviest independent set on those 160 scenes of "
        "a 10%-dense graph) took HiGHS 87 s and was not finished by CP-SAT (OR-Tools 9.15) nor "
        "our branch and bound in 60 s each. Such instances stop at the time limit with the "
        "proven range above.",
        "",
        f"Load average {load_before:.2f} before, {load_after:.2f} after, on "
        f"{os.cpu_count()} cores.",
    ]
    return "\n".join(lines) + "\n"
