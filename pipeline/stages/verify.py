"""Command `verify`: fixity of the evidence and integrity of the custody log.

Re-hashes every file under DIR/raw (no stat cache: a tamperer can restore an mtime) against
the SHA-256 recorded at ingest, and checks the custody log's hash chain line by line and
against the catalog's own copy. Reads DIR/raw and the catalog; writes one custody entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tqdm import tqdm

from pipeline.core.custody import chain_problems
from pipeline.io.custody_log import read_lines
from pipeline.io.rawtree import digest_file, list_raw
from pipeline.stages.context import RunContext


@dataclass(frozen=True)
class VerifyReport:
    files_checked: int
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.changed or self.missing or self.added or self.log_problems)

    def lines(self) -> list[str]:
        out = [
            f"changed: {p} (bytes differ from the SHA-256 recorded at ingest)" for p in self.changed
        ]
        out += [f"missing: {p} (ingested, no longer in the raw tree)" for p in self.missing]
        out += [f"added: {p} (in the raw tree, never ingested)" for p in self.added]
        out += [f"custody log: {p}" for p in self.log_problems]
        return out


def log_problems(ctx: RunContext) -> list[str]:
    lines = read_lines(ctx.layout.custody_log)
    problems = chain_problems(lines)
    recorded = ctx.catalog.custody_entries()
    if len(lines) < len(recorded):
        problems.append(
            f"the file has {len(lines)} entries, the catalog {len(recorded)} (lines deleted)"
        )
    for line_no, (line, kept) in enumerate(zip(lines, recorded, strict=False), start=1):
        try:
            same = json.loads(line).get("entry_hash") == json.loads(kept)["entry_hash"]
        except (json.JSONDecodeError, AttributeError):
            same = False
        if not same:
            problems.append(f"line {line_no}: differs from the catalog's copy of entry {line_no}")
    return problems


def run_verify(ctx: RunContext) -> VerifyReport:
    cfg = ctx.settings.default.ingest
    expected = {s.path: s.sha256 for s in ctx.catalog.file_states() if s.sha256}
    listing = list_raw(ctx.layout.raw) if ctx.layout.raw.is_dir() else None
    present = {f.path: f for f in listing.files if not f.problem} if listing else {}
    changed: list[str] = []
    for path in tqdm(
        sorted(set(expected) & set(present)),
        desc="verify",
        unit="file",
        disable=not ctx.show_progress or None,
    ):
        if digest_file(present[path].abs_path, cfg.read_chunk_bytes).sha256 != expected[path]:
            changed.append(path)
    known_rejects = {r.path for r in ctx.catalog.rejects()}
    report = VerifyReport(
        files_checked=len(set(expected) & set(present)),
        changed=changed,
        missing=sorted(set(expected) - set(present)),
        added=sorted(set(present) - set(expected) - known_rejects),
        log_problems=log_problems(ctx),
    )
    with ctx.catalog.transaction():
        ctx.custody(
            "verify", "fixity_check", files_checked=report.files_checked, problems=report.lines()
        )
    return report
