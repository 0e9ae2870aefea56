"""The command line: help that explains, clear one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.cli import build_parser, main
from pipeline.layout import DataLayout


def test_help_lists_every_stage_and_explains_data_dir() -> None:
    text = build_parser().format_help()
    for command in ("ingest", "run", "verify", "demo-data", "--data-dir"):
        assert command in text


@pytest.mark.parametrize("command", ["ingest", "run", "verify", "demo-data"])
def test_each_subcommand_has_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "--data-dir" in capsys.readouterr().out


def test_data_dir_is_accepted_before_and_after_the_command(layout: DataLayout) -> None:
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "ingest"]) == 0
    assert main(["ingest", "--data-dir", str(layout.data_dir), "--no-progress"]) == 0
    assert (layout.processed / "media.csv").exists()


def test_missing_raw_folder_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["--data-dir", str(tmp_path / "nowhere"), "ingest"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crosscheck: no raw folder") and "\n" not in err


def test_bad_config_value_is_a_clear_error(layout: DataLayout, tmp_path: Path, capsys) -> None:
    configs = tmp_path / "configs"
    configs.mkdir()
    (configs / "default.yaml").write_text("ingest:\n  probe_timeout_s: -1\n")
    assert main(["--data-dir", str(layout.data_dir), "--config-dir", str(configs), "ingest"]) == 2
    assert "ingest.probe_timeout_s" in capsys.readouterr().err


def test_python_dash_m_runs_the_same_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "crosscheck" in done.stdout


def test_demo_data_is_written_into_a_fresh_checkouts_placeholder_tree(tmp_path: Path) -> None:
    raw = tmp_path / "data" / "raw"
    raw.mkdir(parents=True)
    (raw / ".gitkeep").write_bytes(b"")
    assert main(["--data-dir", str(tmp_path / "data"), "demo-data"]) == 0
    assert (raw / "demo-incident" / "witness_upload" / "market_video.mp4").is_file()
    assert (tmp_path / "data" / "annotations" / "demo-incident" / "disjoint.csv").is_file()
