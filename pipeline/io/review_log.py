"""Recording reviewers' decisions: validated, appended to the catalog's audit log, sealed into
the custody chain in the same transaction, and exportable as CSV.

The decision takes effect at the next run of the pipeline (`crosscheck run`): dedupe drops
rejected matches, count uses reviewers' counts and disjointness.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.core.review import Decision, DecisionError, validate
from pipeline.io.catalog import Catalog
from pipeline.io.contract import render_csv
from pipeline.io.custody_log import sync_log_file

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
    validate(action, subject, value, reason)
    with catalog.transaction():
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
    sync_log_file(catalog, custody_log)
    return decision_id


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
