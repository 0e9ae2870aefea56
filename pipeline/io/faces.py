"""Face descriptors: dlib's ResNet model (128 numbers per face, Euclidean distance), aligned
with dlib's 5-point landmark model. Both weights ship in `face_recognition_models` (public
domain); dlib itself comes from the `dlib-bin` wheel (Boost licence). The 68-point landmark
model in the same package is not used: its weights carry a non-commercial restriction.

Other weights can be given by path (count.face_shape_model, count.face_descriptor_model);
their SHA-256 names the describer, so descriptors are computed once per face and model.
Descriptors are personal data of victims: they stay in the local catalog (docs/count.md).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.io.detectors import Box, DetectorError

DESCRIPTOR_DIMENSIONS = 128
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR_MODEL = "dlib_face_recognition_resnet_model_v1.dat"


def packaged_face_models() -> tuple[Path, Path]:
    """(5-point landmark model, ResNet descriptor model) inside face_recognition_models."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorError(
            "face descriptors need the `face_recognition_models` package (make setup installs "
            "it), or count.face_shape_model and count.face_descriptor_model paths"
        )
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    return models / SHAPE_MODEL, models / DESCRIPTOR_MODEL


def _sha256(path: Path) -> str:
    if not path.is_file():
        raise DetectorError(f"face model not found at {path}")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class DlibFaceDescriber:
    """describe(rgb, box) -> 128 float32 numbers, or None for a face under min_face_px (its
    shorter side in the picture given): smaller faces are too unreliable to compare."""

    shape_model: Path
    descriptor_model: Path
    min_face_px: int = 32
    name: str = field(default="dlib", init=False)

    def __post_init__(self) -> None:
        import dlib  # imported here: a run without face descriptors never loads it

        shape_sha, descriptor_sha = _sha256(self.shape_model), _sha256(self.descriptor_model)
        self.name = f"dlib:{shape_sha[:12]}+{descriptor_sha[:12]},min={self.min_face_px}"
        self._dlib: Any = dlib
        self._shape = dlib.shape_predictor(str(self.shape_model))
        self._describe = dlib.face_recognition_model_v1(str(self.descriptor_model))

    def describe(self, rgb: np.ndarray, box: Box) -> np.ndarray | None:
        if min(box.width, box.height) < self.min_face_px:
            return None
        picture = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        rect = self._dlib.rectangle(box.x, box.y, box.x + box.width, box.y + box.height)
        landmarks = self._shape(picture, rect)
        vector = self._describe.compute_face_descriptor(picture, landmarks)
        return np.asarray(vector, dtype=np.float32)


def make_describer(
    shape_model: str = "", descriptor_model: str = "", min_face_px: int = 32
) -> DlibFaceDescriber:
    shape_default, descriptor_default = (
        packaged_face_models() if not (shape_model and descriptor_model) else (Path(), Path())
    )
    return DlibFaceDescriber(
        Path(shape_model) if shape_model else shape_default,
        Path(descriptor_model) if descriptor_model else descriptor_default,
        min_face_px,
    )
