"""hash: every stored frame hashed once, upright, with uniform frames flagged."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.cli import main
from pipeline.core import params as stage_params
from pipeline.core.hashing import hamming
from pipeline.core.outcome import EXIT_FAILURES
from pipeline.core.records import HashRow
from pipeline.io import ffmpeg
from pipeline.io.catalog import Catalog
from pipeline.layout import DataLayout
from pipeline.stages.frames import run_frames
from pipeline.stages.hash import run_hash
from pipeline.stages.ingest import run_ingest
from pipeline.synth import images as im
from tests.conftest import RunStage
from tests.media import phone_video, put, video


def run_all(run_stage: RunStage) -> dict[str, int]:
    run_stage(run_ingest)
    run_stage(run_frames)
    counts = run_stage(run_hash)
    assert isinstance(counts, dict)
    return counts


def hashes_by_path(layout: DataLayout) -> dict[str, list[HashRow]]:
    with Catalog(layout.catalog) as catalog:
        files = catalog.media_files()
        found: dict[str, list[HashRow]] = {}
        for hashed in catalog.hash_rows():
            found.setdefault(files[hashed.hashes.media_id], []).append(hashed.hashes)
        return found


def test_rotated_phone_video_hashes_like_the_upright_picture(
    layout: DataLayout, run_stage: RunStage
) -> None:
    upright = im.photo("astronaut")[:, 96:416]
    phone_video(layout.raw, "inc/src/phone.mp4", upright)
    put(layout.raw, "inc/other/upright.jpg", im.jpeg_bytes(upright, 90))
    run_all(run_stage)
    hashes = hashes_by_path(layout)
    phone, still = hashes["inc/src/phone.mp4"][0], hashes["inc/other/upright.jpg"][0]
    assert hamming(phone.pdq, still.pdq) <= 31


def test_black_intro_frames_are_flagged_uniform(layout: DataLayout, run_stage: RunStage) -> None:
    black = [im.uniform(180, 320)] * 75
    picture = [np.asarray(im.resize(im.photo("coffee"), 320 / 600))[:180, :320]] * 75
    path = layout.raw / "inc/src/intro.mp4"
    path.parent.mkdir(parents=True)
    ffmpeg.encode_frames(black + picture, path, 320, 180, 25.0)
    counts = run_all(run_stage)
    rows = hashes_by_path(layout)["inc/src/intro.mp4"]
    assert rows[0].uniform and not rows[-1].uniform
    assert counts["frames_uniform"] >= 1


def test_rerun_hashes_nothing_and_new_upload_hashes_only_its_frames(
    layout: DataLayout, run_stage: RunStage
) -> None:
    video(layout.raw / "inc/src/a.mp4", seconds=1.0)
    put(layout.raw, "inc/src/b.jpg", im.jpeg_bytes(im.photo("rocket"), 90))
    first = run_all(run_stage)
    assert first["frames_hashed"] >= 3
    assert run_all(run_stage)["frames_hashed"] == 0
    put(layout.raw, "inc/src/c.jpg", im.jpeg_bytes(im.photo("chelsea"), 90))
    assert run_all(run_stage)["frames_hashed"] == 1


def test_a_new_hash_version_hashes_every_frame_again(
    layout: DataLayout, run_stage: RunStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catalog hashed by an earlier hash_frame is hashed again, its rows replaced rather
    than mixed with rows of the new version."""
    video(layout.raw / "inc/src/a.mp4", seconds=1.0)
    put(layout.raw, "inc/src/b.jpg", im.jpeg_bytes(im.photo("rocket"), 90))
    first = run_all(run_stage)["frames_hashed"]
    before = {row.params_hash for rows in hashes_by_path(layout).values() for row in rows}
    monkeypatch.setattr(stage_params, "HASH_VERSION", stage_params.HASH_VERSION + 1)
    assert run_all(run_stage)["frames_hashed"] == first
    after = {row.params_hash for rows in hashes_by_path(layout).values() for row in rows}
    assert len(before) == len(after) == 1 and before != after


def test_worker_processes_hash_exactly_as_one_process(tmp_path, settings) -> None:
    from pipeline.config import load_settings
    from pipeline.stages.context import Operator, open_run

    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "default.yaml").write_text("hash:\n  batch_frames: 1\n  workers: 2\n")
    pooled = load_settings(configs)
    found = []
    for name, chosen in (("single", settings), ("pooled", pooled)):
        layout = DataLayout(tmp_path / name)
        video(layout.raw / "inc/src/a.mp4", ("astronaut", "coffee"), seconds=1.0)
        put(layout.raw, "inc/src/b.jpg", im.jpeg_bytes(im.photo("rocket"), 90))
        with open_run(layout, chosen, "test", Operator("t"), False) as ctx:
            run_ingest(ctx)
            run_frames(ctx)
            run_hash(ctx)
        with Catalog(layout.catalog) as catalog:
            found.append(
                [
                    (h.media_id, h.frame_index, h.pdq, h.phash, h.uniform)
                    for h in (r.hashes for r in catalog.hash_rows())
                ]
            )
    assert found[0] == found[1] and len(found[0]) >= 3


def test_an_unreadable_thumbnail_fails_its_frame_only_and_is_retried(
    layout: DataLayout, run_stage: RunStage, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("rocket", "chelsea", "coffee"):
        put(layout.raw, f"inc/src/{name}.jpg", im.jpeg_bytes(im.photo(name), 90))
    run_stage(run_ingest)
    run_stage(run_frames)
    damaged, missing, _ = sorted(layout.thumbs.rglob("*.jpg"))
    damaged.write_bytes(b"not a jpeg any more")
    missing.unlink()
    counts = run_stage(run_hash)
    assert counts == {"frames_hashed": 1, "frames_uniform": 0, "frames_failed": 2}
    assert len([row for rows in hashes_by_path(layout).values() for row in rows]) == 1
    # not forgotten: tried again and reported again, by the command with a clear line
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "hash"]) == EXIT_FAILURES
    err = capsys.readouterr().err
    assert err.count("is missing or unreadable") == 2 and missing.stem[:12] in err
