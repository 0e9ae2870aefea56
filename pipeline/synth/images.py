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


def _text_lines(
    draw: ImageDraw.ImageDraw, left: int, top: int, width: int, lines: int, size: int, seed: int
) -> None:
    """Grey bars of varying length where a page shows text (no font needed)."""
    rng = np.random.default_rng(seed)
    for line in range(lines):
        length = int(width * (0.45 + 0.5 * rng.random()))
        y = top + line * size * 2
        draw.rectangle((left, y, left + length, y + size), fill=(120, 124, 130))


def screenshot_phone(image: np.ndarray, seed: int = 0, fill: float = 0.92) -> np.ndarray:
    """The picture scaled into a phone app's feed (720 x 1480 portrait): status bar, app
    header, avatar and name above it, caption lines and a tab bar below, as a phone
    screenshot of a post shows it. The picture keeps its aspect at `fill` of the screen width."""
    width, height = 720, 1480
    canvas = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, width, 48), fill=(20, 20, 20))
    draw.rectangle((0, 48, width, 150), fill=(59, 89, 152))
    draw.ellipse((24, 170, 94, 240), fill=(200, 120, 60))
    _text_lines(draw, 110, 185, 260, 2, 14, seed)
    pic_w = round(width * fill)
    pic_h = round(image.shape[0] * pic_w / image.shape[1])
    picture = Image.fromarray(image).resize((pic_w, pic_h), Image.Resampling.LANCZOS)
    top = 260
    canvas.paste(picture, ((width - pic_w) // 2, top))
    _text_lines(draw, 30, top + pic_h + 30, width - 60, 6, 16, seed + 1)
    draw.rectangle((0, height - 110, width, height), fill=(235, 235, 235))
    for i in range(5):
        x = 50 + i * 140
        draw.rectangle((x, height - 80, x + 50, height - 30), fill=(90, 90, 90))
    return np.asarray(canvas)


def screenshot_web(image: np.ndarray, seed: int = 0, fill: float = 0.45) -> np.ndarray:
    """The picture inside a news page captured on a desktop (1280 x 800): browser bar, site
    header, the picture at `fill` of the page width beside a column of text and boxes."""
    width, height = 1280, 800
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, width, 70), fill=(222, 225, 230))
    draw.rectangle((160, 20, 1100, 50), fill=(255, 255, 255))
    draw.rectangle((0, 70, width, 140), fill=(160, 20, 30))
    pic_w = round(width * fill)
    pic_h = min(round(image.shape[0] * pic_w / image.shape[1]), height - 200)
    pic_w = round(image.shape[1] * pic_h / image.shape[0])
    picture = Image.fromarray(image).resize((pic_w, pic_h), Image.Resampling.LANCZOS)
    canvas.paste(picture, (80, 170))
    _text_lines(draw, 80 + pic_w + 40, 180, width - pic_w - 200, 12, 12, seed)
    draw.rectangle((width - 260, 520, width - 40, 760), fill=(210, 230, 245))
    return np.asarray(canvas)


def low_texture(image: np.ndarray) -> np.ndarray:
    """A dark, low-contrast version (fog over water at dusk): grey levels squeezed into
    about 30-70 with a blur, the kind of picture whose PDQ quality falls below 50."""
    from PIL import ImageFilter

    grey_image = Image.fromarray(image).convert("L").filter(ImageFilter.GaussianBlur(3))
    values = np.asarray(grey_image).astype(np.float32)
    squeezed = 30 + (values - values.min()) * (40 / max(1.0, float(np.ptp(values))))
    tint = np.array([0.9, 1.0, 1.1], np.float32)
    return np.clip(squeezed[..., None] * tint, 0, 255).astype(np.uint8)
