"""Views for recall (core/subimage): a picture inside a page and a mirrored crop are found and
verified; two pages of one template around different pictures are not linked."""

from __future__ import annotations

import numpy as np

from pipeline.core.keypoints import VerifyRules, sift_features
from pipeline.core.subimage import covered, region_proposals, shows_inside, view_matches
from pipeline.synth import images as im

RULES = VerifyRules(12, 0.9, block_min_ncc=0.5)


def _thumb(picture: np.ndarray) -> np.ndarray:
    """As the frames stage stores it: 320 px on the long side."""
    return im.resize(picture, 320 / max(picture.shape[:2]))


def _search(pictures: dict[str, np.ndarray], new: set[str]) -> set[tuple[str, str, str]]:
    keys = [(name, 0) for name in sorted(pictures)]
    found = view_matches(
        keys,
        [sift_features(pictures[name]) for name, _ in keys],
        frozenset((name, 0) for name in new),
        set(),
        lambda key: pictures[key[0]],
        10,
        200.0,
        RULES,
    )
    return {(min(a[0], b[0]), max(a[0], b[0]), kind) for a, b, kind in found}


def test_the_picture_inside_a_phone_screenshot_is_proposed() -> None:
    shot = _thumb(im.screenshot_phone(im.photo("chelsea")))
    scale = shot.shape[0] / 1480
    # Where screenshot_phone pasted it: x 29..691, y 260..260 + picture height.
    height = round(im.photo("chelsea").shape[0] * 662 / im.photo("chelsea").shape[1])
    truth = np.array([29, 260, 691, 260 + height]) * scale
    # A region holds the picture and leaves most of the page out (the verification, not the
    # proposal, decides: a region with the app's header still shows the whole picture).
    assert any(
        _inside(truth, np.array(box))
        and _area(np.array(box)) <= 0.6 * _area(np.array([0, 0, *shot.shape[1::-1]]))
        for box in region_proposals(shot)
    )


def test_a_plain_photo_has_no_region_to_propose() -> None:
    assert region_proposals(_thumb(im.photo("coffee"))) == []


def test_screenshots_and_a_mirrored_crop_join_their_original() -> None:
    original = _thumb(im.photo("chelsea"))
    pictures = {
        "original": original,
        "phone": _thumb(im.screenshot_phone(im.photo("chelsea"))),
        "mirrored_crop": im.crop(im.mirror(original), 0.2),
    }
    found = _search(pictures, set(pictures))
    kinds = {tuple(sorted((a, b))): kind for a, b, kind in found}
    assert kinds[("original", "phone")].startswith("region")
    assert kinds[("mirrored_crop", "original")] == "mirror"


def test_one_template_around_different_pictures_links_nothing() -> None:
    pictures = {
        name: _thumb(im.screenshot_web(im.photo(name), fill=0.3))
        for name in ("astronaut", "coffee", "chelsea")
    }
    assert _search(pictures, set(pictures)) == set()


def test_an_old_screenshot_meets_a_new_original() -> None:
    """Regions are taken of every frame, so the order of arrival changes nothing."""
    pictures = {
        "original": _thumb(im.photo("astronaut")),
        "web": _thumb(im.screenshot_web(im.photo("astronaut"))),
    }
    assert {(a, b) for a, b, _ in _search(pictures, {"original"})} == {("original", "web")}
    assert _search(pictures, set()) == set()


def test_coverage_of_the_other_picture() -> None:
    assert covered(np.eye(3), (100, 100), (100, 100)) == 1.0
    # The view shows the top-left quarter of a picture twice its size...
    assert abs(covered(np.eye(3), (100, 100), (200, 200)) - 0.25) < 0.02
    # ...or all of it, shrunk to half.
    assert covered(np.diag([0.5, 0.5, 1.0]), (100, 100), (200, 200)) >= 0.98


def _inside(inner: np.ndarray, outer: np.ndarray, slack: float = 3.0) -> bool:
    return bool((inner[:2] >= outer[:2] - slack).all() and (inner[2:] <= outer[2:] + slack).all())


def _area(box: np.ndarray) -> float:
    return float((box[2] - box[0]) * (box[3] - box[1]))


def _picture_in_picture(inner: np.ndarray) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Vertical colour bars (a busy picture behind) with `inner` inset at 45% of the width."""
    frame = np.zeros((180, 320, 3), np.uint8)
    colours = [(255, 0, 0), (0, 200, 0), (250, 250, 0), (0, 0, 255), (255, 0, 255), (0, 255, 255)]
    for i, colour in enumerate(colours):
        frame[:, i * 54 : (i + 1) * 54] = colour
    inset = im.resize(inner, 144 / inner.shape[1])
    top, left = 20, 160
    frame[top : top + inset.shape[0], left : left + inset.shape[1]] = inset
    return frame, (left, top, left + inset.shape[1], top + inset.shape[0])


def test_an_inset_over_a_busy_picture_is_proposed_and_shows_its_original() -> None:
    original = _thumb(im.photo("chelsea"))
    frame, (left, top, right, bottom) = _picture_in_picture(original)
    assert any(
        abs(box[0] - left) <= 4
        and abs(box[1] - top) <= 4
        and abs(box[2] - right) <= 4
        and abs(box[3] - bottom) <= 4
        for box in region_proposals(frame)
    )
    assert shows_inside(frame, original, sift_features(original), RULES)
    other = _thumb(im.photo("astronaut"))
    assert not shows_inside(frame, other, sift_features(other), RULES)


def test_a_collection_of_a_few_keypoints_is_searched_exactly() -> None:
    """Faiss's inverted file needs more descriptors than lists: tiny collections (a few
    plain frames) are searched exactly, never crash."""
    pictures = {}
    for i in range(3):
        plain = np.full((120, 160, 3), 128, np.uint8)
        plain[40 + 10 * i : 60 + 10 * i, 50:80] = 30  # one dark square: a few keypoints
        pictures[f"plain{i}"] = plain
    assert sum(len(sift_features(p)) for p in pictures.values()) < 16
    assert _search(pictures, set(pictures)) == set()
