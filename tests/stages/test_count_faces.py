"""count with faces: real portraits (scikit-image's astronaut, matplotlib's Grace Hopper),
each alone in a still. By looking: one face in each, two different women."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import matplotlib
import numpy as np
import pytest

from pipeline.io.catalog import Catalog
from pipeline.layout import DataLayout
from pipeline.synth import images as im
from tests.media import put
from tests.stages.test_count import read, run, run_configured
from tests.stages.test_review import decide

HOPPER = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


def hopper() -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(HOPPER)), cv2.COLOR_BGR2RGB)


@pytest.fixture
def two_women(layout: DataLayout) -> DataLayout:
    put(layout.raw, "inc/a/astronaut.jpg", im.jpeg_bytes(im.photo("astronaut"), 92))
    put(layout.raw, "inc/b/hopper.jpg", im.jpeg_bytes(hopper(), 92))
    return layout


def face_refs(layout: DataLayout) -> list[str]:
    scenes = json.loads((layout.processed / "scenes.json").read_text())["inc"]
    return sorted(f for i in scenes["faces"]["identities"] for f in i["faces"])


def test_two_different_faces_in_two_scenes_need_two_people(two_women: DataLayout) -> None:
    """Each still shows one person (the detector proposes 1 each); nothing declares them
    disjoint, so without faces 1 person could be in both. Their faces differ: 2."""
    assert run(two_women) == 0
    (row,) = read(two_women.processed / "counts.csv")
    assert (row["minimum_count"], row["minimum_without_faces"]) == ("2", "1")
    assert row["face_identities"] == "2" and "Faces raise the figure from 1" in row["explanation"]
    assert row["minimum_confirmed_only"] == "1"  # no reviewer confirmed the faces yet
    origins = {r["count_origin"] for r in read(two_women.processed / "count_certificate.csv")}
    assert "face" in origins


def test_reviewers_face_decisions_change_the_next_run(two_women: DataLayout) -> None:
    assert run(two_women) == 0
    a, b = face_refs(two_women)
    subject = {"incident": "inc", "face_a": a, "face_b": b}
    decide(two_women, "face_distinct_confirm", subject)
    assert run(two_women) == 0
    (row,) = read(two_women.processed / "counts.csv")
    assert (row["minimum_count"], row["minimum_confirmed_only"]) == ("2", "2")
    decide(two_women, "face_distinct_reject", subject, reason="could be one person")
    assert run(two_women) == 0
    (row,) = read(two_women.processed / "counts.csv")
    assert (row["minimum_count"], row["minimum_confirmed_only"]) == ("1", "1")


def test_faces_switched_off_per_incident_are_neither_described_nor_used(
    two_women: DataLayout, tmp_path: Path
) -> None:
    (tmp_path / "configs" / "incidents").mkdir(parents=True)
    (tmp_path / "configs" / "incidents" / "inc.yaml").write_text("count:\n  faces: false\n")
    assert run_configured(two_women, tmp_path, "") == 0
    (row,) = read(two_women.processed / "counts.csv")
    assert (row["minimum_count"], row["face_identities"]) == ("1", "0")
    with Catalog(two_women.catalog) as catalog:
        assert catalog.faces_described() == 0


def test_incident_page_shows_the_gallery_and_which_part_comes_from_faces(
    two_women: DataLayout,
) -> None:
    assert run(two_women) == 0
    (page,) = (two_women.processed / "report").glob("incident-*.html")
    html = page.read_text(encoding="utf-8")
    assert 'id="face-gallery"' in html and html.count('class="face-crop"') >= 2
    assert "Faces raise the minimum from 1 to 2" in html
    assert 'id="face-distinct"' in html


def test_the_review_app_records_a_face_decision_that_the_next_run_follows(
    two_women: DataLayout,
) -> None:
    from pipeline.review_app import create_app
    from tests.test_review_app import token

    assert run(two_women) == 0
    client = create_app(two_women, two_women.data_dir / "no-configs", "alice").test_client()
    page = client.get("/incident-inc.html").text
    assert 'value="face_distinct_reject"' in page and 'value="face_distinct_confirm"' in page
    a, b = face_refs(two_women)
    form = {
        "action": "face_distinct_reject",
        "incident": "inc",
        "face_a": b,  # either order: the app sorts the pair
        "face_b": a,
        "reason": "the crops are too small to tell",
        "back": "incident-inc.html",
        "csrf_token": token(client, "/incident-inc.html"),
    }
    assert client.post("/decide", data=form).status_code == 303
    with Catalog(two_women.catalog) as catalog:
        (decision,) = catalog.decisions()
    assert decision.action == "face_distinct_reject"
    assert (decision.subject["face_a"], decision.subject["face_b"]) == (a, b)
    assert run(two_women) == 0
    (row,) = read(two_women.processed / "counts.csv")
    assert row["minimum_count"] == "1"


def test_descriptors_stay_in_the_catalog(two_women: DataLayout) -> None:
    """No output file but the catalog holds a descriptor's numbers (5 decimals each)."""
    assert run(two_women) == 0
    with Catalog(two_women.catalog) as catalog:
        rows = catalog.faces(_describer_name())
    assert len(rows) == 2 and all(r.descriptor for r in rows)
    needles = [f"{v:.5f}" for r in rows for v in np.frombuffer(r.descriptor or b"", np.float32)[:8]]
    for path in two_women.processed.rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".html", ".jsonl"):
            text = path.read_text(encoding="utf-8")
            assert not any(n in text for n in needles), path


def _describer_name() -> str:
    from pipeline.io.faces import make_describer

    return make_describer().name
