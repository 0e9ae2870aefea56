"""Every ffmpeg and ffprobe call of the project: argument lists, timeouts, one-line errors.

Inputs are hostile: a playlist or concat file can make a demuxer open other files or URLs,
so each call names the demuxers it accepts (`-format_whitelist`) and only the `file`
protocol, and paths are always absolute (a name starting with `-` is never an option).
"""

from __future__ import annotations

import contextlib
import functools
import json
import resource
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_lib
import numpy as np

# Containers that carry footage, plus audio containers so audio-only files get a clear reason.
DEMUXERS = (
    "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,mpegts,mpeg,flv,asf,ogg,h264,hevc,"
    "m4v,mpegvideo,rawvideo,mjpeg,gif,mp3,wav,aac,flac,yuv4mpegpipe,dv"
)
SAFE_INPUT_ARGS = ("-protocol_whitelist", "file", "-format_whitelist", DEMUXERS)
# Address space each ffmpeg/ffprobe reading evidence may map. Decoding 4K H.265 with 16
# threads maps well under 2 GiB; a crafted header that asks for hundreds of GB is refused
# by the kernel (the tool fails, the item is rejected) instead of the machine swapping.
MEMORY_LIMIT_BYTES = 8 << 30


def limit_memory(pid: int, limit_bytes: int = MEMORY_LIMIT_BYTES) -> None:
    """Cap a started tool's address space (RLIMIT_AS), where the platform allows. Set right
    after the start, while the tool is still loading its libraries, before it parses input."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        resource.prlimit(pid, resource.RLIMIT_AS, (limit_bytes, limit_bytes))


class MediaToolError(RuntimeError):
    """ffmpeg or ffprobe failed; the message is one line an analyst can read."""


@functools.lru_cache(maxsize=4)
def tool_version(tool: str = "ffmpeg") -> str:
    """First line of `tool -version` ('' when the tool is missing), recorded in custody entries."""
    if shutil.which(tool) is None:
        return ""
    out = subprocess.run(
        [tool, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    return out.stdout.splitlines()[0] if out.stdout else ""


def last_error_line(stderr: bytes | str) -> str:
    text = stderr.decode("utf-8", "replace") if isinstance(stderr, bytes) else stderr
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def probe_command(path: Path) -> list[str]:
    return [
        "ffprobe",
        "-v",
        "error",
        *SAFE_INPUT_ARGS,
        "-show_format",
        "-show_streams",
        "-of",
        "json",
        str(path.absolute()),
    ]


def probe(path: Path, timeout_s: float) -> dict[str, Any]:
    """ffprobe's JSON for one file; MediaToolError when it cannot be read as media."""
    process = subprocess.Popen(
        probe_command(path),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    limit_memory(process.pid)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        process.kill()
        process.communicate()
        raise MediaToolError(f"ffprobe timed out after {timeout_s:g} s") from exc
    if process.returncode != 0:
        message = last_error_line(stderr).replace(str(path.absolute()), path.name)
        raise MediaToolError(f"ffprobe could not read it: {message}")
    try:
        result = json.loads(stdout.decode("utf-8", "replace"))
    except json.JSONDecodeError as exc:
        raise MediaToolError("ffprobe gave no readable description") from exc
    if not isinstance(result, dict):
        raise MediaToolError("ffprobe gave no readable description")
    return result


def encode_frames(
    frames: Any,
    path: Path,
    width: int,
    height: int,
    fps: float,
    extra_output_args: Sequence[str] = (),
    timeout_s: float = 300.0,
) -> None:
    """Encode an iterable of HxWx3 uint8 RGB arrays into a video file (H.264 unless
    extra_output_args say otherwise). Used to make synthetic footage, never on evidence."""
    command = [
        "ffmpeg",
        "-v",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{width}x{height}",
        "-r",
        f"{fps:g}",
        "-i",
        "pipe:0",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-preset",
        "veryfast",
        "-threads",
        "1",
        *extra_output_args,
        str(path.absolute()),
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None
    try:
        for frame in frames:
            process.stdin.write(frame.tobytes())
        _, stderr = process.communicate(timeout=timeout_s)  # closes stdin: end of stream
    except BaseException:
        process.kill()
        process.communicate()
        raise
    if process.returncode != 0:
        raise MediaToolError(f"ffmpeg could not encode {path.name}: {last_error_line(stderr)}")


def _make(input_args: Sequence[str], target: Path, args: Sequence[str], timeout_s: float) -> None:
    """Run one ffmpeg that writes `target` from the given input; one-line error on failure."""
    command = ["ffmpeg", "-v", "error", "-y", *input_args, *args, str(target.absolute())]
    done = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise MediaToolError(f"ffmpeg could not make {target.name}: {last_error_line(done.stderr)}")


def transcode(source: Path, target: Path, args: Sequence[str], timeout_s: float = 300.0) -> None:
    """Re-encode a synthetic video with the given ffmpeg output options (filters, codec, trims)."""
    _make(["-i", str(source.absolute())], target, args, timeout_s)


def compose(
    inputs: Sequence[Sequence[str]], target: Path, args: Sequence[str], timeout_s: float = 300.0
) -> None:
    """Make a synthetic file from several inputs, each given as its own input options ending
    in `-i SOURCE` (a file, or a lavfi spec after `-f lavfi`); `args` hold the filter graph
    and the output options. Used for generated corpora, never on evidence."""
    _make([arg for group in inputs for arg in group], target, args, timeout_s)


def lavfi_source(spec: str, target: Path, args: Sequence[str], timeout_s: float = 300.0) -> None:
    """Render one of ffmpeg's synthetic sources (testsrc2, sine, color...) into a file."""
    _make(["-f", "lavfi", "-i", spec], target, args, timeout_s)


@dataclass(frozen=True)
class SamplingPlan:
    """How to sample one video: output size (after rotation), and what to keep."""

    width: int
    height: int
    interval_s: float
    scene_threshold: float
    keyframes_only: bool = False
    deinterlace: bool = False
    threads: int = 1
    timeout_s: float = 600.0  # the whole decode
    stall_s: float = 120.0  # without a frame or a line of ffmpeg output


def sampling_command(path: Path, plan: SamplingPlan) -> list[str]:
    """The ffmpeg command that streams the kept frames as raw RGB through stdout.

    ffmpeg rotates by the display matrix before our filters (autorotate), scales only the
    kept frames, and reports each kept frame's pts and scene score on stderr
    (`metadata=print`), so no temporary image file is ever written.
    """
    input_args: dict[str, Any] = {
        "threads": plan.threads,
        "protocol_whitelist": "file",
        "format_whitelist": DEMUXERS,
    }
    if plan.keyframes_only:
        input_args["skip_frame"] = "nokey"
    video = ffmpeg_lib.input(str(path.absolute()), **input_args).video
    if plan.deinterlace:
        video = video.filter("yadif", mode=0)
    keep = f"eq(n,0)+gt(scene,{plan.scene_threshold:g})+gte(t-prev_selected_t,{plan.interval_s:g})"
    video = (
        video.filter("select", keep)
        .filter("metadata", mode="print", file="pipe:2")
        .filter("scale", plan.width, plan.height, flags="area")
    )
    output = ffmpeg_lib.output(
        video,
        "pipe:",
        format="rawvideo",
        pix_fmt="rgb24",
        fps_mode="passthrough",
        threads=plan.threads,
    )
    return [*output.compile(cmd="ffmpeg"), "-v", "error", "-nostdin"]


class FrameStream:
    """Run a sampling command and yield its frames one at a time (memory stays flat).

    Two limits, because a long video is not a stuck one: ffmpeg is killed when the whole
    decode passes `timeout_s`, or when `stall_s` pass with neither a frame nor a line on
    stderr (a hung demuxer, a read that never returns). After iteration: `stderr_lines`
    (metadata and errors), `stopped` ('' or why it was killed), `returncode`.
    """

    def __init__(
        self, command: list[str], width: int, height: int, timeout_s: float, stall_s: float
    ) -> None:
        self.command = command
        self.frame_bytes = width * height * 3
        self.shape = (height, width, 3)
        self.timeout_s = timeout_s
        self.stall_s = stall_s
        self.stderr_lines: list[str] = []
        self.stopped = ""
        self.returncode: int | None = None
        self._last_activity = time.monotonic()

    def __iter__(self) -> Iterator[np.ndarray]:
        process = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        limit_memory(process.pid)
        assert process.stdout is not None and process.stderr is not None
        errors = process.stderr
        self._last_activity = time.monotonic()
        reader = threading.Thread(target=self._drain, args=(errors,), daemon=True)
        reader.start()
        finished = threading.Event()
        watchdog = threading.Thread(target=self._watch, args=(process, finished), daemon=True)
        watchdog.start()
        try:
            while True:
                chunk = process.stdout.read(self.frame_bytes)
                if len(chunk) < self.frame_bytes:
                    break
                self._last_activity = time.monotonic()
                yield np.frombuffer(chunk, np.uint8).reshape(self.shape)
        finally:
            finished.set()
            watchdog.join()
            if process.poll() is None:
                process.kill()
            process.stdout.close()
            self.returncode = process.wait()
            reader.join()
            errors.close()

    def _drain(self, stream: Any) -> None:
        for line in stream:
            self._last_activity = time.monotonic()
            self.stderr_lines.append(line.decode("utf-8", "replace"))

    def _watch(self, process: subprocess.Popen[bytes], finished: threading.Event) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not finished.wait(min(1.0, self.stall_s / 4)):
            now = time.monotonic()
            if now >= deadline:
                self.stopped = f"decoding stopped after the {self.timeout_s:g} s timeout"
            elif now - self._last_activity >= self.stall_s:
                self.stopped = f"decoding stalled: no output from ffmpeg for {self.stall_s:g} s"
            if self.stopped:
                process.kill()
                return


@dataclass(frozen=True)
class WindowPlan:
    """A few seconds of one video decoded at its full frame rate (dedupe's grab path: a still
    grabbed between the frames stage's samples). Same output size as the stored frames."""

    start_s: float
    duration_s: float
    width: int
    height: int
    deinterlace: bool = False
    timeout_s: float = 60.0
    stall_s: float = 30.0


def window_command(path: Path, plan: WindowPlan) -> list[str]:
    """The ffmpeg command streaming every frame of [start_s, start_s + duration_s) as raw RGB.

    `-ss` before the input seeks to the key frame before start_s and decodes frame-exactly
    from start_s (ffmpeg's accurate seek), so only the window is decoded; output times start
    at 0 there. `select` with a scene term that is always true makes `metadata=print` report
    every frame's pts (core/shots.parse_metadata_lines), as the frames stage reads them.
    """
    video = ffmpeg_lib.input(
        str(path.absolute()),
        ss=f"{max(plan.start_s, 0.0):.6f}",
        t=f"{plan.duration_s:.6f}",
        threads=1,
        protocol_whitelist="file",
        format_whitelist=DEMUXERS,
    ).video
    if plan.deinterlace:
        video = video.filter("yadif", mode=0)
    video = (
        video.filter("select", "gte(scene,0)")
        .filter("metadata", mode="print", file="pipe:2")
        .filter("scale", plan.width, plan.height, flags="area")
    )
    output = ffmpeg_lib.output(
        video, "pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough", threads=1
    )
    return [*output.compile(cmd="ffmpeg"), "-v", "error", "-nostdin"]
