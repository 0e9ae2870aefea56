"""Ingest: every file hashed once, described by content, bad ones rejected with a reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.core.pathnames import display_path
from pipeline.io import ffmpeg
from pipeline.io.catalog import Catalog
from pipeline.io.contract import read_contract_csv as read_csv
from pipeline.layout import DataLayout
from pipeline.stages.ingest import run_ingest
from pipeline.synth import images as im
from tests.conftest import RunStage
from tests.media import jpeg, png_bomb, put, tree_snapshot, video


def rejects(layout: DataLayout) -> dict[str, str]:
    return {row["path"]: row["reason"] for row in read_csv(layout.processed / "rejects.csv")}


def test_same_bytes_from_two_sources_is_one_media_with_two_observations(
    layout: DataLayout, run_stage: RunStage
) -> None:
    data = jpeg("astronaut")
    put(layout.raw, "inc/witness/a.jpg", data)
    put(layout.raw, "inc/channel/repost.jpg", data)
    run_stage(run_ingest)
    media = read_csv(layout.processed / "media.csv")
    observations = read_csv(layout.processed / "observations.csv")
    assert len(media) == 1
    assert {o["source"] for o in observations} == {"witness", "channel"}
    assert {o["media_id"] for o in observations} == {media[0]["media_id"]}


def test_exif_capture_time_camera_and_gps_are_read(layout: DataLayout, run_stage: RunStage) -> None:
    exif = im.exif_block("Canon", "EOS 80D", "2024:03:01 10:20:30", 36.2021, -37.1343, "GIMP 2.10")
    put(layout.raw, "inc/src/photo.jpg", im.jpeg_bytes(im.photo("coffee"), 90, exif))
    run_stage(run_ingest)
    (row,) = read_csv(layout.processed / "media.csv")
    assert row["captured_at"] == "2024-03-01T10:20:30"
    assert (row["camera_make"], row["camera_model"], row["software"]) == (
        "Canon",
        "EOS 80D",
        "GIMP 2.10",
    )
    assert float(row["gps_lat"]) == pytest.approx(36.2021, abs=1e-4)
    assert float(row["gps_lon"]) == pytest.approx(-37.1343, abs=1e-4)
    assert (row["width"], row["height"], row["kind"]) == ("600", "400", "image")


def test_ffprobe_fields_of_a_rotated_video(layout: DataLayout, run_stage: RunStage) -> None:
    clip = video(
        layout.raw / "inc/src/plain.mp4",
        seconds=1.0,
        extra_output_args=("-metadata", "creation_time=2024-03-01T09:00:00Z"),
    )
    rotated = clip.with_name("phone.mp4")
    ffmpeg.transcode(clip, rotated, ["-c", "copy", "-metadata:s:v:0", "rotate=90"])
    run_stage(run_ingest)
    rows = {r["media_id"]: r for r in read_csv(layout.processed / "media.csv")}
    by_path = {
        o["path"]: rows[o["media_id"]] for o in read_csv(layout.processed / "observations.csv")
    }
    plain, phone = by_path["inc/src/plain.mp4"], by_path["inc/src/phone.mp4"]
    assert (plain["kind"], plain["codec"], plain["width"], plain["height"]) == (
        "video",
        "h264",
        "320",
        "180",
    )
    assert float(plain["duration_s"]) == pytest.approx(2.0, abs=0.1)
    assert float(plain["fps"]) == pytest.approx(25.0)
    assert plain["creation_time"] == "2024-03-01T09:00:00Z"
    assert plain["encoder"].startswith("Lavf")
    assert (phone["rotation"], phone["width"], phone["height"]) == ("270", "180", "320")


@pytest.fixture
def bad_batch(layout: DataLayout, tmp_path: Path) -> dict[str, Path]:
    """One good file of each hostile-name kind plus one bad file of each kind."""
    raw = layout.raw
    good = {
        "quote": put(raw, 'inc/src/it\'s "quoted".jpg', jpeg("astronaut")),
        "dash": put(raw, "inc/src/-rf --help.jpg", jpeg("coffee")),
        "newline": put(raw, "inc/src/two\nlines.jpg", jpeg("rocket")),
        "script": put(raw, "inc/src/<script>alert(1)</script>.jpg", jpeg("chelsea")),
        "png_named_jpg": put(raw, "inc/src/actually_png.jpg", im.png_bytes(im.photo("retina"))),
    }
    bad_name = os.fsencode(str(raw / "inc/src")) + b"/caf\xe9.jpg"
    with open(bad_name, "wb") as handle:
        handle.write(jpeg("colorwheel"))
    outside = tmp_path / "outside_secret.jpg"
    outside.write_bytes(jpeg("hubble_deep_field"))
    (raw / "inc/src/link_out.jpg").symlink_to(outside)
    (raw / "inc/src/link_in.jpg").symlink_to(raw / "inc/src/actually_png.jpg")
    put(raw, "inc/src/empty.jpg", b"")
    put(raw, "inc/src/truncated.jpg", jpeg("astronaut")[:5000])
    put(raw, "inc/src/notes.mp4", b"plain text, not a video\n" * 10)
    put(raw, "inc/src/readme.txt", b"plain text\n")
    put(raw, "inc/src/bomb.png", png_bomb())
    os.mkfifo(raw / "inc/src/pipe.jpg")
    put(raw, "inc/loose.jpg", jpeg("astronaut"))
    put(raw, "inc/src/broken.jpg.json", b"{not json")
    put(raw, "inc/src/broken.jpg", jpeg("immunohistochemistry"))
    return good


def test_each_bad_input_is_rejected_with_its_reason_and_the_rest_ingested(
    layout: DataLayout, run_stage: RunStage, bad_batch: dict[str, Path]
) -> None:
    run_stage(run_ingest)
    reasons = rejects(layout)
    expected = {
        "inc/src/empty.jpg": "empty file",
        "inc/src/truncated.jpg": "truncated or corrupt image",
        "inc/src/notes.mp4": "not an image or video",
        "inc/src/readme.txt": "not an image or video",
        "inc/src/bomb.png": "decompression bomb",
        "inc/src/pipe.jpg": "not a regular file",
        "inc/src/link_out.jpg": "target outside the raw root",
        "inc/src/link_in.jpg": "links are never followed",
        "inc/loose.jpg": "not inside a source folder",
        "inc/src/broken.jpg.json": "sidecar is not valid UTF-8 JSON",
    }
    for path, words in expected.items():
        assert words in reasons[path], (path, reasons.get(path))
    assert len(reasons) == len(expected)
    paths = {o["path"] for o in read_csv(layout.processed / "observations.csv")}
    ingested = {display_path(str(p.relative_to(layout.raw))) for p in bad_batch.values()}
    assert ingested | {"inc/src/caf\\xe9.jpg", "inc/src/broken.jpg"} == paths


def test_unreadable_file_is_rejected(layout: DataLayout, run_stage: RunStage) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads any file; permission bits cannot make one unreadable")
    path = put(layout.raw, "inc/src/locked.jpg", jpeg())
    path.chmod(0)
    run_stage(run_ingest)
    assert "cannot be read" in rejects(layout)["inc/src/locked.jpg"]


def test_raw_tree_is_byte_identical_with_unchanged_mtimes_after_ingest(
    layout: DataLayout, run_stage: RunStage, bad_batch: dict[str, Path]
) -> None:
    os.unlink(layout.raw / "inc/src/pipe.jpg")
    video(layout.raw / "inc/src/clip.mp4", seconds=1.0)
    before = tree_snapshot(layout.raw)
    run_stage(run_ingest)
    assert tree_snapshot(layout.raw) == before


def test_second_ingest_hashes_nothing_and_changes_no_output_byte(
    layout: DataLayout, run_stage: RunStage, bad_batch: dict[str, Path]
) -> None:
    video(layout.raw / "inc/src/clip.mp4", seconds=1.0)
    first = run_stage(run_ingest)
    assert isinstance(first, dict) and first["files_hashed"] > 0
    outputs = {p.name: p.read_bytes() for p in layout.processed.glob("*.csv")}
    second = run_stage(run_ingest)
    assert isinstance(second, dict)
    assert second["files_hashed"] == 0 and second["files_cached"] == first["files_hashed"]
    assert {p.name: p.read_bytes() for p in layout.processed.glob("*.csv")} == outputs


def test_a_new_file_costs_one_hash(layout: DataLayout, run_stage: RunStage) -> None:
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    run_stage(run_ingest)
    put(layout.raw, "inc/src/b.jpg", jpeg("coffee"))
    counts = run_stage(run_ingest)
    assert isinstance(counts, dict)
    assert (counts["files_hashed"], counts["new_media"]) == (1, 1)


def test_sidecar_and_sources_sheet_attach_provenance(
    layout: DataLayout, run_stage: RunStage
) -> None:
    put(layout.raw, "inc/chan/a.jpg", jpeg("astronaut"))
    put(
        layout.raw,
        "inc/chan/a.jpg.json",
        b'{"url": "https://t.me/x/1", "posted_at": "2024-03-01T12:00:00+02:00", "account": "x"}',
    )
    put(layout.raw, "inc/news/b.jpg", jpeg("coffee"))
    put(
        layout.raw,
        "inc/sources.csv",
        b"path,url,posted_at,account\nnews/b.jpg,https://n/1,2024-03-02,desk\n",
    )
    run_stage(run_ingest)
    obs = {o["path"]: o for o in read_csv(layout.processed / "observations.csv")}
    assert obs["inc/chan/a.jpg"]["posted_at"] == "2024-03-01T10:00:00Z"
    assert obs["inc/chan/a.jpg"]["url"] == "https://t.me/x/1"
    assert (obs["inc/news/b.jpg"]["account"], obs["inc/news/b.jpg"]["posted_at"]) == (
        "desk",
        "2024-03-02T00:00:00",
    )
    assert "inc/chan/a.jpg.json" not in obs and "inc/sources.csv" not in rejects(layout)
    media = {m["media_id"]: m for m in read_csv(layout.processed / "media.csv")}
    assert media[obs["inc/chan/a.jpg"]["media_id"]]["first_seen"] == "2024-03-01T10:00:00Z"


def test_catalog_records_md5_and_raw_metadata_as_read(
    layout: DataLayout, run_stage: RunStage
) -> None:
    import hashlib

    data = im.jpeg_bytes(
        im.photo("coffee"), 90, im.exif_block("Nikon", "D750", "2023:01:02 03:04:05", 1.5, 2.5)
    )
    put(layout.raw, "inc/src/a.jpg", data)
    run_stage(run_ingest)
    with Catalog(layout.catalog) as catalog:
        (media,) = catalog.observed_media()
    assert media.media_id == hashlib.sha256(data).hexdigest()
    assert media.md5 == hashlib.md5(data).hexdigest()
    assert media.raw_metadata["exif"]["EXIF DateTimeOriginal"] == "2023:01:02 03:04:05"


def test_byte_identical_bad_files_in_one_batch_are_both_rejected(
    layout: DataLayout, run_stage: RunStage
) -> None:
    broken = jpeg("coffee")[:4000]
    for source in ("a", "b", "c"):
        put(layout.raw, f"inc/{source}/cut.jpg", broken)
    run_stage(run_ingest)
    reasons = rejects(layout)
    assert all("truncated" in reasons[f"inc/{s}/cut.jpg"] for s in ("a", "b", "c"))
    assert read_csv(layout.processed / "media.csv") == []


def test_repository_placeholder_at_the_raw_root_is_not_evidence(
    layout: DataLayout, run_stage: RunStage
) -> None:
    put(layout.raw, ".gitkeep", b"")
    put(layout.raw, "inc/src/a.jpg", jpeg())
    run_stage(run_ingest)
    assert rejects(layout) == {}
