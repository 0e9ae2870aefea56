"""What many unrelated files share proves nothing: regions learned from the collection itself.

Screenshots of one site or app carry its page (header, advert, avatars), a channel's uploads
its logo, reposts of one account its watermark: the same local features at the same place of
the frame in files that otherwise show different pictures. A keypoint match resting on them
says nothing about the pictures. So, when the crop path confirms a pair of frames framed alike
(`Verification.in_place`: frame maps onto frame, as screenshots of one page do), each
frame's keypoints that recur at the same relative place (within `PLACE_TOLERANCE` of the
frame's width and height) with a close descriptor in at least `MIN_UNRELATED_MEDIA` other
media are set aside, counting only media not already linked to the frame's media by a strong
PDQ match (same-size copies of one popular picture share every keypoint at its place, and
are its copies, not a template), and the pair is checked again without them. A crop, a
rescale or a screenshot of a picture moves the picture's keypoints, so the picture itself is
never set aside, only the fixed frame around it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from pipeline.core.keypoints import EXACT_SEARCH_MAX_DESCRIPTORS, Features, descriptor_index

MIN_UNRELATED_MEDIA = 3  # a template element recurs in at least this many other media
PLACE_TOLERANCE = 0.03  # of the frame's width and height: "the same place"
NEIGHBOURS = 16  # descriptors looked up per keypoint


def recurring(
    features: Sequence[Features],
    keys: Sequence[tuple[str, int]],
    sizes: Sequence[tuple[int, int]],
    asked: AbstractSet[int],
    related: Mapping[str, AbstractSet[str]],
    max_l2: float,
    exact_up_to: int = EXACT_SEARCH_MAX_DESCRIPTORS,
) -> dict[int, np.ndarray]:
    """For each frame position in `asked`, a mask of its keypoints that recur at the same
    relative place in MIN_UNRELATED_MEDIA or more media unrelated to its own. sizes: each
    frame's (width, height), for relative places. One k-NN search for every asked keypoint,
    the counting vectorised."""
    masks = {i: np.zeros(len(features[i]), bool) for i in asked}
    queries = [i for i in sorted(asked) if len(features[i])]
    if not queries:
        return masks
    owners = np.concatenate([np.full(len(f), i, np.int64) for i, f in enumerate(features)])
    places = np.concatenate(
        [f.points / np.array(sizes[i], np.float32) for i, f in enumerate(features)]
    )
    names = sorted({media for media, _ in keys})
    number = {media: n for n, media in enumerate(names)}
    media_of = np.array([number[media] for media, _ in keys], np.int64)
    vectors = np.concatenate([f.descriptors for f in features]).astype(np.float32)
    index = descriptor_index(vectors, exact_up_to)
    k = min(NEIGHBOURS, len(vectors))
    rows = np.concatenate([np.flatnonzero(owners == i) for i in queries])
    distances, hits = index.search(vectors[rows], k)
    safe = np.where(hits >= 0, hits, 0)
    own = media_of[owners[rows]][:, None]
    other = media_of[owners[safe]]
    near = (hits >= 0) & (distances <= max_l2 * max_l2)
    near &= np.abs(places[safe] - places[rows][:, None, :]).max(axis=2) <= PLACE_TOLERANCE
    near &= other != own
    linked = np.array(
        [number[a] * len(names) + number[b] for a, bs in related.items() for b in bs if b in number]
        + [-1],
        np.int64,
    )
    near &= ~np.isin(own * len(names) + other, linked)
    # Distinct other media per keypoint: sort each row's media (-1 where not near), count steps.
    found = np.sort(np.where(near, other, -1), axis=1)
    steps = (found[:, 1:] != found[:, :-1]) & (found[:, 1:] >= 0)
    distinct = steps.sum(axis=1) + (found[:, 0] >= 0)
    shared = distinct >= MIN_UNRELATED_MEDIA
    start = 0
    for i in queries:
        masks[i] = shared[start : start + len(features[i])]
        start += len(features[i])
    return masks


def without(features: Features, shared: np.ndarray) -> Features:
    """The features less the keypoints set aside."""
    keep = ~shared
    return Features(features.points[keep], features.descriptors[keep])
