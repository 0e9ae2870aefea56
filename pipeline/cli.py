"""The `crosscheck` command line: one subcommand per stage, `run` for all of them, `verify`.

Every command takes --data-dir DIR (default `data`): it reads DIR/raw and DIR/annotations and
writes DIR/processed, so any collection laid out like `data/` can be processed. Every command
that writes holds DIR/processed/run.lock while it runs (pipeline/io/runlock.py), ends with one
summary line and a JSON summary in DIR/processed/runs/, and says how it went in its exit
status (pipeline/core/outcome.py); docs/operations.md shows how to schedule it. `review`
serves for hours and only appends decisions, so it does not hold the lock.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import __version__
from pipeline.config import ConfigError, Settings, load_settings, with_executor
from pipeline.core.outcome import (
    EXIT_FAILURES,
    EXIT_LOCKED,
    EXIT_MEANINGS,
    EXIT_NOTHING_TO_DO,
    EXIT_OK,
    EXIT_USAGE,
    StageOutcome,
    StageResult,
)
from pipeline.executors import ExecutorError
from pipeline.io import crashpoints
from pipeline.io.atomic import LinkRefused, write_bytes_atomic
from pipeline.io.custody_log import CustodyLogError
from pipeline.io.run_summary import write_run_summary
from pipeline.io.runlock import RunLocked, run_lock
from pipeline.layout import DataLayout
from pipeline.stages.batch import ChangeWatch, finish, run_stages, start_over
from pipeline.stages.context import Operator, RunContext, open_run, utc_now

if TYPE_CHECKING:
    from pipeline.core.custody import Anchor

EXIT_PROBLEMS = EXIT_FAILURES
__all__ = ["EXIT_LOCKED", "EXIT_NOTHING_TO_DO", "EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "main"]
log = logging.getLogger("crosscheck")
DECODING_STAGES = ("frames", "hash")  # the stages --executor moves onto a Dask cluster

StageFn = Callable[[RunContext], Any]
# The DAG in order (DESIGN.md): `run` executes these one after another. Each stage is named
# by its module, imported only when a command runs it (stage_function): `crosscheck frames`
# does not pay for the imports of dedupe's index, the detectors or the report's templates.
STAGES: dict[str, tuple[str, str]] = {
    "ingest": (
        "pipeline.stages.ingest",
        "hash and describe every file under DIR/raw; write media.csv, "
        "observations.csv, rejects.csv",
    ),
    "signatures": (
        "pipeline.stages.signatures",
        "standard signatures others can match (PDQ of every still, vPDQ of every video) "
        "and the hash lists in signatures.lists matched against them; write list_matches.csv",
    ),
    "frames": (
        "pipeline.stages.frames",
        "sample every video (first frame, shot changes, one every "
        "interval_s) and every still into the frames table and JPEG thumbnails",
    ),
    "hash": (
        "pipeline.stages.hash",
        "PDQ and pHash (and their mirror images) of every frame, borders trimmed, "
        "uniform frames flagged",
    ),
    "dedupe": (
        "pipeline.stages.dedupe",
        "find near-duplicates, stills inside videos and video overlaps through a Hamming "
        "index; write matches.csv, clusters.csv, cluster_provenance.csv",
    ),
    "count": (
        "pipeline.stages.count",
        "scenes, analysts' annotations and detector proposals, and the minimum number of "
        "individuals with its certificate; write counts.csv, count_certificate.csv",
    ),
    "report": (
        "pipeline.stages.report",
        "static HTML for reviewers under DIR/processed/report/ (open index.html from disk): "
        "counts and their proof, duplicate clusters, timelines, rejects, run record",
    ),
}


def stage_function(name: str) -> StageFn:
    """The stage's `run_<name>` function, its module imported now (see STAGES)."""
    module = importlib.import_module(STAGES[name][0])
    fn: StageFn = getattr(module, f"run_{name}")
    return fn


def _common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default if suppress else Path("data"),
        metavar="DIR",
        help="collection root holding raw/, annotations/, processed/ (default: data)",
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=default if suppress else Path("configs"),
        metavar="DIR",
        help="folder with default.yaml and incidents/<incident>.yaml (an incident's own "
        "count: section) (default: configs; missing files mean built-in defaults)",
    )
    parser.add_argument(
        "--operator",
        default=default if suppress else getpass.getuser(),
        help="name recorded in the custody log (default: the login name)",
    )
    parser.add_argument(
        "--no-progress",
        action="store_true",
        default=default if suppress else False,
        help="hide progress bars",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default if suppress else False,
        help="print only the summary line and errors (for cron mail); implies --no-progress",
    )
    parser.add_argument(
        "--log-file",
        type=Path,
        default=default if suppress else None,
        metavar="PATH",
        help="append timestamped lines (start, one per stage, errors with tracebacks, the "
        "summary) to PATH",
    )
    parser.add_argument(
        "--summary-json",
        type=Path,
        default=default if suppress else None,
        metavar="PATH",
        help="also write the run's JSON summary (always in DIR/processed/runs/RUN_ID.json) "
        "to PATH, atomically",
    )


def _executor_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Where frames and hash decode; given before or after the command, over the config."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--executor",
        choices=("local", "dask"),
        default=default,
        help="where the frames and hash stages decode: this machine (local) or a Dask "
        "cluster (dask, with --scheduler); default: run.executor in the config, else local",
    )
    parser.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        default=default,
        help="address of a running Dask scheduler (`dask scheduler` prints it; "
        "docs/scale-out.md); default: run.scheduler in the config",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crosscheck",
        description="Media verification and cross-checking for human-rights documentation: "
        "ingest -> signatures -> frames -> hash -> dedupe -> count -> report.",
        epilog="Originals under DIR/raw are never written. Every output names the SHA-256 "
        "of the media it came from; every stage appends to DIR/processed/custody.jsonl.\n\n"
        + exit_status_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"crosscheck {__version__}")
    _common_options(parser, suppress=False)
    _executor_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in STAGES.items():
        stage = sub.add_parser(name, help=help_text, description=help_text)
        _common_options(stage, suppress=True)
        if name in DECODING_STAGES:
            _executor_options(stage, suppress=True)
    run = sub.add_parser(
        "run",
        help="run every stage in order: " + " -> ".join(STAGES),
        description="Run every stage in order on what is new or changed since earlier runs "
        "(incremental, the default): an upload costs work for itself, not for the archive, "
        "and a run with nothing new changes no output and exits 3. --full searches for "
        "matches and assembles clusters, counts and contract files again from the stored "
        "frames and hashes (after upgrading crosscheck, or to check incremental results); "
        "it never re-decodes or re-hashes (`verify` re-hashes the evidence).",
        epilog=exit_status_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(run, suppress=True)
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--incremental",
        dest="full",
        action="store_false",
        help="process only what is new or changed (the default)",
    )
    mode.add_argument(
        "--full",
        dest="full",
        action="store_true",
        help="search and assemble everything again from the stored frames and hashes",
    )
    run.set_defaults(full=False)
    _executor_options(run, suppress=True)
    verify = sub.add_parser(
        "verify",
        help="re-hash DIR/raw against the custody log and check the log",
        description="Fixity check: re-hash every raw file (ignoring the stat cache) against "
        "the SHA-256 sealed in the custody log at ingest, report files changed, missing or "
        "added, check the log's hash chain, the catalog's copy of it and the contract files "
        "sealed in it, and with --anchor its head against a value kept outside the machine. "
        "Exit 1 when anything is wrong.",
    )
    _common_options(verify, suppress=True)
    verify.add_argument(
        "--anchor",
        type=Path,
        metavar="FILE",
        help="a file written by `crosscheck anchor` (kept outside DIR/processed, ideally "
        "off this machine): the log must still hold that entry with that hash",
    )
    anchor = sub.add_parser(
        "anchor",
        help="print the custody log's head (seq and hash) to keep outside the machine",
        description="Check the custody log's chain and print its head as `<seq> <entry_hash>`. "
        "Store the line elsewhere (on paper, in a message, on another machine): `verify "
        "--anchor FILE` then proves that no entry up to it was rewritten, even if both copies "
        "of the log were resealed. Exit 1 (nothing printed) when the log is broken.",
    )
    _common_options(anchor, suppress=True)
    anchor.add_argument(
        "--output",
        type=Path,
        metavar="FILE",
        help="also write the line to FILE, atomically (not under DIR/processed)",
    )
    export = sub.add_parser(
        "export-hashes",
        help="write the collection's standard signatures for partners and hash-sharing tools",
        description="Write the standard signatures (PDQ, vPDQ, TMK+PDQF, MD5, SHA-256) of the "
        "collection in a format the hash-sharing ecosystem reads: csv (media_id, signal_type, "
        "signal, quality, label; TMK as base64), threatexchange (python-threatexchange's "
        "local-file exchange: `signal_type signal` lines; it has no TMK type), vpdq (a folder "
        "of per-frame text files, one per video) or tmk (a folder of TMK's own .tmk files, one "
        "per video). The export is recorded in the custody log. No path, file name, source "
        "or metadata is written: only hashes, the media's SHA-256 and the label you give. "
        "Run the pipeline (or `signatures`) first. docs/hash-sharing.md says what to share "
        "and what not.",
    )
    _common_options(export, suppress=True)
    export.add_argument(
        "--format",
        choices=("csv", "threatexchange", "vpdq", "tmk"),
        default="csv",
        help="(default csv)",
    )
    export.add_argument(
        "--output",
        type=Path,
        required=True,
        metavar="PATH",
        help="file to write (a folder for --format vpdq and tmk); written atomically",
    )
    export.add_argument(
        "--incident",
        action="append",
        default=[],
        metavar="NAME",
        help="only media observed in this incident (repeatable; default: every media)",
    )
    export.add_argument(
        "--most-original",
        action="store_true",
        help="only each duplicate cluster's most original member (and media in no cluster)",
    )
    export.add_argument("--label", default="", help="label column of the csv format")
    match = sub.add_parser(
        "match-list",
        help="match hash lists (PDQ, vPDQ, TMK+PDQF, MD5, SHA-256) against the collection",
        description="Match one or more hash lists against every media of the collection: "
        "PDQ within signatures.pdq_max_distance bits (31), vPDQ by its frame-percentage rule, "
        "TMK+PDQF at level-1 and level-2 scores of 0.7, MD5 and SHA-256 exactly. A list is "
        "python-threatexchange's local-file format (`signal_type signal` per line), a vPDQ "
        "per-frame text file, a TMK .tmk file, or CSV with "
        "signal_type, signal and label/name/release/source columns. Writes "
        "list_matches.csv (with the lists of signatures.lists, which every run checks); "
        "the report shows the matches. A malformed line stops its list with file and line.",
        epilog=exit_status_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(match, suppress=True)
    match.add_argument("lists", nargs="+", type=Path, metavar="FILE", help="hash list files")
    demo = sub.add_parser(
        "demo-data",
        help="generate the demo incident into DIR/raw and DIR/annotations",
        description="Generate a small synthetic incident (reposted stills, short videos, "
        "a byte-identical repost, bad files) from scikit-image's sample photos and ffmpeg "
        "test sources. Does nothing when DIR/raw already holds files.",
    )
    _common_options(demo, suppress=True)
    review = sub.add_parser(
        "review",
        help="local web app over the report where reviewers record decisions",
        description="Serve the report with forms to confirm or reject a match, split a "
        "cluster, confirm or correct a scene's count, and declare or remove a disjointness. "
        "Decisions go to an append-only audit log in the catalog (reviewer, time, reason) "
        "and take effect at the next run ('Apply decisions' in the app, or crosscheck run).",
    )
    _common_options(review, suppress=True)
    review.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; anything else "
        "exposes the evidence to the network)",
    )
    review.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free)")
    review.add_argument(
        "--reviewer",
        default=getpass.getuser(),
        help="name recorded with every decision (default: the login name)",
    )
    review.add_argument(
        "--export-decisions",
        type=Path,
        metavar="FILE",
        help="write the audit log of decisions as CSV to FILE ('-' for stdout) and exit",
    )
    return parser


def _review(args: argparse.Namespace, layout: DataLayout) -> int:
    from pipeline.io.catalog import Catalog
    from pipeline.io.review_log import decisions_csv

    if not layout.catalog.exists():
        print(
            f"crosscheck: no catalog at {layout.catalog}: run the pipeline first", file=sys.stderr
        )
        return EXIT_USAGE
    if args.export_decisions:
        with Catalog(layout.catalog) as catalog:
            body = decisions_csv(catalog.decisions())
        if str(args.export_decisions) == "-":
            sys.stdout.write(body.decode("utf-8"))
        else:
            write_bytes_atomic(args.export_decisions, body)
        return EXIT_OK
    from pipeline.review_app import create_app, serve

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(
            f"crosscheck: warning: serving on {args.host}, reachable from the network",
            file=sys.stderr,
        )
    serve(
        create_app(layout, args.config_dir, args.reviewer, bound_host=args.host),
        args.host,
        args.port,
    )
    return EXIT_OK


def _anchor(args: argparse.Namespace, layout: DataLayout) -> int:
    from pipeline.io.catalog import Catalog
    from pipeline.stages.verify import head_anchor

    if not layout.catalog.exists():
        print(f"crosscheck: no catalog at {layout.catalog}: nothing to anchor", file=sys.stderr)
        return EXIT_USAGE
    output: Path | None = args.output
    if output is not None and output.resolve().is_relative_to(layout.processed.resolve()):
        print(
            "crosscheck: --output: an anchor kept under DIR/processed proves nothing "
            "(whoever rewrites the log rewrites it too); write it elsewhere",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:  # under the run lock: a run in progress has entries not yet in the file
        with run_lock(layout.processed, "anchor", utc_now()), Catalog(layout.catalog) as catalog:
            anchor, problems = head_anchor(catalog, layout.custody_log)
    except RunLocked as exc:
        print(f"crosscheck: {exc}; not started (exit {EXIT_LOCKED})", file=sys.stderr)
        return EXIT_LOCKED
    except CustodyLogError as exc:
        print(f"crosscheck: {exc}", file=sys.stderr)
        return EXIT_FAILURES
    if problems:
        for problem in problems:
            print(f"custody log: {problem}", file=sys.stderr)
        print("crosscheck: the log is broken: run `crosscheck verify`; no anchor", file=sys.stderr)
        return EXIT_FAILURES
    if output is not None:
        write_bytes_atomic(output, (anchor.line() + "\n").encode("ascii"))
    print(anchor.line())
    return EXIT_OK


def exit_status_help() -> str:
    return "exit status:\n" + "\n".join(
        f"  {code:<3} {meaning}" for code, meaning in EXIT_MEANINGS.items()
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="crosscheck: %(message)s")
    logging.getLogger("exifread").setLevel(logging.ERROR)  # it warns on every PNG without EXIF
    layout = DataLayout(args.data_dir)
    if args.command == "demo-data":
        from pipeline.synth.demo import write_demo_collection

        made = write_demo_collection(layout)
        print(
            f"demo collection: {made} files written under {layout.data_dir}"
            if made
            else f"demo collection: {layout.raw} already holds files; left as it is"
        )
        return EXIT_OK
    if args.command == "review":
        return _review(args, layout)
    if args.command == "anchor":
        return _anchor(args, layout)
    if args.command == "export-hashes":
        from pipeline.stages.export import export_hashes

        try:
            quality_min = load_settings(args.config_dir).default.signatures.pdq_quality_min
        except ConfigError as exc:
            print(f"crosscheck: configuration error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return export_hashes(
            layout,
            args.format,
            args.output,
            args.incident,
            args.most_original,
            args.label,
            quality_min,
            args.operator,
        )
    for path in getattr(args, "lists", []) if args.command == "match-list" else []:
        if not Path(path).is_file():
            print(f"crosscheck: match-list: no file {path}", file=sys.stderr)
            return EXIT_USAGE
    for option, path in (("--log-file", args.log_file), ("--summary-json", args.summary_json)):
        if path is not None and not path.parent.is_dir():
            print(f"crosscheck: {option}: no folder {path.parent}", file=sys.stderr)
            return EXIT_USAGE
    handler = _log_to(args.log_file)
    try:
        return _checked_main(args, layout)
    finally:
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()


def _log_to(path: Path | None) -> logging.Handler | None:
    """Operator's log: UTC timestamps, pid, one line per event, appended."""
    if path is None:
        return None
    handler = logging.FileHandler(path, encoding="utf-8")
    formatter = logging.Formatter(
        "%(asctime)s crosscheck[%(process)d] %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    log.setLevel(logging.INFO)
    for other in root.handlers:  # the console keeps showing warnings only
        if other is not handler and other.level == logging.NOTSET:
            other.setLevel(logging.WARNING)
    return handler


def _checked_main(args: argparse.Namespace, layout: DataLayout) -> int:
    try:
        settings = with_executor(load_settings(args.config_dir), args.executor, args.scheduler)
    except ConfigError as exc:
        print(f"crosscheck: configuration error: {exc}", file=sys.stderr)
        log.info("configuration error: %s", exc)
        return EXIT_USAGE
    if not layout.raw.is_dir():
        print(
            f"crosscheck: no raw folder at {layout.raw} (expected "
            f"{layout.raw}/<incident>/<source>/<files>)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        _arm_crash_point(os.environ.get(crashpoints.ENV_VAR, ""))
    except ValueError as exc:
        print(f"crosscheck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    anchor: Anchor | None = None
    if getattr(args, "anchor", None) is not None:
        from pipeline.stages.verify import AnchorError, read_anchor

        try:
            anchor = read_anchor(args.anchor)
        except AnchorError as exc:
            print(f"crosscheck: --anchor: {exc}", file=sys.stderr)
            return EXIT_USAGE
    args.anchor_value = anchor
    label = args.command + (" --full" if getattr(args, "full", False) else "")
    try:
        with run_lock(layout.processed, label, utc_now()) as lock:
            if lock.taken_over is not None:
                log.warning(
                    "took over the run lock of %s, which ended without releasing it "
                    "(killed or crashed; its unfinished work is picked up now)",
                    lock.taken_over.describe(),
                )
            return _run_command(args, layout, settings)
    except RunLocked as exc:
        print(f"crosscheck: {exc}; not started (exit {EXIT_LOCKED})", file=sys.stderr)
        log.info("not started: %s", exc)
        return EXIT_LOCKED
    except (LinkRefused, CustodyLogError) as exc:
        print(f"crosscheck: {exc} (exit {EXIT_FAILURES})", file=sys.stderr)
        log.error("refused: %s", exc)
        return EXIT_FAILURES
    except ExecutorError as exc:
        print(f"crosscheck: {exc}", file=sys.stderr)
        log.info("executor error: %s", exc)
        return EXIT_USAGE


def _run_command(args: argparse.Namespace, layout: DataLayout, settings: Settings) -> int:
    command = args.command
    full = command == "run" and bool(getattr(args, "full", False))
    quiet = bool(args.quiet)
    operator = Operator(args.operator)
    started = time.perf_counter()

    def report(stage: StageOutcome) -> None:
        log.info("%s", stage.line())
        if not quiet and command != "verify":
            print(stage.line())

    progress = not (args.no_progress or quiet)
    with open_run(layout, settings, command, operator, progress) as ctx:
        log.info(
            "run %d started: crosscheck %s on %s (code %s, config %s)",
            ctx.run_id,
            command + (" --full" if full else ""),
            layout.data_dir,
            ctx.version,
            ctx.settings.config_hash()[:12],
        )
        if command == "verify":
            outcome, summary, line = _verify(ctx, started, report, args.anchor_value)
        else:
            if full:
                start_over(ctx)
            watch = ChangeWatch(ctx)
            names = list(STAGES) if command == "run" else [command]
            if command == "match-list":
                from pipeline.stages.signatures import run_signatures

                lists = [Path(p) for p in args.lists]
                names = ["signatures"]
                stages: dict[str, StageFn] = {"signatures": lambda c: run_signatures(c, lists)}
            else:
                stages = {name: stage_function(name) for name in names}
            outcomes = run_stages(ctx, stages, names, report)
            mode = "full" if full else "incremental"
            changed = full or watch.changed()
            outcome, summary, line = finish(ctx, command, mode, started, outcomes, changed)
        for error in summary["errors"]:
            print(f"crosscheck: {error}", file=sys.stderr)
            log.info("failed item: %s", error)
    write_run_summary(layout.processed, summary, args.summary_json)
    log.info("%s", line)
    print(line)
    return outcome.exit_code


def _verify(
    ctx: RunContext,
    started: float,
    report: Callable[[StageOutcome], None],
    anchor: Anchor | None,
) -> tuple[Any, dict[str, Any], str]:
    from pipeline.stages.verify import run_verify

    found: list[Any] = []

    def verify(c: RunContext) -> StageResult:
        found.append(run_verify(c, anchor))
        counts = {"files_checked": found[0].files_checked, "problems": len(found[0].lines())}
        return StageResult(counts, found[0].files_checked)

    outcomes = run_stages(ctx, {"verify": verify}, ["verify"], report)
    problems: list[str] = found[0].lines() if found else []
    for line in problems:
        print(line)
    for line in found[0].notices if found else []:
        print(f"notice: {line}")
    if found:
        print(
            f"verify: {found[0].files_checked} files checked, "
            f"{len(problems)} problems" + ("" if found[0].ok else " (see above)")
        )
    return finish(
        ctx,
        "verify",
        "check",
        started,
        outcomes,
        True,
        len(problems),
        {"problems": problems, "notices": found[0].notices if found else []},
    )


def _arm_crash_point(spec: str) -> None:
    """Tests only: CROSSCHECK_CRASH_AT=STAGE:N kills this process at the stage's N-th durable
    step (pipeline/io/crashpoints.py). The one place the variable is read."""
    if spec:
        stage, n = crashpoints.parse(spec)
        if stage not in STAGES:
            raise ValueError(f"{crashpoints.ENV_VAR}={spec!r}: no stage {stage!r}")
        crashpoints.arm(stage, n)


if __name__ == "__main__":
    raise SystemExit(main())
