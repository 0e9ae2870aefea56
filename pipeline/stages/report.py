"""Stage `report`: contract files + scenes.json + catalog -> DIR/processed/report/*.html.

Last stage of the DAG. A static site for reviewers: overview, one page per incident (the
minimum count, its certificate's scenes with detector boxes, every scene and disjointness),
duplicate clusters side by side (paged, thumbnails lazy-loaded) with provenance and overlap
timelines, rejects, and the run record. The same data and templates serve `crosscheck
review`, where the decisions are taken.
"""

from __future__ import annotations

from pipeline.io.html import write_static_report
from pipeline.io.report_data import load_report_data
from pipeline.stages.context import RunContext

STAGE = "report"


def run_report(ctx: RunContext) -> dict[str, int]:
    data = load_report_data(ctx.layout, ctx.catalog)
    with ctx.catalog.transaction():
        outputs = write_static_report(ctx.layout.processed / "report", data)
        counts = {"pages": len(outputs), "clusters": len(data.clusters)}
        ctx.custody(STAGE, "report_run", outputs=outputs, counts=counts)
    ctx.counts[STAGE] = counts
    return counts
