"""Perceptual hashes of one picture (a still or a sampled video frame), pure and fast.

Reposts of one picture differ by re-encoding, scaling, watermarks, mirroring and added
borders. A global hash survives the first four but not borders: thorn/perception's benchmark
(REFERENCES.md) found PDQ recall 1.3% on 20% padding. So every picture is first cut to its
content (`trim_borders`), then hashed with PDQ (256 bits, with a quality score) and
imagehash's pHash (64 bits), each also of the mirrored picture, because neither hash is
mirror-invariant. The mirror's hashes come from the picture's own DCT (mirroring flips the
signs of odd horizontal frequencies), once PDQ's blur is centred (`centre_for_pdq`).
Near-uniform pictures (black intros, fades, blank frames) all hash alike and would link
unrelated media, so they are flagged and never `matchable`.

Everything here takes arrays and returns frozen records: no files, no catalog.

    frame_hashes = hash_frame(rgb_frame, settings.default.hash)
    if frame_hashes.matchable and other.matchable and pdq_distance(frame_hashes, other) <= 31:
        ...  # the same picture, possibly mirrored, re-encoded, rescaled, padded, watermarked
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pdqhash
import scipy.fftpack

from pipeline.config import HashConfig
from pipeline.core.params import HASH_VERSION as HASH_VERSION  # re-exported

PDQ_BYTES = 32  # PDQ is 256 bits
PHASH_BYTES = 8  # imagehash.phash with its default hash_size: 8x8 bits

# HASH_VERSION (what hash_frame computes, versioned) lives in core/params beside the
# parameters hash it feeds, so that the frames stage need not import OpenCV to read it.

# Every trimmed picture is resampled to PDQ_SIDE_PX x PDQ_SIDE_PX before PDQ, for speed and
# for scale invariance. PDQ squeezes any picture to 64x64 itself (so the aspect ratio is lost
# anyway), with a two-pass box ("Jarosz") filter of ceil(side / 128) px: 1 px (no filtering)
# at 128, 2 px from 129 to 256 px. 2 px suits the 2.5 px decimation step from 160 px but
# under-filters the 4 px step from 256 px, so the same picture at two sizes hashes apart.
# Measured here over 17 scikit-image photos, worst PDQ distance to the original after
# JPEG 30 / a 30% resize / 20% black or white padding: 22 / 10 / 12 bits at 160 px,
# 28 / 18 / 12 at 192, 28 / 42 / 22 at 256, 36 / 48 / 26 at 128 (1 px window: aliasing);
# unrelated photos stay >= 94 bits apart at every size. pdqhash.compute takes ~0.6 ms on a
# 320x180 frame and ~0.3 ms on 160x160, most of it PDQ's C++ (~0.23 ms), the rest its
# wrapper's float64 luma (~0.07 ms); a square of another size or shape changes every stored
# PDQ (a 160 px wide, aspect-keeping fit measured ~0.6 ms a frame for everything, but moved
# a 30% resize of one sample photo to 34 bits).
#
# The mirror's PDQ is derived from the picture's DCT (`_pdq_and_mirror`), which is exact
# only for a mirror-symmetric blur: a 2 px box window has no centre pixel, so PDQ's filter
# sits half a pixel off centre in each of its two passes. Uncorrected, the flip missed PDQ
# of the mirrored square by 20-46 bits on 23 scikit-image pictures and by a median of 30
# (up to 76) on 61 frames of the frames benchmark, against a match threshold of 31;
# `centre_for_pdq` moves the square by the filter's one-column offset first (0-2 bits).
PDQ_SIDE_PX = 160

# imagehash.phash converts its input to luma ("L"), shrinks it to 32x32 (its hash_size 8
# times highfreq_factor 4) with PIL's Lanczos filter, which costs ~60 us from 80 px, the
# larger part of a pHash (measured here), and takes the median of the 8x8 lowest DCT
# frequencies. Handed a 32 px luma square, it converts and resizes nothing. That square is
# OpenCV's pixel-area average (5x5 means: no aliasing, and mirror-symmetric) of the luma
# of the PDQ square, the luma whose spread is `grey_std`: ~10 us. pHash ignores the aspect
# ratio too.
PHASH_SIZE = 8  # imagehash.phash's default hash_size: 8x8 bits
PHASH_SIDE_PX = 32  # its default highfreq_factor, 4, times PHASH_SIZE

# Border trimming. A padding bar, letterbox or screenshot bar is flat: PNG keeps it exact,
# and JPEG and H.264 code a block that lies wholly inside it as one flat colour. Real content
# that is merely dark or smooth (night sky, the moon's surface, a clear sky) is not: on the
# scikit-image sample photos at least 4% of every edge line's pixels stray more than
# tolerance/4 from the line's mean, JPEG or not. So a border starts at a flat outermost
# line and takes the lines within tolerance/4 of its colour ...
_FLAT_DIVISOR = 4
_OUTLIER_FRACTION = 0.01  # ... allowing 1% stray pixels (a speck, a JPEG artefact),
# ... and then runs on through at most 16 lines of JPEG ringing next to the picture (a 4:2:0
# JPEG MCU and an H.264 macroblock are 16 px, so ringing from the picture's edge reaches at
# most 15 px into the bar) as long as 90% of a line stays within `tolerance` of the border
# colour and an edge follows: measured here, black, white and grey bars at JPEG 30 keep
# >= 90% there up to the picture's edge (a saturated colour at JPEG <= 50 does not, and
# keeps up to 12 px of its bar), while the dark sky of `hubble_deep_field` keeps only
# 40-70% within 16 levels of black. Lines of the border's colour that run on past 16 lines
# are content (a grey picture on a grey pad), not ringing, and stay.
_SPILL_LINES = 16
_SPILL_FRACTION = 0.90
# Trimming the rows can expose bars among the columns and the other way round (a sidebar
# beside a title bar); a few passes reach the fixed point in every case seen here.
_MAX_TRIM_PASSES = 4


@dataclass(frozen=True)
class BorderBox:
    """The kept region of a frame, in input-pixel coordinates; right and bottom exclusive."""

    left: int
    top: int
    right: int
    bottom: int

    def __post_init__(self) -> None:
        if not (0 <= self.left < self.right and 0 <= self.top < self.bottom):
            raise ValueError(f"empty or negative box: {self}")

    @classmethod
    def full(cls, width: int, height: int) -> BorderBox:
        """The box of a width x height frame that nothing was trimmed from."""
        return cls(0, 0, width, height)

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def trims(self, width: int, height: int) -> bool:
        """True when this box cuts anything off a width x height frame."""
        return self != BorderBox.full(width, height)

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        """The kept region of `rgb`, as a view (no copy): callers must not write to it."""
        return rgb[self.top : self.bottom, self.left : self.right]


@dataclass(frozen=True)
class FrameHashes:
    """The hashes of one frame, after border trimming, and whether they may be matched.

    Hash bytes are in the canonical order: `pdq.hex()` is the 64-character hex string that
    ThreatExchange's PDQ tools print, `phash.hex()` the 16 characters of `str(imagehash)`.
    `quality_min` is the configured PDQ quality gate in force when the frame was hashed, so
    that `matchable` needs no configuration object.
    """

    pdq: bytes  # PDQ of the trimmed picture (32 bytes)
    pdq_mirror: bytes  # PDQ of the trimmed picture mirrored left to right (32 bytes)
    pdq_quality: int  # PDQ's own quality score, 0..100 (gradient energy of the 64x64 luma)
    phash: bytes  # imagehash's pHash of the trimmed picture (8 bytes)
    phash_mirror: bytes  # imagehash's pHash of its mirror image (8 bytes)
    box: BorderBox  # what was kept of the frame
    uniform: bool  # near-uniform picture (grey_std <= the configured maximum)
    grey_std: float  # standard deviation of the trimmed picture's luma, 0..255 scale
    quality_min: int  # PDQ quality below which the hash is too unreliable to match

    def __post_init__(self) -> None:
        for name, size in (
            ("pdq", PDQ_BYTES),
            ("pdq_mirror", PDQ_BYTES),
            ("phash", PHASH_BYTES),
            ("phash_mirror", PHASH_BYTES),
        ):
            value = getattr(self, name)
            if not isinstance(value, bytes) or len(value) != size:
                raise ValueError(f"{name} must be {size} bytes, got {value!r}")
        if not 0 <= self.pdq_quality <= 100:
            raise ValueError(f"pdq_quality must be 0..100, got {self.pdq_quality}")

    @property
    def matchable(self) -> bool:
        """Whether this frame may link two media: good PDQ quality and not near-uniform."""
        return self.pdq_quality >= self.quality_min and not self.uniform


def hash_frame(rgb: np.ndarray, config: HashConfig) -> FrameHashes:
    """Trim the borders of an HxWx3 uint8 RGB frame, then hash what is left.

    Any size is accepted (the frames stage hands over 320 px): the hashes and `grey_std` are
    computed on a PDQ_SIDE_PX square copy of the trimmed picture, so grain that averages
    away at that size does not count as content. Per 320x180 frame: ~0.3 ms for PDQ (one
    run gives both orientations), ~0.2 ms for the rest (trimming, squeezing, luma, pHash;
    measured here). The input is not modified.
    """
    _check_rgb(rgb)
    box = trim_borders(rgb, config.border_tolerance, config.border_max_fraction)
    small = _squeeze(box.crop(rgb), PDQ_SIDE_PX)
    pdq, pdq_mirror, quality = _pdq_and_mirror(small)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    grey_std = float(cv2.meanStdDev(grey)[1][0, 0])
    tiny = cv2.resize(grey, (PHASH_SIDE_PX, PHASH_SIDE_PX), interpolation=cv2.INTER_AREA)
    phash, phash_mirror = _phash_and_mirror(tiny)
    return FrameHashes(
        pdq=pdq,
        pdq_mirror=pdq_mirror,
        pdq_quality=quality,
        phash=phash,
        phash_mirror=phash_mirror,
        box=box,
        uniform=grey_std <= config.uniform_std_max,
        grey_std=grey_std,
        quality_min=config.pdq_quality_min,
    )


def hamming(a: bytes, b: bytes) -> int:
    """Number of differing bits between two hashes of the same length."""
    if len(a) != len(b):
        raise ValueError(f"hashes differ in length: {len(a)} and {len(b)} bytes")
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def pdq_distance(a: FrameHashes, b: FrameHashes) -> int:
    """PDQ Hamming distance, mirror-invariant: the nearest of upright and mirrored pairings.

    Both mirrored pairings are tried so that the distance is symmetric in a and b (PDQ of a
    mirrored picture is not exactly the mirrored PDQ, so the two can differ by a few bits).
    """
    return min(hamming(a.pdq, b.pdq), hamming(a.pdq, b.pdq_mirror), hamming(a.pdq_mirror, b.pdq))


def phash_distance(a: FrameHashes, b: FrameHashes) -> int:
    """pHash Hamming distance, mirror-invariant and symmetric like `pdq_distance`."""
    return min(
        hamming(a.phash, b.phash),
        hamming(a.phash, b.phash_mirror),
        hamming(a.phash_mirror, b.phash),
    )


def hash_to_hex(bits: bytes) -> str:
    """Fixed-width lowercase hex (two characters per byte, leading zeros kept)."""
    return bits.hex()


def hash_from_hex(text: str, size_bytes: int) -> bytes:
    """Parse fixed-width hex back into `size_bytes` bytes; anything else is a ValueError."""
    bits = bytes.fromhex(text)
    if len(bits) != size_bytes:
        raise ValueError(f"expected {2 * size_bytes} hex digits, got {len(text)}: {text!r}")
    return bits


def trim_borders(rgb: np.ndarray, tolerance: int, max_fraction: float) -> BorderBox:
    """The box left after removing uniform borders from each side of an HxWx3 frame.

    A border is a run of lines (rows from the top or bottom, columns from the left or
    right) of one flat colour: black, white, grey or any other, so letterboxes, pillar boxes,
    padding and screenshot bars alike. `tolerance` is the largest per-channel difference from
    the border's colour that still counts as border (JPEG and video noise), and each side
    loses at most `max_fraction` of its dimension. When border-like lines fill a whole
    direction (a uniform frame, two bars that meet) nothing is trimmed in that direction,
    so a uniform frame keeps its full box. The box errs toward keeping content: a soft
    transition line of a pixel or two between bar and picture stays in.
    """
    _check_rgb(rgb)
    if not 0 <= max_fraction < 0.5 or not 0 <= tolerance <= 255:
        raise ValueError(
            f"need 0 <= max_fraction < 0.5 and 0 <= tolerance <= 255, got "
            f"{max_fraction} and {tolerance}"
        )
    height, width = rgb.shape[:2]
    top, bottom, left, right = 0, height, 0, width
    max_rows, max_cols = int(height * max_fraction), int(width * max_fraction)
    for _ in range(_MAX_TRIM_PASSES):
        before = (top, bottom, left, right)
        rows = _border_runs(rgb[top:bottom, left:right], _ROWS, tolerance)
        if rows is None:
            break  # what is left is uniform: there is no picture to cut the borders off
        top, bottom = min(top + rows[0], max_rows), max(bottom - rows[1], height - max_rows)
        columns = _border_runs(rgb[top:bottom, left:right], _COLUMNS, tolerance)
        if columns is None:
            break
        left, right = min(left + columns[0], max_cols), max(right - columns[1], width - max_cols)
        if (top, bottom, left, right) == before:
            break
    return BorderBox(left, top, right, bottom)


def _check_rgb(rgb: np.ndarray) -> None:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or 0 in rgb.shape:
        raise ValueError(f"expected a non-empty HxWx3 uint8 RGB array, got {rgb.dtype} {rgb.shape}")


# Readers of lines [i, j) counted inward from one side of a region, each as a contiguous
# (line, pixel, channel) block; columns are transposed block by block, not the whole frame.
_LineReader = Callable[[np.ndarray, int, int], np.ndarray]


def _from_top(region: np.ndarray, i: int, j: int) -> np.ndarray:
    return np.ascontiguousarray(region[i:j])


def _from_bottom(region: np.ndarray, i: int, j: int) -> np.ndarray:
    height = region.shape[0]
    return np.ascontiguousarray(region[max(0, height - j) : height - i][::-1])


def _from_left(region: np.ndarray, i: int, j: int) -> np.ndarray:
    return cv2.transpose(np.ascontiguousarray(region[:, i:j]))


def _from_right(region: np.ndarray, i: int, j: int) -> np.ndarray:
    width = region.shape[1]
    band = cv2.transpose(np.ascontiguousarray(region[:, max(0, width - j) : width - i]))
    return np.ascontiguousarray(band[::-1])


_ROWS: tuple[_LineReader, _LineReader, int] = (_from_top, _from_bottom, 0)
_COLUMNS: tuple[_LineReader, _LineReader, int] = (_from_left, _from_right, 1)


def _border_runs(
    region: np.ndarray, readers: tuple[_LineReader, _LineReader, int], tolerance: int
) -> tuple[int, int] | None:
    """How many lines to cut from the start and from the end of `region` along one axis;
    (0, 0) when two borders would meet, None when one border fills the region (uniform)."""
    read_head, read_tail, axis = readers
    count = region.shape[axis]
    head = _border_run(lambda i, j: read_head(region, i, j), count, tolerance)
    if head == count:
        return None
    tail = _border_run(lambda i, j: read_tail(region, i, j), count, tolerance)
    if head + tail >= count:
        return 0, 0
    return head, tail


def _border_run(read: Callable[[int, int], np.ndarray], count: int, tolerance: int) -> int:
    """How many of `count` lines, read inward from one side, form a border.

    See the constants at the top: lines flat around the outermost line's colour, then at
    most _SPILL_LINES lines of ringing, which must end at an edge.
    """
    outermost = read(0, 1)
    colour = cv2.mean(outermost)[:3]
    flat_tolerance = float(tolerance // _FLAT_DIVISOR)
    flat_bounds = _bounds(colour, flat_tolerance)
    # Most lines are content: one count decides, before any block is read.
    flat_pixels = cv2.countNonZero(cv2.inRange(outermost, *flat_bounds))
    if flat_pixels / outermost.shape[1] < 1 - _OUTLIER_FRACTION:
        return 0
    near_bounds = _bounds(colour, float(tolerance))
    flat_run = reach = 0  # leading flat lines; leading lines near enough to be ringing
    start, chunk = 0, 8
    while start < count and reach == start:
        block = read(start, min(count, start + chunk))
        near = _fractions_within(block, near_bounds) >= _SPILL_FRACTION
        reach = start + _leading_true(near)
        if flat_run == start:
            flat = _fractions_within(block, flat_bounds) >= 1 - _OUTLIER_FRACTION
            flat_run = start + _leading_true(flat)
        start, chunk = start + len(block), chunk * 2
    if reach < count and reach - flat_run <= _SPILL_LINES:
        return reach  # the ringing ends at the picture's edge
    return flat_run  # no edge within reach: content of the border's colour, not ringing


def _bounds(
    colour: Sequence[float], tolerance: float
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    low = tuple([max(0.0, c - tolerance) for c in colour])
    high = tuple([min(255.0, c + tolerance) for c in colour])
    return low, high


def _fractions_within(
    block: np.ndarray, bounds: tuple[tuple[float, ...], tuple[float, ...]]
) -> np.ndarray:
    """Per line of a contiguous (line, pixel, channel) block, the fraction of its pixels
    whose every channel lies within `bounds` (low, high)."""
    mask = cv2.inRange(block, bounds[0], bounds[1])
    counts = cv2.reduce(mask, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).reshape(-1)
    return counts / (255.0 * mask.shape[1])


def _leading_true(flags: np.ndarray) -> int:
    """How many values at the start of `flags` are True."""
    false = np.flatnonzero(~flags)
    return int(false[0]) if len(false) else len(flags)


def _squeeze(rgb: np.ndarray, side_px: int) -> np.ndarray:
    """rgb resampled to side_px x side_px, ignoring its aspect ratio as PDQ and pHash do.

    A dimension larger than side_px shrinks with cv2.INTER_AREA (pixel-area averaging: no
    aliasing, and mirror-symmetric, so that squeezing a mirrored picture gives the mirrored
    squeeze); one smaller grows with cv2.INTER_LINEAR. While both dimensions are even and
    the picture is still over twice the target, it is first halved (2x2 means), OpenCV's
    fast path: ~35 us for 512x288, where INTER_AREA at other ratios costs ~0.4 ms.
    """
    while (
        rgb.shape[0] % 2 == 0
        and rgb.shape[1] % 2 == 0
        and max(rgb.shape[:2]) >= 2 * side_px
        and min(rgb.shape[:2]) >= side_px
    ):
        half = (rgb.shape[1] // 2, rgb.shape[0] // 2)
        rgb = cv2.resize(np.ascontiguousarray(rgb), half, interpolation=cv2.INTER_AREA)
    height, width = rgb.shape[:2]
    shrunk = (min(width, side_px), min(height, side_px))
    if shrunk != (width, height):
        rgb = cv2.resize(np.ascontiguousarray(rgb), shrunk, interpolation=cv2.INTER_AREA)
    if shrunk != (side_px, side_px):
        rgb = cv2.resize(
            np.ascontiguousarray(rgb), (side_px, side_px), interpolation=cv2.INTER_LINEAR
        )
    return np.ascontiguousarray(rgb)


def _pdq_and_mirror(square: np.ndarray) -> tuple[bytes, bytes, int]:
    """PDQ of a PDQ_SIDE_PX square (as `centre_for_pdq` readies it), PDQ of its mirror, and
    PDQ's quality, from one run of PDQ.

    The bits are `pdqhash.compute(centre_for_pdq(square))`'s, bit for bit: `compute_float`
    runs the same C++ but stops before the bits, returning the 256 DCT coefficients in the
    order `compute` returns bits (most significant first), without `compute`'s conversion of
    the bits into a Python list. PDQ sets a bit where a coefficient exceeds the median, which
    it takes as Torben's median of 256 values: the 128th smallest, one of the values itself.
    Packing big-endian gives the bytes of PDQ's canonical hex string.

    PDQ's DCT basis is cos(pi (k+1)(2x+1) / 128) for k = 0..15 over the 64 decimated columns
    x, so mirroring those columns (x -> 63 - x) multiplies the coefficients of every even k
    by -1 and leaves the rest: the mirror's coefficients without a second PDQ run (PDQ's own
    dihedral FlipY). That equals PDQ of the mirrored picture only when PDQ's blur and
    decimation are mirror-symmetric, which `centre_for_pdq` arranges.
    """
    values, quality = pdqhash.compute_float(centre_for_pdq(square))
    return _pdq_bits(values), _pdq_bits(values * _PDQ_MIRROR_SIGNS), int(quality)


def centre_for_pdq(square: np.ndarray) -> np.ndarray:
    """A PDQ_SIDE_PX-wide picture moved one column right, so that PDQ's blur is centred on
    the columns PDQ keeps and PDQ commutes with mirroring.

    At 160 px PDQ blurs with a 2 px box twice (its Jarosz filter), each pass averaging a
    column with the next one, so blurred column x is centred on x + 1; it then keeps the
    columns floor(2.5 (j + 0.5)), j = 0..63, which lie symmetrically about the middle. So
    the mirrored picture's samples fall two columns from the mirror of the picture's, and
    the DCT flip missed PDQ of the mirrored picture by 20-46 bits (scikit-image photos;
    the match threshold is 31). Moved one column right, each kept sample is centred on a
    column of the square. The last kept sample, column 158, blurs columns 158 and 159 of
    the input with PDQ's shortened window at the edge, (c158 + 3 c159) / 4; giving input
    column 159 (2 s158 + s159) / 3 of the square's two last columns makes that the centred
    (s157 + 2 s158 + s159) / 4 it needs, to within rounding. The first input column is
    never read for a kept sample and repeats the square's first. Measured: the flip then
    gives PDQ of the mirrored picture exactly, or 2 bits off at a near-tie of the median.
    The move is a third of a cell of PDQ's 64 px grid: the picture's own hash is as robust.
    """
    moved = np.empty_like(square)
    moved[:, 0] = square[:, 0]
    moved[:, 1:-1] = square[:, :-2]
    moved[:, -1] = (2 * square[:, -2].astype(np.uint16) + square[:, -1] + 1) // 3
    return moved


def _pdq_bits(values: np.ndarray) -> bytes:
    median = np.partition(values, _PDQ_MEDIAN_RANK)[_PDQ_MEDIAN_RANK]
    return np.packbits(values > median).tobytes()


_PDQ_MEDIAN_RANK = 127  # 0-based rank of the 128th smallest of PDQ's 256 coefficients
# compute_float's 256 values are its 16x16 buffer (vertical frequency, horizontal frequency)
# flattened and reversed; the mirror negates every even horizontal frequency index.
_PDQ_MIRROR_SIGNS = np.tile(np.where(np.arange(16) % 2 == 0, -1.0, 1.0), 16)[::-1]


def _phash_and_mirror(luma: np.ndarray) -> tuple[bytes, bytes]:
    """imagehash's pHash of a PHASH_SIDE_PX square of luma and of its mirror, bit for bit.

    These are `imagehash.phash`'s own steps (2-D DCT, the PHASH_SIZE x PHASH_SIZE lowest
    frequencies against their median) without its conversion and resize, which have nothing
    left to do, and without the median's copy and sort of numpy.median (the mean of the two
    middle values all the same). Mirroring the square's columns multiplies its DCT-II's odd
    horizontal frequencies by -1, so the mirror needs no second DCT. Bytes as
    `str(imagehash)`'s hex.
    """
    dct = scipy.fftpack.dct(scipy.fftpack.dct(luma, axis=0), axis=1)
    low = dct[:PHASH_SIZE, :PHASH_SIZE]
    return _median_bits(low.ravel()), _median_bits((low * _PHASH_MIRROR_SIGNS).ravel())


_PHASH_MIRROR_SIGNS = np.where(np.arange(PHASH_SIZE) % 2 == 1, -1.0, 1.0)


def _median_bits(values: np.ndarray) -> bytes:
    middle = len(values) // 2
    ranked = np.partition(values, (middle - 1, middle))
    return np.packbits(values > (ranked[middle - 1] + ranked[middle]) / 2).tobytes()
