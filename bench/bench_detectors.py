"""Person detectors, old and new side by side: count error and time per frame on real media.

Frames are those the count stage sees: each picture resized so its longest side is 320 px
(the stored thumbnail). The truth was established by looking at each picture (the same counts
tests/io/test_detectors.py writes down): people visible, whether or not their face shows.

- vtest.avi (Debian's opencv-doc; pedestrians seen from above) at 0 s (3 people), 2 s (5, one
  half hidden by the sign post) and 40 s (3);
- basketball1.png and basketball2.png (opencv-doc): two men each;
- scikit-image's astronaut (1), the astronaut beside her mirror image (2), matplotlib's Grace
  Hopper (1);
- people-free: scikit-image's coffee, rocket, chelsea, colorwheel (0 each).

Old: `opencv` (HOG at the stored size, 480 px short side, plus the Haar face cascade). New:
`centerface` (CenterFace at 320 px plus HOG at 1152 px). A frame's proposal is the larger of
its person and face boxes. Error: proposal minus truth per frame (negative: missed people;
positive: people that are not there, which a lower bound must avoid). Face descriptors (dlib)
are timed per face on the same pictures' faces.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from pipeline.io.detectors import DetectorSettings, make_detector, people_count
from pipeline.io.faces import make_describer
from pipeline.synth import images as im

NAME = "Detectors: count error and time per frame, opencv (old) vs centerface (new)"
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _stored(rgb: np.ndarray) -> np.ndarray:
    return im.resize(rgb, 320 / max(rgb.shape[:2]))


def _load(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _vtest(t_s: float) -> np.ndarray:
    capture = cv2.VideoCapture(str(OPENCV_DATA / "vtest.avi"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, round(t_s * 10))
    ok, bgr = capture.read()
    capture.release()
    assert ok
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def cases() -> list[tuple[str, np.ndarray, int]]:
    import matplotlib

    astronaut = im.photo("astronaut")
    hopper = _load(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg")
    out = [
        ("vtest 0 s", _vtest(0.0), 3),
        ("vtest 2 s", _vtest(2.0), 5),
        ("vtest 40 s", _vtest(40.0), 3),
        ("basketball1", _load(OPENCV_DATA / "basketball1.png"), 2),
        ("basketball2", _load(OPENCV_DATA / "basketball2.png"), 2),
        ("astronaut", astronaut, 1),
        ("astronaut pair", np.concatenate([astronaut, im.mirror(astronaut)], axis=1), 2),
        ("grace hopper", hopper, 1),
    ]
    out += [(name, im.photo(name), 0) for name in ("coffee", "rocket", "chelsea", "colorwheel")]
    return [(name, _stored(rgb), truth) for name, rgb, truth in out]


def run(scale: float) -> str:
    del scale  # fixed real media: nothing to scale
    frames = cases()
    rows = []
    totals = {}
    for kind in ("opencv", "centerface"):
        detector = make_detector(DetectorSettings(kind))
        assert detector is not None
        detector.detect(frames[0][1])  # warm-up (model load, first-shape setup)
        errors, seconds = [], []
        for _, rgb, truth in frames:
            started = time.perf_counter()
            proposal = people_count(detector.detect(rgb))
            seconds.append(time.perf_counter() - started)
            errors.append(proposal - truth)
        totals[kind] = (errors, seconds)
    for k, (name, _, truth) in enumerate(frames):
        old, new = totals["opencv"], totals["centerface"]
        rows.append(
            f"| {name} | {truth} | {truth + old[0][k]} | {truth + new[0][k]} "
            f"| {old[1][k] * 1000:.0f} | {new[1][k] * 1000:.0f} |"
        )
    summary = []
    for kind, (errors, seconds) in totals.items():
        summary.append(
            f"| {kind} | {sum(-e for e in errors if e < 0)} | {sum(e for e in errors if e > 0)} "
            f"| {sum(abs(e) for e in errors)} | {1000 * float(np.median(seconds)):.0f} "
            f"| {1000 * max(seconds):.0f} |"
        )
    describer = make_describer()
    faces = make_detector(DetectorSettings("centerface", person_width_px=0))
    assert faces is not None
    face_seconds = []
    for _, rgb, _ in frames:
        for box in faces.detect(rgb):
            started = time.perf_counter()
            if describer.describe(rgb, box) is not None:
                face_seconds.append(time.perf_counter() - started)
    return (
        __doc__.split("\n\n", 1)[1]
        + "\n| frame | truth | opencv | centerface | opencv ms | centerface ms |\n"
        + "|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\n| detector | people missed | people too many | total error | median ms/frame "
        + "| worst ms/frame |\n|---|---|---|---|---|---|\n"
        + "\n".join(summary)
        + f"\n\nFace descriptors: {len(face_seconds)} faces of at least 32 px described, "
        + f"median {1000 * float(np.median(face_seconds)):.0f} ms a face. Per media: the count "
        + "stage detects every stored frame once per detector setting (cached in the catalog), "
        + "so a video costs its sampled frames (about one a second) times the time per frame, "
        + "a still one frame; descriptors once per face and describer.\n"
    )
