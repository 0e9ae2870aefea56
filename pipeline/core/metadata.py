"""Derived metadata: the few fields analysts compare, taken from EXIF tags and ffprobe output.

The raw tags and probe output are stored exactly as read, beside these; nothing here changes
them. Inputs are plain dicts (tag name -> printable value, ffprobe JSON), so this is pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from pipeline.core.timeparse import exif_time, normalise_iso

_ROTATED_ORIENTATIONS = {5, 6, 7, 8}  # EXIF orientations that swap width and height
# 31 days: longer than any one file a phone, camera or CCTV recorder writes. The frames stage
# allows decoding time in proportion to the duration, so a header claiming 10^12 s must not
# be believed.
MAX_DURATION_S = 31 * 24 * 3600.0


def _ratio(text: str) -> float:
    value = Fraction(text.strip()) if "/" in text else Fraction(float(text.strip()))
    return float(value)


def gps_decimal(dms: str, ref: str) -> float | None:
    """EXIF `[d, m, s]` rationals and an N/S/E/W reference as signed decimal degrees."""
    parts = [p for p in dms.strip("[] ").split(",") if p.strip()]
    if len(parts) != 3:
        return None
    try:
        degrees, minutes, seconds = (_ratio(p) for p in parts)
    except (ValueError, ZeroDivisionError):
        return None
    value = degrees + minutes / 60 + seconds / 3600
    return round(-value if ref.strip().upper() in {"S", "W"} else value, 7)


def exif_orientation(tags: dict[str, str]) -> int:
    raw = tags.get("Image Orientation", "")
    names = {
        "Horizontal (normal)": 1,
        "Mirrored horizontal": 2,
        "Rotated 180": 3,
        "Mirrored vertical": 4,
        "Mirrored horizontal then rotated 90 CCW": 5,
        "Rotated 90 CW": 6,
        "Mirrored horizontal then rotated 90 CW": 7,
        "Rotated 90 CCW": 8,
    }
    if raw in names:
        return names[raw]
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 8 else 1


def image_fields(tags: dict[str, str]) -> dict[str, Any]:
    """Capture time, camera, software, GPS and orientation from exifread's printable tags."""
    stamp_tag = "EXIF DateTimeOriginal" if tags.get("EXIF DateTimeOriginal") else "Image DateTime"
    stamp, offset = tags.get(stamp_tag, ""), tags.get("EXIF OffsetTimeOriginal", "")
    captured = exif_time(stamp, offset)
    warnings: list[str] = []
    if stamp.strip() and not captured:
        warnings.append(_unread_time(stamp_tag, stamp))
    elif offset.strip() and captured and not captured.endswith("Z"):
        warnings.append(_unread_time("EXIF OffsetTimeOriginal", offset) + " (time kept naive)")
    fields: dict[str, Any] = {
        "captured_at": captured or "",
        "camera_make": tags.get("Image Make", "").strip(),
        "camera_model": tags.get("Image Model", "").strip(),
        "software": tags.get("Image Software", "").strip(),
        "orientation": exif_orientation(tags),
        "gps_lat": None,
        "gps_lon": None,
        "metadata_warnings": "; ".join(warnings),
    }
    if "GPS GPSLatitude" in tags and "GPS GPSLongitude" in tags:
        fields["gps_lat"] = gps_decimal(
            tags["GPS GPSLatitude"], tags.get("GPS GPSLatitudeRef", "N")
        )
        fields["gps_lon"] = gps_decimal(
            tags["GPS GPSLongitude"], tags.get("GPS GPSLongitudeRef", "E")
        )
    return fields


def displayed_size(width: int, height: int, orientation: int) -> tuple[int, int]:
    """Width and height as a viewer shows the image, after its EXIF orientation."""
    return (height, width) if orientation in _ROTATED_ORIENTATIONS else (width, height)


def video_stream(probe: dict[str, Any]) -> dict[str, Any] | None:
    """The first real video stream (cover art attached to audio files does not count)."""
    for stream in probe.get("streams", []):
        if stream.get("codec_type") != "video":
            continue
        if stream.get("disposition", {}).get("attached_pic") == 1:
            continue
        return dict(stream)
    return None


def has_audio(probe: dict[str, Any]) -> bool:
    return any(s.get("codec_type") == "audio" for s in probe.get("streams", []))


def rotation_cw(stream: dict[str, Any]) -> int:
    """Clockwise degrees a player turns the picture (display matrix or legacy `rotate` tag)."""
    for side in stream.get("side_data_list", []) or []:
        if "rotation" in side:
            return round(-float(side["rotation"])) % 360
    rotate = stream.get("tags", {}).get("rotate")
    return int(rotate) % 360 if rotate and str(rotate).lstrip("-").isdigit() else 0


def _rate(text: str | None) -> float | None:
    if not text or text in {"0/0", "0"}:
        return None
    try:
        value = float(Fraction(text))
    except (ValueError, ZeroDivisionError):
        return None
    return round(value, 3) if value > 0 else None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _unread_time(tag: str, text: str) -> str:
    """The warning for a time that does not parse: the text stays verbatim in the raw tags."""
    return f"{tag} {text[:80]!r} is not a time in years 1-9999; kept only as read"


def duration_problem(probe: dict[str, Any]) -> str:
    """Why a container's declared duration cannot be used ('' when it can or is absent): a
    negative, non-finite or over-MAX_DURATION_S duration comes from a corrupt or crafted
    header."""
    stream = video_stream(probe) or {}
    declared = (
        ("container", probe.get("format", {}).get("duration")),
        ("video stream", stream.get("duration")),
    )
    for where, value in declared:
        number = _float(value)
        if number is not None and not (0 <= number <= MAX_DURATION_S):
            return f"{where} declares a duration of {value} s (corrupt or crafted header)"
    return ""


def video_fields(probe: dict[str, Any]) -> dict[str, Any]:
    """Duration, codec, displayed size, frame rate, rotation, creation time and encoder."""
    stream = video_stream(probe) or {}
    fmt = probe.get("format", {})
    tags = {**stream.get("tags", {}), **fmt.get("tags", {})}
    rotation = rotation_cw(stream)
    width, height = int(stream.get("width") or 0), int(stream.get("height") or 0)
    if rotation in {90, 270}:
        width, height = height, width
    duration = _float(fmt.get("duration")) or _float(stream.get("duration"))
    creation_text = str(tags.get("creation_time", "")).strip()
    creation = normalise_iso(creation_text) or ""
    warnings = (
        [_unread_time("creation_time", creation_text)] if creation_text and not creation else []
    )
    return {
        "codec": stream.get("codec_name", ""),
        "width": width or None,
        "height": height or None,
        "duration_s": round(duration, 3) if duration else None,
        "fps": _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate")),
        "rotation": rotation,
        "creation_time": creation,
        "encoder": str(tags.get("encoder", "")).strip(),
        "container": fmt.get("format_name", ""),
        "bit_rate": int(fmt["bit_rate"]) if str(fmt.get("bit_rate", "")).isdigit() else None,
        "field_order": stream.get("field_order", ""),
        "pix_fmt": stream.get("pix_fmt", ""),
        "audio": has_audio(probe),
        "metadata_warnings": "; ".join(warnings),
    }


def exposure_stamp(raw_metadata: Mapping[str, Any]) -> str:
    """The moment the camera exposed the picture (EXIF DateTimeOriginal, with its sub-second
    field when present), or "" when the file does not say. Only this tag names an exposure:
    `Image DateTime` is rewritten by any editor that saves the file (the ThreatExchange bridge
    edits carry Photoshop's save times), so two edits of one photo would look like two
    captures."""
    exif = raw_metadata.get("exif")
    if not isinstance(exif, Mapping):
        return ""
    stamp = str(exif.get("EXIF DateTimeOriginal", "")).strip()
    sub = str(exif.get("EXIF SubSecTimeOriginal", "")).strip()
    return f"{stamp}.{sub}" if stamp and sub else stamp
