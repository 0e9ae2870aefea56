"""core/clusters: clusters and provenance, without files."""

from __future__ import annotations

from pipeline.core.clusters import (
    MemberFacts,
    cluster_media,
    cluster_provenance,
    member_facts,
    provenance_by_cluster,
)
from pipeline.core.records import MediaRecord, Observation
from pipeline.core.relations import MediaInfo, MediaMatch

A, B, C, D = ("a" * 64, "b" * 64, "c" * 64, "d" * 64)


def test_linked_media_share_a_cluster_named_after_the_smallest() -> None:
    media = {m: MediaInfo(m, "image", None) for m in (A, B, C)}
    clusters = cluster_media([C, B, A], [MediaMatch(B, C, "near_duplicate", 3)], media)
    assert clusters == {A: "c" + A[:16], B: "c" + B[:16], C: "c" + B[:16]}


def test_a_compilation_does_not_chain_its_sources_together() -> None:
    media = {
        A: MediaInfo(A, "video", 10.0),
        B: MediaInfo(B, "video", 10.0),
        C: MediaInfo(C, "video", 40.0),  # holds 0-10 s of A and 20-30 s of B
    }
    matches = [
        MediaMatch(A, C, "video_overlap", 5, 0.0, 10.0, 0.0, 10.0),
        MediaMatch(B, C, "video_overlap", 5, 0.0, 10.0, 20.0, 30.0),
    ]
    clusters = cluster_media([A, B, C], matches, media)
    assert clusters[A] != clusters[B]


def test_provenance_names_the_earliest_sighting_and_the_most_original_member() -> None:
    small = MemberFacts(A, 320, 240, 20_000, "image", (("2024-03-02T10:00:00Z", "s1", "p1"),))
    large = MemberFacts(B, 1280, 960, 300_000, "image", (("2024-03-01T09:00:00Z", "s2", "p2"),))
    found = cluster_provenance("c1", [small, large])
    assert found.first_seen_media == B and found.most_original == B
    assert found.sources == ("s1", "s2") and found.observations == 2


def test_member_facts_read_camera_and_gps_from_the_record() -> None:
    record = MediaRecord(
        A, "md5", 100, "image", "jpeg", 10, 10, None,
        {"camera_make": "Canon", "camera_model": "EOS", "gps_lat": 1.23456, "gps_lon": 2.0},
    )  # fmt: skip
    facts = member_facts(record, [("t2", "s", "p2"), ("t1", "s", "p1")])
    assert facts.camera == "Canon EOS" and facts.gps == "1.235,2.000"
    assert facts.has_camera_metadata and facts.posted[0] == ("t1", "s", "p1")


def test_provenance_by_cluster_groups_members_and_their_observations() -> None:
    records = {m: MediaRecord(m, "md5", 100, "image", "jpeg", 10, 10, None) for m in (A, B, D)}
    observations = [
        Observation("inc/s1/a.jpg", A, "inc", "s1", "2024-01-02T00:00:00Z"),
        Observation("inc/s2/b.jpg", B, "inc", "s2", "2024-01-01T00:00:00Z"),
        Observation("inc/s3/d.jpg", D, "inc", "s3"),
    ]
    found = provenance_by_cluster({A: "c1", B: "c1", D: "c2"}, records, observations)
    assert [(p.cluster_id, p.members) for p in found] == [("c1", 2), ("c2", 1)]
    assert found[0].first_seen_media == B and found[0].sources == ("s1", "s2")
