"""Issue 13 (hardening), part A: hostile inputs to ingest. Every bad item becomes a reject or a
warning with a reason, every good one is ingested, and the stage never stops.

Each test names the numbered item of issue 13 it closes, or says it is a further variant of
that item's class that the issue does not name."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import struct
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.core.pathnames import display_path
from pipeline.io import contract
from pipeline.io.catalog import Catalog
from pipeline.io.mediafile import examine
from pipeline.io.rawtree import MAX_DEPTH, EvidenceChanged, digest_file
from pipeline.layout import DataLayout
from pipeline.stages.dedupe import run_dedupe
from pipeline.stages.frames import run_frames
from pipeline.stages.hash import run_hash
from pipeline.stages.ingest import run_ingest
from pipeline.synth import images as im
from tests.conftest import RunStage
from tests.media import jpeg, put, video


def rows(layout: DataLayout, name: str) -> list[dict[str, str]]:
    return contract.read_contract_csv(layout.processed / name)


def rejects(layout: DataLayout) -> dict[str, str]:
    return {r["path"]: r["reason"] for r in rows(layout, "rejects.csv")}


def observed(layout: DataLayout) -> dict[str, dict[str, str]]:
    return {r["path"]: r for r in rows(layout, "observations.csv")}


def media_of(layout: DataLayout, path: str) -> dict[str, str]:
    media_id = observed(layout)[path]["media_id"]
    return {r["media_id"]: r for r in rows(layout, "media.csv")}[media_id]


def exif_jpeg(taken: str, offset: str = "", photo: str = "coffee") -> bytes:
    exif = im.exif_block("Canon", "EOS", taken, 36.2, 37.1, offset=offset)
    return im.jpeg_bytes(im.photo(photo), 90, exif)


def run_in_thread(work: object) -> tuple[threading.Thread, list[object]]:
    """Run work() in a daemon thread: a call that would block forever leaves it alive."""
    out: list[object] = []

    def target() -> None:
        try:
            out.append(work())  # type: ignore[operator]
        except BaseException as exc:
            out.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(120)  # a hang detector, not a speed check: the work takes milliseconds
    return thread, out


# --- dates (items 3 and 4) ---------------------------------------------------------------


def test_item3_sidecar_time_before_year_1_in_utc_is_a_reject_not_a_stopped_ingest(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 3: a sidecar `posted_at` of 0001-01-01T00:00:00+01:00 (year 0 in UTC)."""
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    put(
        layout.raw,
        "inc/src/a.jpg.json",
        json.dumps({"posted_at": "0001-01-01T00:00:00+01:00"}).encode(),
    )
    run_stage(run_ingest)
    assert "years 1-9999" in rejects(layout)["inc/src/a.jpg.json"]
    assert observed(layout)["inc/src/a.jpg"]["posted_at"] == ""


def test_item3_sources_sheet_year_999_is_written_zero_padded_and_read_back(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 3: a sources.csv row with 0999-01-01T00:00:00 (written as `999-...` on main,
    which no reader parses back)."""
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    put(
        layout.raw,
        "inc/sources.csv",
        b"path,url,posted_at\nsrc/a.jpg,https://x,0999-01-01T00:00:00\n",
    )
    run_stage(run_ingest)
    assert observed(layout)["inc/src/a.jpg"]["posted_at"] == "0999-01-01T00:00:00"
    assert media_of(layout, "inc/src/a.jpg")["first_seen"] == "0999-01-01T00:00:00"


def test_item3_variant_sidecar_time_past_year_9999_in_utc_is_a_reject(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Further variant of item 3 (not named): the upper end, 9999-12-31T23:30:00-01:00."""
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    put(layout.raw, "inc/src/a.jpg.json", b'{"posted_at": "9999-12-31T23:30:00-01:00"}')
    run_stage(run_ingest)
    assert "years 1-9999" in rejects(layout)["inc/src/a.jpg.json"]
    assert "inc/src/a.jpg" in observed(layout)


def test_item4_exif_year_1_reaches_dedupe_without_stopping_it(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 4: a JPEG whose EXIF capture date is year 0001 stopped dedupe on every run."""
    put(layout.raw, "inc/src/old.jpg", exif_jpeg("0001:01:01 00:00:00"))
    put(layout.raw, "inc/other/repost.jpg", exif_jpeg("2024:03:01 10:20:30"))
    put(layout.raw, "inc/src/old.jpg.json", b'{"posted_at": "0001-01-01T00:00:00"}')
    for stage in (run_ingest, run_frames, run_hash, run_dedupe):
        run_stage(stage)
    assert media_of(layout, "inc/src/old.jpg")["captured_at"] == "0001-01-01T00:00:00"
    clusters = rows(layout, "clusters.csv")
    assert len({r["cluster_id"] for r in clusters}) == 1  # same picture: one cluster


def test_item4_exif_9999_with_negative_offset_keeps_the_local_time_and_says_so(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 4: EXIF 9999-12-31 23:59:59 with offset -01:00 stopped ingest with 0 media."""
    put(layout.raw, "inc/src/late.jpg", exif_jpeg("9999:12:31 23:59:59", "-01:00"))
    run_stage(run_ingest)
    row = media_of(layout, "inc/src/late.jpg")
    assert row["captured_at"] == "9999-12-31T23:59:59"
    assert "OffsetTimeOriginal" in row["metadata_warnings"]


def test_item4_variant_zeroed_exif_date_is_kept_as_read_with_a_warning(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Further variant of item 4 (not named): `0000:00:00 00:00:00`, what many cameras write
    before their clock is set, used to vanish without a word."""
    put(layout.raw, "inc/src/unset.jpg", exif_jpeg("0000:00:00 00:00:00"))
    run_stage(run_ingest)
    row = media_of(layout, "inc/src/unset.jpg")
    assert row["captured_at"] == ""
    assert "'0000:00:00 00:00:00'" in row["metadata_warnings"]


# --- media detection (item 6) and durations (item 20) ------------------------------------


def lavfi(target: Path, *args: str, source: str = "testsrc2=s=160x90:d=1") -> Path:
    """One second of an ffmpeg test source (a test pattern unless `source` says otherwise)
    encoded with args into target."""
    target.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", source, *args, str(target)],
        check=True,
    )
    return target


def test_item6_ogg_theora_is_a_video(layout: DataLayout, run_stage: RunStage) -> None:
    """Item 6: Ogg/Theora was rejected as audio-only by its magic bytes."""
    lavfi(layout.raw / "inc/src/clip.ogv", "-c:v", "libtheora")
    run_stage(run_ingest)
    assert media_of(layout, "inc/src/clip.ogv")["kind"] == "video"


def test_item6_mp4_with_the_m4a_brand_is_a_video(layout: DataLayout, run_stage: RunStage) -> None:
    """Item 6: an MP4 whose brand says `M4A ` hid its video as "audio-only"."""
    lavfi(layout.raw / "inc/src/clip.m4a", "-c:v", "libx264", "-f", "mp4", "-brand", "M4A ")
    run_stage(run_ingest)
    assert media_of(layout, "inc/src/clip.m4a")["kind"] == "video"


def test_item6_variant_m4b_audiobook_brand_and_real_audio_only(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Further variant of item 6 (not named): the `M4B ` brand; a real audio file is still
    rejected as audio-only, now because ffprobe found no video stream."""
    lavfi(layout.raw / "inc/src/book.m4b", "-c:v", "libx264", "-f", "mp4", "-brand", "M4B ")
    lavfi(layout.raw / "inc/src/tone.mp3", source="sine=d=1")
    run_stage(run_ingest)
    assert media_of(layout, "inc/src/book.m4b")["kind"] == "video"
    assert "audio-only" in rejects(layout)["inc/src/tone.mp3"]


def mkv_with_duration(target: Path, seconds: float) -> Path:
    """A Matroska file whose Segment Info Duration (a float) is rewritten to `seconds`."""
    lavfi(target, "-c:v", "libx264")
    data = bytearray(target.read_bytes())
    at = data.find(b"\x44\x89\x88")  # Duration element, 8-byte float
    assert at > 0
    scale = 1000.0  # ffmpeg's default TimecodeScale is 1 ms
    data[at + 3 : at + 11] = struct.pack(">d", seconds * scale)
    target.write_bytes(bytes(data))
    return target


def test_item20_negative_duration_is_rejected_with_its_reason(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 20: a video with a negative duration was accepted, then could not be annotated."""
    mkv_with_duration(layout.raw / "inc/src/negative.mkv", -5.0)
    run_stage(run_ingest)
    assert "duration of -5" in rejects(layout)["inc/src/negative.mkv"]


def test_item20_variant_absurdly_long_duration_is_rejected(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Further variant of item 20 (not named): a header claiming 10^12 s, which would have
    given its decode a timeout of 30,000 years in the frames stage."""
    mkv_with_duration(layout.raw / "inc/src/endless.mkv", 1e12)
    run_stage(run_ingest)
    assert "crafted header" in rejects(layout)["inc/src/endless.mkv"]


# --- names (items 7 and 9) ---------------------------------------------------------------


def put_bytes_name(folder: Path, name: bytes, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(os.fsencode(folder) + b"/" + name, "wb") as handle:
        handle.write(data)


def test_item7_names_differing_only_in_undecodable_bytes_are_two_observations(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 7: `a\\xff.jpg` as text and with the byte 0xFF printed alike; one vanished."""
    folder = layout.raw / "inc/src"
    put_bytes_name(folder, b"a\\xff.jpg", jpeg("astronaut"))
    put_bytes_name(folder, b"a\xff.jpg", jpeg("coffee"))
    run_stage(run_ingest)
    paths = set(observed(layout))
    assert paths == {"inc/src/a\\\\xff.jpg", "inc/src/a\\xff.jpg"}
    assert len({observed(layout)[p]["media_id"] for p in paths}) == 2


def test_item7_variant_escaped_newline_text_and_a_real_newline_are_two_names(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Further variant of item 7 (not named): the text `\\x0a` and a real line feed."""
    folder = layout.raw / "inc/src"
    put_bytes_name(folder, b"b\\x0a.jpg", jpeg("astronaut"))
    put_bytes_name(folder, b"b\n.jpg", jpeg("coffee"))
    run_stage(run_ingest)
    assert set(observed(layout)) == {"inc/src/b\\\\x0a.jpg", "inc/src/b\\x0a.jpg"}


def test_item9_carriage_return_in_a_name_stays_inside_one_line(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 9: a CR in a file name split a row of observations.csv (a phantom incident)."""
    put_bytes_name(layout.raw / "inc/src", b"x\rother,incident.jpg", jpeg("astronaut"))
    run_stage(run_ingest)
    text = (layout.processed / "observations.csv").read_bytes()
    assert b"\r" not in text and len(text.splitlines()) == 2
    assert list(observed(layout)) == ["inc/src/x\\x0dother,incident.jpg"]


def test_item9_variant_unicode_line_separator_and_bidi_override_are_escaped(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Further variant of item 9 (not named): U+2028 (a line break to Python's splitlines
    and to JavaScript) and U+202E (makes `gpj.exe` read as `exe.jpg`)."""
    put(layout.raw, "inc/src/a\u2028b.jpg", jpeg("astronaut"))
    put(layout.raw, "inc/src/\u202egpj.exe.jpg", jpeg("coffee"))
    run_stage(run_ingest)
    text = (layout.processed / "observations.csv").read_text(encoding="utf-8")
    assert len(text.splitlines()) == 3
    assert set(observed(layout)) == {"inc/src/a\\u2028b.jpg", "inc/src/\\u202egpj.exe.jpg"}


# --- spreadsheet formulas (item 10) ------------------------------------------------------


def test_item10_formula_from_an_uploader_is_neutralised_in_contract_csvs(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 10: text starting with = + - @ went verbatim into contract CSVs."""
    put(layout.raw, "inc/src/=cmd|' -c calc'!A0.jpg", jpeg("astronaut"))
    sidecar = {"url": '=HYPERLINK("http://x")', "account": "@admin", "posted_at": ""}
    put(layout.raw, "inc/src/=cmd|' -c calc'!A0.jpg.json", json.dumps(sidecar).encode())
    put(layout.raw, "+inc/src/b.jpg", jpeg("coffee"))
    run_stage(run_ingest)
    raw_rows = list(
        csv.DictReader(io.StringIO((layout.processed / "observations.csv").read_text()))
    )
    for row in raw_rows:
        for column in ("incident", "path", "url", "account"):
            assert not row[column] or row[column][0] not in "=+-@", (column, row[column])
    # ...and the contract reader gives back exactly what the uploader wrote.
    by_path = observed(layout)
    assert by_path["inc/src/=cmd|' -c calc'!A0.jpg"]["url"] == '=HYPERLINK("http://x")'
    assert by_path["+inc/src/b.jpg"]["incident"] == "+inc"


def test_item10_variant_full_width_and_tab_starts_and_numbers_left_alone() -> None:
    """Further variant of item 10 (not named): full-width ＝ and a leading TAB are formula
    starts too; a plain negative number is not, and stays a number."""
    data = contract.render_csv(
        ("a", "b", "c", "d"), [{"a": "＝1+1", "b": "\t=1", "c": -37.5, "d": "-2+3"}]
    )
    (row,) = csv.DictReader(io.StringIO(data.decode()))
    assert row == {"a": "'＝1+1", "b": "'\t=1", "c": "-37.5", "d": "'-2+3"}


# --- folders (item 11) -------------------------------------------------------------------


@contextlib.contextmanager
def nest_folders(top: Path, name: str, levels: int) -> Iterator[None]:
    """`levels` folders called `name`, each inside the last, below top; built relative to a
    descriptor, so no path is ever as long as the deepest one. Removed again on exit one level
    at a time (pytest's recursive clean-up of old temporary folders overflows Python's stack
    on 1,100 levels, and that failed whole later runs)."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir(name, dir_fd=fd)
        child = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(fd)
    try:
        yield
    finally:
        _remove_nested(top / name, top / f"{name[:200]}.up")


def _remove_nested(outer: Path, spare: Path) -> None:
    """Lift the second level into the first's place until one is left: no recursion, and no
    path longer than two names."""
    while outer.exists():
        inner = outer / outer.name
        if inner.exists():
            os.rename(inner, spare)
            outer.rmdir()
            os.rename(spare, outer)
        else:
            outer.rmdir()


def test_item11_folder_deeper_than_the_limit_is_a_reject_and_the_rest_ingested(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 11: a 1,100-level-deep folder stopped ingest (and verify) with a RecursionError."""
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    with nest_folders(layout.raw / "inc/src", "d", 1100):
        run_stage(run_ingest)
    (where,) = [p for p, r in rejects(layout).items() if "deeper than" in r]
    assert where.count("/") == MAX_DEPTH
    assert "inc/src/a.jpg" in observed(layout)


def test_item11_variant_path_longer_than_path_max_is_a_reject(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Further variant of item 11 (not named): 20 folders of 250-byte names, shallower than
    the depth limit but past PATH_MAX (4,096 bytes): scandir failed with ENAMETOOLONG."""
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    with nest_folders(layout.raw / "inc/src", "n" * 250, 20):
        run_stage(run_ingest)
    assert any("cannot be read" in r for r in rejects(layout).values())
    assert "inc/src/a.jpg" in observed(layout)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder whatever its permissions")
def test_item11_unreadable_folder_is_a_reject(layout: DataLayout, run_stage: RunStage) -> None:
    """Item 11: one unreadable folder stopped ingest with PermissionError."""
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    put(layout.raw, "inc/locked/b.jpg", jpeg("coffee"))
    (layout.raw / "inc/locked").chmod(0)
    try:
        run_stage(run_ingest)
    finally:
        (layout.raw / "inc/locked").chmod(0o755)
    assert "folder cannot be read" in rejects(layout)["inc/locked"]


# --- files swapped while read (items 12 and 8's class at ingest) ---------------------------


def test_item12_named_pipe_swapped_in_before_hashing_does_not_hang(tmp_path: Path) -> None:
    """Item 12: a file replaced by a named pipe between listing and hashing hung ingest
    forever (holding the run lock)."""
    pipe = tmp_path / "swapped.jpg"
    os.mkfifo(pipe)
    thread, out = run_in_thread(lambda: digest_file(pipe, 65536))
    assert not thread.is_alive(), "hashing a named pipe blocked"
    assert isinstance(out[0], EvidenceChanged) and "no longer a regular file" in str(out[0])


def test_item12_variant_pipe_swapped_in_after_hashing_does_not_hang_the_decoder(
    tmp_path: Path,
) -> None:
    """Further variant of item 12 (not named): swapped after hashing, before the picture is
    decoded (Pillow opened the path by name and blocked on the pipe)."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg("astronaut"))
    digest = digest_file(photo, 65536)
    photo.unlink()
    os.mkfifo(photo)
    thread, out = run_in_thread(lambda: examine(photo, digest, 10**8, 30.0))
    assert not thread.is_alive(), "decoding a named pipe blocked"
    assert out[0].media is None and "no longer a regular file" in out[0].reason  # type: ignore[attr-defined]


def test_item8_variant_file_rewritten_between_hashing_and_decoding_is_not_described(
    tmp_path: Path,
) -> None:
    """Further variant of item 8's class (not named): at ingest, the bytes described must be
    the bytes hashed; a file rewritten in between is a reject, not another file's metadata
    under this SHA-256."""
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg("astronaut"))
    digest = digest_file(photo, 65536)
    photo.write_bytes(jpeg("coffee") + b"tail")
    result = examine(photo, digest, 10**8, 30.0)
    assert result.media is None and "changed since it was hashed" in result.reason


# --- decoding bounds (item 13) -------------------------------------------------------------


def jpeg_with_metadata_segments(count: int) -> bytes:
    base = jpeg("astronaut", 80)
    body = (b"Exif\x00\x00II*\x00\x08\x00\x00\x00").ljust(65533, b"\x00")
    return base[:2] + (b"\xff\xe1\xff\xff" + body) * count + base[2:]


def test_item13_jpeg_with_hundreds_of_metadata_segments_is_rejected_undecoded(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 13: a valid JPEG with 1,000 metadata segments cost Pillow ~40 s (quadratic);
    200 segments (13 MB) show the same class without the wait."""
    put(layout.raw, "inc/src/segments.jpg", jpeg_with_metadata_segments(200))
    put(layout.raw, "inc/src/plain.jpg", jpeg("coffee"))
    run_stage(run_ingest)
    assert "metadata segments" in rejects(layout)["inc/src/segments.jpg"]
    assert "inc/src/plain.jpg" in observed(layout)


# --- access times (item 19) ----------------------------------------------------------------


def test_item19_ingest_and_frames_leave_raw_access_times_alone(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 19: raw files' access times changed on every run (only hashing avoided it)."""
    put(layout.raw, "inc/src/a.jpg", exif_jpeg("2024:03:01 10:20:30"))
    put(layout.raw, "inc/src/a.jpg.json", b'{"url": "https://x"}')
    put(layout.raw, "inc/sources.csv", b"path,url\nsrc/b.mp4,https://y\n")
    video(layout.raw / "inc/src/b.mp4", seconds=1.0)
    files = [p for p in layout.raw.rglob("*") if p.is_file()]
    for path in files:  # an access time older than the mtime: relatime would update it
        info = path.stat()
        os.utime(path, ns=(info.st_mtime_ns - 10**12, info.st_mtime_ns))
    before = {p: p.stat().st_atime_ns for p in files}
    run_stage(run_ingest)
    run_stage(run_frames)
    assert {p: p.stat().st_atime_ns for p in files} == before


# --- inputs ignored without a reason (item 21) ---------------------------------------------


def test_item21_jpeg_named_gitkeep_at_the_raw_root_is_a_reject(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 21: a JPEG named `.gitkeep` at the raw root was skipped without a reason; the
    repository's empty placeholder still is."""
    put(layout.raw, ".gitkeep", jpeg("astronaut"))
    run_stage(run_ingest)
    assert "not inside an incident folder" in rejects(layout)[".gitkeep"]


def test_item21_sources_rows_naming_no_file_or_conflicting_are_reported(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Item 21: a sources.csv row naming a missing file was ignored silently; of two
    conflicting rows for one file the later silently won."""
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    put(
        layout.raw,
        "inc/sources.csv",
        b"path,url\nsrc/a.jpg,https://first\nsrc/gone.jpg,https://x\nsrc/a.jpg,https://second\n",
    )
    run_stage(run_ingest)
    reason = rejects(layout)["inc/sources.csv"]
    assert "'src/gone.jpg' names no file" in reason
    assert "line 4: 'src/a.jpg' is also on line 2" in reason
    assert observed(layout)["inc/src/a.jpg"]["url"] == "https://first"


def test_item21_variant_sources_sheet_saved_with_a_byte_order_mark_is_read(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Further variant of item 21 (not named): Excel's "CSV UTF-8" starts with a BOM, which
    hid the `path` column and dropped every row."""
    put(layout.raw, "inc/src/a.jpg", jpeg("astronaut"))
    put(layout.raw, "inc/sources.csv", "\ufeffpath,url\nsrc/a.jpg,https://x\n".encode())
    run_stage(run_ingest)
    assert observed(layout)["inc/src/a.jpg"]["url"] == "https://x"
    assert "inc/sources.csv" not in rejects(layout)


def test_catalog_keeps_the_exact_bytes_of_escaped_names(
    layout: DataLayout, run_stage: RunStage
) -> None:
    """Items 7 and 9: the display form is lossless, the catalog finds the file by its bytes."""
    put_bytes_name(layout.raw / "inc/src", b"c\\d\r\xfe.jpg", jpeg("astronaut"))
    run_stage(run_ingest)
    with Catalog(layout.catalog) as catalog:
        (rel,) = catalog.media_files().values()
    assert os.fsencode(rel) == b"inc/src/c\\d\r\xfe.jpg"
    assert display_path(rel) == "inc/src/c\\\\d\\x0d\\xfe.jpg"
