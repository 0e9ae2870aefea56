"""The Python API: the README's example, run as written, on the demo collection and on
generated photos."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline import api
from pipeline.layout import DataLayout
from pipeline.synth import images as im
from pipeline.synth.demo import write_demo_collection

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> str:
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "README's Python API section has no python example"
    return match.group(1)


def test_the_readme_example_runs_and_finds_the_repost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_demo_collection(DataLayout(tmp_path / "data"))
    photo = im.photo("astronaut")
    (tmp_path / "photo.jpg").write_bytes(im.jpeg_bytes(photo, 92))
    (tmp_path / "repost.jpg").write_bytes(im.jpeg_bytes(im.resize(photo, 0.5), 60))
    (tmp_path / "other.jpg").write_bytes(im.jpeg_bytes(im.photo("rocket"), 90))
    names: dict[str, object] = {}
    exec(compile(readme_example(), str(README), "exec"), names)
    assert names["status"] == 0
    results = names["results"]
    assert isinstance(results, api.Results) and results.counts and results.matches
    assert list(names["matches"].columns[:3]) == ["media_a", "media_b", "relation"]  # type: ignore[attr-defined]
    pairs = names["pairs"]
    assert [(p.path_a.name, p.path_b.name, p.relation) for p in pairs] == [  # type: ignore[attr-defined]
        ("photo.jpg", "repost.jpg", "near_duplicate")
    ]


def test_byte_identical_files_are_exact_duplicates(tmp_path: Path) -> None:
    data = im.jpeg_bytes(im.photo("coffee"), 90)
    (tmp_path / "a.jpg").write_bytes(data)
    (tmp_path / "b.jpg").write_bytes(data)
    (pair,) = api.find_duplicates([tmp_path / "a.jpg", tmp_path / "b.jpg"])
    assert (pair.path_a.name, pair.path_b.name, pair.relation, pair.distance) == (
        "a.jpg",
        "b.jpg",
        "exact",
        0,
    )


def test_reading_a_stage_that_has_not_run(tmp_path: Path) -> None:
    empty = api.read_results(tmp_path)
    assert empty.media == () and empty.clusters == {}
    with pytest.raises(FileNotFoundError):
        api.read_table(tmp_path, "counts")
    with pytest.raises(ValueError, match="unknown contract file"):
        api.read_table(tmp_path, "secrets")
