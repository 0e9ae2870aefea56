"""The hash-sharing ecosystem's signatures (PDQ, vPDQ, MD5, SHA-256) and list matching.

crosscheck's own hashes (pipeline/core/hashing.py) trim borders and hash a small squeeze of
each frame: good for its own matching, useless to anyone else's list. The signatures here
are the standard ones, computed as Meta's reference implementations compute them, so a
partner's or a platform's list (GIFCT, ThreatExchange, Hasher-Matcher-Actioner) matches our
items and our exports match theirs (docs/hash-sharing.md).

Names of signal types are python-threatexchange's (`SignalType.get_name()`): `pdq`, `vpdq`,
`video_md5`, `video_sha256`; it has no TMK+PDQF type, so that one is `tmk_pdqf`, the name
its extensions README plans (pipeline/core/tmk.py). That package has no byte-hash type for
photos; a photo's are called `md5` and `sha256` here, and a list may use either family
for either kind of media (a file's bytes hash the same whatever it shows).

Pure: arrays, strings and frozen dataclasses in, new ones out. Decoding files and reading
lists live in pipeline/io/signatures.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.core.hamming import PDQ_BITS, HammingIndex, make_index
from pipeline.core.tmk import (
    TMK,
    TMK_LEVEL1_THRESHOLD,
    TMK_LEVEL2_THRESHOLD,
    TmkSignature,
    compatible,
    level2,
)

PDQ = "pdq"
VPDQ = "vpdq"
MD5_TYPES = ("md5", "video_md5", "photo_md5")
SHA256_TYPES = ("sha256", "video_sha256", "photo_sha256")
SIGNAL_TYPES = (PDQ, VPDQ, TMK, *MD5_TYPES, *SHA256_TYPES)

# ThreatExchange pdq/README.md and python-threatexchange's PdqSignal / VPDQSignal defaults:
# a PDQ match is <= 31 of 256 bits; below quality 50 a hash is "too unreliable to match on".
PDQ_MATCH_DISTANCE = 31
PDQ_QUALITY_MIN = 50
# vPDQ (python-threatexchange extensions/vpdq/vpdq_util.py): a video matches when at least
# 80% of its unique good frames match some frame of the listed video (query side) and at
# least 0% of the listed video's frames match (compared side).
VPDQ_QUERY_MATCH_PERCENT = 80.0
VPDQ_COMPARED_MATCH_PERCENT = 0.0

_HEX = re.compile(r"^[0-9a-f]+$")
_HEX_LENGTHS = {PDQ: 64, **dict.fromkeys(MD5_TYPES, 32), **dict.fromkeys(SHA256_TYPES, 64)}


class SignalError(ValueError):
    """A signal string that is not what its type says (wrong length, not hex, bad vPDQ)."""


@dataclass(frozen=True)
class PdqSignature:
    """PDQ of a whole picture: 64 lowercase hex digits and quality 0..100."""

    hex: str
    quality: int


@dataclass(frozen=True)
class VpdqFrame:
    """One line of a vPDQ signature: frame number, quality, PDQ hex, seconds into the video."""

    frame: int
    quality: int
    pdq_hex: str
    timestamp_s: float


def pdq_of_picture(picture: np.ndarray) -> PdqSignature:
    """PDQ of a decoded picture as Meta's reference computes it: the whole picture at its own
    resolution (pdqhash's Jarosz filters do the downsampling), no border trimming, no
    squeeze. `picture`: uint8, (h, w) grey or (h, w, 3|4) RGB(A); alpha is ignored."""
    array = np.asarray(picture)
    if array.dtype != np.uint8:
        raise ValueError(f"picture must be uint8, got {array.dtype}")
    if array.ndim == 2:
        array = np.repeat(array[..., np.newaxis], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ValueError(f"picture must be (h, w), (h, w, 3) or (h, w, 4), got {array.shape}")
    import pdqhash  # here: the catalog imports this module, and short commands need no PDQ

    bits, quality = pdqhash.compute(np.ascontiguousarray(array[:, :, :3]))
    return PdqSignature(np.packbits(bits.astype(np.uint8)).tobytes().hex(), int(quality))


def hamming_hex(a: str, b: str) -> int:
    """Differing bits of two equal-length hex hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def normalise_signal(signal_type: str, signal: str) -> str:
    """A listed hex signal in the form python-threatexchange writes (lowercase, no spaces);
    raises SignalError when it is not one."""
    if signal_type not in _HEX_LENGTHS:
        raise SignalError(f"unknown signal type {signal_type!r}")
    text = signal.strip().lower()
    want = _HEX_LENGTHS[signal_type]
    if len(text) != want or not _HEX.match(text):
        raise SignalError(f"{signal_type} must be {want} hex digits, got {signal[:80]!r}")
    return text


# --- vPDQ text forms -------------------------------------------------------------------------
def vpdq_line(frame: VpdqFrame) -> str:
    """vPDQ's per-frame text format (vpdq/sample-hashes): `frame,quality,pdq_hex,timestamp`."""
    return f"{frame.frame},{frame.quality},{frame.pdq_hex},{frame.timestamp_s:.3f}"


def parse_vpdq_line(line: str) -> VpdqFrame:
    parts = line.strip().split(",")
    if len(parts) != 4:
        raise SignalError(f"a vPDQ line is frame,quality,pdq_hex,timestamp; got {line[:80]!r}")
    try:
        frame, quality, timestamp = int(parts[0]), int(parts[1]), float(parts[3])
    except ValueError as exc:
        raise SignalError(f"bad number in vPDQ line {line[:80]!r}") from exc
    if frame < 0 or not 0 <= quality <= 100 or not timestamp >= 0:
        raise SignalError(f"vPDQ frame, quality or timestamp out of range in {line[:80]!r}")
    return VpdqFrame(frame, quality, normalise_signal(PDQ, parts[2]), timestamp)


def vpdq_text(frames: Sequence[VpdqFrame]) -> str:
    """The per-frame text of a whole video, one line per frame, newline-terminated."""
    return "".join(vpdq_line(f) + "\n" for f in frames)


def parse_vpdq_text(text: str) -> tuple[VpdqFrame, ...]:
    return tuple(parse_vpdq_line(line) for line in text.splitlines() if line.strip())


def vpdq_to_threatexchange(frames: Sequence[VpdqFrame]) -> str:
    """python-threatexchange's VPDQSignal string: a JSON list of `pdq_hex,quality,timestamp`
    (vpdq_util.vpdq_to_json), one line, as its local-file exchange reads it."""
    return json.dumps([f"{f.pdq_hex},{f.quality},{f.timestamp_s:.3f}" for f in frames])


def vpdq_from_threatexchange(signal: str) -> tuple[VpdqFrame, ...]:
    """The inverse of `vpdq_to_threatexchange` (frame numbers are positions)."""
    try:
        items = json.loads(signal)
    except json.JSONDecodeError as exc:
        raise SignalError(f"a vpdq signal is a JSON list: {exc}") from exc
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise SignalError("a vpdq signal is a JSON list of 'pdq_hex,quality,timestamp' strings")
    frames = []
    for position, item in enumerate(items):
        parts = item.split(",")
        if len(parts) != 3:
            raise SignalError(f"vpdq feature {item[:80]!r} is not pdq_hex,quality,timestamp")
        frames.append(parse_vpdq_line(f"{position},{parts[1]},{parts[0]},{parts[2]}"))
    if not frames:
        raise SignalError("a vpdq signal needs at least one frame")
    return tuple(frames)


# --- matching a list against the collection --------------------------------------------------
@dataclass(frozen=True)
class ListEntry:
    """One signal of a list: where it is (list name, 1-based line), what it is, its label."""

    list_name: str
    entry: int
    signal_type: str
    signal: str  # normalised hex; for vpdq, unused (see frames)
    label: str
    frames: tuple[VpdqFrame, ...] = ()
    tmk: TmkSignature | None = None

    def found_in(
        self, media_id: str, signal_type: str, distance: int, **found: float | None
    ) -> ListMatch:
        """This entry matched in media_id (found: times, matched share or score)."""
        return ListMatch(
            self.list_name, self.entry, self.label, media_id, signal_type, distance, **found
        )


@dataclass(frozen=True)
class CollectionFrame:
    """A PDQ the collection holds: a photo's (frame -1, time None) or a video's vPDQ frame."""

    media_id: str
    frame: int
    timestamp_s: float | None
    pdq_hex: str
    quality: int


@dataclass(frozen=True)
class ListMatch:
    """A media of the collection that a list entry describes (the contract's list_matches)."""

    list_name: str
    entry: int
    label: str
    media_id: str
    signal_type: str
    distance: int  # bits; 0 for MD5/SHA-256; for vPDQ the largest of the matched frames'
    media_start_s: float | None = None
    media_end_s: float | None = None
    matched_percent: float | None = None  # vPDQ: share of the media's good frames matched
    score: float | None = None  # tmk_pdqf: level-2 score (distance is 0: no bits to count)


@dataclass(frozen=True)
class MatchRules:
    pdq_max_distance: int = PDQ_MATCH_DISTANCE
    pdq_quality_min: int = PDQ_QUALITY_MIN
    vpdq_query_match_percent: float = VPDQ_QUERY_MATCH_PERCENT
    vpdq_compared_match_percent: float = VPDQ_COMPARED_MATCH_PERCENT
    tmk_level1_threshold: float = TMK_LEVEL1_THRESHOLD
    tmk_level2_threshold: float = TMK_LEVEL2_THRESHOLD


class CollectionIndex:
    """Every good PDQ of the collection (photos' PDQ, videos' vPDQ frames) in a Hamming index,
    plus the byte hashes, so a list of any size streams through it in chunks."""

    def __init__(
        self,
        frames: Iterable[CollectionFrame],
        byte_hashes: Iterable[tuple[str, str]],
        rules: MatchRules,
        index_kind: str = "mih",
        tmk: Iterable[tuple[str, TmkSignature]] = (),
    ) -> None:
        self.rules = rules
        self.tmk = list(tmk)
        # Level 1 for the whole collection at once: unit pure averages, one matrix product.
        averages = np.array([t.pure_average for _, t in self.tmk], dtype=np.float64)
        norms = np.linalg.norm(averages, axis=1, keepdims=True) if self.tmk else averages
        self.tmk_unit = np.divide(averages, norms, out=np.zeros_like(averages), where=norms > 0)
        kept = [f for f in frames if f.quality >= rules.pdq_quality_min]
        self.frames = kept
        self.index: HammingIndex = make_index(index_kind, PDQ_BITS)
        if kept:
            codes = np.frombuffer(b"".join(bytes.fromhex(f.pdq_hex) for f in kept), np.uint8)
            self.index.add(np.arange(len(kept), dtype=np.int64), codes.reshape(-1, 32))
        # Unique good frames per video: the denominator of vPDQ's query percentage.
        unique: dict[str, set[str]] = {}
        for f in kept:
            if f.timestamp_s is not None:
                unique.setdefault(f.media_id, set()).add(f.pdq_hex)
        self.video_unique = {media_id: len(hexes) for media_id, hexes in unique.items()}
        self.md5: dict[str, list[str]] = {}
        self.sha256: dict[str, list[str]] = {}
        for media_id, md5 in byte_hashes:
            self.md5.setdefault(md5, []).append(media_id)
            self.sha256.setdefault(media_id, []).append(media_id)

    def _search(self, hexes: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not hexes or not len(self.index):
            empty = np.empty(0, np.int64)
            return empty, empty, np.empty(0, np.int32)
        codes = np.frombuffer(b"".join(bytes.fromhex(h) for h in hexes), np.uint8)
        found = self.index.search(codes.reshape(-1, 32), self.rules.pdq_max_distance)
        return np.asarray(found.query), np.asarray(found.match_id), np.asarray(found.distance)

    def match_pdq(self, entries: Sequence[ListEntry]) -> list[ListMatch]:
        """PDQ entries (one chunk of a list) against every photo and video frame: one match
        per (entry, media), at its closest frame; for a video, the span of matching frames."""
        rows, ids, distances = self._search([e.signal for e in entries])
        best: dict[tuple[int, str], list[float]] = {}
        for row, frame_id, distance in zip(
            rows.tolist(), ids.tolist(), distances.tolist(), strict=True
        ):
            frame = self.frames[frame_id]
            key = (row, frame.media_id)
            t = frame.timestamp_s
            if key not in best:
                best[key] = [distance, t if t is not None else -1, t if t is not None else -1]
            else:
                got = best[key]
                got[0] = min(got[0], distance)
                if t is not None:
                    got[1], got[2] = min(got[1], t), max(got[2], t)
        out = []
        for (row, media_id), (distance, start, end) in best.items():
            entry = entries[row]
            out.append(
                entry.found_in(
                    media_id,
                    PDQ,
                    int(distance),
                    media_start_s=start if start >= 0 else None,
                    media_end_s=end if end >= 0 else None,
                )
            )
        return out

    def match_vpdq(self, entry: ListEntry) -> list[ListMatch]:
        """vPDQ's rule (python-threatexchange's brute matcher): the listed video's unique good
        frames against each collection video's; a video matches when the share of its own
        unique good frames within the PDQ distance of some listed frame reaches the query
        percentage and the listed video's matched share reaches the compared percentage."""
        listed = sorted(
            {f.pdq_hex for f in entry.frames if f.quality >= self.rules.pdq_quality_min}
        )
        rows, ids, distances = self._search(listed)
        ours: dict[str, set[str]] = {}
        theirs: dict[str, set[int]] = {}
        times: dict[str, list[float]] = {}
        worst: dict[str, int] = {}
        for row, frame_id, distance in zip(
            rows.tolist(), ids.tolist(), distances.tolist(), strict=True
        ):
            frame = self.frames[frame_id]
            if frame.timestamp_s is None:
                continue
            ours.setdefault(frame.media_id, set()).add(frame.pdq_hex)
            theirs.setdefault(frame.media_id, set()).add(row)
            times.setdefault(frame.media_id, []).append(frame.timestamp_s)
            worst[frame.media_id] = max(worst.get(frame.media_id, 0), distance)
        out = []
        for media_id in sorted(ours):
            query_percent = 100.0 * len(ours[media_id]) / self.video_unique[media_id]
            compared_percent = 100.0 * len(theirs[media_id]) / len(listed)
            if (
                query_percent >= self.rules.vpdq_query_match_percent
                and compared_percent >= self.rules.vpdq_compared_match_percent
            ):
                span = times[media_id]
                out.append(
                    entry.found_in(
                        media_id,
                        VPDQ,
                        worst[media_id],
                        media_start_s=min(span),
                        media_end_s=max(span),
                        matched_percent=round(query_percent, 1),
                    )
                )
        return out

    def match_tmk(self, entry: ListEntry) -> list[ListMatch]:
        """TMK's two levels (tmk-query): the listed video against every collection video
        whose level-1 score (pure-average cosine) reaches its threshold, then level 2."""
        listed = entry.tmk
        if listed is None or not self.tmk:
            return []
        average = listed.pure_average.astype(np.float64)
        norm = float(np.linalg.norm(average))
        if norm == 0:
            return []
        first = self.tmk_unit @ (average / norm)
        out = []
        for position in np.flatnonzero(first >= self.rules.tmk_level1_threshold).tolist():
            media_id, ours = self.tmk[position]
            if not compatible(listed, ours):
                continue
            second = level2(listed, ours)
            if second >= self.rules.tmk_level2_threshold:
                out.append(entry.found_in(media_id, TMK, 0, score=round(second, 4)))
        return out

    def match_bytes(self, entry: ListEntry) -> list[ListMatch]:
        table = self.md5 if entry.signal_type in MD5_TYPES else self.sha256
        return [
            entry.found_in(media_id, entry.signal_type, 0)
            for media_id in table.get(entry.signal, [])
        ]


def match_entries(
    index: CollectionIndex, entries: Iterable[ListEntry], chunk: int = 65536
) -> list[ListMatch]:
    """Every match of a stream of list entries; PDQ entries are searched `chunk` at a time,
    so a list of millions never sits in memory whole. Sorted for a stable contract file."""
    found: list[ListMatch] = []
    pending: list[ListEntry] = []
    for entry in entries:
        if entry.signal_type == PDQ:
            pending.append(entry)
            if len(pending) >= chunk:
                found += index.match_pdq(pending)
                pending = []
        elif entry.signal_type == VPDQ:
            found += index.match_vpdq(entry)
        elif entry.signal_type == TMK:
            found += index.match_tmk(entry)
        else:
            found += index.match_bytes(entry)
    found += index.match_pdq(pending)
    return sorted(found, key=_match_order)


def _match_order(m: ListMatch) -> tuple[str, int, str, str]:
    return (m.list_name, m.entry, m.media_id, m.signal_type)
