"""FrameStream's two limits: a slow decode that keeps giving frames is not a stuck one."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.io.ffmpeg import FrameStream

WIDTH, HEIGHT = 64, 48


def realtime_source(seconds: float, rate: int = 4) -> list[str]:
    """ffmpeg giving `rate` raw frames a second of wall time, for `seconds`."""
    return [
        "ffmpeg",
        "-v",
        "error",
        "-nostdin",
        "-re",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={WIDTH}x{HEIGHT}:rate={rate}:duration={seconds:g}",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:",
    ]


def test_a_decode_that_keeps_giving_frames_runs_past_the_stall_limit() -> None:
    stream = FrameStream(realtime_source(3.0), WIDTH, HEIGHT, timeout_s=60, stall_s=1.0)
    frames = list(stream)
    assert len(frames) == 12 and frames[0].shape == (HEIGHT, WIDTH, 3)
    assert (stream.stopped, stream.returncode) == ("", 0)


def test_the_whole_decode_limit_keeps_the_frames_given_before_it() -> None:
    stream = FrameStream(realtime_source(10.0), WIDTH, HEIGHT, timeout_s=1.5, stall_s=5.0)
    frames = list(stream)
    assert 2 <= len(frames) < 40
    assert stream.stopped == "decoding stopped after the 1.5 s timeout"


def test_a_read_that_never_returns_is_stopped_as_a_stall(tmp_path: Path) -> None:
    fifo = tmp_path / "never-written.mp4"
    os.mkfifo(fifo)  # opening it for reading blocks until a writer comes: none will
    command = ["ffmpeg", "-v", "error", "-nostdin", "-i", str(fifo), "-f", "rawvideo", "pipe:"]
    stream = FrameStream(command, WIDTH, HEIGHT, timeout_s=600, stall_s=1.0)
    assert list(stream) == []
    assert stream.stopped == "decoding stalled: no output from ffmpeg for 1 s"
