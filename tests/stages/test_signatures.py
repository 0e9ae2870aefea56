"""Stage `signatures`, `match-list` and `export-hashes` on generated media: every media signed
once, configured lists matched by every run and shown in the report, malformed lists refused
with file and line, exports that carry hashes only and that python-threatexchange matches."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_file

from pipeline.cli import main
from pipeline.core.outcome import EXIT_FAILURES, EXIT_OK, EXIT_USAGE
from pipeline.io.catalog import Catalog, StoredSignature
from pipeline.layout import DataLayout
from pipeline.synth.demo import write_demo_collection
from tests.media import jpeg, put, video

SECRET = "secret_informant_name"


@pytest.fixture
def collection(layout: DataLayout) -> DataLayout:
    put(layout.raw, f"inc-a/{SECRET}/astronaut.jpg", jpeg("astronaut"))
    put(layout.raw, "inc-a/channel/astronaut_repost.jpg", jpeg("astronaut", quality=60))
    put(layout.raw, "inc-b/site/coffee.jpg", jpeg("coffee"))
    video(layout.raw / "inc-b/site/clip.mp4", ("chelsea", "rocket"), seconds=2.0)
    return layout


def cli(layout: DataLayout, *args: str, config_dir: Path | None = None) -> int:
    options = ["--data-dir", str(layout.data_dir), "--no-progress"]
    if config_dir is not None:
        options += ["--config-dir", str(config_dir)]
    return main([*options, *args])


def sign(layout: DataLayout, config_dir: Path | None = None) -> None:
    assert cli(layout, "ingest", config_dir=config_dir) == EXIT_OK
    assert cli(layout, "signatures", config_dir=config_dir) == EXIT_OK


def list_matches(layout: DataLayout) -> list[dict[str, str]]:
    with layout.contract_file("list_matches.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_media_is_signed_once(collection: DataLayout, capsys) -> None:
    sign(collection)
    assert "media_signed=4" in capsys.readouterr().out
    with Catalog(collection.catalog) as catalog:
        signed = {m.media_id: m for m in catalog.signatures()}
    kinds = sorted((m.kind, m.signal_type) for m in signed.values())
    assert kinds == [("image", "pdq")] * 3 + [("video", "vpdq")]
    (clip,) = [m for m in signed.values() if m.kind == "video"]
    assert len(clip.signal.splitlines()) == 4  # vPDQ at one frame a second of a 4 s video
    assert cli(collection, "signatures") == EXIT_OK
    assert "media_signed=0" in capsys.readouterr().out


def test_an_undecodable_video_is_a_failed_item_and_the_rest_is_signed(
    layout: DataLayout, capsys
) -> None:
    clip = video(layout.raw / "inc/s/whole.mp4", extra_output_args=("-movflags", "+faststart"))
    put(layout.raw, "inc/s/truncated.mp4", clip.read_bytes()[: clip.stat().st_size // 3])
    put(layout.raw, "inc/s/photo.jpg", jpeg("coffee"))
    assert cli(layout, "ingest") == EXIT_OK
    assert cli(layout, "signatures") == EXIT_OK  # 1 of 3 failed: within max_failure_ratio
    captured = capsys.readouterr()
    assert "media_signed=2, media_failed=1" in captured.out
    assert "vpdq could not hash the video" in captured.err
    with Catalog(layout.catalog) as catalog:
        failed = [m for m in catalog.signatures() if m.error]
    assert len(failed) == 1 and not failed[0].signal


def test_a_photos_pdq_is_what_threatexchange_hashes_from_the_file(collection: DataLayout) -> None:
    sign(collection)
    path = collection.raw / "inc-b/site/coffee.jpg"
    theirs, _ = pdq_from_file(path)
    with Catalog(collection.catalog) as catalog:
        signals = {m.signal for m in catalog.signatures()}
    assert theirs in signals


def test_a_configured_list_is_matched_and_its_label_shown_escaped(
    collection: DataLayout, tmp_path: Path
) -> None:
    theirs, _ = pdq_from_file(collection.raw / f"inc-a/{SECRET}/astronaut.jpg")
    lists = collection.data_dir / "lists"
    lists.mkdir()
    (lists / "partner.csv").write_text(
        "signal_type,signal,label\n"
        f"pdq,{theirs},<script>alert(1)</script> release 4\n"
        f"md5,{'0' * 32},never matches\n",
        encoding="utf-8",
    )
    config = tmp_path / "configs"
    config.mkdir()
    (config / "default.yaml").write_text(
        "signatures:\n  lists: [lists/partner.csv]\ncount:\n  detector: none\n"
    )
    assert cli(collection, "run", config_dir=config) == EXIT_OK
    rows = list_matches(collection)
    assert {(r["list"], r["entry"], r["signal_type"]) for r in rows} == {
        ("partner.csv", "2", "pdq")
    }
    assert len(rows) == 2  # the original and its re-encoded repost
    assert {r["label"] for r in rows} == {"<script>alert(1)</script> release 4"}
    page = (collection.processed / "report/incident-inc-a.html").read_text()
    assert "known item of list partner.csv: &lt;script&gt;alert(1)&lt;/script&gt; release 4" in page
    assert "<script>alert" not in page
    assert (
        "known item of list partner.csv"
        in (collection.processed / "report/duplicates-1.html").read_text()
    )


def test_match_list_refuses_a_malformed_list_with_file_and_line(
    collection: DataLayout, tmp_path: Path, capsys
) -> None:
    sign(collection)
    bad = tmp_path / "bad.txt"
    bad.write_text(f"pdq {'a' * 64}\npdq {'a' * 63}\n")
    assert cli(collection, "match-list", str(bad)) == EXIT_FAILURES
    assert f"{bad}:2: pdq must be 64 hex digits" in capsys.readouterr().err
    assert list_matches(collection) == []


def test_match_list_of_a_missing_file_is_a_usage_error(collection: DataLayout, tmp_path) -> None:
    assert cli(collection, "match-list", str(tmp_path / "nope.csv")) == EXIT_USAGE


def test_exports_carry_no_name_path_or_source(collection: DataLayout, tmp_path: Path) -> None:
    sign(collection)
    out = tmp_path / "export"
    assert cli(collection, "export-hashes", "--output", str(out / "all.csv")) == EXIT_OK
    assert cli(collection, "export-hashes", "--format", "threatexchange", "--output",
               str(out / "tx.txt")) == EXIT_OK  # fmt: skip
    assert cli(collection, "export-hashes", "--format", "vpdq", "--output",
               str(out / "vpdq")) == EXIT_OK  # fmt: skip
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for word in (SECRET, "astronaut", "inc-a", "channel", "clip", ".jpg", ".mp4"):
                assert word not in text, (path.name, word)
    assert len(list((out / "vpdq").glob("*.txt"))) == 1
    no_clusters_yet = ("export-hashes", "--most-original", "--output", str(tmp_path / "x.csv"))
    assert cli(collection, *no_clusters_yet) == EXIT_USAGE


def test_export_of_one_incident_and_only_most_original_members(
    collection: DataLayout, tmp_path: Path
) -> None:
    sign(collection)
    for stage in ("frames", "hash", "dedupe"):
        assert cli(collection, stage) == EXIT_OK
    out = tmp_path / "a.csv"
    assert cli(collection, "export-hashes", "--incident", "inc-a", "--output", str(out)) == 0
    with out.open() as handle:
        assert len({row["media_id"] for row in csv.DictReader(handle)}) == 2
    args = ("export-hashes", "--incident", "inc-a", "--most-original", "--output", str(out))
    assert cli(collection, *args) == EXIT_OK
    with out.open() as handle:
        assert len({row["media_id"] for row in csv.DictReader(handle)}) == 1
    assert cli(collection, "export-hashes", "--incident", "nowhere", "--output", str(out)) == 2


def _threatexchange(home: Path, *args: str) -> str:
    tool = Path(sys.executable).with_name("threatexchange")
    env = {**os.environ, "HOME": str(home)}
    done = subprocess.run(
        [str(tool), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_threatexchange_matches_every_exported_photo_of_the_demo(
    layout: DataLayout, tmp_path: Path
) -> None:
    write_demo_collection(layout)
    sign(layout)
    exported = tmp_path / "crosscheck.txt"
    args = ("export-hashes", "--format", "threatexchange", "--output", str(exported))
    assert cli(layout, *args) == EXIT_OK
    home = tmp_path / "home"
    home.mkdir()
    _threatexchange(home, "config", "extensions", "add", "threatexchange.extensions.vpdq.manifest")
    _threatexchange(
        home, "config", "collab", "edit", "local_file", "--create",
        "--filename", str(exported), "partner",
    )  # fmt: skip
    _threatexchange(home, "fetch")
    with Catalog(layout.catalog) as catalog:
        files = catalog.media_files()
        media = catalog.signatures()
    photos = [layout.raw / files[m.media_id] for m in media if m.kind == "image"]
    videos = [layout.raw / files[m.media_id] for m in media if m.kind == "video"]
    assert len(photos) >= 5 and videos
    for photo in photos:
        found = _threatexchange(home, "match", "--all", "photo", str(photo))
        assert "pdq 0 (partner)" in found, photo
    for clip in videos:
        found = _threatexchange(home, "match", "video", str(clip))
        assert "vpdq 100%" in found, clip
        assert "video_md5 - (partner)" in found, clip


def test_a_video_gets_tmk_that_exports_and_matches_back(
    collection: DataLayout, tmp_path: Path
) -> None:
    sign(collection)
    with Catalog(collection.catalog) as catalog:
        tmk = catalog.tmk_signatures()
        (clip,) = [m.media_id for m in catalog.signatures() if m.kind == "video"]
    assert list(tmk) == [clip] and tmk[clip][:12] == b"TMK1FVECPDQF"
    out = tmp_path / "tmk"
    assert cli(collection, "export-hashes", "--format", "tmk", "--output", str(out)) == EXIT_OK
    assert [p.name for p in out.iterdir()] == [f"{clip}.tmk"]
    assert (out / f"{clip}.tmk").read_bytes() == tmk[clip]
    exported = tmp_path / "all.csv"
    assert cli(collection, "export-hashes", "--output", str(exported)) == EXIT_OK
    csv.field_size_limit(1 << 24)  # a TMK row is ~350 KB of base64 (docs/hash-sharing.md)
    with exported.open() as handle:
        types = [(r["media_id"], r["signal_type"]) for r in csv.DictReader(handle)]
    assert (clip, "tmk_pdqf") in types
    assert cli(collection, "match-list", str(out / f"{clip}.tmk"), str(exported)) == EXIT_OK
    scores = {
        (r["list"], r["media_id"]): float(r["score"])
        for r in list_matches(collection)
        if r["signal_type"] == "tmk_pdqf"
    }
    assert scores == {
        (f"{clip}.tmk", clip): pytest.approx(1.0),
        ("all.csv", clip): pytest.approx(1.0),
    }
    # Signed again under other parameters and failed: its old TMK is neither exported nor
    # matched any more.
    with Catalog(collection.catalog) as catalog, catalog.transaction():
        catalog.put_signature(StoredSignature(clip, "other", "vpdq", "", 0, 0, "broken"))
        assert catalog.tmk_signatures() == {}


def test_an_export_is_sealed_in_the_custody_log_without_its_content(
    collection: DataLayout, tmp_path: Path
) -> None:
    sign(collection)
    out = tmp_path / "partner.csv"
    args = ("export-hashes", "--incident", "inc-a", "--label", "release 4", "--output", str(out))
    assert cli(collection, "--operator", "analyst7", *args) == EXIT_OK
    lines = collection.custody_log.read_text().splitlines()
    entry = json.loads(lines[-1])
    assert entry["stage"] == "export-hashes" and entry["action"] == "export"
    assert entry["operator"] == "analyst7"
    assert entry["format"] == "csv" and entry["incidents"] == ["inc-a"]
    assert entry["media"] == 2 and entry["signals"] == 6  # PDQ, MD5, SHA-256 of 2 photos
    assert entry["exported_sha256"] == {"partner.csv": hashlib.sha256(out.read_bytes()).hexdigest()}
    content = out.read_text().splitlines()[1].split(",")[2]  # a PDQ hex
    assert content not in lines[-1] and str(tmp_path) not in lines[-1]
    assert cli(collection, "verify") == EXIT_OK  # the chain holds with the entry in it


def test_two_configured_lists_with_one_file_name_are_a_configuration_error(
    collection: DataLayout, tmp_path: Path, capsys
) -> None:
    config = tmp_path / "configs"
    config.mkdir()
    (config / "default.yaml").write_text(
        "signatures:\n  lists: [a/partner.csv, b/partner.csv, c/other.csv]\n"
    )
    assert cli(collection, "ingest", config_dir=config) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "configuration error" in err and "partner.csv" in err and "other.csv" not in err
    assert not collection.catalog.exists()  # refused before anything ran


def test_decoder_noise_of_a_bad_video_stays_in_its_failure_reason(
    layout: DataLayout, capfd
) -> None:
    clip = video(layout.raw / "inc/s/whole.mp4", extra_output_args=("-movflags", "+faststart"))
    put(layout.raw, "inc/s/truncated.mp4", clip.read_bytes()[: clip.stat().st_size // 3])
    assert cli(layout, "ingest") == EXIT_OK
    capfd.readouterr()
    assert cli(layout, "signatures") == EXIT_OK
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    reasons = [line for line in lines if "vpdq could not hash the video" in line]
    assert len(reasons) == 1 and "[decoder said: Processing frame failed" in reasons[0]
    # The decoder's own words appear only inside that reason: stderr is that one line.
    assert lines == reasons, lines
    assert reasons[0].startswith("crosscheck: signatures ")
