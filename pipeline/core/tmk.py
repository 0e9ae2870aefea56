"""TMK+PDQF: Meta's temporal-match-kernel video signature, read and scored.

A `.tmk` file (ThreatExchange tmk/cpp, `TMKFeatureVectors::writeToOutputStream`) is a 32-byte
header (`TMK1`, `FVEC`, `PDQF`, then frames per second, periods P, Fourier coefficients C,
feature dimension D and frame count as little-endian int32), then P int32 periods, C float32
coefficients, the D-float "pure average" PDQF feature, and P x C x D cosine then sine
features. Two videos are compared in two levels, as `tmk-query` does:

- level 1: cosine similarity of the pure averages (cheap: a filter);
- level 2: the temporal match kernel at the best offset modulo each period (the
  reference's `computeLevel2Score`, vectorised here over the offsets).

Both published thresholds are 0.7 (tmk/cpp/bin/tmk_default_thresholds.h); a pair is a match
when level 1 >= 0.7 and level 2 >= 0.7. python-threatexchange has no TMK signal type (its
extensions README lists `tmk_pdqf` as the planned name); that name is used here.

Pure: bytes in, arrays and floats out. Hashing a file lives in pipeline/io/signatures.py.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

TMK = "tmk_pdqf"
TMK_LEVEL1_THRESHOLD = 0.7
TMK_LEVEL2_THRESHOLD = 0.7
TMK_MAGIC = b"TMK1FVEC"
_HEADER = struct.Struct("<4s4s4s5i")  # 32 bytes
_MAX_DIMENSION = 1 << 16  # a sane ceiling on P, C and D: a hostile header allocates nothing


class TmkError(ValueError):
    """Bytes that are not a TMK+PDQF feature-vector file."""


@dataclass(frozen=True, eq=False)
class TmkSignature:
    """One video's TMK+PDQF feature vectors (arrays are float32, read-only)."""

    frames_per_second: int
    frame_count: int
    periods: np.ndarray  # (P,) int32
    coefficients: np.ndarray  # (C,) float32
    pure_average: np.ndarray  # (D,)
    cos: np.ndarray  # (P, C, D)
    sin: np.ndarray  # (P, C, D)

    @property
    def normalizer(self) -> float:
        """The reference's pair-score normaliser: c0 + 2 * (c1 + ... + c_{C-1})."""
        c = self.coefficients
        return float(c[0] + 2.0 * c[1:].sum()) if len(c) else 1.0


def is_tmk(data: bytes) -> bool:
    return data[: len(TMK_MAGIC)] == TMK_MAGIC


def parse_tmk(data: bytes) -> TmkSignature:
    """A `.tmk` file's bytes as arrays; raises TmkError when they are not one (wrong magic,
    another frame algorithm, sizes that do not add up)."""
    if len(data) < _HEADER.size:
        raise TmkError(f"a TMK file has a {_HEADER.size}-byte header; got {len(data)} bytes")
    project, filetype, algorithm, fps, periods, coeffs, dim, count = _HEADER.unpack_from(data)
    if project + filetype != TMK_MAGIC:
        raise TmkError("not a TMK feature-vector file (no TMK1FVEC magic)")
    if algorithm != b"PDQF":
        raise TmkError(f"TMK frame algorithm {algorithm!r} is not PDQF")
    if not all(0 <= n <= _MAX_DIMENSION for n in (periods, coeffs, dim)) or dim == 0:
        raise TmkError(f"TMK sizes out of range: P={periods} C={coeffs} D={dim}")
    floats = coeffs + dim + 2 * periods * coeffs * dim
    want = _HEADER.size + 4 * periods + 4 * floats
    if len(data) != want:
        raise TmkError(f"a TMK file with P={periods} C={coeffs} D={dim} is {want} bytes")
    offset = _HEADER.size
    period_values = np.frombuffer(data, "<i4", periods, offset)
    body = np.frombuffer(data, "<f4", floats, offset + 4 * periods)
    if np.any(period_values <= 0) or not np.all(np.isfinite(body)):
        raise TmkError("TMK periods must be positive and features finite")
    block = periods * coeffs * dim
    rest = body[coeffs + dim :]
    return TmkSignature(
        int(fps),
        int(count),
        period_values,
        body[:coeffs],
        body[coeffs : coeffs + dim],
        rest[:block].reshape(periods, coeffs, dim),
        rest[block:].reshape(periods, coeffs, dim),
    )


def compatible(a: TmkSignature, b: TmkSignature) -> bool:
    """Same frame rate, periods and coefficients: the reference refuses to score others."""
    return (
        a.frames_per_second == b.frames_per_second
        and np.array_equal(a.periods, b.periods)
        and np.array_equal(a.coefficients, b.coefficients)
        and a.pure_average.shape == b.pure_average.shape
    )


def level1(a: TmkSignature, b: TmkSignature) -> float:
    """Cosine similarity of the pure-average features (0 when one is all zeros)."""
    norm = float(np.linalg.norm(a.pure_average) * np.linalg.norm(b.pure_average))
    return float(np.dot(a.pure_average, b.pure_average) / norm) if norm else 0.0


def level2(a: TmkSignature, b: TmkSignature) -> float:
    """The temporal match kernel at the best offset, max over periods, normalised: the
    reference's `TMKFeatureVectors::computeLevel2Score(a, b)`."""
    if not compatible(a, b):
        raise TmkError("TMK signatures with other periods or coefficients cannot be compared")
    if not len(a.periods) or not len(a.coefficients):
        return 0.0
    cos_cos = np.einsum("pcd,pcd->pc", a.cos, b.cos, dtype=np.float64)
    sin_sin = np.einsum("pcd,pcd->pc", a.sin, b.sin, dtype=np.float64)
    sin_cos = np.einsum("pcd,pcd->pc", a.sin, b.cos, dtype=np.float64)
    cos_sin = np.einsum("pcd,pcd->pc", a.cos, b.sin, dtype=np.float64)
    best = []
    for i, period in enumerate(a.periods.tolist()):
        cosines, sines = _basis(period, len(a.coefficients))
        kernel = cos_cos[i, 0] + cosines @ (cos_cos[i, 1:] + sin_sin[i, 1:])
        kernel += sines @ (sin_cos[i, 1:] - cos_sin[i, 1:])
        best.append(float(kernel.max()))
    return max(best) / a.normalizer


@lru_cache(maxsize=32)
def _basis(period: int, coefficients: int) -> tuple[np.ndarray, np.ndarray]:
    """cos(j * delta) and sin(j * delta) for every offset delta = 2 pi k / period and
    j = 1..C-1: the same for every pair of signatures, so computed once per period."""
    delta = 2.0 * np.pi * np.arange(period, dtype=np.float64) / period
    angles = np.outer(delta, np.arange(1, coefficients, dtype=np.float64))
    cosines, sines = np.cos(angles), np.sin(angles)
    cosines.setflags(write=False)
    sines.setflags(write=False)
    return cosines, sines


@dataclass(frozen=True)
class TmkScores:
    level1: float
    level2: float


def tmk_match(
    a: TmkSignature,
    b: TmkSignature,
    level1_threshold: float = TMK_LEVEL1_THRESHOLD,
    level2_threshold: float = TMK_LEVEL2_THRESHOLD,
) -> TmkScores | None:
    """Both scores when the pair passes both thresholds (level 2 only computed past level
    1, as the reference's query does); None otherwise or when incompatible."""
    if not compatible(a, b):
        return None
    first = level1(a, b)
    if first < level1_threshold:
        return None
    second = level2(a, b)
    return TmkScores(first, second) if second >= level2_threshold else None
