"""io/windows: a few seconds of a video decoded at full rate, from the evidence file."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.io import ffmpeg
from pipeline.io.rawtree import FileIdentity
from pipeline.io.windows import decode_window


def counter_video(path: Path) -> Path:
    """testsrc at 25 fps for 6 s, a key frame every 2 s: each frame draws its own number."""
    ffmpeg.lavfi_source(
        "testsrc=size=160x120:rate=25:duration=6",
        path,
        ["-c:v", "libx264", "-g", "50", "-pix_fmt", "yuv420p"],
    )
    return path


def test_window_holds_every_frame_of_its_span_at_its_time_in_the_video(tmp_path: Path) -> None:
    path = counter_video(tmp_path / "clip.mp4")
    window = decode_window(path, ffmpeg.WindowPlan(3.0, 1.0, 80, 60), None)
    assert len(window.pictures) == len(window.times_s) == 25
    assert window.times_s[0] == 3.0 and abs(window.times_s[-1] - 3.96) < 1e-6
    assert all(p.shape == (60, 80, 3) for p in window.pictures)
    # Decoded from mid-GOP (the key frames are at 2 s and 4 s), frame-exactly: the window's
    # first frame is the full decode's frame 75, not the key frame before it.
    full = decode_window(path, ffmpeg.WindowPlan(0.0, 6.0, 80, 60), None)
    index = full.times_s.index(3.0)
    assert np.array_equal(window.pictures[0], full.pictures[index])
    assert not np.array_equal(window.pictures[0], full.pictures[full.times_s.index(2.0)])


def test_a_changed_or_missing_file_gives_an_empty_window(tmp_path: Path) -> None:
    path = counter_video(tmp_path / "clip.mp4")
    plan = ffmpeg.WindowPlan(1.0, 1.0, 80, 60)
    stale = FileIdentity(path.stat().st_size + 1, path.stat().st_mtime_ns)
    assert decode_window(path, plan, stale).pictures == ()
    assert decode_window(tmp_path / "gone.mp4", plan, None).pictures == ()
