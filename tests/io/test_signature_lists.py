"""Hash lists are untrusted input: three formats read line by line, a malformed line stops the
list with its file and line number, and exports carry hashes only."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from pipeline.core.signatures import VpdqFrame
from pipeline.io.signatures import (
    ExportItem,
    ListFormatError,
    export_csv,
    export_threatexchange,
    export_vpdq_files,
    read_list,
)

PDQ_A = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
MD5_A = "d41d8cd98f00b204e9800998ecf8427e"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_threatexchange_local_file_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "tx.txt", f"pdq {PDQ_A.upper()}\n\nvideo_md5 {MD5_A}\n")
    entries = list(read_list(path))
    assert [(e.entry, e.signal_type, e.signal) for e in entries] == [
        (1, "pdq", PDQ_A),
        (3, "video_md5", MD5_A),
    ]
    assert {e.list_name for e in entries} == {"tx.txt"}


def test_csv_with_name_release_and_source_labels(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "partner.csv",
        "signal_type,signal,name,release,source\n"
        f"pdq,{PDQ_A},execution video,release 12,partner NGO\n"
        f"md5,{MD5_A},,,\n",
    )
    first, second = read_list(path)
    assert first.label == "execution video · release 12 · partner NGO"
    assert (second.entry, second.signal_type, second.label) == (3, "md5", "")


def test_vpdq_per_frame_text_is_one_entry_named_by_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "release-7.txt", f"0,100,{PDQ_A},0.000\n1,45,{PDQ_A},0.033\n")
    (entry,) = read_list(path)
    assert entry.signal_type == "vpdq"
    assert entry.label == "release-7"
    assert entry.frames == (VpdqFrame(0, 100, PDQ_A, 0.0), VpdqFrame(1, 45, PDQ_A, 0.033))


@pytest.mark.parametrize(
    ("name", "text", "where", "why"),
    [
        ("tx.txt", f"pdq {PDQ_A}\npdq 1234\n", ":2:", "64 hex digits"),
        ("tx.txt", f"pdq {PDQ_A}\nphash {PDQ_A}\n", ":2:", "unknown signal type"),
        ("l.csv", f"signal_type,signal,label\npdq,{PDQ_A},a\npdq,{PDQ_A}\n", ":3:", "fields"),
        ("l.csv", "signal,label\nx,y\n", ":1:", "unknown signal type"),
        ("l.csv", "signal_type,label\nx,y\n", ":1:", "no 'signal' column"),
        ("v.txt", f"0,100,{PDQ_A},0.000\n1,100,{PDQ_A[:-1]}g,0.033\n", ":2:", "hex"),
        ("l.csv", 'signal_type,signal\nvpdq,"[1, 2]"\n', ":2:", "JSON list"),
    ],
)
def test_a_malformed_line_names_file_and_line(
    tmp_path: Path, name: str, text: str, where: str, why: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(ListFormatError) as caught:
        list(read_list(path))
    assert f"{path}{where}" in str(caught.value)
    assert why in str(caught.value)


def test_a_list_streams_entries_before_reaching_a_bad_line(tmp_path: Path) -> None:
    lines = [f"pdq {PDQ_A}"] * 5000 + ["pdq not-a-hash"]
    entries = read_list(write(tmp_path, "big.txt", "\n".join(lines) + "\n"))
    first = next(entries)
    assert first.entry == 1
    with pytest.raises(ListFormatError, match=":5001:"):
        list(entries)


def test_a_list_that_is_not_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "binary.txt"
    path.write_bytes(b"pdq \xff\xfe\x00\x01\n")
    with pytest.raises(ListFormatError, match="not UTF-8"):
        list(read_list(path))


def _items() -> list[ExportItem]:
    frames = (VpdqFrame(0, 100, PDQ_A, 0.0), VpdqFrame(1, 80, PDQ_A, 1.0))
    return [
        ExportItem("a" * 64, "image", MD5_A, pdq=PDQ_A, pdq_quality=100),
        ExportItem("b" * 64, "image", MD5_A, pdq=PDQ_A, pdq_quality=20),
        ExportItem("c" * 64, "video", MD5_A, vpdq=frames),
    ]


def test_csv_export_reads_back_as_a_list(tmp_path: Path) -> None:
    data = export_csv(_items(), "our release")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert list(rows[0]) == ["media_id", "signal_type", "signal", "quality", "label"]
    assert {r["signal_type"] for r in rows} == {
        "pdq",
        "md5",
        "sha256",
        "vpdq",
        "video_md5",
        "video_sha256",
    }
    path = tmp_path / "ours.csv"
    path.write_bytes(data)
    entries = list(read_list(path))
    assert len(entries) == len(rows)
    assert {e.label for e in entries} == {"our release"}


def test_threatexchange_export_leaves_out_low_quality_pdq_and_photo_byte_hashes() -> None:
    lines = export_threatexchange(_items(), pdq_quality_min=50).decode().splitlines()
    assert [line.split(" ")[0] for line in lines] == ["pdq", "vpdq", "video_md5", "video_sha256"]


def test_vpdq_export_is_the_reference_per_frame_format() -> None:
    files = export_vpdq_files(_items())
    assert files == {f"{'c' * 64}.txt": f"0,100,{PDQ_A},0.000\n1,80,{PDQ_A},1.000\n".encode()}
