"""Stage `count`: media relations + frames (catalog) + analysts' annotations ->
counts.csv, count_certificate.csv.

Fifth stage of the DAG, after dedupe. Per incident: scenes are video shots and stills joined
through every frame match dedupe accepted (pipeline/core/scenes.py); a scene's count is the
analysts' largest annotated count, else the detector's proposal on its first frame
(labelled as such). The minimum number of individuals is solved exactly with its
certificate (pipeline/core/mincount.py), once with every machine match and once with only
exact and reviewer-confirmed matches (machine merges are not evidence until a reviewer
confirms them). Reviewers' decisions (pipeline/core/review.py) come first: a rejected match
never merges scenes, a reviewer's count replaces the annotation or proposal, and declared or
removed disjointness changes the graph. scenes.json carries every scene for the report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict
from typing import Any

from tqdm import tqdm

from pipeline.core.outcome import count_changes
from pipeline.core.records import Detection
from pipeline.core.review import ReviewState, effective_disjointness, fold, format_ref, pair
from pipeline.core.scenes import LabelledCount, SceneGraph, SceneRef, Unit, build_scenes
from pipeline.io import contract, thumbs
from pipeline.io.annotations import Annotation, analyst_input_fingerprint, read_analyst_input
from pipeline.io.detectors import make_detector, people_count
from pipeline.stages import derived
from pipeline.stages.context import RunContext

STAGE = "count"
SCENES_FILE = "scenes.json"  # every scene, disjointness and contradiction: for report and review


class _Frames:
    """Shots of each media: which shot a time falls in, and each shot's first frame."""

    def __init__(self, ctx: RunContext) -> None:
        self.by_media: dict[str, list[tuple[float | None, int, int, str]]] = defaultdict(list)
        for f in ctx.catalog.frames():
            self.by_media[f.media_id].append(
                (f.frame.pts_s, f.frame.shot_id, f.frame.frame_index, f.thumb_sha256)
            )

    def units(self, media_id: str) -> list[Unit]:
        return sorted({(media_id, shot) for _, shot, _, _ in self.by_media[media_id]})

    def shot_at(self, media_id: str, t_s: float) -> int:
        shot = 0
        for pts, shot_id, _, _ in self.by_media[media_id]:
            if pts is not None and pts <= t_s + 1e-6:
                shot = shot_id
        return shot

    def first_frame(self, unit: Unit) -> tuple[int, str] | None:
        for _, shot, index, sha in self.by_media[unit[0]]:
            if shot == unit[1]:
                return index, sha
        return None

    def shot_of_frame(self, media_id: str, frame_index: int) -> int:
        for _, shot, index, _ in self.by_media[media_id]:
            if index == frame_index:
                return shot
        return 0


def _links(
    ctx: RunContext, frames: _Frames, review: ReviewState, confirmed_only: bool
) -> list[tuple[Unit, Unit]]:
    """Unit pairs joined by accepted relations: through their frame matches, or shot by shot
    for exact copies. confirmed_only keeps exact matches and those a reviewer confirmed."""
    accepted = {
        (m.media_a, m.media_b): m.relation
        for m in ctx.catalog.media_matches()
        if m.method != "inferred" and not review.is_rejected(m.media_a, m.media_b)
    }
    links: list[tuple[Unit, Unit]] = []
    for (a, b), relation in accepted.items():
        if relation == "exact":
            links += [((a, s), (b, s)) for _, s in frames.units(a) if (b, s) in frames.units(b)]
    for m in ctx.catalog.frame_matches():
        a, fa, b, fb = m.media_a, m.frame_a, m.media_b, m.frame_b
        if (a, b) in accepted and (not confirmed_only or pair(a, b) in review.confirmed_pairs):
            links.append(((a, frames.shot_of_frame(a, fa)), (b, frames.shot_of_frame(b, fb))))
    return links


def _resolve(
    ctx: RunContext, incident: str, rows: tuple[Annotation, ...], frames: _Frames, file: str
) -> tuple[list[LabelledCount], list[str]]:
    """Annotation rows onto units; unknown paths and impossible times are errors."""
    by_path = {o.path: o.media_id for o in ctx.catalog.observations() if o.incident == incident}
    media = {m.media_id: m for m in ctx.catalog.observed_media()}
    labelled: list[LabelledCount] = []
    errors: list[str] = []
    for row in rows:
        where = f"{file}:{row.line}"
        media_id = by_path.get(f"{incident}/{row.path}")
        if media_id is None:
            errors.append(
                f"{where}: unknown path {row.path!r} (not an ingested file of "
                f"incident {incident!r})"
            )
            continue
        record = media[media_id]
        if record.kind == "video":
            if row.t_s is None:
                errors.append(f"{where}: {row.path!r} is a video: t_s (seconds) is required")
                continue
            if record.duration_s is not None and row.t_s > record.duration_s + 1e-6:
                errors.append(
                    f"{where}: t_s {row.t_s:g} is past the end of the video "
                    f"({record.duration_s:g} s)"
                )
                continue
            unit = (media_id, frames.shot_at(media_id, row.t_s))
        else:
            if row.t_s is not None:
                errors.append(f"{where}: {row.path!r} is a still: leave t_s empty")
                continue
            unit = (media_id, 0)
        labelled.append(LabelledCount(row.scene, unit, row.count))
    return labelled, errors


def _proposals(
    ctx: RunContext, incident: str, frames: _Frames, units: list[Unit]
) -> dict[Unit, int]:
    """The detector's people count on the first frame of each unit, detected once per frame
    and detector setting. A unit whose stored thumbnail is missing or unreadable gets no
    proposal and an error line: the count stays a proven lower bound without it, and the
    stage is not recorded as done, so the next run detects it again."""
    cfg = ctx.settings.default.count
    detector = make_detector(
        cfg.detector, cfg.onnx_model, cfg.hog_min_score, cfg.haar_min_neighbors
    )
    if detector is None:
        return {}
    known = ctx.catalog.detections(detector.name)
    counts: dict[Unit, int] = {}
    for unit in tqdm(units, desc="detect", unit="scene", disable=not ctx.show_progress or None):
        first = frames.first_frame(unit)
        if first is None:
            continue
        index, sha = first
        if (unit[0], index) not in known:
            try:
                picture = thumbs.load(ctx.layout.thumbs, sha)
            except OSError as exc:
                ctx.errors.append(
                    f"count {incident}: {unit[0][:12]} frame {index}, no detector proposal for "
                    f"its scene: {thumbs.unreadable(sha, exc)}"
                )
                continue
            boxes = detector.detect(picture)
            people = people_count(boxes)
            with ctx.catalog.transaction():
                ctx.catalog.put_detection(
                    unit[0], index, detector.name, json.dumps([asdict(b) for b in boxes]), people
                )
            known[(unit[0], index)] = Detection(people, "")
        counts[unit] = known[(unit[0], index)].people
    return counts


# What the count reads from the catalog; analysts' files and settings join the key too.
INPUTS = (
    "media",
    "observations",
    "frames",
    "frame_matches",
    "media_matches",
    "detections",
    "review_decisions",
)


def _inputs_key(ctx: RunContext) -> str:
    extra = {
        "count": ctx.settings.default.count.model_dump(),
        "analysts": analyst_input_fingerprint(ctx.layout.annotations),
    }
    return derived.inputs_key(ctx, INPUTS, extra)


def run_count(ctx: RunContext) -> dict[str, Any]:
    if derived.up_to_date(ctx, STAGE, _inputs_key(ctx)):
        counts: dict[str, Any] = {"count_changes": []}
        ctx.counts[STAGE] = counts
        return counts
    processed = ctx.layout.processed
    before = {
        row["incident"]: row["minimum_count"]
        for row in contract.read_contract_csv(processed / "counts.csv")
    }
    errors_before = len(ctx.errors)
    frames = _Frames(ctx)
    incidents: dict[str, set[str]] = defaultdict(set)
    for obs in ctx.catalog.observations():
        incidents[obs.incident].add(obs.media_id)
    review = fold(ctx.catalog.decisions())
    full_links = _links(ctx, frames, review, confirmed_only=False)
    confirmed_links = _links(ctx, frames, review, confirmed_only=True)
    count_rows: list[dict[str, Any]] = []
    certificate_rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    for incident, media_ids in sorted(incidents.items()):
        folder = ctx.layout.annotations / incident
        analyst = read_analyst_input(folder)
        labelled, errors = _resolve(
            ctx, incident, analyst.annotations, frames, str(folder / "annotations.csv")
        )
        errors = list(analyst.errors) + errors
        if errors:
            ctx.errors.extend(f"count {incident}: {e}" for e in errors)
            continue
        units = sorted(u for m in media_ids for u in frames.units(m))
        annotated = {row.unit for row in labelled}
        proposals = _proposals(ctx, incident, frames, [u for u in units if u not in annotated])
        disjoint = effective_disjointness(
            incident, [(d.scene_a, d.scene_b, d.reason) for d in analyst.disjoint], review
        )
        graph = build_scenes(units, full_links, labelled, disjoint, proposals, review.counts)
        strict = build_scenes(units, confirmed_links, labelled, disjoint, proposals, review.counts)
        row, certificate = _solve(
            incident, graph, strict, ctx.settings.default.count.solver_time_limit_s
        )
        count_rows.append(row)
        certificate_rows += certificate
        details[incident] = scene_details(graph, disjoint, certificate, frames.first_frame)
    with ctx.catalog.transaction():
        outputs = {
            "counts.csv": contract.write_contract_csv(
                processed / "counts.csv", contract.COUNT_COLUMNS, count_rows
            ),
            "count_certificate.csv": contract.write_contract_csv(
                processed / "count_certificate.csv", contract.CERTIFICATE_COLUMNS, certificate_rows
            ),
            SCENES_FILE: contract.write_json(processed / SCENES_FILE, details),
        }
        counts = {
            "incidents": len(count_rows),
            "incidents_with_errors": len(incidents) - len(count_rows),
            "count_changes": count_changes(
                before, {row["incident"]: str(row["minimum_count"]) for row in count_rows}
            ),
        }
        ctx.custody(
            STAGE,
            "count_run",
            params={"config": ctx.settings.default.count.model_dump()},
            outputs=outputs,
            counts=counts,
            errors=ctx.errors,
        )
        # Annotation errors are not remembered as done: every run reports them until fixed.
        if len(ctx.errors) == errors_before:
            derived.record(ctx, STAGE, _inputs_key(ctx), outputs)
    ctx.counts[STAGE] = counts
    return counts


def _solve(
    incident: str, graph: SceneGraph, strict: SceneGraph, time_limit_s: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    # The solver brings SciPy's optimizer (~0.7 s of imports): loaded only when a count is
    # solved, so a scheduled run with nothing new starts fast.
    from pipeline.core.mincount import min_individuals

    scenes = {s.scene_id: s for s in graph.scenes}
    result = min_individuals(
        {s.scene_id: s.count for s in graph.scenes},
        [(a, b) for a, b, _ in graph.disjoint],
        time_limit_s=time_limit_s,
    )
    confirmed = min_individuals(
        {s.scene_id: s.count for s in strict.scenes},
        [(a, b) for a, b, _ in strict.disjoint],
        time_limit_s=time_limit_s,
    )
    reasons = {frozenset((a, b)): reason for a, b, reason in graph.disjoint}
    proof = [entry.scene_id for entry in result.certificate]
    because = "; ".join(
        f"{a} and {b} cannot share anyone ({reasons[frozenset((a, b))]})"
        for i, a in enumerate(proof)
        for b in proof[i + 1 :]
        if frozenset((a, b)) in reasons
    )
    shown = ", ".join(
        f"{scenes[e.scene_id].scene_id} shows {scenes[e.scene_id].count}"
        + (f" (weight {e.weight})" if e.weight != 1 else "")
        for e in result.certificate
    )
    explanation = (
        f"At least {result.minimum} individuals: {shown}"
        + (f"; {because}" if because else "")
        + "."
    )
    if not result.optimal:
        explanation += (
            f" Not proven exact: the solver stopped after {time_limit_s:g} s"
            f" (count.solver_time_limit_s); {result.minimum} is proven, and"
            f" {result.witness_total} people are enough, so the minimum lies between them."
        )
    if graph.contradictions:
        explanation += (
            " Contradictions for review: "
            + "; ".join(
                f"{c.label_a} and {c.label_b} are declared disjoint ({c.reason}) but show the same "
                f"content (scene {c.scene_id})"
                for c in graph.contradictions
            )
            + "."
        )
    row = {
        "incident": incident,
        "minimum_count": result.minimum,
        "clique_bound": result.clique_bound,
        "upper_bound": result.upper_bound,
        "scenes": len(graph.scenes),
        "reviewed": all(s.origin != "detector" for s in graph.scenes),
        "minimum_confirmed_only": confirmed.minimum,
        "contradictions": len(graph.contradictions),
        "explanation": explanation,
    }
    certificate = [
        {
            "incident": incident,
            "scene_id": e.scene_id,
            "count": scenes[e.scene_id].count,
            "count_origin": scenes[e.scene_id].origin,
            "weight": str(e.weight),
            "media_ids": ";".join(scenes[e.scene_id].media_ids),
        }
        for e in result.certificate
    ]
    return row, certificate


def scene_details(
    graph: SceneGraph,
    disjoint: list[tuple[SceneRef, SceneRef, str]],
    certificate: list[dict[str, Any]],
    first_frame: Any,
) -> dict[str, Any]:
    """Everything the report and the review app show about one incident's scenes."""
    weights = {row["scene_id"]: row["weight"] for row in certificate}
    scenes = []
    for scene in graph.scenes:
        frame = first_frame(scene.units[0])
        scenes.append(
            {
                "scene_id": scene.scene_id,
                "ref": format_ref(scene.ref),
                "count": scene.count,
                "count_origin": scene.origin,
                "labels": list(scene.labels),
                "units": [format_ref(u) for u in scene.units],
                "media_ids": list(scene.media_ids),
                "frame": {"media_id": scene.units[0][0], "frame_index": frame[0], "thumb": frame[1]}
                if frame
                else None,
                "certificate_weight": weights.get(scene.scene_id, ""),
            }
        )
    return {
        "scenes": scenes,
        "scene_disjointness": [
            {"scene_a": a, "scene_b": b, "reason": reason} for a, b, reason in graph.disjoint
        ],
        "declared_disjointness": [
            {"a": format_ref(a), "b": format_ref(b), "reason": reason} for a, b, reason in disjoint
        ],
        "contradictions": [
            {"a": c.label_a, "b": c.label_b, "reason": c.reason, "scene_id": c.scene_id}
            for c in graph.contradictions
        ],
    }
