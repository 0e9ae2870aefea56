"""Running stages as a job nobody watches: each stage timed, its failures counted against its
items, an internal error stopping the run (later stages depend on it) instead of escaping as
a traceback, and the run's outcome: status, exit code, summary (DIR/processed/runs/).

`crosscheck run` is incremental by construction: every stage works only on what its tables
say is new (stat cache, frame_state, hashes per parameters, index entries, searched marks),
and the steps that assemble outputs from everything (the contract files, clusters, counts)
skip themselves when the catalog generations of their inputs have not moved
(pipeline/io/catalog.py, `derived_state`). `--full` forgets the dedupe index, its frame
matches and every derived state, so search and assembly start over from the stored frames
and hashes; it never re-decodes or re-hashes (those are redone when their parameters change).
"""

from __future__ import annotations

import logging
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipeline.core.outcome import (
    RunOutcome,
    StageOutcome,
    StageResult,
    decide,
    facts,
    summary_line,
)
from pipeline.executors import ExecutorError
from pipeline.io import crashpoints
from pipeline.io.run_summary import output_snapshot
from pipeline.stages.context import RunContext, utc_now

log = logging.getLogger("crosscheck")
StageFn = Callable[[RunContext], StageResult]


def _cpu_s() -> float:
    """CPU seconds of this process and of its children that have finished (ffmpeg, workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def start_over(ctx: RunContext) -> None:
    """`run --full`: search and assemble again from the stored frames and hashes."""
    with ctx.catalog.transaction():
        ctx.catalog.reset_index()
        ctx.catalog.forget_derived_states()


def run_stages(
    ctx: RunContext,
    stages: Mapping[str, StageFn],
    names: Sequence[str],
    report: Callable[[StageOutcome], None],
) -> list[StageOutcome]:
    """Run the named stages in order; report each outcome as it ends."""
    outcomes: list[StageOutcome] = []
    for position, name in enumerate(names):
        wall, cpu = time.perf_counter(), _cpu_s()
        crashpoints.enter_stage(name)
        try:
            result = stages[name](ctx)
            status, errors = "ok", tuple(f.line(name) for f in result.failures)
        except ExecutorError:  # the cluster named in the configuration: a usage error
            raise
        except Exception as exc:  # the run stops; the record and summary still say why
            log.exception("stage %s stopped by an internal error", name)
            result = StageResult({}, 1)
            status = "failed"
            errors = (f"{name}: stopped by an internal error: {type(exc).__name__}: {exc}",)
        outcome = StageOutcome(
            name,
            status,
            round(time.perf_counter() - wall, 3),
            round(_cpu_s() - cpu, 3),
            dict(result.counts),
            errors,
            result.items,
            result.failed_items,
        )
        outcomes.append(outcome)
        report(outcome)
        if status == "failed":
            outcomes += [StageOutcome(later, "not_run") for later in names[position + 1 :]]
            break
    return outcomes


class ChangeWatch:
    """Did the run change anything: catalog content (generations) or a derived file?"""

    def __init__(self, ctx: RunContext) -> None:
        self._ctx = ctx
        self._generations = ctx.catalog.generations()
        self._files = output_snapshot(ctx.layout.processed)

    def changed(self) -> bool:
        return self._ctx.catalog.generations() != self._generations or (
            output_snapshot(self._ctx.layout.processed) != self._files
        )


def finish(
    ctx: RunContext,
    command: str,
    mode: str,
    started_wall: float,
    outcomes: Sequence[StageOutcome],
    changed: bool,
    problems: int = 0,
    extra: Mapping[str, Any] | None = None,
) -> tuple[RunOutcome, dict[str, Any], str]:
    """The run's outcome, its summary (stored with the run record) and its summary line."""
    max_ratio = ctx.settings.default.run.max_failure_ratio
    outcome = decide(command, outcomes, changed, max_ratio, problems)
    summary: dict[str, Any] = {
        "run_id": ctx.run_id,
        "command": command,
        "mode": mode,
        "data_dir": str(ctx.layout.data_dir),
        "started_at": ctx.started_at,
        "finished_at": utc_now(),
        "wall_s": round(time.perf_counter() - started_wall, 3),
        "status": outcome.status,
        "exit_code": outcome.exit_code,
        "changed": changed,
        "code_version": ctx.version,
        "config_hash": ctx.settings.config_hash(),
        "operator": ctx.operator.name,
        "host": ctx.operator.host,
        "max_failure_ratio": max_ratio,
        "stages": {
            s.name: {
                "status": s.status,
                "wall_s": s.wall_s,
                "cpu_s": s.cpu_s,
                "items": s.items,
                "failures": s.failures,
                "failure_ratio": round(s.failure_ratio, 4),
                "counts": dict(s.counts),
                "errors": list(s.errors),
            }
            for s in outcomes
        },
        "facts": facts(outcomes),
        "errors": [error for s in outcomes for error in s.errors],
        **(extra or {}),
    }
    ctx.status, ctx.summary = outcome.status, summary
    return outcome, summary, summary_line(command, outcome, summary)
