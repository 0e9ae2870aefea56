"""Issue 13 (hardening), part A, item 13 (decoding limits): the count stage's detector on a
sliver of a picture. A 6 KB image one pixel high cost HOG 20-65 s and ~1.9 GB (once a 325 GB
allocation), because small frames are enlarged until their short side is 480 px."""

from __future__ import annotations

import subprocess
import sys

import pytest

_CHILD = """
import resource, sys
import numpy as np
from pipeline.io.detectors import HogHaarDetector
detector = HogHaarDetector()
with open("/proc/self/status") as status:
    mapped = next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmSize:"))
budget = mapped + (1 << 30)  # what is mapped now plus 1 GiB for one detection
resource.setrlimit(resource.RLIMIT_AS, (budget, budget))
height, width = int(sys.argv[1]), int(sys.argv[2])
boxes = detector.detect(np.full((height, width, 3), 128, np.uint8))
print(len(boxes))
"""


def detect_within_a_gibibyte(height: int, width: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(height), str(width)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_item13_one_pixel_high_frame_is_detected_on_within_a_gibibyte() -> None:
    """Item 13: a frame 1 px high and 320 px wide (the thumbnail of such an image)."""
    done = detect_within_a_gibibyte(1, 320)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.strip() == "0"


@pytest.mark.parametrize(("height", "width"), [(320, 1), (2, 4000)])
def test_item13_variant_other_slivers_are_bounded_too(height: int, width: int) -> None:
    """Further variant of item 13 (not named): one pixel wide, and a long 2 px strip."""
    done = detect_within_a_gibibyte(height, width)
    assert done.returncode == 0, done.stderr[-500:]
