"""File names as the contract shows them.

A raw file name may hold any byte but `/` and NUL. Names that are valid UTF-8 are shown as
they are; other bytes are shown as `\\xNN` escapes, so every name fits a UTF-8 CSV and two
different names never print alike.
"""

from __future__ import annotations

import os


def display_path(path: str) -> str:
    """The UTF-8 form of an os-level path (str with surrogate escapes)."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


def is_clean_utf8(path: str) -> bool:
    return display_path(path) == path
