"""verify: tampered evidence and edited custody lines are both caught."""

from __future__ import annotations

import json
import os

from pipeline.cli import main
from pipeline.layout import DataLayout
from tests.media import jpeg, put


def _ingest(layout: DataLayout) -> None:
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    put(layout.raw, "inc/src/b.jpg", jpeg("coffee"))
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "ingest"]) == 0


def verify(layout: DataLayout) -> int:
    return main(["--data-dir", str(layout.data_dir), "--no-progress", "verify"])


def test_untouched_collection_verifies(layout: DataLayout, capsys) -> None:
    _ingest(layout)
    assert verify(layout) == 0
    assert "0 problems" in capsys.readouterr().out


def test_tampered_raw_file_with_restored_mtime_is_caught(layout: DataLayout, capsys) -> None:
    _ingest(layout)
    target = layout.raw / "inc/src/a.jpg"
    info = target.stat()
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert verify(layout) == 1
    assert "changed: inc/src/a.jpg" in capsys.readouterr().out


def test_missing_and_added_files_are_reported(layout: DataLayout, capsys) -> None:
    _ingest(layout)
    (layout.raw / "inc/src/b.jpg").unlink()
    put(layout.raw, "inc/src/new.jpg", jpeg("rocket"))
    assert verify(layout) == 1
    out = capsys.readouterr().out
    assert "missing: inc/src/b.jpg" in out and "added: inc/src/new.jpg" in out


def test_edited_custody_line_is_caught(layout: DataLayout, capsys) -> None:
    _ingest(layout)
    log = layout.processed / "custody.jsonl"
    lines = log.read_text().splitlines()
    entry = json.loads(lines[0])
    entry["operator"] = "someone else"
    lines[0] = json.dumps(entry, sort_keys=True)
    log.write_text("\n".join(lines) + "\n")
    assert verify(layout) == 1
    assert "line 1: entry_hash does not match its content" in capsys.readouterr().out


def test_deleted_custody_line_is_caught(layout: DataLayout, capsys) -> None:
    _ingest(layout)
    log = layout.processed / "custody.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    assert verify(layout) == 1
    assert "prev_hash does not match" in capsys.readouterr().out
