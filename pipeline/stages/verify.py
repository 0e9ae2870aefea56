"""Command `verify`: fixity of the evidence and integrity of the custody log.

The custody log file is the authority; the catalog is a cache of it. `verify`

- checks the file's hash chain line by line, and optionally its head against an anchor the
  analyst keeps outside the machine (`crosscheck anchor`), which is what exposes a log that
  was rewritten and resealed whole;
- checks the catalog's copy entry by entry against the file (content and the recorded
  hash), and reports entries that only one of them holds (a forged entry appended to the
  file, entries deleted from it);
- re-hashes every file under DIR/raw (no stat cache: a tamperer can restore an mtime) against
  the SHA-256 that ingest sealed into the log for its path, and reports where the catalog's
  own table disagrees with the log;
- describes every media again from its bytes (as ingest did) and reports where the catalog's
  record differs (forged GPS or dates edited into the catalog reach `media.csv` otherwise);
- checks the contract files and report pages against the SHA-256 sealed when they were last
  written (a hand-edited `media.csv`);
- lists every time the log was mended after an interrupted command, as what it was.

Reads DIR/raw, the log and the catalog; writes one custody entry, appended to the file before
the command ends like every other.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from pipeline.core.custody import GENESIS_HASH, Anchor, AnchorError, chain_problems, entry_hash
from pipeline.core.records import MediaRecord
from pipeline.io.catalog import Catalog
from pipeline.io.custody_log import read_lines
from pipeline.io.mediafile import bomb_warnings_as_errors, examine
from pipeline.io.rawtree import FileDigest, RawFile, digest_file, list_raw
from pipeline.stages.context import RunContext

REPORT_STAGE = "report"
NOT_SEALED_PAGES = frozenset({"runs.html"})  # the run record: rewritten by every run


def read_anchor(path: Path) -> Anchor:
    try:
        return Anchor.parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise AnchorError(f"cannot read the anchor {path}: {exc}") from exc


@dataclass(frozen=True)
class VerifyReport:
    files_checked: int
    changed: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "path (why)": link, pipe, vanished
    missing: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    log_problems: list[str] = field(default_factory=list)
    catalog_problems: list[str] = field(default_factory=list)
    output_problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.lines()

    def lines(self) -> list[str]:
        """The problems, one line each (notices are not problems)."""
        out = [
            f"changed: {p} (bytes differ from the SHA-256 sealed in the custody log at ingest)"
            for p in self.changed
        ]
        out += [f"unreadable: {p}" for p in self.unreadable]
        out += [f"missing: {p} (ingested, no longer in the raw tree)" for p in self.missing]
        out += [f"added: {p} (in the raw tree, never ingested)" for p in self.added]
        out += [f"custody log: {p}" for p in self.log_problems]
        out += [f"catalog: {p}" for p in self.catalog_problems]
        out += [f"output: {p}" for p in self.output_problems]
        return out


@dataclass(frozen=True)
class _Log:
    """The file's entries as read (None for a line that is not a JSON object)."""

    lines: list[str]
    entries: list[dict[str, Any] | None]


def _parse(lines: list[str]) -> _Log:
    entries: list[dict[str, Any] | None] = []
    for line in lines:
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = None
        entries.append(value if isinstance(value, dict) else None)
    return _Log(lines, entries)


def log_problems(log: _Log, ctx: RunContext, anchor: Anchor | None) -> list[str]:
    """The file's chain, the catalog's copy of it, and the anchor."""
    problems = chain_problems(log.lines)
    rows = ctx.catalog.custody_rows()
    recorded = [json.loads(row.entry_json) for row in rows]
    problems += [f"catalog's copy, {p}" for p in chain_problems(row.entry_json for row in rows)]
    for row, entry in zip(rows, recorded, strict=True):
        if row.entry_hash != entry.get("entry_hash"):
            problems.append(f"entry {row.seq}: the catalog's recorded hash differs from its copy")
    for line_no, (entry, kept) in enumerate(zip(log.entries, recorded, strict=False), start=1):
        if entry is None or entry_hash(entry) != entry_hash(kept) or entry != kept:
            problems.append(f"line {line_no}: differs from the catalog's copy of entry {line_no}")
    if len(log.lines) < len(recorded):
        problems.append(
            f"the file has {len(log.lines)} entries, the catalog {len(recorded)}: entries "
            f"{len(log.lines) + 1}-{len(recorded)} are missing from the file"
        )
    for line_no in range(len(recorded) + 1, len(log.lines) + 1):
        problems.append(
            f"line {line_no}: not in the catalog's copy (an entry appended to the file alone, "
            "forged or from another catalog)"
        )
    if anchor is not None:
        problems += _anchor_problems(log, anchor)
    return problems


def _anchor_problems(log: _Log, anchor: Anchor) -> list[str]:
    if anchor.seq == 0:
        return []
    if anchor.seq > len(log.entries):
        return [
            f"anchor: entry {anchor.seq} was anchored, the file holds {len(log.entries)} "
            "(entries removed since the anchor was taken)"
        ]
    entry = log.entries[anchor.seq - 1]
    if entry is None or entry.get("entry_hash") != anchor.entry_hash:
        return [
            f"anchor: entry {anchor.seq} does not have the anchored hash "
            f"{anchor.entry_hash[:16]}: the log up to it was rewritten since the anchor was taken"
        ]
    return []


def sealed_file_hashes(log: _Log) -> dict[str, str]:
    """path -> SHA-256 that ingest last sealed for it, per the log (vanished paths dropped)."""
    sealed: dict[str, str] = {}
    for entry in log.entries:
        if entry is None or entry.get("stage") != "ingest":
            continue
        for item in entry.get("inputs") or ():
            if isinstance(item, dict) and item.get("path") and item.get("sha256"):
                sealed[str(item["path"])] = str(item["sha256"])
        for path in entry.get("vanished_paths") or ():
            sealed.pop(str(path), None)
    return sealed


def sealed_outputs(log: _Log) -> dict[str, tuple[str, int]]:
    """Output file (relative to processed/) -> (SHA-256, seq) as last sealed by its stage."""
    latest: dict[str, tuple[dict[str, str], int]] = {}
    for seq, entry in enumerate(log.entries, start=1):
        if entry is not None and isinstance(entry.get("outputs"), dict):
            latest[str(entry.get("stage"))] = (entry["outputs"], seq)
    sealed: dict[str, tuple[str, int]] = {}
    for stage, (outputs, seq) in latest.items():
        for name, sha in outputs.items():
            if stage == REPORT_STAGE:
                if name in NOT_SEALED_PAGES:
                    continue
                name = f"report/{name}"
            sealed[name] = (str(sha), seq)
    return sealed


def _output_problems(ctx: RunContext, log: _Log) -> list[str]:
    problems: list[str] = []
    for name, (sha, seq) in sorted(sealed_outputs(log).items()):
        path = ctx.layout.contract_file(name)
        try:
            actual = hashlib.sha256(path.read_bytes()).hexdigest()
        except FileNotFoundError:
            problems.append(f"{name}: missing (sealed in custody entry {seq})")
            continue
        if actual != sha:
            problems.append(
                f"{name}: differs from the copy sealed in custody entry {seq} (edited by hand?); "
                "the next run writes it again"
            )
    return problems


def _notices(log: _Log) -> list[str]:
    out = []
    for seq, entry in enumerate(log.entries, start=1):
        if entry is not None and entry.get("action") == "custody_log_mended":
            seqs = entry.get("appended_seqs") or []
            what = f"entries {seqs[0]}-{seqs[-1]} appended from the catalog's copy" if seqs else ""
            if entry.get("partial_line_bytes"):
                what += (", " if what else "") + (
                    f"a partial line of {entry['partial_line_bytes']} bytes (the cut-off start "
                    f"of entry {entry.get('partial_of_seq')}) dropped"
                )
            out.append(
                f"entry {seq}: the log was mended after an interrupted command "
                f"(torn tail: {what}) at {entry.get('time_utc')}"
            )
    return out


def _comparable(record: MediaRecord) -> Any:
    """The record as the catalog stores it (JSON), so tuples and lists compare alike."""
    return json.loads(json.dumps(dataclasses.asdict(record), sort_keys=True, default=str))


def _changed_keys(was: Any, now: Any) -> list[str]:
    if not isinstance(was, dict) or not isinstance(now, dict):
        return []
    return [k for k in set(was) | set(now) if was.get(k) != now.get(k)]


def _metadata_problems(
    ctx: RunContext, present: dict[str, RawFile], intact: dict[str, FileDigest]
) -> list[str]:
    """Each media described again from one intact file holding its bytes, as ingest does."""
    cfg = ctx.settings.default.ingest
    first_path: dict[str, str] = {}
    for obs in ctx.catalog.observations():
        if obs.path in intact:
            first_path.setdefault(obs.media_id, obs.path)
    problems: list[str] = []
    with bomb_warnings_as_errors():
        for media_id, path in sorted(first_path.items()):
            stored = ctx.catalog.media(media_id)
            fresh = examine(
                present[path].abs_path, intact[path], cfg.max_image_pixels, cfg.probe_timeout_s
            ).media
            if stored is None or fresh is None:
                continue
            was, now = _comparable(stored), _comparable(fresh)
            fields = sorted(
                f"{key}.{sub}" if isinstance(was.get(key), dict) else key
                for key in set(was) | set(now)
                if was.get(key) != now.get(key)
                for sub in (_changed_keys(was.get(key), now.get(key)) or [""])
            )
            if fields:
                problems.append(
                    f"media {media_id[:16]} ({path}): the catalog's {', '.join(fields)} "
                    "differ from what its bytes give (the catalog was edited, or this "
                    "crosscheck reads the file differently from the one that ingested it)"
                )
    return problems


def run_verify(ctx: RunContext, anchor: Anchor | None = None) -> VerifyReport:
    cfg = ctx.settings.default.ingest
    log = _parse(read_lines(ctx.layout.custody_log))
    expected = sealed_file_hashes(log)
    cached = {s.path: s.sha256 for s in ctx.catalog.file_states() if s.sha256}
    catalog_problems = [
        f"{path}: the catalog's SHA-256 {cached.get(path, '(none)')[:16]} differs from the "
        f"custody log's {expected.get(path, '(none)')[:16]} (the catalog was edited)"
        for path in sorted(set(expected) | set(cached))
        if expected.get(path) != cached.get(path)
    ]
    listing = list_raw(ctx.layout.raw) if ctx.layout.raw.is_dir() else None
    present = {f.path: f for f in listing.files if not f.problem} if listing else {}
    not_regular = {f.path: f.problem for f in listing.files if f.problem} if listing else {}
    changed: list[str] = []
    unreadable = [f"{p} ({not_regular[p]})" for p in sorted(set(expected) & set(not_regular))]
    intact: dict[str, FileDigest] = {}
    for path in tqdm(
        sorted(set(expected) & set(present)),
        desc="verify",
        unit="file",
        disable=not ctx.show_progress or None,
    ):
        try:
            digest = digest_file(present[path].abs_path, cfg.read_chunk_bytes)
        except OSError as exc:  # EvidenceChanged (a link, a pipe) or gone since listing
            unreadable.append(f"{path} ({exc})")
            continue
        if digest.sha256 != expected[path]:
            changed.append(path)
        else:
            intact[path] = digest
    catalog_problems += _metadata_problems(ctx, present, intact)
    known_rejects = {r.path for r in ctx.catalog.rejects()}
    report = VerifyReport(
        files_checked=len(set(expected) & set(present)),
        changed=changed,
        unreadable=unreadable,
        missing=sorted(set(expected) - set(present) - set(not_regular)),
        added=sorted(set(present) - set(expected) - known_rejects),
        log_problems=log_problems(log, ctx, anchor),
        catalog_problems=catalog_problems,
        output_problems=_output_problems(ctx, log),
        notices=_notices(log),
    )
    with ctx.catalog.transaction():
        ctx.custody(
            "verify",
            "fixity_check",
            files_checked=report.files_checked,
            problems=report.lines(),
            anchor=anchor.line() if anchor else None,
        )
    return report


def head_anchor(catalog: Catalog, custody_log: Path) -> tuple[Anchor, list[str]]:
    """The log file's head as an anchor, and what is wrong with the log (anchor only an
    intact one: an anchor of a forged log would bless it)."""
    lines = read_lines(custody_log)
    problems = chain_problems(lines)
    log = _parse(lines)
    head = log.entries[-1] if log.entries else None
    if lines and head is None:
        return Anchor(0, GENESIS_HASH), [*problems, "the last line is not an entry"]
    anchor = Anchor(int(head["seq"]), str(head["entry_hash"])) if head else Anchor(0, GENESIS_HASH)
    if catalog.custody_head() != anchor:
        problems.append(
            f"the file's head (entry {anchor.seq}) is not the catalog's (entry "
            f"{catalog.custody_head().seq}): run `crosscheck verify`"
        )
    return anchor, problems
