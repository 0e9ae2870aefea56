"""Frame matches: which stored frames of two media show the same picture.

Pure: everything a dedupe run searches is handed in (a `FrameTable` of the hashed frames,
the index, the local features, a callable that loads a frame's picture), and new frame
matches come back; the stage (pipeline/stages/dedupe.py) loads and saves. Five searches,
each feeding the next:

1. `index_pairs`: new frames against the Hamming index of every indexed frame, with their
   mirror images (PDQ within `pdq_max_distance`).
2. `anchor_candidates` + `confirm_pairs`: for pairs of media (one a video) that PDQ did
   not link, the closest frame pair within `video_anchor_max_distance`, kept only when
   keypoints and pixels confirm it.
3. `feature_matches`: the crop path, local descriptors voting for frames of other media,
   confirmed by homography and pixel agreement.
4. `plain_matches` and `view_matches`: the recall paths for what the others leave unlinked
   (core/lowtexture: frames below the PDQ quality minimum, proposed by pHash; core/subimage:
   mirror images and regions inside pages), verified as the crop path verifies.
5. `extend_alignments`: a video pair's best match followed along its time offset (each frame
   pair also tried mirrored, and as a picture inside the other: picture-in-picture).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

import numpy as np

from pipeline.config import DedupeConfig
from pipeline.core import hamming, lowtexture, shared_regions, subimage
from pipeline.core.hashing import hamming as hamming_bits
from pipeline.core.keypoints import (
    DescriptorIndex,
    Features,
    Verification,
    VerifyRules,
    sift_features,
    verify,
    verify_aligned,
)
from pipeline.core.records import (
    FeatureRow,
    FrameKey,
    FrameMatchRow,
    HashRow,
    IndexEntry,
    StoredFrame,
)
from pipeline.core.relations import SCENE_METHOD, FrameMatch, MediaInfo

PictureLoader = Callable[[FrameKey], np.ndarray]  # a stored frame's RGB thumbnail
FramePair = tuple[FrameKey, FrameKey]  # ordered: first < second

PLAIN_FRAME_KEYPOINTS = 30  # fewer keypoints than this: check by intensity alignment instead
ALIGN_WINDOW_S = 0.6  # a frame of the other video this close to the anchor's offset is its peer
PDQ_BYTES = 32
# A still and a video frame this close are a grab candidate (core/grabs): a still grabbed half
# a second from the samples of moving footage lies 60-100 bits from them; unrelated pictures
# lie at 128 +- 8 bits, so 96 is four deviations out. Only decoding and verification decide.
GRAB_MAX_BITS = 96


@dataclass(frozen=True)
class FrameFacts:
    """What matching needs of one hashed frame: time (None for a still), shot, PDQ of the
    picture and of its mirror (32 bytes each), PDQ quality (0-100), uniform flag."""

    pts_s: float | None
    shot_id: int
    pdq: bytes
    pdq_mirror: bytes
    pdq_quality: int
    uniform: bool
    phash: bytes = b""  # imagehash's pHash and its mirror's (8 bytes each): core/lowtexture
    phash_mirror: bytes = b""


@dataclass(frozen=True)
class FrameTable:
    """Every stored frame of a run, loaded once: the hashed ones with their facts (in
    media_id, frame_index order) and grouped by shot, every frame's thumbnail, and each
    media's stored frames."""

    hashed: Mapping[FrameKey, FrameFacts]
    shots: Mapping[tuple[str, int], tuple[FrameKey, ...]]  # (media_id, shot_id) -> frames
    thumbs: Mapping[FrameKey, str]
    frames_by_media: Mapping[str, tuple[StoredFrame, ...]]

    @classmethod
    def build(cls, hashes: Iterable[HashRow], frames: Iterable[StoredFrame]) -> FrameTable:
        """From the hashes and frames tables, each read once: a hash row takes its frame's
        time and shot (a row whose frame is gone is left out, as a join would)."""
        stored = list(frames)
        timing = {(f.media_id, f.frame.frame_index): f.frame for f in stored}
        facts = {
            h.key: FrameFacts(
                timing[h.key].pts_s,
                timing[h.key].shot_id,
                h.pdq,
                h.pdq_mirror,
                h.pdq_quality,
                h.uniform,
                h.phash,
                h.phash_mirror,
            )
            for h in hashes
            if h.key in timing
        }
        shots: dict[tuple[str, int], list[FrameKey]] = defaultdict(list)
        for key, fact in facts.items():
            shots[(key[0], fact.shot_id)].append(key)
        by_media: dict[str, list[StoredFrame]] = defaultdict(list)
        for frame in stored:
            by_media[frame.media_id].append(frame)
        return cls(
            facts,
            {shot: tuple(keys) for shot, keys in shots.items()},
            {
                (f.media_id, f.frame.frame_index): f.thumb_sha256
                for g in by_media.values()
                for f in g
            },
            {media_id: tuple(group) for media_id, group in by_media.items()},
        )

    def sizes(self) -> dict[FrameKey, tuple[int, int]]:
        """Every stored frame's thumbnail (width, height): where its keypoints lie."""
        return {
            (f.media_id, f.frame.frame_index): (f.width, f.height)
            for frames in self.frames_by_media.values()
            for f in frames
        }

    def usable(self, media_ids: Iterable[str]) -> set[FrameKey]:
        """Frames of these media that are not uniform: keypoint matches need no more."""
        wanted = set(media_ids)
        return {k for k, f in self.hashed.items() if k[0] in wanted and not f.uniform}

    def matchable(self, media_ids: Iterable[str], quality_min: int) -> set[FrameKey]:
        """Usable frames whose PDQ quality reaches quality_min: PDQ matches need that."""
        return {k for k in self.usable(media_ids) if self.hashed[k].pdq_quality >= quality_min}

    def codes(self, keys: Sequence[FrameKey], mirror: bool = False) -> np.ndarray:
        """PDQ codes (or their mirrors') of these frames, one 32-byte row each."""
        if not keys:
            return np.zeros((0, PDQ_BYTES), dtype=np.uint8)
        column = (self.hashed[k].pdq_mirror if mirror else self.hashed[k].pdq for k in keys)
        return np.frombuffer(b"".join(column), np.uint8).reshape(-1, PDQ_BYTES)

    def media_infos(self, observed: Mapping[str, tuple[str, float | None]]) -> dict[str, MediaInfo]:
        """observed: media_id -> (kind, duration_s); each with its sorted frame times."""
        return {
            media_id: MediaInfo(
                media_id,
                kind,
                duration_s,
                tuple(
                    sorted(
                        f.frame.pts_s
                        for f in self.frames_by_media.get(media_id, ())
                        if f.frame.pts_s is not None
                    )
                ),
            )
            for media_id, (kind, duration_s) in observed.items()
        }


@dataclass(frozen=True)
class Eligible:
    """Frames that may match: `usable` (not uniform) for keypoint matches, `matchable`
    (usable with PDQ quality at the minimum) for PDQ matches and the index."""

    usable: frozenset[FrameKey]
    matchable: frozenset[FrameKey]

    @classmethod
    def of(cls, table: FrameTable, media_ids: Iterable[str], quality_min: int) -> Eligible:
        ids = set(media_ids)
        return cls(frozenset(table.usable(ids)), frozenset(table.matchable(ids, quality_min)))


@dataclass(frozen=True)
class KnownMatches:
    """What earlier runs stored: index entries, frame matches and local features."""

    entries: tuple[IndexEntry, ...]
    matches: tuple[FrameMatchRow, ...]
    features: tuple[FeatureRow, ...]


def frame_distance(a: FrameFacts, b: FrameFacts) -> int:
    """Mirror-invariant PDQ distance, symmetric in a and b."""
    return min(
        hamming_bits(a.pdq, b.pdq),
        hamming_bits(a.pdq, b.pdq_mirror),
        hamming_bits(a.pdq_mirror, b.pdq),
    )


def _ordered(this: FrameKey, other: FrameKey) -> FramePair:
    return (this, other) if this < other else (other, this)


def _row(
    table: FrameTable, a: FrameKey, b: FrameKey, method: str, checked: Verification | None = None
) -> FrameMatchRow:
    """A frame match, with the keypoint and pixel evidence when `checked` measured it."""
    distance = frame_distance(table.hashed[a], table.hashed[b])
    if checked is None:
        return FrameMatchRow(a[0], a[1], b[0], b[1], distance, method)
    return FrameMatchRow(
        a[0],
        a[1],
        b[0],
        b[1],
        distance,
        method,
        checked.inliers,
        checked.coverage_a,
        checked.coverage_b,
        checked.agreement,
    )


def index_pairs(
    table: FrameTable,
    index: hamming.HammingIndex,
    mirror_index: hamming.HammingIndex,
    new: Sequence[FrameKey],
    by_id: Mapping[int, FrameKey],
    max_distance: int,
) -> set[FramePair]:
    """Pairs of frames of different media within max_distance bits, mirror-invariantly.

    Both indexes already hold the new frames. Three queries per new frame (its hash against
    both indexes, its mirror's hash against the first) find every pair whose distance in any
    of the three pairings is within the threshold, whichever frame came first, so an
    incremental run finds exactly what a full run finds.
    """
    pairs: set[FramePair] = set()
    for mirrored_query, searched in ((False, index), (True, index), (False, mirror_index)):
        result = searched.search(table.codes(new, mirrored_query), max_distance)
        for query, hit in zip(result.query, result.match_id, strict=True):
            this, other = new[int(query)], by_id[int(hit)]
            if this[0] != other[0]:
                pairs.add(_ordered(this, other))
    return pairs


def pdq_matches(table: FrameTable, pairs: Iterable[FramePair]) -> list[FrameMatchRow]:
    return [_row(table, a, b, "pdq") for a, b in sorted(pairs)]


def strong_links(matches: Iterable[FrameMatchRow], weak_bits: int) -> dict[str, set[str]]:
    """media -> the media a PDQ frame match below weak_bits, or a keypoint confirmation,
    links it to (its copies and versions: they share its keypoints at their places, and are
    not a template; core/shared_regions)."""
    linked: dict[str, set[str]] = defaultdict(set)
    for m in matches:
        strong_pdq = m.method == "pdq" and (not weak_bits or m.distance < weak_bits)
        if strong_pdq or m.method == "keypoints":
            linked[m.media_a].add(m.media_b)
            linked[m.media_b].add(m.media_a)
    return linked


def weak_still_pairs(
    table: FrameTable, pairs: Iterable[FramePair], weak_bits: int
) -> list[FramePair]:
    """PDQ pairs of two stills at weak_bits or more (0: none): screenshots of different
    pictures in one page template match at 30 bits. Their pixels are checked
    (`confirm_pairs`); one left unconfirmed makes its relation only a candidate
    (core/relations)."""
    if not weak_bits:
        return []
    return [
        (a, b)
        for a, b in sorted(pairs)
        if table.hashed[a].pts_s is None
        and table.hashed[b].pts_s is None
        and frame_distance(table.hashed[a], table.hashed[b]) >= weak_bits
    ]


def anchor_candidates(
    table: FrameTable,
    exact_index: hamming.HammingIndex,
    new: Sequence[FrameKey],
    by_id: Mapping[int, FrameKey],
    linked: Iterable[FramePair],
    max_distance: int,
) -> list[FramePair]:
    """One candidate per pair of media, at least one of them a video, that PDQ alone did not
    link: the closest frame pair within max_distance (ties: the smaller keys).

    Two copies of a fast pan are sampled a fraction of a second apart, which PDQ reads as
    40-80 bits; the anchor lets the alignment follow the pair's time offset. A still grabbed
    from a video mostly shows a moment between two sampled frames, 30-60 bits from both, and
    its shot's first frame, the only one with stored keypoints, may show another part of the
    shot: the anchor links it. Two stills need no anchor: both carry keypoints for the crop
    path. exact_index searches exhaustively (max_distance is beyond a multi-index's radius).
    """
    if not new:
        return []
    media_linked = {(a[0], b[0]) for a, b in linked}
    best: dict[tuple[str, str], tuple[int, FrameKey, FrameKey]] = {}
    result = exact_index.search(table.codes(new), max_distance)
    for query, hit, distance in zip(result.query, result.match_id, result.distance, strict=True):
        this, other = new[int(query)], by_id[int(hit)]
        if this[0] == other[0] or (
            table.hashed[this].pts_s is None and table.hashed[other].pts_s is None
        ):
            continue
        a, b = _ordered(this, other)
        if (a[0], b[0]) in media_linked:
            continue
        candidate = (int(distance), a, b)
        best[(a[0], b[0])] = min(best.get((a[0], b[0]), candidate), candidate)
    return [(a, b) for _, a, b in sorted(best.values())]


@dataclass(frozen=True)
class Check:
    """One candidate frame pair to confirm by keypoints and pixels, picture a against
    picture b. `stored`: the frames' stored features (the crop path), else features of the
    pictures themselves; `plain_fallback`: plain frames (few keypoints) are also tried by
    intensity alignment (anchors and alignments, not the crop path); `mirrored`: b's
    picture is flipped left-right first (a mirrored re-upload, followed along an alignment)."""

    a: FrameKey
    b: FrameKey
    stored: tuple[Features, Features] | None = None
    plain_fallback: bool = True
    mirrored: bool = False


@dataclass(frozen=True)
class Checked:
    """A check's answer: the confirming evidence (the keypoint check, or the intensity
    alignment of plain frames), None when unconfirmed, and the keypoint check itself, kept
    for `Verification.one_scene`. Pickles (Verification's homography is a plain array), so
    it comes back from a Dask worker as it is."""

    confirmed: Verification | None
    keypoint: Verification


# Answers checks in order (one `Checked` each) under the rules: `verify_checks` in this
# process, or the dedupe stage's batches on the run's executor (same answers, pictures sent
# as bytes).
Verifier = Callable[[Sequence[Check], VerifyRules], list[Checked]]


class _Pictures:
    """Pictures (and their mirror images) and their features, each loaded or computed once
    per use of the cache."""

    def __init__(self, load: PictureLoader) -> None:
        self._load = load
        self._pictures: dict[tuple[FrameKey, bool], np.ndarray] = {}
        self._features: dict[tuple[FrameKey, bool], Features] = {}

    def picture(self, key: FrameKey, mirrored: bool = False) -> np.ndarray:
        if (key, mirrored) not in self._pictures:
            self._pictures[(key, mirrored)] = (
                np.ascontiguousarray(self.picture(key)[:, ::-1]) if mirrored else self._load(key)
            )
        return self._pictures[(key, mirrored)]

    def features(self, key: FrameKey, mirrored: bool = False) -> Features:
        if (key, mirrored) not in self._features:
            self._features[(key, mirrored)] = sift_features(self.picture(key, mirrored))
        return self._features[(key, mirrored)]


def _checked(check: Check, seen: _Pictures, rules: VerifyRules) -> Checked:
    """Keypoints and pixels agree; plain frames (few keypoints) by intensity alignment when
    the check allows it."""
    pic_a, pic_b = seen.picture(check.a), seen.picture(check.b, check.mirrored)
    if check.stored is not None:
        feat_a, feat_b = check.stored
    else:
        feat_a, feat_b = seen.features(check.a), seen.features(check.b, check.mirrored)
    keypoint = verify(pic_a, feat_a, pic_b, feat_b, rules)
    if keypoint.confirmed:
        return Checked(keypoint, keypoint)
    if check.plain_fallback and min(len(feat_a), len(feat_b)) < PLAIN_FRAME_KEYPOINTS:
        aligned = verify_aligned(pic_a, pic_b, rules)
        if aligned.confirmed:
            return Checked(aligned, keypoint)
    return Checked(None, keypoint)


def verify_checks(
    checks: Sequence[Check], pictures: PictureLoader, rules: VerifyRules
) -> list[Checked]:
    """Each check's answer, in order; a picture (and its features) is loaded (computed) once
    for all the checks that name it."""
    seen = _Pictures(pictures)
    return [_checked(check, seen, rules) for check in checks]


def local_verifier(pictures: PictureLoader, batch: int = 256) -> Verifier:
    """`verify_checks` in this process, batch checks at a time (the pictures of one batch
    are held together, so memory stays bounded however many candidates a run has)."""

    def verify_all(checks: Sequence[Check], rules: VerifyRules) -> list[Checked]:
        answers: list[Checked] = []
        for start in range(0, len(checks), batch):
            answers += verify_checks(checks[start : start + batch], pictures, rules)
        return answers

    return verify_all


def confirm_pairs(
    table: FrameTable,
    pairs: Iterable[FramePair],
    pictures: PictureLoader,
    rules: VerifyRules,
    scenes: bool = True,
    verifier: Verifier | None = None,
) -> list[FrameMatchRow]:
    """The pairs whose pictures keypoints and pixels confirm, as `keypoints` matches; with
    `scenes`, also those that align as one scene only, as `scene` matches."""
    checks = [Check(a, b) for a, b in pairs]
    answers = (verifier or local_verifier(pictures))(checks, rules)
    confirmed = []
    for check, answer in zip(checks, answers, strict=True):
        if answer.confirmed is not None:
            confirmed.append(_row(table, check.a, check.b, "keypoints", answer.confirmed))
        elif scenes and answer.keypoint.one_scene(rules):
            confirmed.append(_row(table, check.a, check.b, SCENE_METHOD, answer.keypoint))
    return confirmed


@dataclass(frozen=True)
class FeatureSearch:
    """What the crop path found: confirmed matches, the frames it searched, and the
    descriptor index holding every searched frame (None when nothing was new)."""

    matches: tuple[FrameMatchRow, ...]
    searched: tuple[FrameKey, ...]
    index: DescriptorIndex | None = None


def descriptor_index(
    saved: DescriptorIndex | None, features: Sequence[FeatureRow], params: str
) -> DescriptorIndex:
    """The saved index when it holds exactly the frames searched under params, else one
    rebuilt from their stored features (first run, changed parameters, a removed media, a
    run killed between writing the index and committing its frames)."""
    searched = [row for row in features if row.searched_params == params]
    if saved is not None and sorted(saved.keys) == sorted(row.key for row in searched):
        return saved
    return DescriptorIndex.build(
        [Features.from_bytes(row.points, row.descriptors) for row in searched],
        [row.key for row in searched],
    )


def feature_matches(
    table: FrameTable,
    features: Sequence[FeatureRow],
    params: str,
    linked_media: set[tuple[str, str]],
    pictures: PictureLoader,
    votes_min: int,
    descriptor_max_l2: float,
    rules: VerifyRules,
    verifier: Verifier | None = None,
    saved: DescriptorIndex | None = None,
    related: Mapping[str, AbstractSet[str]] | None = None,
) -> FeatureSearch:
    """The crop path: frames whose features were not searched under params are added to the
    descriptor index (`descriptor_index`: kept between runs) and vote, descriptor by
    descriptor, for frames of other media; candidates whose media are not linked yet are
    confirmed by homography and pixel agreement, less the keypoints that recur at one place
    across groups of unrelated media (core/shared_regions; `related`: media -> media strong
    PDQ matches or keypoint confirmations link it to, `strong_links`), then moved to the
    closest frames of their shots (`closest_in_shot`); those that align only as one scene
    come back as `scene` matches. Only the new frames are decoded and searched, unless a
    pair framed alike asks for the shared regions (they look at every stored frame)."""
    related = related or {}
    new = [i for i, row in enumerate(features) if row.searched_params != params]
    if not new:
        return FeatureSearch((), ())
    index = descriptor_index(saved, features, params)
    decoded: dict[int, Features] = {}

    def feats(i: int) -> Features:
        if i not in decoded:
            decoded[i] = Features.from_bytes(features[i].points, features[i].descriptors)
        return decoded[i]

    keys = [row.key for row in features]
    position = {key: i for i, key in enumerate(keys)}
    first = len(index.keys)
    index.add([feats(i) for i in new], [keys[i] for i in new])
    numbered = index.pairs(
        [(first + n, feats(i)) for n, i in enumerate(new)], votes_min, descriptor_max_l2
    )
    votes = sorted(
        {tuple(sorted((position[index.keys[x]], position[index.keys[y]]))) for x, y in numbered}
    )
    pairs = [
        (i, j) if keys[i] < keys[j] else (j, i)
        for i, j in votes
        if tuple(sorted((keys[i][0], keys[j][0]))) not in linked_media
    ]
    checks = [Check(keys[i], keys[j], (feats(i), feats(j)), plain_fallback=False) for i, j in pairs]
    check_all = verifier or local_verifier(pictures)
    answers = check_all(checks, rules)
    # Pairs framed alike may rest on a template (core/shared_regions): their frames are
    # looked up in one search (of every stored frame: decoded only then), and the pair
    # checked again without what recurs.
    framed_alike = [
        n
        for n, answer in enumerate(answers)
        if answer.keypoint.confirmed and answer.keypoint.in_place
    ]
    if framed_alike:
        sizes = table.sizes()
        masks = shared_regions.recurring(
            [feats(i) for i in range(len(features))],
            keys,
            [sizes[key] for key in keys],
            {i for n in framed_alike for i in pairs[n]},
            related,
            descriptor_max_l2,
        )
        again = [
            Check(
                keys[i],
                keys[j],
                (
                    shared_regions.without(feats(i), masks[i]),
                    shared_regions.without(feats(j), masks[j]),
                ),
                plain_fallback=False,
            )
            for i, j in (pairs[n] for n in framed_alike)
        ]
        for n, answer in zip(framed_alike, check_all(again, rules), strict=True):
            answers[n] = answer
    confirmed: list[FrameMatchRow] = []
    for check, answer in zip(checks, answers, strict=True):
        if answer.confirmed is not None:
            moved = closest_in_shot(table, check.a, check.b)
            confirmed.append(_row(table, *moved, "keypoints", answer.confirmed))
        elif answer.keypoint.one_scene(rules):
            confirmed.append(_row(table, check.a, check.b, SCENE_METHOD, answer.keypoint))
    return FeatureSearch(tuple(confirmed), tuple(keys[i] for i in new), index)


def plain_matches(
    table: FrameTable,
    eligible: Eligible,
    new: Sequence[FrameKey],
    searched: Sequence[FrameKey],
    found: Sequence[FrameMatchRow],
    known: KnownMatches,
    pictures: PictureLoader,
    rules: VerifyRules,
) -> list[FrameMatchRow]:
    """The low-texture path (core/lowtexture): frames below the PDQ quality minimum, which
    the index leaves out, proposed by pHash and confirmed by keypoints and pixels."""
    facts = {
        key: lowtexture.PlainFrame(
            table.hashed[key].phash, table.hashed[key].phash_mirror, key not in eligible.matchable
        )
        for key in eligible.usable
    }
    new_media = {key[0] for key in [*new, *searched]}
    linked = {(m.media_a, m.media_b) for m in [*known.matches, *found]}
    pairs = lowtexture.candidates(facts, new_media, linked)
    return [_row(table, a, b, "keypoints") for a, b in lowtexture.confirmed(pairs, pictures, rules)]


def view_matches(
    table: FrameTable,
    features: Sequence[FeatureRow],
    usable: AbstractSet[FrameKey],
    searched: Sequence[FrameKey],
    found: Sequence[FrameMatchRow],
    known: KnownMatches,
    pictures: PictureLoader,
    cfg: DedupeConfig,
    rules: VerifyRules,
) -> list[FrameMatchRow]:
    """The recall paths of core/subimage (mirrored crops, pictures inside pages) for media
    the other searches left unlinked, as `keypoints` matches."""
    rows = [row for row in features if row.key in usable]
    linked = {(m.media_a, m.media_b) for m in [*known.matches, *found]}
    max_distance = cfg.video_anchor_max_distance
    confirmed = subimage.view_matches(
        [row.key for row in rows],
        [Features.from_bytes(row.points, row.descriptors) for row in rows],
        frozenset(searched),
        linked,
        pictures,
        cfg.keypoint_votes,
        cfg.descriptor_max_l2,
        rules,
    )
    matched = []
    for a, b, _ in confirmed:
        pair = _ordered(a, b)
        moved = closest_in_shot(table, *pair)
        # As on the crop path, a video side moves to the frame of its shot nearest the other
        # side in PDQ (a still was taken somewhere in the shot). Between two videos only when
        # that distance means something (within the anchor search's reach): a mirrored crop
        # is far from every frame, the nearest would be an arbitrary one, and the pair's
        # time offset, which the alignment follows, false.
        still = table.hashed[a].pts_s is None or table.hashed[b].pts_s is None
        near = frame_distance(table.hashed[moved[0]], table.hashed[moved[1]]) <= max_distance
        matched.append(_row(table, *(moved if still or near else pair), "keypoints"))
    return matched


def closest_in_shot(table: FrameTable, a: FrameKey, b: FrameKey) -> FramePair:
    """Keypoints are kept for a shot's first frame only; a still confirmed against it was
    taken somewhere in that shot, so move each video side to the frame of the same shot
    whose hash is nearest the other side (the still's time, to within a sample)."""

    def nearest(video: FrameKey, other: FrameKey) -> FrameKey:
        same_shot = table.shots[(video[0], table.hashed[video].shot_id)]
        target = table.hashed[other]
        return min(same_shot, key=lambda key: (frame_distance(table.hashed[key], target), key))

    moved_a = nearest(a, b) if table.hashed[a].pts_s is not None else a
    moved_b = nearest(b, a) if table.hashed[b].pts_s is not None else b
    return moved_a, moved_b


def extend_alignments(
    table: FrameTable,
    known: Sequence[FrameMatchRow],
    new_media: set[str],
    pictures: PictureLoader,
    rules: VerifyRules,
    verifier: Verifier | None = None,
) -> list[FrameMatchRow]:
    """Follow each video pair's best frame match along its time offset, confirming each
    frame pair on that line by keypoints and pixels; returns the new matches.

    PDQ misses frames of fast pans sampled a fraction of a second apart in two copies, and
    low-texture frames; one anchor plus confirmed neighbours gives the run of matches that
    offset agreement and interval estimation need. Only pairs involving media in new_media
    are followed, so an incremental run does what a full run does. The frame pairs go to
    `verifier` as they are, those left unconfirmed again mirrored (a mirrored re-upload);
    what is still unconfirmed is tried here as a picture inside the other.
    """
    timed: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for (media_id, frame_index), facts in table.hashed.items():
        if facts.pts_s is not None and not facts.uniform:
            timed[media_id].append((float(facts.pts_s), frame_index))
    anchors: dict[tuple[str, str], tuple[int, int, int]] = {}
    existing: set[tuple[str, int, str, int]] = set()
    for m in known:
        existing.add((m.media_a, m.frame_a, m.media_b, m.frame_b))
        if m.method == SCENE_METHOD:
            continue  # one scene, not one footage: nothing to follow
        followed = m.media_a in new_media or m.media_b in new_media
        if followed and m.media_a in timed and m.media_b in timed:
            best = anchors.get((m.media_a, m.media_b))
            if best is None or (m.distance, m.frame_a, m.frame_b) < best:
                anchors[(m.media_a, m.media_b)] = (m.distance, m.frame_a, m.frame_b)
    checks = [
        Check((a, frame_a), (b, frame_b))
        for (a, b), (_, fa, fb) in sorted(anchors.items())
        for frame_a, frame_b in _aligned_frames(table, timed, (a, fa), (b, fb))
        if (a, frame_a, b, frame_b) not in existing
    ]
    check_all = verifier or local_verifier(pictures)
    answers = [answer.confirmed for answer in check_all(checks, rules)]
    # Not the same picture: perhaps a mirrored (and cropped) re-upload.
    flips = [n for n, answer in enumerate(answers) if answer is None]
    mirrored = check_all([replace(checks[n], mirrored=True) for n in flips], rules)
    for n, answer in zip(flips, mirrored, strict=True):
        answers[n] = answer.confirmed
    confirmed: list[FrameMatchRow] = []
    seen = _Pictures(pictures)
    pair: tuple[str, str] | None = None
    for check, checked in zip(checks, answers, strict=True):
        if checked is not None:
            confirmed.append(_row(table, check.a, check.b, "keypoints", checked))
            continue
        if pair != (check.a[0], check.b[0]):  # one pair's pictures and features at a time
            pair, seen = (check.a[0], check.b[0]), _Pictures(pictures)
        one, other = seen.picture(check.a), seen.picture(check.b)
        # Or a picture inside the other (picture-in-picture), tried here.
        if subimage.shows_inside(one, other, seen.features(check.b), rules) or (
            subimage.shows_inside(other, one, seen.features(check.a), rules)
        ):
            confirmed.append(_row(table, check.a, check.b, "keypoints"))
    return confirmed


def _aligned_frames(
    table: FrameTable,
    timed: Mapping[str, list[tuple[float, int]]],
    anchor_a: FrameKey,
    anchor_b: FrameKey,
) -> list[tuple[int, int]]:
    """(frame of a, frame of b) along the anchor's time offset: each timed frame of a with
    the frame of b nearest its time plus the offset, within ALIGN_WINDOW_S."""
    a, b = anchor_a[0], anchor_b[0]
    offset = float(table.hashed[anchor_b].pts_s or 0.0) - float(table.hashed[anchor_a].pts_s or 0.0)
    peers = sorted(timed[b])
    found = []
    for time_a, frame_a in sorted(timed[a]):
        near = [
            (abs(t - time_a - offset), f)
            for t, f in peers
            if abs(t - time_a - offset) <= ALIGN_WINDOW_S
        ]
        if near:
            found.append((frame_a, min(near)[1]))
    return found


def merge_frame_matches(
    stored: Sequence[FrameMatchRow], new: Iterable[FrameMatchRow]
) -> list[FrameMatchRow]:
    """The stored matches with the new ones added, as the catalog keeps them
    (io/catalog.add_frame_matches): a pair found again keeps its first method (a `scene`
    match found again as the same picture takes the new method and evidence), its smaller
    distance and its first measured evidence; sorted by media and frame."""
    merged: dict[tuple[str, int, str, int], FrameMatchRow] = {}
    for m in [*stored, *new]:
        key = (m.media_a, m.frame_a, m.media_b, m.frame_b)
        old = merged.get(key)
        if old is None or (old.method == SCENE_METHOD and m.method != SCENE_METHOD):
            # A scene match found again as the same picture is the same picture.
            merged[key] = m if old is None else replace(m, distance=min(m.distance, old.distance))
            continue
        if m.distance < old.distance:
            old = replace(old, distance=m.distance)
        if old.agreement is None and m.agreement is not None:  # the pixels checked it later
            old = replace(
                old,
                inliers=m.inliers,
                coverage_a=m.coverage_a,
                coverage_b=m.coverage_b,
                agreement=m.agreement,
            )
        merged[key] = old
    return [merged[key] for key in sorted(merged)]


def timed_matches(
    table: FrameTable,
    matches: Iterable[FrameMatchRow],
    matchable: AbstractSet[FrameKey],
    usable: AbstractSet[FrameKey],
) -> list[FrameMatch]:
    """Frame matches with their times, of frames still eligible: PDQ matches between
    matchable frames, keypoint matches between usable ones."""
    return [
        FrameMatch(
            m.media_a,
            m.frame_a,
            table.hashed[(m.media_a, m.frame_a)].pts_s,
            m.media_b,
            m.frame_b,
            table.hashed[(m.media_b, m.frame_b)].pts_s,
            m.distance,
            m.method,
            m.inliers,
            m.coverage_a,
            m.coverage_b,
            m.agreement,
        )
        for m in matches
        if {(m.media_a, m.frame_a), (m.media_b, m.frame_b)}
        <= (matchable if m.method == "pdq" else usable)
    ]


def exact_pairs(table: FrameTable) -> set[tuple[str, str]]:
    """Pairs of media (a < b) whose stored frames all decode to the same thumbnails:
    different bytes, identical pictures (metadata stripped, container remuxed)."""
    pictures: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for media_id, frames in table.frames_by_media.items():
        pictures[tuple(f.thumb_sha256 for f in frames)].append(media_id)
    return {
        (a, b)
        for group in pictures.values()
        for i, a in enumerate(sorted(group))
        for b in sorted(group)[i + 1 :]
    }


@dataclass(frozen=True)
class FrameSearch:
    """One run's searches: the index entries of the frames it indexed, the frame matches it
    found (in the order found, which decides a repeated pair's method), the frames whose
    features it searched, and how many matches following alignments added."""

    new_entries: tuple[IndexEntry, ...]
    matches: tuple[FrameMatchRow, ...]
    feature_frames: tuple[FrameKey, ...]
    confirmed_by_alignment: int
    descriptors: DescriptorIndex | None = None  # to save when feature_frames is not empty
    unconfirmed_anchors: tuple[FramePair, ...] = ()  # for core/grabs: a still between samples


def verify_rules(cfg: DedupeConfig) -> VerifyRules:
    """The keypoint and pixel rules every confirmation of a dedupe run applies."""
    return VerifyRules(
        cfg.keypoint_min_inliers,
        cfg.keypoint_min_ncc,
        block_min_ncc=cfg.keypoint_block_min_ncc,
        min_agreement=cfg.keypoint_min_agreement,
    )


def search_frames(
    cfg: DedupeConfig,
    params: str,
    table: FrameTable,
    eligible: Eligible,
    known: KnownMatches,
    indexes: tuple[hamming.HammingIndex, hamming.HammingIndex],
    pictures: PictureLoader,
    verifier: Verifier | None = None,
    descriptors: DescriptorIndex | None = None,
) -> FrameSearch:
    """Search every frame not indexed yet (and every feature not searched under params)
    against everything stored: the four searches of the module docstring, in order.

    indexes: (PDQ, mirrored PDQ) holding every entry of known.entries; the new frames are
    added to both (the caller saves them). Nothing else is changed. verifier: where the
    keypoint confirmations run (default: `local_verifier(pictures)`, this process).
    descriptors: the descriptor index saved by the last run, if any (`descriptor_index`).
    """
    verifier = verifier or local_verifier(pictures)
    index, mirror_index = indexes
    rules = verify_rules(cfg)
    indexed = {e.key for e in known.entries}
    new = sorted(key for key in eligible.matchable if key not in indexed)
    new_entries: list[IndexEntry] = []
    found: list[FrameMatchRow] = []
    unconfirmed: list[FramePair] = []
    if new:
        next_id = max((e.entry_id for e in known.entries), default=-1) + 1
        new_entries = [IndexEntry(next_id + i, k[0], k[1], params) for i, k in enumerate(new)]
        by_id = {e.entry_id: e.key for e in [*known.entries, *new_entries]}
        ids = np.array([e.entry_id for e in new_entries], dtype=np.int64)
        index.add(ids, table.codes(new))
        mirror_index.add(ids, table.codes(new, mirror=True))
        pairs = index_pairs(table, index, mirror_index, new, by_id, cfg.pdq_max_distance)
        found += pdq_matches(table, pairs)
        found += confirm_pairs(
            table,
            weak_still_pairs(table, pairs, cfg.weak_pdq_bits),
            pictures,
            rules,
            scenes=False,
            verifier=verifier,
        )
        if cfg.video_anchor_max_distance > cfg.pdq_max_distance:
            # 64 bits is far beyond a multi-index's exact radius (15): search exhaustively.
            exact = hamming.exact_for(index, max(cfg.video_anchor_max_distance, GRAB_MAX_BITS))
            candidates = anchor_candidates(
                table, exact, new, by_id, pairs, cfg.video_anchor_max_distance
            )
            anchored = confirm_pairs(table, candidates, pictures, rules, verifier=verifier)
            found += anchored
            proven = {(m.media_a, m.media_b) for m in anchored if m.method != SCENE_METHOD}
            unconfirmed = [
                (a, b)
                for a, b in anchor_candidates(table, exact, new, by_id, pairs, GRAB_MAX_BITS)
                if (table.hashed[a].pts_s is None) != (table.hashed[b].pts_s is None)
                and (a[0], b[0]) not in proven
            ]
    crop = feature_matches(
        table,
        [row for row in known.features if row.key in eligible.usable],
        params,
        {(m.media_a, m.media_b) for m in [*known.matches, *found] if m.method != SCENE_METHOD},
        pictures,
        cfg.keypoint_votes,
        cfg.descriptor_max_l2,
        rules,
        verifier=verifier,
        saved=descriptors,
        related=strong_links([*known.matches, *found], cfg.weak_pdq_bits),
    )
    found += crop.matches
    found += plain_matches(table, eligible, new, crop.searched, found, known, pictures, rules)
    found += view_matches(
        table, known.features, eligible.usable, crop.searched, found, known, pictures, cfg, rules
    )
    new_media = {key[0] for key in new} | {key[0] for key in crop.searched}
    extended = extend_alignments(
        table, [*known.matches, *found], new_media, pictures, rules, verifier
    )
    return FrameSearch(
        tuple(new_entries),
        tuple(found + extended),
        crop.searched,
        len(extended),
        crop.index,
        tuple(unconfirmed),
    )
