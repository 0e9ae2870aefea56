"""Content-addressed JPEG store for sampled frames and stills: `processed/thumbs/ab/<sha256>.jpg`.

The name is the SHA-256 of the JPEG bytes, so the same picture is stored once however many
runs produce it, and a thumbnail can be checked against its name at any time. These are the
pictures the hash stage hashes and the reports show.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image

from pipeline.io.atomic import write_bytes_atomic


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def thumb_path(root: Path, sha256: str) -> Path:
    return root / sha256[:2] / f"{sha256}.jpg"


def scratch_dir(root: Path) -> Path:
    """Where thumbnails are written before their rename: one folder to sweep after a crash
    instead of every shard."""
    return root / ".scratch"


def encode(rgb: np.ndarray, quality: int) -> tuple[str, bytes]:
    """The picture as JPEG bytes and their SHA-256 (its name in the store). Pure: a worker
    on another machine encodes, the driver stores."""
    data = encode_jpeg(rgb, quality)
    return hashlib.sha256(data).hexdigest(), data


def put(root: Path, sha256: str, data: bytes) -> None:
    """Store JPEG bytes under their SHA-256 (unless already there), atomically."""
    path = thumb_path(root, sha256)
    if not path.exists():
        write_bytes_atomic(path, data, scratch_dir(root), root=root.parent)


def store(root: Path, rgb: np.ndarray, quality: int) -> str:
    """Store the picture as JPEG (unless already there); returns its SHA-256."""
    sha, data = encode(rgb, quality)
    put(root, sha, data)
    return sha


def read(root: Path, sha256: str) -> bytes:
    return thumb_path(root, sha256).read_bytes()


MAX_THUMB_BYTES = 16 << 20  # thumbnails are small JPEGs; anything bigger is not one of ours


def read_verified(root: Path, sha256: str) -> bytes | None:
    """The stored thumbnail's bytes, or None unless it is a regular file (not a link, not
    through a linked shard folder) inside the store whose bytes hash to its name."""
    path = thumb_path(root, sha256)
    try:
        if not all(stat.S_ISDIR(os.lstat(folder).st_mode) for folder in (root, path.parent)):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_THUMB_BYTES:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(MAX_THUMB_BYTES + 1)
    finally:
        os.close(fd)
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def load(root: Path, sha256: str) -> np.ndarray:
    with Image.open(thumb_path(root, sha256)) as image:
        return np.asarray(image.convert("RGB"))


def unreadable(sha256: str, error: Exception) -> str:
    """What a stage says of a stored thumbnail it could not read, and how to get it back."""
    return (
        f"stored thumbnail {sha256[:12]} is missing or unreadable ({type(error).__name__}): "
        "restore processed/thumbs, or delete processed/ and run again to rebuild it"
    )


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Scale (width, height) so the longest side is at most max_side; never upscale."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))
