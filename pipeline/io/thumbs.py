"""Content-addressed JPEG store for sampled frames and stills: `processed/thumbs/ab/<sha256>.jpg`.

The name is the SHA-256 of the JPEG bytes, so the same picture is stored once however many
runs produce it, and a thumbnail can be checked against its name at any time. These are the
pictures the hash stage hashes and the reports show.
"""

from __future__ import annotations

import hashlib
import io
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


def store(root: Path, rgb: np.ndarray, quality: int) -> str:
    """Store the picture as JPEG (unless already there); returns its SHA-256."""
    data = encode_jpeg(rgb, quality)
    sha = hashlib.sha256(data).hexdigest()
    path = thumb_path(root, sha)
    if not path.exists():
        write_bytes_atomic(path, data)
    return sha


def load(root: Path, sha256: str) -> np.ndarray:
    with Image.open(thumb_path(root, sha256)) as image:
        return np.asarray(image.convert("RGB"))


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Scale (width, height) so the longest side is at most max_side; never upscale."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))
