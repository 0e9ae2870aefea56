"""Reviewers' decisions, folded into the state every later run respects.

Decisions are an append-only log (the catalog keeps it; nothing is edited or deleted). The
state is a pure function of that log: for each subject (a pair of media, a shot's count, a
pair of scenes) the latest decision wins, so a reviewer changes their mind by deciding again
and the history stays readable.

Scene references name what an analyst or reviewer can point at and what survives re-runs:
`L:<label>` is an analyst's scene label from annotations.csv, `U:<media_id>#<shot>` one shot
of one media (a still is shot 0).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Unit = tuple[str, int]
SceneRef = str | Unit  # a label, or a unit

Action = Literal[
    "match_confirm",
    "match_reject",
    "cluster_split",
    "count_set",
    "disjoint_declare",
    "disjoint_remove",
    "face_same_confirm",  # two faces show one person
    "face_same_reject",  # ... they do not (a proposed identity is wrong)
    "face_distinct_confirm",  # two faces show different people
    "face_distinct_reject",  # ... not proven (a proposed distinct pair is wrong)
]
FACE_ACTIONS = (
    "face_same_confirm",
    "face_same_reject",
    "face_distinct_confirm",
    "face_distinct_reject",
)
ACTIONS: tuple[str, ...] = get_args(Action)


class DecisionError(ValueError):
    """A decision that cannot be recorded as given (the message says why)."""


@dataclass(frozen=True)
class Decision:
    decision_id: int
    time_utc: str
    reviewer: str
    action: Action
    subject: dict[str, Any]
    value: dict[str, Any]
    reason: str


@dataclass(frozen=True)
class ReviewState:
    """What the decisions so far mean for the pipeline."""

    rejected_pairs: frozenset[tuple[str, str]] = frozenset()
    confirmed_pairs: frozenset[tuple[str, str]] = frozenset()
    counts: dict[Unit, int] = field(default_factory=dict)  # reviewer's count per shot
    declared: dict[str, tuple[tuple[SceneRef, SceneRef, str], ...]] = field(default_factory=dict)
    removed: dict[str, frozenset[frozenset[str]]] = field(default_factory=dict)
    # face pairs (face refs `<media_id>#<frame_index>#<face_index>`, sorted): True confirmed,
    # False rejected; the latest decision on a pair wins
    face_same: dict[tuple[str, str], bool] = field(default_factory=dict)
    face_distinct: dict[tuple[str, str], bool] = field(default_factory=dict)

    def is_rejected(self, media_a: str, media_b: str) -> bool:
        return pair(media_a, media_b) in self.rejected_pairs


def pair(media_a: str, media_b: str) -> tuple[str, str]:
    return (media_a, media_b) if media_a <= media_b else (media_b, media_a)


def format_ref(ref: SceneRef) -> str:
    return f"L:{ref}" if isinstance(ref, str) else f"U:{ref[0]}#{ref[1]}"


def parse_ref(text: str) -> SceneRef:
    """`L:label` or `U:<media_id>#<shot>`; anything else is a DecisionError."""
    kind, _, rest = text.partition(":")
    if kind == "L" and rest:
        return rest
    if kind == "U":
        media_id, _, shot = rest.rpartition("#")
        if media_id and shot.isdigit():
            return (media_id, int(shot))
    raise DecisionError(f"not a scene reference: {text!r} (expected L:<label> or U:<media>#<shot>)")


def validate(action: str, subject: dict[str, Any], value: dict[str, Any], reason: str) -> None:
    """Check a decision's shape before it is appended; the log holds only well-formed ones."""
    if action not in ACTIONS:
        raise DecisionError(f"unknown action {action!r}")
    if action in FACE_ACTIONS:
        a, b = str(subject.get("face_a", "")), str(subject.get("face_b", ""))
        if not parse_face_ref(a) or not parse_face_ref(b) or a == b:
            raise DecisionError(
                "a face decision names face_a and face_b, two different faces "
                "(<media_id>#<frame_index>#<face_index>)"
            )
        if not subject.get("incident"):
            raise DecisionError("a face decision names its incident")
    elif action in ("match_confirm", "match_reject"):
        if not subject.get("media_a") or not subject.get("media_b"):
            raise DecisionError("a match decision names media_a and media_b")
        if subject["media_a"] == subject["media_b"]:
            raise DecisionError("a match joins two different media")
    elif action == "cluster_split":
        separate, rest = set(value.get("separate", ())), set(value.get("rest", ()))
        if not separate or not rest:
            raise DecisionError("a split moves at least one member away from at least one other")
        if separate & rest:
            raise DecisionError("a media cannot be on both sides of a split")
    elif action == "count_set":
        count = value.get("count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise DecisionError("a count is a whole number, 0 or more")
        parse_ref(str(subject.get("unit", "")))
        if not subject.get("incident"):
            raise DecisionError("a count decision names its incident")
    else:
        for side in ("a", "b"):
            parse_ref(str(subject.get(side, "")))
        if subject.get("a") == subject.get("b"):
            raise DecisionError("a disjointness joins two different scenes")
        if not subject.get("incident"):
            raise DecisionError("a disjointness names its incident")
    needs_reason = ("match_reject", "cluster_split", "disjoint_declare", "disjoint_remove")
    if action in needs_reason and not reason.strip():
        raise DecisionError(f"{action.replace('_', ' ')} needs a reason")


def fold(decisions: Iterable[Decision]) -> ReviewState:
    """The state after every decision, in the order they were made (latest wins)."""
    verdicts: dict[tuple[str, str], bool] = {}
    counts: dict[Unit, int] = {}
    disjoint: dict[tuple[str, frozenset[str]], tuple[SceneRef, SceneRef, str] | None] = {}
    face_same: dict[tuple[str, str], bool] = {}
    face_distinct: dict[tuple[str, str], bool] = {}
    for d in sorted(decisions, key=lambda d: d.decision_id):
        if d.action in FACE_ACTIONS:
            faces = pair(str(d.subject["face_a"]), str(d.subject["face_b"]))
            verdict = d.action.endswith("_confirm")
            (face_same if d.action.startswith("face_same") else face_distinct)[faces] = verdict
        elif d.action in ("match_confirm", "match_reject"):
            verdicts[pair(d.subject["media_a"], d.subject["media_b"])] = d.action == "match_confirm"
        elif d.action == "cluster_split":
            for a in d.value["separate"]:
                for b in d.value["rest"]:
                    verdicts[pair(a, b)] = False
        elif d.action == "count_set":
            unit = parse_ref(d.subject["unit"])
            if isinstance(unit, tuple):
                counts[unit] = int(d.value["count"])
        else:
            key = (d.subject["incident"], frozenset((d.subject["a"], d.subject["b"])))
            disjoint[key] = (
                (parse_ref(d.subject["a"]), parse_ref(d.subject["b"]), d.reason)
                if d.action == "disjoint_declare"
                else None
            )
    declared: dict[str, list[tuple[SceneRef, SceneRef, str]]] = {}
    removed: dict[str, set[frozenset[str]]] = {}
    for (incident, refs), entry in sorted(disjoint.items(), key=lambda kv: repr(kv[0])):
        if entry is None:
            removed.setdefault(incident, set()).add(refs)
        else:
            declared.setdefault(incident, []).append(entry)
    return ReviewState(
        rejected_pairs=frozenset(p for p, ok in verdicts.items() if not ok),
        confirmed_pairs=frozenset(p for p, ok in verdicts.items() if ok),
        counts=counts,
        declared={k: tuple(v) for k, v in declared.items()},
        removed={k: frozenset(v) for k, v in removed.items()},
        face_same=face_same,
        face_distinct=face_distinct,
    )


def face_ref(media_id: str, frame_index: int, face_index: int) -> str:
    return f"{media_id}#{frame_index}#{face_index}"


def parse_face_ref(text: str) -> tuple[str, int, int] | None:
    """(media_id, frame_index, face_index) of `<media_id>#<frame_index>#<face_index>`."""
    parts = text.split("#")
    if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def effective_disjointness(
    incident: str,
    from_analysts: Iterable[tuple[str, str, str]],
    state: ReviewState,
) -> list[tuple[SceneRef, SceneRef, str]]:
    """Analysts' disjointness (labels) minus what reviewers removed, plus what they declared.

    A reviewer's declaration of a pair the analysts already declared replaces its reason."""
    removed = state.removed.get(incident, frozenset())
    declared = state.declared.get(incident, ())
    redeclared = {frozenset((format_ref(a), format_ref(b))) for a, b, _ in declared}
    kept: list[tuple[SceneRef, SceneRef, str]] = []
    for a, b, reason in from_analysts:
        refs = frozenset((format_ref(a), format_ref(b)))
        if refs not in removed and refs not in redeclared:
            kept.append((a, b, reason))
    return kept + [(a, b, f"{reason} (reviewer)") for a, b, reason in declared]
