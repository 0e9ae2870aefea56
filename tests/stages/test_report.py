"""report: static pages that open from disk, show the count's proof and escape everything."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from pipeline.cli import main
from pipeline.core.timelines import overlap_drawing, provenance_drawing
from pipeline.io.catalog import Catalog
from pipeline.io.html import pages
from pipeline.io.report_data import ClusterView, ReportData, load_report_data, page_slug
from pipeline.io.review_log import record_decision
from pipeline.layout import DataLayout
from pipeline.synth import images as im
from tests.media import HOSTILE_MAKE, HOSTILE_NAME, HOSTILE_REJECT, hostile_collection, put


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(path: Path) -> Elements:
    parser = Elements()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def test_markup_in_file_names_and_exif_is_shown_as_text(layout: DataLayout) -> None:
    hostile_collection(layout.raw)
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) == 0
    report = layout.processed / "report"
    for page in report.glob("*.html"):
        parsed = parse(page)
        assert not [t for t, _ in parsed.tags if t == "script"], page.name
        assert not [a for _, a in parsed.tags if any(k.startswith("on") for k in a)], page.name
    duplicates = " ".join(parse(report / "duplicates-1.html").text)
    assert HOSTILE_NAME in duplicates and HOSTILE_MAKE in duplicates
    assert HOSTILE_REJECT in " ".join(parse(report / "rejects.html").text)


def test_pages_link_relatively_and_thumbnails_exist_on_disk(layout: DataLayout) -> None:
    hostile_collection(layout.raw)
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) == 0
    report = layout.processed / "report"
    for page in report.glob("*.html"):
        for tag, attrs in parse(page).tags:
            target = attrs.get("href") if tag == "a" else attrs.get("src") if tag == "img" else None
            if target:
                assert "://" not in target and not target.startswith("/"), (page.name, target)
                assert (report / target.split("#")[0]).exists(), (page.name, target)
    images = [a for t, a in parse(report / "duplicates-1.html").tags if t == "img"]
    assert len(images) == 2 and all(a.get("loading") == "lazy" for a in images)


def test_a_rerun_with_nothing_new_rewrites_only_the_run_record(layout: DataLayout) -> None:
    hostile_collection(layout.raw)
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) == 0
    report = layout.processed / "report"
    before = {p.name: p.read_bytes() for p in report.glob("*.html")}
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) == 3  # nothing new
    after = {p.name: p.read_bytes() for p in report.glob("*.html")}
    assert {n for n in before if before[n] != after[n]} == {"runs.html"}


def test_clusters_are_paged_twenty_to_a_page() -> None:
    clusters = [ClusterView(f"c{i:03d}", [], [], {}, set(), None, []) for i in range(41)]
    data = ReportData([], clusters, 0, 0, 0, 0, [], [], pages=3)
    names = [name for name, _, _ in pages(data)]
    assert [n for n in names if n.startswith("duplicates")] == [
        "duplicates-1.html",
        "duplicates-2.html",
        "duplicates-3.html",
    ]
    assert [len(p) for p in data.cluster_pages()] == [20, 20, 1]


def test_incident_pages_get_safe_distinct_file_names() -> None:
    assert page_slug("incident", "demo-incident") == "incident-demo-incident.html"
    odd = page_slug("incident", "../<b>x</b>")
    assert "/" not in odd and "<" not in odd and odd != page_slug("incident", "../<b>y</b>")


def test_overlap_timeline_draws_both_videos_to_one_scale() -> None:
    drawing = overlap_drawing(60.0, 10.0, 20.0, 10.0, 0.0, 10.0, width_px=600)
    assert drawing.a.length_px == 600 and drawing.b.length_px == 100
    assert (drawing.a.segment_x_px, drawing.a.segment_width_px) == (100, 100)


def test_provenance_timeline_marks_the_first_sighting_and_stacks_close_labels() -> None:
    from datetime import UTC, datetime

    t0 = datetime(2024, 3, 1, 10, tzinfo=UTC)
    t1 = datetime(2024, 3, 1, 10, 1, tzinfo=UTC)
    t2 = datetime(2024, 3, 2, 10, tzinfo=UTC)
    drawing = provenance_drawing([(t1, "channel", "b"), (t2, "news", "c"), (t0, "witness", "a")])
    assert drawing is not None
    first, second, third = drawing.sightings
    assert first.label == "witness" and first.first and not second.first
    assert second.row == 1  # a minute apart on a day's axis: labels would overlap
    assert third.row == 0 and third.anchor == "end"  # at the right edge, label ends at its dot
    assert provenance_drawing([]) is None


def test_a_match_confirmed_then_split_apart_is_not_shown_confirmed(layout: DataLayout) -> None:
    """The report reads decisions through core/review.fold, as dedupe and count do: a later
    split outranks an earlier confirmation."""
    photo = im.photo("astronaut")
    put(layout.raw, "inc/a/photo.jpg", im.jpeg_bytes(photo, 92))
    put(layout.raw, "inc/b/repost.jpg", im.jpeg_bytes(im.resize(photo, 0.5), 60))
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) == 0

    def shown_confirmed() -> list[bool]:
        with Catalog(layout.catalog) as catalog:
            data = load_report_data(layout, catalog)
        return [m.confirmed for c in data.clusters for m in c.matches]

    with Catalog(layout.catalog) as catalog:
        a, b = sorted(m.media_id for m in catalog.observed_media())
        log = layout.custody_log
        record_decision(
            catalog, log, "t1", "rev", "match_confirm", {"media_a": a, "media_b": b}, {}, ""
        )
        assert shown_confirmed() == [True]
        split = {"separate": [b], "rest": [a]}
        record_decision(
            catalog, log, "t2", "rev", "cluster_split", {"cluster_id": "c"}, split, "two people"
        )
    assert shown_confirmed() == [False]


def test_a_same_scene_proposal_is_shown_with_its_evidence_and_joins_once_confirmed(
    layout: DataLayout,
) -> None:
    scene = im.photo("chelsea")
    for name, picture, taken in (
        ("first.jpg", scene, "2024:03:01 10:00:01"),
        ("second.jpg", scene[4:, 3:], "2024:03:01 10:00:03"),
    ):
        exif = im.exif_block("Canon", "EOS", taken, 1.0, 2.0)
        put(layout.raw, f"inc/a/{name}", im.jpeg_bytes(picture, 90, exif))
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) == 0

    def clusters() -> set[str]:
        lines = (layout.processed / "clusters.csv").read_text(encoding="utf-8").splitlines()
        return {line.split(",")[1] for line in lines[1:]}

    assert len(clusters()) == 2
    shown = " ".join(parse(layout.processed / "report" / "duplicates-1.html").text)
    assert "same_scene" in shown and "not in the cluster until confirmed" in shown
    assert "different exposures" in shown
    with Catalog(layout.catalog) as catalog:
        a, b = sorted(m.media_id for m in catalog.observed_media())
        record_decision(
            catalog,
            layout.custody_log,
            "t1",
            "rev",
            "match_confirm",
            {"media_a": a, "media_b": b},
            {},
            "one burst",
        )
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) in (0, 3)
    assert len(clusters()) == 1


def test_a_keypoint_match_shows_its_evidence_side_by_side(layout: DataLayout) -> None:
    """A 25% crop (PDQ cannot see it; keypoints and pixels confirm it): the duplicate page
    shows the inliers, how much of each picture the matched region covers and the content
    blocks agreeing, from matches.csv's evidence columns."""
    photo = im.resize(im.photo("coffee"), 0.8)
    put(layout.raw, "inc/a/photo.jpg", im.jpeg_bytes(photo, 92))
    put(layout.raw, "inc/b/crop.jpg", im.jpeg_bytes(im.crop(photo, 0.25), 85))
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) == 0
    rows = (layout.processed / "matches.csv").read_text(encoding="utf-8").splitlines()
    header = rows[0].split(",")
    assert header[-5:] == [
        "frames_compared",
        "inliers",
        "coverage_a",
        "coverage_b",
        "pixel_agreement",
    ]
    (row,) = [dict(zip(header, line.split(","), strict=False)) for line in rows[1:]]
    assert row["relation"] == "near_duplicate" and row["method"] == "keypoints"
    assert int(row["inliers"]) >= 12 and float(row["pixel_agreement"]) >= 0.9
    page = parse(layout.processed / "report" / "duplicates-1.html")
    cells = {a.get("class"): i for i, (t, a) in enumerate(page.tags) if t == "td"}
    assert {"ev-frames", "ev-inliers", "ev-coverage", "ev-agreement"} <= set(cells)
    shown = " ".join(page.text)
    assert f"{float(row['pixel_agreement']):.0%}" in shown and row["inliers"] in shown
