"""Near-duplicate search in Hamming space over fixed-width binary hashes (PDQ, pHash).

The dedupe stage must find every pair of hashes within a threshold (PDQ: 31 of 256 bits,
shared/REFERENCES.md) in archives of 10^6–10^7 frames, which rules out an all-pairs loop.
This module is the index behind that search, in the spirit of python-threatexchange's
`SignalTypeIndex`: `add`, `search`, `self_join`, and `to_bytes`/`from_bytes` so the stage
keeps the index between runs and only adds what is new.

Codes are `np.ndarray` of dtype uint8 and shape (n, nbits // 8), one hash per row, bits in
`np.packbits` order (32 bytes for PDQ, 8 for a 64-bit pHash). Ids are int64 and chosen by
the caller (for example the hashes table's row ids); they must be unique within an index.
Every distance is a count of differing bits, and every `max_distance` is inclusive.

Implementations, chosen by name through `make_index` so the config can pick one:

- `brute_force` (`BruteForceIndex`): numpy XOR and popcount over every pair, in bounded
  chunks. Exact; the reference the others are tested against; O(n^2).
- `mih` (`MultiIndexHash`): multi-index hashing (Norouzi et al., arXiv 1307.2982) in numpy,
  the default. Each code is cut into B blocks of w bits; two codes within d < B bits share
  at least one identical block (pigeonhole), so bucketing by each block's value and checking
  the pairs that share a bucket finds all of them. PDQ's threshold (31) is above that bound
  (B = 16 blocks of 16 bits), so the search repeats over further partitions of the bits
  into blocks: each block of partition p takes one bit from each column of the bits laid out
  as a B x w grid, so blocks of different partitions share few bits and a pair missed by one
  partition is rarely missed by the next. Exact up to B - 1 bits; above that recall is
  measured (bench/bench_index.py), not guaranteed: for uniformly placed bit flips,
  about 0.9995 at 31 bits with the default 3 partitions.
- `faiss_multihash` (`FaissMultiHashIndex`): faiss's `IndexBinaryMultiHash`, the same idea
  with one partition and optional bit flips per probe. Exact up to nhash * (nflip + 1) - 1.
- `faiss_flat` (`FaissFlatIndex`): faiss's exhaustive `IndexBinaryFlat`. Exact, about 1e9
  pairs per CPU-second against numpy's 2e8, on two threads, but still O(n^2).

Every returned pair is verified against its full code, so no implementation reports a pair
beyond `max_distance`; the approximate ones can only miss pairs, never invent them.
"""

from __future__ import annotations

import json
import struct
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import ArrayLike, NDArray

PDQ_BITS = 256
PHASH_BITS = 64

Int64Array = NDArray[np.int64]
Int32Array = NDArray[np.int32]
CodeArray = NDArray[np.uint8]
WordArray = NDArray[np.uint64]

_MAGIC = b"crosscheck.hamming\n"
_FORMAT_VERSION = 1
# Candidate pairs checked per numpy step: about 20 MB of temporaries whatever the input,
# small enough to stay in cache (1 << 18 measured faster than 1 << 22 at 10^6 codes).
_CHUNK_PAIRS = 1 << 18
# Words (64 bits each) compared for every candidate before the rest is read.
_PREFIX_WORDS = 2
# faiss queries per range_search call in a self-join: bounds the result buffers.
_FAISS_QUERY_CHUNK = 1 << 16


@dataclass(frozen=True, eq=False)
class Matches:
    """Pairs within a Hamming distance, as parallel arrays (a 10^6 self-join returns millions).

    From `search`: `query` is the row of the query in the array passed to `search`, and
    `match_id` the indexed id it matched. From `self_join`: `query` is the smaller and
    `match_id` the larger id of a pair. Rows are sorted by (query, match_id), so equal inputs
    give byte-identical outputs. The arrays are read-only.
    """

    query: Int64Array
    match_id: Int64Array
    distance: Int32Array

    def __post_init__(self) -> None:
        n = len(self.query)
        if len(self.match_id) != n or len(self.distance) != n:
            raise ValueError("Matches arrays must have equal lengths")
        for name, dtype in (("query", np.int64), ("match_id", np.int64), ("distance", np.int32)):
            array = getattr(self, name)
            if array.dtype != dtype or array.ndim != 1:
                raise ValueError(f"Matches.{name} must be a 1-D {np.dtype(dtype)} array")
            array.flags.writeable = False

    def __len__(self) -> int:
        return len(self.query)

    @classmethod
    def empty(cls) -> Matches:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32))


def _sorted_matches(query: ArrayLike, match_id: ArrayLike, distance: ArrayLike) -> Matches:
    query_arr = np.asarray(query, dtype=np.int64)
    match_arr = np.asarray(match_id, dtype=np.int64)
    order = np.lexsort((match_arr, query_arr))
    return Matches(
        np.ascontiguousarray(query_arr[order]),
        np.ascontiguousarray(match_arr[order]),
        np.ascontiguousarray(np.asarray(distance, dtype=np.int32)[order]),
    )


def _word_columns(codes: CodeArray) -> WordArray:
    """Codes as 64-bit words, one contiguous row per word position: shape (nwords, n).

    Column-wise words let the verification gather one flat array at a time, which numpy
    does several times faster than gathering (n, nwords) rows. Codes whose width is not a
    multiple of 8 bytes are padded with zero bytes, which never change a distance.
    """
    n, nbytes = codes.shape
    padded = -nbytes % 8
    if padded:
        codes = np.concatenate([codes, np.zeros((n, padded), np.uint8)], axis=1)
    words = np.ascontiguousarray(codes).view(np.uint64)
    return np.ascontiguousarray(words.T)


def _verify(
    words_a: WordArray,
    rows_a: Int64Array,
    words_b: WordArray,
    rows_b: Int64Array,
    max_distance: int,
) -> tuple[Int64Array, NDArray[np.uint16]]:
    """Positions k with distance(a[rows_a[k]], b[rows_b[k]]) <= max_distance, and distances.

    Two words (128 bits) are compared for every candidate first: unrelated codes already
    differ there by far more than any useful threshold, so the rest is only read for the
    few that remain.
    """
    first = min(_PREFIX_WORDS, words_a.shape[0])
    distance = np.zeros(len(rows_a), np.uint16)
    for w in range(first):
        distance += np.bitwise_count(words_a[w].take(rows_a) ^ words_b[w].take(rows_b))
    keep = np.flatnonzero(distance <= max_distance)
    close, distance = _finish(
        words_a, rows_a[keep], words_b, rows_b[keep], distance[keep], first, max_distance
    )
    return keep[close], distance


def _finish(
    words_a: WordArray,
    rows_a: Int64Array,
    words_b: WordArray,
    rows_b: Int64Array,
    distance: NDArray[np.uint16],
    from_word: int,
    max_distance: int,
) -> tuple[Int64Array, NDArray[np.uint16]]:
    """Add the words from `from_word` on to partial distances; keep those within range."""
    if from_word >= words_a.shape[0]:
        return np.arange(len(rows_a), dtype=np.int64), distance
    for w in range(from_word, words_a.shape[0]):
        distance += np.bitwise_count(words_a[w].take(rows_a) ^ words_b[w].take(rows_b))
    close = np.flatnonzero(distance <= max_distance)
    return close, distance[close]


def _expand_ranges(
    starts: Int64Array, counts: Int64Array, max_pairs: int = _CHUNK_PAIRS
) -> Iterator[tuple[Int64Array, Int64Array]]:
    """Expand ranges [starts[k], starts[k] + counts[k]) into (k, position) pairs, in slices.

    Each slice holds about `max_pairs` pairs (more only when one range alone is longer), so
    a skewed bucket costs time but not unbounded memory.
    """
    ends = np.cumsum(counts)
    k0 = 0
    total = len(counts)
    while k0 < total:
        before = int(ends[k0 - 1]) if k0 else 0
        k1 = int(np.searchsorted(ends, before + max_pairs, side="right"))
        k1 = min(max(k1, k0 + 1), total)
        block = counts[k0:k1]
        pairs = int(ends[k1 - 1]) - before
        if pairs:
            owner = np.repeat(np.arange(k0, k1, dtype=np.int64), block)
            # pair m of range k sits at starts[k] + m - (first pair of range k)
            shift = np.repeat(starts[k0:k1] - (ends[k0:k1] - block - before), block)
            yield owner, shift + np.arange(pairs, dtype=np.int64)
        k0 = k1


def _check_codes(codes: ArrayLike, nbytes: int) -> CodeArray:
    array = np.asarray(codes)
    if array.dtype != np.uint8 or array.ndim != 2 or array.shape[1] != nbytes:
        raise ValueError(
            f"codes must be a uint8 array of shape (n, {nbytes}), got {array.dtype} {array.shape}"
        )
    return np.ascontiguousarray(array)


class HammingIndex(ABC):
    """Codes of one width with caller-chosen int64 ids, searchable within a bit distance.

    Example, finding reposts among PDQ hashes::

        index = make_index("mih", PDQ_BITS)
        index.add(hash_ids, pdq_codes)                 # uint8 (n, 32), int64 (n,)
        pairs = index.self_join(max_distance=31)       # each pair once, smaller id first
        labels = connected_components(hash_ids, pairs.query, pairs.match_id)

    The base class keeps the ids and codes, validates input and serialises; subclasses find
    rows. `exact_max_distance` says up to which distance an implementation is guaranteed to
    find every pair; above it recall is a measured property of the data.
    """

    kind: ClassVar[str]
    _kinds: ClassVar[dict[str, type[HammingIndex]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            HammingIndex._kinds[cls.kind] = cls

    def __init__(self, nbits: int) -> None:
        if nbits <= 0 or nbits % 8:
            raise ValueError(f"nbits must be a positive multiple of 8, got {nbits}")
        self.nbits = nbits
        self.nbytes = nbits // 8
        self._ids: Int64Array = np.empty(0, np.int64)
        self._codes: CodeArray = np.empty((0, self.nbytes), np.uint8)

    def __len__(self) -> int:
        return len(self._ids)

    def __repr__(self) -> str:
        fields = {"nbits": self.nbits, **self.params(), "n": len(self)}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in fields.items())})"

    @property
    @abstractmethod
    def exact_max_distance(self) -> int:
        """Largest distance at which every pair is guaranteed to be found."""

    def params(self) -> dict[str, int]:
        """Constructor arguments besides nbits (what `to_bytes` records to rebuild it)."""
        return {}

    @property
    def ids(self) -> Int64Array:
        """Indexed ids, in the order they were added (read-only view)."""
        view = self._ids.view()
        view.flags.writeable = False
        return view

    @property
    def codes(self) -> CodeArray:
        """Indexed codes, one row per id in `ids` (read-only view)."""
        view = self._codes.view()
        view.flags.writeable = False
        return view

    def add(self, ids: ArrayLike, codes: ArrayLike) -> None:
        """Index `codes` under `ids`; raises ValueError on a bad shape or a repeated id."""
        new_codes = _check_codes(codes, self.nbytes)
        new_ids = np.asarray(ids)
        if new_ids.ndim != 1 or len(new_ids) != len(new_codes):
            raise ValueError("ids must be 1-D with one id per code row")
        if len(new_ids) and not np.issubdtype(new_ids.dtype, np.integer):
            raise ValueError(f"ids must be integers, got {new_ids.dtype}")
        all_ids = np.concatenate([self._ids, new_ids.astype(np.int64)])
        in_order = np.sort(all_ids)  # a sort: np.unique's hashing is ~10x slower on 10^6 ids
        if np.any(in_order[1:] == in_order[:-1]):
            raise ValueError("ids must be unique, also against the ids already indexed")
        start = len(self._ids)
        self._ids = all_ids
        self._codes = np.concatenate([self._codes, new_codes])
        self._added(start)

    def search(self, codes: ArrayLike, max_distance: int) -> Matches:
        """Every (query row, indexed id) pair within `max_distance` bits, inclusive."""
        queries = _check_codes(codes, self.nbytes)
        radius = self._check_distance(max_distance)
        if not len(queries) or not len(self):
            return Matches.empty()
        query_rows, index_rows, distance = self._search_rows(queries, radius)
        return _sorted_matches(query_rows, self._ids[index_rows], distance)

    def self_join(self, max_distance: int) -> Matches:
        """Every pair of distinct indexed items within `max_distance` bits, once each, with the
        smaller id as `query`; no item is paired with itself."""
        radius = self._check_distance(max_distance)
        if len(self) < 2:
            return Matches.empty()
        rows_a, rows_b, distance = self._self_join_rows(radius)
        ids_a, ids_b = self._ids[rows_a], self._ids[rows_b]
        return _sorted_matches(np.minimum(ids_a, ids_b), np.maximum(ids_a, ids_b), distance)

    def to_bytes(self) -> bytes:
        """Ids and codes with a small JSON header; `from_bytes` rebuilds the search structures.

        Only the data is stored, never an implementation's internals (or faiss's own format),
        so a saved index loads under any later version of this module or of faiss.
        """
        header = json.dumps(
            {
                "version": _FORMAT_VERSION,
                "kind": self.kind,
                "nbits": self.nbits,
                "params": self.params(),
                "count": len(self),
            },
            sort_keys=True,
        ).encode()
        return b"".join(
            [
                _MAGIC,
                struct.pack("<I", len(header)),
                header,
                self._ids.astype("<i8").tobytes(),
                self._codes.tobytes(),
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Load what `to_bytes` wrote; on a subclass, the stored kind must be that class's."""
        view = memoryview(data)
        if bytes(view[: len(_MAGIC)]) != _MAGIC or len(view) < len(_MAGIC) + 4:
            raise ValueError("not a serialised Hamming index")
        offset = len(_MAGIC)
        (header_len,) = struct.unpack_from("<I", view, offset)
        offset += 4
        header = json.loads(bytes(view[offset : offset + header_len]))
        offset += header_len
        if not isinstance(header, dict) or header.get("version") != _FORMAT_VERSION:
            raise ValueError("unsupported or damaged Hamming index header")
        kind_cls = HammingIndex._kinds.get(str(header.get("kind")))
        if kind_cls is None or not issubclass(kind_cls, cls):
            raise ValueError(f"serialised index is {header.get('kind')!r}, not {cls.__name__}")
        try:
            index = kind_cls(int(header["nbits"]), **header["params"])
            count = int(header["count"])
        except (KeyError, TypeError) as error:
            raise ValueError(f"damaged Hamming index header: {error}") from error
        if len(view) - offset != count * (8 + index.nbytes):
            raise ValueError("serialised Hamming index is truncated or has trailing bytes")
        ids = np.frombuffer(view, dtype="<i8", count=count, offset=offset)
        codes = np.frombuffer(view, dtype=np.uint8, offset=offset + 8 * count)
        index.add(ids.astype(np.int64), codes.reshape(count, index.nbytes).copy())
        return index

    def _check_distance(self, max_distance: int) -> int:
        if isinstance(max_distance, bool) or not isinstance(max_distance, int | np.integer):
            raise TypeError(f"max_distance must be an int, got {type(max_distance).__name__}")
        if not 0 <= max_distance <= self.nbits:
            raise ValueError(f"max_distance must lie in [0, {self.nbits}], got {max_distance}")
        return int(max_distance)

    def _added(self, start: int) -> None:  # noqa: B027 - optional hook, a no-op by default
        """Hook: rows from `start` on were just appended to `_codes` and `_ids`."""

    @abstractmethod
    def _search_rows(
        self, queries: CodeArray, max_distance: int
    ) -> tuple[Int64Array, Int64Array, ArrayLike]:
        """(query rows, index rows, distances) of every match; any order, each pair once."""

    @abstractmethod
    def _self_join_rows(self, max_distance: int) -> tuple[Int64Array, Int64Array, ArrayLike]:
        """(row a, row b, distance) of every pair of distinct rows, each pair once."""


class BruteForceIndex(HammingIndex):
    """Every pair compared with numpy XOR and popcount: exact, O(n^2), the reference.

    About 2e8 pairs/s on one core here; memory stays bounded because the comparison runs
    over blocks of a few hundred thousand pairs.
    """

    kind = "brute_force"

    @property
    def exact_max_distance(self) -> int:
        return self.nbits

    def _search_rows(
        self, queries: CodeArray, max_distance: int
    ) -> tuple[Int64Array, Int64Array, ArrayLike]:
        return _brute_pairs(_word_columns(queries), _word_columns(self._codes), max_distance, False)

    def _self_join_rows(self, max_distance: int) -> tuple[Int64Array, Int64Array, ArrayLike]:
        words = _word_columns(self._codes)
        return _brute_pairs(words, words, max_distance, True)


def _brute_pairs(
    words_q: WordArray, words_i: WordArray, max_distance: int, upper_only: bool
) -> tuple[Int64Array, Int64Array, ArrayLike]:
    """All (q, i) within max_distance; with `upper_only` (a self-join) only i > q."""
    n_q, n_i = words_q.shape[1], words_i.shape[1]
    first = min(_PREFIX_WORDS, words_q.shape[0])
    rows_q = max(1, _CHUNK_PAIRS // max(n_i, 1))
    found_q, found_i, found_d = [], [], []
    for q0 in range(0, n_q, rows_q):
        q1 = min(q0 + rows_q, n_q)
        i0 = q0 + 1 if upper_only else 0
        if i0 >= n_i:
            break
        partial = np.zeros((q1 - q0, n_i - i0), np.uint16)
        for w in range(first):
            partial += np.bitwise_count(words_q[w, q0:q1, None] ^ words_i[w, None, i0:])
        if upper_only:
            # rows q0.. against columns q0+1..: keep only column > row
            partial[np.tril_indices(q1 - q0, -1, n_i - i0)] = max_distance + 1
        hit_q, hit_i = np.nonzero(partial <= max_distance)
        hit_q, hit_i = hit_q + q0, hit_i + i0
        close, distance = _finish(
            words_q, hit_q, words_i, hit_i, partial[hit_q - q0, hit_i - i0], first, max_distance
        )
        found_q.append(hit_q[close])
        found_i.append(hit_i[close])
        found_d.append(distance)
    if not found_q:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)
    return (
        np.concatenate(found_q).astype(np.int64),
        np.concatenate(found_i).astype(np.int64),
        np.concatenate(found_d),
    )


class MultiIndexHash(HammingIndex):
    """Multi-index hashing over several partitions of the bits into blocks, in numpy.

    A code is a grid of B = nbits / block_bits rows, row r being its r-th little-endian
    `block_bits`-bit word, and column c the c-th bit of each row. Partition p puts bit
    (r, c) into block (r + p * c) mod B: partition 0 is the plain run of contiguous words,
    and every block of every partition holds one bit of each column, so blocks of different
    partitions share few bits and a pair that one partition misses is rarely missed by the
    next. Each block of each partition is one table: the items are sorted by the block's
    value, and the pairs sharing a value are verified on their full codes (a permutation of
    bits changes no distance, so verification reads the original codes). A pair found in
    several tables is reported only by the first table in which its blocks agree, which
    makes results unique without sorting all candidates.

    Why not faiss's `IndexBinaryMultiHash` (`faiss_multihash`): it is the same algorithm
    with one partition, so at PDQ's threshold it misses about 4% of pairs at 26–31 bits,
    and its per-query hash-set lookups are several times slower than sorting blocks and
    checking candidates in bulk (shared/REFERENCES.md; bench/bench_index.py).

    Cost: each call sorts every table (O(n) radix sort of 16-bit keys) and checks about
    tables * n^2 / 2^(block_bits + 1) candidate pairs for uniformly spread codes (more when
    block values cluster). A radius below B needs only radius + 1 blocks of partition 0
    (pigeonhole) and is exact at a fraction of the cost.
    """

    kind = "mih"

    def __init__(self, nbits: int, block_bits: int = 16, partitions: int = 3) -> None:
        super().__init__(nbits)
        if block_bits not in (8, 16, 32) or nbits % block_bits:
            raise ValueError(f"block_bits must be 8, 16 or 32 and divide {nbits}")
        self.block_bits = block_bits
        self.blocks = nbits // block_bits
        if not 1 <= partitions <= self.blocks:
            raise ValueError(f"partitions must lie in [1, {self.blocks}], got {partitions}")
        self.partitions = partitions
        self._key_dtype = np.dtype(f"<u{block_bits // 8}")

    @property
    def exact_max_distance(self) -> int:
        return self.blocks - 1

    def params(self) -> dict[str, int]:
        return {"block_bits": self.block_bits, "partitions": self.partitions}

    def candidate_pairs(self, max_distance: int) -> int:
        """Candidate pairs a `self_join(max_distance)` would verify (a cost estimate)."""
        radius = self._check_distance(max_distance)
        total = 0
        for partition, blocks in self._tables(radius):
            keys = self._keys(self._codes, partition)
            for block in blocks:
                _, sizes = np.unique(keys[block], return_counts=True)
                total += int((sizes.astype(np.int64) * (sizes - 1) // 2).sum())
        return total

    def _tables(self, max_distance: int) -> list[tuple[int, range]]:
        """(partition, its blocks) to search: all of them, or a pigeonhole subset when the
        radius is below the number of blocks."""
        if max_distance < self.blocks:
            return [(0, range(max_distance + 1))]
        return [(p, range(self.blocks)) for p in range(self.partitions)]

    def _keys(self, codes: CodeArray, partition: int) -> NDArray[np.unsignedinteger[Any]]:
        """Block values of `codes` in `partition`, shape (B, n): one contiguous row a table."""
        rows = np.ascontiguousarray(codes.view(self._key_dtype).T)
        if partition == 0:
            return rows
        keys = np.zeros_like(rows)
        one = self._key_dtype.type(1)
        for column in range(self.block_bits):
            # block k takes column c from row (k - p * c) mod B: rotate the rows by p * c
            shift = partition * column % self.blocks
            mask = one << self._key_dtype.type(column)
            keys[shift:] |= rows[: self.blocks - shift] & mask
            keys[:shift] |= rows[self.blocks - shift :] & mask
        return keys

    def _search_rows(
        self, queries: CodeArray, max_distance: int
    ) -> tuple[Int64Array, Int64Array, ArrayLike]:
        tables = self._tables(max_distance)
        index_words, query_words = _word_columns(self._codes), _word_columns(queries)
        found = _Found()
        table_no = 0
        for partition, blocks in tables:
            index_keys = self._keys(self._codes, partition)
            query_keys = self._keys(queries, partition)
            for block in blocks:
                order = np.argsort(index_keys[block], kind="stable")
                sorted_keys = index_keys[block].take(order)
                lo = np.searchsorted(sorted_keys, query_keys[block], side="left")
                hi = np.searchsorted(sorted_keys, query_keys[block], side="right")
                for query_rows, positions in _expand_ranges(lo.astype(np.int64), hi - lo):
                    index_rows = order[positions]
                    keep, distance = _verify(
                        query_words, query_rows, index_words, index_rows, max_distance
                    )
                    rows_a, rows_b = query_rows[keep], index_rows[keep]
                    first = self._first_table(queries[rows_a] ^ self._codes[rows_b], tables)
                    found.add(rows_a, rows_b, distance, first == table_no)
                table_no += 1
        return found.arrays()

    def _self_join_rows(self, max_distance: int) -> tuple[Int64Array, Int64Array, ArrayLike]:
        tables = self._tables(max_distance)
        words = _word_columns(self._codes)
        found = _Found()
        n = len(self)
        starts = np.arange(1, n + 1, dtype=np.int64)  # partners of sorted position p: p + 1..
        sorted_words = np.empty_like(words)
        table_no = 0
        for partition, blocks in tables:
            keys = self._keys(self._codes, partition)
            for block in blocks:
                order = np.argsort(keys[block], kind="stable")
                sorted_keys = keys[block].take(order)
                for w, word in enumerate(words):
                    word.take(order, out=sorted_words[w])
                bounds = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
                bucket_end = np.repeat(np.append(bounds, n), np.diff(bounds, prepend=0, append=n))
                later = bucket_end - starts  # partners after each sorted position
                del bucket_end
                for owners, partners in _expand_ranges(starts, later):
                    keep, distance = _verify(
                        sorted_words, owners, sorted_words, partners, max_distance
                    )
                    rows_a, rows_b = order[owners[keep]], order[partners[keep]]
                    first = self._first_table(self._codes[rows_a] ^ self._codes[rows_b], tables)
                    found.add(rows_a, rows_b, distance, first == table_no)
                table_no += 1
        return found.arrays()

    def _first_table(self, xor: CodeArray, tables: list[tuple[int, range]]) -> Int64Array:
        """Number, in search order, of the first table in which each XOR's block is zero.

        A pair is reported only by that table, so it is reported once however many tables
        find it, without collecting and sorting every pair found.
        """
        if not len(xor):
            return np.empty(0, np.int64)
        agree = np.concatenate(
            [self._keys(xor, p)[blocks.start : blocks.stop] == 0 for p, blocks in tables]
        )
        return np.argmax(agree, axis=0)


class _Found:
    """Verified pairs collected slice by slice, each slice filtered by a boolean mask."""

    def __init__(self) -> None:
        self._parts: list[tuple[Int64Array, Int64Array, NDArray[np.uint16]]] = []

    def add(
        self,
        rows_a: Int64Array,
        rows_b: Int64Array,
        distance: NDArray[np.uint16],
        keep: NDArray[np.bool_],
    ) -> None:
        if np.any(keep):
            self._parts.append((rows_a[keep], rows_b[keep], distance[keep]))

    def arrays(self) -> tuple[Int64Array, Int64Array, ArrayLike]:
        return _concatenate(self._parts)


def _concatenate(
    parts: list[tuple[Int64Array, Int64Array, NDArray[Any]]],
) -> tuple[Int64Array, Int64Array, ArrayLike]:
    if not parts:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32)
    return (
        np.concatenate([part[0] for part in parts]),
        np.concatenate([part[1] for part in parts]),
        np.concatenate([part[2] for part in parts]),
    )


class _FaissIndex(HammingIndex):
    """Shared plumbing for faiss binary indexes: faiss numbers rows 0..n-1 in add order,
    which are our rows; our ids stay in `_ids`."""

    def __init__(self, nbits: int) -> None:
        super().__init__(nbits)
        self._faiss = self._new_faiss_index()

    @abstractmethod
    def _new_faiss_index(self) -> Any: ...

    def _added(self, start: int) -> None:
        self._faiss.add(self._codes[start:])

    def _range(
        self, queries: CodeArray, max_distance: int
    ) -> tuple[Int64Array, Int64Array, Int32Array]:
        # faiss's binary range_search keeps distances strictly below the radius.
        lims, distance, rows = self._faiss.range_search(queries, max_distance + 1)
        per_query = np.diff(lims).astype(np.int64)
        query_rows = np.repeat(np.arange(len(queries), dtype=np.int64), per_query)
        return query_rows, rows.astype(np.int64), distance.astype(np.int32)

    def _search_rows(
        self, queries: CodeArray, max_distance: int
    ) -> tuple[Int64Array, Int64Array, ArrayLike]:
        return self._range(queries, max_distance)

    def _self_join_rows(self, max_distance: int) -> tuple[Int64Array, Int64Array, ArrayLike]:
        parts: list[tuple[Int64Array, Int64Array, NDArray[Any]]] = []
        for q0 in range(0, len(self), _FAISS_QUERY_CHUNK):
            query_rows, rows, distance = self._range(
                self._codes[q0 : q0 + _FAISS_QUERY_CHUNK], max_distance
            )
            query_rows += q0
            later = rows > query_rows
            parts.append((query_rows[later], rows[later], distance[later]))
        return _concatenate(parts)


class FaissFlatIndex(_FaissIndex):
    """faiss `IndexBinaryFlat`: exhaustive and exact, about 2e9 pairs/s on two idle cores here
    (OpenMP; when other work shares the cores its wall time suffers more than numpy's)."""

    kind = "faiss_flat"

    @property
    def exact_max_distance(self) -> int:
        return self.nbits

    def _new_faiss_index(self) -> Any:
        import faiss  # here, not at the top: a short command never pays faiss's import

        return faiss.IndexBinaryFlat(self.nbits)


class FaissMultiHashIndex(_FaissIndex):
    """faiss `IndexBinaryMultiHash`: `nhash` tables on consecutive `block_bits`-bit blocks,
    each probed at up to `nflip` flipped bits. Exact up to nhash * (nflip + 1) - 1 bits; at
    PDQ's 31 bits with 16 x 16 and nflip=0 it found 0.956 of pairs at 26–31 bits
    (shared/REFERENCES.md), and nflip=1 is about 18x slower."""

    kind = "faiss_multihash"

    def __init__(self, nbits: int, nhash: int = 0, block_bits: int = 0, nflip: int = 0) -> None:
        self.block_bits = block_bits or (16 if nbits >= 256 else 8)
        self.nhash = nhash or nbits // self.block_bits
        self.nflip = nflip
        if self.nhash * self.block_bits > nbits or self.nhash < 1 or nflip < 0:
            raise ValueError("need 1 <= nhash, nhash * block_bits <= nbits and nflip >= 0")
        super().__init__(nbits)

    @property
    def exact_max_distance(self) -> int:
        return self.nhash * (self.nflip + 1) - 1

    def params(self) -> dict[str, int]:
        return {"nhash": self.nhash, "block_bits": self.block_bits, "nflip": self.nflip}

    def _new_faiss_index(self) -> Any:
        import faiss

        index = faiss.IndexBinaryMultiHash(self.nbits, self.nhash, self.block_bits)
        index.nflip = self.nflip
        return index


INDEX_KINDS: tuple[str, ...] = ("mih", "brute_force", "faiss_multihash", "faiss_flat")


def make_index(kind: str, nbits: int) -> HammingIndex:
    """A new, empty index of a kind named in the config, with that kind's defaults.

    `mih` (the default choice): 16-bit blocks in 3 partitions for 256-bit PDQ, 8-bit blocks
    in 3 partitions for 64-bit pHash (exact to 15 and 7 bits respectively).
    """
    if kind == "mih":
        block_bits = 16 if nbits >= 128 else 8
        return MultiIndexHash(nbits, block_bits, partitions=min(3, nbits // block_bits))
    if kind not in HammingIndex._kinds:
        raise ValueError(f"unknown index kind {kind!r}; choose one of {', '.join(INDEX_KINDS)}")
    return HammingIndex._kinds[kind](nbits)


def connected_components(ids: ArrayLike, id_a: ArrayLike, id_b: ArrayLike) -> Int64Array:
    """Label of each of `ids` (unique int64) when (id_a[k], id_b[k]) are edges.

    A label is the smallest id in its component, so it does not depend on the order of ids
    or edges and stays the same when unrelated items are added. Items in no edge are their
    own component. Raises ValueError when an edge names an id not in `ids`.
    """
    nodes = np.asarray(ids, dtype=np.int64)
    a, b = np.asarray(id_a, dtype=np.int64), np.asarray(id_b, dtype=np.int64)
    if len(a) != len(b):
        raise ValueError("id_a and id_b must have equal lengths")
    order = np.argsort(nodes, kind="stable")
    sorted_nodes = nodes[order]
    if len(sorted_nodes) > 1 and np.any(sorted_nodes[1:] == sorted_nodes[:-1]):
        raise ValueError("ids must be unique")
    positions = []
    for end in (a, b):
        at = np.searchsorted(sorted_nodes, end).clip(max=max(len(nodes) - 1, 0))
        if len(end) and (not len(nodes) or np.any(sorted_nodes[at] != end)):
            raise ValueError("an edge names an id that is not in ids")
        positions.append(order[at] if len(end) else np.empty(0, np.int64))
    from scipy.sparse import coo_matrix, csgraph  # scipy only when clustering (import cost)

    n = len(nodes)
    graph = coo_matrix((np.ones(len(a), bool), (positions[0], positions[1])), shape=(n, n))
    _, component = csgraph.connected_components(graph, directed=False)
    smallest = np.full(int(component.max(initial=-1)) + 1, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(smallest, component, nodes)
    return smallest[component]


def exact_for(index: HammingIndex, max_distance: int) -> HammingIndex:
    """`index` itself when it finds every pair within `max_distance`, else an exhaustive
    copy of its ids and codes (faiss_flat): for searches far beyond a multi-index's exact
    radius, where it finds only pairs that happen to share a whole block."""
    if index.exact_max_distance >= max_distance:
        return index
    exact = FaissFlatIndex(index.nbits)
    exact.add(index.ids, index.codes)
    return exact
