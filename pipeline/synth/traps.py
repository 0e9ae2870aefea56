"""Pictures for the synthetic family's precision traps (issue 15), from scikit-image's photos.

The development family must hold the traps the matcher is tuned against, built from its own
ingredients (never AugLy's or OpenCV's, which the held-out family uses):

- `template:NAME`: a phone screenshot of picture NAME inside one shared page (a header with
  a logo, a row of avatars, caption text, an advert photo): screenshots of different pictures
  share everything but the picture.
- `backdrop:OBJECT`: one static camera's scene (a gravel ground seen from above) with a
  different small object in front at a different place: two moments of one camera.
- `scene:left` / `scene:right`: scikit-image's stereo pair (two viewpoints of one moment).
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

PAGE_W, PAGE_H = 360, 640
TEMPLATE_PICTURES = ("cell", "microaneurysms", "clock")
BACKDROP_OBJECTS = ("horse", "logo", "face")


def _rgb(grey: np.ndarray, tint: tuple[float, float, float], lift: int = 0) -> np.ndarray:
    image = grey.astype(np.float32)[..., None] * np.array(tint) + lift
    return np.clip(image, 0, 255).astype(np.uint8)


def _fit(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """picture resized to exactly width x height (cropped to that aspect first)."""
    h, w = picture.shape[:2]
    if w / h > width / height:
        keep = round(h * width / height)
        picture = picture[:, (w - keep) // 2 : (w - keep) // 2 + keep]
    else:
        keep = round(w * height / width)
        picture = picture[(h - keep) // 2 : (h - keep) // 2 + keep]
    resized = Image.fromarray(np.ascontiguousarray(picture)).resize(
        (width, height), Image.Resampling.LANCZOS
    )
    return np.asarray(resized)


def _grey_photo(name: str) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    return image if image.ndim == 2 else image[..., :3].mean(axis=-1).astype(np.uint8)


@functools.lru_cache(maxsize=4)
def _chrome() -> np.ndarray:
    """The shared page, with the picture's place left white."""
    from skimage import data

    page = np.full((PAGE_H, PAGE_W, 3), 250, np.uint8)
    page[:56] = (38, 58, 110)
    logo = data.logo()[..., :3]
    page[8:48, 10:50] = _fit(logo, 40, 40)
    page[20:36, 60:260] = _rgb(_fit(data.text(), 200, 16), (0.8, 0.85, 1.0), 30)
    faces = data.lfw_subset()
    for i in range(5):
        face = (faces[i] * 255).astype(np.uint8) if faces.dtype != np.uint8 else faces[i]
        page[64:104, 12 + 70 * i : 52 + 70 * i] = _rgb(_fit(face, 40, 40), (1.0, 0.9, 0.8))
    page[404:470, 20:340] = _rgb(_fit(data.page(), 320, 66), (1.0, 1.0, 1.0))
    page[484:624, 20:340] = _rgb(_fit(data.brick(), 320, 140), (1.0, 0.55, 0.35), 20)
    page.setflags(write=False)
    return page


def template_picture(name: str) -> np.ndarray:
    """A phone screenshot of picture `name` in the shared page."""
    page = _chrome().copy()
    page[112:392, 20:340] = _rgb(_fit(_grey_photo(name), 320, 280), (0.95, 0.9, 1.0), 5)
    return page


def backdrop_picture(obj: str) -> np.ndarray:
    """The static camera's scene with one small object in front, each at its own place."""
    from skimage import data

    ground = _rgb(_fit(data.gravel(), 480, 360), (0.75, 0.7, 0.55), 30)
    if obj == "horse":
        mask = ~data.horse()
        picture = np.zeros((*mask.shape, 3), np.uint8)
        picture[:] = (92, 58, 36)
        top, left = 40, 40
    elif obj == "logo":
        picture = data.logo()[..., :3]
        mask = picture.min(axis=-1) < 235
        top, left = 200, 300
    else:
        faces = data.lfw_subset()
        face = faces[7] if faces.dtype == np.uint8 else (faces[7] * 255).astype(np.uint8)
        picture = _rgb(face, (1.0, 0.85, 0.7))
        mask = np.ones(face.shape, bool)
        top, left = 150, 180
    width = 110
    height = round(picture.shape[0] * width / picture.shape[1])
    picture = _fit(picture, width, height)
    mask = _fit(mask.astype(np.uint8) * 255, width, height) > 127
    region = ground[top : top + height, left : left + width]
    region[mask] = picture[mask]
    return ground


def scene_picture(side: str) -> np.ndarray:
    """One view of scikit-image's stereo pair (two cameras, one moment)."""
    from skimage import data

    left, right, _ = data.stereo_motorcycle()
    return np.ascontiguousarray((left if side == "left" else right)[..., :3])
