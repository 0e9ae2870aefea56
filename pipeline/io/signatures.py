"""Standard signatures from files, hash lists in, hash exports out (docs/hash-sharing.md).

- PDQ of a still: Pillow decodes the whole picture, converted to RGB, at full resolution and
  without EXIF rotation: what python-threatexchange's `threatexchange hash photo` and
  Hasher-Matcher-Actioner compute, so their `match` finds our exports and our `match-list`
  finds their lists. (python-threatexchange hashes 1-bit, palette and CMYK files from their
  raw mode data; the RGB conversion here is what the C++ reference's image loader does.)
- vPDQ of a video: Meta's `vpdq` bindings (PyPI), its own libav decode, every frame or one
  frame per `seconds_per_hash`.
- TMK+PDQF of a video: `tmkpy` (PyPI: Meta's tmk C++ under SWIG), which runs ffmpeg at
  15 fps on 64x64 frames exactly as the reference `tmk-hash-video` does. It builds that
  ffmpeg command as one shell string with the file name unquoted, so the video is handed to
  it only through a link with a fixed, safe name in a private temporary folder: no name
  from a collection ever reaches a shell.
- Native libraries (libav inside vpdq, ffmpeg under tmkpy) write to file descriptor 2
  directly; that noise is captured, kept out of the terminal, and its tail becomes part of
  the failure reason when the file cannot be signed.
- Lists: python-threatexchange's local-file format (`signal_type signal` per line), vPDQ's
  per-frame text (one file, one video), or CSV with `signal_type`, `signal` and optional
  `label` / `name` / `release` / `source` columns. Read line by line; a malformed line stops
  the list with its file and line number.
"""

from __future__ import annotations

import base64
import csv
import io
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.core.signatures import (
    MD5_TYPES,
    PDQ,
    SHA256_TYPES,
    SIGNAL_TYPES,
    VPDQ,
    ListEntry,
    SignalError,
    VpdqFrame,
    normalise_signal,
    parse_vpdq_line,
    pdq_of_picture,
    vpdq_from_threatexchange,
    vpdq_line,
    vpdq_to_threatexchange,
)
from pipeline.core.tmk import TMK, TmkError, is_tmk, parse_tmk

EXPORT_COLUMNS = ("media_id", "signal_type", "signal", "quality", "label")
LABEL_COLUMNS = ("label", "name", "release", "source")
_VPDQ_LINE = re.compile(r"^\d+,\d+,[0-9a-fA-F]{64},[0-9.]+$")
# Longest line read from a list: a vPDQ signal of a long video at every frame is ~30 bytes a
# frame; past this a line is refused rather than read into memory.
MAX_LINE_CHARS = 64 << 20


class ListFormatError(ValueError):
    """A hash list that cannot be read: the message names the file and the line."""


# --- computing signatures -----------------------------------------------------------------
def decode_for_pdq(path: Path, max_pixels: int) -> np.ndarray:
    """A still's first frame as RGB at full resolution, as the reference hashes it."""
    with Image.open(path) as image:
        if image.width * image.height > max_pixels:
            raise ValueError(
                f"{image.width}x{image.height} is larger than max_image_pixels ({max_pixels})"
            )
        return np.asarray(image.convert("RGB"))


def vpdq_of_video(path: Path, seconds_per_hash: float) -> tuple[VpdqFrame, ...]:
    """vPDQ through Meta's bindings: every frame (seconds_per_hash 0) or one a period."""
    import vpdq  # a C++ extension: imported where it is used, in the worker

    features = vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash, thread_count=1)
    return tuple(
        VpdqFrame(int(f.frame_number), int(f.quality), str(f.hex), round(float(f.timestamp), 3))
        for f in features
    )


_SHELL_SAFE = re.compile(r"^[A-Za-z0-9_./+-]+$")
NOISE_CHARS = 400  # the tail of a native library's stderr kept in a failure reason


def tmk_of_video(path: Path) -> bytes:
    """TMK+PDQF of a video through `tmkpy`: the reference `.tmk` file's bytes. Raises
    ValueError when it cannot be computed (no ffmpeg, no tmkpy, nothing decoded)."""
    try:
        import tmkpy  # a C++ extension: imported where it is used, in the worker
    except ImportError as exc:
        raise ValueError(f"tmkpy is not installed ({exc})") from exc
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None or not _SHELL_SAFE.match(ffmpeg):
        raise ValueError(f"no ffmpeg on PATH with a shell-safe path for tmkpy ({ffmpeg!r})")
    with tempfile.TemporaryDirectory(prefix="crosscheck-tmk-") as folder:
        if not _SHELL_SAFE.match(folder):
            raise ValueError(f"temporary folder {folder!r} is not shell-safe for tmkpy")
        link = Path(folder) / "video"
        link.symlink_to(path.resolve())
        output = Path(folder) / "video.tmk"
        vectors = tmkpy.hashVideo(str(link), ffmpeg)
        if not vectors.writeToOutputFile(str(output), "crosscheck"):
            raise ValueError("tmkpy could not write the signature")
        data = output.read_bytes()
    try:
        signature = parse_tmk(data)
    except TmkError as exc:
        raise ValueError(f"tmkpy gave no usable signature ({exc})") from exc
    if signature.frame_count == 0:
        raise ValueError("tmkpy decoded no frame")
    return data


@contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """File descriptor 2 into a temporary file for the block: what native code (libav, an
    ffmpeg child) writes there stays off the terminal. The list holds the text on exit."""
    captured: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield captured
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                sink.seek(0)
                captured.append(sink.read().decode("utf-8", "replace"))
    finally:
        os.close(saved)


def _noise(text: str) -> str:
    """The last lines of a library's stderr, on one line, for a failure reason."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    tail = " | ".join(lines)[-NOISE_CHARS:]
    return f" [decoder said: {tail}]" if tail else ""


@dataclass(frozen=True)
class SignatureJob:
    media_id: str
    kind: str  # image | video
    path: Path
    max_image_pixels: int
    vpdq_seconds_per_hash: float
    tmk: bool = True  # videos: TMK+PDQF too


@dataclass(frozen=True)
class SignatureResult:
    media_id: str
    signal_type: str  # pdq | vpdq
    signal: str  # pdq: hex; vpdq: the per-frame text
    quality: int  # pdq: its quality; vpdq: the median frame quality
    frames: int
    error: str = ""
    tmk: bytes = b""  # videos: the TMK+PDQF `.tmk` bytes
    tmk_error: str = ""


def compute_signature(job: SignatureJob) -> SignatureResult:
    """One media's standard perceptual signatures; a file that cannot be decoded comes back
    with the reason, including the tail of what the decoder printed (runs in a worker)."""
    if job.kind == "image":
        try:
            pdq = pdq_of_picture(decode_for_pdq(job.path, job.max_image_pixels))
        except Exception as exc:  # Pillow raises many types for a broken file
            return SignatureResult(job.media_id, PDQ, "", 0, 0, f"{type(exc).__name__}: {exc}")
        return SignatureResult(job.media_id, PDQ, pdq.hex, pdq.quality, 1)
    result = _vpdq_result(job)
    if not job.tmk or result.error:  # a video vpdq cannot decode is failed already
        return result
    tmk, tmk_error = b"", ""
    with captured_stderr() as noise:
        try:
            tmk = tmk_of_video(job.path)
        except Exception as exc:  # tmkpy raises RuntimeError; ours ValueError
            tmk_error = f"tmk: {exc}"
    if tmk_error:
        tmk_error += _noise(noise[0])
    return SignatureResult(
        result.media_id,
        result.signal_type,
        result.signal,
        result.quality,
        result.frames,
        result.error,
        tmk,
        tmk_error,
    )


def _vpdq_result(job: SignatureJob) -> SignatureResult:
    error = ""
    frames: tuple[VpdqFrame, ...] = ()
    with captured_stderr() as noise:
        try:
            frames = vpdq_of_video(job.path, job.vpdq_seconds_per_hash)
        except Exception as exc:  # vpdq raises a bare Exception for an undecodable video
            what = "vpdq could not hash the video" if type(exc) is Exception else type(exc).__name__
            error = f"{what}: {exc}"
    if not error and not frames:
        error = "vpdq decoded no frame"
    if error:
        return SignatureResult(job.media_id, VPDQ, "", 0, 0, error + _noise(noise[0]))
    quality = int(np.median([f.quality for f in frames]))
    text = "".join(vpdq_line(f) + "\n" for f in frames)
    return SignatureResult(job.media_id, VPDQ, text, quality, len(frames))


# --- reading lists --------------------------------------------------------------------------
def list_name(path: Path) -> str:
    """A list is named by its file name: no folder of this machine leaves in outputs."""
    return path.name


def read_list(path: Path) -> Iterator[ListEntry]:
    """Stream a hash list's entries. Raises ListFormatError (file:line: why) on the first
    malformed line, OSError when the file cannot be read."""
    name = list_name(path)
    with path.open("rb") as raw:
        head = raw.read(len(b"TMK1FVEC"))
    if is_tmk(head):
        yield _read_tmk_file(path, name)
        return
    with path.open(encoding="utf-8", errors="strict", newline="") as handle:
        try:
            first = _first_content_line(handle)
        except UnicodeDecodeError as exc:
            raise ListFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc
        handle.seek(0)
        if first is None:
            return
        try:
            if _VPDQ_LINE.match(first.strip()):
                yield from _read_vpdq_text(path, name, handle)
            elif "signal_type" in first and "," in first:
                yield from _read_csv(path, name, handle)
            else:
                yield from _read_threatexchange(path, name, handle)
        except UnicodeDecodeError as exc:
            raise ListFormatError(f"{path}: not UTF-8 text ({exc.reason})") from exc


def _first_content_line(handle: io.TextIOBase) -> str | None:
    for line in handle:
        if line.strip() and not line.startswith("#"):
            return line
    return None


def _lines(path: Path, handle: io.TextIOBase) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(handle, start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ListFormatError(f"{path}:{number}: line longer than {MAX_LINE_CHARS} chars")
        if line.strip() and not line.startswith("#"):
            yield number, line.rstrip("\r\n")


def _read_vpdq_text(path: Path, name: str, handle: io.TextIOBase) -> Iterator[ListEntry]:
    frames = []
    first = 0
    for number, line in _lines(path, handle):
        first = first or number
        try:
            frames.append(parse_vpdq_line(line))
        except SignalError as exc:
            raise ListFormatError(f"{path}:{number}: {exc}") from exc
    yield ListEntry(name, first, VPDQ, "", path.stem, tuple(frames))


def _read_tmk_file(path: Path, name: str) -> ListEntry:
    """A reference `.tmk` file (tmk-hash-video's output): one video, labelled by its stem."""
    if path.stat().st_size > MAX_LINE_CHARS:
        raise ListFormatError(f"{path}: larger than {MAX_LINE_CHARS} bytes for a TMK file")
    try:
        signature = parse_tmk(path.read_bytes())
    except TmkError as exc:
        raise ListFormatError(f"{path}: {exc}") from exc
    return ListEntry(name, 1, TMK, "", path.stem, tmk=signature)


def tmk_to_text(data: bytes) -> str:
    """A `.tmk` file in a text list (CSV, local-file lines): standard base64, one line."""
    return base64.b64encode(data).decode("ascii")


def tmk_from_text(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise SignalError(f"a tmk_pdqf signal is the base64 of a .tmk file: {exc}") from exc


def _read_threatexchange(path: Path, name: str, handle: io.TextIOBase) -> Iterator[ListEntry]:
    for number, line in _lines(path, handle):
        signal_type, _, signal = line.strip().partition(" ")
        yield _entry(path, name, number, signal_type, signal, "")


def _read_csv(path: Path, name: str, handle: io.TextIOBase) -> Iterator[ListEntry]:
    csv.field_size_limit(MAX_LINE_CHARS)
    reader = csv.DictReader(handle)
    columns = reader.fieldnames or []
    for needed in ("signal_type", "signal"):
        if needed not in columns:
            raise ListFormatError(f"{path}:1: CSV list has no {needed!r} column")
    labels = [c for c in LABEL_COLUMNS if c in columns]
    for row in reader:
        number = reader.line_num
        if None in row or any(row[c] is None for c in columns):
            raise ListFormatError(f"{path}:{number}: row does not have {len(columns)} fields")
        label = " · ".join(row[c].strip() for c in labels if row[c].strip())
        yield _entry(path, name, number, row["signal_type"].strip(), row["signal"], label)


def _entry(
    path: Path, name: str, number: int, signal_type: str, signal: str, label: str
) -> ListEntry:
    kind = signal_type.strip().lower()
    if kind not in SIGNAL_TYPES:
        raise ListFormatError(
            f"{path}:{number}: unknown signal type {signal_type[:40]!r} "
            f"(expected one of {', '.join(SIGNAL_TYPES)})"
        )
    try:
        if kind == VPDQ:
            return ListEntry(name, number, kind, "", label, vpdq_from_threatexchange(signal))
        if kind == TMK:
            return ListEntry(name, number, kind, "", label, tmk=parse_tmk(tmk_from_text(signal)))
        return ListEntry(name, number, kind, normalise_signal(kind, signal), label)
    except (SignalError, TmkError) as exc:
        raise ListFormatError(f"{path}:{number}: {exc}") from exc


# --- exports --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportItem:
    """What one media contributes to an export: its byte hashes and perceptual signature."""

    media_id: str
    kind: str
    md5: str
    pdq: str = ""  # photos: hex
    pdq_quality: int = 0
    vpdq: tuple[VpdqFrame, ...] = ()  # videos
    tmk: bytes = b""  # videos: TMK+PDQF `.tmk` bytes


def _byte_types(kind: str) -> tuple[str, str]:
    return ("video_md5", "video_sha256") if kind == "video" else (MD5_TYPES[0], SHA256_TYPES[0])


def export_csv(items: Sequence[ExportItem], label: str) -> bytes:
    """`media_id, signal_type, signal, quality, label`, one row per signal."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for item in items:
        md5_type, sha_type = _byte_types(item.kind)
        if item.pdq:
            writer.writerow([item.media_id, PDQ, item.pdq, item.pdq_quality, label])
        if item.vpdq:
            quality = int(np.median([f.quality for f in item.vpdq]))
            writer.writerow(
                [item.media_id, VPDQ, vpdq_to_threatexchange(item.vpdq), quality, label]
            )
        if item.tmk:
            writer.writerow([item.media_id, TMK, tmk_to_text(item.tmk), "", label])
        writer.writerow([item.media_id, md5_type, item.md5, "", label])
        writer.writerow([item.media_id, sha_type, item.media_id, "", label])
    return buffer.getvalue().encode("utf-8")


def export_threatexchange(items: Sequence[ExportItem], pdq_quality_min: int) -> bytes:
    """python-threatexchange's local-file exchange: `signal_type signal` per line, only the
    types that package knows (pdq, vpdq, video_md5, video_sha256: no TMK+PDQF, which it
    has no type for). PDQ below the quality floor is left out, as that package's own hasher
    leaves it out."""
    lines = []
    for item in items:
        if item.pdq and item.pdq_quality >= pdq_quality_min:
            lines.append(f"{PDQ} {item.pdq}")
        if item.vpdq:
            lines.append(f"{VPDQ} {vpdq_to_threatexchange(item.vpdq)}")
        if item.kind == "video":
            lines += [f"video_md5 {item.md5}", f"video_sha256 {item.media_id}"]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def export_vpdq_files(items: Sequence[ExportItem]) -> dict[str, bytes]:
    """vPDQ's per-frame text, one `<media_id>.txt` per video."""
    return {
        f"{item.media_id}.txt": "".join(vpdq_line(f) + "\n" for f in item.vpdq).encode()
        for item in items
        if item.vpdq
    }


def export_tmk_files(items: Sequence[ExportItem]) -> dict[str, bytes]:
    """TMK's own format, one `<media_id>.tmk` per video: what tmk-query and tmkpy read."""
    return {f"{item.media_id}.tmk": item.tmk for item in items if item.tmk}
