"""The generated archive of the scale benchmark: its mix, its uploads, its annotations."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pipeline.io.annotations import read_analyst_input
from pipeline.synth.archive import DEFAULT_MIX, INCIDENTS, SCALE_MIX, archive_plan, write_archive


def test_scale_mix_holds_stills_videos_reposts_and_near_duplicates() -> None:
    kinds = Counter(item.kind for item in archive_plan(2000, seed=1, mix=SCALE_MIX))
    copies = sum(n for kind, n in kinds.items() if kind.endswith(("_repost", "_near")))
    assert 0.4 < copies / 2000 < 0.6
    assert kinds["still_near"] > 0 and kinds["video_near"] > 0 and kinds["video"] > 0
    assert all(item.of < item.index for item in archive_plan(2000, seed=1, mix=SCALE_MIX))


def test_incidents_keep_arriving_and_few_are_annotated() -> None:
    plan = archive_plan(2000, seed=1, mix=SCALE_MIX)
    incidents = {item.incident for item in plan}
    annotated = {item.incident for item in plan if item.annotation[0] >= 0}
    assert len(incidents) == 2000 // SCALE_MIX.incident_media
    assert 0 < len(annotated) <= len(incidents) // SCALE_MIX.annotated_every + 1


def test_an_upload_leaves_every_earlier_item_as_it_was() -> None:
    whole = archive_plan(300, seed=2, mix=SCALE_MIX)
    assert (
        archive_plan(200, seed=2, mix=SCALE_MIX)
        + archive_plan(100, seed=2, start=200, mix=SCALE_MIX)
        == whole
    )


def test_the_default_mix_keeps_the_four_incidents_and_no_annotations() -> None:
    plan = archive_plan(500, seed=3, mix=DEFAULT_MIX)
    assert {item.incident for item in plan} <= set(INCIDENTS)
    assert all(item.annotation == (-1, "") for item in plan)
    assert not any(item.kind.endswith("_near") for item in plan)


def test_written_annotations_name_written_media_and_parse_cleanly(tmp_path: Path) -> None:
    raw, annotations = tmp_path / "raw", tmp_path / "annotations"
    written = write_archive(raw, 40, seed=4, mix=SCALE_MIX, annotations=annotations)
    assert len(written) == 40 and all(path.stat().st_size > 0 for path in written)
    files = sorted(annotations.glob("*/annotations.csv"))
    assert files, "incident 0 is annotated"
    for csv_file in files:
        parsed = read_analyst_input(csv_file.parent)
        assert parsed.errors == () and parsed.annotations
        incident = csv_file.parent.name
        assert all((raw / incident / a.path).is_file() for a in parsed.annotations)
