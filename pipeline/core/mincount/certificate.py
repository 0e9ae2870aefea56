"""The certificate: dual weights rounded and verified exactly (step 5), the result record,
and the sentence that explains it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

from pipeline.core.mincount.bounds import (
    _heaviest_independent_set_exact,
)
from pipeline.core.mincount.model import (
    _DENOMINATOR_LIMITS,
    _EPS,
    METHOD_CLIQUE,
    METHOD_LP_DUAL,
    METHOD_SEARCH,
    METHOD_TIME_LIMIT,
    CertificateEntry,
    MinCountResult,
    PersonGroup,
    _bits,
    _Deadline,
    _Part,
)


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
