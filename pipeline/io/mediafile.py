"""What a file is, decided by its content: image (Pillow + exifread) or video (ffprobe).

The extension is never trusted. A file is media only when a decoder reads it; everything
else comes back as a reason an analyst can act on.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import filetype
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from pipeline.core import metadata
from pipeline.core.records import MediaRecord
from pipeline.io import ffmpeg
from pipeline.io.rawtree import (
    EvidenceChanged,
    FileDigest,
    FileIdentity,
    access_time_kept,
    check_unchanged,
    open_evidence,
)

IMAGE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "MPO"}
# Pillow joins a JPEG's APP1 segments by repeated concatenation, quadratic in their number:
# 1,000 segments (65 MB) cost 22 s, 100 cost 0.08 s. Cameras write one Exif segment, an ICC
# profile or extended XMP a few dozen at most; past this many, the file is not decoded.
MAX_JPEG_METADATA_SEGMENTS = 128


@dataclass(frozen=True)
class Examined:
    media: MediaRecord | None
    reason: str = ""  # why it is not media, when media is None


@contextmanager
def bomb_warnings_as_errors() -> Iterator[None]:
    """Pillow's DecompressionBombWarning raised as an error while the block runs.

    `warnings.catch_warnings` swaps process-wide state and is not thread-safe: enter this
    once, in the thread that starts the workers calling `examine`, never in each worker.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def examine(
    path: Path, digest: FileDigest, max_image_pixels: int, probe_timeout_s: float
) -> Examined:
    """Classify and describe one file whose bytes have been hashed."""
    if digest.size_bytes == 0:
        return Examined(None, "empty file (0 bytes)")
    kind = filetype.guess(digest.head)
    mime = kind.mime if kind else ""
    try:
        if mime.startswith("image/"):
            return _examine_image(path, digest, max_image_pixels, kind.extension if kind else "")
        if mime and not mime.startswith(("video/", "audio/")):
            return Examined(None, f"not an image or video: content is {mime}")
        # Audio by its magic bytes is not proof: Ogg holds Theora video, and an MP4 that
        # calls its brand `M4A ` plays its video all the same. The streams decide.
        examined = _examine_video(path, digest, probe_timeout_s, sniffed=bool(mime))
        if digest.identity is not None:
            check_unchanged(path, digest.identity)
        return examined
    except EvidenceChanged as exc:
        return Examined(None, str(exc))
    except OSError as exc:
        return Examined(None, f"cannot be read: {exc.strerror or exc}")


def _examine_image(path: Path, digest: FileDigest, max_pixels: int, sniffed: str) -> Examined:
    with open_evidence(path, digest.identity) as handle:
        examined = _examine_image_file(handle, digest, max_pixels, sniffed)
        if digest.identity is not None and not digest.identity.matches(os.fstat(handle.fileno())):
            raise EvidenceChanged("changed while it was examined: ingest again to examine it")
        return examined


def _examine_image_file(
    handle: BinaryIO, digest: FileDigest, max_pixels: int, sniffed: str
) -> Examined:
    too_many = _jpeg_metadata_problem(handle)
    if too_many:
        return Examined(None, too_many)
    try:
        with Image.open(handle) as image:
            width, height = image.size
            if width * height > max_pixels:
                return Examined(None, _bomb_reason(width, height, max_pixels))
            fmt = image.format or sniffed.upper()
            if fmt not in IMAGE_FORMATS:
                return Examined(None, f"unsupported image format {fmt}: no decoder configured")
            image.draft("RGB", (1024, 1024))  # JPEG: decode scaled, still reads every byte
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Examined(
            None, f"image over the limit of {max_pixels} pixels (possible decompression bomb)"
        )
    except UnidentifiedImageError:
        return Examined(None, f"unsupported or unreadable image ({sniffed or 'unknown type'})")
    except (OSError, SyntaxError, ValueError) as exc:
        return Examined(None, f"truncated or corrupt image: {exc}")
    handle.seek(0)
    tags = _exif_tags(handle)
    fields = metadata.image_fields(tags) if tags else {"orientation": 1}
    shown_w, shown_h = metadata.displayed_size(width, height, int(fields.get("orientation", 1)))
    return Examined(
        MediaRecord(
            media_id=digest.sha256,
            md5=digest.md5,
            size_bytes=digest.size_bytes,
            kind="image",
            format=fmt.lower(),
            width=shown_w,
            height=shown_h,
            duration_s=None,
            derived=fields,
            raw_metadata={"exif": tags},
        )
    )


def _jpeg_metadata_problem(handle: BinaryIO) -> str:
    """Why a JPEG's metadata is too much to hand to Pillow ('' when it is not, or when the
    file is no JPEG): walks the segment headers up to the image data, seeking, not reading."""
    handle.seek(0)
    if handle.read(2) != b"\xff\xd8":
        return ""
    segments = 0
    try:
        while True:
            marker = handle.read(2)
            if len(marker) < 2 or marker[0] != 0xFF or marker[1] == 0xDA:  # start of scan
                return ""
            if marker[1] == 0xFF:  # a fill byte before the marker
                handle.seek(-1, 1)
                continue
            if 0xD0 <= marker[1] <= 0xD8 or marker[1] == 0x01:  # markers without a length
                continue
            length = int.from_bytes(handle.read(2), "big")
            if length < 2:
                return ""
            if 0xE0 <= marker[1] <= 0xEF or marker[1] == 0xFE:  # APPn and comments
                segments += 1
                if segments > MAX_JPEG_METADATA_SEGMENTS:
                    return (
                        f"JPEG with over {MAX_JPEG_METADATA_SEGMENTS} metadata segments: not "
                        "decoded (decoding cost grows with their square)"
                    )
            handle.seek(length - 2, 1)
    finally:
        handle.seek(0)


def _bomb_reason(width: int, height: int, max_pixels: int) -> str:
    return (
        f"image of {width}x{height} = {width * height} pixels exceeds the limit of "
        f"{max_pixels} (possible decompression bomb)"
    )


def _exif_tags(handle: BinaryIO) -> dict[str, str]:
    """Every EXIF tag exifread can read, as printable text (exactly as read, nothing derived)."""
    import exifread  # here: 0.1 s of import that commands which examine nothing never pay

    try:
        tags = exifread.process_file(handle, details=False, extract_thumbnail=False)
    except Exception:  # exifread raises many kinds on malformed blocks; metadata is optional
        return {}
    return {
        str(name): str(value.printable if hasattr(value, "printable") else value)
        for name, value in sorted(tags.items())
    }


def _examine_video(path: Path, digest: FileDigest, timeout_s: float, sniffed: bool) -> Examined:
    try:
        with access_time_kept(path):
            probe = ffmpeg.probe(path, timeout_s)
    except ffmpeg.MediaToolError as exc:
        if not sniffed:
            return Examined(None, f"not an image or video (unrecognised content; {exc})")
        return Examined(None, f"truncated or corrupt video: {exc}")
    probe.get("format", {}).pop("filename", None)  # our own path, not the file's metadata
    stream = metadata.video_stream(probe)
    if stream is None:
        if metadata.has_audio(probe):
            return Examined(None, "audio-only file: no video stream")
        return Examined(None, "no video stream in the container")
    bad_duration = metadata.duration_problem(probe)
    if bad_duration:
        return Examined(None, f"unusable video: {bad_duration}")
    fields = metadata.video_fields(probe)
    if not fields["width"] or not fields["height"]:
        return Examined(None, "video stream without a frame size (corrupt header)")
    derived: dict[str, Any] = {
        k: v for k, v in fields.items() if k not in {"width", "height", "duration_s"}
    }
    return Examined(
        MediaRecord(
            media_id=digest.sha256,
            md5=digest.md5,
            size_bytes=digest.size_bytes,
            kind="video",
            format=str(probe.get("format", {}).get("format_name", "")),
            width=fields["width"],
            height=fields["height"],
            duration_s=fields["duration_s"],
            derived=derived,
            raw_metadata={"ffprobe": probe},
        )
    )


def decode_still(path: Path, max_side: int, expect: FileIdentity | None = None) -> np.ndarray:
    """The still as a viewer shows it (EXIF orientation applied), RGB, longest side <= max_side.

    EvidenceChanged when path is no longer the regular file expected (a link, a pipe, other
    bytes); the descriptor checked is the one decoded."""
    with open_evidence(path, expect) as handle, Image.open(handle) as image:
        image.draft("RGB", (max_side * 2, max_side * 2))  # JPEG: decode at a reduced scale
        upright = ImageOps.exif_transpose(image)
        rgb = upright.convert("RGB")
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
        return np.asarray(rgb)
