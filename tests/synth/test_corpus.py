"""The labelled eval corpus: its truth names real files, covers every transform and trap, and
places every interval inside the videos it describes."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from pipeline.layout import DataLayout
from pipeline.synth.corpus import (
    CROP_PERCENTS,
    EVAL_INCIDENT,
    HARD_NEGATIVE_KINDS,
    TRUTH_COLUMNS,
    corpus_files,
    truth_rows,
    write_eval_corpus,
)
from tests.synth.corpora import (
    FRAME_S,
    assert_refuses_stray_file,
    raw_mtimes,
    timed_sides,
    written_corpus,
)

SMALL_SCALE = 0.3
STILL_EDITS = (
    "jpeg_q30",
    "resize_40",
    "mirror",
    "watermark",
    "colour_shift",
    "letterbox_black",
    "letterbox_white",
    "pillarbox_black",
    "pillarbox_white",
    "border_black",
    "border_white",
    "crop_center_10+jpeg_q40",
    "mirror+resize_50",
    "crop_bottom_15+watermark",
    "letterbox_black+resize_60",
    "byte_identical",
    *(f"crop_center_{pct:02d}" for pct in CROP_PERCENTS),
    # issue 15's development examples for recall
    "screenshot_phone",
    "screenshot_web",
    "screenshot_phone_inset",
    "screenshot_web_inset",
    "crop_corner_12+colour_shift+watermark",
    "crop_left_20+resize_50+watermark",
    "mirrorcrop_center_15",
    "lowtex_jpeg_q30",
    "lowtex_resize_50",
    "lowtex_mirror",
    "lowtex_watermark",
    "lowtex_crop_center_10",
)
VIDEO_EDITS = (
    "reupload_crf38_426x240",
    "reupload_150k_320x180",
    "reupload_15fps_crf34",
    "mirror_reupload",
    "mirrorcrop_reupload",
    "black_intro_reupload",
    "trim",
    "compilation",
    "grab",
    "grab_resized_50",
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataLayout, pd.DataFrame]:
    return written_corpus(tmp_path_factory, write_eval_corpus, SMALL_SCALE)


def test_truth_lies_outside_raw_and_has_the_contract_columns(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    layout, truth = corpus
    assert (layout.data_dir / "eval_truth.csv").is_file()
    assert not list(layout.raw.rglob("*.csv"))
    assert tuple(truth.columns) == TRUTH_COLUMNS


def test_truth_references_only_existing_files(corpus: tuple[DataLayout, pd.DataFrame]) -> None:
    layout, truth = corpus
    paths = set(truth["path_a"]) | set(truth["path_b"])
    assert all(path.startswith(f"{EVAL_INCIDENT}/") for path in paths)
    assert [path for path in paths if not (layout.raw / path).is_file()] == []


def test_small_corpus_is_a_few_dozen_media_over_several_sources(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    layout, _ = corpus
    files = [path for path in (layout.raw / EVAL_INCIDENT).rglob("*") if path.is_file()]
    assert 30 <= len(files) <= 100  # 0.3 of the corpus, the fast-pan grabs included
    assert len({path.parent.name for path in files}) >= 5


def test_every_transform_kind_is_paired_with_its_original(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    _, truth = corpus
    transforms = set(truth["transform"])
    assert [t for t in (*STILL_EDITS, *VIDEO_EDITS) if t not in transforms] == []
    for pct in CROP_PERCENTS:
        one_sided = re.compile(rf"^crop_(bottom|top|left|right|corner)_{pct:02d}$")
        assert any(one_sided.match(t) for t in transforms), f"no one-sided {pct}% crop"
    assert {"repost+repost", "compilation+trim", "grab+trim"} <= transforms


def test_every_kind_of_hard_negative_is_listed(corpus: tuple[DataLayout, pd.DataFrame]) -> None:
    _, truth = corpus
    negatives = truth[truth["relation"] == "none"]
    assert set(negatives["transform"]) == set(HARD_NEGATIVE_KINDS)
    assert (negatives[["a_start_s", "a_end_s", "b_start_s", "b_end_s"]] == "").all().all()


def test_still_in_video_rows_give_one_time_on_the_video_side(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    _, truth = corpus
    rows = truth[truth["relation"] == "still_in_video"]
    assert len(rows) > 0
    for row in rows.itertuples():
        video_side = "a" if row.path_a.endswith(".mp4") else "b"
        still_side = "b" if video_side == "a" else "a"
        assert getattr(row, f"{video_side}_start_s") == getattr(row, f"{video_side}_end_s") != ""
        assert getattr(row, f"{still_side}_start_s") == getattr(row, f"{still_side}_end_s") == ""


def test_video_intervals_lie_within_the_files(corpus: tuple[DataLayout, pd.DataFrame]) -> None:
    sides = timed_sides(*corpus)
    assert len(sides) > 0
    for relation, start, end, duration_s in sides:
        assert 0 <= start <= end <= duration_s + FRAME_S, (relation, start, end)
        if relation == "video_overlap":
            assert end - start >= 0.5


def test_rerun_with_the_same_parameters_reuses_the_files(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    layout, _ = corpus
    before = raw_mtimes(layout)
    write_eval_corpus(layout, scale=SMALL_SCALE, seed=0)
    assert raw_mtimes(layout) == before


def test_refuses_to_write_over_other_files(tmp_path: Path) -> None:
    assert_refuses_stray_file(tmp_path, EVAL_INCIDENT, write_eval_corpus, SMALL_SCALE)


def test_plan_is_deterministic_for_a_seed() -> None:
    assert corpus_files(SMALL_SCALE, seed=3) == corpus_files(SMALL_SCALE, seed=3)
    assert corpus_files(SMALL_SCALE, seed=3) != corpus_files(SMALL_SCALE, seed=4)


def test_full_scale_has_150_to_300_media_and_a_closed_truth() -> None:
    files = corpus_files(1.0)
    assert 150 <= len(files) <= 300
    rows = truth_rows(files)
    positives = {(r.path_a, r.path_b) for r in rows if r.relation != "none"}
    # Transitive closure within a still family: n copies of one photo give n(n-1)/2 pairs.
    family = [f.path for f in files if f.still_unit == "photo:astronaut"]
    in_family = {p for p in positives if p[0] in family and p[1] in family}
    assert len(in_family) == len(family) * (len(family) - 1) // 2
