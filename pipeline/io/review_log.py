"""Recording reviewers' decisions: validated, checked against what the catalog holds (no
decision about media or scenes that do not exist), appended to the catalog's audit log, sealed
into the custody chain in the same transaction, and exportable as CSV.

Decisions are serialised: each holds the custody log's lock from its catalog transaction to
its append, so two reviewers (or a double-click) never write one entry twice.

The decision takes effect at the next run of the pipeline (`crosscheck run`): dedupe drops
rejected matches, count uses reviewers' counts and disjointness.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.core.review import (
    FACE_ACTIONS,
    Decision,
    DecisionError,
    parse_face_ref,
    parse_ref,
    validate,
)
from pipeline.io.catalog import Catalog
from pipeline.io.contract import render_csv
from pipeline.io.custody_log import append_missing, locked

MAX_REASON_CHARS = 10_000  # a reason is a paragraph; the custody log keeps it forever

DECISION_COLUMNS = (
    "decision_id",
    "time_utc",
    "reviewer",
    "action",
    "subject",
    "value",
    "reason",
)


def record_decision(
    catalog: Catalog,
    custody_log: Path,
    time_utc: str,
    reviewer: str,
    action: str,
    subject: dict[str, Any],
    value: dict[str, Any],
    reason: str,
) -> int:
    """Append one decision (DecisionError when malformed); returns its id."""
    if not reviewer.strip():
        raise DecisionError("a decision needs the reviewer's name")
    if len(reason) > MAX_REASON_CHARS:
        raise DecisionError(f"a reason is at most {MAX_REASON_CHARS} characters")
    validate(action, subject, value, reason)
    with locked(custody_log) as log:
        with catalog.transaction():
            _check_subject_exists(catalog, action, subject, value)
            decision_id = catalog.append_decision(
                time_utc, reviewer, action, subject, value, reason.strip()
            )
            catalog.append_custody(
                {
                    "time_utc": time_utc,
                    "run_id": None,
                    "stage": "review",
                    "action": action,
                    "tool": "crosscheck",
                    "tool_version": __version__,
                    "operator": reviewer,
                    "host": platform.node(),
                    "decision_id": decision_id,
                    "subject": subject,
                    "value": value,
                    "reason": reason.strip(),
                }
            )
        append_missing(catalog, custody_log, log)
    return decision_id


def _check_subject_exists(
    catalog: Catalog, action: str, subject: dict[str, Any], value: dict[str, Any]
) -> None:
    """A decision names media, incidents and shots the catalog holds; anything else would
    be sealed forever about nothing."""
    media: list[str] = []
    if action in FACE_ACTIONS:
        if str(subject.get("incident", "")) not in catalog.incidents():
            raise DecisionError(f"no incident {subject.get('incident')!r} in the catalog")
        for side in ("face_a", "face_b"):
            face = parse_face_ref(str(subject[side]))
            media += [face[0]] if face else []
    elif action in ("match_confirm", "match_reject"):
        media += [str(subject["media_a"]), str(subject["media_b"])]
    elif action == "cluster_split":
        media += [str(m) for m in (*value.get("separate", ()), *value.get("rest", ()))]
    else:
        incident = str(subject.get("incident", ""))
        if incident not in catalog.incidents():
            raise DecisionError(f"no incident {incident!r} in the catalog")
        refs = [subject["unit"]] if action == "count_set" else [subject["a"], subject["b"]]
        for text in refs:
            ref = parse_ref(str(text))
            if isinstance(ref, tuple):
                if catalog.media(ref[0]) is None:
                    raise DecisionError(f"no media {ref[0][:16]!r} in the catalog")
                if ref[1] not in _shots(catalog, ref[0]):
                    raise DecisionError(f"media {ref[0][:12]} has no shot {ref[1]}")
    for media_id in media:
        if not catalog.has_media(media_id):
            raise DecisionError(f"no media {media_id[:16]!r} in the catalog")


def _shots(catalog: Catalog, media_id: str) -> set[int]:
    """A still is shot 0; a video's shots are those of its sampled frames."""
    record = catalog.media(media_id)
    if record is not None and record.kind == "image":
        return {0}
    return {stored.frame.shot_id for stored in catalog.frames(media_id)}


def decisions_csv(decisions: list[Decision]) -> bytes:
    """The audit log as CSV: one row per decision, subject and value as JSON."""
    return render_csv(
        DECISION_COLUMNS,
        (
            {
                "decision_id": d.decision_id,
                "time_utc": d.time_utc,
                "reviewer": d.reviewer,
                "action": d.action,
                "subject": json.dumps(d.subject, sort_keys=True, ensure_ascii=False),
                "value": json.dumps(d.value, sort_keys=True, ensure_ascii=False),
                "reason": d.reason,
            }
            for d in decisions
        ),
    )
