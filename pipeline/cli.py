"""The `crosscheck` command line: one subcommand per stage, `run` for all of them, `verify`.

Every command takes --data-dir DIR (default `data`): it reads DIR/raw and DIR/annotations and
writes DIR/processed, so any collection laid out like `data/` can be processed.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.config import ConfigError, Settings, load_settings, with_executor
from pipeline.executors import ExecutorError
from pipeline.io import crashpoints
from pipeline.io.atomic import write_bytes_atomic
from pipeline.layout import DataLayout
from pipeline.stages.context import Operator, RunContext, open_run
from pipeline.stages.count import run_count
from pipeline.stages.dedupe import run_dedupe
from pipeline.stages.frames import run_frames
from pipeline.stages.hash import run_hash
from pipeline.stages.ingest import run_ingest
from pipeline.stages.report import run_report
from pipeline.stages.verify import run_verify

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
DECODING_STAGES = ("frames", "hash")  # the stages --executor moves onto a Dask cluster

StageFn = Callable[[RunContext], Any]
# The DAG in order (DESIGN.md): `run` executes these one after another.
STAGES: dict[str, tuple[StageFn, str]] = {
    "ingest": (
        run_ingest,
        "hash and describe every file under DIR/raw; write media.csv, "
        "observations.csv, rejects.csv",
    ),
    "frames": (
        run_frames,
        "sample every video (first frame, shot changes, one every "
        "interval_s) and every still into the frames table and JPEG thumbnails",
    ),
    "hash": (
        run_hash,
        "PDQ and pHash (and their mirror images) of every frame, borders trimmed, "
        "uniform frames flagged",
    ),
    "dedupe": (
        run_dedupe,
        "find near-duplicates, stills inside videos and video overlaps through a Hamming "
        "index; write matches.csv, clusters.csv, cluster_provenance.csv",
    ),
    "count": (
        run_count,
        "scenes, analysts' annotations and detector proposals, and the minimum number of "
        "individuals with its certificate; write counts.csv, count_certificate.csv",
    ),
    "report": (
        run_report,
        "static HTML for reviewers under DIR/processed/report/ (open index.html from disk): "
        "counts and their proof, duplicate clusters, timelines, rejects, run record",
    ),
}


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
        help="folder with default.yaml and incidents/<incident>.yaml "
        "(default: configs; missing files mean built-in defaults)",
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
        "ingest -> frames -> hash -> dedupe -> count -> report.",
        epilog="Originals under DIR/raw are never written. Every output names the SHA-256 "
        "of the media it came from; every stage appends to DIR/processed/custody.jsonl.",
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
        description="Run every stage in order; each reuses the work of "
        "earlier runs, so a run with nothing new changes no output.",
    )
    _common_options(run, suppress=True)
    _executor_options(run, suppress=True)
    verify = sub.add_parser(
        "verify",
        help="re-hash DIR/raw against the catalog and check the custody log",
        description="Fixity check: re-hash every raw file (ignoring the stat cache) against "
        "the SHA-256 recorded at ingest, report files changed, missing or added, and check "
        "the custody log's hash chain. Exit 1 when anything is wrong.",
    )
    _common_options(verify, suppress=True)
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
    serve(create_app(layout, args.config_dir, args.reviewer), args.host, args.port)
    return EXIT_OK


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
    try:
        settings = with_executor(load_settings(args.config_dir), args.executor, args.scheduler)
    except ConfigError as exc:
        print(f"crosscheck: configuration error: {exc}", file=sys.stderr)
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
    operator = Operator(args.operator)
    try:
        return _run_command(args.command, layout, settings, operator, not args.no_progress)
    except ExecutorError as exc:
        print(f"crosscheck: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _run_command(
    command: str, layout: DataLayout, settings: Settings, operator: Operator, progress: bool
) -> int:
    with open_run(layout, settings, command, operator, progress) as ctx:
        if command == "verify":
            report = run_verify(ctx)
            for line in report.lines():
                print(line)
            print(
                f"verify: {report.files_checked} files checked, "
                f"{len(report.lines())} problems" + ("" if report.ok else " (see above)")
            )
            return EXIT_OK if report.ok else EXIT_PROBLEMS
        names = list(STAGES) if command == "run" else [command]
        for name in names:
            crashpoints.enter_stage(name)
            STAGES[name][0](ctx)
            print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in ctx.counts.get(name, {}).items()))
        for error in ctx.errors:
            print(f"crosscheck: {error}", file=sys.stderr)
    return EXIT_PROBLEMS if ctx.errors else EXIT_OK


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
