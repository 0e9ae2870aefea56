"""`crosscheck run` as a scheduled job: incremental by default, nothing new means nothing
written, exit statuses for each outcome, a JSON summary and an operator's log."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from pipeline.cli import STAGES, build_parser, main
from pipeline.core.outcome import EXIT_FAILURES, EXIT_NOTHING_TO_DO, EXIT_OK, EXIT_USAGE
from pipeline.io import contract
from pipeline.layout import DataLayout
from pipeline.stages import hash as hash_stage
from pipeline.synth.archive import write_archive
from tests.conftest import REPO
from tests.media import jpeg, put, tree_snapshot

ARCHIVE_ITEMS = 16
CONTRACT = contract.CONTRACT_FILES


def run(layout: DataLayout, *args: str) -> int:
    return main(["--data-dir", str(layout.data_dir), "--no-progress", "run", *args])


def last_summary(layout: DataLayout) -> dict:
    runs = sorted((layout.processed / "runs").glob("*.json"), key=lambda p: int(p.stem))
    return json.loads(runs[-1].read_text())


def catalog_rows(layout: DataLayout, sql: str) -> list[tuple]:
    with sqlite3.connect(layout.catalog) as db:
        return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def archive_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated archive (stills, clips, a repost), built once for the module."""
    raw = tmp_path_factory.mktemp("archive") / "raw"
    write_archive(raw, ARCHIVE_ITEMS, seed=3)
    return raw


@pytest.fixture
def archive(layout: DataLayout, archive_raw: Path) -> DataLayout:
    shutil.rmtree(layout.raw)
    shutil.copytree(archive_raw, layout.raw)
    return layout


def test_nothing_new_changes_no_output_and_says_so(archive: DataLayout, capsys) -> None:
    assert run(archive) == EXIT_OK
    before = tree_snapshot(archive.processed)
    capsys.readouterr()
    assert run(archive) == EXIT_NOTHING_TO_DO
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(
        f"crosscheck run: nothing to do ({ARCHIVE_ITEMS} files unchanged); exit 3"
    )
    after = tree_snapshot(archive.processed)
    for name in (*CONTRACT, "custody.jsonl"):
        path = str(archive.processed / name)
        assert after[path] == before[path], name  # same bytes, same mtime
    assert {p for p in after if "/runs/" not in p and "catalog.sqlite" not in p} == {
        p for p in before if "/runs/" not in p and "catalog.sqlite" not in p
    }
    summary = last_summary(archive)
    assert (summary["status"], summary["exit_code"], summary["changed"]) == (
        "nothing_to_do",
        EXIT_NOTHING_TO_DO,
        False,
    )
    statuses = catalog_rows(archive, "SELECT status FROM runs ORDER BY run_id")
    assert statuses == [("ok",), ("nothing_to_do",)]


def test_an_upload_is_processed_alone_and_the_summary_says_what_it_brought(
    archive: DataLayout,
) -> None:
    assert run(archive) == EXIT_OK
    known = {row[0] for row in catalog_rows(archive, "SELECT media_id FROM media")}
    write_archive(archive.raw, 2, seed=3, start=ARCHIVE_ITEMS)  # two files never seen
    assert run(archive) == EXIT_OK
    media = {row[0] for row in catalog_rows(archive, "SELECT media_id FROM media")}
    new = media - known
    with sqlite3.connect(archive.catalog) as db:
        marks = ",".join("?" * len(new))
        new_frames = db.execute(
            f"SELECT COUNT(*) FROM frames WHERE media_id IN ({marks})",
            sorted(new),
        ).fetchone()[0]
        (counts_json,) = db.execute("SELECT counts_json FROM runs ORDER BY run_id DESC").fetchone()
    counts = json.loads(counts_json)
    assert counts["ingest"]["files_hashed"] == 2
    assert counts["ingest"]["files_cached"] == ARCHIVE_ITEMS
    assert counts["ingest"]["new_media"] == len(new)
    assert counts["frames"]["media_sampled"] == len(new)
    assert counts["hash"]["frames_hashed"] == new_frames
    assert counts["dedupe"]["frames_searched"] <= new_frames
    summary = last_summary(archive)
    assert summary["facts"]["new_media"] == len(new)
    assert set(summary["stages"]) == set(STAGES)
    for stage in summary["stages"].values():
        assert stage["status"] == "ok" and stage["wall_s"] >= 0 and stage["cpu_s"] >= 0


def test_full_recomputation_agrees_with_the_incremental_runs(archive: DataLayout) -> None:
    assert run(archive) == EXIT_OK
    write_archive(archive.raw, 2, seed=3, start=ARCHIVE_ITEMS)
    assert run(archive) == EXIT_OK
    incremental = {n: (archive.processed / n).read_bytes() for n in CONTRACT}
    assert run(archive, "--full") == EXIT_OK
    assert {n: (archive.processed / n).read_bytes() for n in CONTRACT} == incremental
    assert last_summary(archive)["mode"] == "full"


def test_summary_json_is_written_where_asked_and_kept_with_the_run_record(
    layout: DataLayout, tmp_path: Path
) -> None:
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    put(layout.raw, "inc/src/empty.jpg", b"")
    target = tmp_path / "last-run.json"
    assert run(layout, "--summary-json", str(target)) == EXIT_OK
    summary = json.loads(target.read_text())
    assert summary == last_summary(layout)
    assert (layout.processed / "runs" / f"{summary['run_id']}.json").exists()
    for key in ("started_at", "finished_at", "code_version", "config_hash", "errors", "wall_s"):
        assert key in summary
    assert (summary["status"], summary["exit_code"], summary["mode"]) == ("ok", 0, "incremental")
    assert summary["facts"] == {
        "files_seen": 2,
        "new_media": 1,
        "rejects": 1,
        "new_rejects": 1,
        "new_matches": 0,
        "count_changes": ["inc: - -> 1"],
    }
    assert summary["stages"]["ingest"]["counts"]["files_hashed"] == 2
    (stored,) = catalog_rows(layout, "SELECT summary_json FROM runs")
    assert json.loads(stored[0]) == summary


def test_log_file_has_a_timestamped_line_per_stage(layout: DataLayout, tmp_path: Path) -> None:
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    log = tmp_path / "crosscheck.log"
    assert run(layout, "--log-file", str(log)) == EXIT_OK
    lines = log.read_text().splitlines()
    assert f"INFO run 1 started: crosscheck run on {layout.data_dir} (code " in lines[0]
    for stage in STAGES:
        (line,) = [x for x in lines if f" INFO {stage}: ok in " in x]
        assert line[:4].isdigit() and line[19] == "Z"
    assert "crosscheck run: 1 new media" in lines[-1]


def annotate(layout: DataLayout, incident: str, rows: str) -> None:
    folder = layout.annotations / incident
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "annotations.csv").write_text("path,t_s,count,scene,note\n" + rows)


def configs(tmp_path: Path, max_failure_ratio: float) -> Path:
    folder = tmp_path / "configs"
    folder.mkdir()
    text = (REPO / "configs" / "default.yaml").read_text()
    text = text.replace("max_failure_ratio: 0.5", f"max_failure_ratio: {max_failure_ratio}")
    (folder / "default.yaml").write_text(text)
    return folder


@pytest.mark.parametrize(("ratio", "status"), [(0.5, EXIT_OK), (0.4, EXIT_FAILURES)])
def test_failed_items_fail_the_run_only_above_the_configured_ratio(
    layout: DataLayout, tmp_path: Path, ratio: float, status: int, capsys
) -> None:
    put(layout.raw, "north/src/a.jpg", jpeg("astronaut"))
    put(layout.raw, "south/src/b.jpg", jpeg("coffee"))
    annotate(layout, "north", "src/a.jpg,,3,yard,\n")
    annotate(layout, "south", "src/missing.jpg,,2,gate,\n")  # one of two incidents fails
    args = ["--data-dir", str(layout.data_dir), "--config-dir", str(configs(tmp_path, ratio))]
    assert main([*args, "--no-progress", "run"]) == status
    assert "unknown path 'src/missing.jpg'" in capsys.readouterr().err
    summary = last_summary(layout)
    assert summary["stages"]["count"]["failure_ratio"] == 0.5
    assert (layout.processed / "counts.csv").read_text().count("\n") == 2  # north's row


def test_a_stage_stopped_by_an_internal_error_stops_the_run_with_its_reason(
    layout: DataLayout, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))

    def broken(*_: object) -> None:
        raise FileNotFoundError("a bug, not a bad input")

    # One frame is one batch, which the local executor hashes in this process.
    monkeypatch.setattr(hash_stage, "hash_frame", broken)
    assert run(layout) == EXIT_FAILURES
    summary = last_summary(layout)
    assert summary["stages"]["hash"]["status"] == "failed"
    assert [summary["stages"][s]["status"] for s in ("dedupe", "count", "report")] == [
        "not_run"
    ] * 3
    assert "hash: stopped by an internal error: FileNotFoundError" in capsys.readouterr().err
    assert catalog_rows(layout, "SELECT status FROM runs ORDER BY run_id")[-1] == ("failed",)


def test_usage_errors_exit_2_before_anything_runs(layout: DataLayout, tmp_path: Path) -> None:
    assert run(layout, "--summary-json", str(tmp_path / "no" / "such" / "x.json")) == EXIT_USAGE
    assert not layout.processed.exists()


def test_help_explains_every_exit_status() -> None:
    text = build_parser().format_help()
    for code in ("0 ", "1 ", "2 ", "3 ", "75 "):
        assert f"\n  {code}" in text
    assert "nothing new" in text and "run.lock" in text
