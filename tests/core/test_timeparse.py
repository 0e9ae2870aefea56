"""Times from any source: normalised within years 1-9999 and read back, or refused (issue 13,
items 3 and 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.timeparse import earliest, exif_time, normalise_iso, sort_key

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_every_naive_time_is_written_in_a_form_that_reads_back(moment: datetime) -> None:
    """Items 3 and 4: years below 1000 were written without zero padding."""
    written = normalise_iso(moment.isoformat())
    assert written is not None and len(written) == 19
    assert sort_key(written) == moment.replace(microsecond=0, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    offsets,
)
def test_every_zoned_time_is_utc_in_range_or_refused(moment: datetime, zone: timezone) -> None:
    """Items 3 and 4: an offset that moves a time to year 0 or 10000 overflowed."""
    text = moment.replace(tzinfo=zone).isoformat()
    written = normalise_iso(text)
    if written is None:  # only at the ends of the range
        assert moment.year in {1, 9999}
    else:
        assert written.endswith("Z") and sort_key(written) == moment.replace(
            microsecond=0, tzinfo=zone
        )


def test_exif_offset_out_of_range_keeps_the_naive_local_time() -> None:
    assert exif_time("9999:12:31 23:59:59", "-01:00") == "9999-12-31T23:59:59"
    assert exif_time("0001:01:01 00:00:00", "+01:00") == "0001-01-01T00:00:00"
    assert exif_time("0000:00:00 00:00:00") is None


@given(st.text(max_size=40))
def test_no_text_makes_normalising_or_sorting_raise(text: str) -> None:
    """Fuzz: any text either normalises to a time that sorts, or is refused."""
    written = normalise_iso(text)
    if written is not None:
        sort_key(written)
    sort_key(text)  # a value from an older catalog: sorts last, never raises
    earliest([text, "2024-01-01T00:00:00Z"])
