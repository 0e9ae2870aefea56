"""core/grabs: which stills are grab candidates, and the decision on a decoded window
(pictures from an ffmpeg test source with a thing moving across a photo)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pipeline.config import DedupeConfig, HashConfig
from pipeline.core import alignment, grabs
from pipeline.core.records import FrameMatchRow
from pipeline.core.relations import SCENE_METHOD
from pipeline.io import ffmpeg
from pipeline.io.windows import decode_window
from pipeline.synth import images as im
from tests.core.test_alignment import _bits, _build, _hashed

RULES = alignment.verify_rules(DedupeConfig())


def _table() -> alignment.FrameTable:
    return _build(
        [
            _hashed("still", 0, _bits(10)),
            _hashed("other", 0, _bits(12)),
            _hashed("video", 0, _bits(90), pts_s=0.0),
            _hashed("video", 1, _bits(70), pts_s=1.0),
        ],
        [],
    )


def test_a_scene_match_or_an_unproven_close_pair_is_a_candidate_once_per_still_and_video() -> None:
    table = _table()
    scene = FrameMatchRow("still", 0, "video", 1, 60, SCENE_METHOD)
    found = grabs.grab_candidates(table, [scene], [(("still", 0), ("video", 0))], [scene])
    assert found == [grabs.GrabCandidate(("still", 0), ("video", 1), 1.0)]
    # Only the unproven pair: no scene match this run.
    found = grabs.grab_candidates(table, [], [(("still", 0), ("video", 0))], [])
    assert found == [grabs.GrabCandidate(("still", 0), ("video", 0), 0.0)]


def test_a_proven_pair_and_two_stills_are_no_candidates() -> None:
    table = _table()
    proven = FrameMatchRow("still", 0, "video", 0, 80, "keypoints")
    scene = FrameMatchRow("still", 0, "video", 1, 60, SCENE_METHOD)
    assert grabs.grab_candidates(table, [scene], [], [proven, scene]) == []
    stills = FrameMatchRow("other", 0, "still", 0, 30, SCENE_METHOD)
    assert grabs.grab_candidates(table, [stills], [], [stills]) == []


def _moving(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    """ffmpeg's testsrc2 (its own moving parts) with a photo crossing it fast, 25 fps, 4 s."""
    thing = tmp_path / "thing.png"
    cv2.imwrite(
        str(thing), cv2.cvtColor(cv2.resize(im.photo("coffee"), (96, 72)), cv2.COLOR_RGB2BGR)
    )
    path = tmp_path / "moving.mp4"
    ffmpeg.compose(
        [["-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=4"], ["-i", str(thing)]],
        path,
        ["-filter_complex", "[0:v][1:v]overlay=x='t*50':y=50", "-c:v", "libx264", "-crf", "18",
         "-pix_fmt", "yuv420p"],
    )  # fmt: skip
    full = decode_window(path, ffmpeg.WindowPlan(0.0, 4.0, 320, 180), None)
    return path, list(full.pictures)


def test_the_grabbed_frame_is_found_in_the_window_and_a_frame_of_another_moment_is_not(
    tmp_path: Path,
) -> None:
    path, frames = _moving(tmp_path)
    window = decode_window(path, ffmpeg.WindowPlan(1.5, 1.5, 320, 180), None)
    grabbed = frames[round(2.24 * 25)]
    answer = grabs.confirm_grab(grabbed, window, HashConfig(), RULES, 28)
    assert answer is not None
    index, evidence = answer
    assert abs(window.times_s[index] - 2.24) < 0.05 and evidence.agreement >= 0.9
    # The same footage a second and a half later: not in this window, nothing confirmed.
    elsewhere = decode_window(path, ffmpeg.WindowPlan(0.0, 1.0, 320, 180), None)
    assert grabs.confirm_grab(grabbed, elsewhere, HashConfig(), RULES, 28) is None


def test_a_window_of_still_footage_offers_no_frame_to_verify(tmp_path: Path) -> None:
    """Precision first: a static camera's window holds every moment close to any other
    (another thing in front of one backdrop stays near in PDQ); the path is for moving
    footage, so a window whose median frame is a near copy of the still is not searched."""
    backdrop = cv2.resize(im.photo("chelsea"), (320, 180), interpolation=cv2.INTER_AREA)
    window = grabs.Window(
        tuple(backdrop.copy() for _ in range(25)), tuple(i / 25 for i in range(25))
    )
    still = backdrop.copy()
    still[60:84, 20:52] = cv2.resize(im.photo("rocket"), (32, 24))
    assert grabs.closest_frames(still, window, HashConfig(), 28) == []
    assert grabs.confirm_grab(still, window, HashConfig(), RULES, 28) is None
