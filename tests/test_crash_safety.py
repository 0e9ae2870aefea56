"""Crash safety: a run killed with SIGKILL at any point, then run again, gives exactly the
outputs of one uninterrupted run (tests/snapshots.py says what "the same" means).

The kill is real: `python -m pipeline run` runs as a subprocess with CROSSCHECK_CRASH_AT=
STAGE:N, which makes it SIGKILL itself at the N-th durable step of that stage (just before
or just after a catalog commit, a temporary written or renamed into place, a custody-log
append; pipeline/io/crashpoints.py). N is drawn per seed from the steps the uninterrupted
run took in that stage, so every seed kills at the same point every time. Frames and hash
run with one worker and hash in batches of 4 frames, so that step order is deterministic and
each stage commits often. The rerun's custody log must still chain and match the catalog
(`crosscheck verify`).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import psutil
import pytest

from pipeline.cli import STAGES, main
from pipeline.core.outcome import EXIT_NOTHING_TO_DO
from pipeline.io import crashpoints
from pipeline.layout import DataLayout
from tests.child import cli_process
from tests.snapshots import catalog_content, differences, processed_files, temporaries

SEEDS_AT_FULL_SCALE = 3
CHILD_TIMEOUT_S = 300  # a child run that hangs fails the test instead of the whole suite
Outputs = tuple[dict[str, bytes], dict[str, list[tuple[object, ...]]]]


def outputs(layout: DataLayout) -> Outputs:
    return processed_files(layout.processed), catalog_content(layout.catalog)


def cli(layout: DataLayout, configs: Path, *command: str) -> int:
    options = ["--data-dir", str(layout.data_dir), "--config-dir", str(configs), "--no-progress"]
    return main([*options, *command])


class Reference:
    """The demo collection, one uninterrupted run's outputs, and its steps per stage."""

    def __init__(self, root: Path) -> None:
        self.layout = DataLayout(root / "data")
        self.configs = root / "configs"
        self.configs.mkdir()
        (self.configs / "default.yaml").write_text(
            "frames:\n  workers: 1\nhash:\n  workers: 1\n  batch_frames: 4\n"
        )
        assert main(["--data-dir", str(self.layout.data_dir), "demo-data"]) == 0
        crashpoints.reset()
        assert cli(self.layout, self.configs, "run") == 0
        self.steps = crashpoints.step_counts()
        self.outputs = outputs(self.layout)

    def kill_at(self, stage: str, step: int) -> subprocess.CompletedProcess[str]:
        shutil.rmtree(self.layout.processed)
        env = {**os.environ, crashpoints.ENV_VAR: f"{stage}:{step}"}
        return cli_process(
            self.layout,
            *("--config-dir", str(self.configs), "--no-progress", "run"),
            env=env,
            timeout_s=CHILD_TIMEOUT_S,
        )


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return Reference(tmp_path_factory.mktemp("crash"))


def test_every_stage_has_durable_steps_to_kill_at(reference: Reference) -> None:
    assert all(reference.steps.get(stage, 0) >= 2 for stage in STAGES), reference.steps


@pytest.mark.heavy
@pytest.mark.parametrize("stage", list(STAGES))
def test_run_killed_during_stage_then_rerun_matches_an_uninterrupted_run(
    stage: str, reference: Reference, heavy_scale: float
) -> None:
    layout = reference.layout
    for seed in range(max(1, round(SEEDS_AT_FULL_SCALE * heavy_scale))):
        step = random.Random(f"{stage}/{seed}").randint(1, reference.steps[stage])
        killed = reference.kill_at(stage, step)
        where = f"killed at {stage} step {step} (seed {seed}): {killed.stderr[-2000:]}"
        assert killed.returncode == -signal.SIGKILL, where
        # A kill after the run's last commit leaves nothing to do (exit 3).
        assert cli(layout, reference.configs, "run") in (0, EXIT_NOTHING_TO_DO), where
        files, content = outputs(layout)
        assert not temporaries(layout.processed), where
        assert differences(files, reference.outputs[0]) == [], where
        assert differences(content, reference.outputs[1]) == [], where
        assert cli(layout, reference.configs, "verify") == 0, where


def test_a_malformed_crash_point_is_a_usage_error(reference: Reference) -> None:
    env = {**os.environ, crashpoints.ENV_VAR: "frames"}
    done = cli_process(reference.layout, "run", env=env, timeout_s=120)
    assert done.returncode == 2 and "STAGE:N" in done.stderr


def test_a_killed_run_leaves_no_worker_process_behind(layout: DataLayout, tmp_path: Path) -> None:
    """Hash workers (a forkserver pool) outlive a driver killed with SIGKILL unless they
    watch for it; every process the run started must be gone soon after."""
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "default.yaml").write_text("hash:\n  workers: 2\n  batch_frames: 4\n")
    assert main(["--data-dir", str(layout.data_dir), "demo-data"]) == 0
    for stage in ("ingest", "frames"):
        assert cli(layout, configs, stage) == 0
    mark = f"crosscheck-test-{uuid.uuid4()}"
    env = {**os.environ, crashpoints.ENV_VAR: "hash:3", "CROSSCHECK_TEST_MARK": mark}
    options = ("--config-dir", str(configs), "--no-progress")
    killed = cli_process(layout, *options, "hash", env=env, timeout_s=CHILD_TIMEOUT_S)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = [p for p in psutil.process_iter() if _marked(p, mark)]
    _, alive = psutil.wait_procs(left, timeout=60)
    assert alive == [], [p.cmdline() for p in alive]


def _marked(process: psutil.Process, mark: str) -> bool:
    try:
        return process.environ().get("CROSSCHECK_TEST_MARK") == mark
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
