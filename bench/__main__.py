"""Run the benchmarks and write their sections into BENCHMARKS.md.

    python -m bench                 # every bench/bench_*.py
    python -m bench ingest frames   # only these; other sections are kept as they were
    python -m bench --scale 0.1     # smaller inputs, for a quick check
    python -m bench scale --sizes 250,1000,2000   # the scale section at these archive sizes

Sections live between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "BENCHMARKS.md"
HEADER = """# Benchmarks

Produced by `make bench` (`python -m bench`); each section names the machine, the command and
the baseline it was measured against in the same process. Ratios, not absolute times, are
what carries over to another machine.
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    tool = ffmpeg.stdout.splitlines()[0] if ffmpeg.stdout else "no ffmpeg"
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB RAM, "
        f"Python {platform.python_version()}, {tool}"
    )


def modules() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in (ROOT / "bench").glob("bench_*.py"))


def replace_section(text: str, name: str, body: str) -> str:
    block = f"<!-- bench:{name} -->\n{body.strip()}\n<!-- /bench:{name} -->"
    pattern = re.compile(
        rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S
    )
    if pattern.search(text):
        return pattern.sub(lambda _: block, text)
    return text.rstrip() + "\n\n" + block + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {modules()})")
    parser.add_argument("--scale", type=float, default=1.0, help="input size factor (default 1)")
    parser.add_argument(
        "--sizes",
        help="archive sizes for the benchmarks that take them (scale), e.g. 2000,8000,32000",
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where generated archives go (default: a temporary folder)"
    )
    args = parser.parse_args()
    names = args.names or modules()
    for name in names:
        module = importlib.import_module(f"bench.bench_{name}")
        started = time.perf_counter()
        print(f"bench {name}: running", file=sys.stderr, flush=True)
        options = inspect.signature(module.run).parameters
        extra: dict[str, object] = {}
        if args.sizes and "sizes" in options:
            extra["sizes"] = [int(size) for size in args.sizes.split(",")]
        if args.work_dir and "work_dir" in options:
            extra["work_dir"] = args.work_dir
        body = module.run(args.scale, **extra)
        stamp = time.strftime("%Y-%m-%d", time.gmtime())
        section = (
            f"## {module.NAME}\n\nMachine: {machine()}. Measured {stamp}, "
            f"`python -m bench {name}"
            + (f" --sizes {args.sizes}" if "sizes" in extra else "")
            + f"` (scale {args.scale:g}, "
            f"{time.perf_counter() - started:.0f} s in all).\n\n{body}"
        )
        current = REPORT.read_text() if REPORT.exists() else HEADER  # others may have written
        REPORT.write_text(replace_section(current, name, section))
        print(f"bench {name}: done", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
