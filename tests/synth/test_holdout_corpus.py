"""The held-out MATE-photo / albumentations family: at a tiny scale the files exist, the
truth names them consistently, every category and every kind of trap is there, and the
bytes depend on (scale, seed) alone."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pandas as pd
import pytest

from pipeline.layout import DataLayout
from pipeline.synth.family import sha256_file
from pipeline.synth.holdout_corpus import (
    HARD_NEGATIVE_KINDS,
    HOLDOUT_TRUTH_COLUMNS,
    INCIDENT,
    corpus_files,
    render_files,
    truth_rows,
    write_holdout_corpus,
)
from tests.synth.corpora import (
    REPOST_VIDEO_CATEGORIES,
    assert_categories_and_hard_negatives,
    assert_copies_name_the_original_first,
    assert_intervals_within_files,
    assert_rerun_reuses_and_refuses,
    manifest_files,
    written_corpus,
)

SMALL_SCALE = 0.1
IMAGE_CATEGORIES = {
    "screenshot_mobile",
    "screenshot_web",
    "crop",
    "colour",
    "overlay",
    "rotate",
    "pad",
    "jpeg",
    "mirror",
    "mirror_crop",
    "noise",
    "warp",
    "aspect",
    "blur",
    "scale",
    "chain",
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataLayout, pd.DataFrame]:
    return written_corpus(tmp_path_factory, write_holdout_corpus, SMALL_SCALE)


def test_truth_names_the_files_written_and_the_manifest_records_them(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    layout, truth = corpus
    assert tuple(truth.columns) == HOLDOUT_TRUTH_COLUMNS
    paths = set(truth["path_a"]) | set(truth["path_b"])
    assert all(path.startswith(f"{INCIDENT}/") for path in paths)
    on_disk = {p.relative_to(layout.raw).as_posix() for p in layout.raw.rglob("*") if p.is_file()}
    assert paths <= on_disk
    assert set(manifest_files(layout)) == on_disk == {f.path for f in corpus_files(SMALL_SCALE)}


def test_every_category_and_hard_negative_kind_is_present_at_small_scale(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    _, truth = corpus
    assert_categories_and_hard_negatives(
        truth, IMAGE_CATEGORIES | REPOST_VIDEO_CATEGORIES, HARD_NEGATIVE_KINDS
    )


def test_truth_rows_are_consistent(corpus: tuple[DataLayout, pd.DataFrame]) -> None:
    """No pair is both content and trap; every copy of one photo is related to every other;
    screenshots of different pictures in one template are traps; copy rows name the
    original first."""
    _, truth = corpus
    pairs = [frozenset(pair) for pair in zip(truth["path_a"], truth["path_b"], strict=True)]
    assert len(set(pairs)) == len(pairs)
    positives = {p for p, r in zip(pairs, truth["relation"], strict=True) if r != "none"}
    negatives = {p for p, r in zip(pairs, truth["relation"], strict=True) if r == "none"}
    assert positives.isdisjoint(negatives)
    files = corpus_files(SMALL_SCALE)
    family = [f.path for f in files if f.picture == "photo:LadyBird"]
    assert len(family) >= 8
    assert all(frozenset(pair) in positives for pair in itertools.combinations(family, 2))
    phone = [f.path for f in files if f.template == "phone" and f.picture != "photo:LadyBird"]
    assert len(phone) >= 2
    assert all(frozenset(pair) in negatives for pair in itertools.combinations(phone, 2))
    assert_copies_name_the_original_first(truth)


def test_video_intervals_lie_within_the_files(corpus: tuple[DataLayout, pd.DataFrame]) -> None:
    assert_intervals_within_files(*corpus)


def test_same_scale_and_seed_give_the_same_bytes(
    corpus: tuple[DataLayout, pd.DataFrame], tmp_path: Path
) -> None:
    """The noisy, the warped, the composed stills and a grab rendered again match the
    manifest; another seed places the files otherwise."""
    layout, _ = corpus
    raw = tmp_path / "raw"
    shutil.copytree(layout.raw, raw)
    files = corpus_files(SMALL_SCALE, seed=0)
    picked = [
        f.path
        for f in files
        if f.category in {"noise", "warp", "screenshot_web", "grab"} or "view2" in f.path
    ]
    for path in picked:
        (raw / path).unlink()
    render_files(raw, picked, SMALL_SCALE, seed=0)
    recorded = manifest_files(layout)
    assert {path: sha256_file(raw / path) for path in picked} == {p: recorded[p] for p in picked}
    assert truth_rows(files) == truth_rows(corpus_files(SMALL_SCALE, seed=0))
    assert corpus_files(SMALL_SCALE, seed=11) != files


def test_rerun_reuses_the_files_and_refuses_other_files(
    corpus: tuple[DataLayout, pd.DataFrame], tmp_path: Path
) -> None:
    layout, _ = corpus
    assert_rerun_reuses_and_refuses(layout, tmp_path, INCIDENT, write_holdout_corpus, SMALL_SCALE)
