"""Stage `report`: contract files + scenes.json + catalog -> DIR/processed/report/*.html.

Last stage of the DAG. A static site for reviewers: overview, one page per incident (the
minimum count, its certificate's scenes with detector boxes, every scene and disjointness),
duplicate clusters side by side (paged, thumbnails lazy-loaded) with provenance and overlap
timelines, rejects, and the run record. The same data and templates serve `crosscheck
review`, where the decisions are taken.

The pages are rendered again only when what they show moved (the files and catalog tables
below). The run-record page is part of the run record: every run updates it, and a run with
nothing new updates nothing else.
"""

from __future__ import annotations

import hashlib

from pipeline.core.outcome import StageResult
from pipeline.io import contract
from pipeline.io.html import RUNS_PAGE, write_runs_page, write_static_report
from pipeline.io.report_data import load_report_data, run_record_data
from pipeline.stages import derived
from pipeline.stages.context import RunContext

STAGE = "report"
INPUT_FILES = (*contract.CONTRACT_FILES, "scenes.json")
INPUT_TABLES = ("frames", "detections", "faces", "tracks", "review_decisions")


def _inputs_key(ctx: RunContext) -> str:
    files = {}
    for name in INPUT_FILES:
        path = ctx.layout.contract_file(name)
        files[name] = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""
    return derived.inputs_key(ctx, INPUT_TABLES, {"files": files})


def run_report(ctx: RunContext) -> StageResult:
    key = _inputs_key(ctx)
    if derived.up_to_date(ctx, STAGE, key):
        write_runs_page(ctx.layout.processed / "report", run_record_data(ctx.catalog))
        return StageResult({"pages": 1})
    data = load_report_data(ctx.layout, ctx.catalog)
    with ctx.catalog.transaction():
        outputs = write_static_report(ctx.layout.processed / "report", data)
        counts = {"pages": len(outputs), "clusters": len(data.clusters)}
        ctx.custody(STAGE, "report_run", outputs=outputs, counts=counts)
        pages = {f"report/{n}": sha for n, sha in outputs.items() if n != RUNS_PAGE}
        derived.record(ctx, STAGE, key, pages)
    return StageResult(counts)
