"""Standard signatures and list matching: PDQ as the reference computes it, vPDQ's text forms
and its frame-percentage rule, exact byte hashes, chunked streaming."""

from __future__ import annotations

import random

import numpy as np
import pytest
from threatexchange.signal_type.pdq.pdq_hasher import _pdq_from_numpy_array

from pipeline.core.signatures import (
    CollectionFrame,
    CollectionIndex,
    ListEntry,
    MatchRules,
    SignalError,
    VpdqFrame,
    hamming_hex,
    match_entries,
    normalise_signal,
    parse_vpdq_text,
    pdq_of_picture,
    vpdq_from_threatexchange,
    vpdq_text,
    vpdq_to_threatexchange,
)
from pipeline.synth import images as im


def _random_hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def _flip(hex_: str, bits: int, rng: random.Random) -> str:
    value = int(hex_, 16)
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


def test_pdq_of_a_photo_is_python_threatexchanges_pdq() -> None:
    photo = im.photo("astronaut")
    ours = pdq_of_picture(photo)
    theirs, quality = _pdq_from_numpy_array(photo)
    assert ours.hex == theirs
    assert ours.quality == quality == 100


def test_a_grey_picture_hashes_like_its_rgb_copy() -> None:
    grey = np.ascontiguousarray(im.photo("astronaut")[..., 1])
    rgb = np.repeat(grey[..., np.newaxis], 3, axis=2)
    assert pdq_of_picture(grey) == pdq_of_picture(rgb)


def test_alpha_is_ignored() -> None:
    photo = im.photo("coffee")
    alpha = np.full((*photo.shape[:2], 1), 7, np.uint8)
    assert pdq_of_picture(np.concatenate([photo, alpha], axis=2)) == pdq_of_picture(photo)


def test_vpdq_text_and_threatexchange_forms_round_trip() -> None:
    rng = random.Random(1)
    frames = tuple(VpdqFrame(i, 90 + i, _random_hex(rng), i / 3) for i in range(5))
    assert parse_vpdq_text(vpdq_text(frames)) == tuple(
        VpdqFrame(f.frame, f.quality, f.pdq_hex, round(f.timestamp_s, 3)) for f in frames
    )
    back = vpdq_from_threatexchange(vpdq_to_threatexchange(frames))
    assert [(f.pdq_hex, f.quality) for f in back] == [(f.pdq_hex, f.quality) for f in frames]


@pytest.mark.parametrize(
    ("signal_type", "signal"),
    [("pdq", "ab" * 31), ("pdq", "zz" * 32), ("md5", "a" * 31), ("sha256", "<b>" + "a" * 61)],
)
def test_malformed_signals_are_refused(signal_type: str, signal: str) -> None:
    with pytest.raises(SignalError):
        normalise_signal(signal_type, signal)


def test_upper_case_hex_is_read_as_python_threatexchange_writes_it() -> None:
    assert normalise_signal("md5", "ABCDEF" + "0" * 26) == "abcdef" + "0" * 26


def _video(media_id: str, hexes: list[str], quality: int = 100) -> list[CollectionFrame]:
    return [CollectionFrame(media_id, i, float(i), h, quality) for i, h in enumerate(hexes)]


def _entry(hexes: list[str]) -> ListEntry:
    frames = tuple(VpdqFrame(i, 100, h, float(i)) for i, h in enumerate(hexes))
    return ListEntry("list.csv", 2, "vpdq", "", "release A", frames)


def test_vpdq_matches_when_80_percent_of_the_videos_frames_match() -> None:
    rng = random.Random(2)
    ours = [_random_hex(rng) for _ in range(10)]
    listed = [_flip(h, 20, rng) for h in ours[:8]] + [_random_hex(rng) for _ in range(5)]
    index = CollectionIndex(_video("v1", ours), [], MatchRules())
    (match,) = index.match_vpdq(_entry(listed))
    assert (match.media_id, match.signal_type, match.matched_percent) == ("v1", "vpdq", 80.0)
    assert (match.media_start_s, match.media_end_s) == (0.0, 7.0)
    assert match.distance <= 20


def test_vpdq_does_not_match_below_80_percent() -> None:
    rng = random.Random(3)
    ours = [_random_hex(rng) for _ in range(10)]
    listed = [_flip(h, 10, rng) for h in ours[:7]]
    index = CollectionIndex(_video("v1", ours), [], MatchRules())
    assert index.match_vpdq(_entry(listed)) == []


def test_frames_below_quality_50_never_match() -> None:
    rng = random.Random(4)
    ours = [_random_hex(rng) for _ in range(4)]
    index = CollectionIndex(_video("v1", ours, quality=49), [], MatchRules())
    assert index.match_vpdq(_entry(ours)) == []
    entry = ListEntry("l", 1, "pdq", ours[0], "")
    assert index.match_pdq([entry]) == []


def test_a_listed_pdq_finds_photos_within_31_bits_and_not_beyond() -> None:
    rng = random.Random(5)
    base = _random_hex(rng)
    photos = [
        CollectionFrame("near", -1, None, _flip(base, 31, rng), 100),
        CollectionFrame("far", -1, None, _flip(base, 40, rng), 100),
    ]
    index = CollectionIndex(photos, [], MatchRules(), index_kind="brute_force")
    (match,) = index.match_pdq([ListEntry("l", 3, "pdq", base, "label")])
    assert (match.media_id, match.distance, match.media_start_s) == ("near", 31, None)


def test_a_listed_pdq_found_in_a_video_gives_the_interval_of_its_frames() -> None:
    rng = random.Random(6)
    still = _random_hex(rng)
    frames = [_random_hex(rng), _flip(still, 3, rng), _flip(still, 5, rng), _random_hex(rng)]
    index = CollectionIndex(_video("v", frames), [], MatchRules())
    (match,) = index.match_pdq([ListEntry("l", 1, "pdq", still, "")])
    assert (match.media_start_s, match.media_end_s, match.distance) == (1.0, 2.0, 3)


def test_byte_hashes_match_exactly_whatever_the_family_name() -> None:
    index = CollectionIndex([], [("a" * 64, "b" * 32)], MatchRules())
    for kind in ("md5", "video_md5"):
        (match,) = index.match_bytes(ListEntry("l", 1, kind, "b" * 32, ""))
        assert match.media_id == "a" * 64
    assert index.match_bytes(ListEntry("l", 1, "video_sha256", "a" * 64, ""))
    assert index.match_bytes(ListEntry("l", 1, "md5", "c" * 32, "")) == []


def test_matching_in_chunks_gives_the_same_matches() -> None:
    rng = random.Random(7)
    photos = [CollectionFrame(f"m{i}", -1, None, _random_hex(rng), 100) for i in range(20)]
    entries = [
        ListEntry("l", n, "pdq", _flip(p.pdq_hex, n % 20, rng), "") for n, p in enumerate(photos)
    ]
    entries += [ListEntry("l", 100 + n, "pdq", _random_hex(rng), "") for n in range(30)]
    index = CollectionIndex(photos, [], MatchRules(), index_kind="brute_force")
    whole = match_entries(index, entries, chunk=1000)
    assert match_entries(index, iter(entries), chunk=3) == whole
    assert [m.media_id for m in whole] == [p.media_id for p in photos]


def test_hamming_hex_counts_bits() -> None:
    assert hamming_hex("0f", "f0") == 8
