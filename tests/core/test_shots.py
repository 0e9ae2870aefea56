"""core/shots: ffmpeg's metadata lines to sampled frames and shots, without files."""

from __future__ import annotations

from pipeline.core.shots import assign_shots, parse_metadata_lines, still_frame

LINES = [
    "frame:0    pts:0       pts_time:0",
    "lavfi.scene_score=0.000000",
    "frame:1    pts:512     pts_time:1.0",
    "lavfi.scene_score=0.020000",
    "frame:2    pts:768     pts_time:1.5",
    "lavfi.scene_score=0.850000",
    "[h264 @ 0x55] corrupt macroblock",
    "frame:3    pts:1024    pts_time:2.0",
    "lavfi.scene_score=nan",
]


def test_metadata_lines_give_times_scores_and_the_other_lines() -> None:
    samples, other = parse_metadata_lines(LINES)
    assert samples == [(0.0, 0.0), (1.0, 0.02), (1.5, 0.85), (2.0, 0.0)]
    assert other == ["[h264 @ 0x55] corrupt macroblock"]


def test_a_score_above_the_threshold_opens_a_shot() -> None:
    frames = assign_shots([(0.0, 0.0), (1.0, 0.02), (1.5, 0.85), (2.0, 0.0)], threshold=0.3)
    assert [(f.frame_index, f.shot_id, f.reason) for f in frames] == [
        (0, 0, "first"),
        (1, 0, "interval"),
        (2, 1, "shot_change"),
        (3, 1, "interval"),
    ]


def test_a_score_at_the_threshold_does_not_open_a_shot() -> None:
    frames = assign_shots([(0.0, 0.0), (1.0, 0.3)], threshold=0.3)
    assert frames[1].shot_id == 0


def test_a_still_is_one_untimed_frame() -> None:
    frame = still_frame()
    assert (frame.frame_index, frame.pts_s, frame.shot_id, frame.reason) == (0, None, 0, "still")
