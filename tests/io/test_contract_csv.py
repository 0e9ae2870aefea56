"""Contract CSVs and the decisions export: no cell runs as a spreadsheet formula, and every
cell reads back as written (issue 13, item 10)."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.review import Decision
from pipeline.io.contract import from_spreadsheet_safe, render_csv
from pipeline.io.review_log import decisions_csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def test_item10_decisions_export_neutralises_a_reviewers_formula() -> None:
    """Item 10: analysts' text starting with = + - @ went verbatim into decisions.csv."""
    decision = Decision(
        1, "2024-01-01T00:00:00Z", "@reviewer", "reject_match", {"a": 1}, {}, "=1+1"
    )
    (row,) = csv.DictReader(io.StringIO(decisions_csv([decision]).decode()))
    assert row["reason"] == "'=1+1" and row["reviewer"] == "'@reviewer"


@given(st.text(max_size=20))
def test_no_cell_starts_a_formula_and_every_cell_reads_back(text: str) -> None:
    data = render_csv(("cell",), [{"cell": text}])
    (row,) = csv.DictReader(io.StringIO(data.decode(), newline=""))
    cell = row["cell"]
    if cell and cell.startswith(FORMULA_STARTS):
        float(cell)  # only a plain number may start with a sign
    assert from_spreadsheet_safe(cell) == text
