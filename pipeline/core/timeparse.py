"""Timestamps as they come from sidecars, EXIF and containers, normalised to ISO 8601.

Times with a zone become UTC (`2024-05-01T10:00:00Z`); times without one stay naive
(`2024-05-01T10:00:00`) because inventing a zone would be a claim the evidence does not make.
"""

from __future__ import annotations

from datetime import UTC, datetime


def normalise_iso(text: str) -> str | None:
    """Return the normalised form of an ISO 8601 time, or None when text is not one."""
    text = text.strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return _format(moment)


def exif_time(stamp: str, offset: str = "") -> str | None:
    """EXIF's `YYYY:MM:DD HH:MM:SS` (plus OffsetTime* `+02:00` when present) as ISO 8601."""
    stamp = stamp.strip()
    try:
        moment = datetime.strptime(stamp, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if offset.strip():
        with_zone = normalise_iso(moment.strftime("%Y-%m-%dT%H:%M:%S") + offset.strip())
        if with_zone:
            return with_zone
    return _format(moment)


def sort_key(iso: str) -> datetime:
    """Order normalised times; naive ones are ordered as if they were UTC."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def earliest(times: list[str]) -> str:
    """The earliest of several normalised times, or '' when there are none."""
    present = [t for t in times if t]
    return min(present, key=sort_key) if present else ""


def _format(moment: datetime) -> str:
    moment = moment.replace(microsecond=0)
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
