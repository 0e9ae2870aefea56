"""The integer search on the compact colour-assignment model (step 3): HiGHS decides whether z
people can cover every scene, the clique's scenes given the first people in blocks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csc_array

from pipeline.core.mincount.model import (
    _bits,
)
from pipeline.core.mincount.reductions import (
    _merge,
)


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
