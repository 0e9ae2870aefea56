"""Issue 13 (hardening), part A, item 1: no write under DIR/processed follows a link."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.io.atomic import LinkRefused, write_bytes_atomic
from pipeline.io.catalog import Catalog
from pipeline.io.runlock import run_lock
from pipeline.layout import DataLayout
from pipeline.stages.frames import run_frames
from pipeline.stages.ingest import run_ingest
from tests.conftest import RunStage
from tests.media import jpeg, put, tree_snapshot


@pytest.fixture
def evidence(layout: DataLayout) -> Path:
    return put(layout.raw, "inc/src/evidence.jpg", jpeg("astronaut"))


def _symlink(target: Path, link: Path) -> None:
    link.symlink_to(target)


@pytest.mark.parametrize(
    ("make_link", "refusal"),
    [
        pytest.param(_symlink, "symbolic link", id="item1-symbolic-link"),
        pytest.param(os.link, "hard link", id="item1-variant-hard-link"),
    ],
)
def test_item1_run_lock_linked_to_evidence_is_refused(
    layout: DataLayout,
    evidence: Path,
    make_link: Callable[[Path, Path], None],
    refusal: str,
) -> None:
    """Item 1: the run wrote through a linked run.lock and left the evidence at 0 bytes.
    Further variant of item 1 (not named): a hard link (same file system as data/raw),
    which O_NOFOLLOW alone does not catch."""
    before = tree_snapshot(layout.raw)
    layout.processed.mkdir(parents=True)
    make_link(evidence, layout.processed / "run.lock")
    with pytest.raises(LinkRefused, match=refusal), run_lock(layout.processed, "r", "t"):
        pass
    assert tree_snapshot(layout.raw) == before


def test_item1_variant_catalog_journal_linked_to_evidence_is_refused(
    layout: DataLayout, evidence: Path
) -> None:
    """Further variant of item 1 (not named): SQLite opens `catalog.sqlite-wal` by name and
    writes it in place."""
    before = tree_snapshot(layout.raw)
    layout.processed.mkdir(parents=True)
    Path(f"{layout.catalog}-wal").symlink_to(evidence)
    with pytest.raises(LinkRefused):
        Catalog(layout.catalog)
    assert tree_snapshot(layout.raw) == before


def test_item1_variant_thumbnail_folder_linked_into_raw_is_refused(
    layout: DataLayout, evidence: Path, run_stage: RunStage
) -> None:
    """Further variant of item 1 (not named): `processed/thumbs` made a link to a raw folder,
    so the frames stage would store its JPEGs among the evidence."""
    run_stage(run_ingest)
    before = tree_snapshot(layout.raw)
    layout.thumbs.symlink_to(layout.raw / "inc/src", target_is_directory=True)
    with pytest.raises(LinkRefused, match="not a folder"):
        run_stage(run_frames)
    assert tree_snapshot(layout.raw) == before


def test_a_contract_file_that_is_a_link_is_replaced_not_written_through(
    tmp_path: Path,
) -> None:
    """The rename replaces the link itself; even a link to a file holding the same bytes
    is replaced (it is never taken as "already written")."""
    target = tmp_path / "evidence.bin"
    target.write_bytes(b"same")
    link = tmp_path / "processed" / "media.csv"
    link.parent.mkdir()
    link.symlink_to(target)
    assert write_bytes_atomic(link, b"same", root=link.parent)
    assert not link.is_symlink() and link.read_bytes() == b"same"
    assert target.read_bytes() == b"same"
