"""Reviewers' decisions folded into state: the latest decision on a subject wins."""

from __future__ import annotations

import pytest

from pipeline.core.review import (
    Decision,
    DecisionError,
    ReviewState,
    effective_disjointness,
    fold,
    parse_ref,
    validate,
)


def decision(n: int, action: str, subject: dict, value: dict | None = None, reason: str = "r"):
    return Decision(n, f"2026-01-01T00:00:0{n}Z", "alice", action, subject, value or {}, reason)  # type: ignore[arg-type]


def test_latest_decision_on_a_match_wins_in_either_media_order() -> None:
    state = fold(
        [
            decision(1, "match_reject", {"media_a": "b", "media_b": "a"}),
            decision(2, "match_confirm", {"media_a": "a", "media_b": "b"}),
            decision(3, "match_reject", {"media_a": "c", "media_b": "d"}),
        ]
    )
    assert state.confirmed_pairs == {("a", "b")}
    assert state.is_rejected("d", "c") and not state.is_rejected("a", "b")


def test_split_rejects_every_pair_across_the_two_sides() -> None:
    state = fold(
        [
            decision(
                1, "cluster_split", {"cluster_id": "c1"}, {"separate": ["x"], "rest": ["y", "z"]}
            )
        ]
    )
    assert state.rejected_pairs == {("x", "y"), ("x", "z")}


def test_count_decisions_are_per_shot_and_the_last_one_counts() -> None:
    unit = {"incident": "inc", "unit": "U:abc#2"}
    state = fold(
        [decision(1, "count_set", unit, {"count": 3}), decision(2, "count_set", unit, {"count": 5})]
    )
    assert state.counts == {("abc", 2): 5}


def test_removed_analyst_disjointness_is_dropped_and_declared_one_added() -> None:
    state = fold(
        [
            decision(1, "disjoint_remove", {"incident": "inc", "a": "L:b", "b": "L:a"}),
            decision(
                2, "disjoint_declare", {"incident": "inc", "a": "L:a", "b": "U:m#0"}, reason="far"
            ),
        ]
    )
    kept = effective_disjointness("inc", [("a", "b", "csv"), ("a", "c", "csv")], state)
    assert kept == [("a", "c", "csv"), ("a", ("m", 0), "far (reviewer)")]
    assert effective_disjointness("other", [("a", "b", "csv")], state) == [("a", "b", "csv")]


def test_declaring_again_after_removal_restores_the_edge() -> None:
    subject = {"incident": "inc", "a": "L:a", "b": "L:b"}
    state = fold(
        [
            decision(1, "disjoint_remove", subject),
            decision(2, "disjoint_declare", subject, reason="new evidence"),
        ]
    )
    assert effective_disjointness("inc", [("a", "b", "csv")], state) == [
        ("a", "b", "new evidence (reviewer)")
    ]


@pytest.mark.parametrize(
    ("action", "subject", "value", "reason", "message"),
    [
        ("match_reject", {"media_a": "a", "media_b": "b"}, {}, " ", "needs a reason"),
        ("match_confirm", {"media_a": "a", "media_b": "a"}, {}, "", "two different media"),
        ("count_set", {"incident": "i", "unit": "U:m#0"}, {"count": -1}, "", "0 or more"),
        ("count_set", {"incident": "i", "unit": "m#0"}, {"count": 1}, "", "scene reference"),
        (
            "cluster_split",
            {"cluster_id": "c"},
            {"separate": ["a"], "rest": []},
            "r",
            "at least one",
        ),
        ("disjoint_declare", {"incident": "i", "a": "L:x", "b": "L:x"}, {}, "r", "two different"),
        ("erase_everything", {}, {}, "", "unknown action"),
    ],
)
def test_malformed_decisions_are_refused_with_a_reason(
    action, subject, value, reason, message
) -> None:
    with pytest.raises(DecisionError, match=message):
        validate(action, subject, value, reason)


def test_scene_references_round_trip() -> None:
    assert parse_ref("L:courtyard") == "courtyard"
    assert parse_ref("U:ab#cd#3") == ("ab#cd", 3)
    assert ReviewState().counts == {}
