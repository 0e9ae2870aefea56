"""The custody chain: intact logs pass, any edit, deletion or reorder is named by line."""

from __future__ import annotations

import json

from pipeline.core.custody import GENESIS_HASH, chain_problems, seal_entry


def chain(n: int) -> list[str]:
    lines, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        entry = seal_entry({"action": f"step {seq}"}, seq, prev)
        prev = entry["entry_hash"]
        lines.append(json.dumps(entry))
    return lines


def test_intact_chain_has_no_problems() -> None:
    assert chain_problems(chain(5)) == []


def test_reordered_lines_break_the_chain() -> None:
    lines = chain(4)
    lines[1], lines[2] = lines[2], lines[1]
    assert any(p.startswith("line 2") for p in chain_problems(lines))


def test_truncated_line_is_reported() -> None:
    lines = chain(3)
    lines[2] = lines[2][:20]
    assert chain_problems(lines) == ["line 3: not valid JSON (truncated or edited)"]
