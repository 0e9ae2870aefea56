"""Synthetic stills: scikit-image's sample photos and the transforms reposts go through.

Every transform takes an HxWx3 uint8 RGB array and returns a new one; none mutates its input.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "colorwheel",
)


def photo(name: str) -> np.ndarray:
    """A colour sample photo from scikit-image (shipped in the package, no download)."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def jpeg_bytes(image: np.ndarray, quality: int = 90, exif: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    kwargs = {"exif": exif} if exif else {}
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality, **kwargs)
    return buffer.getvalue()


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB")).copy()


def recompress(image: np.ndarray, quality: int) -> np.ndarray:
    return decode(jpeg_bytes(image, quality))


def resize(image: np.ndarray, scale: float) -> np.ndarray:
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def mirror(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[:, ::-1])


def crop(image: np.ndarray, fraction: float, anchor: str = "center") -> np.ndarray:
    """Cut `fraction` of the width and height away (split per anchor: center, tl, br)."""
    height, width = image.shape[:2]
    cut_h, cut_w = round(height * fraction), round(width * fraction)
    top, left = {"center": (cut_h // 2, cut_w // 2), "tl": (0, 0), "br": (cut_h, cut_w)}[anchor]
    return np.ascontiguousarray(image[top : height - cut_h + top, left : width - cut_w + left])


def pad(
    image: np.ndarray, fraction: float, colour: tuple[int, int, int] = (0, 0, 0), sides: str = "tb"
) -> np.ndarray:
    """Letterbox ('tb'), pillar-box ('lr') or frame ('all') with a uniform colour."""
    height, width = image.shape[:2]
    pad_h = round(height * fraction) if sides in {"tb", "all"} else 0
    pad_w = round(width * fraction) if sides in {"lr", "all"} else 0
    out = np.empty((height + 2 * pad_h, width + 2 * pad_w, 3), np.uint8)
    out[:] = colour
    out[pad_h : pad_h + height, pad_w : pad_w + width] = image
    return out


def watermark(image: np.ndarray, text: str = "@repost_channel", opacity: float = 0.6) -> np.ndarray:
    """A semi-transparent text band near the bottom, as reposting channels add."""
    base = Image.fromarray(image).convert("RGBA")
    layer = Image.new("RGBA", base.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(12, base.size[1] // 14)
    font = ImageFont.load_default(size=size)
    alpha = round(255 * opacity)
    draw.text(
        (base.size[0] // 20, base.size[1] - 2 * size), text, fill=(255, 255, 255, alpha), font=font
    )
    return np.asarray(Image.alpha_composite(base, layer).convert("RGB"))


def colour_shift(image: np.ndarray, gain: float = 1.15, bias: int = 10) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)


def uniform(height: int, width: int, colour: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    out = np.empty((height, width, 3), np.uint8)
    out[:] = colour
    return out


def exif_block(
    make: str,
    model: str,
    taken: str,
    lat: float,
    lon: float,
    software: str = "",
    offset: str = "",
) -> bytes:
    """An EXIF block (camera, capture time `YYYY:MM:DD HH:MM:SS` and its OffsetTimeOriginal
    `+02:00` when given, GPS) for a generated JPEG."""
    from PIL.TiffImagePlugin import IFDRational

    def dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
        value = abs(value)
        degrees = int(value)
        minutes = int((value - degrees) * 60)
        seconds = round((value - degrees - minutes / 60) * 3600, 2)
        return (
            IFDRational(degrees, 1),
            IFDRational(minutes, 1),
            IFDRational(round(seconds * 100), 100),
        )

    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    if software:
        exif[0x0131] = software
    exif[0x0132] = taken
    exif.get_ifd(0x8769)[0x9003] = taken
    if offset:
        exif.get_ifd(0x8769)[0x9011] = offset
    gps = exif.get_ifd(0x8825)
    gps[1] = "N" if lat >= 0 else "S"
    gps[2] = dms(lat)
    gps[3] = "E" if lon >= 0 else "W"
    gps[4] = dms(lon)
    return exif.tobytes()
