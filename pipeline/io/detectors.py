"""Person and face detectors: proposals only, always labelled as such in the outputs.

The default runs offline with what opencv-python 4.x ships: its HOG people detector and the
frontal-face Haar cascade (the 5.x wheels dropped both, hence the pin in pyproject.toml).
An ONNX face model (the OpenCV model zoo's YuNet) can be given by path; its SHA-256 is
recorded with every proposal, and a missing file is a clear error, never a silent fallback.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np


class DetectorError(RuntimeError):
    """The configured detector cannot run (missing or unreadable model file)."""


@dataclass(frozen=True)
class Box:
    label: str  # person | face
    x: int
    y: int
    width: int
    height: int
    score: float


class Detector(Protocol):
    name: str

    def detect(self, rgb: np.ndarray) -> list[Box]: ...


# Enlarging never makes a side longer than this: a picture 1 px high and 320 px wide would
# otherwise become 153,600 x 480 px (20-65 s and ~2 GB in HOG). 4096 px is 8x the default
# min_side_px, room for a 8:1 panorama.
MAX_SCALED_SIDE_PX = 4096
HOG_WINDOW_PX = (64, 128)  # width, height of OpenCV's default people detector window


def _scaled(rgb: np.ndarray, min_side: int) -> tuple[np.ndarray, float]:
    """Small stored frames are enlarged first: HOG's window is 64x128 px. The enlargement
    stops at MAX_SCALED_SIDE_PX on the longer side, so the work per frame is bounded."""
    scale = max(1.0, min_side / max(1, min(rgb.shape[:2])))
    scale = max(1.0, min(scale, MAX_SCALED_SIDE_PX / max(1, max(rgb.shape[:2]))))
    if scale == 1.0:
        return rgb, 1.0
    size = (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC), scale


def _unscale(label: str, x: float, y: float, w: float, h: float, score: float, scale: float) -> Box:
    return Box(
        label,
        round(x / scale),
        round(y / scale),
        round(w / scale),
        round(h / scale),
        round(float(score), 4),
    )


@dataclass
class HogHaarDetector:
    """OpenCV's HOG people detector plus the frontal-face Haar cascade."""

    min_side_px: int = 480
    hog_min_score: float = 1.0
    haar_min_neighbors: int = 8
    name: str = "opencv-hog+haar"

    def __post_init__(self) -> None:
        # Detections are stored under the detector's name and reused: the settings that
        # change which boxes come out are part of it, so changing them detects again.
        self.name = (
            f"opencv-hog+haar:score>={self.hog_min_score:g},"
            f"neighbours={self.haar_min_neighbors},side={self.min_side_px}"
        )
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]
        cascade = Path(cv2.data.haarcascades) / "haarcascade_frontalface_default.xml"  # type: ignore[attr-defined]
        self._faces = cv2.CascadeClassifier(str(cascade))
        if self._faces.empty():
            raise DetectorError(f"OpenCV's face cascade is missing at {cascade}")

    def detect(self, rgb: np.ndarray) -> list[Box]:
        image, scale = _scaled(rgb, self.min_side_px)
        if image.shape[1] < HOG_WINDOW_PX[0] or image.shape[0] < HOG_WINDOW_PX[1]:
            return []  # a sliver (a 1 px high strip): no person or face fits in it
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        boxes: list[Box] = []
        rects, weights = self._hog.detectMultiScale(
            grey, winStride=(8, 8), padding=(8, 8), scale=1.05
        )
        for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=False):
            if float(weight) >= self.hog_min_score:
                boxes.append(_unscale("person", x, y, w, h, weight, scale))
        smallest = max(24, min(grey.shape[:2]) // 12)  # tinier "faces" are mostly texture
        faces = self._faces.detectMultiScale(
            grey,
            scaleFactor=1.1,
            minNeighbors=self.haar_min_neighbors,
            minSize=(smallest, smallest),
        )
        for x, y, w, h in faces:
            boxes.append(_unscale("face", x, y, w, h, 1.0, scale))
        return boxes


@dataclass
class YuNetDetector:
    """A YuNet ONNX face model (OpenCV model zoo) through cv2.FaceDetectorYN."""

    model_path: Path
    min_score: float = 0.7
    name: str = "yunet"

    def __post_init__(self) -> None:
        if not self.model_path.is_file():
            raise DetectorError(
                f"ONNX model not found at {self.model_path}: set "
                "count.onnx_model to the path of a YuNet .onnx file"
            )
        self.sha256 = hashlib.sha256(self.model_path.read_bytes()).hexdigest()
        self.name = f"yunet:{self.sha256[:16]}"
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(self.model_path), "", (320, 320), self.min_score
            )
        except cv2.error as exc:
            raise DetectorError(f"cannot load ONNX model {self.model_path}: {exc}") from exc

    def detect(self, rgb: np.ndarray) -> list[Box]:
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        self._net.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = self._net.detect(bgr)
        if faces is None:
            return []
        return [
            Box("face", round(f[0]), round(f[1]), round(f[2]), round(f[3]), round(float(f[-1]), 4))
            for f in faces
        ]


def make_detector(
    kind: str, onnx_model: str, hog_min_score: float, haar_min_neighbors: int
) -> Detector | None:
    if kind == "none":
        return None
    if kind == "opencv":
        return HogHaarDetector(hog_min_score=hog_min_score, haar_min_neighbors=haar_min_neighbors)
    if kind == "yunet":
        if not onnx_model:
            raise DetectorError("count.detector is 'yunet' but count.onnx_model gives no path")
        return YuNetDetector(Path(onnx_model))
    raise DetectorError(f"unknown detector {kind!r} (choose opencv or yunet)")


def people_count(boxes: list[Box]) -> int:
    """People visible in one frame: the larger of person boxes and face boxes (a face
    usually lies inside a person box, so adding them would count people twice)."""
    persons = sum(1 for b in boxes if b.label == "person")
    faces = sum(1 for b in boxes if b.label == "face")
    return max(persons, faces)
