"""TMK+PDQF on generated videos: tmkpy's signature read back, our level-1/level-2 scores equal
to the reference C++ (tmkpy.query), a re-encoded copy matched and another video not, a list
of .tmk files and base64 CSV rows matched through the collection index, and malformed TMK
bytes refused with the reason."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
import tmkpy

from pipeline.core.signatures import CollectionIndex, MatchRules, match_entries
from pipeline.core.tmk import (
    TMK,
    TmkError,
    level1,
    level2,
    parse_tmk,
    tmk_match,
)
from pipeline.io.signatures import ListFormatError, read_list, tmk_of_video, tmk_to_text
from tests.media import video


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tmk")
    original = video(folder / "it's a clip; rm -rf x.mp4", ("astronaut", "coffee", "rocket"))
    copy = folder / "copy.mp4"
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(original), "-vf",
         "scale=480:270", "-crf", "35", str(copy)],
        check=True, timeout=120,
    )  # fmt: skip
    other = video(folder / "other.mp4", ("chelsea", "camera", "coins"))
    return {"original": original, "copy": copy, "other": other}


@pytest.fixture(scope="module")
def tmks(clips: dict[str, Path]) -> dict[str, bytes]:
    return {name: tmk_of_video(path) for name, path in clips.items()}


def test_a_videos_tmk_is_the_reference_file_format(tmks: dict[str, bytes]) -> None:
    signature = parse_tmk(tmks["original"])
    assert tmks["original"][:12] == b"TMK1FVECPDQF"
    assert signature.frames_per_second == 15  # the reference's resampling rate
    assert 80 <= signature.frame_count <= 100  # 6 s at 15 fps
    assert signature.pure_average.shape == (256,)
    assert signature.cos.shape == signature.sin.shape == (len(signature.periods), 32, 256)


def test_our_scores_are_the_reference_implementations(
    tmks: dict[str, bytes], tmp_path: Path
) -> None:
    files = []
    for name, data in tmks.items():
        (tmp_path / f"{name}.tmk").write_bytes(data)
        files.append(str(tmp_path / f"{name}.tmk"))
    needle = parse_tmk(tmks["original"])
    reference = tmkpy.query(files[0], files, 1)
    ours = [level2(needle, parse_tmk(data)) for data in tmks.values()]
    assert ours == pytest.approx(list(reference), abs=1e-4)
    assert level1(needle, needle) == pytest.approx(1.0)


def test_a_reencoded_copy_matches_and_another_video_does_not(tmks: dict[str, bytes]) -> None:
    original, copy, other = (parse_tmk(tmks[n]) for n in ("original", "copy", "other"))
    scores = tmk_match(original, copy)
    assert scores is not None and scores.level1 > 0.9 and scores.level2 > 0.9
    assert tmk_match(original, other) is None
    assert level1(original, other) < 0.7


def test_a_tmk_list_finds_the_copy_through_the_index(
    tmks: dict[str, bytes], tmp_path: Path
) -> None:
    index = CollectionIndex(
        [], [], MatchRules(), tmk=[(n, parse_tmk(tmks[n])) for n in ("copy", "other")]
    )
    listed = tmp_path / "release-7.tmk"
    listed.write_bytes(tmks["original"])
    found = match_entries(index, read_list(listed))
    assert [(m.media_id, m.signal_type, m.label) for m in found] == [("copy", TMK, "release-7")]
    assert found[0].score is not None and found[0].score > 0.9
    as_csv = tmp_path / "partner.csv"
    as_csv.write_text(
        f"signal_type,signal,label\n{TMK},{tmk_to_text(tmks['other'])},other release\n"
    )
    assert [m.media_id for m in match_entries(index, read_list(as_csv))] == ["other"]


def test_malformed_tmk_is_refused_with_file_and_line(
    tmks: dict[str, bytes], tmp_path: Path
) -> None:
    data = tmks["original"]
    with pytest.raises(TmkError, match="bytes"):
        parse_tmk(data[:-4])
    with pytest.raises(TmkError, match="not PDQF"):
        parse_tmk(data[:8] + b"XXXX" + data[12:])
    huge = data[:12] + struct.pack("<5i", 15, 2, 32, 1 << 30, 1) + data[32:]
    with pytest.raises(TmkError, match="out of range"):
        parse_tmk(huge)
    nan = bytearray(data)
    nan[-4:] = np.float32(np.nan).tobytes()
    with pytest.raises(TmkError, match="finite"):
        parse_tmk(bytes(nan))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"signal_type,signal\n{TMK},{tmk_to_text(data)}\n{TMK},not base64!\n")
    with pytest.raises(ListFormatError, match=r"bad\.csv:3: .*base64"):
        list(read_list(bad))
    cut = tmp_path / "cut.tmk"
    cut.write_bytes(data[:1000])
    with pytest.raises(ListFormatError, match=r"cut\.tmk: a TMK file"):
        list(read_list(cut))
