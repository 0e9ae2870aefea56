"""Perceptual hashing: what must match, what must not, and what may never match at all.

Media are scikit-image's sample photos put through the transforms reposts go through
(`pipeline.synth.images`), scaled as the hash stage receives them: longest side 512 px.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from functools import cache

import cv2
import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image

from pipeline.config import HashConfig
from pipeline.core.hashing import (
    PDQ_BYTES,
    PHASH_BYTES,
    BorderBox,
    FrameHashes,
    centre_for_pdq,
    hamming,
    hash_frame,
    hash_from_hex,
    hash_to_hex,
    pdq_distance,
    phash_distance,
    trim_borders,
)
from pipeline.synth import images as im

CONFIG = HashConfig()
MATCH_BITS = 31  # PDQ's recommended match threshold (REFERENCES.md, ThreatExchange pdq)
FAR_BITS = 60  # unrelated pictures must stay well clear of the threshold
PHASH_MATCH_BITS = 10  # imagededup's default pHash threshold (REFERENCES.md)
BOX_SLACK_PX = 2  # a soft transition line between bar and picture may stay in the box
MIRROR_SLACK_BITS = 2  # a near-tie at PDQ's median may swap one bit for another

# Natural photos, colour and grey, bright and dark (hubble_deep_field is mostly black sky).
PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "camera",
    "coins",
)
# For the negatives: everything above plus textures, documents and graphics.
UNRELATED = (*PHOTOS, "retina", "moon", "clock", "brick", "grass", "gravel", "page", "text")

Transform = Callable[[np.ndarray], np.ndarray]


@cache
def _photo(name: str) -> np.ndarray:
    return im.photo(name)


def _as_handed_over(image: np.ndarray) -> np.ndarray:
    """Scaled to a longest side of at most 512 px, as the hash stage receives stills."""
    scale = 512 / max(image.shape[:2])
    return im.resize(image, scale) if scale < 1 else image


@cache
def _hashes_of(name: str) -> FrameHashes:
    return hash_frame(_as_handed_over(_photo(name)), CONFIG)


def _hashes_of_copy(name: str, transform: Transform) -> FrameHashes:
    return hash_frame(_as_handed_over(transform(_photo(name))), CONFIG)


def _distances_after(transform: Transform) -> dict[str, int]:
    """PDQ distance between each photo and its transformed copy."""
    return {
        name: pdq_distance(_hashes_of(name), _hashes_of_copy(name, transform)) for name in PHOTOS
    }


def _padded(colour: tuple[int, int, int], sides: str, fraction: float = 0.2) -> Transform:
    return lambda image: im.recompress(im.pad(image, fraction, colour, sides), 85)


def _over(distances: dict[str, int], bits: int) -> dict[str, int]:
    """The entries over `bits` (a failing assert then names the photos and distances)."""
    return {name: d for name, d in distances.items() if d > bits}


# --- matches: the same picture after what reposting does to it ---


def test_jpeg_quality_30_copy_matches_the_still() -> None:
    assert _over(_distances_after(lambda image: im.recompress(image, 30)), MATCH_BITS) == {}


def test_copy_resized_to_40_percent_matches_the_still() -> None:
    assert _over(_distances_after(lambda image: im.resize(image, 0.4)), MATCH_BITS) == {}


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255)], ids=["black", "white"])
@pytest.mark.parametrize("sides", ["tb", "lr"], ids=["top_bottom", "left_right"])
def test_padded_copy_matches_the_still_after_border_trimming(
    colour: tuple[int, int, int], sides: str
) -> None:
    assert _over(_distances_after(_padded(colour, sides)), MATCH_BITS) == {}


def test_mirrored_copy_matches_through_the_mirror_invariant_distance() -> None:
    mirrored_jpeg = _distances_after(lambda image: im.recompress(im.mirror(image), 50))
    assert _over(mirrored_jpeg, MATCH_BITS) == {}
    assert set(_distances_after(im.mirror).values()) == {0}  # hashing mirrored pixels is exact


def test_watermarked_copy_matches_the_still() -> None:
    assert _over(_distances_after(im.watermark), MATCH_BITS) == {}


def test_full_hd_frame_matches_its_512_px_copy() -> None:
    tall = im.resize(_photo("coffee"), 1080 / 400)  # 1080x1620
    frame = im.pad(tall, 150 / 1620, sides="lr")  # 1080x1920, pillar-boxed
    small = im.resize(frame, 512 / 1920)  # what the frames stage hands over
    assert pdq_distance(hash_frame(frame, CONFIG), hash_frame(small, CONFIG)) <= MATCH_BITS


# --- non-matches ---


def test_different_photos_stay_far_apart() -> None:
    distances = {
        f"{a}/{b}": pdq_distance(_hashes_of(a), _hashes_of(b))
        for a, b in itertools.combinations(UNRELATED, 2)
    }
    assert {pair: d for pair, d in distances.items() if d <= FAR_BITS} == {}


def _crops(name: str, size: float, step: float) -> list[np.ndarray]:
    """Square-ish crops of `size` of each dimension, `step` apart (0.5/0.5: quadrants)."""
    image = _photo(name)
    height, width = image.shape[:2]
    crop_h, crop_w = int(height * size), int(width * size)
    return [
        _as_handed_over(np.ascontiguousarray(image[y : y + crop_h, x : x + crop_w]))
        for y in range(0, height - crop_h + 1, int(height * step))
        for x in range(0, width - crop_w + 1, int(width * step))
    ]


@pytest.mark.parametrize("name", ["hubble_deep_field", "astronaut", "coffee", "chelsea"])
@pytest.mark.parametrize("size,step", [(0.5, 0.5), (0.5, 0.25)], ids=["apart", "half_overlap"])
def test_crops_of_one_photo_stay_far_apart(name: str, size: float, step: float) -> None:
    hashes = [hash_frame(crop, CONFIG) for crop in _crops(name, size, step)]
    nearest = min(pdq_distance(a, b) for a, b in itertools.combinations(hashes, 2))
    assert nearest > FAR_BITS


def test_mirror_image_crops_match_because_the_distance_is_mirror_invariant() -> None:
    """The lower quadrants of `retina` are near mirror images of each other: 130 bits apart
    upright, 10 bits apart mirrored. Deduplication must expect such pairs (symmetric
    scenes) to match; only keypoint verification can tell them apart."""
    lower_left, lower_right = (hash_frame(crop, CONFIG) for crop in _crops("retina", 0.5, 0.5)[2:])
    assert hamming(lower_left.pdq, lower_right.pdq) > FAR_BITS
    assert pdq_distance(lower_left, lower_right) <= MATCH_BITS


# --- pictures that must never link two media ---


def _frame(pixels: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.clip(pixels, 0, 255).astype(np.uint8))


BLANK_FRAMES: dict[str, Callable[[], np.ndarray]] = {
    "black": lambda: im.uniform(288, 512),
    "white": lambda: im.uniform(288, 512, (255, 255, 255)),
    "grey": lambda: im.uniform(288, 512, (128, 128, 128)),
    "red": lambda: im.uniform(288, 512, (200, 30, 30)),
    "black_with_sensor_noise": lambda: _frame(np.random.default_rng(7).normal(8, 2, (288, 512, 3))),
    "dark_gradient_fade_across": lambda: _frame(
        np.broadcast_to(np.linspace(0, 24, 512)[None, :, None], (288, 512, 3))
    ),
    "dark_gradient_fade_down": lambda: _frame(
        np.broadcast_to(np.linspace(0, 24, 288)[:, None, None], (288, 512, 3))
    ),
    "photo_faded_to_3_percent": lambda: _frame(_as_handed_over(_photo("astronaut")) * 0.03),
    "letterboxed_grey_card": lambda: im.pad(im.uniform(216, 512, (90, 90, 90)), 0.15),
}


@pytest.mark.parametrize("make", BLANK_FRAMES.values(), ids=BLANK_FRAMES.keys())
def test_blank_and_fading_frames_are_not_matchable(make: Callable[[], np.ndarray]) -> None:
    assert not hash_frame(make(), CONFIG).matchable


@pytest.mark.parametrize("colour", [(0, 0, 0), (128, 128, 128), (250, 250, 250)])
def test_uniform_frames_are_flagged_uniform(colour: tuple[int, int, int]) -> None:
    hashes = hash_frame(im.uniform(288, 512, colour), CONFIG)
    assert hashes.uniform and hashes.grey_std == 0.0 and hashes.pdq_quality < CONFIG.pdq_quality_min


def test_low_contrast_picture_is_not_matchable_for_its_quality() -> None:
    clock = _hashes_of("clock")  # a smooth, low-contrast scene: PDQ quality ~35
    assert not clock.uniform and not clock.matchable


def test_sample_photos_are_matchable() -> None:
    assert {name: _hashes_of(name).matchable for name in PHOTOS} == dict.fromkeys(PHOTOS, True)


# --- border trimming ---


def _padded_box(image: np.ndarray, fraction: float, sides: str) -> BorderBox:
    height, width = image.shape[:2]
    pad_h = round(height * fraction) if sides in {"tb", "all"} else 0
    pad_w = round(width * fraction) if sides in {"lr", "all"} else 0
    return BorderBox(pad_w, pad_h, pad_w + width, pad_h + height)


def _box_error(found: BorderBox, expected: BorderBox) -> int:
    return max(
        abs(found.left - expected.left),
        abs(found.top - expected.top),
        abs(found.right - expected.right),
        abs(found.bottom - expected.bottom),
    )


def _trim(image: np.ndarray) -> BorderBox:
    return trim_borders(image, CONFIG.border_tolerance, CONFIG.border_max_fraction)


@pytest.mark.parametrize(
    "colour",
    [(0, 0, 0), (255, 255, 255), (128, 128, 128), (30, 60, 200)],
    ids=["black", "white", "grey", "blue"],
)
@pytest.mark.parametrize("sides", ["tb", "lr", "all"])
@pytest.mark.parametrize("quality", [None, 90], ids=["png", "jpeg90"])
def test_trim_finds_the_padding_box_within_2_px(
    colour: tuple[int, int, int], sides: str, quality: int | None
) -> None:
    errors = {}
    for name in ("astronaut", "coffee", "rocket", "immunohistochemistry"):
        picture = _as_handed_over(_photo(name))
        padded = im.pad(picture, 0.2, colour, sides)
        stored = padded if quality is None else im.recompress(padded, quality)
        errors[name] = _box_error(_trim(stored), _padded_box(picture, 0.2, sides))
    assert _over(errors, BOX_SLACK_PX) == {}


@pytest.mark.parametrize("quality", [75, 50, 30])
def test_trim_sees_through_jpeg_ringing_next_to_a_neutral_bar(quality: int) -> None:
    errors = {}
    for name, colour in itertools.product(("astronaut", "chelsea"), ((0, 0, 0), (255,) * 3)):
        picture = _as_handed_over(_photo(name))
        stored = im.recompress(im.pad(picture, 0.2, colour, "all"), quality)
        errors[f"{name}{colour}"] = _box_error(_trim(stored), _padded_box(picture, 0.2, "all"))
    slack = BOX_SLACK_PX if quality >= 50 else 2 * BOX_SLACK_PX  # JPEG 30 smears 3-4 px
    assert _over(errors, slack) == {}


def test_trim_keeps_a_soft_transition_line_but_no_more() -> None:
    picture = _as_handed_over(_photo("coffee"))
    padded = im.pad(picture, 0.25, (0, 0, 0), "lr")
    scale = 0.37  # bar edges fall between pixels: one blended column on each side
    shrunk = im.resize(padded, scale)
    box = _trim(shrunk)
    expected = _padded_box(picture, 0.25, "lr")
    assert abs(box.left - expected.left * scale) <= BOX_SLACK_PX
    assert abs(box.right - expected.right * scale) <= BOX_SLACK_PX
    assert (box.top, box.bottom) == (0, shrunk.shape[0])


@pytest.mark.parametrize("name", ["hubble_deep_field", "moon"])
def test_trim_does_not_eat_into_dark_or_dull_picture_content(name: str) -> None:
    picture = _as_handed_over(_photo(name))  # black sky with faint stars; grey low contrast
    stored = im.recompress(im.pad(picture, 0.15, (0, 0, 0), "all"), 90)
    assert _box_error(_trim(stored), _padded_box(picture, 0.15, "all")) <= BOX_SLACK_PX


@pytest.mark.parametrize(
    "name", ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "camera", "moon"]
)
@pytest.mark.parametrize("quality", [None, 50], ids=["png", "jpeg50"])
def test_trim_leaves_a_borderless_photo_untouched(name: str, quality: int | None) -> None:
    picture = _as_handed_over(_photo(name))
    stored = picture if quality is None else im.recompress(picture, quality)
    height, width = stored.shape[:2]
    box = _trim(stored)
    assert box == BorderBox.full(width, height) and not box.trims(width, height)


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (77, 77, 77)])
def test_trim_keeps_the_full_box_of_a_uniform_frame(colour: tuple[int, int, int]) -> None:
    assert _trim(im.uniform(288, 512, colour)) == BorderBox.full(512, 288)


def test_trim_never_cuts_more_than_max_fraction_from_one_side() -> None:
    sliver = np.ascontiguousarray(_as_handed_over(_photo("astronaut"))[:, 240:272])  # 32 px
    frame = im.pad(sliver, 7.0, (0, 0, 0), "lr")  # 224 px of bar on each side of 480
    box = trim_borders(frame, CONFIG.border_tolerance, 0.3)
    assert (box.left, box.right) == (int(480 * 0.3), 480 - int(480 * 0.3))


def test_trim_removes_stacked_screenshot_bars_and_a_pillar_box() -> None:
    picture = _as_handed_over(_photo("chelsea"))[:, :400]
    pillared = im.pad(picture, 0.1, (0, 0, 0), "lr")  # 40 px black each side
    width = pillared.shape[1]
    status = im.uniform(24, width, (20, 20, 20))
    title = im.uniform(40, width, (245, 245, 245))
    navigation = im.uniform(48, width, (60, 60, 60))
    screenshot = im.recompress(np.concatenate([status, title, pillared, navigation]), 90)
    expected = BorderBox(40, 64, 440, 64 + picture.shape[0])
    assert _box_error(_trim(screenshot), expected) <= BOX_SLACK_PX


def test_hash_frame_reports_the_trimmed_box() -> None:
    picture = _as_handed_over(_photo("rocket"))
    hashes = hash_frame(im.pad(picture, 0.2, (255, 255, 255), "tb"), CONFIG)
    assert _box_error(hashes.box, _padded_box(picture, 0.2, "tb")) <= BOX_SLACK_PX


# --- the hashes themselves ---


def test_hashes_have_fixed_sizes_and_a_quality_in_range() -> None:
    hashes = _hashes_of("astronaut")
    assert (len(hashes.pdq), len(hashes.pdq_mirror)) == (PDQ_BYTES, PDQ_BYTES)
    assert (len(hashes.phash), len(hashes.phash_mirror)) == (PHASH_BYTES, PHASH_BYTES)
    assert 0 <= hashes.pdq_quality <= 100 and hashes.quality_min == CONFIG.pdq_quality_min


def test_pdq_bytes_are_pdqhashs_bits_in_canonical_order() -> None:
    picture = np.ascontiguousarray(_photo("astronaut")[100:260, 150:310])  # 160x160: as hashed
    bits, quality = pdqhash.compute(centre_for_pdq(picture))
    hashes = hash_frame(picture, CONFIG)
    assert hashes.pdq == np.packbits(bits.astype(np.uint8)).tobytes()
    assert hashes.pdq_quality == quality


@pytest.mark.parametrize("size", [(160, 160), (320, 180)], ids=["square", "frame_320x180"])
@pytest.mark.parametrize("name", ["coffee", "astronaut", "camera"])
def test_phash_bytes_are_imagehashs_phash_of_the_32_px_luma_and_its_mirror(
    name: str, size: tuple[int, int]
) -> None:
    """pHash is imagehash.phash of the luma of the PDQ square, pixel-area averaged to 32 px,
    and phash_mirror is imagehash.phash of that square mirrored: bit for bit."""
    frame = cv2.resize(_photo(name), size, interpolation=cv2.INTER_AREA)
    hashes = hash_frame(frame, CONFIG)
    assert hashes.box == BorderBox.full(*size)
    square = cv2.resize(frame, (160, 160), interpolation=cv2.INTER_AREA)
    if size == (320, 180):  # as hash_frame squeezes it: halved, then stretched
        halved = cv2.resize(frame, (160, 90), interpolation=cv2.INTER_AREA)
        square = cv2.resize(halved, (160, 160), interpolation=cv2.INTER_LINEAR)
    luma = cv2.resize(
        cv2.cvtColor(square, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA
    )
    assert hashes.phash.hex() == str(imagehash.phash(Image.fromarray(luma)))
    assert hashes.phash_mirror.hex() == str(
        imagehash.phash(Image.fromarray(np.ascontiguousarray(luma[:, ::-1])))
    )


@pytest.mark.parametrize("size", [(320, 180), (180, 320), (333, 241), (512, 384), (37, 23)])
@pytest.mark.parametrize("name", ["coffee", "astronaut", "rocket", "camera"])
def test_mirror_hashes_are_the_hashes_of_the_mirrored_frame(
    name: str, size: tuple[int, int]
) -> None:
    """The mirror hashes, derived from the picture's DCT, are the hashes of the mirrored
    frame: pHash bit for bit, PDQ to within a near-tie at its median (2 bits)."""
    frame = cv2.resize(_photo(name), size, interpolation=cv2.INTER_AREA)
    hashes, of_mirror = hash_frame(frame, CONFIG), hash_frame(im.mirror(frame), CONFIG)
    assert hamming(hashes.pdq_mirror, of_mirror.pdq) <= MIRROR_SLACK_BITS
    assert hamming(hashes.pdq, of_mirror.pdq_mirror) <= MIRROR_SLACK_BITS
    assert (hashes.phash_mirror, hashes.phash) == (of_mirror.phash, of_mirror.phash_mirror)
    assert hashes.pdq_quality == of_mirror.pdq_quality


def test_centring_pdqs_blur_makes_its_dct_flip_the_pdq_of_the_mirrored_picture() -> None:
    """PDQ's own left-right flip of its DCT (pdqhash.compute_dihedral's index 5) misses PDQ
    of the mirrored 160 px square by many bits, because PDQ's 2 px blur is not centred;
    after centre_for_pdq it is PDQ of the mirrored square, up to a near-tie."""
    raw_gaps, centred_gaps = [], []
    for name in PHOTOS:
        square = cv2.resize(_photo(name), (160, 160), interpolation=cv2.INTER_AREA)
        mirrored = np.ascontiguousarray(square[:, ::-1])
        for prepare, gaps in ((np.ascontiguousarray, raw_gaps), (centre_for_pdq, centred_gaps)):
            of_mirror, _ = pdqhash.compute(prepare(mirrored))
            dihedral, _ = pdqhash.compute_dihedral(prepare(square))
            gaps.append(int((of_mirror != dihedral[5]).sum()))
    assert min(raw_gaps) >= 10 and max(raw_gaps) > 31  # would lose mirrored reposts
    assert max(centred_gaps) <= MIRROR_SLACK_BITS


def test_distances_are_symmetric() -> None:
    a, b = _hashes_of("astronaut"), _hashes_of_copy("astronaut", im.mirror)
    c = _hashes_of("coffee")
    assert pdq_distance(a, b) == pdq_distance(b, a) and pdq_distance(a, c) == pdq_distance(c, a)
    assert phash_distance(a, c) == phash_distance(c, a)


def test_hamming_counts_differing_bits_and_rejects_unequal_lengths() -> None:
    assert hamming(b"\x00\xff", b"\x01\x0f") == 5
    with pytest.raises(ValueError, match="length"):
        hamming(b"\x00" * 32, b"\x00" * 8)


def test_hex_helpers_round_trip_at_fixed_width() -> None:
    bits = b"\x00\x01" + b"\xab" * 30
    text = hash_to_hex(bits)
    assert len(text) == 64 and text.startswith("0001")
    assert hash_from_hex(text, PDQ_BYTES) == bits
    with pytest.raises(ValueError, match="hex digits"):
        hash_from_hex(text[2:], PDQ_BYTES)


def test_frame_hashes_are_frozen_and_validated() -> None:
    hashes = _hashes_of("coffee")
    with pytest.raises(dataclasses.FrozenInstanceError):
        hashes.pdq_quality = 0  # type: ignore[misc]
    with pytest.raises(ValueError, match="pdq must be 32 bytes"):
        dataclasses.replace(hashes, pdq=b"\x00" * 8)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        dataclasses.replace(hashes, pdq_quality=101)
    with pytest.raises(ValueError, match="empty"):
        BorderBox(5, 0, 5, 10)


def test_trim_rejects_a_max_fraction_that_could_cut_everything() -> None:
    with pytest.raises(ValueError, match="max_fraction"):
        trim_borders(im.uniform(8, 8), CONFIG.border_tolerance, 0.5)


def test_hash_frame_leaves_its_input_unchanged_and_accepts_views() -> None:
    frame = im.pad(_as_handed_over(_photo("chelsea")), 0.1)
    before = frame.copy()
    view = frame[:, ::-1][10:-10]  # not contiguous
    hash_frame(frame, CONFIG)
    hash_frame(view, CONFIG)
    assert np.array_equal(frame, before)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3))],
    ids=["grey", "rgba", "float"],
)
def test_hash_frame_rejects_anything_but_uint8_rgb(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        hash_frame(bad, CONFIG)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (7, 300)])
def test_tiny_and_thin_frames_hash_without_error(shape: tuple[int, int]) -> None:
    frame = np.ascontiguousarray(_photo("astronaut")[100 : 100 + shape[0], 50 : 50 + shape[1]])
    assert len(hash_frame(frame, CONFIG).pdq) == PDQ_BYTES


# --- the distance table: one row per (transform, photo), bounds in the row's name ---

TRANSFORMS: dict[str, Transform] = {
    "jpeg30": lambda image: im.recompress(image, 30),
    "jpeg50": lambda image: im.recompress(image, 50),
    "resize30": lambda image: im.resize(image, 0.3),
    "resize40": lambda image: im.resize(image, 0.4),
    "pad_black_tb": _padded((0, 0, 0), "tb"),
    "pad_black_lr": _padded((0, 0, 0), "lr"),
    "pad_white_tb": _padded((255, 255, 255), "tb"),
    "pad_white_lr": _padded((255, 255, 255), "lr"),
    "pad_grey_all": _padded((128, 128, 128), "all", 0.15),
    "mirror": im.mirror,
    "mirror_jpeg50": lambda image: im.recompress(im.mirror(image), 50),
    "watermark": im.watermark,
    "colour_shift": im.colour_shift,
    "pad_resize_jpeg60": lambda image: im.recompress(im.resize(im.pad(image, 0.15), 0.5), 60),
}
# pHash moves more than PDQ under a watermark; elsewhere imagededup's threshold holds.
PHASH_BOUND = {"watermark": 2 * PHASH_MATCH_BITS}
TABLE = [
    pytest.param(
        name,
        transform,
        PHASH_BOUND.get(label, PHASH_MATCH_BITS),
        id=f"{label}-{name}-pdq<={MATCH_BITS}-phash<={PHASH_BOUND.get(label, PHASH_MATCH_BITS)}",
    )
    for label, transform in TRANSFORMS.items()
    for name in PHOTOS
]


@pytest.mark.parametrize("name,transform,phash_bits", TABLE)
def test_distance_table(name: str, transform: Transform, phash_bits: int) -> None:
    still, copy = _hashes_of(name), _hashes_of_copy(name, transform)
    assert pdq_distance(still, copy) <= MATCH_BITS
    assert phash_distance(still, copy) <= phash_bits
