"""Local features for what global hashes cannot see: crops, heavy watermarks, stacked edits.

A global hash (PDQ, pHash) changes completely when a repost is cropped by 5-25% (thorn's
benchmark: PDQ recall 9% at a 5% crop), so crops are found by local features: SIFT keypoints
of the stored frames vote for candidate pairs, and a candidate is confirmed only when a
RANSAC homography maps one picture onto the other AND the warped pixels agree (normalised
cross-correlation over the overlap, few disagreeing blocks). REFERENCES.md: a plausible
homography alone let different objects on one background through (precision 0.42); the
pixel check removed every false merge.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

SIFT_FEATURES = 300  # per frame: enough for a 25% crop of a 320-px picture to keep dozens
QUERY_BATCH_DESCRIPTORS = 16_384  # descriptors per search call: ~8 MB of float32 queries
# Exact k-NN up to here (~250 frames): a full search of 58k descriptors took 25 s exact on 2
# cores and 3.7 s with IVF, which found 1,195 of the exact search's 1,196 candidate pairs.
EXACT_SEARCH_MAX_DESCRIPTORS = 65_536
IVF_PROBES = 16  # inverted lists searched per query
IVF_LIST_SIZE = 256  # descriptors per inverted list: a query scans ~4k whatever the archive
INDEX_MAGIC = b"crosscheck-sift-index-1\n"
RETRAIN_GROWTH = 4  # the lists are trained again once the index holds 4x their training
IVF_TRAIN_PER_LIST = 40  # k-means training points per list (faiss warns below 39)
IVF_TRAIN_ITERATIONS = 10  # measured on 397k descriptors: recall@8 0.937 (25 iterations: 0.938)


@dataclass(frozen=True)
class Features:
    points: np.ndarray  # (n, 2) float32, pixel coordinates in the stored frame
    descriptors: np.ndarray  # (n, 128) uint8 (OpenCV's SIFT values are 0..255)

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def to_bytes(self) -> tuple[bytes, bytes]:
        return self.points.astype(np.float32).tobytes(), self.descriptors.astype(np.uint8).tobytes()

    @classmethod
    def from_bytes(cls, points: bytes, descriptors: bytes) -> Features:
        pts = np.frombuffer(points, np.float32).reshape(-1, 2)
        return cls(pts, np.frombuffer(descriptors, np.uint8).reshape(-1, 128))


@dataclass(frozen=True)
class VerifyRules:
    min_inliers: int = 12
    min_ncc: float = 0.9
    max_bad_blocks: float = 0.1
    min_overlap: float = 0.3  # of the smaller picture's area
    # A textured block (both sides' grey std >= STRUCTURE_MIN_STD) whose own correlation is
    # below this disagrees: different things in front of one backdrop, a different picture
    # inside one page template keep block means and spreads alike but not their structure.
    # 0 turns the structure test off.
    block_min_ncc: float = 0.0


@dataclass(frozen=True)
class Verification:
    confirmed: bool
    inliers: int
    ncc: float
    bad_blocks: float
    overlap: float
    mirrored: bool = False


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def sift_features(rgb: np.ndarray, max_points: int = SIFT_FEATURES) -> Features:
    sift = cv2.SIFT_create(nfeatures=max_points)  # type: ignore[attr-defined]
    keypoints, descriptors = sift.detectAndCompute(grey(rgb), None)
    if descriptors is None or not keypoints:
        return Features(np.zeros((0, 2), np.float32), np.zeros((0, 128), np.uint8))
    points = np.array([kp.pt for kp in keypoints], np.float32)
    return Features(points, np.clip(descriptors, 0, 255).astype(np.uint8))


def _ratio_matches(a: Features, b: Features, ratio: float = 0.75) -> list[tuple[int, int]]:
    if len(a) < 2 or len(b) < 2:
        return []
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    pairs = matcher.knnMatch(
        a.descriptors.astype(np.float32), b.descriptors.astype(np.float32), k=2
    )
    return [
        (m.queryIdx, m.trainIdx)
        for m, n in (p for p in pairs if len(p) == 2)
        if m.distance < ratio * n.distance
    ]


STRUCTURE_MIN_STD = 12.0  # grey levels: below this a block is too plain to compare structure


def _pixel_agreement(
    a: np.ndarray,
    b: np.ndarray,
    homography: np.ndarray,
    block: int = 16,
    block_min_ncc: float = 0.0,
) -> tuple[float, float, float]:
    """(NCC over the overlap, fraction of disagreeing blocks, overlap / smaller area). A block
    disagrees when its mean or spread differs by more than 24 grey levels, or (block_min_ncc
    > 0) when both sides are textured and their correlation is below block_min_ncc."""
    height, width = a.shape[:2]
    warped = cv2.warpPerspective(b, homography, (width, height), flags=cv2.INTER_LINEAR)
    mask = (
        cv2.warpPerspective(
            np.full(b.shape[:2], 255, np.uint8),
            homography,
            (width, height),
            flags=cv2.INTER_NEAREST,
        )
        > 0
    )
    mask = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    area = int(mask.sum())
    overlap = area / min(a.shape[0] * a.shape[1], b.shape[0] * b.shape[1])
    if area < 64:
        return 0.0, 1.0, overlap
    x, y = a[mask].astype(np.float64), warped[mask].astype(np.float64)
    x, y = x - x.mean(), y - y.mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    ncc = float((x * y).sum() / denominator) if denominator > 0 else 0.0
    rows, cols = height // block, width // block
    if not rows or not cols:
        return ncc, 1.0, overlap

    def blocks(image: np.ndarray) -> np.ndarray:
        """(rows * cols, block * block): every whole block of the picture, row by row."""
        cut = image[: rows * block, : cols * block].astype(np.float64)
        return cut.reshape(rows, block, cols, block).swapaxes(1, 2).reshape(-1, block * block)

    inside = blocks(mask).mean(axis=1) >= 0.9
    pa, pb = blocks(a)[inside], blocks(warped)[inside]
    total = int(inside.sum())
    if not total:
        return ncc, 1.0, overlap
    mean_a, mean_b = pa.mean(axis=1), pb.mean(axis=1)
    std_a, std_b = pa.std(axis=1), pb.std(axis=1)
    bad_blocks = (np.abs(mean_a - mean_b) > 24) | (np.abs(std_a - std_b) > 24)
    if block_min_ncc:
        da, db = pa - mean_a[:, None], pb - mean_b[:, None]
        spread = np.sqrt((da * da).sum(axis=1) * (db * db).sum(axis=1))
        corr = (da * db).sum(axis=1) / np.where(spread > 0, spread, 1.0)
        textured = np.minimum(std_a, std_b) >= STRUCTURE_MIN_STD
        bad_blocks |= textured & (corr < block_min_ncc)
    bad = int(bad_blocks.sum())
    return ncc, bad / total, overlap


def verify(
    a_rgb: np.ndarray, a: Features, b_rgb: np.ndarray, b: Features, rules: VerifyRules
) -> Verification:
    """Does b show (part of) the same picture as a? Homography by RANSAC, then pixels."""
    pairs = _ratio_matches(a, b)
    if len(pairs) < rules.min_inliers:
        return Verification(False, len(pairs), 0.0, 1.0, 0.0)
    src = b.points[[j for _, j in pairs]].astype(np.float32).reshape(-1, 1, 2)
    dst = a.points[[i for i, _ in pairs]].astype(np.float32).reshape(-1, 1, 2)
    homography, inlier_mask = cv2.findHomography(src, dst, cv2.RANSAC, 4.0)
    inliers = int(inlier_mask.sum()) if inlier_mask is not None else 0
    if homography is None or inliers < rules.min_inliers or not _plausible(homography):
        return Verification(False, inliers, 0.0, 1.0, 0.0)
    ncc, bad, overlap = _pixel_agreement(
        grey(a_rgb), grey(b_rgb), homography, block_min_ncc=rules.block_min_ncc
    )
    confirmed = (
        ncc >= rules.min_ncc and bad <= rules.max_bad_blocks and overlap >= rules.min_overlap
    )
    return Verification(confirmed, inliers, round(ncc, 4), round(bad, 4), round(overlap, 4))


def _plausible(homography: np.ndarray) -> bool:
    """Reposts scale, crop and shift; they do not shear, flip or project wildly."""
    affine = homography[:2, :2] / homography[2, 2]
    det = float(np.linalg.det(affine))
    perspective = float(np.abs(homography[2, :2]).max() / abs(homography[2, 2]))
    return 0.05 < det < 20.0 and perspective < 2e-3


def candidate_pairs(
    features: list[Features],
    keys: list[tuple[str, int]],
    queries: list[int],
    min_votes: int,
    max_l2: float,
    neighbours: int = 8,
    exact_up_to: int = EXACT_SEARCH_MAX_DESCRIPTORS,
) -> list[tuple[int, int]]:
    """Pairs (query position, other position) of frames of different media sharing at least
    min_votes close descriptors: a k-NN over every descriptor (faiss), voting by frame.

    Up to exact_up_to stored descriptors (an incident: hundreds of frames) the search is
    exact. Above it, every query against every descriptor grows with the square of the
    collection (3,300 frames: well over 10 minutes on 2 cores), so an inverted-file index
    answers instead (`DescriptorIndex`): it misses a few of a descriptor's nearest
    neighbours, and a true crop shares dozens to hundreds of descriptors against the
    min_votes it needs, while every candidate is still confirmed by homography and pixels.
    """
    index = DescriptorIndex.build(features, keys, exact_up_to)
    found = index.pairs([(q, features[q]) for q in queries], min_votes, max_l2, neighbours)
    return sorted(found)


class DescriptorIndex:
    """Every searched frame's SIFT descriptors, kept between dedupe runs so that a run adds
    and searches its new frames only (the index file under DIR/processed/index).

    Exact (flat) up to exact_up_to descriptors; above, an inverted-file index of about
    IVF_LIST_SIZE descriptors per list with IVF_PROBES lists probed: a query scans ~4k
    descriptors however large the archive (with about sqrt(n) lists it scanned 16 sqrt(n),
    and a full run grew as n^1.5), plus the n / IVF_LIST_SIZE list centres, the part that
    still grows (it passes the lists' share near 10^6 descriptors, some 7,000 media). The
    lists are trained once and kept; retrained (from the stored vectors) when the index
    outgrows its training RETRAIN_GROWTH times.
    Deterministic: k-means is seeded and trained on an evenly spaced sample, and vectors
    keep the order they were added in (a full run adds them in catalog order).
    """

    def __init__(
        self, index: Any, owners: np.ndarray, keys: list[tuple[str, int]], trained_for: int
    ) -> None:
        self._index = index
        self._owners = owners  # vector -> frame number (position in keys)
        self.keys = keys  # frame number -> (media_id, frame_index)
        self._trained_for = trained_for  # vectors the IVF lists were trained on (0: flat)
        self._exact_up_to = EXACT_SEARCH_MAX_DESCRIPTORS

    @classmethod
    def build(
        cls,
        features: list[Features],
        keys: list[tuple[str, int]],
        exact_up_to: int = EXACT_SEARCH_MAX_DESCRIPTORS,
    ) -> DescriptorIndex:
        empty = cls(_flat_index(), np.zeros(0, np.int64), [], 0)
        empty._exact_up_to = exact_up_to
        empty.add(features, keys)
        return empty

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, features: list[Features], keys: list[tuple[str, int]]) -> None:
        """Append these frames' descriptors (retraining the lists when the index outgrows
        them; a flat index past exact_up_to becomes inverted-file)."""
        if not keys:
            return
        first = len(self.keys)
        self.keys = [*self.keys, *keys]
        owners = [np.full(len(f), first + i, np.int64) for i, f in enumerate(features)]
        self._owners = np.concatenate([self._owners, *owners])
        vectors = np.concatenate(
            [f.descriptors for f in features] or [np.zeros((0, 128), np.uint8)]
        ).astype(np.float32)
        total = len(self) + len(vectors)
        flat = self._trained_for == 0
        if (flat and total > self._exact_up_to) or (
            not flat and total > RETRAIN_GROWTH * self._trained_for
        ):
            stored = self._vectors()
            self._index = _trained_index(np.concatenate([stored, vectors]))
            self._index.add(stored)
            self._trained_for = total
        if len(vectors):
            self._index.add(vectors)

    def _vectors(self) -> np.ndarray:
        """Every stored vector, in the order added."""
        if not len(self):
            return np.zeros((0, 128), np.float32)
        if self._trained_for:
            self._index.make_direct_map()
        return np.asarray(self._index.reconstruct_n(0, len(self)), np.float32)

    def pairs(
        self,
        queries: list[tuple[int, Features]],
        min_votes: int,
        max_l2: float,
        neighbours: int = 8,
    ) -> set[tuple[int, int]]:
        """(smaller, larger) frame numbers of frames of different media sharing at least
        min_votes close descriptors, for queries (frame number, its features): frames
        already added."""
        pairs: set[tuple[int, int]] = set()
        if not len(self):
            return pairs
        k = min(neighbours, len(self))
        asking = [(q, f) for q, f in queries if len(f)]
        # Queries go in batches of frames: every search call streams the whole database
        # through memory, so one call per frame made the full run's search memory-bound
        # (results are the same k-NN either way).
        start = 0
        while start < len(asking):
            batch: list[tuple[int, Features]] = []
            size = 0
            while start < len(asking) and (not batch or size < QUERY_BATCH_DESCRIPTORS):
                batch.append(asking[start])
                size += len(asking[start][1])
                start += 1
            distances, hits = self._index.search(
                np.concatenate([f.descriptors for _, f in batch]).astype(np.float32), k
            )
            row = 0
            for query, found in batch:
                n = len(found)
                _vote(
                    query,
                    distances[row : row + n],
                    hits[row : row + n],
                    self._owners,
                    self.keys,
                    max_l2,
                    min_votes,
                    pairs,
                )
                row += n
        return pairs

    def to_bytes(self) -> bytes:
        """MAGIC, a JSON header (keys, training), the owners (int64), faiss's own bytes:
        the same index always gives the same bytes."""
        import faiss

        header = json.dumps(
            {
                "keys": self.keys,
                "trained_for": self._trained_for,
                "exact_up_to": self._exact_up_to,
                "vectors": len(self._owners),
            }
        ).encode()
        return b"".join(
            [
                INDEX_MAGIC,
                len(header).to_bytes(8, "little"),
                header,
                self._owners.astype("<i8").tobytes(),
                faiss.serialize_index(self._index).data,  # joined without a copy
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> DescriptorIndex:
        """Raises ValueError for bytes that are not an index `to_bytes` wrote."""
        import faiss

        if not data.startswith(INDEX_MAGIC):
            raise ValueError("not a descriptor index")
        at = len(INDEX_MAGIC)
        size = int.from_bytes(data[at : at + 8], "little")
        header = json.loads(data[at + 8 : at + 8 + size])
        at += 8 + size
        vectors = int(header["vectors"])
        view = memoryview(data)  # slices without copying (the index is most of the bytes)
        owners = np.frombuffer(view[at : at + 8 * vectors], "<i8").astype(np.int64)
        faiss_bytes = np.frombuffer(view[at + 8 * vectors :], np.uint8)
        index = cls(
            faiss.deserialize_index(faiss_bytes),
            owners,
            [(str(m), int(f)) for m, f in header["keys"]],
            int(header["trained_for"]),
        )
        index._exact_up_to = int(header["exact_up_to"])
        if index._trained_for:
            index._index.nprobe = min(IVF_PROBES, index._index.nlist)
        if len(index) != vectors or (vectors and int(owners.max()) >= len(index.keys)):
            raise ValueError("descriptor index: vectors and owners disagree")
        return index


def _flat_index() -> Any:
    import faiss

    return faiss.IndexFlatL2(128)


def _trained_index(vectors: np.ndarray) -> Any:
    """An inverted-file index (about IVF_LIST_SIZE vectors per list) trained on an evenly
    spaced sample of vectors; empty."""
    import faiss

    lists = max(16, len(vectors) // IVF_LIST_SIZE)
    quantizer = faiss.IndexFlatL2(128)
    index = faiss.IndexIVFFlat(quantizer, 128, lists)
    index.cp.seed = 1234
    index.cp.niter = IVF_TRAIN_ITERATIONS
    step = max(1, len(vectors) // (lists * IVF_TRAIN_PER_LIST))
    index.train(vectors[::step])
    index.nprobe = min(IVF_PROBES, lists)
    return index


def _vote(
    query: int,
    distances: np.ndarray,
    hits: np.ndarray,
    owners: np.ndarray,
    keys: list[tuple[str, int]],
    max_l2: float,
    min_votes: int,
    pairs: set[tuple[int, int]],
) -> None:
    """Each of the query frame's descriptors votes once for every other media's frame it has
    a close neighbour in; frames with at least min_votes become candidate pairs."""
    votes: dict[int, int] = {}
    for row_d, row_h in zip(distances, hits, strict=True):
        seen = set()
        for d, h in zip(row_d, row_h, strict=True):
            if h < 0 or d > max_l2 * max_l2:
                continue
            owner = int(owners[h])
            if keys[owner][0] != keys[query][0] and owner not in seen:
                seen.add(owner)
                votes[owner] = votes.get(owner, 0) + 1
    for owner, count in votes.items():
        if count >= min_votes:
            pairs.add((min(query, owner), max(query, owner)))


def verify_aligned(a_rgb: np.ndarray, b_rgb: np.ndarray, rules: VerifyRules) -> Verification:
    """For frames expected to show the same moment (on a confirmed pair's time offset) but
    too plain for keypoints: align b onto a by intensity (ECC, affine) and check the pixels
    as `verify` does. Never used to find pairs, only to extend a confirmed one."""
    a, b = grey(a_rgb), grey(b_rgb)
    scale_x, scale_y = a.shape[1] / b.shape[1], a.shape[0] / b.shape[0]
    warp = np.array([[scale_x, 0, 0], [0, scale_y, 0]], np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
    try:
        _, warp = cv2.findTransformECC(  # type: ignore[call-overload]
            a.astype(np.float32), b.astype(np.float32), warp, cv2.MOTION_AFFINE, criteria, None, 5
        )
    except cv2.error:
        return Verification(False, 0, 0.0, 1.0, 0.0)
    # findTransformECC maps a's coordinates into b; invert for b onto a.
    homography = np.linalg.inv(np.vstack([warp, [0.0, 0.0, 1.0]]))
    if not _plausible(homography):
        return Verification(False, 0, 0.0, 1.0, 0.0)
    # No structure test here: frames aligned by intensity are moments of one footage a
    # fraction of a second apart (motion changes their blocks), already tied by a time offset.
    ncc, bad, overlap = _pixel_agreement(a, b, homography)
    confirmed = (
        ncc >= rules.min_ncc and bad <= rules.max_bad_blocks and overlap >= rules.min_overlap
    )
    return Verification(confirmed, 0, round(ncc, 4), round(bad, 4), round(overlap, 4))
