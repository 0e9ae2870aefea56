"""Analysts' CSVs: structural problems are errors naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.io.annotations import read_analyst_input, safe_relative


def write(folder: Path, annotations: str, disjoint: str = "scene_a,scene_b,reason\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "annotations.csv").write_text("path,t_s,count,scene,note\n" + annotations)
    (folder / "disjoint.csv").write_text(disjoint)
    return folder


@pytest.mark.parametrize(
    ("row", "words"),
    [
        ("src/a.jpg,,-2,A,\n", "count -2 is negative"),
        ("src/a.jpg,,two,A,\n", "not a whole number"),
        ("../other/a.jpg,,2,A,\n", "escapes the incident folder"),
        ("/etc/passwd,,2,A,\n", "escapes the incident folder"),
        ("src/a.jpg,-1,2,A,\n", "t_s -1 is negative"),
        ("src/a.jpg,soon,2,A,\n", "not a number of seconds"),
        ("src/a.jpg,,2,,\n", "empty scene label"),
    ],
)
def test_bad_annotation_row_names_file_and_line(tmp_path: Path, row: str, words: str) -> None:
    folder = write(tmp_path / "inc", "src/ok.jpg,,1,B,\n" + row)
    result = read_analyst_input(folder)
    (error,) = result.errors
    assert error.startswith(f"{folder / 'annotations.csv'}:3: ") and words in error
    assert [a.scene for a in result.annotations] == ["B"]


def test_disjointness_with_an_undefined_label_names_file_and_line(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "inc", "src/a.jpg,,1,A,\n", "scene_a,scene_b,reason\nA,Z,different place\n"
    )
    (error,) = read_analyst_input(folder).errors
    assert error.startswith(f"{folder / 'disjoint.csv'}:2: ") and "'Z' never defined" in error


def test_disjointness_needs_a_reason(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "inc", "src/a.jpg,,1,A,\nsrc/b.jpg,,1,B,\n", "scene_a,scene_b,reason\nA,B,\n"
    )
    (error,) = read_analyst_input(folder).errors
    assert "needs a written reason" in error


def test_missing_columns_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "inc"
    folder.mkdir()
    (folder / "annotations.csv").write_text("path,count\nsrc/a.jpg,1\n")
    (error,) = read_analyst_input(folder).errors
    assert "missing column(s) t_s, scene, note" in error


def test_safe_relative_never_leaves_the_folder() -> None:
    assert safe_relative("src/a.jpg") == "src/a.jpg"
    for hostile in ("../a.jpg", "src/../../a.jpg", "/abs.jpg", "src\\..\\a.jpg", ""):
        assert safe_relative(hostile) is None
