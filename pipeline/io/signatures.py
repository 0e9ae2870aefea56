"""Standard signatures from files, hash lists in, hash exports out (docs/hash-sharing.md).

- PDQ of a still: Pillow decodes the whole picture, converted to RGB, at full resolution and
  without EXIF rotation: what python-threatexchange's `threatexchange hash photo` and
  Hasher-Matcher-Actioner compute, so their `match` finds our exports and our `match-list`
  finds their lists. (python-threatexchange hashes 1-bit, palette and CMYK files from their
  raw mode data; the RGB conversion here is what the C++ reference's image loader does.)
- vPDQ of a video: Meta's `vpdq` bindings (PyPI), its own libav decode, every frame or one
  frame per `seconds_per_hash`.
- Lists: python-threatexchange's local-file format (`signal_type signal` per line), vPDQ's
  per-frame text (one file, one video), or CSV with `signal_type`, `signal` and optional
  `label` / `name` / `release` / `source` columns. Read line by line; a malformed line stops
  the list with its file and line number.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Sequence
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


@dataclass(frozen=True)
class SignatureJob:
    media_id: str
    kind: str  # image | video
    path: Path
    max_image_pixels: int
    vpdq_seconds_per_hash: float


@dataclass(frozen=True)
class SignatureResult:
    media_id: str
    signal_type: str  # pdq | vpdq
    signal: str  # pdq: hex; vpdq: the per-frame text
    quality: int  # pdq: its quality; vpdq: the median frame quality
    frames: int
    error: str = ""


def compute_signature(job: SignatureJob) -> SignatureResult:
    """One media's standard perceptual signature; a file that cannot be decoded comes back
    with the reason (runs in a worker process)."""
    try:
        if job.kind == "image":
            pdq = pdq_of_picture(decode_for_pdq(job.path, job.max_image_pixels))
            return SignatureResult(job.media_id, PDQ, pdq.hex, pdq.quality, 1)
        frames = vpdq_of_video(job.path, job.vpdq_seconds_per_hash)
    except Exception as exc:  # vpdq raises a bare Exception for an undecodable video
        kind = PDQ if job.kind == "image" else VPDQ
        what = "vpdq could not hash the video" if type(exc) is Exception else type(exc).__name__
        return SignatureResult(job.media_id, kind, "", 0, 0, f"{what}: {exc}")
    if not frames:
        return SignatureResult(job.media_id, VPDQ, "", 0, 0, "vpdq decoded no frame")
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
        return ListEntry(name, number, kind, normalise_signal(kind, signal), label)
    except SignalError as exc:
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
        writer.writerow([item.media_id, md5_type, item.md5, "", label])
        writer.writerow([item.media_id, sha_type, item.media_id, "", label])
    return buffer.getvalue().encode("utf-8")


def export_threatexchange(items: Sequence[ExportItem], pdq_quality_min: int) -> bytes:
    """python-threatexchange's local-file exchange: `signal_type signal` per line, only the
    types that package knows (pdq, vpdq, video_md5, video_sha256). PDQ below the quality
    floor is left out, as that package's own hasher leaves it out."""
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
