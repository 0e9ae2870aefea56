"""The low-texture path (core/lowtexture): a dark, low-contrast photo's reposts are proposed by
pHash and confirmed on stretched pictures; a different dark photo is not."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import HashConfig
from pipeline.core.hashing import hash_frame
from pipeline.core.keypoints import VerifyRules
from pipeline.core.lowtexture import PlainFrame, candidates, confirmed, stretched
from pipeline.synth import images as im

RULES = VerifyRules(12, 0.9, block_min_ncc=0.5)


def _thumb(picture: np.ndarray) -> np.ndarray:
    return im.resize(picture, 320 / max(picture.shape[:2]))


@pytest.fixture(scope="module")
def pictures() -> dict[str, np.ndarray]:
    dark = _thumb(im.low_texture(im.photo("coffee")))
    return {
        "dark": dark,
        "dark_mirror": im.mirror(im.recompress(dark, 60)),
        "dark_crop": _thumb(im.crop(dark, 0.05)),
        "other_dark": _thumb(im.low_texture(im.photo("chelsea"))),
        "bright": _thumb(im.photo("astronaut")),
    }


def _facts(pictures: dict[str, np.ndarray]) -> dict[tuple[str, int], PlainFrame]:
    config = HashConfig()
    facts = {}
    for name, picture in pictures.items():
        hashes = hash_frame(picture, config)
        facts[(name, 0)] = PlainFrame(hashes.phash, hashes.phash_mirror, hashes.pdq_quality < 50)
    return facts


def test_the_dark_photo_is_below_the_pdq_quality_minimum(pictures: dict[str, np.ndarray]) -> None:
    facts = _facts(pictures)
    assert facts[("dark", 0)].low_quality and not facts[("bright", 0)].low_quality


def test_reposts_are_proposed_and_confirmed_a_different_dark_photo_is_not(
    pictures: dict[str, np.ndarray],
) -> None:
    facts = _facts(pictures)
    pairs = candidates(facts, {name for name, _ in facts}, set())
    found = {(a[0], b[0]) for a, b in confirmed(pairs, lambda key: pictures[key[0]], RULES)}
    assert ("dark", "dark_mirror") in found
    assert ("dark", "dark_crop") in found
    assert not {pair for pair in found if "other_dark" in pair or "bright" in pair}


def test_linked_or_old_pairs_are_not_proposed_again(pictures: dict[str, np.ndarray]) -> None:
    facts = _facts(pictures)
    everything = candidates(facts, {name for name, _ in facts}, set())
    assert (("dark", 0), ("dark_mirror", 0)) in everything
    linked = candidates(facts, {name for name, _ in facts}, {("dark", "dark_mirror")})
    assert (("dark", 0), ("dark_mirror", 0)) not in linked
    assert candidates(facts, set(), set()) == []


def test_stretching_uses_the_full_range() -> None:
    dark = _thumb(im.low_texture(im.photo("coffee")))
    assert np.ptp(dark) < 80
    assert np.ptp(stretched(dark)) >= 250
