"""How a run ends: failures are per item, a command fails only above the configured ratio,
`run` with nothing new says so, and the summary line says what changed."""

from __future__ import annotations

from pipeline.core.outcome import (
    EXIT_FAILURES,
    EXIT_NOTHING_TO_DO,
    EXIT_OK,
    StageOutcome,
    count_changes,
    decide,
    facts,
    summary_line,
)


def frames(sampled: int, failed: int) -> StageOutcome:
    errors = tuple(f"frames m{i}: internal error" for i in range(failed))
    counts = {"media_sampled": sampled}
    return StageOutcome("frames", "ok", counts=counts, errors=errors, items=sampled)


def test_failures_within_the_ratio_are_a_success() -> None:
    assert decide("run", [frames(10, 5)], True, 0.5).exit_code == EXIT_OK


def test_failures_above_the_ratio_need_a_person() -> None:
    outcome = decide("run", [frames(10, 6)], True, 0.5)
    assert (outcome.status, outcome.exit_code) == ("failures", EXIT_FAILURES)


def test_a_stage_stopped_by_an_internal_error_fails_the_run() -> None:
    stopped = StageOutcome("hash", "failed", errors=("hash: stopped",))
    assert decide("run", [frames(1, 0), stopped], True, 1.0).status == "failed"


def test_run_that_changed_nothing_has_nothing_to_do_but_a_stage_command_succeeds() -> None:
    assert decide("run", [frames(0, 0)], False, 0.5).exit_code == EXIT_NOTHING_TO_DO
    assert decide("frames", [frames(0, 0)], False, 0.5).exit_code == EXIT_OK


def test_persistent_failures_outrank_nothing_to_do() -> None:
    bad = StageOutcome(
        "count",
        "ok",
        counts={"incidents": 0, "incidents_with_errors": 1},
        errors=("count a: line 2",),
        items=1,
        failed_items=1,
    )
    assert decide("run", [bad], False, 0.5).exit_code == EXIT_FAILURES


def test_an_incident_with_many_bad_lines_is_one_failed_item() -> None:
    count = StageOutcome(
        "count",
        "ok",
        counts={"incidents": 3, "incidents_with_errors": 1},
        errors=("count a: line 2", "count a: line 3", "count a: line 4"),
        items=4,
        failed_items=1,
    )
    assert count.failures == 1 and count.failure_ratio == 0.25


def test_count_changes_name_every_incident_that_moved() -> None:
    assert count_changes({"a": "3", "b": "4"}, {"a": "5", "b": "4", "c": "1"}) == [
        "a: 3 -> 5",
        "c: - -> 1",
    ]


def test_summary_line_reports_new_media_rejects_matches_and_counts() -> None:
    stages = [
        StageOutcome(
            "ingest", "ok", counts={"files_seen": 9, "new_media": 2, "rejects": 1, "new_rejects": 1}
        ),
        StageOutcome("dedupe", "ok", counts={"new_matches": 3}),
        StageOutcome("count", "ok", counts={"count_changes": ["a: 3 -> 5"]}),
    ]
    outcome = decide("run", stages, True, 0.5)
    line = summary_line("run", outcome, {"run_id": 7, "wall_s": 1.25, "facts": facts(stages)})
    assert line == (
        "crosscheck run: 2 new media, 1 new rejects (1 in all), 3 new matches, "
        "minimum counts a: 3 -> 5; exit 0 (ok) in 1.2 s [run 7]"
    )


def test_summary_line_of_a_run_with_nothing_new() -> None:
    stages = [StageOutcome("ingest", "ok", counts={"files_seen": 9, "new_media": 0})]
    outcome = decide("run", stages, False, 0.5)
    line = summary_line("run", outcome, {"run_id": 8, "wall_s": 0.5, "facts": facts(stages)})
    assert line == (
        "crosscheck run: nothing to do (9 files unchanged); exit 3 (nothing_to_do) in 0.5 s [run 8]"
    )
