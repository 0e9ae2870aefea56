"""dedupe: each relation of the contract, the chaining guards, incremental == full run."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.config import Settings
from pipeline.io import ffmpeg
from pipeline.layout import DataLayout
from pipeline.stages.context import Operator, open_run
from pipeline.stages.dedupe import run_dedupe
from pipeline.stages.frames import run_frames
from pipeline.stages.hash import run_hash
from pipeline.stages.ingest import run_ingest
from pipeline.synth import images as im
from pipeline.synth.videos import Shot, shot_frames
from tests.conftest import RunStage
from tests.media import put


def run_to_dedupe(run_stage: RunStage) -> None:
    for stage in (run_ingest, run_frames, run_hash, run_dedupe):
        run_stage(stage)


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def ids(layout: DataLayout) -> dict[str, str]:
    return {
        row["path"].rsplit("/", 1)[-1]: row["media_id"]
        for row in read(layout.processed / "observations.csv")
    }


def relations(layout: DataLayout) -> dict[frozenset[str], list[dict[str, str]]]:
    names = {v: k for k, v in ids(layout).items()}
    found: dict[frozenset[str], list[dict[str, str]]] = {}
    for row in read(layout.processed / "matches.csv"):
        found.setdefault(frozenset({names[row["media_a"]], names[row["media_b"]]}), []).append(row)
    return found


def clusters(layout: DataLayout) -> dict[str, str]:
    names = {v: k for k, v in ids(layout).items()}
    return {names[r["media_id"]]: r["cluster_id"] for r in read(layout.processed / "clusters.csv")}


def frames_of(
    photos: list[tuple[str, float]], width: int = 320, height: int = 180
) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    for name, seconds in photos:
        out.extend(shot_frames(Shot(im.photo(name), seconds), 25.0, width, height))
    return out


def encode(layout: DataLayout, rel: str, frames: list[np.ndarray], *args: str) -> Path:
    path = layout.raw / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    ffmpeg.encode_frames(frames, path, width, height, 25.0, args)
    return path


def side(row: dict[str, str], which: str) -> tuple[float, float]:
    return float(row[f"{which}_start_s"]), float(row[f"{which}_end_s"])


def test_stills_near_duplicate_across_mirror_watermark_and_recompression(
    layout: DataLayout, run_stage: RunStage
) -> None:
    photo = im.photo("astronaut")
    put(layout.raw, "inc/a/original.jpg", im.jpeg_bytes(photo, 92))
    put(layout.raw, "inc/b/repost.jpg", im.jpeg_bytes(im.watermark(im.mirror(photo)), 40))
    put(layout.raw, "inc/c/other.jpg", im.jpeg_bytes(im.photo("rocket"), 92))
    run_to_dedupe(run_stage)
    found = relations(layout)
    assert [r["relation"] for r in found[frozenset({"original.jpg", "repost.jpg"})]] == [
        "near_duplicate"
    ]
    assert not any("other.jpg" in pair for pair in found)
    groups = clusters(layout)
    assert groups["original.jpg"] == groups["repost.jpg"] != groups["other.jpg"]


def test_same_picture_with_metadata_stripped_is_exact(
    layout: DataLayout, run_stage: RunStage
) -> None:
    photo = im.photo("coffee")
    exif = im.exif_block("Canon", "EOS", "2024:01:01 00:00:00", 1.0, 2.0)
    put(layout.raw, "inc/a/with_exif.jpg", im.jpeg_bytes(photo, 90, exif))
    put(layout.raw, "inc/b/stripped.jpg", im.jpeg_bytes(photo, 90))
    run_to_dedupe(run_stage)
    (row,) = relations(layout)[frozenset({"with_exif.jpg", "stripped.jpg"})]
    assert (row["relation"], row["distance"]) == ("exact", "0")


def test_still_taken_from_a_video_is_found_at_its_time(
    layout: DataLayout, run_stage: RunStage
) -> None:
    frames = frames_of([("astronaut", 3.0), ("coffee", 3.0), ("rocket", 3.0)])
    encode(layout, "inc/a/video.mp4", frames)
    put(layout.raw, "inc/b/grab.jpg", im.jpeg_bytes(frames[4 * 25], 85))  # t = 4 s
    run_to_dedupe(run_stage)
    (row,) = relations(layout)[frozenset({"video.mp4", "grab.jpg"})]
    assert row["relation"] == "still_in_video"
    times = [float(row[k]) for k in ("a_start_s", "b_start_s") if row[k]]
    assert times and abs(times[0] - 4.0) <= 2.0


def fast_pan(name: str, seconds: float, px_per_frame: float) -> list[np.ndarray]:
    """A 320x180 window panning across a 900x300 stretch of a photo, at 25 fps: frames a
    fraction of a second apart differ by 40-80 PDQ bits, and the end shares little with
    the start."""
    wide = cv2.resize(im.photo(name), (900, 300), interpolation=cv2.INTER_AREA)
    return [
        cv2.resize(wide[:, int(i * px_per_frame) : int(i * px_per_frame) + 300], (320, 180))
        for i in range(int(seconds * 25))
    ]


@pytest.mark.parametrize("anchor_bits", [64, 0], ids=["anchors", "no_anchors"])
def test_still_grabbed_between_samples_of_a_fast_pan_is_linked_by_an_anchor(
    layout: DataLayout, settings: Settings, anchor_bits: int
) -> None:
    """The grab (6.2 s) is 40-80 PDQ bits from the sampled frames either side of it and
    overlaps its shot's first frame, the only one with stored keypoints, too little for the
    crop path: only the anchor search (closest pair within 64 bits, confirmed by keypoints
    and pixels) links it, and turning anchors off loses it."""
    frames = fast_pan("chelsea", 7.5, 1.6)
    encode(layout, "inc/a/pan.mp4", frames)
    put(layout.raw, "inc/b/grab.jpg", im.jpeg_bytes(frames[int(6.2 * 25)], 90))
    dedupe = settings.default.dedupe.model_copy(update={"video_anchor_max_distance": anchor_bits})
    chosen = settings.model_copy(
        update={"default": settings.default.model_copy(update={"dedupe": dedupe})}
    )
    for stage in (run_ingest, run_frames, run_hash, run_dedupe):
        with open_run(layout, chosen, "test", Operator("t"), False) as ctx:
            stage(ctx)
    found = relations(layout).get(frozenset({"pan.mp4", "grab.jpg"}), [])
    if anchor_bits == 0:
        assert found == []
        return
    (row,) = found
    assert row["relation"] == "still_in_video" and 31 < int(row["distance"]) <= 64
    times = [float(row[k]) for k in ("a_start_s", "b_start_s") if row[k]]
    assert times and abs(times[0] - 6.2) <= 1.0


def test_trimmed_reencoded_clip_overlaps_its_original_within_two_seconds(
    layout: DataLayout, run_stage: RunStage
) -> None:
    original = encode(
        layout,
        "inc/a/original.mp4",
        frames_of([("astronaut", 4.0), ("coffee", 4.0), ("rocket", 4.0)]),
    )
    trimmed = layout.raw / "inc/b/trimmed.mp4"
    trimmed.parent.mkdir(parents=True)
    ffmpeg.transcode(
        original,
        trimmed,
        [
            "-ss",
            "3",
            "-t",
            "6",
            "-vf",
            "scale=240:136",
            "-c:v",
            "libx264",
            "-crf",
            "36",
            "-preset",
            "veryfast",
        ],
    )
    run_to_dedupe(run_stage)
    (row,) = relations(layout)[frozenset({"original.mp4", "trimmed.mp4"})]
    assert row["relation"] == "video_overlap"
    names = {v: k for k, v in ids(layout).items()}
    original_side = "a" if names[row["media_a"]] == "original.mp4" else "b"
    trimmed_side = "b" if original_side == "a" else "a"
    assert side(row, original_side) == pytest.approx((3.0, 9.0), abs=2.0)
    assert side(row, trimmed_side) == pytest.approx((0.0, 6.0), abs=2.0)


def test_compilation_links_to_each_source_without_merging_them(
    layout: DataLayout, run_stage: RunStage
) -> None:
    first = frames_of([("astronaut", 3.0), ("coffee", 3.0)])
    second = frames_of([("rocket", 3.0), ("chelsea", 3.0)])
    encode(layout, "inc/a/first.mp4", first)
    encode(layout, "inc/b/second.mp4", second)
    encode(layout, "inc/c/compilation.mp4", first[50:150] + second[25:125])
    run_to_dedupe(run_stage)
    found = relations(layout)
    for source, span in (("first.mp4", (2.0, 6.0)), ("second.mp4", (1.0, 5.0))):
        (row,) = found[frozenset({source, "compilation.mp4"})]
        names = {v: k for k, v in ids(layout).items()}
        source_side = "a" if names[row["media_a"]] == source else "b"
        assert side(row, source_side) == pytest.approx(span, abs=2.0)
    assert frozenset({"first.mp4", "second.mp4"}) not in found
    groups = clusters(layout)
    assert groups["first.mp4"] != groups["second.mp4"]


def test_unrelated_videos_sharing_a_black_intro_are_not_linked(
    layout: DataLayout, run_stage: RunStage
) -> None:
    black = [im.uniform(180, 320)] * 50
    encode(layout, "inc/a/one.mp4", black + frames_of([("astronaut", 3.0)]))
    encode(layout, "inc/b/two.mp4", black + frames_of([("rocket", 3.0)]))
    run_to_dedupe(run_stage)
    assert relations(layout) == {}


def test_one_chance_frame_match_does_not_make_videos_overlap(
    layout: DataLayout, run_stage: RunStage
) -> None:
    main = frames_of([("astronaut", 3.0), ("coffee", 3.0)])
    flash = [main[0]] * 5  # a fifth of a second of the other video's first frame
    encode(layout, "inc/a/main.mp4", main)
    encode(
        layout,
        "inc/b/other.mp4",
        frames_of([("rocket", 3.0)]) + flash + frames_of([("chelsea", 3.0)]),
    )
    run_to_dedupe(run_stage)
    assert frozenset({"main.mp4", "other.mp4"}) not in relations(layout)


def test_incremental_updates_give_the_clusters_of_a_full_run(
    layout: DataLayout, run_stage: RunStage, tmp_path: Path
) -> None:
    photo, other = im.photo("astronaut"), im.photo("coffee")
    put(layout.raw, "inc/a/one.jpg", im.jpeg_bytes(photo, 90))
    put(layout.raw, "inc/a/two.jpg", im.jpeg_bytes(other, 90))
    run_to_dedupe(run_stage)
    put(layout.raw, "inc/b/one_small.jpg", im.jpeg_bytes(im.resize(photo, 0.4), 60))
    put(layout.raw, "inc/b/two_mirror.jpg", im.jpeg_bytes(im.mirror(other), 80))
    run_to_dedupe(run_stage)
    incremental = {p.name: p.read_bytes() for p in layout.processed.glob("*.csv")}
    shutil.rmtree(layout.processed)
    run_to_dedupe(run_stage)
    full = {p.name: p.read_bytes() for p in layout.processed.glob("*.csv")}
    assert incremental["clusters.csv"] == full["clusters.csv"]
    assert incremental["matches.csv"] == full["matches.csv"]
    groups = clusters(layout)
    assert (
        groups["one.jpg"] == groups["one_small.jpg"]
        and groups["two.jpg"] == groups["two_mirror.jpg"]
    )


# --- issue 15: precision failure classes, end to end ------------------------------------


def test_clips_sharing_a_channel_logo_card_do_not_overlap(
    layout: DataLayout, run_stage: RunStage
) -> None:
    card = frames_of([("colorwheel", 1.6)])  # the channel's card, in front of three uploads
    encode(layout, "inc/a/one.mp4", card + frames_of([("astronaut", 3.0), ("coffee", 3.0)]))
    encode(layout, "inc/b/two.mp4", card + frames_of([("rocket", 3.0), ("chelsea", 3.0)]))
    encode(
        layout, "inc/c/three.mp4", card + frames_of([("retina", 3.0), ("hubble_deep_field", 3.0)])
    )
    run_to_dedupe(run_stage)
    rows = [row for pair in relations(layout).values() for row in pair]
    assert rows and {row["relation"] for row in rows} == {"candidate"}
    assert all("title card" in row["reason"] for row in rows)
    assert len(set(clusters(layout).values())) == 3


def test_two_exposures_of_one_scene_are_same_scene_and_stay_apart(
    layout: DataLayout, run_stage: RunStage
) -> None:
    scene = im.photo("chelsea")
    moved = np.ascontiguousarray(scene[4:, 3:])  # the camera moved a little
    for name, picture, taken in (
        ("first.jpg", scene, "2024:03:01 10:00:01"),
        ("second.jpg", moved, "2024:03:01 10:00:03"),
    ):
        exif = im.exif_block("Canon", "EOS", taken, 1.0, 2.0)
        put(layout.raw, f"inc/a/{name}", im.jpeg_bytes(picture, 90, exif))
    put(layout.raw, "inc/b/repost.jpg", im.jpeg_bytes(im.watermark(scene), 60))  # no EXIF
    run_to_dedupe(run_stage)
    found = relations(layout)
    (row,) = found[frozenset({"first.jpg", "second.jpg"})]
    assert row["relation"] == "same_scene" and "different exposures" in row["reason"]
    assert [r["relation"] for r in found[frozenset({"first.jpg", "repost.jpg"})]] == [
        "near_duplicate"
    ]
    groups = clusters(layout)
    assert groups["first.jpg"] == groups["repost.jpg"]
    assert frozenset({"second.jpg", "repost.jpg"}) not in found or all(
        r["method"] != "inferred" for r in found[frozenset({"second.jpg", "repost.jpg"})]
    )


def test_every_relation_says_what_decided_it(layout: DataLayout, run_stage: RunStage) -> None:
    photo = im.photo("astronaut")
    put(layout.raw, "inc/a/original.jpg", im.jpeg_bytes(photo, 92))
    put(layout.raw, "inc/b/small.jpg", im.jpeg_bytes(im.resize(photo, 0.5), 60))
    put(layout.raw, "inc/c/mirror.jpg", im.jpeg_bytes(im.mirror(photo), 70))
    run_to_dedupe(run_stage)
    rows = [row for pair in relations(layout).values() for row in pair]
    assert len(rows) == 3 and all(row["reason"] for row in rows)
    assert all(row["reason"].startswith(("pdq: ", "keypoints: ", "a chain of")) for row in rows)


def test_a_static_scene_at_two_moments_is_a_same_scene_proposal_not_a_duplicate(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Issue 15's traps (synth/traps.py): one static camera's scene with a different object
    in front aligns everywhere but its content differs where the objects are: `same_scene`,
    out of clusters; screenshots of different pictures in one page are no relation of same
    content; a re-encoded copy of one moment stays a duplicate, with its evidence."""
    from pipeline.synth import traps

    horse = traps.backdrop_picture("horse")
    put(layout.raw, "inc/a/horse.jpg", im.jpeg_bytes(horse, 90))
    put(layout.raw, "inc/b/logo.jpg", im.jpeg_bytes(traps.backdrop_picture("logo"), 90))
    put(layout.raw, "inc/c/copy.jpg", im.jpeg_bytes(im.crop(horse, 0.2), 70))
    put(layout.raw, "inc/d/cell.jpg", im.jpeg_bytes(traps.template_picture("cell"), 88))
    put(layout.raw, "inc/e/clock.jpg", im.jpeg_bytes(traps.template_picture("clock"), 88))
    run_to_dedupe(run_stage)
    found = relations(layout)
    (scene,) = found[frozenset({"horse.jpg", "logo.jpg"})]
    assert scene["relation"] == "same_scene" and "one scene" in scene["reason"]
    assert float(scene["pixel_agreement"]) < 0.95 and float(scene["coverage_a"]) > 0.5
    (copy,) = found[frozenset({"horse.jpg", "copy.jpg"})]
    assert copy["relation"] == "near_duplicate" and copy["method"] == "keypoints"
    assert float(copy["pixel_agreement"]) >= 0.9 and int(copy["inliers"]) >= 12
    pages = found.get(frozenset({"cell.jpg", "clock.jpg"}), [])
    assert all(r["relation"] in ("candidate", "same_scene") for r in pages)
    groups = clusters(layout)
    assert groups["horse.jpg"] == groups["copy.jpg"] != groups["logo.jpg"]
    assert groups["cell.jpg"] != groups["clock.jpg"]


def moving_object(seconds: float, px_per_frame: float) -> list[np.ndarray]:
    """A still backdrop (a photo, 320x180) with a photo of another thing (128x96) crossing
    it at 25 fps: frames half a second apart show the backdrop in place and the thing
    moved by a third of the frame, as footage of a street with a car passing."""
    backdrop = cv2.resize(im.photo("chelsea"), (320, 180), interpolation=cv2.INTER_AREA)
    thing = cv2.resize(im.photo("coffee"), (128, 96), interpolation=cv2.INTER_AREA)
    out = []
    for i in range(int(seconds * 25)):
        frame = backdrop.copy()
        left = int(i * px_per_frame) % (320 - 128)
        frame[40:136, left : left + 128] = thing
        out.append(frame)
    return out


@pytest.mark.parametrize("grab_s", [1.48, 3.52])
def test_still_grabbed_between_samples_of_moving_footage_is_confirmed_by_decoding(
    layout: DataLayout, run_stage: RunStage, grab_s: float
) -> None:
    """Issue 15: the grab lies half a second from both samples around it, where the thing
    in front has moved: keypoints align the backdrop but the pixels disagree (at most a
    `same_scene` proposal before). The video decoded at full rate around the closest
    sampled frame holds the grabbed frame, which keypoints and pixels confirm: a proven
    `still_in_video`, within half a sampling interval of the grab."""
    frames = moving_object(5.0, 1.5)
    encode(layout, "inc/a/street.mp4", frames)
    put(layout.raw, "inc/b/grab.jpg", im.jpeg_bytes(frames[round(grab_s * 25)], 90))
    run_to_dedupe(run_stage)
    (row,) = relations(layout)[frozenset({"street.mp4", "grab.jpg"})]
    assert row["relation"] == "still_in_video", row
    times = [float(row[k]) for k in ("a_start_s", "b_start_s") if row[k]]
    assert times and abs(times[0] - grab_s) <= 0.6
    assert float(row["pixel_agreement"]) >= 0.9


def test_a_still_of_the_backdrop_with_another_thing_in_front_stays_a_proposal(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Precision first: a still of the same backdrop with a different thing in front (a
    photo of the place, not a grab of the video) is in no decoded frame, so the grab path
    confirms nothing and the pair stays what it was (no proven relation)."""
    frames = moving_object(5.0, 1.5)
    encode(layout, "inc/a/street.mp4", frames)
    other = frames[62].copy()
    other[40:136, 100:228] = cv2.resize(im.photo("rocket"), (128, 96))
    put(layout.raw, "inc/b/other.jpg", im.jpeg_bytes(other, 90))
    run_to_dedupe(run_stage)
    rows = relations(layout).get(frozenset({"street.mp4", "other.jpg"}), [])
    assert all(r["relation"] in {"candidate", "same_scene"} for r in rows), rows


def test_relations_assembled_by_other_code_are_assembled_again_without_a_new_search(
    layout: DataLayout, run_stage: RunStage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgrade that changes how relations are assembled (ASSEMBLY_VERSION) must not leave
    an unchanged collection's matches.csv as the old code wrote it, nor search it again."""
    photo = im.photo("astronaut")
    put(layout.raw, "inc/a/original.jpg", im.jpeg_bytes(photo, 92))
    put(layout.raw, "inc/b/repost.jpg", im.jpeg_bytes(im.mirror(photo), 60))
    run_to_dedupe(run_stage)
    idle = run_stage(run_dedupe)
    assert isinstance(idle, dict) and "matches" not in idle  # up to date: nothing assembled
    monkeypatch.setattr("pipeline.stages.dedupe.ASSEMBLY_VERSION", 10**6)
    again = run_stage(run_dedupe)
    assert isinstance(again, dict)
    assert again["frames_searched"] == 0 and again["matches"] == 1
