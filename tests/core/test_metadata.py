"""Derived metadata from EXIF tags and ffprobe output."""

from __future__ import annotations

from pipeline.core.metadata import (
    displayed_size,
    exposure_stamp,
    gps_decimal,
    rotation_cw,
    video_fields,
)
from pipeline.core.timeparse import earliest, exif_time, normalise_iso


def test_gps_rationals_become_signed_decimal_degrees() -> None:
    assert gps_decimal("[36, 12, 189/25]", "N") == 36.2021
    assert gps_decimal("[37, 8, 87/25]", "W") == -37.1343
    assert gps_decimal("[1, 2]", "N") is None


def test_exif_time_with_offset_becomes_utc() -> None:
    assert exif_time("2024:03:01 10:20:30", "+02:00") == "2024-03-01T08:20:30Z"
    assert exif_time("2024:03:01 10:20:30") == "2024-03-01T10:20:30"
    assert exif_time("0000:00:00 00:00:00") is None


def test_iso_times_normalise_and_order() -> None:
    assert normalise_iso("2024-03-01T12:00:00+02:00") == "2024-03-01T10:00:00Z"
    assert normalise_iso("yesterday") is None
    assert earliest(["2024-03-02T00:00:00Z", "", "2024-03-01T23:00:00"]) == "2024-03-01T23:00:00"


def test_orientation_and_rotation_swap_displayed_size() -> None:
    assert displayed_size(640, 480, 6) == (480, 640)
    assert rotation_cw({"side_data_list": [{"rotation": -90}]}) == 90
    assert rotation_cw({"tags": {"rotate": "270"}}) == 270
    probe = {
        "streams": [
            {
                "codec_type": "video",
                "width": 1920,
                "height": 1080,
                "side_data_list": [{"rotation": 90}],
                "avg_frame_rate": "30000/1001",
            }
        ],
        "format": {"duration": "12.5", "tags": {"encoder": "Lavf"}},
    }
    fields = video_fields(probe)
    assert (fields["width"], fields["height"], fields["rotation"]) == (1080, 1920, 270)
    assert fields["fps"] == 29.97 and fields["duration_s"] == 12.5


def test_only_the_original_exposure_time_names_an_exposure() -> None:
    taken = {"exif": {"EXIF DateTimeOriginal": "2017:11:07 22:14:15", "Image DateTime": "x"}}
    assert exposure_stamp(taken) == "2017:11:07 22:14:15"
    sub = {
        "exif": {"EXIF DateTimeOriginal": "2017:11:07 22:14:15", "EXIF SubSecTimeOriginal": "42"}
    }
    assert exposure_stamp(sub) == "2017:11:07 22:14:15.42"
    edited = {"exif": {"Image DateTime": "2016:08:17 11:11:38", "Image Software": "Photoshop"}}
    assert exposure_stamp(edited) == ""  # an editor's save time is not a capture
    assert exposure_stamp({}) == ""
