"""What many unrelated files share proves nothing: regions learned from the collection itself.

Screenshots of one site or app carry its page (header, advert, avatars), a channel's uploads
its logo, reposts of one account its watermark: the same local features at the same place of
the frame in files that otherwise show different pictures. A keypoint match resting on them
says nothing about the pictures. So, before the crop path verifies a candidate pair, each
frame's keypoints that recur at the same relative place (within `PLACE_TOLERANCE` of the
frame's width and height) with a close descriptor in at least `MIN_UNRELATED_MEDIA` other
media are set aside, counting only media not already linked to the frame's media by a strong
PDQ match (same-size copies of one popular picture share every keypoint at its place, and
are its copies, not a template). A crop, a rescale or a screenshot of a picture moves the
picture's keypoints, so the picture itself is never set aside, only the fixed frame around
it.
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
    frame's (width, height), for relative places."""
    masks = {i: np.zeros(len(features[i]), bool) for i in asked}
    if not asked or not features:
        return masks
    owners = np.concatenate([np.full(len(f), i, np.int64) for i, f in enumerate(features)])
    if owners.size == 0:
        return masks
    places = np.concatenate(
        [f.points / np.array(sizes[i], np.float32) for i, f in enumerate(features)]
    )
    vectors = np.concatenate([f.descriptors for f in features]).astype(np.float32)
    index = descriptor_index(vectors, exact_up_to)
    k = min(NEIGHBOURS, len(vectors))
    for i in sorted(asked):
        if not len(features[i]):
            continue
        media = keys[i][0]
        distances, hits = index.search(features[i].descriptors.astype(np.float32), k)
        own = features[i].points / np.array(sizes[i], np.float32)
        for row, (row_d, row_h) in enumerate(zip(distances, hits, strict=True)):
            close = row_h[(row_h >= 0) & (row_d <= max_l2 * max_l2)]
            near = close[np.abs(places[close] - own[row]).max(axis=1) <= PLACE_TOLERANCE]
            others = {keys[int(owners[h])][0] for h in near} - {media}
            if len(others - set(related.get(media, ()))) >= MIN_UNRELATED_MEDIA:
                masks[i][row] = True
    return masks


def without(features: Features, shared: np.ndarray) -> Features:
    """The features less the keypoints set aside."""
    keep = ~shared
    return Features(features.points[keep], features.descriptors[keep])
