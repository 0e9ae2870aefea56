"""Score the dedupe stage against a labelled corpus (`make eval`).

Reads DIR/eval_truth.csv (written by pipeline.synth.corpus) and DIR/processed/
{observations,matches,clusters}.csv; prints a Markdown report. `score` is pure (DataFrames in,
a frozen EvalReport out) so it is tested on hand-made tables; `main` only loads and prints.

Definitions (all over unordered pairs of distinct media; truth paths become media ids through
observations.csv, so byte-identical files are one media and never a pair):

- overall: a predicted pair (any row of matches.csv) is correct when the truth lists the two
  media as sharing content, whatever relation either side gives; precision = correct /
  predicted, recall = found / true, F1 their harmonic mean.
- per relation: recall counts the true pairs of that *true* relation found with any relation;
  precision counts the predicted pairs of that *predicted* relation that are true pairs
  (of any relation); `same relation` counts true pairs found with the very relation.
- per transform: recall of the true pairs carrying that transform label.
- hard negatives: truth rows with relation `none`; a predicted link between such a pair is
  counted against its kind (`sibling_crop`, `black_intro`, ...).
- intervals: on true video_overlap / still_in_video pairs that were found, the absolute
  error of each predicted start and end, per side as the truth file orients the pair; when
  a pair has several predicted rows the closest one is scored. A found pair without
  predicted times on a side that has true times counts as `missing`.
- clusters: pairwise co-membership F1 of clusters.csv against the truth's connected
  components (two media belong together when a chain of true pairs joins them).

- relation graph: pairwise co-membership of the connected components of matches.csv (every
  row of a same-content relation is an edge) against the truth's components; what a false
  link costs once `inferred` relations, clusters and scenes carry it on.
- per category: one transformed copy and its original (a direct truth row) are joined when
  the relation graph puts them in one component; recall per kind of repost, not per pair.
  The category is the truth's `category` column where it has one, else derived from the
  transform (`category_of`).
- hard-negative sets: per kind, how many trap pairs were linked directly, and how many
  were merged (one component of the relation graph, or one cluster) though no chain of
  true pairs joins them.
- rows of matches.csv with a relation other than the four same-content ones (a future
  `same_scene` or candidate proposal) are not links; they are counted as proposals.

The collection is taken to be the corpus: every predicted pair counts, so score a data dir
that holds the eval corpus alone.

Several families (`--family NAME=DIR`, as `make eval` runs it) print one table per family
and a headline: the worst family, since every threshold is chosen on one family and must
hold on the others (issue 15's targets: `family_acceptance`; the ThreatExchange
reference media add `conformance`).
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.io.contract import read_contract_frame

TRUTH_FILE = "eval_truth.csv"
RELATIONS = ("exact", "near_duplicate", "video_overlap", "still_in_video")
CONTENT_RELATIONS = frozenset(RELATIONS)  # rows of other relations are proposals, not links
TIMED_RELATIONS = ("video_overlap", "still_in_video")

# The targets of the dedupe issue.
TARGET_F1 = 0.97
TARGET_PRECISION = 0.99
TARGET_CROP_RECALL = 0.90
TARGET_INTERVAL_S = 2.0
INTRO_KINDS = ("black_intro", "uniform_intro")  # links through frames of no content
SOURCE_LINK_TRANSFORMS = ("trim", "compilation")
# Plain crops of one picture (not stacked with other edits), as pipeline.synth.corpus names them.
CROP_TRANSFORM = re.compile(r"^crop_(center|top|bottom|left|right|corner)_\d+$")

# Issue 15's targets, per family.
FAMILY_GRAPH_PRECISION = 0.995
FAMILY_GRAPH_RECALL = 0.95
FAMILY_CLUSTER_PRECISION = 0.995
FAMILY_CATEGORY_RECALL = 0.90
FAMILY_INTERVAL_S = 1.0
# What pipeline.synth.corpus calls the coarse roles of two copies of one original; a truth
# transform made only of these, joined by '+', names a pair of two copies (not a direct row).
_ROLES = frozenset(
    {"original", "repost", "reupload", "mirror_reupload", "trim", "compilation", "grab", "copy"}
)
_CATEGORY_ALIASES = {
    "resize": "scale",
    "watermark": "overlay",
    "letterbox": "pad",
    "pillarbox": "pad",
    "border": "pad",
    "byte": "exact",
}

_Key = tuple[str, str]  # two media ids, sorted
_Times = tuple[float | None, float | None, float | None, float | None]


@dataclass(frozen=True)
class PairScore:
    """Pair counts for one scope; ratios are None where their denominator is zero."""

    label: str
    n_true: int
    n_found: int
    n_predicted: int
    n_predicted_true: int
    n_same_relation: int | None = None  # found with the very relation; None for clusters

    @property
    def precision(self) -> float | None:
        return _ratio(self.n_predicted_true, self.n_predicted)

    @property
    def recall(self) -> float | None:
        return _ratio(self.n_found, self.n_true)

    @property
    def f1(self) -> float | None:
        precision, recall = self.precision, self.recall
        if precision is None or recall is None:
            return None
        return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class TransformRecall:
    transform: str
    relation: str
    n_true: int
    n_found: int

    @property
    def recall(self) -> float | None:
        return _ratio(self.n_found, self.n_true)


@dataclass(frozen=True)
class HardNegativeLinks:
    """Predicted links across one kind of trap; `n_co_clustered` counts only pairs that no
    chain of true pairs joins (hard negatives inside one true cluster are not merges)."""

    kind: str
    n_pairs: int
    n_linked: int
    n_co_clustered: int | None
    n_graph_merged: int = 0  # in one component of the relation graph, not joined by truth
    n_proposed: int = 0  # given a proposal relation (such as same_scene), not a link

    @property
    def merged(self) -> bool:
        return self.n_linked > 0 or self.n_graph_merged > 0 or bool(self.n_co_clustered)


@dataclass(frozen=True)
class IntervalError:
    """Absolute errors in seconds of one bound (start or end) on one side of the pairs."""

    relation: str
    side: str
    bound: str
    n: int
    n_missing: int
    median_s: float | None
    max_s: float | None


@dataclass(frozen=True)
class SourceLink:
    """A trim or compilation and one of the originals it was cut from."""

    source_path: str
    copy_path: str
    transform: str
    linked: bool
    max_error_s: float | None  # worst of the four bounds; None when unlinked or untimed

    def ok(self, tolerance_s: float = TARGET_INTERVAL_S) -> bool:
        return self.linked and self.max_error_s is not None and self.max_error_s <= tolerance_s


@dataclass(frozen=True)
class PairExample:
    path_a: str
    path_b: str
    label: str  # the true transform of a missed pair; predicted relation (and trap) of a wrong one


@dataclass(frozen=True)
class CategoryRecall:
    """Copies of one kind of repost joined to their original: in one component of the
    relation graph (`n_joined`), or by a row of matches.csv between the two (`n_direct`)."""

    category: str
    n_copies: int
    n_joined: int
    n_direct: int

    @property
    def recall(self) -> float | None:
        return _ratio(self.n_joined, self.n_copies)


@dataclass(frozen=True)
class EvalReport:
    n_media: int
    n_truth_rows: int
    n_collapsed: int  # truth pairs of two paths with one media id (byte-identical files)
    unmapped_paths: tuple[str, ...]  # truth paths that observations.csv does not know
    overall: PairScore
    per_relation: tuple[PairScore, ...]
    per_transform: tuple[TransformRecall, ...]
    crop_recall: TransformRecall
    hard_negatives: tuple[HardNegativeLinks, ...]
    intervals: tuple[IntervalError, ...]
    source_links: tuple[SourceLink, ...]
    clusters: PairScore | None
    missed: tuple[PairExample, ...]
    wrong: tuple[PairExample, ...]
    relation_graph: PairScore | None = None
    categories: tuple[CategoryRecall, ...] = ()
    n_proposals: int = 0  # rows of matches.csv with a relation that is not a link

    def to_markdown(self, examples: int = 25) -> str:
        return "\n".join(_markdown(self, examples)) + "\n"


# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TruePair:
    relation: str
    transform: str
    first: str  # media id on the truth file's a side
    times: _Times
    category: str = ""  # the kind of repost on a direct original–copy row, else ''


@dataclass(frozen=True)
class _Predicted:
    relation: str
    first: str
    times: _Times


def score(
    truth: pd.DataFrame,
    matches: pd.DataFrame,
    observations: pd.DataFrame,
    clusters: pd.DataFrame | None,
) -> EvalReport:
    """Score predicted matches (and clusters) against the truth; see the module docstring."""
    media_of = dict(zip(observations["path"], observations["media_id"], strict=True))
    positives, negatives, collapsed, unmapped = _truth_pairs(truth, media_of)
    is_link = matches["relation"].astype(str).isin(CONTENT_RELATIONS) if len(matches) else None
    links = matches if is_link is None else matches[is_link]
    proposals = matches.iloc[0:0] if is_link is None else matches[~is_link]
    predicted = _predicted_pairs(links)
    proposed = _predicted_pairs(proposals)
    path_of = _first_paths(observations, truth, media_of)

    found = positives.keys() & predicted.keys()
    overall = PairScore(
        "overall",
        len(positives),
        len(found),
        len(predicted),
        len(found),
        sum(positives[k].relation == predicted[k][0].relation for k in found),
    )
    relations = [*RELATIONS, *sorted({p[0].relation for p in predicted.values()} - {*RELATIONS})]
    per_relation = tuple(_relation_score(r, positives, predicted) for r in relations)

    by_transform: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for key, pair in positives.items():
        by_transform[(pair.transform, pair.relation)].append(key in predicted)
    per_transform = tuple(
        TransformRecall(transform, relation, len(hits), sum(hits))
        for (transform, relation), hits in sorted(by_transform.items())
    )
    crops = [key in predicted for key, p in positives.items() if CROP_TRANSFORM.match(p.transform)]
    crop_recall = TransformRecall("crop_* (5–25%)", "near_duplicate", len(crops), sum(crops))

    media = set(observations["media_id"]) | {m for key in positives for m in key}
    components = _components(media, positives.keys())
    cluster_score, cluster_of = None, None
    if clusters is not None:
        cluster_of = dict(zip(clusters["media_id"], clusters["cluster_id"], strict=True))
        cluster_score = _cluster_score(media, components, cluster_of)

    graph = _components(media, predicted.keys())
    graph_score = _cluster_score(media, components, graph)
    graph_score = PairScore("relation graph (components)", *_counts(graph_score))
    categories = _category_recall(positives, predicted, graph)
    hard_negatives = _hard_negative_links(
        negatives, predicted, components, cluster_of, graph, proposed
    )
    intervals, source_links = _interval_scores(positives, predicted, path_of)
    missed = tuple(
        PairExample(path_of[first], path_of[second], positives[k].transform)
        for k in sorted(positives.keys() - predicted.keys(), key=lambda k: _sort_key(k, path_of))
        for first, second in [_oriented(k, positives[k].first)]
    )
    wrong = tuple(
        PairExample(
            path_of.get(k[0], k[0]),
            path_of.get(k[1], k[1]),
            predicted[k][0].relation + (f" ({negatives[k]})" if k in negatives else ""),
        )
        for k in sorted(predicted.keys() - positives.keys(), key=lambda k: _sort_key(k, path_of))
    )
    return EvalReport(
        n_media=len(set(observations["media_id"])),
        n_truth_rows=len(truth),
        n_collapsed=collapsed,
        unmapped_paths=tuple(sorted(unmapped)),
        overall=overall,
        per_relation=per_relation,
        per_transform=per_transform,
        crop_recall=crop_recall,
        hard_negatives=hard_negatives,
        intervals=intervals,
        source_links=source_links,
        clusters=cluster_score,
        missed=missed,
        wrong=wrong,
        relation_graph=graph_score,
        categories=categories,
        n_proposals=len(proposals),
    )


def category_of(transform: str) -> str:
    """The coarse kind of repost of a direct row's transform, for truth files without a
    `category` column (pipeline.synth.corpus): stacked edits are a `chain`, title-card
    re-uploads an `intro_reupload`, otherwise the first word (`crop_center_10` → `crop`)."""
    if "+" in transform:
        return "chain"
    if transform.endswith("_intro_reupload"):
        return "intro_reupload"
    if transform == "mirror_reupload":
        return transform
    first = transform.split("_", 1)[0]
    return _CATEGORY_ALIASES.get(first, first)


def family_acceptance(report: EvalReport) -> list[str]:
    """Issue 15's targets that one family misses (empty when all are met): relation graph
    precision and recall, cluster precision, recall per category, no hard-negative set
    merged, video intervals within FAMILY_INTERVAL_S."""
    failed = []
    graph = report.relation_graph
    if graph is not None:
        if graph.precision is None or graph.precision < FAMILY_GRAPH_PRECISION:
            failed.append(
                f"relation graph precision >= {FAMILY_GRAPH_PRECISION}: {_fmt(graph.precision)}"
            )
        if graph.recall is None or graph.recall < FAMILY_GRAPH_RECALL:
            failed.append(f"relation graph recall >= {FAMILY_GRAPH_RECALL}: {_fmt(graph.recall)}")
    clusters = report.clusters
    if clusters is not None and (
        clusters.precision is not None and clusters.precision < FAMILY_CLUSTER_PRECISION
    ):
        failed.append(
            f"cluster precision >= {FAMILY_CLUSTER_PRECISION}: {_fmt(clusters.precision)}"
        )
    low = [
        c for c in report.categories if c.recall is not None and c.recall < FAMILY_CATEGORY_RECALL
    ]
    if low:
        failed.append(
            f"each repost category >= {FAMILY_CATEGORY_RECALL} recall: "
            + ", ".join(f"{c.category} {c.n_joined}/{c.n_copies}" for c in low)
        )
    merged = [h for h in report.hard_negatives if h.merged]
    if merged:
        failed.append(
            "zero hard-negative sets merged: "
            + ", ".join(
                f"{h.kind} ({h.n_linked} linked, {h.n_graph_merged} in one component)"
                for h in merged
            )
        )
    worst, missing = worst_interval_error(report)
    if (worst is not None and worst > FAMILY_INTERVAL_S) or missing:
        failed.append(
            f"video intervals within {FAMILY_INTERVAL_S:g} s: worst {_fmt(worst, 2)} s, "
            f"{missing} found pairs without times"
        )
    return failed


def conformance(report: EvalReport, required: Sequence[str]) -> list[str]:
    """The ThreatExchange conformance expectations that the report misses: every copy of a
    `required` category joined to its original, nothing linked to an `unrelated` file, and
    no same-content relation between two captures of one scene."""
    failed = []
    by_category = {c.category: c for c in report.categories}
    for category in required:
        found = by_category.get(category)
        if found is None:
            failed.append(f"{category}: no such copies in the truth")
        elif found.n_joined < found.n_copies:
            failed.append(
                f"{category}: {found.n_joined} of {found.n_copies} joined to the original"
            )
    for h in report.hard_negatives:
        if h.kind in {"unrelated", "same_scene"} and (h.n_linked or h.n_graph_merged):
            failed.append(
                f"{h.kind}: {h.n_linked} pairs linked, {h.n_graph_merged} in one component"
            )
    return failed


def worst_interval_error(report: EvalReport) -> tuple[float | None, int]:
    """The largest interval error over every bound of every found timed pair, and how many
    bounds of found pairs came without a time."""
    errors = [e.max_s for e in report.intervals if e.max_s is not None]
    return (max(errors) if errors else None), sum(e.n_missing for e in report.intervals)


def acceptance(report: EvalReport) -> list[str]:
    """The targets of the dedupe issue that the report misses (empty when all are met)."""
    failed = []
    f1, precision = report.overall.f1, report.overall.precision
    if f1 is None or f1 < TARGET_F1 or precision is None or precision < TARGET_PRECISION:
        failed.append(
            f"overall pairwise F1 >= {TARGET_F1} with precision >= {TARGET_PRECISION}: "
            f"F1 {_fmt(f1)}, precision {_fmt(precision)}"
        )
    crop = report.crop_recall
    if crop.recall is None or crop.recall < TARGET_CROP_RECALL:
        failed.append(
            f"recall >= {TARGET_CROP_RECALL} on 5–25% crops: {_fmt(crop.recall)} "
            f"({crop.n_found} of {crop.n_true})"
        )
    intro_links = sum(h.n_linked for h in report.hard_negatives if h.kind in INTRO_KINDS)
    if intro_links:
        failed.append(f"zero links through black/uniform frames: {intro_links} links")
    if not report.source_links:
        failed.append("every trim and compilation linked to its sources: none in the truth")
    bad = [link for link in report.source_links if not link.ok()]
    if bad:
        failed.append(
            f"every trim and compilation linked to its sources with intervals within "
            f"{TARGET_INTERVAL_S:g} s: {len(bad)} of {len(report.source_links)} not "
            "(" + "; ".join(f"{b.copy_path} ← {b.source_path}" for b in bad[:5]) + ")"
        )
    return failed


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m pipeline.evaluate --data-dir DIR` prints one collection's full report;
    `--family NAME=DIR` (repeated, as `make eval` runs it) prints every family's tables and
    the headline, the worst family. Exit 2 when an input is missing or unreadable. Failed
    targets are listed in the report but do not change the exit status (the report is for
    reading; gate on `acceptance` / `family_acceptance` in code)."""
    parser = argparse.ArgumentParser(
        prog="python -m pipeline.evaluate",
        description="Score DIR/processed/matches.csv and clusters.csv against "
        "DIR/eval_truth.csv (made by `python -m pipeline.synth.corpus` and the other "
        "families' generators).",
    )
    parser.add_argument("--data-dir", type=Path, metavar="DIR")
    parser.add_argument(
        "--family",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="score the collection in DIR as family NAME; repeat for every family",
    )
    args = parser.parse_args(argv)
    families: list[tuple[str, Path]] = []
    for spec in args.family:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not folder:
            parser.error(f"--family wants NAME=DIR, got {spec!r}")
        families.append((name, Path(folder)))
    if args.data_dir is None and not families:
        families = []
        args.data_dir = Path("data")
    if not families:
        loaded = load_report(args.data_dir)
        if isinstance(loaded, str):
            print(f"evaluate: {loaded}", file=sys.stderr)
            return 2
        print(loaded.to_markdown(), end="")
        return 0
    results = []
    for name, folder in families:
        loaded = load_report(folder)
        if isinstance(loaded, str):
            print(f"evaluate: family {name}: {loaded}", file=sys.stderr)
            return 2
        results.append(family_result(name, loaded))
    print(families_markdown(results), end="")
    return 0


def load_report(data_dir: Path) -> EvalReport | str:
    """Score the collection in data_dir, or say what input is missing or unreadable."""
    processed = data_dir / "processed"
    needed = [data_dir / TRUTH_FILE, processed / "observations.csv", processed / "matches.csv"]
    missing = [str(path) for path in needed if not path.is_file()]
    if missing:
        return "missing " + ", ".join(missing)
    try:
        truth, observations, matches = (_read_csv(path) for path in needed)
        clusters_path = processed / "clusters.csv"
        clusters = _read_csv(clusters_path) if clusters_path.is_file() else None
        return score(truth, matches, observations, clusters)
    except (ValueError, KeyError) as exc:
        return f"unreadable input: {exc!r}"


# ---------------------------------------------------------------------------------------


def _truth_pairs(
    truth: pd.DataFrame, media_of: dict[str, str]
) -> tuple[dict[_Key, _TruePair], dict[_Key, str], int, set[str]]:
    positives: dict[_Key, _TruePair] = {}
    negatives: dict[_Key, str] = {}
    collapsed, unmapped = 0, set[str]()
    for row in truth.to_dict("records"):
        ids = []
        for path in (str(row["path_a"]), str(row["path_b"])):
            if path not in media_of:
                unmapped.add(path)
            ids.append(media_of.get(path, f"missing:{path}"))
        first, second = ids
        relation = str(row["relation"])
        if first == second:
            collapsed += relation != "none"
            continue
        key = _key(first, second)
        if relation == "none":
            negatives.setdefault(key, str(row["transform"]))
        elif key not in positives:
            transform = str(row["transform"])
            positives[key] = _TruePair(
                relation, transform, first, _times(row), _truth_category(row, transform)
            )
    for key in positives.keys() & negatives.keys():
        del negatives[key]
    return positives, negatives, collapsed, unmapped


def _truth_category(row: dict[Any, Any], transform: str) -> str:
    """The category of a direct original–copy row ('' for a pair of two copies)."""
    if "category" in row:
        value = row["category"]
        return (
            "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        )
    if "+" in transform and set(transform.split("+")) <= _ROLES:
        return ""
    return category_of(transform)


def _category_recall(
    positives: dict[_Key, _TruePair],
    predicted: dict[_Key, list[_Predicted]],
    graph: dict[str, str],
) -> tuple[CategoryRecall, ...]:
    by_category: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for key, pair in positives.items():
        if pair.category:
            joined = graph.get(key[0]) is not None and graph.get(key[0]) == graph.get(key[1])
            by_category[pair.category].append((joined, key in predicted))
    return tuple(
        CategoryRecall(category, len(hits), sum(j for j, _ in hits), sum(d for _, d in hits))
        for category, hits in sorted(by_category.items())
    )


def _counts(s: PairScore) -> tuple[int, int, int, int]:
    return s.n_true, s.n_found, s.n_predicted, s.n_predicted_true


def _predicted_pairs(matches: pd.DataFrame) -> dict[_Key, list[_Predicted]]:
    predicted: dict[_Key, list[_Predicted]] = defaultdict(list)
    for row in matches.to_dict("records"):
        first, second = str(row["media_a"]), str(row["media_b"])
        if first == second:
            continue
        predicted[_key(first, second)].append(_Predicted(str(row["relation"]), first, _times(row)))
    return dict(predicted)


def _hard_negative_links(
    negatives: dict[_Key, str],
    predicted: dict[_Key, list[_Predicted]],
    components: dict[str, str],
    cluster_of: dict[str, str] | None,
    graph: dict[str, str] | None = None,
    proposed: dict[_Key, list[_Predicted]] | None = None,
) -> tuple[HardNegativeLinks, ...]:
    by_kind: dict[str, list[_Key]] = defaultdict(list)
    for key, kind in negatives.items():
        by_kind[kind].append(key)

    def merged(key: _Key) -> bool:
        assert cluster_of is not None
        first, second = cluster_of.get(key[0]), cluster_of.get(key[1])
        joined_by_truth = components.get(key[0]) == components.get(key[1])
        return first is not None and first == second and not joined_by_truth

    def graph_merged(key: _Key) -> bool:
        if graph is None or components.get(key[0]) == components.get(key[1]):
            return False
        first = graph.get(key[0])
        return first is not None and first == graph.get(key[1])

    return tuple(
        HardNegativeLinks(
            kind,
            len(keys),
            sum(key in predicted for key in keys),
            None if cluster_of is None else sum(merged(key) for key in keys),
            sum(graph_merged(key) for key in keys),
            sum(key in (proposed or {}) for key in keys),
        )
        for kind, keys in sorted(by_kind.items())
    )


def _relation_score(
    relation: str, positives: dict[_Key, _TruePair], predicted: dict[_Key, list[_Predicted]]
) -> PairScore:
    true_keys = {k for k, p in positives.items() if p.relation == relation}
    predicted_keys = {k for k, p in predicted.items() if p[0].relation == relation}
    return PairScore(
        relation,
        len(true_keys),
        len(true_keys & predicted.keys()),
        len(predicted_keys),
        len(predicted_keys & positives.keys()),
        len(true_keys & predicted_keys),
    )


def _interval_scores(
    positives: dict[_Key, _TruePair],
    predicted: dict[_Key, list[_Predicted]],
    path_of: dict[str, str],
) -> tuple[tuple[IntervalError, ...], tuple[SourceLink, ...]]:
    errors: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    missing: dict[tuple[str, str, str], int] = defaultdict(int)
    links = []
    for key in sorted(positives, key=lambda k: _sort_key(k, path_of)):
        pair = positives[key]
        timed = pair.relation in TIMED_RELATIONS
        worst: float | None = None
        if key in predicted and timed:
            best = min(
                (_errors(pair, p) for p in predicted[key]),
                key=lambda errs: (sum(e is None for e in errs), sum(e or 0.0 for e in errs)),
            )
            for index, err in enumerate(best):
                if pair.times[index] is None:
                    continue
                side = "video" if pair.relation == "still_in_video" else "ab"[index // 2]
                slot = (pair.relation, side, ("start", "end")[index % 2])
                if err is None:
                    missing[slot] += 1
                else:
                    errors[slot].append(err)
            given = [err for index, err in enumerate(best) if pair.times[index] is not None]
            measured = [err for err in given if err is not None]
            worst = max(measured) if measured and len(measured) == len(given) else None
        if pair.transform in SOURCE_LINK_TRANSFORMS:
            second = _oriented(key, pair.first)[1]
            links.append(
                SourceLink(
                    path_of.get(pair.first, pair.first),
                    path_of.get(second, second),
                    pair.transform,
                    key in predicted,
                    worst,
                )
            )
    slots = sorted(errors.keys() | missing.keys())
    intervals = tuple(
        IntervalError(
            relation,
            side,
            bound,
            len(errors[(relation, side, bound)]),
            missing[(relation, side, bound)],
            statistics.median(errors[(relation, side, bound)])
            if errors[(relation, side, bound)]
            else None,
            max(errors[(relation, side, bound)], default=None),
        )
        for relation, side, bound in slots
    )
    return intervals, tuple(links)


def _errors(pair: _TruePair, prediction: _Predicted) -> tuple[float | None, ...]:
    """Absolute error of each bound (a_start, a_end, b_start, b_end) in the truth's orientation."""
    times = prediction.times
    if prediction.first != pair.first:
        times = (times[2], times[3], times[0], times[1])
    return tuple(
        None if want is None or got is None else abs(got - want)
        for want, got in zip(pair.times, times, strict=True)
    )


def _components(media: Iterable[str], edges: Iterable[_Key]) -> dict[str, str]:
    parent = {m: m for m in media}

    def root(m: str) -> str:
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {m: root(m) for m in parent}


def _co_members(groups: dict[str, str]) -> set[_Key]:
    members: dict[str, list[str]] = defaultdict(list)
    for media_id, group in groups.items():
        members[group].append(media_id)
    return {
        _key(a, b)
        for group in members.values()
        for i, a in enumerate(sorted(group))
        for b in sorted(group)[i + 1 :]
    }


def _cluster_score(
    media: set[str], components: dict[str, str], cluster_of: dict[str, str]
) -> PairScore:
    true_pairs = _co_members({m: components[m] for m in media})
    predicted_pairs = _co_members({m: str(c) for m, c in cluster_of.items()})
    both = len(true_pairs & predicted_pairs)
    return PairScore("clusters (co-membership)", len(true_pairs), both, len(predicted_pairs), both)


def _first_paths(
    observations: pd.DataFrame, truth: pd.DataFrame, media_of: dict[str, str]
) -> dict[str, str]:
    """A readable name per media id: its first observed path (missing ones by their path)."""
    path_of: dict[str, str] = {}
    for path, media_id in sorted(zip(observations["path"], observations["media_id"], strict=True)):
        path_of.setdefault(str(media_id), str(path))
    for path in (*truth["path_a"], *truth["path_b"]):
        if path not in media_of:
            path_of[f"missing:{path}"] = f"{path} (not ingested)"
    return path_of


def _sort_key(key: _Key, path_of: dict[str, str]) -> _Key:
    return _key(path_of.get(key[0], key[0]), path_of.get(key[1], key[1]))


def _oriented(key: _Key, first: str) -> _Key:
    return key if key[0] == first else (key[1], key[0])


def _key(first: str, second: str) -> _Key:
    return (first, second) if first <= second else (second, first)


def _times(row: dict[Any, Any]) -> _Times:
    return (
        _time(row.get("a_start_s")),
        _time(row.get("a_end_s")),
        _time(row.get("b_start_s")),
        _time(row.get("b_end_s")),
    )


def _time(value: Any) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


def _read_csv(path: Path) -> pd.DataFrame:
    return read_contract_frame(path)


# ---------------------------------------------------------------------------------------
# Markdown


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _score_row(s: PairScore) -> list[object]:
    return [
        s.label,
        s.n_true,
        s.n_found,
        s.n_predicted,
        s.n_predicted_true,
        _fmt(s.precision),
        _fmt(s.recall),
        _fmt(s.f1),
        "—" if s.n_same_relation is None else s.n_same_relation,
    ]


def _markdown(report: EvalReport, examples: int) -> list[str]:
    failed = acceptance(report)
    lines = [
        "# Dedupe evaluation",
        "",
        f"{report.n_media} media, {report.overall.n_true} true pairs "
        f"({report.n_truth_rows} truth rows, {report.n_collapsed} byte-identical pairs "
        f"counted as one media), {report.overall.n_predicted} predicted pairs.",
    ]
    if report.unmapped_paths:
        lines.append(
            f"{len(report.unmapped_paths)} truth files are not in observations.csv "
            f"(their pairs count as missed), e.g. {report.unmapped_paths[0]}."
        )
    lines += ["", "## Acceptance", ""]
    lines += [f"- FAILED: {item}" for item in failed] or ["- all targets met"]
    lines += ["", "## Pairwise scores", ""]
    scores = [report.overall, *(s for s in report.per_relation if s.n_true or s.n_predicted)]
    if report.clusters is not None:
        scores.append(report.clusters)
    if report.relation_graph is not None:
        scores.append(report.relation_graph)
    lines += _score_table(scores)
    lines += [
        "",
        "Per relation, recall groups pairs by their true relation and precision by the "
        "predicted one; a found pair is correct whatever relation it was given. Clusters: "
        "co-membership against the truth's connected components."
        + ("" if report.clusters is not None else " (clusters.csv not found.)"),
        "",
        "## Recall per transform",
        "",
    ]
    crop = report.crop_recall
    rows = [
        (t.transform, t.relation, t.n_true, t.n_found, _fmt(t.recall)) for t in report.per_transform
    ]
    rows.append(
        (f"**{crop.transform}**", crop.relation, crop.n_true, crop.n_found, _fmt(crop.recall))
    )
    lines += _table(("transform", "relation", "true", "found", "recall"), rows)
    lines += ["", "## Recall per category (copy joined to its original in the relation graph)", ""]
    lines += _category_table(report)
    lines += ["", "## Hard negatives", ""]
    lines += _hard_negative_table(report)
    lines += ["", "## Video intervals (absolute error, seconds)", ""]
    lines += _interval_table(report)
    lines += ["", "## Trims and compilations against their sources", ""]
    lines += _table(
        ("copy", "source", "transform", "linked", "worst error s", "ok"),
        (
            (
                link.copy_path,
                link.source_path,
                link.transform,
                "yes" if link.linked else "no",
                _fmt(link.max_error_s, 2),
                "yes" if link.ok() else "no",
            )
            for link in report.source_links
        ),
    )
    lines += _example_lists(report, examples, "##")
    return lines


def _score_table(scores: Iterable[PairScore]) -> list[str]:
    return _table(
        (
            "scope",
            "true",
            "found",
            "predicted",
            "predicted true",
            "precision",
            "recall",
            "F1",
            "same relation",
        ),
        (_score_row(s) for s in scores),
    )


def _interval_table(report: EvalReport) -> list[str]:
    return _table(
        ("relation", "side", "bound", "pairs", "missing", "median", "max"),
        (
            (e.relation, e.side, e.bound, e.n, e.n_missing, _fmt(e.median_s, 2), _fmt(e.max_s, 2))
            for e in report.intervals
        ),
    )


def _example_lists(report: EvalReport, examples: int, heading: str) -> list[str]:
    """The first `examples` missed pairs and wrong links, under `heading`-level titles."""
    lines: list[str] = []
    for title, items in (("Missed pairs", report.missed), ("Wrong links", report.wrong)):
        shown = f", first {examples}" if len(items) > examples else ""
        lines += ["", f"{heading} {title} ({len(items)}{shown})", ""]
        lines += [f"- {e.path_a} ↔ {e.path_b}: {e.label}" for e in items[:examples]] or ["none"]
    return lines


def _category_table(report: EvalReport) -> list[str]:
    return _table(
        ("category", "copies", "joined", "pair found", "recall"),
        (
            (c.category, c.n_copies, c.n_joined, c.n_direct, _fmt(c.recall))
            for c in report.categories
        ),
    )


def _hard_negative_table(report: EvalReport) -> list[str]:
    return _table(
        ("kind", "pairs", "linked", "one component", "co-clustered", "proposed", "merged"),
        (
            (
                h.kind,
                h.n_pairs,
                h.n_linked,
                h.n_graph_merged,
                "—" if h.n_co_clustered is None else h.n_co_clustered,
                h.n_proposed,
                "**yes**" if h.merged else "no",
            )
            for h in report.hard_negatives
        ),
    )


@dataclass(frozen=True)
class FamilyResult:
    """One family's report and the expectations it misses (issue 15's targets, and the
    conformance expectations where the family has them)."""

    name: str
    report: EvalReport
    failed: tuple[str, ...]
    conformance_failed: tuple[str, ...] | None = None


def family_result(name: str, report: EvalReport) -> FamilyResult:
    from pipeline.synth.threatexchange_corpus import CONFORMANCE_CATEGORIES
    from pipeline.synth.threatexchange_corpus import FAMILY as TE_FAMILY

    conformance_failed = (
        tuple(conformance(report, CONFORMANCE_CATEGORIES)) if name == TE_FAMILY else None
    )
    return FamilyResult(name, report, tuple(family_acceptance(report)), conformance_failed)


def worst_family(results: Sequence[FamilyResult]) -> FamilyResult:
    """The family with the lowest relation-graph F1 (then the most failed targets): the
    figure a collection nobody tuned on can expect."""

    def badness(result: FamilyResult) -> tuple[float, int]:
        graph = result.report.relation_graph
        f1 = graph.f1 if graph is not None and graph.f1 is not None else 0.0
        return f1, -len(result.failed)

    return min(results, key=badness)


def families_markdown(results: Sequence[FamilyResult], examples: int = 10) -> str:
    """The report `make eval` prints: the headline (worst family), one summary row per
    family, then per family its tables."""
    worst = worst_family(results)
    lines = ["# Dedupe evaluation, every family", ""]
    lines += [
        f"**Headline (worst family: {worst.name})**: {_summary_sentence(worst.report)}",
        "",
        "Thresholds are chosen on one family and reported on the others; the worst family is "
        "the figure that counts.",
        "",
    ]
    lines += _table(
        (
            "family",
            "media",
            "graph P",
            "graph R",
            "graph F1",
            "clusters P",
            "clusters R",
            "worst category",
            "hard-negative sets merged",
            "worst interval s",
            "targets missed",
        ),
        (_summary_row(result) for result in results),
    )
    for result in results:
        report = result.report
        lines += ["", f"## Family `{result.name}`", ""]
        lines += [
            f"{report.n_media} media, {report.overall.n_true} true pairs, "
            f"{report.overall.n_predicted} predicted pairs, "
            f"{report.n_proposals} proposal rows."
        ]
        if report.unmapped_paths:
            lines.append(f"{len(report.unmapped_paths)} truth files were not ingested.")
        lines += ["", "### Targets (issue 15)", ""]
        lines += [f"- FAILED: {item}" for item in result.failed] or ["- all targets met"]
        if result.conformance_failed is not None:
            lines += ["", "### ThreatExchange conformance", ""]
            lines += [f"- FAILED: {item}" for item in result.conformance_failed] or [
                "- conforms: every required copy joined, nothing linked to unrelated files or "
                "across same-scene captures"
            ]
        lines += ["", "### Relation graph, clusters, pairs", ""]
        scores = [s for s in (report.relation_graph, report.clusters, report.overall) if s]
        scores += [s for s in report.per_relation if s.n_true or s.n_predicted]
        lines += _score_table(scores)
        lines += ["", "### Recall per category", ""]
        lines += _category_table(report)
        lines += ["", "### Hard negatives", ""]
        lines += _hard_negative_table(report)
        lines += ["", "### Video intervals (absolute error, seconds)", ""]
        lines += _interval_table(report)
        lines += _example_lists(report, examples, "###")
    return "\n".join(lines) + "\n"


def _summary_sentence(report: EvalReport) -> str:
    graph, clusters = report.relation_graph, report.clusters
    worst, _ = worst_interval_error(report)
    low = _lowest_category(report)
    parts = []
    if graph is not None:
        parts.append(
            f"relation graph precision {_fmt(graph.precision)}, recall {_fmt(graph.recall)}, "
            f"F1 {_fmt(graph.f1)}"
        )
    if clusters is not None:
        parts.append(f"clusters precision {_fmt(clusters.precision)}")
    if low is not None:
        parts.append(f"worst category {low.category} {low.n_joined}/{low.n_copies}")
    parts.append(f"{sum(h.merged for h in report.hard_negatives)} hard-negative sets merged")
    parts.append(f"worst interval error {_fmt(worst, 2)} s")
    return "; ".join(parts) + "."


def _lowest_category(report: EvalReport) -> CategoryRecall | None:
    """The category with the lowest recall, or None when every category is complete."""
    low = min(report.categories, key=lambda c: c.recall or 0.0, default=None)
    return None if low is None or low.recall == 1.0 else low


def _summary_row(result: FamilyResult) -> list[object]:
    report = result.report
    graph, clusters = report.relation_graph, report.clusters
    low = _lowest_category(report)
    merged = [h for h in report.hard_negatives if h.merged]
    worst, _ = worst_interval_error(report)
    missed = len(result.failed) + len(result.conformance_failed or ())
    return [
        result.name,
        report.n_media,
        _fmt(graph.precision if graph else None),
        _fmt(graph.recall if graph else None),
        _fmt(graph.f1 if graph else None),
        _fmt(clusters.precision if clusters else None),
        _fmt(clusters.recall if clusters else None),
        "none below 1" if low is None else f"{low.category} {low.n_joined}/{low.n_copies}",
        f"{len(merged)} of {len(report.hard_negatives)}"
        + (" (" + ", ".join(h.kind for h in merged) + ")" if merged else ""),
        _fmt(worst, 2),
        missed,
    ]


if __name__ == "__main__":
    raise SystemExit(main())
