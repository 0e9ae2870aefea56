"""Fuzz (issue 13, part A): generated dates, names, sidecars, sources.csv, annotations and
image headers through ingest, frames, hash, dedupe and count. No stage stops; every bad item
is a reject or a warning with a reason; every good item is ingested; every time written reads
back. Smaller under CI=true."""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as run_examples
from hypothesis import strategies as st

from pipeline.config import Settings
from pipeline.core.pathnames import display_path
from pipeline.io import contract
from pipeline.layout import DataLayout
from pipeline.stages.context import Operator, open_run
from pipeline.stages.count import run_count
from pipeline.stages.dedupe import run_dedupe
from pipeline.stages.frames import run_frames
from pipeline.stages.hash import run_hash
from pipeline.stages.ingest import run_ingest
from pipeline.synth import images as im
from tests.media import jpeg

EXAMPLES = 4 if os.environ.get("CI") else 15
GOOD = {"astronaut": jpeg("astronaut"), "coffee": jpeg("coffee")}
PNG = im.png_bytes(im.resize(im.photo("rocket"), 0.25))

name_stems = st.one_of(
    st.text(
        st.characters(blacklist_characters="/\0", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=10,
    ),
    st.binary(min_size=1, max_size=10).map(
        lambda b: os.fsdecode(b.replace(b"/", b"_").replace(b"\0", b"_"))
    ),
)
times = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "0999-01-01T00:00:00",
            "2024-02-30T10:00:00",
            "2024-05-01T10:00:00Z",
            "20240501T100000+0530",
        ]
    ),
    st.datetimes(min_value=datetime(1, 1, 1), timezones=st.none() | st.timezones()).map(
        lambda d: d.isoformat()
    ),
)
json_values: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | times,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
sidecars = st.one_of(
    st.binary(max_size=60),
    st.fixed_dictionaries(
        {}, optional={"posted_at": times | json_values, "url": json_values, "account": json_values}
    ).map(lambda d: json.dumps(d).encode()),
)
exif_stamps = st.one_of(
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=22),
    st.sampled_from(["0001:01:01 00:00:00", "9999:12:31 23:59:59", "0000:00:00 00:00:00"]),
)
exif_offsets = st.sampled_from(["", "+01:00", "-01:00", "+25:00", "Z", "garbage"])
header_edits = st.lists(st.tuples(st.integers(0, 600), st.integers(0, 255)), max_size=6)


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8", "surrogateescape")


@st.composite
def collections(draw: st.DrawFn) -> dict[str, Any]:
    stems = draw(st.lists(name_stems, min_size=3, max_size=3, unique_by=lambda s: os.fsencode(s)))
    names = [stem + ".jpg" for stem in stems]
    header_source = draw(st.sampled_from(["jpeg", "png"]))
    picked = GOOD["astronaut"] if header_source == "jpeg" else PNG
    cut = draw(st.integers(20, len(picked)))
    damaged = bytearray(picked[:cut])
    for at, value in draw(header_edits):
        if at < len(damaged):
            damaged[at] = value
    path_choices = st.sampled_from([f"src/{n}" for n in names] + ["src/missing.jpg", "../x", ""])
    sheet_rows = draw(
        st.lists(
            st.tuples(path_choices | st.text(max_size=8), st.text(max_size=8), times), max_size=4
        )
    )
    annotation_rows = draw(
        st.lists(
            st.tuples(
                path_choices | st.text(max_size=8),
                st.sampled_from(["", "0", "1.5", "-1", "nan", "inf", "x"]),
                st.sampled_from(["0", "3", "-2", "1e3", "", "999999999999"]),
                st.sampled_from(["a", "b", "", "=1+1"]),
                st.text(max_size=8),
            ),
            max_size=4,
        )
    )
    return {
        "names": names,
        "sidecar": draw(sidecars),
        "exif": (draw(exif_stamps), draw(exif_offsets)),
        "damaged": bytes(damaged),
        "sheet": draw(st.one_of(st.binary(max_size=40), st.just(None)))
        or csv_bytes(["path", "url", "posted_at"], [list(r) for r in sheet_rows]),
        "annotations": csv_bytes(
            ["path", "t_s", "count", "scene", "note"], [list(r) for r in annotation_rows]
        ),
    }


def write_file(folder: Path, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(os.fsencode(folder) + b"/" + os.fsencode(name), "wb") as handle:
        handle.write(data)


def readable_time(text: str) -> bool:
    if not text:
        return True
    datetime.fromisoformat(text.replace("Z", "+00:00"))
    return True


@run_examples(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(collections())
def test_hostile_collections_never_stop_a_stage(settings: Settings, case: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        layout = DataLayout(Path(scratch) / "data")
        source = layout.raw / "inc" / "src"
        good, exif_name, damaged_name = case["names"]
        write_file(source, good, GOOD["coffee"])
        write_file(source, good + ".json", case["sidecar"])
        stamp, offset = case["exif"]
        exif = im.exif_block("Make", "Model", stamp, 1.0, 2.0, offset=offset)
        write_file(source, exif_name, im.jpeg_bytes(im.photo("astronaut"), 85, exif))
        write_file(source, damaged_name, case["damaged"])
        write_file(layout.raw / "inc", "sources.csv", case["sheet"])
        write_file(layout.annotations / "inc", "annotations.csv", case["annotations"])

        with open_run(layout, settings, "fuzz", Operator(getpass.getuser()), False) as ctx:
            for stage in (run_ingest, run_frames, run_hash, run_dedupe, run_count):
                stage(ctx)  # raises on a stopped stage: the test fails

        processed = layout.processed
        observations = {
            r["path"]: r for r in contract.read_contract_csv(processed / "observations.csv")
        }
        rejects = {
            r["path"]: r["reason"] for r in contract.read_contract_csv(processed / "rejects.csv")
        }
        media = contract.read_contract_csv(processed / "media.csv")
        shown = {name: display_path(f"inc/src/{name}") for name in case["names"]}
        assert shown[good] in observations and shown[exif_name] in observations
        assert shown[damaged_name] in observations or rejects.get(shown[damaged_name])
        assert all(reason.strip() for reason in rejects.values())
        assert len(observations) + len(rejects) >= 3
        for row in observations.values():
            assert readable_time(row["posted_at"])
        for row in media:
            assert readable_time(row["first_seen"]) and readable_time(row["captured_at"])
            assert readable_time(row["creation_time"])
        for row in contract.read_contract_csv(processed / "counts.csv"):
            assert row["incident"] == "inc"
