"""What every labelled corpus family for `make eval` writes the same way: the truth file and
the manifest beside raw/, and the rule for files already under raw/<incident>/.

A family (`corpus`, `augly_corpus`, `holdout_corpus`, `threatexchange_corpus`) supplies its
plan of files, its truth columns and its counts; this module writes `DIR/eval_truth.csv`
(outside raw/, so ingest never sees it) and `DIR/eval_corpus.json` (what was made: the family's
parameters and the SHA-256 of every file). Raw files are evidence-like: a second run reuses an
intact corpus and refuses, with FileExistsError, to write over anything else.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from pipeline.io.atomic import write_bytes_atomic
from pipeline.io.contract import render_csv
from pipeline.layout import DataLayout

TRUTH_FILE = "eval_truth.csv"
MANIFEST_FILE = "eval_corpus.json"
TRUTH_COLUMNS = (
    "path_a",
    "path_b",
    "relation",
    "transform",
    "a_start_s",
    "a_end_s",
    "b_start_s",
    "b_end_s",
)


@dataclass(frozen=True)
class TruthRow:
    """One row of eval_truth.csv; times in seconds, None where the side is not video.
    `category` is the coarse kind of repost of a direct original–copy row, for families
    whose truth has that column (the columns written decide)."""

    path_a: str
    path_b: str
    relation: str
    transform: str
    a_start_s: float | None = None
    a_end_s: float | None = None
    b_start_s: float | None = None
    b_end_s: float | None = None
    category: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "path_a": self.path_a,
            "path_b": self.path_b,
            "relation": self.relation,
            "transform": self.transform,
            "a_start_s": _seconds(self.a_start_s),
            "a_end_s": _seconds(self.a_end_s),
            "b_start_s": _seconds(self.b_start_s),
            "b_end_s": _seconds(self.b_end_s),
            "category": self.category,
        }


Span = tuple[float, float] | None  # where shared content lies in a video; None for a still
SharedContent = tuple[str, Span, Span]  # (relation, x's interval, y's interval)


class PlannedFile(Protocol):
    """What pair_truth reads of a family's file description."""

    @property
    def path(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def transform(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def derived_from(self) -> tuple[str, ...]: ...


_File = TypeVar("_File", bound=PlannedFile)


def pair_truth(
    files: Sequence[_File],
    shared_content: Callable[[_File, _File], SharedContent | None],
    trap: Callable[[_File, _File], str],
    category: Callable[[_File], str] = lambda copy: "",
) -> list[TruthRow]:
    """Every pair of files that shares content, then the hard-negative pairs.

    Rows for an original and its copy come first (path_a the original, the copy's transform
    and category), then pairs of two copies (their roles joined by `+`), then the negatives
    (relation `none`, the trap as transform), each group sorted by path; a scorer that keys
    rows by media pair keeps the first. `shared_content(x, y)` may raise ValueError for a
    pair the family's design must keep unambiguous.
    """
    direct: list[TruthRow] = []
    transitive: list[TruthRow] = []
    negatives: list[TruthRow] = []
    for x, y in itertools.combinations(sorted(files, key=lambda f: f.path), 2):
        shared = shared_content(x, y)
        if shared is not None:
            relation, x_span, y_span = shared
            if x.key in y.derived_from or y.key in x.derived_from:
                original, copy = (x, y) if x.key in y.derived_from else (y, x)
                a_span, b_span = (x_span, y_span) if original is x else (y_span, x_span)
                direct.append(
                    _truth_row(
                        original.path,
                        copy.path,
                        relation,
                        copy.transform,
                        a_span,
                        b_span,
                        category(copy),
                    )
                )
            else:
                transform = "+".join(sorted((x.role, y.role)))
                transitive.append(_truth_row(x.path, y.path, relation, transform, x_span, y_span))
            continue
        kind = trap(x, y)
        if kind:
            negatives.append(TruthRow(x.path, y.path, "none", kind))
    return direct + transitive + negatives


def _truth_row(
    path_a: str,
    path_b: str,
    relation: str,
    transform: str,
    a_span: Span,
    b_span: Span,
    category: str = "",
) -> TruthRow:
    return TruthRow(
        path_a,
        path_b,
        relation,
        transform,
        a_span[0] if a_span else None,
        a_span[1] if a_span else None,
        b_span[0] if b_span else None,
        b_span[1] if b_span else None,
        category,
    )


class RenderJob(Protocol):
    """How a family renders one planned file: `path` under raw/, `needs` the path of another
    generated file it reads ('' for none)."""

    @property
    def path(self) -> str: ...

    @property
    def needs(self) -> str: ...

    def render_into(self, raw: Path) -> None: ...


def write_rendered_corpus(
    layout: DataLayout,
    incident: str,
    parameters: Mapping[str, object],
    jobs: Sequence[RenderJob],
    truth_columns: Sequence[str],
    truth: Callable[[], Iterable[TruthRow]],
    counts: Mapping[str, int],
) -> Path:
    """Render jobs under layout.raw, then write the truth (`truth()`, called after rendering,
    in truth_columns) and the manifest: `parameters` (such as family, scale, seed, in that
    order), counts, the SHA-256 of every file. When raw/<incident> already holds files, they
    are reused if the manifest records exactly them with these parameters (and the truth
    file exists); otherwise FileExistsError, and nothing under raw/ is touched. Returns the
    truth file's path."""
    truth_path = layout.data_dir / TRUTH_FILE
    root = layout.raw / incident
    paths = [job.path for job in jobs]
    if root.exists() and any(path.is_file() for path in root.rglob("*")):
        if _matches_manifest(layout, incident, parameters, paths) and truth_path.is_file():
            return truth_path
        raise FileExistsError(
            f"{root} already holds files that are not this corpus (scale={parameters['scale']:g}, "
            f"seed={parameters['seed']}); delete it to regenerate"
        )
    render_jobs(layout.raw, jobs)
    rows = (row.as_dict() for row in truth())
    manifest = {
        **parameters,
        "counts": dict(counts),
        "files": {path: sha256_file(layout.raw / path) for path in paths},
    }
    return write_truth_and_manifest(layout, truth_columns, rows, manifest)


def corpus_main(
    argv: Sequence[str] | None,
    *,
    module: str,
    description: str,
    scale_help: str,
    write: Callable[[DataLayout, float, int], Path],
    counts: Callable[[float, int], Mapping[str, int]],
    errors: tuple[type[Exception], ...] = (FileExistsError,),
) -> int:
    """The command line of a generated family, `python -m pipeline.synth.MODULE --data-dir
    DIR [--scale S] [--seed N]`: writes the corpus, prints the truth's path and the counts;
    exits 2 with the message on one of `errors`."""
    label = module.replace("_", " ")
    parser = argparse.ArgumentParser(
        prog=f"python -m pipeline.synth.{module}", description=description
    )
    parser.add_argument("--data-dir", type=Path, required=True, metavar="DIR")
    parser.add_argument("--scale", type=float, default=1.0, help=scale_help)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        truth = write(DataLayout(args.data_dir), args.scale, args.seed)
    except errors as exc:
        print(f"{label}: {exc}", file=sys.stderr)
        return 2
    made = counts(args.scale, args.seed)
    print(f"{label}: truth in {truth}; " + ", ".join(f"{k}={v}" for k, v in made.items()))
    return 0


def write_truth_and_manifest(
    layout: DataLayout,
    truth_columns: Sequence[str],
    rows: Iterable[Mapping[str, object]],
    manifest: Mapping[str, object],
) -> Path:
    """Write DIR/eval_truth.csv and DIR/eval_corpus.json atomically; the truth's path."""
    truth_path = layout.data_dir / TRUTH_FILE
    write_bytes_atomic(truth_path, render_csv(truth_columns, (dict(row) for row in rows)))
    manifest_bytes = (json.dumps(manifest, indent=1) + "\n").encode()
    write_bytes_atomic(layout.data_dir / MANIFEST_FILE, manifest_bytes)
    return truth_path


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def render_jobs(raw: Path, jobs: Sequence[RenderJob]) -> None:
    """Two workers (ffmpeg runs single-threaded, one per core); files that read another
    generated file wait for the first round."""
    first = [job for job in jobs if not job.needs]
    second = [job for job in jobs if job.needs]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for batch in (first, second):
            list(pool.map(lambda job: job.render_into(raw), batch))


def _matches_manifest(
    layout: DataLayout, incident: str, parameters: Mapping[str, object], paths: Sequence[str]
) -> bool:
    try:
        manifest = json.loads((layout.data_dir / MANIFEST_FILE).read_text())
    except (OSError, ValueError):
        return False
    recorded = manifest.get("files", {})
    on_disk = {
        path.relative_to(layout.raw).as_posix()
        for path in (layout.raw / incident).rglob("*")
        if path.is_file()
    }
    return (
        all(manifest.get(key) == value for key, value in parameters.items())
        and set(recorded) == set(paths) == on_disk
        and all(sha256_file(layout.raw / path) == digest for path, digest in recorded.items())
    )


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"
