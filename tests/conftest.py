"""Shared fixtures: collections laid out like data/, built from generated media only."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.config import Settings, load_settings
from pipeline.core.outcome import StageResult
from pipeline.layout import DataLayout
from pipeline.stages.context import Operator, RunContext, open_run

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def layout(tmp_path: Path) -> DataLayout:
    data = DataLayout(tmp_path / "data")
    data.raw.mkdir(parents=True)
    return data


@pytest.fixture
def settings() -> Settings:
    return load_settings(REPO / "configs")


RunStage = Callable[[Callable[[RunContext], object]], object]


@pytest.fixture
def run_stage(layout: DataLayout, settings: Settings) -> RunStage:
    """Run one stage function in a fresh run context over `layout`, as the CLI does."""

    def run(stage: Callable[[RunContext], object], command: str = "test") -> object:
        with open_run(layout, settings, command, Operator(getpass.getuser()), False) as ctx:
            result = stage(ctx)
        return dict(result.counts) if isinstance(result, StageResult) else result

    return run


@pytest.fixture(scope="session")
def heavy_scale() -> float:
    """Size factor of the `heavy` end-to-end tests, from CROSSCHECK_HEAVY_SCALE (default 1):
    a CI short of time runs them smaller (e.g. 0.34: one seed instead of three)."""
    value = float(os.environ.get("CROSSCHECK_HEAVY_SCALE", "1"))
    assert value > 0, "CROSSCHECK_HEAVY_SCALE must be positive"
    return value
