"""The ThreatExchange conformance family: the reference media grouped as the issue states."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from pipeline.layout import DataLayout
from pipeline.synth.threatexchange_corpus import (
    CONFORMANCE_CATEGORIES,
    TE_TRUTH_COLUMNS,
    members,
    truth_rows,
    write_threatexchange_corpus,
)

# shared/ lies beside the repository (the worktree or CI's clone).
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "threatexchange"
BRIDGE = "threatexchange/pdq-images-bridge-mods/aaa-orig.jpg"
DESKS = {
    f"threatexchange/pdq-images-reg-test-input-exif-rotn/exif-rotn-{n}.jpg" for n in (1, 3, 6, 8)
}


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    return pd.DataFrame(truth_rows(members(REFERENCE)))


def test_every_copy_of_the_bridge_and_every_video_version_is_paired_with_its_original(
    truth: pd.DataFrame,
) -> None:
    direct = truth[truth["category"] != ""]
    # Truth rows per path; ingest makes byte-identical copies one media (8 edits, 13 modes).
    assert Counter(direct["category"]) == {
        "edit": 9,
        "square": 3,
        "colour_mode": 14,
        "mirror": 1,
        "rotation": 6,
        "version": 10,
    }
    assert set(CONFORMANCE_CATEGORIES) <= set(direct["category"])
    images = direct[direct["relation"] == "near_duplicate"]
    assert set(images["path_a"]) == {BRIDGE}
    videos = direct[direct["relation"] == "video_overlap"]
    assert {Path(p).name for p in videos["path_a"]} == {
        "chair-orig-22-sd-bar.mp4",
        "pattern-hd-no-bar.mp4",
    }


def test_desk_captures_are_same_scene_and_unrelated_files_are_traps_against_all(
    truth: pd.DataFrame,
) -> None:
    same_scene = truth[truth["transform"] == "same_scene"]
    desk_pairs = [
        {a, b}
        for a, b in zip(same_scene["path_a"], same_scene["path_b"], strict=True)
        if a in DESKS
    ]
    assert len(desk_pairs) == 6 and all(pair <= DESKS for pair in desk_pairs)
    unrelated = truth[truth["transform"] == "unrelated"]
    doorknob = "threatexchange/tmk-sample-videos/doorknob-hd-no-bar.mp4"
    partners = set(unrelated.loc[unrelated["path_a"] == doorknob, "path_b"]) | set(
        unrelated.loc[unrelated["path_b"] == doorknob, "path_a"]
    )
    assert BRIDGE in partners and len(partners) == len(members(REFERENCE)) - 1
    pairs = [frozenset(p) for p in zip(truth["path_a"], truth["path_b"], strict=True)]
    assert len(set(pairs)) == len(pairs)  # every pair listed once


def test_copies_the_reference_byte_for_byte_and_reuses_it(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    truth_path = write_threatexchange_corpus(layout, REFERENCE)
    assert tuple(pd.read_csv(truth_path, nrows=1).columns) == TE_TRUTH_COLUMNS
    copied = layout.raw / BRIDGE
    original = REFERENCE / "pdq-images" / "bridge-mods" / "aaa-orig.jpg"
    assert (
        hashlib.sha256(copied.read_bytes()).digest()
        == hashlib.sha256(original.read_bytes()).digest()
    )
    before = copied.stat().st_mtime_ns
    assert write_threatexchange_corpus(layout, REFERENCE) == truth_path
    assert copied.stat().st_mtime_ns == before
    copied.write_bytes(b"changed")
    with pytest.raises(FileExistsError):
        write_threatexchange_corpus(layout, REFERENCE)
