"""The command line in a child process: for what only a separate process shows (a crash
point killing it, a lock held by another process)."""

from __future__ import annotations

import subprocess
import sys

from pipeline.layout import DataLayout
from tests.conftest import REPO


def cli_process(
    layout: DataLayout,
    *args: str,
    env: dict[str, str] | None = None,
    timeout_s: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """`python -m pipeline --data-dir DIR ARGS` in a child process; its exit status is not
    checked, its output is captured."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "--data-dir", str(layout.data_dir), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
