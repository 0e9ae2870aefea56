"""The AugLy / OpenCV-photo corpus family: deterministic bytes, a truth that names real files,
covers every category and trap, and places every interval inside the videos."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pandas as pd
import pytest

from pipeline.io.ffmpeg import probe
from pipeline.layout import DataLayout
from pipeline.synth.augly_corpus import (
    AUGLY_TRUTH_COLUMNS,
    HARD_NEGATIVE_KINDS,
    INCIDENT,
    corpus_files,
    truth_rows,
    write_augly_corpus,
)

SMALL_SCALE = 0.1
FRAME_S = 1 / 25
IMAGE_CATEGORIES = {
    "screenshot_mobile",
    "screenshot_web",
    "meme",
    "overlay",
    "pad",
    "aspect",
    "rotate",
    "colour",
    "blur",
    "jpeg",
    "scale",
    "crop",
    "mirror",
    "chain",
}
VIDEO_CATEGORIES = {
    "reupload",
    "vertical_blurfill",
    "text_banner",
    "speed",
    "fps_change",
    "video_crop",
    "mirror_crop",
    "pip",
    "title_card_reupload",
    "trim",
    "compilation",
    "grab",
    "grab_screenshot",
    "photo_video",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataLayout, pd.DataFrame]:
    layout = DataLayout(tmp_path_factory.mktemp("augly") / "data")
    truth_path = write_augly_corpus(layout, scale=SMALL_SCALE, seed=0)
    return layout, pd.read_csv(truth_path, dtype=str, keep_default_na=False)


def manifest_files(layout: DataLayout) -> dict[str, str]:
    files: dict[str, str] = json.loads((layout.data_dir / "eval_corpus.json").read_text())["files"]
    return files


def test_same_scale_and_seed_give_the_same_bytes(
    corpus: tuple[DataLayout, pd.DataFrame], tmp_path: Path
) -> None:
    layout, _ = corpus
    again = DataLayout(tmp_path / "again")
    write_augly_corpus(again, scale=SMALL_SCALE, seed=0)
    assert manifest_files(again) == manifest_files(layout)
    assert (again.data_dir / "eval_truth.csv").read_bytes() == (
        layout.data_dir / "eval_truth.csv"
    ).read_bytes()


def test_truth_has_the_evaluate_columns_and_names_existing_files(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    layout, truth = corpus
    assert tuple(truth.columns) == AUGLY_TRUTH_COLUMNS
    paths = set(truth["path_a"]) | set(truth["path_b"])
    assert all(path.startswith(f"{INCIDENT}/") for path in paths)
    assert [path for path in paths if not (layout.raw / path).is_file()] == []
    assert set(manifest_files(layout)) == {
        p.relative_to(layout.raw).as_posix() for p in layout.raw.rglob("*") if p.is_file()
    }


def test_every_category_and_hard_negative_kind_is_present_at_small_scale(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    _, truth = corpus
    categories = set(truth["category"]) - {""}
    assert categories == IMAGE_CATEGORIES | VIDEO_CATEGORIES
    negatives = truth[truth["relation"] == "none"]
    assert set(negatives["transform"]) == set(HARD_NEGATIVE_KINDS)
    assert (negatives["category"] == "").all()


def test_every_original_copy_row_names_the_original_first(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    _, truth = corpus
    direct = truth[~truth["category"].isin(["", "compilation"])]
    stems = [Path(a).stem for a in direct["path_a"]]
    assert all(
        Path(b).stem.startswith(stem) for stem, b in zip(stems, direct["path_b"], strict=True)
    )


def test_video_intervals_lie_within_the_files(corpus: tuple[DataLayout, pd.DataFrame]) -> None:
    layout, truth = corpus
    durations: dict[str, float] = {}

    def duration_s(path: str) -> float:
        if path not in durations:
            durations[path] = float(probe(layout.raw / path, 30)["format"]["duration"])
        return durations[path]

    timed = truth[truth["relation"].isin(["video_overlap", "still_in_video"])]
    assert (timed["a_start_s"] != "").sum() > 10
    for row in timed.itertuples():
        for side, path in (("a", row.path_a), ("b", row.path_b)):
            start, end = getattr(row, f"{side}_start_s"), getattr(row, f"{side}_end_s")
            if start == "":
                continue
            assert 0 <= float(start) <= float(end) <= duration_s(path) + FRAME_S, (row, side)


def test_speed_change_maps_master_time_onto_the_copy(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    layout, truth = corpus
    rows = truth[truth["transform"] == "speed_1.25"]
    assert len(rows) == 2
    for row in rows.itertuples():
        assert float(row.a_end_s) == pytest.approx(1.25 * float(row.b_end_s))
        # ffmpeg's frame-rate resampling may repeat the last frame once or twice.
        duration_s = float(probe(layout.raw / row.path_b, 30)["format"]["duration"])
        assert float(row.b_end_s) <= duration_s <= float(row.b_end_s) + 3 * FRAME_S


def test_rerun_reuses_the_files_and_refuses_other_files(
    corpus: tuple[DataLayout, pd.DataFrame], tmp_path: Path
) -> None:
    layout, _ = corpus
    before = {p: p.stat().st_mtime_ns for p in layout.raw.rglob("*") if p.is_file()}
    write_augly_corpus(layout, scale=SMALL_SCALE, seed=0)
    assert {p: p.stat().st_mtime_ns for p in layout.raw.rglob("*") if p.is_file()} == before
    other = DataLayout(tmp_path / "other")
    stray = other.raw / INCIDENT / "someone" / "photo.jpg"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"evidence")
    with pytest.raises(FileExistsError):
        write_augly_corpus(other, scale=SMALL_SCALE)
    assert stray.read_bytes() == b"evidence"


def test_truth_is_closed_and_consistent_at_full_scale() -> None:
    files = corpus_files(1.0)
    assert corpus_files(1.0, seed=0) == files
    assert corpus_files(1.0, seed=1) != files
    assert 120 <= len(files) <= 220
    rows = truth_rows(files)
    positives = {frozenset((r.path_a, r.path_b)) for r in rows if r.relation != "none"}
    negatives = {frozenset((r.path_a, r.path_b)) for r in rows if r.relation == "none"}
    assert positives.isdisjoint(negatives)
    # Every copy of one photo shares content with every other: n files give n(n-1)/2 pairs.
    family = [f.path for f in files if f.picture == "photo:fruits"]
    assert len([p for p in positives if p <= set(family)]) == len(family) * (len(family) - 1) // 2
    # Screenshots of different pictures in one template are traps, not content.
    web = [f.path for f in files if f.template == "web"]
    assert len(web) >= 3
    assert all(frozenset(pair) in negatives for pair in itertools.pairwise(web))
