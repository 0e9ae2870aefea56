"""Each stage that skips itself when its inputs did not move (stages/derived.py) reads only
the tables it declares: a table read but not declared would let a change go unnoticed and
leave stale outputs. Checked with the catalog's record of every table a statement read."""

from __future__ import annotations

import getpass
import re
from collections import Counter
from collections.abc import Callable

import pytest

from pipeline.config import Settings
from pipeline.core.outcome import StageResult
from pipeline.layout import DataLayout
from pipeline.stages import count, dedupe, report
from pipeline.stages.context import Operator, RunContext, open_run
from pipeline.stages.frames import run_frames
from pipeline.stages.hash import run_hash
from pipeline.stages.ingest import run_ingest
from pipeline.synth import images as im
from tests.media import put, video

# Bookkeeping every stage may read: content generations and derived states (the skip
# itself), the custody chain's head, the run record.
BOOKKEEPING = {"generations", "derived_state", "custody", "runs"}
# What a stage reads of its own outputs (to write only what changed).
OWN = {
    "dedupe": {"index_entries", "frame_matches", "features", "media_matches"},
    "count": {"detections", "faces", "tracks"},
    "report": set(),
}


@pytest.mark.parametrize(
    ("name", "stage", "declared"),
    [
        ("dedupe", dedupe.run_dedupe, dedupe.INPUTS),
        ("count", count.run_count, count.INPUTS),
        ("report", report.run_report, report.INPUT_TABLES),
    ],
)
def test_a_stage_reads_only_what_it_declares(
    layout: DataLayout,
    settings: Settings,
    name: str,
    stage: Callable[[RunContext], StageResult],
    declared: tuple[str, ...],
) -> None:
    photo = im.photo("astronaut")
    put(layout.raw, "inc/a/photo.jpg", im.jpeg_bytes(photo, 92))
    put(layout.raw, "inc/b/repost.jpg", im.jpeg_bytes(im.resize(photo, 0.5), 60))
    video(layout.raw / "inc/a/clip.mp4", ("coffee", "chelsea"), seconds=2.0)
    operator = Operator(getpass.getuser())
    with open_run(layout, settings, "test", operator, False) as ctx:
        for before in (run_ingest, run_frames, run_hash, dedupe.run_dedupe, count.run_count):
            if before is stage:
                break
            before(ctx)
        with ctx.catalog.tables_read() as read:
            stage(ctx)
    undeclared = read - set(declared) - BOOKKEEPING - OWN[name]
    assert read and not undeclared, f"{name} reads undeclared tables {sorted(undeclared)}"


def test_dedupe_reads_each_table_once(layout: DataLayout, settings: Settings) -> None:
    photo = im.photo("astronaut")
    put(layout.raw, "inc/a/photo.jpg", im.jpeg_bytes(photo, 92))
    put(layout.raw, "inc/b/repost.jpg", im.jpeg_bytes(im.resize(photo, 0.5), 60))
    video(layout.raw / "inc/a/clip.mp4", ("coffee", "chelsea"), seconds=2.0)
    with open_run(layout, settings, "test", Operator(getpass.getuser()), False) as ctx:
        for before in (run_ingest, run_frames, run_hash):
            before(ctx)
        with ctx.catalog.queries() as statements:
            dedupe.run_dedupe(ctx)
    reads = Counter(
        table
        for statement in statements
        for table in set(re.findall(r"\b(?:FROM|JOIN)\s+(\w+)", statement))
        if table not in BOOKKEEPING
    )
    assert {"frames", "hashes", "frame_matches", "features"} <= set(reads)
    assert set(reads) <= set(dedupe.INPUTS) | {"media_matches"}
    assert all(n == 1 for n in reads.values()), reads
