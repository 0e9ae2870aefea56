"""Dedupe accuracy on the generated, labelled repost corpus (what `make eval` prints), with
full frame sampling and with the fast key-frame mode, so the fast mode's recall cost is
measured rather than guessed.

The baseline in the same process is the key-frame run's accuracy and time against the
full run's.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from pipeline.cli import main as crosscheck
from pipeline.evaluate import EvalReport, acceptance, score
from pipeline.layout import DataLayout
from pipeline.synth.corpus import TRUTH_FILE, write_eval_corpus

NAME = "Dedupe evaluation: pairwise precision and recall on a labelled repost corpus"


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _run(data_dir: Path, config_dir: Path) -> tuple[EvalReport, float]:
    started = time.perf_counter()
    crosscheck(
        ["--data-dir", str(data_dir), "--config-dir", str(config_dir), "--no-progress", "run"]
    )
    seconds = time.perf_counter() - started
    processed = data_dir / "processed"
    report = score(
        _read(data_dir / TRUTH_FILE),
        _read(processed / "matches.csv"),
        _read(processed / "observations.csv"),
        _read(processed / "clusters.csv"),
    )
    return report, seconds


def _row(label: str, report: EvalReport, seconds: float) -> str:
    relation = {s.label: s for s in report.per_relation}

    def fmt(value: float | None) -> str:
        return f"{value:.3f}" if value is not None else "–"

    def recall(scope: str) -> str:
        return fmt(relation[scope].recall if scope in relation else None)

    overall = report.overall
    return (
        f"| {label} | {fmt(overall.precision)} | {fmt(overall.recall)} | {fmt(overall.f1)} | "
        f"{recall('near_duplicate')} | {recall('video_overlap')} | "
        f"{recall('still_in_video')} | {fmt(report.crop_recall.recall)} | {seconds:.0f} s |"
    )


def run(scale: float) -> str:
    root = Path(tempfile.mkdtemp(prefix="crosscheck-eval-"))
    try:
        full = DataLayout(root / "full")
        write_eval_corpus(full, scale=scale, seed=0)
        fast = DataLayout(root / "keyframes")
        shutil.copytree(full.data_dir, fast.data_dir)
        defaults = Path(__file__).resolve().parents[1] / "configs"
        keyframes_config = root / "configs-keyframes"
        keyframes_config.mkdir()
        keyframes_config.joinpath("default.yaml").write_text("frames:\n  keyframes_only: true\n")
        full_report, full_s = _run(full.data_dir, defaults)
        fast_report, fast_s = _run(fast.data_dir, keyframes_config)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    failed = acceptance(full_report)
    lines = [
        f"Corpus: `write_eval_corpus(scale={scale:g}, seed=0)` — {full_report.n_media} media, "
        f"{full_report.overall.n_true} true pairs; `crosscheck run` from an empty processed "
        "folder, then `pipeline.evaluate.score`. Wall times include every stage.",
        "",
        "| sampling | precision | recall | F1 | near_duplicate recall | video_overlap recall "
        "| still_in_video recall | crop 5–25% recall | run |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        _row("full (first frame, shot changes, 1 s interval)", full_report, full_s),
        _row("key frames only (`frames.keyframes_only`)", fast_report, fast_s),
        "",
        f"Key-frame mode: {fast_s / full_s:.2f}x the full run's wall time, recall "
        f"{fast_report.overall.recall or 0:.3f} against {full_report.overall.recall or 0:.3f}.",
        "",
        "Acceptance targets (full sampling): " + ("all met." if not failed else "; ".join(failed)),
        "",
        "### Full report (full sampling)",
        "",
        full_report.to_markdown(examples=10).replace("\n# ", "\n#### ").replace("\n## ", "\n#### "),
    ]
    return "\n".join(lines)
