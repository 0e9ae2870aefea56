"""Issue 13 (hardening), part A, item 13: every ffmpeg/ffprobe reading evidence runs under an
address-space cap, so a crafted header cannot make it allocate hundreds of GB."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipeline.io import ffmpeg


def test_a_started_tool_gets_the_address_space_cap() -> None:
    """Further variant of item 13 (not named): the cap is set on the running process."""
    process = subprocess.Popen(["sleep", "30"])
    try:
        ffmpeg.limit_memory(process.pid, 3 << 30)
        limits = Path(f"/proc/{process.pid}/limits").read_text()
    finally:
        process.kill()
        process.wait()
    (line,) = [row for row in limits.splitlines() if row.startswith("Max address space")]
    assert line.split()[3:5] == [str(3 << 30), str(3 << 30)]
