"""core/timelines: the report's timeline geometry, without files."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.core.timelines import clock, overlap_drawing, provenance_drawing


def test_clock_reads_like_a_video_player() -> None:
    assert clock(65.4) == "1:05" and clock(3725) == "1:02:05" and clock(0) == "0:00"


def test_an_excerpt_is_drawn_to_the_same_scale_as_its_source() -> None:
    drawing = overlap_drawing(60.0, 20.0, 30.0, 10.0, 0.0, 10.0, width_px=600)
    assert drawing.a.length_px == 600 and drawing.b.length_px == 100
    assert drawing.a.segment_x_px == 200 and drawing.a.segment_width_px == 100
    assert drawing.b.label == "0:00-0:10 of 0:10"


def test_a_tiny_segment_stays_visible() -> None:
    drawing = overlap_drawing(3600.0, 10.0, 10.0, 3600.0, 10.0, 10.0, width_px=600)
    assert drawing.a.segment_width_px == 2.0


def test_provenance_marks_the_first_sighting_and_stacks_close_labels() -> None:
    t0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
    t1 = datetime(2024, 3, 1, 9, 1, tzinfo=UTC)
    t2 = datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
    drawing = provenance_drawing([(t2, "late", "x"), (t1, "next", "y"), (t0, "first", "z")])
    assert drawing is not None
    assert [(s.label, s.first) for s in drawing.sightings] == [
        ("first", True),
        ("next", False),
        ("late", False),
    ]
    assert drawing.sightings[0].row != drawing.sightings[1].row  # a minute apart: stacked
    assert drawing.sightings[0].x_px < drawing.sightings[2].x_px
    assert len(drawing.ticks) == 2


def test_no_sighting_no_drawing() -> None:
    assert provenance_drawing([]) is None
