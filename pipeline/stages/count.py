"""Stage `count`: media relations + frames (catalog) + analysts' annotations ->
counts.csv, count_certificate.csv.

Fifth stage of the DAG, after dedupe. Per incident: scenes are video shots and stills joined
through every frame match dedupe accepted (pipeline/core/scenes.py); a scene's count is the
analysts' largest annotated count, else the detector's proposal: the most people it saw at
once in any stored frame of the scene, with that frame (labelled as such). The minimum
number of individuals is solved exactly with its certificate (pipeline/core/mincount/),
once with every machine match and once with only exact and reviewer-confirmed matches
(machine merges are not evidence until a reviewer confirms them). Reviewers' decisions
(pipeline/core/review.py) come first: a rejected match never merges scenes, a reviewer's
count replaces the annotation or proposal, and declared or removed disjointness changes the
graph. scenes.json carries every scene for the report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from pipeline.config import CountConfig
from pipeline.core.faces import (
    Face,
    distinct_identities,
    identities,
    propose_relations,
    reviewed_relations,
)
from pipeline.core.outcome import ItemFailure, StageResult, count_changes
from pipeline.core.records import Detection, MediaRecord
from pipeline.core.review import ReviewState, effective_disjointness, face_ref, fold
from pipeline.core.scenes import (
    FaceInput,
    FrameProposal,
    IncidentCount,
    ShotIndex,
    Unit,
    build_scenes,
    busiest_frames,
    count_incident,
    resolve_annotations,
    scene_links,
)
from pipeline.io import contract, thumbs
from pipeline.io.annotations import analyst_input_fingerprint, read_analyst_input
from pipeline.io.catalog import FaceRow
from pipeline.io.detectors import Box, DetectorSettings, make_detector, people_count
from pipeline.io.faces import make_describer
from pipeline.stages import derived
from pipeline.stages.context import RunContext

STAGE = "count"
SCENES_FILE = "scenes.json"  # every scene, disjointness and contradiction: for report and review


# What the count reads from the catalog; analysts' files and settings join the key too.
INPUTS = (
    "media",
    "observations",
    "frames",
    "frame_matches",
    "media_matches",
    "detections",
    "faces",
    "review_decisions",
)


def _inputs_key(ctx: RunContext) -> str:
    settings = ctx.settings
    extra = {
        "count": settings.default.count.model_dump(),
        "incidents": {name: cfg.count.model_dump() for name, cfg in settings.incidents.items()},
        "analysts": analyst_input_fingerprint(ctx.layout.annotations),
    }
    return derived.inputs_key(ctx, INPUTS, extra)


def run_count(ctx: RunContext) -> StageResult:
    """Load frames, relations and decisions once; per incident resolve the analysts' rows,
    propose counts for unannotated shots, assemble scenes and solve the minimum
    (core/scenes); write counts.csv, count_certificate.csv and scenes.json."""
    if derived.up_to_date(ctx, STAGE, _inputs_key(ctx)):
        return StageResult({"count_changes": []}, items=0)
    before = {
        row["incident"]: row["minimum_count"]
        for row in contract.read_contract_csv(ctx.layout.processed / "counts.csv")
    }
    facts = _Facts.load(ctx)
    counted: list[IncidentCount] = []
    failures: list[ItemFailure] = []
    for incident, media_ids in sorted(facts.incidents.items()):
        result, problems = _count_incident(ctx, facts, incident, media_ids)
        counted += [result] if result else []
        failures += problems
    after = {c.row["incident"]: str(c.row["minimum_count"]) for c in counted}
    counts: dict[str, Any] = {
        "incidents": len(counted),
        "incidents_with_errors": len(facts.incidents) - len(counted),
        "count_changes": count_changes(before, after),
    }
    _save(ctx, counted, counts, failures)
    items, failed = len(facts.incidents), counts["incidents_with_errors"]
    return StageResult(counts, items, tuple(failures), failed)


@dataclass(frozen=True)
class _Facts:
    """What every incident's count reads from the catalog, loaded once per run."""

    shots: ShotIndex
    incidents: dict[str, set[str]]  # incident -> observed media_ids
    paths: dict[str, dict[str, MediaRecord]]  # incident -> observed path -> media
    review: ReviewState
    full_links: list[tuple[Unit, Unit]]
    confirmed_links: list[tuple[Unit, Unit]]

    @classmethod
    def load(cls, ctx: RunContext) -> _Facts:
        shots = ShotIndex.build(ctx.catalog.frames())
        media = {m.media_id: m for m in ctx.catalog.observed_media()}
        incidents: dict[str, set[str]] = defaultdict(set)
        paths: dict[str, dict[str, MediaRecord]] = defaultdict(dict)
        for obs in ctx.catalog.observations():
            incidents[obs.incident].add(obs.media_id)
            paths[obs.incident][obs.path] = media[obs.media_id]
        review = fold(ctx.catalog.decisions())
        relations, frame_matches = ctx.catalog.media_matches(), ctx.catalog.frame_matches()
        return cls(
            shots,
            incidents,
            paths,
            review,
            scene_links(relations, frame_matches, shots, review, confirmed_only=False),
            scene_links(relations, frame_matches, shots, review, confirmed_only=True),
        )


def _count_incident(
    ctx: RunContext, facts: _Facts, incident: str, media_ids: set[str]
) -> tuple[IncidentCount | None, list[ItemFailure]]:
    """One incident's count, or None when its analysts' files have errors (all listed)."""
    folder = ctx.layout.annotations / incident
    analyst = read_analyst_input(folder)
    labelled, errors = resolve_annotations(
        incident,
        analyst.annotations,
        facts.paths[incident],
        facts.shots,
        str(folder / "annotations.csv"),
    )
    if analyst.errors or errors:
        return None, [ItemFailure(incident, e) for e in [*analyst.errors, *errors]]
    units = sorted(u for m in media_ids for u in facts.shots.units(m))
    annotated = {row.unit for row in labelled}
    cfg = ctx.settings.for_incident(incident).count  # incidents/<incident>.yaml, count:
    proposals, known, failures = _proposals(ctx, cfg, incident, facts.shots, units)
    proposals = {u: p for u, p in proposals.items() if u not in annotated}
    faces = None
    if cfg.faces and known:
        faces, face_failures = _faces(ctx, cfg, incident, facts, units, known)
        failures += face_failures
    disjoint = effective_disjointness(
        incident, [(d.scene_a, d.scene_b, d.reason) for d in analyst.disjoint], facts.review
    )
    counts = facts.review.counts
    people = {unit: p.people for unit, p in proposals.items()}
    graph = build_scenes(units, facts.full_links, labelled, disjoint, people, counts)
    strict = build_scenes(units, facts.confirmed_links, labelled, disjoint, people, counts)
    limit_s = cfg.solver_time_limit_s
    result = count_incident(
        incident, graph, strict, disjoint, facts.shots.first_frame, limit_s, proposals, faces
    )
    return result, failures


def _proposals(
    ctx: RunContext, cfg: CountConfig, incident: str, shots: ShotIndex, units: list[Unit]
) -> tuple[dict[Unit, FrameProposal], dict[tuple[str, int], Detection], list[ItemFailure]]:
    """The detector's people count on every stored frame of each unit, detected once per
    frame and detector setting; a unit's proposal is its frame with the most people. A frame
    whose stored thumbnail is missing or unreadable is a failure: the unit's proposal comes
    from its other frames (still a proven lower bound), and the stage is not recorded as
    done, so the next run detects it again."""
    detector = make_detector(_detector_settings(cfg))
    if detector is None:
        return {}, {}, []
    known = ctx.catalog.detections(detector.name)
    per_frame: dict[tuple[str, int], int] = {}
    failures: list[ItemFailure] = []
    frames = [f for unit in units for f in shots.unit_frames(unit)]
    for stored in tqdm(frames, desc="detect", unit="frame", disable=not ctx.show_progress or None):
        key = (stored.media_id, stored.frame.frame_index)
        if key not in known:
            try:
                picture = thumbs.load(ctx.layout.thumbs, stored.thumb_sha256)
            except OSError as exc:
                failures.append(
                    ItemFailure(
                        incident,
                        f"{key[0][:12]} frame {key[1]}, no detector proposal for it: "
                        f"{thumbs.unreadable(stored.thumb_sha256, exc)}",
                    )
                )
                continue
            boxes = detector.detect(picture)
            people = people_count(boxes)
            with ctx.catalog.transaction():
                ctx.catalog.put_detection(
                    key[0], key[1], detector.name, json.dumps([asdict(b) for b in boxes]), people
                )
            known[key] = Detection(people, json.dumps([asdict(b) for b in boxes]))
        per_frame[key] = known[key].people
    seen = {key: known[key] for key in per_frame}
    return busiest_frames(shots, units, per_frame), seen, failures


def _faces(
    ctx: RunContext,
    cfg: CountConfig,
    incident: str,
    facts: _Facts,
    units: list[Unit],
    detections: dict[tuple[str, int], Detection],
) -> tuple[FaceInput, list[ItemFailure]]:
    """Describe every detected face once per describer (stored in the local catalog), then
    propose identities and distinct pairs over the incident's faces (core/faces) and apply
    the reviewers' decisions."""
    describer = make_describer(cfg.face_shape_model, cfg.face_descriptor_model, cfg.face_min_px)
    described = {(r.media_id, r.frame_index) for r in ctx.catalog.faces(describer.name)}
    failures: list[ItemFailure] = []
    thumbs_of = {
        (f.media_id, f.frame.frame_index): f.thumb_sha256
        for unit in units
        for f in facts.shots.unit_frames(unit)
    }
    for key, detection in sorted(detections.items()):
        boxes = [Box(**b) for b in json.loads(detection.boxes_json or "[]") if b["label"] == "face"]
        if not boxes or key in described or key not in thumbs_of:
            continue
        try:
            picture = thumbs.load(ctx.layout.thumbs, thumbs_of[key])
        except OSError as exc:
            failures.append(
                ItemFailure(
                    incident,
                    f"{key[0][:12]} frame {key[1]}, faces not described: "
                    f"{thumbs.unreadable(thumbs_of[key], exc)}",
                )
            )
            continue
        new = []
        for index, box in enumerate(boxes):
            vector = describer.describe(picture, box)
            new.append(
                FaceRow(
                    key[0],
                    key[1],
                    index,
                    json.dumps(asdict(box)),
                    None if vector is None else vector.astype(np.float32).tobytes(),
                )
            )
        with ctx.catalog.transaction():
            ctx.catalog.put_faces(describer.name, new)
    faces = [
        Face(
            face_ref(r.media_id, r.frame_index, r.face_index),
            r.media_id,
            r.frame_index,
            np.frombuffer(r.descriptor, dtype=np.float32),
        )
        for r in ctx.catalog.faces(describer.name)
        if r.descriptor is not None and (r.media_id, r.frame_index) in thumbs_of
    ]
    proposed = propose_relations(faces, cfg.face_same_max, cfg.face_distinct_min)
    full = reviewed_relations(proposed, facts.review, confirmed_only=False)
    strict = reviewed_relations(proposed, facts.review, confirmed_only=True)
    refs = [f.ref for f in faces]
    groups = identities(refs, full)
    strict_refs = sorted({r for key in (strict.same | strict.distinct) for r in key})
    strict_groups = identities(strict_refs, strict)
    unit_of = {
        f.ref: (f.media_id, facts.shots.shot_of_frame(f.media_id, f.frame_index)) for f in faces
    }
    return (
        FaceInput(
            tuple(groups),
            tuple(distinct_identities(groups, full)),
            tuple(strict_groups),
            tuple(distinct_identities(strict_groups, strict)),
            unit_of,
        ),
        failures,
    )


def _detector_settings(cfg: CountConfig) -> DetectorSettings:
    return DetectorSettings(
        cfg.detector,
        cfg.onnx_model,
        cfg.hog_min_score,
        cfg.haar_min_neighbors,
        cfg.face_width_px,
        cfg.face_min_score,
        cfg.person_width_px,
        cfg.person_min_score,
    )


def _save(
    ctx: RunContext,
    counted: list[IncidentCount],
    counts: dict[str, Any],
    failures: list[ItemFailure],
) -> None:
    """Write the contract files and scenes.json, with custody; the stage is recorded as done
    only without failures (every run reports annotation errors until they are fixed)."""
    processed = ctx.layout.processed
    with ctx.catalog.transaction():
        outputs = {
            "counts.csv": contract.write_contract_csv(
                processed / "counts.csv", contract.COUNT_COLUMNS, [c.row for c in counted]
            ),
            "count_certificate.csv": contract.write_contract_csv(
                processed / "count_certificate.csv",
                contract.CERTIFICATE_COLUMNS,
                [row for c in counted for row in c.certificate],
            ),
            SCENES_FILE: contract.write_json(
                processed / SCENES_FILE, {c.row["incident"]: c.details for c in counted}
            ),
        }
        ctx.custody(
            STAGE,
            "count_run",
            params={
                "config": ctx.settings.default.count.model_dump(),
                "incidents": {n: c.count.model_dump() for n, c in ctx.settings.incidents.items()},
            },
            outputs=outputs,
            counts=counts,
            errors=[f.line(STAGE) for f in failures],
        )
        if not failures:
            derived.record(ctx, STAGE, _inputs_key(ctx), outputs)
