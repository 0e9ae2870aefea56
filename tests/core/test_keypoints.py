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


# --- issue 15: the evidence a confirmation carries ---------------------------------------


def test_a_crop_is_covered_by_its_matched_region_and_its_content_agrees() -> None:
    photo = im.resize(im.photo("coffee"), 0.6)
    crop = np.ascontiguousarray(photo[40:, 60:])
    checked = verify(photo, sift_features(photo), crop, sift_features(crop), VerifyRules())
    assert checked.confirmed and checked.inliers >= 12
    assert checked.agreement >= 0.95
    # The crop is the smaller picture: the matched region covers most of it, less of the whole.
    assert checked.coverage_b > 0.6 and checked.coverage_b > checked.coverage_a


def test_a_different_picture_in_a_shared_page_lowers_the_content_agreement() -> None:
    one, two = _page("coffee"), _page("chelsea")
    checked = verify(one, sift_features(one), two, sift_features(two), VerifyRules(12, 0.9))
    copy = im.decode(im.jpeg_bytes(one, 40))
    same = verify(one, sift_features(one), copy, sift_features(copy), VerifyRules(12, 0.9))
    assert same.agreement > checked.agreement
    strict = VerifyRules(12, 0.9, min_agreement=same.agreement - 0.01)
    assert not verify(one, sift_features(one), two, sift_features(two), strict).confirmed
    assert verify(one, sift_features(one), copy, sift_features(copy), strict).confirmed


def test_one_static_scene_with_different_objects_in_front_is_one_scene_not_one_picture() -> None:
    """Two moments of one static camera (synth/traps): the ground aligns everywhere, the
    objects in front differ; a re-encoded copy of one moment is the same picture."""
    from pipeline.synth import traps

    rules = VerifyRules(12, 0.9, block_min_ncc=0.5, min_agreement=0.95)
    horse, logo = traps.backdrop_picture("horse"), traps.backdrop_picture("logo")
    moments = verify(horse, sift_features(horse), logo, sift_features(logo), rules)
    assert not moments.confirmed and moments.one_scene(rules)
    assert min(moments.coverage_a, moments.coverage_b) > 0.8 and moments.agreement < 0.95
    copy = im.decode(im.jpeg_bytes(im.resize(horse, 0.7), 60))
    same = verify(horse, sift_features(horse), copy, sift_features(copy), rules)
    assert same.confirmed and not same.one_scene(rules)


def test_screenshots_of_different_pictures_in_one_page_are_not_one_picture() -> None:
    from pipeline.synth import traps

    rules = VerifyRules(12, 0.9, block_min_ncc=0.5, min_agreement=0.95)
    one, two = traps.template_picture("cell"), traps.template_picture("clock")
    assert not verify(one, sift_features(one), two, sift_features(two), rules).confirmed


def test_a_page_shared_by_unrelated_screenshots_is_set_aside_and_the_picture_kept() -> None:
    """core/shared_regions: five screenshots of different pictures in one page (synth/traps)
    share its keypoints at their places; a crop of the first picture's screenshot shares the
    picture, moved: nothing of it is set aside."""
    from pipeline.core import shared_regions
    from pipeline.synth import traps

    pages = [traps.template_picture(n) for n in ("cell", "clock", "microaneurysms", "brick")]
    pages.append(traps.template_picture("gravel"))
    crop = np.ascontiguousarray(pages[0][120:380, 30:330])
    pictures = [*pages, crop]
    features = [sift_features(p) for p in pictures]
    keys = [(f"m{i}", 0) for i in range(len(pictures))]
    sizes = [(p.shape[1], p.shape[0]) for p in pictures]
    masks = shared_regions.recurring(features, keys, sizes, set(range(6)), {}, 200.0)
    first = features[0].points
    in_chrome = (first[:, 1] < 108) | (first[:, 1] > 396)
    assert masks[0][in_chrome].mean() > 0.5  # the page around the picture
    assert masks[0][~in_chrome].mean() < 0.1  # the picture itself
    assert not masks[5].any()  # the crop: its picture's keypoints moved
    # Only pairs framed alike are looked up: two pages are, the page and its crop are not.
    loose = VerifyRules(12, 0.9)
    assert verify(pages[0], features[0], pages[1], features[1], loose).in_place
    assert not verify(pages[0], features[0], crop, features[5], loose).in_place
    # Linked to each other by strong PDQ (versions of one footage, copies of one picture),
    # the other four are one group: what they share with m0 is no template.
    related = {"m1": {"m2"}, "m2": {"m3"}, "m3": {"m4"}}
    linked = shared_regions.recurring(features, keys, sizes, {0}, related, 200.0)
    assert not linked[0].any()


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
