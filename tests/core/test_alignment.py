"""core/alignment: frame matches from a FrameTable, without files (pictures come from a
callable over in-memory sample photos)."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np

from pipeline.config import DedupeConfig, HashConfig
from pipeline.core import alignment, hamming
from pipeline.core.alignment import Eligible, FrameTable, KnownMatches
from pipeline.core.hashing import hash_frame
from pipeline.core.keypoints import VerifyRules, sift_features
from pipeline.core.records import FeatureRow, FrameMatchRow, HashedFrame, HashRow, StoredFrame
from pipeline.core.shots import SampledFrame
from pipeline.synth import images as im

ZERO = bytes(32)
ONES = bytes([0xFF]) * 32


def _hashed(
    media_id: str,
    frame_index: int,
    pdq: bytes,
    mirror: bytes | None = None,
    pts_s: float | None = None,
    shot_id: int = 0,
    quality: int = 100,
    uniform: bool = False,
) -> HashedFrame:
    row = HashRow(
        media_id, frame_index, "p", pdq, mirror or pdq, quality, bytes(8), bytes(8), 0, 0, 1, 1,
        uniform, 10.0,
    )  # fmt: skip
    return HashedFrame(row, pts_s, shot_id)


def _build(hashed: list[HashedFrame], frames: list[StoredFrame]) -> FrameTable:
    """A table from hash rows with their times and shots (their frames stored too)."""
    stored = [
        StoredFrame(
            h.hashes.media_id,
            SampledFrame(h.hashes.frame_index, h.pts_s, h.shot_id, 0.0, "interval"),
            8,
            8,
            f"thumb-{h.hashes.media_id}-{h.hashes.frame_index}",
        )
        for h in hashed
    ]
    return FrameTable.build([h.hashes for h in hashed], stored + frames)


def _index() -> hamming.HammingIndex:
    return hamming.make_index("brute_force", 256)


def _stored(media_id: str, frame_index: int, pts_s: float | None, thumb: str) -> StoredFrame:
    reason = "still" if pts_s is None else "interval"
    return StoredFrame(media_id, SampledFrame(frame_index, pts_s, 0, 0.0, reason), 8, 8, thumb)


def _bits(count: int) -> bytes:
    """A PDQ code with the first `count` bits set."""
    value = (1 << 256) - (1 << (256 - count)) if count else 0
    return value.to_bytes(32, "big")


def test_frame_distance_is_the_smallest_of_the_three_pairings() -> None:
    a = alignment.FrameFacts(None, 0, ZERO, _bits(40), 100, False)
    b = alignment.FrameFacts(None, 0, _bits(40), _bits(200), 100, False)
    assert alignment.frame_distance(a, b) == 0  # a's mirror is b's picture
    assert alignment.frame_distance(b, a) == 0


def test_eligible_frames_leave_out_uniform_and_low_quality_ones() -> None:
    table = _build(
        [
            _hashed("a", 0, ZERO),
            _hashed("a", 1, ZERO, quality=10),
            _hashed("a", 2, ZERO, uniform=True),
            _hashed("z", 0, ZERO),
        ],
        [],
    )
    eligible = Eligible.of(table, ["a"], quality_min=50)
    assert eligible.usable == {("a", 0), ("a", 1)}
    assert eligible.matchable == {("a", 0)}


def test_index_pairs_find_a_mirrored_copy_and_skip_frames_of_one_media() -> None:
    picture, mirrored = _bits(0), _bits(120)
    table = _build(
        [
            _hashed("a", 0, picture, mirrored),
            _hashed("a", 1, picture, mirrored),
            _hashed("b", 0, mirrored, picture),
            _hashed("c", 0, _bits(60), _bits(60)),
        ],
        [],
    )
    keys = list(table.hashed)
    index, mirror_index = (
        hamming.make_index("brute_force", 256),
        hamming.make_index("brute_force", 256),
    )
    ids = np.arange(len(keys), dtype=np.int64)
    index.add(ids, table.codes(keys))
    mirror_index.add(ids, table.codes(keys, mirror=True))
    by_id = dict(enumerate(keys))
    pairs = alignment.index_pairs(table, index, mirror_index, keys, by_id, max_distance=31)
    assert pairs == {(("a", 0), ("b", 0)), (("a", 1), ("b", 0))}


def test_merge_keeps_the_first_method_and_the_smaller_distance() -> None:
    stored = [FrameMatchRow("a", 0, "b", 0, 20, "pdq")]
    new = [FrameMatchRow("a", 0, "b", 0, 5, "keypoints"), FrameMatchRow("a", 0, "b", 0, 9, "pdq")]
    new += [FrameMatchRow("a", 0, "a2", 0, 3, "keypoints")]
    merged = alignment.merge_frame_matches(stored, new)
    assert merged == [
        FrameMatchRow("a", 0, "a2", 0, 3, "keypoints"),
        FrameMatchRow("a", 0, "b", 0, 5, "pdq"),
    ]


def test_closest_in_shot_moves_the_video_side_to_its_nearest_frame() -> None:
    table = _build(
        [
            _hashed("still", 0, _bits(10)),
            _hashed("video", 0, _bits(100), pts_s=0.0, shot_id=3),
            _hashed("video", 1, _bits(12), pts_s=1.0, shot_id=3),
            _hashed("video", 2, _bits(10), pts_s=2.0, shot_id=4),  # nearer, other shot
        ],
        [],
    )
    assert alignment.closest_in_shot(table, ("still", 0), ("video", 0)) == (
        ("still", 0),
        ("video", 1),
    )


def test_exact_pairs_are_media_whose_frames_all_share_thumbnails() -> None:
    table = _build(
        [],
        [
            _stored("a", 0, 0.0, "t1"),
            _stored("a", 1, 1.0, "t2"),
            _stored("b", 0, 0.0, "t1"),
            _stored("b", 1, 1.0, "t2"),
            _stored("c", 0, 0.0, "t1"),  # one frame in common is not the same file
        ],
    )
    assert alignment.exact_pairs(table) == {("a", "b")}


def _photo_table(
    edit: Callable[[np.ndarray], np.ndarray] = lambda photo: im.recompress(photo, 60),
) -> tuple[FrameTable, dict[tuple[str, int], np.ndarray]]:
    """Two copies of a 'video' of three sample photos, the second (edited) 10 s later."""
    photos = [
        im.resize(im.photo(n), 256 / max(im.photo(n).shape[:2]))
        for n in ("astronaut", "coffee", "chelsea")
    ]
    pictures: dict[tuple[str, int], np.ndarray] = {}
    rows = []
    cfg = HashConfig()
    for media, start in (("a", 0.0), ("b", 10.0)):
        for i, photo in enumerate(photos):
            picture = photo if media == "a" else edit(photo)
            pictures[(media, i)] = picture
            h = hash_frame(picture, cfg)
            row = _hashed(media, i, h.pdq, h.pdq_mirror, start + i, quality=h.pdq_quality)
            rows.append(row)
    return _build(rows, []), pictures


def test_extend_alignments_follows_the_anchor_offset_to_the_other_frames() -> None:
    table, pictures = _photo_table()
    anchor = FrameMatchRow("a", 0, "b", 0, 4, "pdq")
    rules = VerifyRules(12, 0.9)
    found = alignment.extend_alignments(table, [anchor], {"b"}, pictures.__getitem__, rules)
    assert [(m.frame_a, m.frame_b, m.method) for m in found] == [
        (1, 1, "keypoints"),
        (2, 2, "keypoints"),
    ]


def test_extend_alignments_follows_a_mirrored_and_cropped_copy() -> None:
    """A mirrored crop re-upload: each frame pair is also tried mirrored (issue 15)."""
    table, pictures = _photo_table(lambda photo: im.crop(im.mirror(photo), 0.2))
    anchor = FrameMatchRow("a", 0, "b", 0, 90, "keypoints")
    found = alignment.extend_alignments(
        table, [anchor], {"b"}, pictures.__getitem__, VerifyRules(12, 0.9)
    )
    assert [(m.frame_a, m.frame_b) for m in found] == [(1, 1), (2, 2)]


def test_extend_alignments_leaves_pairs_of_old_media_alone() -> None:
    table, pictures = _photo_table()
    anchor = FrameMatchRow("a", 0, "b", 0, 4, "pdq")
    found = alignment.extend_alignments(
        table, [anchor], {"other"}, pictures.__getitem__, VerifyRules(12, 0.9)
    )
    assert found == []


def test_search_frames_indexes_new_frames_and_finds_the_copies() -> None:
    table, pictures = _photo_table()
    eligible = Eligible.of(table, ["a", "b"], quality_min=50)
    indexes = (hamming.make_index("brute_force", 256), hamming.make_index("brute_force", 256))
    search = alignment.search_frames(
        DedupeConfig(),
        "p",
        table,
        eligible,
        KnownMatches((), (), ()),
        indexes,
        pictures.__getitem__,
    )
    assert [e.key for e in search.new_entries] == sorted(eligible.matchable)
    assert {(m.media_a, m.frame_a, m.media_b, m.frame_b) for m in search.matches} >= {
        ("a", i, "b", i) for i in range(3)
    }
    assert len(indexes[0]) == len(search.new_entries)


def _feature_row(key: tuple[str, int], picture: np.ndarray, searched: str) -> FeatureRow:
    points, descriptors = sift_features(picture).to_bytes()
    return FeatureRow(key[0], key[1], "p", points, descriptors, searched)


def test_the_saved_descriptor_index_is_used_only_while_it_holds_the_searched_frames() -> None:
    _, pictures = _photo_table()
    rows = [_feature_row(k, p, "p" if k[0] == "a" else "") for k, p in sorted(pictures.items())]
    saved = alignment.descriptor_index(None, rows, "p")
    assert saved.keys == [("a", 0), ("a", 1), ("a", 2)]
    assert alignment.descriptor_index(saved, rows, "p") is saved
    fewer = [r for r in rows if r.key != ("a", 2)]  # a media removed since
    assert alignment.descriptor_index(saved, fewer, "p").keys == [("a", 0), ("a", 1)]
    assert alignment.descriptor_index(saved, rows, "other params").keys == []


def test_batched_verification_answers_as_one_check_at_a_time() -> None:
    _, pictures = _photo_table()
    keys = sorted(pictures)
    checks = [alignment.Check(a, b) for a in keys for b in keys if a[0] < b[0]]
    rules = VerifyRules(12, 0.9)
    one_by_one = [
        alignment.verify_checks([check], pictures.__getitem__, rules)[0] for check in checks
    ]
    confirmed = [answer.confirmed is not None for answer in one_by_one]
    assert confirmed == [a[1] == b[1] for a, b in ((c.a, c.b) for c in checks)]
    for batch in (1, 2, 100):
        assert alignment.local_verifier(pictures.__getitem__, batch)(checks, rules) == one_by_one
    # Each answer carries the evidence (the confirming check: keypoints here) and survives
    # pickling, as it comes back from a Dask worker.
    for answer, same in zip(one_by_one, confirmed, strict=True):
        if same:
            assert answer.confirmed == answer.keypoint and answer.keypoint.agreement > 0.9
    back = pickle.loads(pickle.dumps(one_by_one))
    assert back == one_by_one
    assert all(
        np.array_equal(x.keypoint.homography, y.keypoint.homography)
        for x, y in zip(back, one_by_one, strict=True)
        if y.keypoint.homography is not None
    )
    assert any(answer.keypoint.homography is not None for answer in back)
