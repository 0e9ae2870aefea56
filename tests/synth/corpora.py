"""Checks every labelled corpus family must pass, written once for the families' tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
import pytest

from pipeline.io.ffmpeg import probe
from pipeline.layout import DataLayout

FRAME_S = 1 / 25  # container durations may round to a frame

WriteCorpus = Callable[..., Path]


def written_corpus(
    tmp_path_factory: pytest.TempPathFactory, write: WriteCorpus, scale: float
) -> tuple[DataLayout, pd.DataFrame]:
    """A family written at (scale, seed 0) into a fresh folder, and its truth as strings."""
    layout = DataLayout(tmp_path_factory.mktemp("corpus") / "data")
    truth_path = write(layout, scale=scale, seed=0)
    return layout, pd.read_csv(truth_path, dtype=str, keep_default_na=False)


def manifest_files(layout: DataLayout) -> dict[str, str]:
    """Path under raw/ -> SHA-256, as the family's manifest records them."""
    files: dict[str, str] = json.loads((layout.data_dir / "eval_corpus.json").read_text())["files"]
    return files


def raw_mtimes(layout: DataLayout) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in layout.raw.rglob("*") if p.is_file()}


def timed_sides(layout: DataLayout, truth: pd.DataFrame) -> list[tuple[str, float, float, float]]:
    """(relation, start, end, file duration) of every timed side of a video_overlap or
    still_in_video row; durations from ffprobe, one probe per file."""
    durations: dict[str, float] = {}

    def duration_s(path: str) -> float:
        if path not in durations:
            durations[path] = float(probe(layout.raw / path, 30)["format"]["duration"])
        return durations[path]

    sides = []
    timed = truth[truth["relation"].isin(["video_overlap", "still_in_video"])]
    for row in timed.itertuples():
        for side, path in (("a", row.path_a), ("b", row.path_b)):
            start, end = getattr(row, f"{side}_start_s"), getattr(row, f"{side}_end_s")
            if start != "":
                sides.append((str(row.relation), float(start), float(end), duration_s(path)))
    return sides


def assert_refuses_stray_file(
    tmp_path: Path, incident: str, write: WriteCorpus, scale: float
) -> None:
    """A file the family did not make under raw/<incident>: FileExistsError, file untouched."""
    layout = DataLayout(tmp_path / "other")
    stray = layout.raw / incident / "someone" / "photo.jpg"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"evidence")
    with pytest.raises(FileExistsError):
        write(layout, scale=scale)
    assert stray.read_bytes() == b"evidence"


# What a repost family (augly_corpus, holdout_corpus) makes of its master videos.
REPOST_VIDEO_CATEGORIES = frozenset(
    {
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
)


def assert_categories_and_hard_negatives(
    truth: pd.DataFrame, categories: set[str] | frozenset[str], kinds: Sequence[str]
) -> None:
    """The truth names exactly these copy categories and these hard-negative kinds; a
    negative row has no category."""
    assert set(truth["category"]) - {""} == categories
    negatives = truth[truth["relation"] == "none"]
    assert set(negatives["transform"]) == set(kinds)
    assert (negatives["category"] == "").all()


def assert_copies_name_the_original_first(truth: pd.DataFrame) -> None:
    """Every original-copy row (not a compilation's) has the original as path_a; a copy's
    name starts with its original's."""
    direct = truth[~truth["category"].isin(["", "compilation"])]
    assert all(
        Path(b).stem.startswith(Path(a).stem)
        for a, b in zip(direct["path_a"], direct["path_b"], strict=True)
    )


def assert_intervals_within_files(layout: DataLayout, truth: pd.DataFrame) -> None:
    """More than ten timed sides, each inside its file (to a frame)."""
    timed = truth[truth["relation"].isin(["video_overlap", "still_in_video"])]
    assert (timed["a_start_s"] != "").sum() > 10
    for relation, start, end, duration_s in timed_sides(layout, truth):
        assert 0 <= start <= end <= duration_s + FRAME_S, (relation, start, end)


def assert_rerun_reuses_and_refuses(
    layout: DataLayout, tmp_path: Path, incident: str, write: WriteCorpus, scale: float
) -> None:
    """Writing the same corpus again touches no file; a stray file elsewhere is refused."""
    before = raw_mtimes(layout)
    write(layout, scale=scale, seed=0)
    assert raw_mtimes(layout) == before
    assert_refuses_stray_file(tmp_path, incident, write, scale)
