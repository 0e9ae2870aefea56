"""Scale: every stage on generated archives of growing size, its growth exponent between
sizes, and projections to 10^5 and 10^6 media.

Issue 17 asks for archives of 2,000, 8,000 and 32,000 media (`--sizes 2000,8000,32000`, the
default at scale 1); `--scale` multiplies the default sizes, `--sizes` names them. At each
size, on an archive generated outside the repository (a temporary folder, or `--work-dir`):

- the full run: every stage as its own command (`python -m pipeline STAGE`, as cron would
  start them one after another), so that each stage's wall time, CPU time (wait4: the
  command and every process it waited for, ffmpeg and hash workers included) and peak
  memory (ru_maxrss of the largest single process: the command or one of its workers) are
  its own;
- an incremental run after a 1% upload (the next 1% of items of the same archive);
- a run with nothing new;
- with profiling on (the default), one `run --full` under cProfile, not timed: dedupe's
  search and assembly, count and report again from the stored frames and hashes. Between the
  two largest sizes, the functions whose cumulative time grows fastest are listed: the
  profile that names what grows faster than linear.

The archive is pipeline/synth/archive.py's `SCALE_MIX`: 240x180 JPEG stills and 2-3 s
192x108 clips (15%), 30% reposts and 20% near-duplicates (cropped, colour-shifted) of earlier
items, a new incident every 200 items, one incident in eight annotated by analysts. The
configuration is configs/default.yaml with `count.detector: none`, as in bench incremental:
the person detector is issue 17's other half (count's detection, cached and bounded per
scene) and is measured there. Generation is not timed.

Exponent b between sizes n1 < n2: log(t2 / t1) / log(n2 / n1), on CPU seconds (two shared
cores: wall time moves with other people's load, CPU time hardly does). Projection: a stage
whose exponent between the two largest sizes is at most 1.15 is projected linearly from the
largest size (t * N / n), any other with its power law (t * (N / n) ** b).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NAME = "Scale: every stage on generated archives of growing size, exponents and projections"

ROOT = Path(__file__).resolve().parents[1]
SIZES = (2000, 8000, 32000)  # issue 17's sizes, at scale 1
STAGES = ("ingest", "signatures", "frames", "hash", "dedupe", "count", "report")
DECODING = ("ingest", "frames", "hash")
UPLOAD_SHARE = 0.01
SEED = 20_261_204
LINEAR_UP_TO = 1.15  # issue 17: every stage's exponent at most 1.15
PROJECT_TO = (100_000, 1_000_000)
MEMORY_LIMIT_GB = 4.0
PROFILE_ROWS = 8
# Stages whose work runs in forkserver worker processes: those are not the stage command's
# children, so wait4 does not see their CPU time; their exponent and projection use wall time.
WALL_ONLY = ("signatures", "hash")


@dataclass(frozen=True)
class StageRun:
    """One stage command: exit status, wall and CPU seconds, peak RSS of its largest process."""

    stage: str
    exit_code: int
    wall_s: float
    cpu_s: float
    peak_mb: float


@dataclass(frozen=True)
class SizeResult:
    media: int
    generated_s: float
    full: tuple[StageRun, ...]
    incremental: tuple[StageRun, ...]
    nothing_new: tuple[StageRun, ...]
    profile: dict[str, float]  # function -> cumulative s in `run --full` under cProfile

    @staticmethod
    def total(runs: Sequence[StageRun], what: str = "wall_s") -> float:
        return sum(float(getattr(run, what)) for run in runs)

    def stage(self, name: str) -> StageRun:
        return next(run for run in self.full if run.stage == name)


def _command(data: Path, configs: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pipeline",
        "--data-dir",
        str(data),
        "--config-dir",
        str(configs),
        "--quiet",
        *args,
    ]


def _waited(command: Sequence[str], label: str) -> StageRun:
    """Run a command; wall time, and CPU and peak RSS from wait4 (its own and those of the
    processes it waited for)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            list(command), cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=errors,
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        wall_s = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3):
            errors.seek(0)
            tail = errors.read().decode("utf-8", "replace")[-2000:]
            raise RuntimeError(f"{label} exited {code}: {tail}")
    cpu_s = usage.ru_utime + usage.ru_stime
    return StageRun(label, code, wall_s, cpu_s, usage.ru_maxrss / 1024)


def _stages(data: Path, configs: Path) -> tuple[StageRun, ...]:
    return tuple(_waited(_command(data, configs, stage), stage) for stage in STAGES)


def _generate(data: Path, count: int, start: int) -> float:
    """Write items start .. start+count-1 in a separate process (this one stays small, so
    that the stage commands' ru_maxrss is theirs, not an inherited high-water mark)."""
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable, "-m", "pipeline.synth.archive", "--raw", str(data / "raw"),
            "--annotations", str(data / "annotations"), "--count", str(count),
            "--start", str(start), "--seed", str(SEED), "--mix", "scale",
        ],
        cwd=ROOT, capture_output=True, check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def _profile(data: Path, configs: Path, scratch: Path) -> dict[str, float]:
    """Cumulative seconds per function of one `run --full` under cProfile (not timed)."""
    stats_path = scratch / "full.prof"
    command = _command(data, configs, "run", "--full")
    subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(stats_path), *command[1:]],
        cwd=ROOT, capture_output=True, check=False,
    )  # fmt: skip
    import pstats

    stats = pstats.Stats(str(stats_path))
    table: dict[str, float] = {}
    for (filename, line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if "/pipeline/" not in filename:
            continue
        name = f"{filename.split('/pipeline/', 1)[1]}:{line}({function})"
        table[name] = float(row[3])  # cumulative seconds
    return table


def bench_configs(folder: Path) -> Path:
    """configs/default.yaml with the person detector off (see the module's docstring)."""
    text = (ROOT / "configs" / "default.yaml").read_text()
    off, found = re.subn(r"(?m)^  detector: \w+$", "  detector: none", text)
    assert found == 1, "configs/default.yaml: no count.detector line"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "default.yaml").write_text(off)
    return folder


def measure(media: int, work: Path, profile: bool) -> SizeResult:
    data = work / f"archive-{media}" / "data"
    configs = bench_configs(work / f"archive-{media}" / "configs")
    generated_s = _generate(data, media, 0)
    full = _stages(data, configs)
    upload = max(1, round(media * UPLOAD_SHARE))
    _generate(data, upload, media)
    incremental = _stages(data, configs)
    nothing_new = _stages(data, configs)
    table = _profile(data, configs, work / f"archive-{media}") if profile else {}
    return SizeResult(media, generated_s, full, incremental, nothing_new, table)


def exponent(n1: int, t1: float, n2: int, t2: float) -> float:
    """b in t = c * n ** b through two points; nan when a time is not positive."""
    if t1 <= 0 or t2 <= 0 or n1 == n2:
        return math.nan
    return math.log(t2 / t1) / math.log(n2 / n1)


def project(n: int, t: float, b: float, target: int) -> tuple[float, str]:
    """Seconds at target media from the largest measured size, and the model used."""
    if math.isnan(b) or b <= LINEAR_UP_TO:
        return t * target / n, "linear"
    return t * (target / n) ** b, f"n^{b:.2f}"


def run(scale: float, sizes: Sequence[int] | None = None, work_dir: Path | None = None) -> str:
    chosen = sorted(sizes or [max(50, round(s * scale)) for s in SIZES])
    with tempfile.TemporaryDirectory(prefix="bench-scale-", dir=work_dir) as tmp:
        results = []
        for media in chosen:
            print(f"bench scale: {media} media", file=sys.stderr, flush=True)
            profile = media in chosen[-2:] and len(chosen) > 1
            results.append(measure(media, Path(tmp), profile))
            if work_dir is not None:  # the raw figures, kept beside the (deleted) archives
                raw = [dataclasses.asdict(result) for result in results]
                (work_dir / "bench-scale-results.json").write_text(json.dumps(raw, indent=1))
    return report(results)


def _fmt_s(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:.1f} d"
    if seconds >= 3_600:
        return f"{seconds / 3_600:.1f} h"
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def report(results: Sequence[SizeResult]) -> str:
    sizes = [r.media for r in results]
    last, before = results[-1], results[-2] if len(results) > 1 else results[-1]
    lines = [
        f"Sizes run: **{', '.join(f'{n:,}' for n in sizes)} media** (issue 17 asks for "
        "2,000, 8,000 and 32,000; `python -m bench scale --sizes 2000,8000,32000` runs "
        "them). Generation (not timed): "
        + ", ".join(f"{r.media:,} in {r.generated_s:.0f} s" for r in results)
        + ".",
        "",
        "Full run, per stage: wall s / CPU s / peak MB (largest single process).",
        "",
        "| stage | " + " | ".join(f"{n:,} media" for n in sizes) + " | exponent (CPU) "
        f"{before.media:,}→{last.media:,} | exponent (wall) | all sizes (fit) |",
        "|---|" + "---|" * (len(sizes) + 3),
    ]
    exponents: dict[str, float] = {}
    for stage in STAGES:
        cells = [
            f"{r.stage(stage).wall_s:.1f} / {r.stage(stage).cpu_s:.1f} / "
            f"{r.stage(stage).peak_mb:.0f}"
            for r in results
        ]
        what = "wall_s" if stage in WALL_ONLY else "cpu_s"
        b = exponent(
            before.media,
            getattr(before.stage(stage), what),
            last.media,
            getattr(last.stage(stage), what),
        )
        wall_b = exponent(
            before.media, before.stage(stage).wall_s, last.media, last.stage(stage).wall_s
        )
        fit = _fit([r.media for r in results], [getattr(r.stage(stage), what) for r in results])
        exponents[stage] = b
        mark = " (wall)" if stage in WALL_ONLY else ""
        lines.append(
            f"| {stage} | " + " | ".join(cells) + f" | {b:.2f}{mark} | {wall_b:.2f} | {fit:.2f} |"
        )
    totals = [SizeResult.total(r.full) for r in results]
    cpu_totals = [SizeResult.total(r.full, "cpu_s") for r in results]
    decoding = [sum(r.stage(s).wall_s for s in DECODING) for r in results]
    k = -2 if len(results) > 1 else -1
    total_cpu_b = exponent(sizes[k], cpu_totals[k], last.media, cpu_totals[-1])
    total_wall_b = exponent(sizes[k], totals[k], last.media, totals[-1])
    lines.append(
        "| **full run** | "
        + " | ".join(f"{w:.1f} / {c:.1f} / –" for w, c in zip(totals, cpu_totals, strict=True))
        + f" | {total_cpu_b:.2f} | {total_wall_b:.2f} | {_fit(sizes, cpu_totals):.2f} |"
    )
    peak = max(run.peak_mb for r in results for run in r.full + r.incremental)
    lines += [
        "",
        "| size | full run wall s | ingest+frames+hash wall s | full / decoding | "
        "incremental 1% wall s | incremental / full | nothing new wall s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r, total, dec in zip(results, totals, decoding, strict=True):
        inc = SizeResult.total(r.incremental)
        noop = SizeResult.total(r.nothing_new)
        lines.append(
            f"| {r.media:,} | {total:.1f} | {dec:.1f} | {total / dec:.2f}x | {inc:.1f} | "
            f"{inc / total:.1%} | {noop:.1f} |"
        )
    lines += [
        "",
        f"Peak memory of any one process, any size: {peak:.0f} MB (limit "
        f"{MEMORY_LIMIT_GB:.0f} GB). The CPU of {' and '.join(WALL_ONLY)} counts only the "
        "stage command itself: its workers are forkserver processes, outside wait4's view, "
        "so their exponents and projections use wall time. The incremental and nothing-new "
        "runs are seven stage commands each: about 0.4 s of interpreter start and imports "
        "per command (bench startup) is in every figure.",
        "",
        f"Projection from {last.media:,} media (CPU seconds, one core; linear where the "
        f"exponent between the two largest sizes is at most {LINEAR_UP_TO}, else its power "
        "law). Projections, not measurements:",
        "",
        "| stage | model | " + " | ".join(f"{n:,} media" for n in PROJECT_TO) + " |",
        "|---|---|" + "---|" * len(PROJECT_TO),
    ]
    for stage in STAGES:
        cpu = getattr(last.stage(stage), "wall_s" if stage in WALL_ONLY else "cpu_s")
        cells, model = [], "linear"
        for target in PROJECT_TO:
            seconds, model = project(last.media, cpu, exponents[stage], target)
            cells.append(_fmt_s(seconds))
        lines.append(f"| {stage} | {model} | " + " | ".join(cells) + " |")
    faster = [s for s in STAGES if exponents[s] > LINEAR_UP_TO]
    lines += [
        "",
        "Faster than linear between the two largest sizes (exponent above "
        f"{LINEAR_UP_TO}): "
        + (", ".join(f"{s} ({exponents[s]:.2f})" for s in faster) or "none")
        + ".",
    ]
    if before.profile and last.profile:
        lines += ["", *_profile_table(before, last)]
    return "\n".join(lines)


def _fit(sizes: Sequence[int], seconds: Sequence[float]) -> float:
    """Least-squares slope of log t on log n over every size (nan with fewer than two)."""
    points = [(math.log(n), math.log(t)) for n, t in zip(sizes, seconds, strict=True) if t > 0]
    if len(points) < 2:
        return math.nan
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / var if var else math.nan


def _profile_table(before: SizeResult, last: SizeResult) -> list[str]:
    """The pipeline functions of `run --full` (dedupe, count, report from stored hashes)
    whose cumulative time grows fastest between the two largest sizes, among those that
    take at least 5% of the profiled run at the largest."""
    total = max(last.profile.values(), default=0.0)
    rows = []
    for name, seconds in last.profile.items():
        earlier = before.profile.get(name, 0.0)
        if seconds >= 0.05 * total and earlier > 0.05:
            rows.append((exponent(before.media, earlier, last.media, seconds), name, earlier))
    rows.sort(reverse=True)
    lines = [
        f"Profile of `run --full` (cProfile, cumulative s; not timed) at {before.media:,} and "
        f"{last.media:,} media: the functions that grow fastest, of those taking at least 5% "
        "of it.",
        "",
        f"| function | {before.media:,} | {last.media:,} | exponent |",
        "|---|---|---|---|",
    ]
    for b, name, earlier in rows[:PROFILE_ROWS]:
        lines.append(f"| `{name}` | {earlier:.2f} | {last.profile[name]:.2f} | {b:.2f} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bench.bench_scale --sizes 250,1000 --work-dir /scratch`: print the section
    without writing BENCHMARKS.md (`python -m bench scale --sizes ...` writes it)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.bench_scale")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--work-dir", type=Path, help="where archives go (default: a temp dir)")
    args = parser.parse_args(argv)
    print(run(1.0, [int(s) for s in args.sizes.split(",")], args.work_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
