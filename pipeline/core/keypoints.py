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
import math
from dataclasses import dataclass, field, replace
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
    # Of the blocks that carry content (textured on either side), at least this fraction must
    # agree: plain page chrome or sky agrees trivially and must not outvote a different
    # picture or object in front. 0 turns the rule off.
    min_agreement: float = 0.0


@dataclass(frozen=True)
class Verification:
    confirmed: bool
    inliers: int
    ncc: float
    bad_blocks: float
    overlap: float
    mirrored: bool = False
    # Evidence beyond the decision (match_evidence in matches.csv, issue 15): the fraction of
    # content blocks (textured on either side) that agree after the warp, and how much of
    # each picture the matched region (the inliers' convex hull) covers.
    agreement: float = 0.0
    coverage_a: float = 0.0
    coverage_b: float = 0.0
    # b's frame maps onto a's corner to corner (within IN_PLACE_TOLERANCE of each side):
    # framed alike, as screenshots of one page are, so a shared template could explain it.
    in_place: bool = False
    # Maps b onto a (None when no plausible one was found); core/subimage measures coverage.
    homography: np.ndarray | None = field(default=None, compare=False, repr=False)

    def one_scene(self, rules: VerifyRules) -> bool:
        """Not the same picture, but one scene: a plausible homography maps most of each
        picture onto the other and most content blocks agree, while some differ beyond the
        rules (people who moved in front of a static camera, a second viewpoint)."""
        return (
            not self.confirmed
            and self.inliers >= rules.min_inliers
            and min(self.coverage_a, self.coverage_b) >= SCENE_MIN_COVERAGE
            and self.agreement >= SCENE_MIN_AGREEMENT
        )


# A different moment of one static camera, or a second viewpoint, aligns over most of both
# pictures (the matched region covers this much of each) and most content agrees.
SCENE_MIN_COVERAGE = 0.5
SCENE_MIN_AGREEMENT = 0.75


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


@dataclass(frozen=True)
class Pixels:
    """Pixel agreement after a warp: NCC over the overlap, fraction of disagreeing blocks,
    overlap / smaller area, and the fraction of content blocks (textured on either side, or
    disagreeing) that agree (1.0 when no block carries content)."""

    ncc: float
    bad: float
    overlap: float
    agreement: float = 1.0


def _pixel_agreement(
    a: np.ndarray,
    b: np.ndarray,
    homography: np.ndarray,
    block: int = 16,
    block_min_ncc: float = 0.0,
) -> Pixels:
    """Pixels of b warped onto a, compared block by block. A block disagrees when its mean or
    spread differs by more than 24 grey levels, or (block_min_ncc > 0) when both sides are
    textured and their correlation is below block_min_ncc."""
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
        return Pixels(0.0, 1.0, overlap, 0.0)
    x, y = a[mask].astype(np.float64), warped[mask].astype(np.float64)
    x, y = x - x.mean(), y - y.mean()
    denominator = float(np.sqrt((x * x).sum() * (y * y).sum()))
    ncc = float((x * y).sum() / denominator) if denominator > 0 else 0.0
    rows, cols = height // block, width // block
    if not rows or not cols:
        return Pixels(ncc, 1.0, overlap, 0.0)

    def blocks(image: np.ndarray) -> np.ndarray:
        """(rows * cols, block * block): every whole block of the picture, row by row."""
        cut = image[: rows * block, : cols * block].astype(np.float64)
        return cut.reshape(rows, block, cols, block).swapaxes(1, 2).reshape(-1, block * block)

    inside = blocks(mask).mean(axis=1) >= 0.9
    pa, pb = blocks(a)[inside], blocks(warped)[inside]
    total = int(inside.sum())
    if not total:
        return Pixels(ncc, 1.0, overlap, 0.0)
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
    # Content: blocks textured on either side, or plain blocks that differ (a flat picture
    # where the other shows another); plain blocks alike on both sides prove nothing.
    content = (np.maximum(std_a, std_b) >= STRUCTURE_MIN_STD) | bad_blocks
    agreement = float((content & ~bad_blocks).sum() / content.sum()) if content.any() else 1.0
    return Pixels(ncc, bad / total, overlap, agreement)


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
    pixels = _pixel_agreement(
        grey(a_rgb), grey(b_rgb), homography, block_min_ncc=rules.block_min_ncc
    )
    keep = inlier_mask.ravel().astype(bool)
    verdict = _verdict(
        pixels,
        rules,
        inliers,
        hull_coverage(dst.reshape(-1, 2)[keep], a_rgb.shape),
        hull_coverage(src.reshape(-1, 2)[keep], b_rgb.shape),
    )
    return replace(
        verdict,
        in_place=_in_place(homography, a_rgb.shape, b_rgb.shape),
        homography=homography,
    )


IN_PLACE_TOLERANCE = 0.05  # of each side


def _in_place(homography: np.ndarray, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> bool:
    """Do b's corners land on a's corners?"""
    (ha, wa), (hb, wb) = a_shape[:2], b_shape[:2]
    corners = np.array([[0, 0], [wb, 0], [wb, hb], [0, hb]], np.float32).reshape(-1, 1, 2)
    landed = cv2.perspectiveTransform(corners, homography).reshape(-1, 2)
    target = np.array([[0, 0], [wa, 0], [wa, ha], [0, ha]], np.float32)
    return bool((np.abs(landed - target) <= IN_PLACE_TOLERANCE * np.array([wa, ha])).all())


def hull_coverage(points: np.ndarray, shape: tuple[int, ...]) -> float:
    """The fraction of a picture the convex hull of these points covers: how much of it the
    matched region is (a crop's inliers cover most of the crop; a shared backdrop's, only
    the backdrop)."""
    if len(points) < 3:
        return 0.0
    hull = cv2.convexHull(points.astype(np.float32))
    return min(1.0, float(cv2.contourArea(hull)) / float(shape[0] * shape[1]))


def _verdict(
    pixels: Pixels, rules: VerifyRules, inliers: int, coverage_a: float, coverage_b: float
) -> Verification:
    """The rules on the pixel evidence, with the evidence kept for the relation."""
    confirmed = (
        pixels.ncc >= rules.min_ncc
        and pixels.bad <= rules.max_bad_blocks
        and pixels.overlap >= rules.min_overlap
        and pixels.agreement >= rules.min_agreement
    )
    return Verification(
        confirmed,
        inliers,
        round(pixels.ncc, 4),
        round(pixels.bad, 4),
        round(pixels.overlap, 4),
        agreement=round(pixels.agreement, 4),
        coverage_a=round(coverage_a, 4),
        coverage_b=round(coverage_b, 4),
    )


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
    searched: int | None = None,
) -> list[tuple[int, int]]:
    """Pairs (query position, other position) of frames of different media sharing at least
    min_votes close descriptors: a k-NN over every descriptor (faiss), voting by frame.
    `searched`: only the first that many frames are searched (queries may lie beyond: the
    views of core/subimage are asked, never answered).

    Up to exact_up_to stored descriptors (an incident: hundreds of frames) the search is
    exact. Above it, every query against every descriptor grows with the square of the
    collection (3,300 frames: well over 10 minutes on 2 cores), so an inverted-file index
    answers instead (faiss IVF, about sqrt(n) lists, IVF_PROBES probed; the dedupe crop
    path keeps its own between runs, `DescriptorIndex`): it misses a few of a descriptor's nearest
    neighbours, and a true crop shares dozens to hundreds of descriptors against the
    min_votes it needs, while every candidate is still confirmed by homography and pixels.
    """
    stored = features if searched is None else features[:searched]
    owners = np.concatenate(
        [np.full(len(f), i, np.int64) for i, f in enumerate(stored)] or [np.zeros(0, np.int64)]
    )
    if owners.size == 0:
        return []
    vectors = np.concatenate([f.descriptors for f in stored]).astype(np.float32)
    index = _descriptor_index(vectors, exact_up_to)
    pairs: set[tuple[int, int]] = set()
    k = min(neighbours, len(vectors))
    asking = [query for query in queries if len(features[query])]
    # Queries go in batches of frames: every search call streams the whole database through
    # memory, so one call per frame made the full run's search memory-bound (results are
    # the same exact k-NN either way).
    start = 0
    while start < len(asking):
        batch: list[int] = []
        size = 0
        while start < len(asking) and (not batch or size < QUERY_BATCH_DESCRIPTORS):
            batch.append(asking[start])
            size += len(features[asking[start]])
            start += 1
        distances, hits = index.search(
            np.concatenate([features[q].descriptors for q in batch]).astype(np.float32), k
        )
        row = 0
        for query in batch:
            n = len(features[query])
            _vote(
                query,
                distances[row : row + n],
                hits[row : row + n],
                owners,
                keys,
                max_l2,
                min_votes,
                pairs,
            )
            row += n
    return sorted(pairs)


def _descriptor_index(vectors: np.ndarray, exact_up_to: int) -> Any:
    """Exact (flat) for small collections, IVF above exact_up_to; deterministic either way:
    k-means is seeded and trained on an evenly spaced sample."""
    if len(vectors) <= exact_up_to:
        index = _flat_index()
    else:
        index = _trained_index(vectors, max(16, int(math.sqrt(len(vectors)))))
    index.add(vectors)
    return index


descriptor_index = _descriptor_index  # core/shared_regions searches the same way


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


def _trained_index(vectors: np.ndarray, lists: int = 0) -> Any:
    """An inverted-file index of `lists` lists (0: about IVF_LIST_SIZE vectors per list)
    trained on an evenly spaced sample of vectors; empty."""
    import faiss

    lists = lists or max(16, len(vectors) // IVF_LIST_SIZE)
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
    # The content rule (min_agreement) does not apply either, for the same reason.
    pixels = _pixel_agreement(a, b, homography)
    unruled = VerifyRules(rules.min_inliers, rules.min_ncc, rules.max_bad_blocks, rules.min_overlap)
    corners = np.array([[0, 0], [b.shape[1], 0], [b.shape[1], b.shape[0]], [0, b.shape[0]]])
    warped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2).astype(np.float32), homography)
    clipped = np.clip(warped.reshape(-1, 2), 0, [a.shape[1], a.shape[0]])
    back = cv2.perspectiveTransform(clipped.reshape(-1, 1, 2), np.linalg.inv(homography))
    return _verdict(
        pixels,
        unruled,
        0,
        hull_coverage(clipped, a.shape),
        hull_coverage(back.reshape(-1, 2), b.shape),
    )
