"""Names as the contract shows them: one line, lossless, unambiguous (issue 13, items 7, 9)."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.pathnames import display_path, fs_path

names = st.binary(min_size=1, max_size=30).map(lambda b: b.replace(b"\0", b"_"))


@given(names)
def test_display_form_is_one_printable_line_and_gives_back_the_bytes(name: bytes) -> None:
    shown = display_path(os.fsdecode(name))
    assert len(shown.splitlines()) <= 1 and "\r" not in shown and "\n" not in shown
    shown.encode("utf-8")  # fits a UTF-8 CSV
    assert os.fsencode(fs_path(shown)) == name


@given(names, names)
def test_two_different_names_never_display_alike(a: bytes, b: bytes) -> None:
    if a != b:
        assert display_path(os.fsdecode(a)) != display_path(os.fsdecode(b))


def test_the_issue_examples() -> None:
    assert display_path(os.fsdecode(b"a\xff.jpg")) == "a\\xff.jpg"
    assert display_path("a\\xff.jpg") == "a\\\\xff.jpg"
    assert display_path("x\ry.jpg") == "x\\x0dy.jpg"
    assert display_path("café.jpg") == "café.jpg"
