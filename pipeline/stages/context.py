"""What every stage run shares: the layout, the settings, the catalog, the run record and the
custody log. A stage gets a RunContext and never opens these on its own."""

from __future__ import annotations

import logging
import platform
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.config import Settings
from pipeline.io import thumbs
from pipeline.io.atomic import remove_stale_temporaries
from pipeline.io.catalog import Catalog
from pipeline.io.custody_log import Mend, mend, sync_log_file
from pipeline.layout import DataLayout

log = logging.getLogger("crosscheck")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def code_version() -> str:
    """Package version, plus the git commit when running from a checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return __version__
    commit = done.stdout.strip()
    return f"{__version__}+g{commit}" if done.returncode == 0 and commit else __version__


@dataclass(frozen=True)
class Operator:
    """Who ran the command and where: recorded in every custody entry."""

    name: str
    host: str = field(default_factory=platform.node)


@dataclass
class RunContext:
    layout: DataLayout
    settings: Settings
    catalog: Catalog
    operator: Operator
    run_id: int
    show_progress: bool = True
    version: str = __version__
    started_at: str = ""
    status: str = ""  # set by the command when it knows better than ok/failed
    summary: dict[str, Any] = field(default_factory=dict)

    def custody(self, stage: str, action: str, **fields: Any) -> None:
        """Seal a custody entry inside the current catalog transaction."""
        self.catalog.append_custody(
            {
                "time_utc": utc_now(),
                "run_id": self.run_id,
                "stage": stage,
                "action": action,
                "tool": "crosscheck",
                "tool_version": self.version,
                "operator": self.operator.name,
                "host": self.operator.host,
                **fields,
            }
        )


@contextmanager
def open_run(
    layout: DataLayout,
    settings: Settings,
    command: str,
    operator: Operator,
    show_progress: bool = True,
) -> Iterator[RunContext]:
    """Open the catalog, record the run's start, and on exit its end, counts and errors.

    A custody log left torn by a killed command is mended first, and the mend sealed; a log
    that cannot be written safely (a link, a second name, not a regular file) stops the
    command before anything is recorded (CustodyLogError). Temporaries that a killed run left
    behind are removed first (they never carry a final
    name, so nothing reads them; this only keeps them from piling up).
    """
    layout.processed.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(layout.processed, skip=[layout.thumbs])
    remove_stale_temporaries(thumbs.scratch_dir(layout.thumbs))
    version = code_version()
    with Catalog(layout.catalog) as catalog:
        mended = mend(catalog, layout.custody_log)  # a log that cannot be written: no run
        started_at = utc_now()
        with catalog.transaction():
            run_id = catalog.start_run(command, started_at, settings.config_hash(), version)
        ctx = RunContext(layout, settings, catalog, operator, run_id, show_progress, version)
        ctx.started_at = started_at
        _seal_mend(ctx, mended)
        status = "failed"
        try:
            yield ctx
            status = ctx.status or "ok"
        finally:
            finished_at = str(ctx.summary.get("finished_at") or utc_now())
            with catalog.transaction():
                catalog.finish_run(
                    run_id, finished_at, status, *_counts_and_errors(ctx.summary), ctx.summary
                )
            sync_log_file(catalog, layout.custody_log)


def _seal_mend(ctx: RunContext, done: Mend) -> None:
    """After a command killed between its commit and its append, the file was made whole
    from the catalog's copy: seal what was done, so `verify` reports it as what it was."""
    if done.anything:
        log.warning("custody log mended after an interrupted command: %s", done.describe())
        with ctx.catalog.transaction():
            ctx.custody("custody", "custody_log_mended", **done.as_fields())
        sync_log_file(ctx.catalog, ctx.layout.custody_log)


def _counts_and_errors(summary: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The run record's counts (per stage that counted anything) and failed items, from the
    summary the command's stages produced (empty when the command stopped before it)."""
    stages = summary.get("stages", {})
    counts = {name: s["counts"] for name, s in stages.items() if s.get("counts")}
    return counts, list(summary.get("errors", []))
