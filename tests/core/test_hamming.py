"""Hamming indexes: every implementation answers like an independent all-pairs oracle.

One contract class states the behaviour; each implementation subclasses it. Exact kinds
must return exactly the oracle's pairs; approximate kinds must return only true pairs,
every pair up to their `exact_max_distance` (the pigeonhole bound), and at least a stated
share of the pairs above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from pipeline.core.hamming import (
    PDQ_BITS,
    PHASH_BITS,
    BruteForceIndex,
    FaissFlatIndex,
    FaissMultiHashIndex,
    HammingIndex,
    Matches,
    MultiIndexHash,
    connected_components,
    exact_for,
    make_index,
)

PDQ_THRESHOLD = 31  # PDQ's recommended match distance (shared/REFERENCES.md)
PLANTED_PDQ = (0, 1, 15, 16, 31, 32)  # around the pigeonhole bound (15/16) and the threshold
PLANTED_PHASH = (0, 1, 7, 8, 10, 11)
POPCOUNT = np.array([bin(v).count("1") for v in range(256)], np.int64)  # not the code under test


def oracle_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return POPCOUNT[a ^ b].sum(axis=-1)


def flip_bits(code: np.ndarray, distance: int, rng: np.random.Generator) -> np.ndarray:
    bits = np.unpackbits(code)
    bits[rng.choice(bits.size, distance, replace=False)] ^= 1
    return np.packbits(bits)


@dataclass(frozen=True)
class Collection:
    """Random codes with near-duplicates planted at known distances, and the oracle's pairs."""

    ids: np.ndarray
    codes: np.ndarray
    pairs: frozenset[tuple[int, int, int]]  # (smaller id, larger id, distance), all pairs <= 32

    def within(self, max_distance: int) -> set[tuple[int, int, int]]:
        return {p for p in self.pairs if p[2] <= max_distance}


def build_collection(
    nbits: int,
    n: int,
    planted: tuple[int, ...],
    copies: int,
    seed: int,
    shared_prefix_bytes: int = 0,
) -> Collection:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 256, (n, nbits // 8), dtype=np.uint8)
    codes[:, :shared_prefix_bytes] = 0  # real hashes cluster: one crowded bucket
    sources = rng.permutation(n)[: 2 * len(planted) * copies].reshape(-1, 2)
    for (source, target), distance in zip(sources, np.repeat(planted, copies), strict=True):
        codes[target] = flip_bits(codes[source], int(distance), rng)
    ids = rng.permutation(n).astype(np.int64) * 7919 - 10**12  # arbitrary, negative too
    pairs = set()
    for i in range(n - 1):
        distance = oracle_distance(codes[i], codes[i + 1 :])
        for j in np.flatnonzero(distance <= max(planted)):
            a, b = sorted((int(ids[i]), int(ids[i + 1 + j])))
            pairs.add((a, b, int(distance[j])))
    codes.flags.writeable = False
    ids.flags.writeable = False
    return Collection(ids, codes, frozenset(pairs))


@pytest.fixture(scope="module")
def pdq() -> Collection:
    return build_collection(PDQ_BITS, 3000, PLANTED_PDQ, copies=20, seed=1)


@pytest.fixture(scope="module")
def phash() -> Collection:
    return build_collection(PHASH_BITS, 1500, PLANTED_PHASH, copies=10, seed=2)


@pytest.fixture(scope="module")
def crowded() -> Collection:
    """Every code shares its first 16 bits: one bucket holds all of them."""
    return build_collection(PDQ_BITS, 1500, PLANTED_PDQ, copies=5, seed=4, shared_prefix_bytes=2)


@pytest.fixture(scope="module")
def far_pairs() -> Collection:
    """Many pairs between the pigeonhole bound and the PDQ threshold, for recall floors."""
    return build_collection(PDQ_BITS, 1200, tuple(range(17, 32)), copies=20, seed=3)


def as_set(matches: Matches) -> set[tuple[int, int, int]]:
    return set(
        zip(
            matches.query.tolist(),
            matches.match_id.tolist(),
            matches.distance.tolist(),
            strict=True,
        )
    )


def search_as_pairs(matches: Matches, collection: Collection) -> set[tuple[int, int, int]]:
    """Search results over the collection's own codes, as (smaller id, larger id, d)."""
    query_ids = collection.ids[matches.query]
    return {
        (min(q, m), max(q, m), d)
        for q, m, d in zip(
            query_ids.tolist(), matches.match_id.tolist(), matches.distance.tolist(), strict=True
        )
        if q != m
    }


class HammingIndexContract:
    """Behaviour every HammingIndex shares; subclasses name the implementation."""

    kind = ""
    recall_floor = 1.0  # share of `far_pairs` (17..31 bits) found at radius 31

    def make(self, nbits: int) -> HammingIndex:
        return make_index(self.kind, nbits)

    def filled(self, collection: Collection) -> HammingIndex:
        index = self.make(collection.codes.shape[1] * 8)
        index.add(collection.ids, collection.codes)
        return index

    def assert_answers(
        self,
        found: set[tuple[int, int, int]],
        expected: set[tuple[int, int, int]],
        exact_max_distance: int,
    ) -> None:
        """Only true pairs; all of them up to the guaranteed distance; all of them if exact."""
        assert found <= expected
        assert {p for p in expected if p[2] <= exact_max_distance} <= found
        if exact_max_distance >= max((p[2] for p in expected), default=0):
            assert found == expected

    def test_self_join_finds_the_planted_pairs_within_the_threshold(self, pdq: Collection) -> None:
        index = self.filled(pdq)
        found = as_set(index.self_join(PDQ_THRESHOLD))
        self.assert_answers(found, pdq.within(PDQ_THRESHOLD), index.exact_max_distance)

    def test_pairs_one_bit_beyond_the_radius_are_excluded(self, pdq: Collection) -> None:
        index = self.filled(pdq)
        radius = min(index.exact_max_distance, PDQ_THRESHOLD)
        distances = index.self_join(radius).distance
        assert distances.max() == radius  # inclusive: the pairs planted at the radius are in
        assert not np.any(distances > radius)

    def test_search_answers_each_query_like_the_oracle(self, pdq: Collection) -> None:
        index = self.filled(pdq)
        matches = index.search(pdq.codes, PDQ_THRESHOLD)
        self_hits = matches.query[pdq.ids[matches.query] == matches.match_id]
        assert np.array_equal(self_hits, np.arange(len(pdq.ids)))  # each code finds itself
        found = search_as_pairs(matches, pdq)
        self.assert_answers(found, pdq.within(PDQ_THRESHOLD), index.exact_max_distance)
        assert len(matches) == len(pdq.ids) + 2 * len(found)  # both directions, once each

    def test_search_below_the_pigeonhole_bound_is_exact(self, pdq: Collection) -> None:
        index = self.filled(pdq)
        for radius in (0, 1, 4, min(index.exact_max_distance, PDQ_THRESHOLD)):
            assert search_as_pairs(index.search(pdq.codes, radius), pdq) == pdq.within(radius)

    def test_a_crowded_bucket_changes_no_answer(self, crowded: Collection) -> None:
        index = self.filled(crowded)
        self.assert_answers(
            as_set(index.self_join(PDQ_THRESHOLD)),
            crowded.within(PDQ_THRESHOLD),
            index.exact_max_distance,
        )
        self.assert_answers(
            search_as_pairs(index.search(crowded.codes, PDQ_THRESHOLD), crowded),
            crowded.within(PDQ_THRESHOLD),
            index.exact_max_distance,
        )

    def test_self_join_pairs_are_ordered_unique_and_distances_true(self, pdq: Collection) -> None:
        index = self.filled(pdq)
        matches = index.self_join(PDQ_THRESHOLD)
        assert np.all(matches.query < matches.match_id)
        assert len(as_set(matches)) == len(matches)
        row = {int(i): r for r, i in enumerate(pdq.ids)}
        rows_a = [row[int(i)] for i in matches.query]
        rows_b = [row[int(i)] for i in matches.match_id]
        assert np.array_equal(
            oracle_distance(pdq.codes[rows_a], pdq.codes[rows_b]), matches.distance
        )

    def test_results_are_sorted_and_read_only(self, pdq: Collection) -> None:
        matches = self.filled(pdq).self_join(PDQ_THRESHOLD)
        keys = list(zip(matches.query.tolist(), matches.match_id.tolist(), strict=True))
        assert keys == sorted(keys)
        with pytest.raises(ValueError):
            matches.distance[0] = 0

    def test_recall_above_the_pigeonhole_bound(self, far_pairs: Collection) -> None:
        index = self.filled(far_pairs)
        expected = far_pairs.within(PDQ_THRESHOLD)
        found = as_set(index.self_join(PDQ_THRESHOLD))
        assert found <= expected
        assert len(found) / len(expected) >= self.recall_floor

    def test_round_trip_through_bytes_keeps_answers(self, pdq: Collection) -> None:
        index = self.filled(pdq)
        restored = type(index).from_bytes(index.to_bytes())
        assert type(restored) is type(index)
        assert restored.params() == index.params()
        assert np.array_equal(restored.ids, index.ids)
        assert as_set(restored.self_join(PDQ_THRESHOLD)) == as_set(index.self_join(PDQ_THRESHOLD))

    def test_restored_index_accepts_more_codes(self, pdq: Collection) -> None:
        half = len(pdq.ids) // 2
        first = self.make(PDQ_BITS)
        first.add(pdq.ids[:half], pdq.codes[:half])
        restored = HammingIndex.from_bytes(first.to_bytes())
        restored.add(pdq.ids[half:], pdq.codes[half:])
        whole = self.filled(pdq)
        assert len(restored) == len(pdq.ids)
        assert as_set(restored.self_join(PDQ_THRESHOLD)) == as_set(whole.self_join(PDQ_THRESHOLD))
        queries = pdq.codes[:50]
        assert as_set(restored.search(queries, 20)) == as_set(whole.search(queries, 20))

    def test_empty_index_and_empty_queries(self, pdq: Collection) -> None:
        empty = self.make(PDQ_BITS)
        assert len(empty) == 0
        assert len(empty.search(pdq.codes[:5], PDQ_THRESHOLD)) == 0
        assert len(empty.self_join(PDQ_THRESHOLD)) == 0
        assert len(HammingIndex.from_bytes(empty.to_bytes())) == 0
        index = self.filled(pdq)
        assert len(index.search(np.empty((0, 32), np.uint8), PDQ_THRESHOLD)) == 0

    def test_single_item_has_no_pairs(self, pdq: Collection) -> None:
        index = self.make(PDQ_BITS)
        index.add(pdq.ids[:1], pdq.codes[:1])
        assert len(index.self_join(PDQ_THRESHOLD)) == 0
        assert as_set(index.search(pdq.codes[:1], 0)) == {(0, int(pdq.ids[0]), 0)}

    def test_eight_byte_codes(self, phash: Collection) -> None:
        index = self.filled(phash)
        radius = max(PLANTED_PHASH) - 1
        self.assert_answers(
            as_set(index.self_join(radius)), phash.within(radius), index.exact_max_distance
        )
        self.assert_answers(
            search_as_pairs(index.search(phash.codes, radius), phash),
            phash.within(radius),
            index.exact_max_distance,
        )

    def test_rejects_codes_of_the_wrong_shape_or_type(self, pdq: Collection) -> None:
        index = self.make(PDQ_BITS)
        with pytest.raises(ValueError):
            index.add(pdq.ids[:3], np.unpackbits(pdq.codes[:3], axis=1))  # bits, not bytes
        with pytest.raises(ValueError):
            index.add(pdq.ids[:3], pdq.codes[:3].astype(np.int64))
        with pytest.raises(ValueError):
            index.search(pdq.codes[:3, :8], PDQ_THRESHOLD)

    def test_rejects_repeated_ids(self, pdq: Collection) -> None:
        index = self.make(PDQ_BITS)
        with pytest.raises(ValueError):
            index.add(np.array([1, 1]), pdq.codes[:2])
        index.add(pdq.ids[:2], pdq.codes[:2])
        with pytest.raises(ValueError):
            index.add(pdq.ids[1:3], pdq.codes[1:3])
        assert len(index) == 2

    def test_rejects_a_radius_outside_the_code(self, pdq: Collection) -> None:
        index = self.filled(pdq)
        for bad in (-1, PDQ_BITS + 1):
            with pytest.raises(ValueError):
                index.self_join(bad)
        with pytest.raises(TypeError):
            index.search(pdq.codes[:1], 31.5)  # type: ignore[arg-type]

    def test_from_bytes_rejects_foreign_or_damaged_data(self, pdq: Collection) -> None:
        data = self.filled(pdq).to_bytes()
        with pytest.raises(ValueError):
            HammingIndex.from_bytes(data[:-1])
        with pytest.raises(ValueError):
            HammingIndex.from_bytes(b"PK\x03\x04" + data)
        other = BruteForceIndex if self.kind != "brute_force" else MultiIndexHash
        with pytest.raises(ValueError):
            other.from_bytes(data)


class TestBruteForce(HammingIndexContract):
    kind = "brute_force"


class TestMultiIndexHash(HammingIndexContract):
    kind = "mih"
    recall_floor = 0.99  # 3 partitions: 0.9995 at 31 bits for uniform flips (bench_index)


class TestMultiIndexHashOnePartition(HammingIndexContract):
    """Plain multi-index hashing, so the contract also covers a kind that misses pairs."""

    kind = "mih"
    recall_floor = 0.95  # one partition of 16 x 16 bits: 0.98 over 17..31, 0.91 at 31

    def make(self, nbits: int) -> HammingIndex:
        return MultiIndexHash(nbits, block_bits=16 if nbits >= 128 else 8, partitions=1)


class TestFaissFlat(HammingIndexContract):
    kind = "faiss_flat"


class TestFaissMultiHash(HammingIndexContract):
    kind = "faiss_multihash"
    recall_floor = 0.95  # 16 tables x 16 bits, nflip=0: 0.956 at 26-31 (REFERENCES)


def test_make_index_names_every_kind() -> None:
    kinds = {
        "brute_force": BruteForceIndex,
        "mih": MultiIndexHash,
        "faiss_flat": FaissFlatIndex,
        "faiss_multihash": FaissMultiHashIndex,
    }
    for kind, cls in kinds.items():
        index = make_index(kind, PDQ_BITS)
        assert type(index) is cls and index.kind == kind
    with pytest.raises(ValueError, match="unknown index kind"):
        make_index("bk_tree", PDQ_BITS)


def test_guaranteed_distances_follow_the_pigeonhole_bound() -> None:
    assert make_index("mih", PDQ_BITS).exact_max_distance == 15  # 16 blocks of 16 bits
    assert make_index("mih", PHASH_BITS).exact_max_distance == 7  # 8 blocks of 8 bits
    assert FaissMultiHashIndex(PDQ_BITS, nhash=16, block_bits=16, nflip=1).exact_max_distance == 31
    assert make_index("brute_force", PDQ_BITS).exact_max_distance == PDQ_BITS


def test_connected_components_label_by_smallest_id() -> None:
    ids = np.array([40, 10, 30, 20, 50])
    labels = connected_components(ids, np.array([40, 30]), np.array([30, 20]))
    assert labels.tolist() == [20, 10, 20, 20, 50]


def test_connected_components_accept_a_self_join() -> None:
    index = make_index("mih", PDQ_BITS)
    rng = np.random.default_rng(5)
    seed = rng.integers(0, 256, 32, dtype=np.uint8)
    codes = np.stack([seed, flip_bits(seed, 10, rng), rng.integers(0, 256, 32, dtype=np.uint8)])
    index.add(np.array([7, 3, 9]), codes)
    pairs = index.self_join(PDQ_THRESHOLD)
    assert connected_components(index.ids, pairs.query, pairs.match_id).tolist() == [3, 3, 9]


def test_connected_components_without_edges_or_items() -> None:
    none = np.empty(0, np.int64)
    assert connected_components(np.array([5, 2]), none, none).tolist() == [5, 2]
    assert connected_components(none, none, none).tolist() == []


def test_connected_components_reject_unknown_ids() -> None:
    with pytest.raises(ValueError, match="not in ids"):
        connected_components(np.array([1, 2]), np.array([1]), np.array([3]))


def test_exact_for_searches_exhaustively_beyond_the_multi_index_radius() -> None:
    """At 60 bits with every 16-bit block touched, no block is shared: the multi-index finds
    nothing, exact_for's copy finds the pair; within the exact radius the index is kept."""
    rng = np.random.default_rng(5)
    code = rng.integers(0, 256, PDQ_BITS // 8, dtype=np.uint8)
    bits = np.unpackbits(code)
    flips = np.concatenate([block * 16 + rng.choice(16, 4, replace=False) for block in range(15)])
    bits[flips] ^= 1  # 60 bits, four in each of 15 blocks; the 16th block is flipped below
    bits[15 * 16] ^= 1
    far = np.packbits(bits)
    assert int(oracle_distance(code, far)) == 61
    index = make_index("mih", PDQ_BITS)
    index.add(np.array([7, 9]), np.stack([code, rng.integers(0, 256, 32, dtype=np.uint8)]))
    assert 7 not in index.search(far[None, :], 64).match_id.tolist()
    exact = exact_for(index, 64)
    assert isinstance(exact, FaissFlatIndex) and exact.ids.tolist() == [7, 9]
    found = exact.search(far[None, :], 64)
    assert (found.match_id.tolist(), found.distance.tolist()) == ([7], [61])
    assert exact_for(index, 15) is index
