"""Issue 13 (hardening), part A, item 8: after ingest, evidence is read only if it is still
the regular file ingest hashed; otherwise that media fails with a reason and nothing from
another file is stored."""

from __future__ import annotations

from pathlib import Path

from pipeline.io.catalog import Catalog
from pipeline.layout import DataLayout
from pipeline.stages.frames import run_frames
from pipeline.stages.ingest import run_ingest
from tests.conftest import RunStage
from tests.media import jpeg, put, video


def frame_outcomes(layout: DataLayout) -> list[tuple[int, str]]:
    with Catalog(layout.catalog) as catalog:
        return [(s.frames, s.error) for s in catalog.frame_states().values()]


def thumbs_stored(layout: DataLayout) -> list[Path]:
    return [p for p in layout.thumbs.rglob("*.jpg")]


def test_item8_still_swapped_for_a_link_after_ingest_is_not_followed(
    layout: DataLayout, run_stage: RunStage, tmp_path: Path
) -> None:
    """Item 8: the frames stage followed a link swapped in after ingest and stored a frame
    of a picture outside the evidence tree."""
    evidence = put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    run_stage(run_ingest)
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg("coffee"))
    evidence.unlink()
    evidence.symlink_to(outside)
    run_stage(run_frames)
    ((frames, error),) = frame_outcomes(layout)
    assert frames == 0 and "symbolic link" in error
    assert thumbs_stored(layout) == []


def test_item8_variant_still_rewritten_after_ingest_is_not_decoded(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Further variant of item 8 (not named): the same name with other bytes (a regular file,
    no link): its frame would be filed under the SHA-256 of bytes it does not hold."""
    evidence = put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    run_stage(run_ingest)
    evidence.write_bytes(jpeg("coffee") + b"other bytes")
    run_stage(run_frames)
    ((frames, error),) = frame_outcomes(layout)
    assert frames == 0 and "changed since it was hashed" in error


def test_item8_variant_video_swapped_for_a_link_is_not_decoded(
    layout: DataLayout, run_stage: RunStage, tmp_path: Path
) -> None:
    """Further variant of item 8 (not named): a video, which ffmpeg opens by name."""
    clip = video(layout.raw / "inc/src/clip.mp4", seconds=1.0)
    run_stage(run_ingest)
    other = video(tmp_path / "other.mp4", photos=("rocket",), seconds=1.0)
    clip.unlink()
    clip.symlink_to(other)
    run_stage(run_frames)
    ((frames, error),) = frame_outcomes(layout)
    assert frames == 0 and "symbolic link" in error
    assert thumbs_stored(layout) == []


def test_untouched_evidence_is_still_sampled(layout: DataLayout, run_stage: RunStage) -> None:
    """The check does not refuse what ingest hashed."""
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    video(layout.raw / "inc/src/clip.mp4", seconds=1.0)
    run_stage(run_ingest)
    run_stage(run_frames)
    outcomes = frame_outcomes(layout)
    assert len(outcomes) == 2 and all(frames > 0 and not error for frames, error in outcomes)
