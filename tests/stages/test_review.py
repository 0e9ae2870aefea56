"""Reviewers' decisions feed back: every later run respects them, and the log is append-only."""

from __future__ import annotations

import csv
import io
import sqlite3

import pytest

from pipeline.cli import main
from pipeline.core.review import DecisionError
from pipeline.io.catalog import Catalog
from pipeline.io.review_log import decisions_csv, record_decision
from pipeline.layout import DataLayout
from tests.stages.test_count import annotate, incident, read, run  # noqa: F401 (fixture)

ANNOTATIONS = (
    "witness/photo.jpg,,4,courtyard,\nchannel/repost.jpg,,5,courtyard-repost,\n"
    "news/rocket.jpg,,7,launch,\nwitness/market.mp4,1.0,3,market,\n"
)
DISJOINT = (
    "launch,market,same hour far apart\ncourtyard,launch,already detained\n"
    "courtyard,courtyard-repost,witness says another day\n"
)


def decide(layout: DataLayout, action: str, subject: dict, value: dict | None = None, reason="r"):
    with Catalog(layout.catalog) as catalog:
        return record_decision(
            catalog,
            layout.custody_log,
            "2026-11-25T10:00:00Z",
            "alice",
            action,
            subject,
            value or {},
            reason,
        )


def media_of(layout: DataLayout, name: str) -> str:
    (row,) = [r for r in read(layout.processed / "observations.csv") if r["path"].endswith(name)]
    return row["media_id"]


def cluster_of(layout: DataLayout) -> dict[str, str]:
    return {r["media_id"]: r["cluster_id"] for r in read(layout.processed / "clusters.csv")}


@pytest.fixture
def counted(incident: DataLayout) -> DataLayout:  # noqa: F811
    annotate(incident, ANNOTATIONS, DISJOINT)
    assert run(incident) == 0
    return incident


def test_rejected_match_splits_the_cluster_and_changes_the_count_for_good(
    counted: DataLayout,
) -> None:
    photo, repost = media_of(counted, "photo.jpg"), media_of(counted, "repost.jpg")
    assert cluster_of(counted)[photo] == cluster_of(counted)[repost]
    decide(counted, "match_reject", {"media_a": photo, "media_b": repost}, reason="different day")
    assert run(counted) == 0
    assert cluster_of(counted)[photo] != cluster_of(counted)[repost]
    pairs = {(m["media_a"], m["media_b"]) for m in read(counted.processed / "matches.csv")}
    assert (min(photo, repost), max(photo, repost)) not in pairs
    (row,) = read(counted.processed / "counts.csv")
    # courtyard (4) and its "repost" (5) are now two disjoint scenes, and the heaviest
    # disjoint set is courtyard + launch = 11. The astronaut's face is in both: a face seen in
    # two disjoint scenes is the one contradiction left (listed, not used).
    assert (row["minimum_count"], row["contradictions"]) == ("11", "1")
    assert "Face contradictions for review" in row["explanation"]
    assert run(counted) == 3  # nothing new, and it stays rejected on every later run
    assert cluster_of(counted)[photo] != cluster_of(counted)[repost]


def test_confirmed_match_counts_in_the_confirmed_only_minimum(counted: DataLayout) -> None:
    (before,) = read(counted.processed / "counts.csv")
    assert before["minimum_confirmed_only"] == "11"
    photo, repost = media_of(counted, "photo.jpg"), media_of(counted, "repost.jpg")
    decide(counted, "match_confirm", {"media_a": repost, "media_b": photo}, reason="")
    assert run(counted) == 0
    (after,) = read(counted.processed / "counts.csv")
    assert after["minimum_confirmed_only"] == after["minimum_count"] == "12"


def test_reviewer_count_replaces_the_detector_proposal_and_marks_reviewed(
    layout: DataLayout,
) -> None:
    from pipeline.synth import images as im
    from tests.media import put

    put(layout.raw, "inc/src/people.jpg", im.jpeg_bytes(im.photo("astronaut"), 92))
    assert run(layout) == 0
    (row,) = read(layout.processed / "counts.csv")
    assert row["reviewed"] == "false"
    media = media_of(layout, "people.jpg")
    decide(layout, "count_set", {"incident": "inc", "unit": f"U:{media}#0"}, {"count": 6}, "")
    assert run(layout) == 0
    (row,) = read(layout.processed / "counts.csv")
    assert (row["reviewed"], row["minimum_count"]) == ("true", "6")
    (cert,) = read(layout.processed / "count_certificate.csv")
    assert cert["count_origin"] == "review"


def test_declared_and_removed_disjointness_change_the_minimum(counted: DataLayout) -> None:
    decide(
        counted,
        "disjoint_remove",
        {"incident": "inc", "a": "L:courtyard", "b": "L:launch"},
        reason="the detention time was wrong",
    )
    assert run(counted) == 0
    (row,) = read(counted.processed / "counts.csv")
    assert row["minimum_count"] == "10"  # launch + market is now the heaviest disjoint pair
    decide(
        counted,
        "disjoint_declare",
        {"incident": "inc", "a": "L:launch", "b": "L:courtyard"},
        reason="seen in both places by one witness",
    )
    assert run(counted) == 0
    (row,) = read(counted.processed / "counts.csv")
    assert row["minimum_count"] == "12"
    assert "seen in both places by one witness (reviewer)" in row["explanation"]


def test_decisions_are_append_only_and_exported_as_csv(counted: DataLayout) -> None:
    photo, repost = media_of(counted, "photo.jpg"), media_of(counted, "repost.jpg")
    decide(counted, "match_reject", {"media_a": photo, "media_b": repost}, reason="a <b>reason</b>")
    db = sqlite3.connect(counted.catalog)  # even by hand, outside crosscheck
    for statement in (
        "UPDATE review_decisions SET reviewer = 'mallory'",
        "DELETE FROM review_decisions",
    ):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    db.close()
    with Catalog(counted.catalog) as catalog:
        (row,) = csv.DictReader(io.StringIO(decisions_csv(catalog.decisions()).decode()))
    assert (row["reviewer"], row["action"], row["reason"]) == (
        "alice",
        "match_reject",
        "a <b>reason</b>",
    )
    assert main(["--data-dir", str(counted.data_dir), "verify"]) == 0  # custody chain still holds


def test_a_decision_without_its_reason_is_refused_and_not_logged(counted: DataLayout) -> None:
    with pytest.raises(DecisionError, match="needs a reason"):
        decide(counted, "match_reject", {"media_a": "a", "media_b": "b"}, reason="  ")
    with Catalog(counted.catalog) as catalog:
        assert catalog.decisions() == []
