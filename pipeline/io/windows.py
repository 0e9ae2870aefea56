"""Short windows of a video decoded at full frame rate from DIR/raw (dedupe's grab path).

The evidence file is opened the way the frames stage opens it (io/rawtree.open_evidence: no
symlink, the size and mtime ingest hashed) before ffmpeg reads it by name, and checked
unchanged after; a file that changed, vanished or does not decode gives an empty window
(the candidate stays a candidate) and never stops the run.
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.core.grabs import Window
from pipeline.core.shots import parse_metadata_lines
from pipeline.io import ffmpeg
from pipeline.io.rawtree import FileIdentity, access_time_kept, check_unchanged, open_evidence

EMPTY = Window((), ())


def decode_window(path: Path, plan: ffmpeg.WindowPlan, expect: FileIdentity | None) -> Window:
    """Every frame of the plan's window with its time in the video (s), or an empty window."""
    try:
        with open_evidence(path, expect) as handle:
            hashed = FileIdentity.of(os.fstat(handle.fileno()))
    except OSError:
        return EMPTY
    stream = ffmpeg.FrameStream(
        ffmpeg.window_command(path, plan), plan.width, plan.height, plan.timeout_s, plan.stall_s
    )
    with access_time_kept(path):
        pictures = [frame.copy() for frame in stream]
    try:
        check_unchanged(path, hashed)
    except OSError:
        return EMPTY
    samples, _ = parse_metadata_lines(stream.stderr_lines)
    count = min(len(pictures), len(samples))
    return Window(
        tuple(pictures[:count]),
        tuple(round(plan.start_s + pts_s, 6) for pts_s, _ in samples[:count]),
    )
