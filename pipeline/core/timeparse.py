"""Timestamps as they come from sidecars, EXIF and containers, normalised to ISO 8601.

Times with a zone become UTC (`2024-05-01T10:00:00Z`); times without one stay naive
(`2024-05-01T10:00:00`) because inventing a zone would be a claim the evidence does not make.

Every time written is one `sort_key` reads back: years are four digits, zero-padded, and only
moments whose UTC form lies in years 1-9999 are accepted. A time outside that range (year 0
or 10000 after applying its offset) or in no ISO form is refused (None): the caller keeps the
text as it was read and says why it was ignored, never stops on it.
"""

from __future__ import annotations

from datetime import UTC, datetime

_NEVER = datetime.max.replace(tzinfo=UTC)  # where text that is not a normalised time sorts


def normalise_iso(text: str) -> str | None:
    """Return the normalised form of an ISO 8601 time, or None when text is not one (or
    names a moment outside years 1-9999 once its offset is applied)."""
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
    """EXIF's `YYYY:MM:DD HH:MM:SS` (plus OffsetTime* `+02:00` when present) as ISO 8601.

    An offset that does not parse, or that moves the moment out of range, is dropped: the
    local time stays, naive, as the camera wrote it."""
    stamp = stamp.strip()
    try:
        moment = datetime.strptime(stamp, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if offset.strip():
        with_zone = normalise_iso(_format_naive(moment) + offset.strip())
        if with_zone:
            return with_zone
    return _format(moment)


def sort_key(iso: str) -> datetime:
    """Order normalised times; naive ones are ordered as if they were UTC. Text that is not a
    normalised time (a catalog written by an older version) sorts last instead of raising."""
    try:
        moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return _NEVER
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def earliest(times: list[str]) -> str:
    """The earliest of several normalised times, or '' when there are none."""
    present = [t for t in times if t]
    return min(present, key=sort_key) if present else ""


def _format_naive(moment: datetime) -> str:
    # Not strftime: glibc writes year 999 as "999", which fromisoformat cannot read back.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    )


def _format(moment: datetime) -> str | None:
    moment = moment.replace(microsecond=0)
    if moment.tzinfo is None:
        return _format_naive(moment)
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # year 0 or 10000 once the offset is applied
        return None
    return _format_naive(in_utc) + "Z"
