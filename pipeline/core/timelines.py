"""Geometry of the report's timelines, as plain numbers for inline SVG (no JavaScript).

Two kinds: a video overlap (two media drawn to one time scale, the shared segment of each
highlighted) and a provenance timeline (every sighting of a cluster's members on one time
axis, the first one marked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Bar:
    """One media's bar: its full length and the highlighted segment, in pixels."""

    length_px: float
    segment_x_px: float
    segment_width_px: float
    label: str  # "0:12-0:31 of 1:05"


@dataclass(frozen=True)
class OverlapDrawing:
    width_px: int
    a: Bar
    b: Bar


@dataclass(frozen=True)
class Tick:
    x_px: float
    label: str


@dataclass(frozen=True)
class Sighting:
    x_px: float
    row: int  # sightings close in time are stacked so their labels do not collide
    label: str
    when: str
    first: bool
    anchor: str  # SVG text-anchor: labels near the right edge end at their dot


@dataclass(frozen=True)
class ProvenanceDrawing:
    width_px: int
    rows: int
    sightings: tuple[Sighting, ...]
    ticks: tuple[Tick, ...]


def clock(seconds: float) -> str:
    """Seconds as m:ss (or h:mm:ss), the way an analyst reads a video's time."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _bar(duration_s: float | None, start_s: float, end_s: float, scale: float) -> Bar:
    length = duration_s if duration_s and duration_s > 0 else max(end_s, 0.001)
    start, end = max(0.0, min(start_s, length)), max(0.0, min(end_s, length))
    return Bar(
        length_px=length * scale,
        segment_x_px=start * scale,
        segment_width_px=max(2.0, (end - start) * scale),
        label=f"{clock(start_s)}-{clock(end_s)} of {clock(length)}",
    )


def overlap_drawing(
    duration_a_s: float | None,
    a_start_s: float,
    a_end_s: float,
    duration_b_s: float | None,
    b_start_s: float,
    b_end_s: float,
    width_px: int = 560,
) -> OverlapDrawing:
    """Both media on one scale, so a 10 s excerpt of a 60 s video looks like one."""
    longest = max(duration_a_s or a_end_s, duration_b_s or b_end_s, 0.001)
    scale = width_px / longest
    return OverlapDrawing(
        width_px,
        _bar(duration_a_s, a_start_s, a_end_s, scale),
        _bar(duration_b_s, b_start_s, b_end_s, scale),
    )


def provenance_drawing(
    sightings: list[tuple[datetime, str, str]], width_px: int = 900, char_px: float = 6.5
) -> ProvenanceDrawing | None:
    """Sightings (time, label, iso text) on one axis; None when no sighting has a time."""
    if not sightings:
        return None
    ordered = sorted(sightings, key=lambda s: (s[0], s[1]))
    start, end = ordered[0][0], ordered[-1][0]
    span = (end - start).total_seconds()
    margin = 8.0
    usable = width_px - 2 * margin

    def x_of(when: datetime) -> float:
        if span <= 0:
            return margin + usable / 2
        return margin + usable * (when - start).total_seconds() / span

    placed: list[Sighting] = []
    row_end: dict[int, float] = {}  # right end of the last label in each row
    for i, (when, label, text) in enumerate(ordered):
        x = x_of(when)
        shown = label + (" (first)" if i == 0 else "")
        length = char_px * len(shown) + 10
        anchor = "end" if x + length > width_px else "start"
        left = x - length if anchor == "end" else x
        row = 0
        while row in row_end and left < row_end[row]:
            row += 1
        row_end[row] = left + length
        placed.append(Sighting(x, row, label, text, first=i == 0, anchor=anchor))
    ticks = (
        (Tick(x_of(start), start.strftime("%Y-%m-%d %H:%M")),)
        if span <= 0
        else (
            Tick(x_of(start), start.strftime("%Y-%m-%d %H:%M")),
            Tick(x_of(end), end.strftime("%Y-%m-%d %H:%M")),
        )
    )
    return ProvenanceDrawing(width_px, max(s.row for s in placed) + 1, tuple(placed), ticks)
