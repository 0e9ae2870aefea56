"""Builders for test media: files written into a raw tree, from generated pictures only."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from pipeline.synth import images as im
from pipeline.synth.videos import Shot, write_shots


def put(raw: Path, rel: str, data: bytes) -> Path:
    path = raw / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def jpeg(name: str = "astronaut", quality: int = 90) -> bytes:
    return im.jpeg_bytes(im.photo(name), quality)


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A tiny PNG whose header declares a huge picture: a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def video(
    path: Path,
    photos: tuple[str, ...] = ("astronaut", "coffee"),
    seconds: float = 2.0,
    extra_output_args: tuple[str, ...] = (),
    width: int = 320,
    height: int = 180,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_shots(
        path,
        [Shot(im.photo(p), seconds) for p in photos],
        fps=25,
        width=width,
        height=height,
        extra_output_args=extra_output_args,
    )
    return path


def tree_snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime (links as their target text), to prove nothing changed."""
    snapshot: dict[str, tuple[bytes, int]] = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            snapshot[str(path)] = (str(path.readlink()).encode(), info.st_mtime_ns)
        elif path.is_file():
            snapshot[str(path)] = (path.read_bytes(), info.st_mtime_ns)
    return snapshot


def noise(seed: int, height: int = 240, width: int = 320) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def phone_video(raw: Path, rel: str, upright: np.ndarray) -> Path:
    """A phone-style clip: frames stored a quarter turn clockwise, with a display matrix
    (ffprobe "rotation": 90, counter-clockwise) that turns them upright, as players do."""
    from pipeline.io import ffmpeg

    sensor = np.ascontiguousarray(np.rot90(upright, -1))
    height, width = sensor.shape[:2]
    scratch = raw.parent / "scratch-sensor.mp4"
    ffmpeg.encode_frames([sensor] * 10, scratch, width, height, 25.0)
    target = raw / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    ffmpeg.transcode(scratch, target, ["-c", "copy", "-metadata:s:v:0", "rotate=90"])
    scratch.unlink()
    return target


HOSTILE_NAME = "<img src=x onerror=alert(1)>.jpg"
HOSTILE_REJECT = "<svg onload=alert(3)>.jpg"
HOSTILE_MAKE = "<script>alert('exif')</script>"


def hostile_collection(raw: Path) -> None:
    """Names and EXIF text that are markup: the report must show them as text."""
    photo = im.photo("astronaut")
    exif = im.exif_block(HOSTILE_MAKE, "<b>model</b>", "2024:03:01 10:20:30", 36.2, 37.1)
    put(raw, f"inc/x_account/{HOSTILE_NAME}", im.jpeg_bytes(photo, 92, exif))
    put(raw, "inc/channel/repost.jpg", im.jpeg_bytes(im.resize(photo, 0.5), 70))
    put(raw, f"inc/channel/{HOSTILE_REJECT}", b"")
