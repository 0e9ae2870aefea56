"""Compare the contract files of two processed folders byte for byte.

    python -m bench.compare_contract BASELINE_DIR PROCESSED_DIR

A refactor that must not change behaviour (issue 14) keeps a copy of the contract files
from before it and checks each step against them: the command prints one line per file and
exits 1 when any differs or is missing. scenes.json (what the report and review app read)
is compared too when the baseline holds it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.io import contract

# The contract files as io/contract.py lists them, then what the report and review app read.
CONTRACT_FILES = (*contract.CONTRACT_FILES, "scenes.json")


def differences(baseline: Path, processed: Path) -> list[str]:
    """One line per contract file of the baseline that is missing from, or differs in,
    processed; empty when all are byte-identical."""
    found = []
    for name in CONTRACT_FILES:
        before = baseline / name
        if not before.exists():
            continue
        after = processed / name
        if not after.exists():
            found.append(f"{name}: missing")
        elif after.read_bytes() != before.read_bytes():
            found.append(f"{name}: differs")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", type=Path)
    parser.add_argument("processed", type=Path)
    args = parser.parse_args(argv)
    problems = differences(args.baseline, args.processed)
    compared = [n for n in CONTRACT_FILES if (args.baseline / n).exists()]
    for line in problems:
        print(line)
    print(f"{len(compared) - len(problems)}/{len(compared)} contract files identical")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
