"""What many unrelated files share proves nothing: regions learned from the collection itself.

Screenshots of one site or app carry its page (header, advert, avatars), a channel's uploads
its logo, reposts of one account its watermark: the same local features at the same place of
the frame in files that otherwise show different pictures. A keypoint match resting on them
says nothing about the pictures. So, when the crop path confirms a pair of frames framed alike
(`Verification.in_place`: frame maps onto frame, as screenshots of one page do), each
frame's keypoints that recur at the same relative place (within `PLACE_TOLERANCE` of the
frame's width and height) with a close descriptor in at least `MIN_UNRELATED_MEDIA` other
groups of media are set aside, a group being the media strong PDQ matches link together
(same-size copies of one popular picture, versions of one footage share every keypoint at
its place, however many they are, and are copies, not a template), and the pair is checked
again without them. A crop, a
rescale or a screenshot of a picture moves the picture's keypoints, so the picture itself is
never set aside, only the fixed frame around it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet

import numpy as np

from pipeline.core.keypoints import EXACT_SEARCH_MAX_DESCRIPTORS, Features, descriptor_index

MIN_UNRELATED_MEDIA = 3  # a template element recurs in at least this many other groups
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
    relative place in MIN_UNRELATED_MEDIA or more groups of media other than its own. sizes: each
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
    group = _groups(sorted({media for media, _ in keys}), related)
    media_of = np.array([group[media] for media, _ in keys], np.int64)
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
    # Distinct other groups per keypoint: sort each row's groups (-1 where not near), count steps.
    found = np.sort(np.where(near, other, -1), axis=1)
    steps = (found[:, 1:] != found[:, :-1]) & (found[:, 1:] >= 0)
    distinct = steps.sum(axis=1) + (found[:, 0] >= 0)
    shared = distinct >= MIN_UNRELATED_MEDIA
    start = 0
    for i in queries:
        masks[i] = shared[start : start + len(features[i])]
        start += len(features[i])
    return masks


def _groups(media: Sequence[str], related: Mapping[str, AbstractSet[str]]) -> dict[str, int]:
    """Each media's group: the connected components of the strong PDQ links. Versions of one
    footage or copies of one picture are one group however many there are; a template
    recurs across groups."""
    parent = {m: m for m in media}

    def root(m: str) -> str:
        while parent[m] != m:
            parent[m] = parent[parent[m]]
            m = parent[m]
        return m

    for a, linked in related.items():
        for b in linked:
            if a in parent and b in parent:
                parent[root(a)] = root(b)
    roots = sorted({root(m) for m in media})
    number = {r: n for n, r in enumerate(roots)}
    return {m: number[root(m)] for m in media}


def without(features: Features, shared: np.ndarray) -> Features:
    """The features less the keypoints set aside."""
    keep = ~shared
    return Features(features.points[keep], features.descriptors[keep])
