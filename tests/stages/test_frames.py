"""frames: the first frame, every shot change, an interval cap; upright; damage recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.config import FramesConfig
from pipeline.core.records import MediaRecord
from pipeline.io import thumbs
from pipeline.io.catalog import Catalog, StoredFrame
from pipeline.layout import DataLayout
from pipeline.stages.frames import plan_for, run_frames
from pipeline.stages.ingest import run_ingest
from pipeline.synth import images as im
from tests.conftest import RunStage
from tests.media import phone_video, put, video


def frames_by_path(layout: DataLayout) -> dict[str, list[StoredFrame]]:
    with Catalog(layout.catalog) as catalog:
        files = {path: media_id for media_id, path in catalog.media_files().items()}
        return {path: catalog.frames(media_id) for path, media_id in files.items()}


def errors(layout: DataLayout) -> dict[str, str]:
    with Catalog(layout.catalog) as catalog:
        files = catalog.media_files()
        return {files[m]: s.error for m, s in catalog.frame_states().items()}


def ingest_and_sample(run_stage: RunStage) -> None:
    run_stage(run_ingest)
    run_stage(run_frames)


def test_three_shot_video_gets_a_frame_at_each_cut_and_shot_ids_that_split_there(
    layout: DataLayout, run_stage: RunStage
) -> None:
    video(layout.raw / "inc/src/three.mp4", ("astronaut", "coffee", "rocket"), seconds=3.0)
    ingest_and_sample(run_stage)
    frames = frames_by_path(layout)["inc/src/three.mp4"]
    cuts = [f.frame.pts_s for f in frames if f.frame.reason == "shot_change"]
    assert cuts == pytest.approx([3.0, 6.0], abs=0.05)
    assert frames[0].frame.reason == "first" and frames[0].frame.pts_s == 0.0
    for f in frames:
        assert f.frame.shot_id == int((f.frame.pts_s or 0) // 3.0 + 1e-6)
    gaps = np.diff([f.frame.pts_s for f in frames])
    assert gaps.max() <= 2.0 + 1e-6  # the interval cap (configs/default.yaml: 2 s)


def test_rotated_phone_video_is_sampled_upright(layout: DataLayout, run_stage: RunStage) -> None:
    upright = im.photo("astronaut")[:, 96:416]  # portrait, 320 wide and 512 high
    phone_video(layout.raw, "inc/src/phone.mp4", upright)
    ingest_and_sample(run_stage)
    (first, *_) = frames_by_path(layout)["inc/src/phone.mp4"]
    assert (first.width, first.height) == (200, 320)
    picture = thumbs.load(layout.thumbs, first.thumb_sha256).astype(float)
    expected = im.resize(upright, 320 / 512).astype(float)
    upside_down = np.rot90(expected, 2)
    assert np.corrcoef(picture.ravel(), expected.ravel())[0, 1] > 0.95
    assert np.corrcoef(picture.ravel(), upside_down.ravel())[0, 1] < 0.5


def test_truncated_video_keeps_its_good_frames_and_records_the_damage(
    layout: DataLayout, run_stage: RunStage
) -> None:
    whole = video(
        layout.raw / "tmp/whole.mp4",
        ("astronaut", "coffee", "rocket"),
        seconds=2.0,
        extra_output_args=("-movflags", "+faststart"),
    )
    data = whole.read_bytes()
    put(layout.raw, "inc/src/cut.mp4", data[: int(len(data) * 0.6)])
    whole.unlink()
    whole.parent.rmdir()
    ingest_and_sample(run_stage)
    frames = frames_by_path(layout)["inc/src/cut.mp4"]
    assert 1 <= len(frames) < 5
    assert errors(layout)["inc/src/cut.mp4"]


def test_stills_are_one_upright_frame_each(layout: DataLayout, run_stage: RunStage) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; a viewer turns it 90 degrees clockwise
    sideways = np.ascontiguousarray(np.rot90(im.photo("coffee"), 1))
    put(layout.raw, "inc/src/side.jpg", im.jpeg_bytes(sideways, 90, exif.tobytes()))
    ingest_and_sample(run_stage)
    (frame,) = frames_by_path(layout)["inc/src/side.jpg"]
    assert (frame.frame.reason, frame.frame.pts_s) == ("still", None)
    assert frame.width > frame.height  # coffee is landscape once upright


def test_second_run_decodes_nothing_and_a_new_upload_only_itself(
    layout: DataLayout, run_stage: RunStage
) -> None:
    video(layout.raw / "inc/src/a.mp4", seconds=1.0)
    ingest_and_sample(run_stage)
    again = run_stage(run_frames)
    assert isinstance(again, dict) and again["media_sampled"] == 0
    video(layout.raw / "inc/src/b.mp4", ("rocket",), seconds=1.0)
    run_stage(run_ingest)
    counts = run_stage(run_frames)
    assert isinstance(counts, dict) and counts["media_sampled"] == 1


def test_thumbnails_are_content_addressed_and_shared(
    layout: DataLayout, run_stage: RunStage
) -> None:
    put(layout.raw, "inc/a/x.jpg", im.jpeg_bytes(im.photo("rocket"), 90))
    put(layout.raw, "inc/b/x.png", im.png_bytes(im.recompress(im.photo("rocket"), 90)))
    ingest_and_sample(run_stage)
    stored = sorted(layout.thumbs.rglob("*.jpg"))
    import hashlib

    for path in stored:
        assert path.stem == hashlib.sha256(path.read_bytes()).hexdigest()
    assert len(stored) <= 2


def test_recorded_ffmpeg_command_does_not_depend_on_how_many_media_are_left(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """A run that resumes an interrupted one with a single video left must record the command
    a full run records for it (threads follow the configuration, not the backlog)."""
    video(layout.raw / "inc/src/a.mp4", ("astronaut",), seconds=1.0)
    video(layout.raw / "inc/src/b.mp4", ("coffee",), seconds=1.0)
    ingest_and_sample(run_stage)
    video(layout.raw / "inc/src/late.mp4", ("rocket",), seconds=1.0)
    ingest_and_sample(run_stage)
    with Catalog(layout.catalog) as catalog:
        entries = [json.loads(line) for line in catalog.custody_entries()]
    commands = [e["params"]["ffmpeg_command"] for e in entries if e["action"] == "sample_frames"]
    assert len(commands) == 3
    assert len({tuple(c[c.index("-threads") : c.index("-threads") + 2]) for c in commands}) == 1


def test_a_long_video_gets_its_duration_on_top_of_the_decode_limit() -> None:
    cfg = FramesConfig(decode_timeout_s=600, decode_stall_s=90)
    two_hours = MediaRecord("a" * 64, "b" * 32, 1, "video", "mp4", 1920, 1080, 7200.0)
    plan = plan_for(two_hours, cfg, threads=1)
    assert (plan.timeout_s, plan.stall_s) == (7800.0, 90.0)
    unknown = MediaRecord("c" * 64, "d" * 32, 1, "video", "mp4", 1920, 1080, None)
    assert plan_for(unknown, cfg, threads=1).timeout_s == 600.0
