"""Copies a whole-picture search cannot see: mirrored crops and pictures inside pages.

Issue 15 (recall): a phone or web screenshot, a meme or a picture-in-picture frame shows the
picture in a part of the frame, the rest being a page, an app or another picture; a mirrored
crop of a photo or a video has neither the same global hash (PDQ of the mirror fails at a
crop) nor the same SIFT descriptors (SIFT is not mirror-invariant), so neither the index nor
the crop path finds it. This module derives *views* of a stored frame, each searched like a
frame against every stored frame's local features:

- `mirror`: the whole frame flipped left-right (frames new in this run only: the mirror of a
  new frame against an old frame finds the same pair as the other way round);
- `region`: the largest rectangles inside the frame that may hold a picture (a picture on a
  plain page, found from the dilated edge map's connected parts; an inset over a busy
  picture, framed by straight colour edges meeting at a corner), cut out and scaled up to
  the size the stored frames have (not mirrored: a mirrored screenshot is rare, and each
  view costs a search of the stored descriptors).

Every candidate a view's descriptors vote for goes through the crop path's verification
(keypoints, homography, warped pixels and the structure test, core/keypoints.verify); a
region must moreover cover at least REGION_MIN_COVER of the other frame, the evidence that it
*is* that picture and not a part both share (an advert, an avatar, a page's header: what two
screenshots of one site have in common proves nothing). Nothing unverified becomes a match.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.core.keypoints import Features, VerifyRules, candidate_pairs, sift_features, verify
from pipeline.core.records import FrameKey

PictureLoader = Callable[[FrameKey], np.ndarray]

# A proposal is a rectangle of 8% to 85% of the frame whose sides are at least 40 px (a
# thumbnail is 320 px on its long side): smaller parts are icons and avatars, larger ones the
# frame itself, which the plain search already compares.
REGION_MIN_AREA = 0.08
REGION_MAX_AREA = 0.85
REGION_MIN_SIDE_PX = 40
REGION_MIN_FILL = 0.55  # of the rectangle covered by the dilated edge map: a picture, not a frame
MAX_REGIONS = 2  # per frame, largest first
REGION_SIDE_PX = 320  # a region is scaled up to this long side (the stored frames' size)
# A region confirmed against another frame must cover this much of it: a screenshot's or a
# meme's picture shows all of its original (coverage near 1) and a crop of it most (a 25%
# crop keeps 56%), while a part two pages share (an advert, an avatar, a header) is a small
# part of the other page. Set a priori, not tuned on any family.
REGION_MIN_COVER = 0.4
# Views search the stored descriptors through faiss's inverted file (IVF) above a few
# thousand descriptors (exact below: cheap, and IVF's k-means needs more points than lists):
# as many queries again as the crop path makes, which an exact search made the largest part
# of a dedupe run; IVF misses a few nearest neighbours (recall@8 0.937, core/keypoints) where
# a true copy shares dozens of descriptors.
VIEW_EXACT_SEARCH_MAX = 4_096


@dataclass(frozen=True)
class View:
    """A picture derived from a stored frame (`key`), searched as if it were one."""

    key: FrameKey
    kind: str  # "mirror", "region"
    picture: np.ndarray
    features: Features


def region_proposals(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """(left, top, right, bottom) of up to MAX_REGIONS rectangles inside the frame that may
    hold a picture, largest first: textured parts on a plain page (`_textured_boxes`) and
    inset frames drawn over a busy one (`_framed_boxes`: picture-in-picture)."""
    height, width = rgb.shape[:2]
    found = {}
    for box in [*_textured_boxes(rgb), *_framed_boxes(rgb)]:
        w, h = box[2] - box[0], box[3] - box[1]
        area = w * h / (width * height)
        if REGION_MIN_AREA <= area <= REGION_MAX_AREA and min(w, h) >= REGION_MIN_SIDE_PX:
            found[box] = w * h
    ranked = sorted(found, key=lambda box: (-found[box], box))
    return ranked[:MAX_REGIONS]


def _textured_boxes(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Bounding boxes of the connected parts of the edge map dilated to close a picture's
    texture, kept when mostly filled (a screenshot's or a meme's picture on a plain page)."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(grey, 40, 120)
    closed = cv2.morphologyEx(
        cv2.dilate(edges, np.ones((5, 5), np.uint8)), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8)
    )
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if w and h and float((closed[y : y + h, x : x + w] > 0).mean()) >= REGION_MIN_FILL:
            boxes.append((x, y, x + w, y + h))
    return boxes


FRAME_EDGE_MIN = 0.2  # a straight side is at least this fraction of the frame's side
FRAME_EDGE_SLACK_PX = 4  # sides meet within this many pixels


def _framed_boxes(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Rectangles with a straight top or bottom side met at a corner by a straight left or
    right side (colour edges, Hough segments): an inset picture over another, which the
    texture of the picture behind it hides from `_textured_boxes`."""
    edges = np.max([cv2.Canny(np.ascontiguousarray(rgb[..., c]), 50, 150) for c in range(3)], 0)
    height, width = edges.shape
    segments = cv2.HoughLinesP(
        edges,
        1,
        np.pi / 180,
        threshold=30,
        minLineLength=int(FRAME_EDGE_MIN * min(height, width)),
        maxLineGap=3,
    )
    if segments is None:
        return []
    flat = [tuple(int(v) for v in seg) for seg in segments[:, 0]]
    rows = _merged(
        [(min(x0, x1), max(x0, x1), (y0 + y1) // 2) for x0, y0, x1, y1 in flat if abs(y0 - y1) <= 1]
    )
    cols = _merged(
        [(min(y0, y1), max(y0, y1), (x0 + x1) // 2) for x0, y0, x1, y1 in flat if abs(x0 - x1) <= 1]
    )
    slack = FRAME_EDGE_SLACK_PX
    boxes = []
    for left, right, y in rows:
        if right - left < FRAME_EDGE_MIN * width:
            continue
        for top, bottom, x in cols:
            if bottom - top < FRAME_EDGE_MIN * height:
                continue
            if min(abs(x - left), abs(x - right)) > slack:
                continue
            if abs(top - y) <= slack:
                boxes.append((left, y, right, bottom))
            elif abs(bottom - y) <= slack:
                boxes.append((left, top, right, y))
    return boxes


def _merged(segments: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Collinear segments (start, end, position) joined where they touch or nearly do (a
    side broken where the picture behind it has the inset's colour)."""
    merged: list[tuple[int, int, int]] = []
    for start, end, position in sorted(segments):
        for i, (other_start, other_end, other_position) in enumerate(merged):
            if abs(position - other_position) <= 1 and start <= other_end + 8:
                merged[i] = (other_start, max(end, other_end), other_position)
                break
        else:
            merged.append((start, end, position))
    return merged


def _scaled(picture: np.ndarray) -> np.ndarray:
    height, width = picture.shape[:2]
    factor = REGION_SIDE_PX / max(height, width)
    if factor <= 1.0:
        return np.ascontiguousarray(picture)
    size = (round(width * factor), round(height * factor))
    return cv2.resize(picture, size, interpolation=cv2.INTER_CUBIC)


def frame_views(key: FrameKey, rgb: np.ndarray, mirror: bool) -> list[View]:
    """The views of one frame: its regions, and its mirror if asked."""
    views = []
    if mirror:
        flipped = np.ascontiguousarray(rgb[:, ::-1])
        views.append(View(key, "mirror", flipped, sift_features(flipped)))
    for left, top, right, bottom in region_proposals(rgb):
        region = _scaled(rgb[top:bottom, left:right])
        views.append(View(key, "region", region, sift_features(region)))
    return [view for view in views if len(view.features)]


def covered(
    homography: np.ndarray, view_shape: tuple[int, ...], other_shape: tuple[int, ...]
) -> float:
    """The fraction of the other picture that the view shows: the view's frame mapped into
    the other's by the inverse of `homography` (which maps the other onto the view)."""
    height, width = other_shape[:2]
    try:
        inverse = np.linalg.inv(homography)
    except np.linalg.LinAlgError:
        return 0.0
    mask = cv2.warpPerspective(
        np.full(view_shape[:2], 255, np.uint8), inverse, (width, height), flags=cv2.INTER_NEAREST
    )
    return float((mask > 0).mean())


def view_matches(
    keys: Sequence[FrameKey],
    features: Sequence[Features],
    new: AbstractSet[FrameKey],
    linked_media: AbstractSet[tuple[str, str]],
    pictures: PictureLoader,
    votes_min: int,
    descriptor_max_l2: float,
    rules: VerifyRules,
) -> list[tuple[FrameKey, FrameKey, str]]:
    """(frame, other frame, view kind) for every view of a frame that keypoints and pixels
    confirm against a frame of a media not linked to it yet, one per pair of media.

    keys and features: every stored frame with local features. Regions are taken of every
    such frame (so that an old screenshot meets a new original as a new screenshot meets an
    old one), mirrors of the new frames only; pairs without a new frame were searched before.
    """
    if not new:
        return []
    views = [view for key in keys for view in frame_views(key, pictures(key), key in new)]
    if not views:
        return []
    position = {key: i for i, key in enumerate(keys)}
    every = [*features, *(view.features for view in views)]
    owners = [*keys, *(view.key for view in views)]
    queries = list(range(len(keys), len(every)))
    votes = candidate_pairs(
        every,
        owners,
        queries,
        votes_min,
        descriptor_max_l2,
        exact_up_to=VIEW_EXACT_SEARCH_MAX,
        searched=len(keys),
    )
    found: dict[tuple[str, ...], tuple[FrameKey, FrameKey, str]] = {}
    for other_at, view_at in votes:
        view, other = views[view_at - len(keys)], keys[other_at]
        pair = tuple(sorted((view.key[0], other[0])))
        if pair in linked_media or pair in found:
            continue
        if view.key not in new and other not in new:
            continue
        if _confirmed(view, pictures(other), features[position[other]], rules):
            found[pair] = (view.key, other, view.kind)
    return sorted(found.values())


def shows_inside(
    outer: np.ndarray, inner: np.ndarray, inner_features: Features, rules: VerifyRules
) -> bool:
    """Does a region of `outer` show the picture `inner` (verified, covering
    REGION_MIN_COVER of it)? For following a picture-in-picture along its time offset."""
    for left, top, right, bottom in region_proposals(outer):
        region = _scaled(outer[top:bottom, left:right])
        view = View(("", 0), "region", region, sift_features(region))
        if len(view.features) and _confirmed(view, inner, inner_features, rules):
            return True
    return False


def _confirmed(view: View, other_rgb: np.ndarray, other: Features, rules: VerifyRules) -> bool:
    check = verify(view.picture, view.features, other_rgb, other, rules)
    if not check.confirmed:
        return False
    if view.kind == "mirror" or check.homography is None:
        return True
    return covered(check.homography, view.picture.shape, other_rgb.shape) >= REGION_MIN_COVER
