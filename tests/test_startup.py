"""What a short command pays before its first frame: the command line's import path, and the
frames stage's, leave the heavy libraries (faiss, scipy, OpenCV, Dask, Flask, pandas, the
report's templates) unimported until a stage that needs them runs (issue 17, fixed costs).

Each check runs in a fresh interpreter, because this test process has imported everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pipeline.cli import main
from pipeline.layout import DataLayout
from tests.media import jpeg, put, video

REPO = Path(__file__).resolve().parents[1]
# Modules that cost tens to hundreds of milliseconds to import and that neither the command
# line nor the frames stage uses.
HEAVY = (
    "cv2",
    "dask",
    "distributed",
    "faiss",
    "flask",
    "jinja2",
    "pandas",
    "pdqhash",
    "scipy",
    "skimage",
    "sklearn",
    "torch",
)


def _heavy_imported_after(code: str) -> list[str]:
    """Run `code` in a fresh interpreter; the HEAVY modules it left in sys.modules."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    return sorted(name for name in HEAVY if name in loaded)


def test_importing_the_command_line_imports_no_heavy_module() -> None:
    assert _heavy_imported_after("import pipeline.cli") == []


def test_the_frames_command_imports_no_heavy_module(layout: DataLayout) -> None:
    video(layout.raw / "inc" / "src" / "clip.mp4", seconds=1.0)
    put(layout.raw, "inc/src/photo.jpg", jpeg("coffee"))
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "ingest"]) == 0
    code = (
        "from pipeline.cli import main\n"
        f"assert main(['--data-dir', {str(layout.data_dir)!r}, '--quiet', 'frames']) == 0"
    )
    assert _heavy_imported_after(code) == []
    assert list(layout.thumbs.rglob("*.jpg")), "the frames command sampled nothing"


def test_a_stage_that_needs_a_heavy_module_still_gets_it() -> None:
    """The guard above must be able to fail: the probe sees what a stage imports."""
    assert "faiss" in _heavy_imported_after(
        "from pipeline.cli import stage_function\n"
        "from pipeline.core.hamming import make_index\n"
        "stage_function('dedupe'); make_index('faiss_flat', 256)"
    )
