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

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pipeline.config import CountConfig
from pipeline.core.outcome import ItemFailure, StageResult, count_changes
from pipeline.core.proposals import (
    face_descriptors,
    frames_to_describe,
    frames_to_detect,
    incident_faces,
    unit_proposals,
    units_frames,
)
from pipeline.core.records import Detection, FrameKey, MediaRecord, StoredFrame
from pipeline.core.review import ReviewState, effective_disjointness, fold
from pipeline.core.scenes import (
    FaceInput,
    FrameProposal,
    IncidentCount,
    ShotIndex,
    Unit,
    build_scenes,
    count_incident,
    resolve_annotations,
    scene_links,
)
from pipeline.core.tracks import FaceVectors, TrackSettings, track_rows, unit_tracks
from pipeline.executors import Executor, open_executor
from pipeline.io import contract, thumbs
from pipeline.io.annotations import analyst_input_fingerprint, read_analyst_input
from pipeline.io.count_tasks import (
    DescribedFrame,
    DescribeJob,
    DescriberSettings,
    DetectedFrame,
    DetectJob,
    describe_frame,
    describer_for,
    detect_frame,
    detector_for,
)
from pipeline.io.detectors import DetectorSettings
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
    workers = ctx.settings.default.count.workers
    with open_executor(ctx.settings.default.run, workers, "processes") as executor:
        for incident, media_ids in sorted(facts.incidents.items()):
            result, problems = _count_incident(ctx, executor, facts, incident, media_ids)
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
    ctx: RunContext, executor: Executor, facts: _Facts, incident: str, media_ids: set[str]
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
    proposals, known, failures = _proposals(ctx, executor, cfg, incident, facts.shots, units)
    proposals = {u: p for u, p in proposals.items() if u not in annotated}
    faces: FaceInput | None = None
    descriptors: FaceVectors = {}
    if cfg.faces and known:
        faces, descriptors, face_failures = _faces(
            ctx, executor, cfg, incident, facts, units, known
        )
        failures += face_failures
    _track(ctx, cfg, facts.shots, units, known, descriptors)
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
    ctx: RunContext,
    executor: Executor,
    cfg: CountConfig,
    incident: str,
    shots: ShotIndex,
    units: list[Unit],
) -> tuple[dict[Unit, FrameProposal], dict[FrameKey, Detection], list[ItemFailure]]:
    """The detector's people count on every stored frame of each unit, detected once per
    frame and detector setting (per-frame tasks on the run's executor, stored here as they
    come back); a unit's proposal is its frame with the most people. A frame whose stored
    thumbnail is missing or unreadable is a failure: the unit's proposal comes from its
    other frames, and the stage is not recorded as done, so the next run detects it again."""
    settings = _detector_settings(cfg)
    detector = detector_for(settings)
    if detector is None:
        return {}, {}, []
    known = ctx.catalog.detections(detector.name)
    todo = frames_to_detect(units_frames(shots, units), known)
    store = ctx.layout.thumbs
    jobs = (
        DetectJob(f.media_id, f.frame.frame_index, f.thumb_sha256, _stored(store, f), settings)
        for f in todo
    )
    failures: list[ItemFailure] = []
    progress = tqdm(total=len(todo), desc="detect", unit="frame", disable=_quiet(ctx))
    with progress:
        for done in executor.map_unordered(detect_frame, jobs):
            progress.update(1)
            if done.error:
                failures.append(_failure(incident, done, "no detector proposal for it"))
                continue
            with ctx.catalog.transaction():
                ctx.catalog.put_detection(
                    done.media_id, done.frame_index, detector.name, done.boxes_json, done.people
                )
            known[(done.media_id, done.frame_index)] = Detection(done.people, done.boxes_json)
    proposals, seen = unit_proposals(shots, units, known)
    return proposals, seen, failures


def _faces(
    ctx: RunContext,
    executor: Executor,
    cfg: CountConfig,
    incident: str,
    facts: _Facts,
    units: list[Unit],
    detections: dict[FrameKey, Detection],
) -> tuple[FaceInput, FaceVectors, list[ItemFailure]]:
    """Describe every detected face once per describer (tasks on the run's executor, stored
    in the local catalog here), then propose identities and distinct pairs over the
    incident's faces and apply the reviewers' decisions (core/proposals)."""
    settings = DescriberSettings(cfg.face_shape_model, cfg.face_descriptor_model, cfg.face_min_px)
    describer = describer_for(settings)
    described = {(r.media_id, r.frame_index) for r in ctx.catalog.faces(describer.name)}
    frames = {(f.media_id, f.frame.frame_index): f for f in units_frames(facts.shots, units)}
    thumbs_of = {key: f.thumb_sha256 for key, f in frames.items()}
    store = ctx.layout.thumbs
    jobs = (
        DescribeJob(
            key[0],
            key[1],
            thumbs_of[key],
            _stored(store, frames[key]),
            detections[key].boxes_json,
            settings,
        )
        for key in frames_to_describe(detections, described, thumbs_of)
    )
    failures: list[ItemFailure] = []
    for done in executor.map_unordered(describe_frame, jobs):
        if done.error:
            failures.append(_failure(incident, done, "faces not described"))
            continue
        with ctx.catalog.transaction():
            ctx.catalog.put_faces(describer.name, done.rows)
    rows = ctx.catalog.faces(describer.name)
    faces = incident_faces(
        rows, facts.shots, thumbs_of, facts.review, cfg.face_same_max, cfg.face_distinct_min
    )
    return faces, face_descriptors(rows, thumbs_of), failures


def _track(
    ctx: RunContext,
    cfg: CountConfig,
    shots: ShotIndex,
    units: list[Unit],
    detections: dict[FrameKey, Detection],
    descriptors: FaceVectors,
) -> None:
    """Follow people within each shot (core/tracks) and store the tracks, named by the
    detector and the tracking settings: a proposal the report shows reviewers."""
    detector = detector_for(_detector_settings(cfg))
    if detector is None:
        return
    settings = TrackSettings(
        cfg.track_max_gap_frames,
        cfg.track_max_shift,
        cfg.track_max_size_ratio,
        cfg.face_same_max,
        cfg.face_distinct_min,
    )
    tracker = f"{detector.name}|{settings.name}|faces={'on' if cfg.faces else 'off'}"
    rows = track_rows(unit_tracks(shots, units, detections, descriptors, settings))
    with ctx.catalog.transaction():
        for unit, unit_rows in rows.items():
            ctx.catalog.put_tracks(tracker, unit, unit_rows)


def _stored(store: Path, frame: StoredFrame) -> bytes:
    """A thumbnail's bytes; b"" when the file is gone, which its task reports as an error."""
    try:
        return thumbs.read(store, frame.thumb_sha256)
    except OSError:
        return b""


def _failure(incident: str, done: DetectedFrame | DescribedFrame, what: str) -> ItemFailure:
    where = f"{done.media_id[:12]} frame {done.frame_index}"
    return ItemFailure(incident, f"{where}, {what}: {done.error}")


def _quiet(ctx: RunContext) -> bool | None:
    return not ctx.show_progress or None


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
