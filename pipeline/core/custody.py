"""The custody log's hash chain: each entry commits to its content and to the entry before it.

An entry is a JSON object; its `entry_hash` is the SHA-256 of its canonical JSON without that
field, and it carries `prev_hash`, the previous entry's `entry_hash` (64 zeros for the
first). Editing, deleting or reordering a line breaks the chain at that line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "entry_hash"}
    return hashlib.sha256(canonical_json(body).encode("utf-8")).hexdigest()


def seal_entry(fields: dict[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """Return the entry with seq, prev_hash and its own entry_hash filled in."""
    entry = {**fields, "seq": seq, "prev_hash": prev_hash}
    entry["entry_hash"] = entry_hash(entry)
    return entry


def chain_problems(lines: Iterable[str]) -> list[str]:
    """Check a log's lines; return one readable problem per broken link (empty when intact)."""
    problems: list[str] = []
    prev = GENESIS_HASH
    expected_seq = 1
    for line_no, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            problems.append(f"line {line_no}: not valid JSON (truncated or edited)")
            prev = ""
            continue
        if not isinstance(entry, dict):
            problems.append(f"line {line_no}: not a JSON object")
            prev = ""
            continue
        if entry.get("seq") != expected_seq:
            problems.append(f"line {line_no}: seq {entry.get('seq')} where {expected_seq} expected")
        if entry.get("prev_hash") != prev:
            problems.append(f"line {line_no}: prev_hash does not match the entry before it")
        if entry.get("entry_hash") != entry_hash(entry):
            problems.append(f"line {line_no}: entry_hash does not match its content (edited)")
        prev = str(entry.get("entry_hash", ""))
        expected_seq = (
            int(entry["seq"]) + 1 if isinstance(entry.get("seq"), int) else expected_seq + 1
        )
    return problems


class AnchorError(ValueError):
    """An anchor file that cannot be read as `<seq> <entry_hash>`."""


@dataclass(frozen=True)
class Anchor:
    """A head of the chain the analyst wrote down: entry `seq` had hash `entry_hash`."""

    seq: int
    entry_hash: str

    def line(self) -> str:
        return f"{self.seq} {self.entry_hash}"

    @staticmethod
    def parse(text: str) -> Anchor:
        words = text.split()
        if (
            len(words) < 2
            or not words[0].isdigit()
            or len(words[1]) != 64
            or any(c not in "0123456789abcdef" for c in words[1])
        ):
            raise AnchorError("an anchor is `<seq> <entry_hash>` as `crosscheck anchor` prints it")
        return Anchor(int(words[0]), words[1])


@dataclass(frozen=True)
class SealedRow:
    """One entry of the catalog's copy of the log: its seq, the entry_hash column recorded
    beside it, and the entry's JSON (what `verify` compares with the file)."""

    seq: int
    entry_hash: str
    entry_json: str
