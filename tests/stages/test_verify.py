"""verify: tampered evidence and edited custody lines are both caught; the custody log, not
the catalog, is the authority, and an anchor kept elsewhere exposes a resealed log."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path

from pipeline.cli import main
from pipeline.core.custody import GENESIS_HASH, canonical_json, seal_entry
from pipeline.io.catalog import Catalog
from pipeline.layout import DataLayout
from pipeline.synth import images as im
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


def _forge(entry_fields: dict, after: dict) -> dict:
    """A properly chained entry after `after`, as anyone with the code can seal one."""
    return seal_entry(entry_fields, int(after["seq"]) + 1, str(after["entry_hash"]))


def test_a_forged_chained_entry_appended_to_the_file_is_caught(layout: DataLayout, capsys) -> None:
    """Item 16: a properly chained forged entry appended to the log passed verify, and that
    verify's own record never reached the file (the file's last seq was the forged one)."""
    _ingest(layout)
    log = layout.custody_log
    head = json.loads(log.read_text().splitlines()[-1])
    forged = _forge({"stage": "ingest", "action": "examine_file", "inputs": []}, head)
    with log.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")
    forged_line = len(log.read_text().splitlines())
    assert verify(layout) == 1
    assert f"line {forged_line}: not in the catalog's copy" in capsys.readouterr().out
    last = json.loads(log.read_text().splitlines()[-1])
    assert (last["stage"], last["action"]) == ("verify", "fixity_check")


def test_entries_after_a_forged_one_still_reach_the_file(layout: DataLayout, capsys) -> None:
    """Item 16, variant not named: later runs' entries (not only verify's) reach the file
    after a forged line, and every later verify still names the forged line."""
    _ingest(layout)
    log = layout.custody_log
    head = json.loads(log.read_text().splitlines()[-1])
    with log.open("a") as handle:
        handle.write(json.dumps(_forge({"stage": "x", "action": "y"}, head)) + "\n")
    put(layout.raw, "inc/src/c.jpg", jpeg("rocket"))
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "ingest"]) == 0
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e.get("inputs", [{}])[0].get("path") == "inc/src/c.jpg" for e in entries)
    assert verify(layout) == 1
    assert "not in the catalog's copy" in capsys.readouterr().out


def _reseal(lines: list[str], edit) -> list[str]:
    """Edit entries and seal the chain again from the first: a rewrite nobody can see in the
    chain itself."""
    out: list[str] = []
    prev = GENESIS_HASH
    for line in lines:
        entry = json.loads(line)
        body = {k: v for k, v in entry.items() if k not in ("seq", "prev_hash", "entry_hash")}
        sealed = seal_entry(edit(body), int(entry["seq"]), prev)
        prev = sealed["entry_hash"]
        out.append(json.dumps(sealed, sort_keys=True))
    return out


def _swap_evidence_and_cover(layout: DataLayout) -> None:
    """Replace a.jpg's bytes and update the catalog's table to the new SHA-256."""
    target = layout.raw / "inc/src/a.jpg"
    target.write_bytes(jpeg("rocket"))
    new = hashlib.sha256(target.read_bytes()).hexdigest()
    info = target.stat()
    db = sqlite3.connect(layout.catalog)
    with db:
        db.execute(
            "UPDATE file_state SET sha256 = ?, size_bytes = ?, mtime_ns = ? WHERE path = ?",
            (new, info.st_size, info.st_mtime_ns, "inc/src/a.jpg"),
        )
    db.close()


def _rewrite_both_copies(layout: DataLayout) -> None:
    """Who ran the ingest, rewritten in every entry of the file and the catalog, resealed."""
    lines = _reseal(
        layout.custody_log.read_text().splitlines(), lambda e: e | {"operator": "someone else"}
    )
    layout.custody_log.write_text("\n".join(lines) + "\n")
    db = sqlite3.connect(layout.catalog)
    with db:
        db.execute("DELETE FROM custody")
        for line in lines:
            entry = json.loads(line)
            db.execute(
                "INSERT INTO custody VALUES (?, ?, ?)",
                (entry["seq"], entry["entry_hash"], canonical_json(entry)),
            )
    db.close()


def test_a_swapped_file_is_caught_against_the_log_not_the_catalog(
    layout: DataLayout, capsys
) -> None:
    """Item 17: swap an evidence file, update the catalog's table: verify passed, because it
    checked the raw files against that editable table."""
    _ingest(layout)
    _swap_evidence_and_cover(layout)
    assert verify(layout) == 1
    out = capsys.readouterr().out
    assert "changed: inc/src/a.jpg" in out
    assert "catalog: inc/src/a.jpg: the catalog's SHA-256" in out


def test_a_deleted_catalog_row_does_not_hide_a_file(layout: DataLayout, capsys) -> None:
    """Item 17, variant not named: the file's row deleted from the catalog (so the file is
    neither checked nor "added"): the log still says what was ingested."""
    _ingest(layout)
    target = layout.raw / "inc/src/b.jpg"
    target.write_bytes(jpeg("rocket"))
    db = sqlite3.connect(layout.catalog)
    with db:
        db.execute("DELETE FROM file_state WHERE path = 'inc/src/b.jpg'")
    db.close()
    assert verify(layout) == 1
    out = capsys.readouterr().out
    assert "changed: inc/src/b.jpg" in out and "catalog: inc/src/b.jpg" in out


def anchor(layout: DataLayout, out: Path) -> int:
    return main(["--data-dir", str(layout.data_dir), "anchor", "--output", str(out)])


def test_a_log_rewritten_and_resealed_in_both_copies_is_caught_by_the_anchor(
    layout: DataLayout, tmp_path: Path, capsys
) -> None:
    """Item 22: rewriting and resealing both copies of the log went unnoticed; the latest
    hash must be kept elsewhere, and verify checks it."""
    _ingest(layout)
    kept = tmp_path / "anchor.txt"
    capsys.readouterr()
    assert anchor(layout, kept) == 0
    seq, head = kept.read_text().split()
    assert capsys.readouterr().out.strip() == f"{seq} {head}"
    _rewrite_both_copies(layout)
    assert verify(layout) == 0  # both copies agree and chain: only the anchor knows
    options = ["--data-dir", str(layout.data_dir), "--no-progress", "verify", "--anchor"]
    assert main([*options, str(kept)]) == 1
    assert f"anchor: entry {seq} does not have the anchored hash" in capsys.readouterr().out


def test_a_log_cut_short_in_both_copies_is_caught_by_the_anchor(
    layout: DataLayout, tmp_path: Path, capsys
) -> None:
    """Item 22, variant not named: the last entries deleted from the file and the catalog
    (the chain that is left is intact)."""
    _ingest(layout)
    kept = tmp_path / "anchor.txt"
    assert anchor(layout, kept) == 0
    lines = layout.custody_log.read_text().splitlines()
    layout.custody_log.write_text("\n".join(lines[:1]) + "\n")
    db = sqlite3.connect(layout.catalog)
    with db:
        db.execute("DELETE FROM custody WHERE seq > 1")
    db.close()
    options = ["--data-dir", str(layout.data_dir), "--no-progress", "verify", "--anchor"]
    assert main([*options, str(kept)]) == 1
    assert "entries removed since the anchor was taken" in capsys.readouterr().out


def test_an_anchor_is_neither_kept_under_processed_nor_taken_of_a_broken_log(
    layout: DataLayout, capsys
) -> None:
    """Item 22, variant not named: an anchor beside the log proves nothing; an anchor of a
    tampered log would bless it."""
    _ingest(layout)
    assert anchor(layout, layout.processed / "anchor.txt") == 2
    lines = layout.custody_log.read_text().splitlines()
    layout.custody_log.write_text("\n".join(lines[1:]) + "\n")
    capsys.readouterr()
    assert main(["--data-dir", str(layout.data_dir), "anchor"]) == 1
    assert capsys.readouterr().out == ""


def test_an_edit_of_the_catalogs_copy_of_an_entry_is_caught(layout: DataLayout, capsys) -> None:
    """Item 22: the catalog's copy of an entry edited (its recorded hash left as it was)
    went unnoticed: only the two entry_hash fields were compared."""
    _ingest(layout)
    db = sqlite3.connect(layout.catalog)
    with db:
        (text,) = db.execute("SELECT entry_json FROM custody WHERE seq = 1").fetchone()
        db.execute(
            "UPDATE custody SET entry_json = ? WHERE seq = 1",
            (text.replace('"operator":"', '"operator":"someone else, not '),),
        )
    db.close()
    assert verify(layout) == 1
    out = capsys.readouterr().out
    assert "line 1: differs from the catalog's copy of entry 1" in out
    assert "catalog's copy, line 1: entry_hash does not match its content" in out


def test_an_edit_of_the_catalogs_recorded_hash_is_caught(layout: DataLayout, capsys) -> None:
    """Item 22, variant not named: the catalog's entry_hash column (what sync compares)."""
    _ingest(layout)
    db = sqlite3.connect(layout.catalog)
    with db:
        db.execute("UPDATE custody SET entry_hash = ? WHERE seq = 1", ("f" * 64,))
    db.close()
    assert verify(layout) == 1
    assert "entry 1: the catalog's recorded hash differs" in capsys.readouterr().out


def test_a_hand_edited_media_csv_is_caught_and_its_rewrite_said(
    layout: DataLayout, capsys, caplog
) -> None:
    """Item 22: a hand-edited media.csv went unnoticed and was silently rewritten."""
    _ingest(layout)
    media_csv = layout.processed / "media.csv"
    media_csv.write_text(media_csv.read_text().replace(",image,", ",video,", 1))
    assert verify(layout) == 1
    assert "output: media.csv: differs from the copy sealed in custody entry" in (
        capsys.readouterr().out
    )
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "ingest"]) == 0
    assert "media.csv: edited since crosscheck wrote it" in caplog.text
    assert ",video," not in media_csv.read_text()
    assert verify(layout) == 0


def test_a_deleted_contract_file_is_caught(layout: DataLayout, capsys) -> None:
    """Item 22, variant not named: a contract file deleted rather than edited."""
    _ingest(layout)
    (layout.processed / "observations.csv").unlink()
    assert verify(layout) == 1
    assert "output: observations.csv: missing" in capsys.readouterr().out


def _forge_catalog_metadata(layout: DataLayout, key: str, value: object) -> str:
    db = sqlite3.connect(layout.catalog)
    with db:
        media_id, text = db.execute(
            "SELECT media_id, derived_json FROM media ORDER BY media_id LIMIT 1"
        ).fetchone()
        derived = json.loads(text) | {key: value}
        db.execute(
            "UPDATE media SET derived_json = ? WHERE media_id = ?",
            (json.dumps(derived, sort_keys=True), media_id),
        )
    db.close()
    return str(media_id)


def test_forged_gps_in_the_catalog_is_caught_after_it_reached_media_csv(
    layout: DataLayout, capsys
) -> None:
    """Item 17: forged GPS edited into the catalog reached media.csv on `run --full`, and
    verify stayed green."""
    _ingest(layout)
    media_id = _forge_catalog_metadata(layout, "gps_lat", 48.8584)
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run", "--full"]) == 0
    assert "48.8584" in (layout.processed / "media.csv").read_text()
    capsys.readouterr()
    assert verify(layout) == 1
    out = capsys.readouterr().out
    assert f"catalog: media {media_id[:16]}" in out and "derived.gps_lat" in out


def test_a_forged_capture_time_in_the_catalog_is_caught(layout: DataLayout, capsys) -> None:
    """Item 17, variant not named: another field ingest reads from the bytes (the capture
    time that decides first_seen), checked before any run carries it into media.csv."""
    exif = im.exif_block("Make", "Model", "2024:03:01 10:20:30", 36.2, 37.1)
    put(layout.raw, "inc/src/a.jpg", im.jpeg_bytes(im.photo("astronaut"), 90, exif))
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "ingest"]) == 0
    with Catalog(layout.catalog) as catalog:
        (media_id,) = catalog.media_ids()
        media = catalog.media(media_id)
    assert media is not None and media.derived["captured_at"].startswith("2024-03-01")
    _forge_catalog_metadata(layout, "captured_at", "1999-01-01T00:00:00")
    assert verify(layout) == 1
    assert "derived.captured_at" in capsys.readouterr().out


def test_evidence_swapped_for_a_link_or_a_pipe_is_reported_not_a_crash(
    layout: DataLayout, capsys
) -> None:
    """Issue 13, a variant of items 8 and 12 for verify: a raw file replaced after ingest by a
    link (to the other evidence file) or a named pipe is a problem line for that path, and
    verify neither follows the link, hangs on the pipe, nor stops."""
    _ingest(layout)
    a, b = layout.raw / "inc/src/a.jpg", layout.raw / "inc/src/b.jpg"
    a.unlink()
    a.symlink_to(layout.raw / "inc/src/b.jpg")
    b.unlink()
    os.mkfifo(b)
    assert verify(layout) == 1
    out = capsys.readouterr().out
    assert "unreadable: inc/src/a.jpg" in out and "unreadable: inc/src/b.jpg" in out
    assert "0 problems" not in out
