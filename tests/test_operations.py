"""The scheduling files in docs/ (systemd units, crontab line) are valid and run a command
line that crosscheck accepts; docs/operations.md shows them and every exit status."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.cli import build_parser
from pipeline.core.outcome import EXIT_LOCKED, EXIT_MEANINGS, EXIT_NOTHING_TO_DO
from tests.conftest import REPO

DOCS = REPO / "docs"
SERVICE, TIMER = DOCS / "systemd" / "crosscheck.service", DOCS / "systemd" / "crosscheck.timer"
CRONTAB = DOCS / "cron" / "crosscheck.crontab"
CRON_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def accepted(command: str) -> None:
    """The crosscheck part of a shell command parses as the CLI's own arguments."""
    words = shlex.split(command)
    program = next(i for i, word in enumerate(words) if word.endswith("/crosscheck"))
    args = build_parser().parse_args(words[program + 1 :])
    assert args.command == "run" and args.quiet and not args.full
    assert args.log_file is not None and args.summary_json is not None


def test_service_runs_an_incremental_run_and_treats_only_3_as_success() -> None:
    """Issue 13 item 12 (systemd part): exit 75, a lock held by another command (stuck, if
    it repeats), used to count as success, so a stuck lock never alerted anyone."""
    service = unit(SERVICE)
    assert set(service.sections()) == {"Unit", "Service"}
    assert service["Service"]["Type"] == "oneshot"
    accepted(service["Service"]["ExecStart"])
    success = {int(x) for x in service["Service"]["SuccessExitStatus"].split()}
    assert success == {EXIT_NOTHING_TO_DO} and EXIT_LOCKED not in success
    assert "/data/raw" in service["Service"]["ReadOnlyPaths"]


def test_service_stops_a_hung_run_and_marks_it_failed() -> None:
    """Issue 13 item 12, variant not named: the stuck holder itself is the systemd unit (a
    run hung on a named pipe); the timer never starts it again, so without a start timeout
    the unit stays "activating" for ever and nothing ever fails."""
    timeout = unit(SERVICE)["Service"]["TimeoutStartSec"]
    match = re.fullmatch(r"(\d+)(h|min|s)", timeout)
    assert match, timeout
    seconds = int(match[1]) * {"h": 3600, "min": 60, "s": 1}[match[2]]
    assert 0 < seconds <= 24 * 3600


def test_timer_is_hourly_and_installable() -> None:
    timer = unit(TIMER)
    assert timer["Timer"]["OnCalendar"] == "hourly" and timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    # The units name the installed paths; verify needs the program to exist, so the copies
    # name an executable that does.
    for path in (SERVICE, TIMER):
        text = path.read_text().replace("/opt/crosscheck/.venv/bin/crosscheck", "/bin/true")
        (tmp_path / path.name).write_text(text)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / SERVICE.name), str(tmp_path / TIMER.name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _cron_values(field: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        match = re.fullmatch(r"(\*|(\d+)(?:-(\d+))?)(?:/(\d+))?", part)
        assert match, f"not a cron field: {part!r}"
        start, end = (low, high) if match[1] == "*" else (int(match[2]), int(match[3] or match[2]))
        assert low <= start <= end <= high, f"{part!r} outside {low}-{high}"
        values |= set(range(start, end + 1, int(match[4] or 1)))
    return values


def test_cron_line_has_five_valid_time_fields_and_a_valid_command() -> None:
    (line,) = [x for x in CRONTAB.read_text().splitlines() if x.strip() and not x.startswith("#")]
    fields = line.split(None, 5)
    for text, (_, low, high) in zip(fields[:5], CRON_FIELDS, strict=True):
        assert _cron_values(text, low, high)
    assert _cron_values(fields[0], 0, 59) == {17} and fields[1:5] == ["*"] * 4
    command = fields[5]
    assert command.startswith("cd /opt/crosscheck && timeout ")
    crosscheck = command.removeprefix("cd /opt/crosscheck && ").split(" >/dev/null;")[0]
    accepted(crosscheck)


def _cron_command_with(tmp_path: Path, exit_status: int) -> subprocess.CompletedProcess[str]:
    """Run the crontab's command under /bin/sh, as cron does, with a stand-in crosscheck
    that exits with `exit_status`."""
    (line,) = [x for x in CRONTAB.read_text().splitlines() if x.strip() and not x.startswith("#")]
    command = line.split(None, 5)[5].replace("cd /opt/crosscheck", f"cd {tmp_path}")
    program = tmp_path / ".venv" / "bin" / "crosscheck"
    program.parent.mkdir(parents=True, exist_ok=True)
    program.write_text(f"#!/bin/sh\nexit {exit_status}\n")
    program.chmod(0o755)
    return subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("timeout") is None, reason="no coreutils timeout")
@pytest.mark.parametrize("status", [EXIT_LOCKED, 1, 2, 124])
def test_cron_mails_every_status_that_needs_a_person(tmp_path: Path, status: int) -> None:
    """Issue 13 item 12 (cron part): a held lock (75) and a run stopped by the time limit
    (124, the variant not named) reach stderr, which cron mails."""
    done = _cron_command_with(tmp_path, status)
    assert f"exit status {status}" in done.stderr


@pytest.mark.skipif(shutil.which("timeout") is None, reason="no coreutils timeout")
@pytest.mark.parametrize("status", [0, EXIT_NOTHING_TO_DO])
def test_cron_is_quiet_when_all_is_well(tmp_path: Path, status: int) -> None:
    assert _cron_command_with(tmp_path, status).stderr == ""


def test_operations_guide_shows_the_files_and_every_exit_status() -> None:
    guide = (DOCS / "operations.md").read_text()
    (line,) = [x for x in CRONTAB.read_text().splitlines() if x.strip() and not x.startswith("#")]
    assert line in guide
    assert "docs/systemd/crosscheck.service" in guide and "docs/systemd/crosscheck.timer" in guide
    for code in EXIT_MEANINGS:
        assert re.search(rf"^\| `?{code}`? \|", guide, re.M), f"exit {code} missing"
