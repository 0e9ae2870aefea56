"""File names as the contract shows them: one line of UTF-8 per name, and one name per line.

A raw file name may hold any byte but `/` and NUL. The display form keeps printable UTF-8 as
it is and escapes the rest, so every name fits one cell of a UTF-8 CSV and one line of text,
and the encoding is lossless (`fs_path` gives back the exact bytes) and unambiguous (two
different names never print alike):

- a byte that is not part of valid UTF-8 becomes `\\xNN`;
- a control character (CR, LF, TAB, ...), a line or paragraph separator, and the
  bidirectional overrides that make a name read backwards become `\\xNN` or `\\uNNNN`;
- a backslash itself becomes `\\\\`, so a name that holds the text `\\xff` is shown as
  `\\\\xff`, never like the byte 0xFF.
"""

from __future__ import annotations

import os
import re
import unicodedata

# Bidirectional embeddings, overrides and isolates: shown escaped so "gpj.exe" cannot pose.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2}|u[0-9a-f]{4})")


def _shown(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if "\udc80" <= char <= "\udcff":  # an undecodable byte, as os.fsdecode carries it
        return f"\\x{ord(char) - 0xDC00:02x}"
    if unicodedata.category(char) in {"Cc", "Zl", "Zp"} or char in _BIDI_CONTROLS:
        return f"\\x{ord(char):02x}" if ord(char) < 0x80 else f"\\u{ord(char):04x}"
    return char


def display_path(path: str) -> str:
    """The display form of an os-level path (str with surrogate escapes)."""
    text = os.fsencode(path).decode("utf-8", errors="surrogateescape")
    return "".join(_shown(char) for char in text)


def fs_path(display: str) -> str:
    """The os-level path (str with surrogate escapes) whose display form is `display`."""

    def unescape(match: re.Match[str]) -> str:
        body = match.group(1)
        if body == "\\":
            return "\\"
        code = int(body[1:], 16)
        if body[0] == "x" and code >= 0x80:
            return chr(0xDC00 + code)
        return chr(code)

    return os.fsdecode(_ESCAPE.sub(unescape, display).encode("utf-8", "surrogateescape"))


def is_clean_utf8(path: str) -> bool:
    return display_path(path) == path
