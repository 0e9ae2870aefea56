"""The AugLy / OpenCV-photo corpus family: deterministic bytes, a truth that names real files,
covers every category and trap, and places every interval inside the videos."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.io.contract import render_csv
from pipeline.io.ffmpeg import probe
from pipeline.layout import DataLayout
from pipeline.synth.augly_corpus import (
    AUGLY_TRUTH_COLUMNS,
    HARD_NEGATIVE_KINDS,
    INCIDENT,
    corpus_files,
    render_files,
    truth_rows,
    write_augly_corpus,
)
from pipeline.synth.family import sha256_file
from tests.synth.corpora import (
    FRAME_S,
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


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[DataLayout, pd.DataFrame]:
    return written_corpus(tmp_path_factory, write_augly_corpus, SMALL_SCALE)


def test_same_scale_and_seed_give_the_same_bytes(
    corpus: tuple[DataLayout, pd.DataFrame], tmp_path: Path
) -> None:
    """Rendering again one file of every kind and transform (the smallest of each, reading
    the masters of the first render) gives the bytes the first render recorded; the truth
    is a function of the plan alone."""
    layout, _ = corpus
    raw = tmp_path / "raw"
    shutil.copytree(layout.raw, raw)
    files = corpus_files(SMALL_SCALE, seed=0)
    smallest: dict[tuple[str, str], str] = {}
    for f in sorted(files, key=lambda f: ((raw / f.path).stat().st_size, f.path), reverse=True):
        smallest[(f.kind, f.transform)] = f.path
    for path in smallest.values():
        (raw / path).unlink()
    render_files(raw, smallest.values(), SMALL_SCALE, seed=0)
    recorded = manifest_files(layout)
    assert {path: sha256_file(raw / path) for path in smallest.values()} == {
        path: recorded[path] for path in smallest.values()
    }
    truth = render_csv(AUGLY_TRUTH_COLUMNS, (row.as_dict() for row in truth_rows(files)))
    assert truth == (layout.data_dir / "eval_truth.csv").read_bytes()


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
    assert_categories_and_hard_negatives(
        truth, IMAGE_CATEGORIES | REPOST_VIDEO_CATEGORIES, HARD_NEGATIVE_KINDS
    )


def test_every_original_copy_row_names_the_original_first(
    corpus: tuple[DataLayout, pd.DataFrame],
) -> None:
    _, truth = corpus
    assert_copies_name_the_original_first(truth)


def test_video_intervals_lie_within_the_files(corpus: tuple[DataLayout, pd.DataFrame]) -> None:
    assert_intervals_within_files(*corpus)


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
    assert_rerun_reuses_and_refuses(layout, tmp_path, INCIDENT, write_augly_corpus, SMALL_SCALE)


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


def test_text_overlays_do_not_depend_on_the_process(tmp_path: Path) -> None:
    """AugLy draws its default overlay text at random when imported; two processes seeded
    differently must still render the text-overlay copies alike."""
    paths = [f.path for f in corpus_files(SMALL_SCALE) if "text_overlay" in f.transform]
    assert paths
    script = (
        "import random, sys; random.seed(int(sys.argv[1]))\n"
        "from pathlib import Path\n"
        "from pipeline.synth.augly_corpus import render_files\n"
        f"render_files(Path(sys.argv[2]), {paths!r}, {SMALL_SCALE!r})\n"
    )
    digests = []
    for seed in (1, 2):
        raw = tmp_path / f"raw{seed}"
        subprocess.run([sys.executable, "-c", script, str(seed), str(raw)], check=True)
        digests.append([sha256_file(raw / path) for path in paths])
    assert digests[0] == digests[1]
