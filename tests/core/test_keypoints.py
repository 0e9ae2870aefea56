"""The crop path's candidate search: the inverted-file index that large collections use
proposes the pairs that the exact search proposes."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.keypoints import (
    DescriptorIndex,
    Features,
    VerifyRules,
    candidate_pairs,
    sift_features,
    verify,
)
from pipeline.synth import images as im
from pipeline.synth.archive import distinct_still


def _collection() -> tuple[list[Features], list[tuple[str, int]]]:
    """Crops of sample photos (true pairs) among distinct generated stills (none)."""
    pictures = {}
    for name in ("astronaut", "coffee", "rocket"):
        photo = im.resize(im.photo(name), 320 / max(im.photo(name).shape[:2]))
        pictures[f"{name}-whole"] = photo
        pictures[f"{name}-crop"] = im.resize(im.crop(photo, 0.2), 1.2)
    for index in range(40):
        pictures[f"still-{index}"] = distinct_still(7, index)
    keys = [(name, 0) for name in sorted(pictures)]
    return [sift_features(pictures[name]) for name, _ in keys], keys


def test_inverted_file_search_proposes_the_exact_searchs_pairs() -> None:
    features, keys = _collection()
    queries = list(range(len(features)))
    exact = candidate_pairs(features, keys, queries, 10, 200.0, exact_up_to=10**9)
    approximate = candidate_pairs(features, keys, queries, 10, 200.0, exact_up_to=0)
    crops = {
        (keys.index((f"{n}-crop", 0)), keys.index((f"{n}-whole", 0)))
        for n in ("astronaut", "coffee", "rocket")
    }
    assert {tuple(sorted(p)) for p in crops} <= set(exact)
    assert {tuple(sorted(p)) for p in crops} <= set(approximate)
    assert len(set(exact) ^ set(approximate)) <= max(1, len(exact) // 50)


def test_queries_in_batches_find_what_one_query_at_a_time_finds() -> None:
    features, keys = _collection()
    together = candidate_pairs(features, keys, list(range(len(features))), 10, 200.0)
    one_by_one = sorted(
        {p for q in range(len(features)) for p in candidate_pairs(features, keys, [q], 10, 200.0)}
    )
    assert together == one_by_one


# --- issue 15: a shared page template with a different picture inside proves nothing ----


def _page(picture_name: str) -> np.ndarray:
    """A web page: a header band with an advert photo and a footer of avatars around the
    posted picture, which fills the middle third."""
    page = im.resize(im.photo("astronaut"), 0.62)[:300, :300].copy()  # the page's own art
    inner = im.resize(im.photo(picture_name), 0.4)[:96, :96]
    page[102:198, 102:198] = inner
    return np.ascontiguousarray(page)


def _verify(a: np.ndarray, b: np.ndarray, block_min_ncc: float) -> bool:
    rules = VerifyRules(12, 0.9, block_min_ncc=block_min_ncc)
    return verify(a, sift_features(a), b, sift_features(b), rules).confirmed


def test_two_pages_sharing_a_template_differ_where_their_pictures_do() -> None:
    one, two = _page("coffee"), _page("chelsea")
    assert _verify(one, two, 0.0)  # the means-and-spreads test alone lets the template through
    assert not _verify(one, two, 0.5)


def test_the_structure_test_keeps_a_recompressed_copy_and_a_crop() -> None:
    page = _page("coffee")
    copy = im.decode(im.jpeg_bytes(page, 40))
    assert _verify(page, copy, 0.5)
    assert _verify(page, np.ascontiguousarray(page[20:, 15:]), 0.5)


# --- issue 17: the descriptor index is kept between runs --------------------------------


def test_an_index_saved_and_grown_finds_what_one_built_at_once_finds() -> None:
    features, keys = _collection()
    half = len(features) // 2
    for exact_up_to in (10**9, 0):  # flat, and inverted-file trained on the first half
        earlier = DescriptorIndex.build(features[:half], keys[:half], exact_up_to)
        kept = DescriptorIndex.from_bytes(earlier.to_bytes())
        assert kept.to_bytes() == earlier.to_bytes()
        kept.add(features[half:], keys[half:])
        queries = list(range(half, len(features)))
        grown = kept.pairs([(q, features[q]) for q in queries], 10, 200.0)
        at_once = candidate_pairs(features, keys, queries, 10, 200.0, exact_up_to=exact_up_to)
        if exact_up_to:
            assert sorted(grown) == at_once
        else:  # retrained at 4x growth, as a rebuild would be: the same crops proposed
            assert len(set(grown) ^ set(at_once)) <= max(1, len(at_once) // 50)
        assert kept.keys == keys


def test_a_flat_index_that_outgrows_exact_search_becomes_inverted_file() -> None:
    features, keys = _collection()
    index = DescriptorIndex.build(features[:5], keys[:5], exact_up_to=3000)
    assert "Flat" in type(index._index).__name__
    index.add(features[5:], keys[5:])
    assert "IVF" in type(index._index).__name__ and len(index) == sum(map(len, features))
    crops = {
        tuple(sorted((keys.index((f"{n}-crop", 0)), keys.index((f"{n}-whole", 0)))))
        for n in ("astronaut", "coffee", "rocket")
    }
    assert crops <= index.pairs(list(enumerate(features)), 10, 200.0)


def test_bytes_that_are_not_an_index_are_refused() -> None:
    with pytest.raises(ValueError):
        DescriptorIndex.from_bytes(b"PK\x03\x04 not ours")
