"""Acceptance in a real browser: the demo's static report, the review loop, escaping."""

from __future__ import annotations

import csv
import os
import shutil

import pytest

from pipeline.cli import main
from pipeline.layout import DataLayout
from tests.browser.conftest import screenshot
from tests.conftest import REPO
from tests.media import HOSTILE_MAKE, HOSTILE_NAME, HOSTILE_REJECT, hostile_collection

pytestmark = pytest.mark.browser


def loaded_images(locator) -> list[int]:
    """naturalWidth of every image under locator, after scrolling them into view (lazy)."""
    widths = []
    for i in range(locator.count()):
        image = locator.nth(i)
        image.scroll_into_view_if_needed()
        image.page.wait_for_function("img => img.complete", arg=image.element_handle())
        widths.append(image.evaluate("img => img.naturalWidth"))
    return widths


def counts(layout: DataLayout, incident: str = "demo-incident") -> dict[str, str]:
    with (layout.processed / "counts.csv").open(newline="") as handle:
        (row,) = [r for r in csv.DictReader(handle) if r["incident"] == incident]
    return row


def test_static_report_shows_count_cluster_thumbnails_and_timelines(page, demo_copy) -> None:
    report = demo_copy.processed / "report"
    page.goto((report / "index.html").as_uri())
    page.click("text=demo-incident >> nth=1")
    assert page.inner_text("#minimum-count") == "15"
    # every scene with people is annotated; the unannotated ones (the rocket shot, the test
    # pattern) show nobody, and the detector proposes nobody there
    assert page.inner_text("#reviewed") == "every count reviewed"
    certificate = page.locator("#certificate img")
    assert certificate.count() == 3 and all(w > 0 for w in loaded_images(certificate))
    shot = screenshot(page, "report-incident")
    if os.environ.get("CROSSCHECK_UPDATE_DOCS"):
        shutil.copyfile(shot, REPO / "docs" / "report.png")

    page.goto((report / "duplicates-1.html").as_uri())
    biggest = page.locator("section.cluster").first
    members = biggest.locator(".member img")
    # eight in demo-incident and the gate photo of demo-faces (a crop of the astronaut)
    assert members.count() == 9 and all(w > 0 for w in loaded_images(members))
    assert biggest.locator(".member.orig").count() == 1
    overlap = biggest.locator("svg.overlap rect")
    assert overlap.count() == 4  # two bars, each with its highlighted segment
    assert biggest.locator("svg.provenance circle").count() >= 3
    screenshot(page, "report-duplicates")


def test_face_gallery_renders_and_the_figure_says_what_faces_add(page, demo_copy) -> None:
    """The demo's faces incident: two portraits, 1 person from scenes alone, 2 from faces."""
    page.goto((demo_copy.processed / "report" / "incident-demo-faces.html").as_uri())
    assert page.inner_text("#minimum-count") == "2"
    assert "from 1 to 2" in page.inner_text("#faces-part")
    crops = page.locator("#face-gallery .face-crop")
    assert crops.count() == 2
    for i in range(crops.count()):
        box = crops.nth(i).bounding_box()
        assert box is not None and box["width"] > 10 and box["height"] > 10
    frames = page.locator("#face-gallery img")
    assert frames.count() == 2 and all(w > 0 for w in loaded_images(frames))
    assert page.locator("#face-distinct tr").count() == 2  # header and the one pair
    assert page.locator("#certificate tr.face").count() == 2  # the proof names both faces
    screenshot(page, "report-faces")


def test_reject_a_match_then_rerun_splits_the_cluster_and_changes_the_count(
    page, review_server, demo_copy
) -> None:
    page.goto(review_server.url + "/duplicates-1.html")
    cluster = page.locator("section.cluster", has_text="checkpoint_repost.jpg")
    assert cluster.locator(".member").count() == 2
    row = cluster.locator("table.matches tr[data-pair]").first
    row.locator("input[name=reason]").fill("two different checkpoints, same photographer")
    row.locator("button", has_text="Reject").click()
    assert "recorded (match reject)" in page.inner_text("#flash")
    screenshot(page, "review-rejected")

    page.click("text=Decisions")
    assert "two different checkpoints" in page.inner_text("#decision-log")
    assert page.inner_text("#reviewer") == "reviewer-one"
    page.click("#apply button")
    assert "Pipeline re-run" in page.inner_text("#flash")
    page.click("#apply button")
    assert "Nothing new to apply" in page.inner_text("#flash")

    page.goto(review_server.url + "/duplicates-1.html")
    assert page.locator("section.cluster", has_text="checkpoint_repost.jpg").count() == 0
    page.goto(review_server.url + "/incident-demo-incident.html")
    # 12 from the scenes alone; the man's face is in both checkpoint photos, one disjoint
    # from the launch site, the other from the courtyard: he is neither, so 5 + 7 + 1
    assert page.inner_text("#minimum-count") == "13"
    assert counts(demo_copy)["minimum_count"] == "13"
    assert counts(demo_copy)["minimum_without_faces"] == "12"
    screenshot(page, "review-after-rerun")


def test_confirming_the_detector_count_makes_the_incident_reviewed(
    page, review_server, demo_copy
) -> None:
    """The faces incident has no analyst's input: both its counts are detector proposals."""
    assert counts(demo_copy, "demo-faces")["reviewed"] == "false"
    page.goto(review_server.url + "/incident-demo-faces.html")
    proposals = page.locator("#scenes tr.unreviewed")
    assert proposals.count() == 2
    for k in range(2):  # both stay marked until the re-run: confirm each in turn
        rows = page.locator("#scenes tr.unreviewed")
        rows.nth(k).locator("button", has_text="Confirm count").click()
        assert "recorded (count set)" in page.inner_text("#flash")
        page.goto(review_server.url + "/incident-demo-faces.html")
    page.click("text=Decisions")
    page.click("#apply button")
    page.goto(review_server.url + "/incident-demo-faces.html")
    assert page.inner_text("#reviewed") == "every count reviewed"
    assert counts(demo_copy, "demo-faces")["reviewed"] == "true"
    screenshot(page, "review-confirmed-count")


def test_markup_in_names_and_exif_stays_text_in_the_browser(page, layout: DataLayout) -> None:
    hostile_collection(layout.raw)
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) == 0
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    report = layout.processed / "report"
    page.goto((report / "duplicates-1.html").as_uri())
    text = page.inner_text("body")
    assert HOSTILE_NAME in text and HOSTILE_MAKE in text
    assert page.locator("img[onerror], script").count() == 0
    page.goto((report / "rejects.html").as_uri())
    assert HOSTILE_REJECT in page.inner_text("#rejects")
    assert page.locator("svg[onload]").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []
    screenshot(page, "escaping")
