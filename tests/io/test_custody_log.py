"""The custody log file is never written through a link, never gets an entry twice, and a
torn tail left by a killed command is mended in the open (issue 13, items 2, 14, 15)."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core.custody import chain_problems
from pipeline.io import crashpoints
from pipeline.io.catalog import Catalog
from pipeline.io.custody_log import CustodyLogError, read_lines, sync_log_file
from pipeline.layout import DataLayout
from tests.media import jpeg, put, tree_snapshot


def cli(layout: DataLayout, *command: str) -> int:
    return main(["--data-dir", str(layout.data_dir), "--no-progress", *command])


@pytest.fixture
def ingested(layout: DataLayout) -> DataLayout:
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    put(layout.raw, "inc/src/b.jpg", jpeg("coffee"))
    assert cli(layout, "ingest") == 0
    return layout


def test_a_log_replaced_by_a_link_to_evidence_leaves_the_evidence_untouched(
    ingested: DataLayout, capsys
) -> None:
    """Item 2: custody.jsonl replaced by a symlink to an evidence JPEG; the run truncated the
    JPEG at its last newline byte, then crashed."""
    layout = ingested
    evidence = layout.raw / "inc/src/a.jpg"
    before = tree_snapshot(layout.raw)
    layout.custody_log.unlink()
    layout.custody_log.symlink_to(evidence)
    put(layout.raw, "inc/src/c.jpg", jpeg("rocket"))
    after_put = tree_snapshot(layout.raw)
    assert cli(layout, "ingest") == 1
    assert "is a symbolic link" in capsys.readouterr().err
    assert tree_snapshot(layout.raw) == after_put
    assert {k: v for k, v in after_put.items() if k in before} == before
    assert layout.custody_log.is_symlink()
    with Catalog(layout.catalog) as catalog:
        assert [run.command for run in catalog.runs()] == ["ingest"]  # refused before a run


def test_a_log_hard_linked_to_evidence_is_refused(ingested: DataLayout, capsys) -> None:
    """Item 2, variant not named: a hard link is not a symlink, so O_NOFOLLOW alone lets it
    through; a second name for the log is refused too."""
    layout = ingested
    evidence = layout.raw / "inc/src/b.jpg"
    original = evidence.read_bytes()
    layout.custody_log.unlink()
    os.link(evidence, layout.custody_log)
    assert cli(layout, "verify") == 1
    assert "2 names" in capsys.readouterr().err
    assert evidence.read_bytes() == original


def test_a_log_replaced_by_a_named_pipe_is_refused_without_hanging(ingested: DataLayout) -> None:
    """Item 2, variant not named: opening a FIFO blocks until a writer comes; it is refused."""
    layout = ingested
    layout.custody_log.unlink()
    os.mkfifo(layout.custody_log)
    with Catalog(layout.catalog) as catalog, pytest.raises(CustodyLogError, match="regular"):
        sync_log_file(catalog, layout.custody_log)
    with pytest.raises(CustodyLogError):
        read_lines(layout.custody_log)


def _tear_tail(layout: DataLayout, whole_lines_kept: int, partial_bytes: int) -> None:
    """What a command killed between its catalog commit and its append leaves: a prefix of
    the catalog's chain, possibly ending in the start of the next entry."""
    lines = layout.custody_log.read_text().splitlines()
    torn = "".join(line + "\n" for line in lines[:whole_lines_kept])
    torn += lines[whole_lines_kept][:partial_bytes]
    layout.custody_log.write_text(torn)


def test_a_torn_tail_is_reported_as_one_and_stays_visible(
    ingested: DataLayout, capsys, caplog
) -> None:
    """Item 14: verify after a crash between commit and append reported "lines deleted",
    repaired the log itself, and the second verify passed as if nothing had happened."""
    layout = ingested
    entries = len(read_lines(layout.custody_log))
    _tear_tail(layout, entries - 2, 40)
    assert cli(layout, "verify") == 0
    first = capsys.readouterr()
    assert "lines deleted" not in first.out
    assert "torn tail" in first.out and "partial line of 40 bytes" in first.out
    assert f"entries {entries - 1}-{entries}" in first.out
    assert "custody log mended" in caplog.text
    assert cli(layout, "verify") == 0
    assert "torn tail" in capsys.readouterr().out  # said again, not hidden
    lines = read_lines(layout.custody_log)
    assert chain_problems(lines) == []
    assert json.loads(lines[entries])["action"] == "custody_log_mended"


def test_a_partial_line_that_is_not_ours_is_refused(ingested: DataLayout, capsys) -> None:
    """Item 14, variant not named: an incomplete last line that is not the start of the entry
    the catalog sealed next is not dropped (it may be what an investigator needs to see)."""
    layout = ingested
    with layout.custody_log.open("a") as handle:
        handle.write('{"seq": 999, "forged"')
    before = layout.custody_log.read_bytes()
    assert cli(layout, "verify") == 1
    assert "incomplete line" in capsys.readouterr().err
    assert layout.custody_log.read_bytes() == before


def widen_the_append_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every writer pauses between deciding what to append and appending it (at the crash
    point the log reports there), so writers that do not exclude each other all decide
    before any appends: the race happens on every run, not by chance."""
    reached = crashpoints.reached

    def pause(label: str) -> None:
        if label == "custody log about to be appended":
            time.sleep(0.2)
        reached(label)

    monkeypatch.setattr(crashpoints, "reached", pause)


def test_concurrent_appends_never_write_an_entry_twice(
    ingested: DataLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 15 (the log side): writers appending at once each read the file's last entry,
    then appended the same missing entries."""
    layout = ingested
    widen_the_append_window(monkeypatch)
    with Catalog(layout.catalog) as catalog, catalog.transaction():
        for n in range(20):
            catalog.append_custody({"stage": "test", "action": "filler", "n": n})
    start = threading.Barrier(8)

    def append() -> None:
        with Catalog(layout.catalog) as catalog:
            start.wait()
            sync_log_file(catalog, layout.custody_log)

    threads = [threading.Thread(target=append) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = read_lines(layout.custody_log)
    assert chain_problems(lines) == []
    with Catalog(layout.catalog) as catalog:
        assert len(lines) == catalog.custody_head().seq


def test_the_log_is_read_without_following_a_link(tmp_path: Path) -> None:
    """Item 2, variant not named: reads (verify, anchor) do not follow a link either."""
    target = tmp_path / "elsewhere.jsonl"
    target.write_text('{"seq": 1}\n')
    link = tmp_path / "custody.jsonl"
    link.symlink_to(target)
    with pytest.raises(CustodyLogError, match="symbolic link"):
        read_lines(link)


def test_an_append_after_a_torn_tail_never_glues_onto_the_partial_line(
    ingested: DataLayout,
) -> None:
    """Item 14, variant not named: the review app appends without a run's start (no mend
    step); the cut-off start of our own next entry is dropped before appending, never left
    in front of the entries that follow it."""
    layout = ingested
    entries = len(read_lines(layout.custody_log))
    _tear_tail(layout, entries - 1, 25)
    with Catalog(layout.catalog) as catalog:
        assert sync_log_file(catalog, layout.custody_log) == 1
        head = catalog.custody_head().seq
    lines = read_lines(layout.custody_log)
    assert chain_problems(lines) == [] and len(lines) == head
