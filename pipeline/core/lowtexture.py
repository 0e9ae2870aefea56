"""Low-texture pictures: the one place pHash is read.

PDQ rates its own hash: below a quality of 50 (dedupe's `pdq_quality_min`, ThreatExchange's
advice) the picture is too plain for its bits to mean anything, and such frames never enter
the PDQ index. A dark, low-contrast photo (fog over water at dusk) is such a picture, and so
are all its reposts: issue 15's independent corpus lost all seven reposts of one. pHash (64
bits of the lowest DCT frequencies of the 32-px luma square, imagehash's) keeps the coarse
layout of a plain picture, so it proposes candidates, and the crop path's verification
decides, on both pictures stretched to full contrast first (SIFT finds few keypoints in a
picture that uses 40 grey levels, and the pixel check's 24-level tolerance would pass any two
dark pictures).

Measured on the synthetic family's first dark photo (a development run at scale 0.3): its
reposts were 0-12 bits from it in mirror-invariant pHash, a 10% crop 16, the nearest unrelated
frame 18-22 bits. A near-featureless picture (a handful of keypoints even stretched) is out
of reach: its pHash is unstable (14-26 bits from its copies) and nothing can verify it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np

from pipeline.core.keypoints import Features, VerifyRules, sift_features, verify
from pipeline.core.records import FrameKey

PictureLoader = Callable[[FrameKey], np.ndarray]

PHASH_MAX_DISTANCE = 16  # bits of 64, mirror-invariant: a candidate, never a match by itself
CANDIDATES_PER_FRAME = 8  # nearest first: a plain picture is near many plain pictures
STRETCH_PERCENTILES = (1.0, 99.0)  # grey levels mapped to 0 and 255 (a caption is outside)


@dataclass(frozen=True)
class PlainFrame:
    """What the path needs of a frame: its pHash and mirror's (8 bytes each), and whether
    its PDQ quality is below the minimum (a frame the PDQ index leaves out)."""

    phash: bytes
    phash_mirror: bytes
    low_quality: bool


def _bits(values: Sequence[bytes]) -> np.ndarray:
    return np.unpackbits(np.frombuffer(b"".join(values), np.uint8).reshape(-1, 8), axis=1)


def candidates(
    frames: Mapping[FrameKey, PlainFrame],
    new_media: AbstractSet[str],
    linked_media: AbstractSet[tuple[str, str]],
) -> list[tuple[FrameKey, FrameKey]]:
    """Pairs (sorted) of frames of two media not linked yet, one of them below the PDQ
    quality minimum and one of them of a new media, within PHASH_MAX_DISTANCE bits
    (mirror-invariant); at most CANDIDATES_PER_FRAME per low-quality frame, nearest first."""
    keys = sorted(frames)
    low = [i for i, key in enumerate(keys) if frames[key].low_quality]
    if not low:
        return []
    plain = _bits([frames[k].phash for k in keys])
    mirror = _bits([frames[k].phash_mirror for k in keys])
    pairs: set[tuple[FrameKey, FrameKey]] = set()
    for i in low:
        distance = np.minimum((plain != plain[i]).sum(axis=1), (mirror != plain[i]).sum(axis=1))
        near = [
            j
            for j in np.argsort(distance, kind="stable")
            if distance[j] <= PHASH_MAX_DISTANCE and keys[j][0] != keys[i][0]
        ]
        taken = 0
        for j in near:
            a, b = sorted((keys[i], keys[int(j)]))
            if (a[0], b[0]) in linked_media or not {a[0], b[0]} & new_media:
                continue
            pairs.add((a, b))
            taken += 1
            if taken == CANDIDATES_PER_FRAME:
                break
    return sorted(pairs)


def stretched(rgb: np.ndarray) -> np.ndarray:
    """The picture with its grey levels between STRETCH_PERCENTILES mapped to 0-255."""
    low, high = np.percentile(rgb, STRETCH_PERCENTILES)
    if high - low < 1:
        return rgb
    scaled = (rgb.astype(np.float32) - low) * (255.0 / (high - low))
    return np.clip(scaled, 0, 255).astype(np.uint8)


def confirmed(
    pairs: Sequence[tuple[FrameKey, FrameKey]], pictures: PictureLoader, rules: VerifyRules
) -> list[tuple[FrameKey, FrameKey]]:
    """The candidate pairs that keypoints, homography and pixels confirm on the stretched
    pictures (with the structure test: no intensity alignment, which any two plain pictures
    could pass)."""
    cache: dict[FrameKey, tuple[np.ndarray, Features]] = {}

    def seen(key: FrameKey) -> tuple[np.ndarray, Features]:
        if key not in cache:
            picture = stretched(pictures(key))
            cache[key] = (picture, sift_features(picture))
        return cache[key]

    found = []
    for a, b in pairs:
        (pic_a, feat_a), (pic_b, feat_b) = seen(a), seen(b)
        same = verify(pic_a, feat_a, pic_b, feat_b, rules).confirmed
        if not same:
            flipped = np.ascontiguousarray(pic_b[:, ::-1])
            same = verify(pic_a, feat_a, flipped, sift_features(flipped), rules).confirmed
        if same:
            found.append((a, b))
    return found
