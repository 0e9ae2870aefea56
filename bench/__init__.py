"""Benchmarks: `make bench` (= `python -m bench`) runs every `bench/bench_*.py` module.

Each module defines `NAME` (its section title) and `run(scale: float) -> str`, returning a
Markdown section body: the machine facts, the exact command, the measurements and the
ratio against a baseline measured in the same process. BENCHMARKS.md is rebuilt from the
sections; a module run alone (`python -m bench ingest`) replaces only its own section.
"""
