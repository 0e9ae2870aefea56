"""Crash injection for the crash-safety tests: SIGKILL at the N-th durable step of a stage.

A durable step is a moment where a killed run could leave its work half done: just before and
just after a catalog commit, a temporary file written but not yet renamed, a rename done, a
custody-log append. The catalog, the atomic writer and the custody log report each step here;
steps are counted per stage (the CLI says which stage runs). When armed with (stage, n) the
process kills itself with SIGKILL at that stage's n-th step, so a test can kill a real
`crosscheck run` at a seeded point and get the same point on every run of the seed.

Only the CLI arms it (from the environment variable CROSSCHECK_CRASH_AT=STAGE:N); disarmed, a
step costs a counter increment.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections import Counter

ENV_VAR = "CROSSCHECK_CRASH_AT"

_lock = threading.Lock()
_stage = ""
_steps: Counter[str] = Counter()
_target: tuple[str, int] | None = None


def parse(spec: str) -> tuple[str, int]:
    """`STAGE:N` (N >= 1) -> (stage, n); ValueError names what is wrong."""
    stage, _, number = spec.partition(":")
    if not stage or not number.isdigit() or int(number) < 1:
        raise ValueError(f"{ENV_VAR}={spec!r}: expected STAGE:N with N >= 1, e.g. frames:3")
    return stage, int(number)


def arm(stage: str, n: int) -> None:
    global _target
    _target = (stage, n)


def enter_stage(stage: str) -> None:
    """Steps from now on count towards this stage."""
    global _stage
    with _lock:
        _stage = stage


def reached(step: str) -> None:
    """A durable step happened (`step` says which, for the message); maybe die here."""
    with _lock:
        _steps[_stage] += 1
        here = (_stage, _steps[_stage])
    if here == _target:
        sys.stderr.write(f"crosscheck: crash point {here[0]} #{here[1]} ({step}): SIGKILL\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


def step_counts() -> dict[str, int]:
    """Durable steps per stage since the last reset: where a seeded kill can land."""
    with _lock:
        return dict(_steps)


def reset() -> None:
    global _stage, _target
    with _lock:
        _steps.clear()
        _stage = ""
        _target = None
