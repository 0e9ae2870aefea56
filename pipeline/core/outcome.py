"""What a command's run did, and the exit status that tells a scheduler about it.

Pure: built from each stage's counts, timings and failures, so the rules (failures are per
item; a command fails only above `run.max_failure_ratio`; `run` with nothing new says so)
are tested without files. The run summary (JSON) and the one summary line come from here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_NOTHING_TO_DO = 3
EXIT_LOCKED = 75  # sysexits.h EX_TEMPFAIL: "try again later"

# What each status means to whoever watches the job (help epilog, README, docs/operations.md).
EXIT_MEANINGS: dict[int, str] = {
    EXIT_OK: "success: new or changed input was processed (item failures, if any, stayed "
    "within run.max_failure_ratio and are listed in the summary)",
    EXIT_FAILURES: "needs a person: a stage stopped on an internal error, more than "
    "run.max_failure_ratio of a stage's items failed, or verify found a problem",
    EXIT_USAGE: "usage or configuration error: nothing was run",
    EXIT_NOTHING_TO_DO: "`run` found nothing new or changed: no output was touched, only the "
    "run record was written",
    EXIT_LOCKED: "another crosscheck command holds DIR/processed/run.lock: nothing was run; "
    "the next scheduled run will catch up",
}


@dataclass(frozen=True)
class ItemFailure:
    """One item a stage could not process (a file, a frame, an incident) and why."""

    item: str
    reason: str

    def line(self, stage: str) -> str:
        """The run record's line: `<stage> <item>: <reason>`."""
        return f"{stage} {self.item}: {self.reason}"


@dataclass(frozen=True)
class StageResult:
    """What a stage returns: its counts, how many items it attempted (the failure ratio's
    base), and the items that failed. failed_items, when given, is how many items the
    failures amount to (an incident with three bad annotation lines is one failed item);
    otherwise each failure is one."""

    counts: Mapping[str, Any] = field(default_factory=dict)
    items: int = 1
    failures: tuple[ItemFailure, ...] = ()
    failed_items: int | None = None


@dataclass(frozen=True)
class StageOutcome:
    """One stage of one run. status: ok, failed (stopped by an internal error) or not_run.
    items and failed_items come from the stage's StageResult."""

    name: str
    status: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    counts: Mapping[str, Any] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    items: int = 1
    failed_items: int | None = None

    @property
    def failure_ratio(self) -> float:
        """Failed items over attempted ones; 1.0 for a stage that stopped."""
        if self.status == "failed":
            return 1.0
        return self.failures / max(self.items, self.failures, 1)

    @property
    def failures(self) -> int:
        if self.failed_items is not None and self.status == "ok":
            return self.failed_items
        return len(self.errors)

    def line(self) -> str:
        """The operator's one line for this stage."""
        counts = ", ".join(f"{k}={v}" for k, v in self.counts.items())
        text = f"{self.name}: {self.status} in {self.wall_s:.2f} s (cpu {self.cpu_s:.2f} s)"
        if counts:
            text += f": {counts}"
        if self.failures:
            text += f"; {self.failures} failed"
        return text


@dataclass(frozen=True)
class RunOutcome:
    status: str  # ok | nothing_to_do | failures | failed
    exit_code: int


def decide(
    command: str,
    stages: Sequence[StageOutcome],
    changed: bool,
    max_failure_ratio: float,
    problems: int = 0,
) -> RunOutcome:
    """The run's status and exit code. problems: what a check (verify) found wrong."""
    if any(s.status == "failed" for s in stages):
        return RunOutcome("failed", EXIT_FAILURES)
    if problems or any(s.failure_ratio > max_failure_ratio for s in stages):
        return RunOutcome("failures", EXIT_FAILURES)
    if command == "run" and not changed:
        return RunOutcome("nothing_to_do", EXIT_NOTHING_TO_DO)
    return RunOutcome("ok", EXIT_OK)


def count_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """'incident: 3 -> 4' for every incident whose minimum count appeared, moved or went."""
    changes = []
    for incident in sorted(set(before) | set(after)):
        old, new = before.get(incident), after.get(incident)
        if old != new:
            changes.append(
                f"{incident}: {'-' if old is None else old} -> {'-' if new is None else new}"
            )
    return changes


def summary_line(command: str, outcome: RunOutcome, summary: Mapping[str, Any]) -> str:
    """The last line a run prints: what changed, how it ended, where the details are."""
    run_id, wall_s = summary.get("run_id"), float(summary.get("wall_s", 0.0))
    tail = f"exit {outcome.exit_code} ({outcome.status}) in {wall_s:.1f} s [run {run_id}]"
    facts = summary.get("facts", {})
    if outcome.status == "nothing_to_do":
        files = facts.get("files_seen")
        seen = f" ({files} files unchanged)" if files is not None else ""
        return f"crosscheck {command}: nothing to do{seen}; {tail}"
    parts = []
    if "new_media" in facts:
        parts.append(f"{facts['new_media']} new media")
    if "rejects" in facts:
        parts.append(f"{facts.get('new_rejects', 0)} new rejects ({facts['rejects']} in all)")
    if "new_matches" in facts:
        parts.append(f"{facts['new_matches']} new matches")
    if "count_changes" in facts:
        changes = facts["count_changes"]
        parts.append("minimum counts " + ("; ".join(changes) if changes else "unchanged"))
    failed = sum(len(s.get("errors", [])) for s in summary.get("stages", {}).values())
    if failed:
        parts.append(f"{failed} failed items")
    stopped = [n for n, s in summary.get("stages", {}).items() if s.get("status") == "failed"]
    if stopped:
        parts.append(f"stopped at {stopped[0]}")
    return f"crosscheck {command}: " + (", ".join(parts) or "done") + f"; {tail}"


# The counts the summary line reports, whichever stage counted them (each key has one).
FACT_KEYS = ("files_seen", "new_media", "rejects", "new_rejects", "new_matches", "count_changes")


def facts(stages: Sequence[StageOutcome]) -> dict[str, Any]:
    """The figures the summary line reports, from the stages' counts."""
    return {key: s.counts[key] for s in stages for key in FACT_KEYS if key in s.counts}
