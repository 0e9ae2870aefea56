"""TMK+PDQF: what signing a video costs, against vPDQ and a bare decode, and what scoring costs.

Videos: Meta's 14 TMK sample videos (../shared/reference/threatexchange/tmk-sample-videos/)
when present, else generated clips. Per video, in this process, one after another:

- `tmk_of_video` (tmkpy: ffmpeg at 15 fps on 64x64 frames, PDQF per frame, the kernel);
- the floor under it: the same ffmpeg command alone, output thrown away;
- `vpdq_of_video` at the configured default (one frame a second) and at every frame.

Then scoring: level 1 for one listed video against the whole collection (one matrix
product), and level 2 per pair, ours (numpy) against tmkpy's C++ `query` on the same files.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

NAME = "TMK+PDQF: cost per video and per comparison"

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "threatexchange" / "tmk-sample-videos"


def _videos(folder: Path, scale: float) -> tuple[list[Path], str]:
    found = sorted(REFERENCE.glob("*.mp4")) if REFERENCE.is_dir() else []
    if found:
        return found, f"Meta's {len(found)} TMK sample videos"
    from pipeline.synth.images import photo
    from pipeline.synth.videos import Shot, write_shots

    names = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins")
    clips = []
    for i in range(max(2, int(8 * scale))):
        path = folder / f"clip{i}.mp4"
        shots = [Shot(photo(names[(i + k) % len(names)]), 4.0) for k in range(3)]
        write_shots(path, shots, fps=25, width=640, height=360)
        clips.append(path)
    return clips, f"{len(clips)} generated 640x360 clips of 12 s"


def _duration(path: Path) -> float:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return float(done.stdout.strip())


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(call) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), _cpu()
    result = call()
    return time.perf_counter() - wall, _cpu() - cpu, result


def _bare_decode(path: Path) -> None:
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    subprocess.run(
        [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-s", "64:64", "-an", "-f",
         "rawvideo", "-c:v", "rawvideo", "-pix_fmt", "rgb24", "-r", "15", "-y", os.devnull],
        check=True, timeout=600,
    )  # fmt: skip


def run(scale: float) -> str:
    import tmkpy

    from pipeline.core.tmk import level2, parse_tmk
    from pipeline.io.signatures import captured_stderr, tmk_of_video, vpdq_of_video

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-tmk-") as tmp:
        folder = Path(tmp)
        videos, described = _videos(folder, scale)
        rows: dict[str, list[tuple[float, float]]] = {
            "tmk": [], "decode": [], "vpdq1": [], "vpdq0": []
        }  # fmt: skip
        minutes = 0.0
        sizes = []
        files = []
        for index, clip in enumerate(videos):
            minutes += _duration(clip) / 60
            with captured_stderr():
                wall, cpu, data = _timed(lambda c=clip: tmk_of_video(c))
            rows["tmk"].append((wall, cpu))
            assert isinstance(data, bytes)
            sizes.append(len(data))
            files.append(folder / f"{index}.tmk")
            files[-1].write_bytes(data)
            wall, cpu, _ = _timed(lambda c=clip: _bare_decode(c))
            rows["decode"].append((wall, cpu))
            with captured_stderr():
                for key, period in (("vpdq1", 1.0), ("vpdq0", 0.0)):
                    wall, cpu, _ = _timed(lambda c=clip, p=period: vpdq_of_video(c, p))
                    rows[key].append((wall, cpu))
        signatures = [parse_tmk(f.read_bytes()) for f in files]
        pairs = [(a, b) for a in signatures for b in signatures]
        wall_ours, _, _ = _timed(lambda: [level2(a, b) for a, b in pairs])
        names = [str(f) for f in files]
        wall_ref, _, _ = _timed(lambda: [tmkpy.query(n, names, 1) for n in names])
        averages = np.array([s.pure_average for s in signatures] * 1000, dtype=np.float64)
        averages /= np.linalg.norm(averages, axis=1, keepdims=True)
        wall_l1, _, _ = _timed(lambda: averages @ averages[0])

    periods, coefficients = len(signatures[0].periods), len(signatures[0].coefficients)

    tmk_cpu = sum(c for _, c in rows["tmk"])
    decode_cpu = sum(c for _, c in rows["decode"])
    vpdq_cpu = sum(c for _, c in rows["vpdq1"])

    def line(key: str, what: str) -> str:
        wall = sum(w for w, _ in rows[key])
        cpu = sum(c for _, c in rows[key])
        return (
            f"| {what} | {wall / len(videos):.2f} s | {cpu / len(videos):.2f} s "
            f"| {cpu / minutes:.1f} s |"
        )

    return f"""Videos: {described}, {minutes * 60:.0f} s of video in all. One process, one
video at a time, thread_count 1 for vpdq; CPU includes ffmpeg children. Load average
{load:.2f} before (other engineers' work shares the 2 cores, so wall times are noisy; CPU
is the figure to compare).

| per video | wall (mean) | CPU (mean) | CPU per minute of video |
|---|---:|---:|---:|
{line("tmk", "TMK+PDQF, `tmk_of_video` (tmkpy)")}
{line("decode", "floor: its ffmpeg decode alone (64x64, 15 fps)")}
{line("vpdq1", "vPDQ, one frame a second (the default)")}
{line("vpdq0", "vPDQ, every frame")}

- TMK costs {tmk_cpu / decode_cpu:.2f}x the CPU of its own ffmpeg decode: the decode is
  nearly all of it. The signatures stage now signs a video with vPDQ (default sampling) and
  TMK: {(tmk_cpu + vpdq_cpu) / vpdq_cpu:.1f}x the CPU of vPDQ alone.
- A `.tmk` signature is {sizes[0]:,} bytes whatever the video's length ({periods} periods x
  {coefficients} Fourier coefficients x 256 floats, cosine and sine, plus the 256-float
  average): stored
  as a BLOB in the catalog, {sizes[0] * 4 / 3 / 1000:.0f} KB as base64 in a CSV export.
- Scoring, {len(pairs)} pairs (every sample against every other): level 2 in numpy
  {wall_ours / len(pairs) * 1000:.2f} ms a pair; tmkpy's C++ `query` on the same files
  {wall_ref / len(pairs) * 1000:.2f} ms a pair (that includes reading each file). Level 1 of
  one listed video against {len(averages):,} collection videos: {wall_l1 * 1000:.1f} ms (one
  matrix product), so level 2 only runs for the few that pass 0.7.
"""
