"""Face descriptors on real photos: the same person across copies, photos and consecutive
video frames stays within count.face_same_max; different people stay beyond
count.face_distinct_min. The margins measured here are the ones configs/default.yaml quotes.

People (by looking): Eileen Collins (scikit-image's astronaut), Grace Hopper (matplotlib's
sample), the man facing the camera in opencv-doc's basketball1.png and basketball2.png (two
photos a moment apart), and the footballer of messi5.jpg."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest

from pipeline.config import CountConfig
from pipeline.io.detectors import CenterFaceDetector, packaged_centerface
from pipeline.io.faces import make_describer
from pipeline.synth import images as im

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
needs_opencv_doc = pytest.mark.skipif(
    not (OPENCV_DATA / "basketball1.png").is_file(), reason="Debian's opencv-doc (make setup)"
)
SAME_MAX = CountConfig().face_same_max
DISTINCT_MIN = CountConfig().face_distinct_min


def load(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    data = np.frombuffer(im.jpeg_bytes(rgb, quality), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def describe(rgb: np.ndarray) -> np.ndarray:
    """The largest face's descriptor (each picture here shows one clear face)."""
    boxes = [b for b in CenterFaceDetector(packaged_centerface()).detect(rgb) if b.label == "face"]
    box = max(boxes, key=lambda b: b.width * b.height)
    vector = make_describer(min_face_px=CountConfig().face_min_px).describe(rgb, box)
    assert vector is not None, f"face of {box.width}x{box.height} px is below the minimum"
    return vector


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b))


def people() -> dict[str, np.ndarray]:
    photos = {
        "astronaut": im.photo("astronaut"),
        "hopper": load(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"),
    }
    if (OPENCV_DATA / "basketball1.png").is_file():
        photos["basketball"] = im.resize(load(OPENCV_DATA / "basketball1.png"), 1.5)
        photos["messi"] = im.resize(load(OPENCV_DATA / "messi5.jpg"), 2.0)
    return photos


@pytest.mark.parametrize("name", ["astronaut", "hopper"])
def test_mirrored_resized_and_reencoded_copies_are_one_person(name: str) -> None:
    original = people()[name]
    reference = describe(original)
    for copy in (im.mirror(original), im.resize(original, 0.5), jpeg(original, 40)):
        assert distance(reference, describe(copy)) <= SAME_MAX


@needs_opencv_doc
def test_two_photos_of_one_man_are_one_person() -> None:
    """basketball1.png and basketball2.png: the man on the left, a moment apart. His face is
    31 px wide, under the minimum, so both photos are enlarged 1.5x (no new detail)."""
    first = describe(im.resize(load(OPENCV_DATA / "basketball1.png"), 1.5))
    second = describe(im.resize(load(OPENCV_DATA / "basketball2.png"), 1.5))
    assert distance(first, second) <= SAME_MAX


def test_consecutive_video_frames_are_one_person(tmp_path: Path) -> None:
    """The astronaut slowly zoomed in an H.264 video: frames 10 and 11, decoded by ffmpeg."""
    still = tmp_path / "astronaut.png"
    cv2.imwrite(str(still), cv2.cvtColor(im.photo("astronaut"), cv2.COLOR_RGB2BGR))
    clip = tmp_path / "zoom.mp4"
    zoom = "zoompan=z='1+0.004*on':d=25:s=512x512:fps=25"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-loop",
            "1",
            "-i",
            str(still),
            "-vf",
            zoom,
            "-t",
            "1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(clip),
        ],
        check=True,
    )
    capture = cv2.VideoCapture(str(clip))
    frames = []
    while len(frames) < 12:
        ok, bgr = capture.read()
        assert ok
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    capture.release()
    assert distance(describe(frames[10]), describe(frames[11])) <= SAME_MAX


def test_different_people_are_never_within_the_distinct_threshold() -> None:
    vectors = {name: describe(rgb) for name, rgb in people().items()}
    assert len(vectors) >= 2
    for a, b in itertools.combinations(vectors, 2):
        assert distance(vectors[a], vectors[b]) >= DISTINCT_MIN, (a, b)


def test_a_face_below_the_minimum_size_is_not_described() -> None:
    tiny = im.resize(im.photo("astronaut"), 0.25)  # the face is ~25 px wide
    boxes = CenterFaceDetector(packaged_centerface()).detect(tiny)
    assert boxes and make_describer(min_face_px=32).describe(tiny, boxes[0]) is None
