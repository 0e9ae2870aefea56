"""The review app: CSRF on every form, local pages only, decisions recorded with the reviewer."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from pipeline.cli import build_parser, main
from pipeline.io.catalog import Catalog
from pipeline.layout import DataLayout
from pipeline.review_app import create_app
from tests.media import hostile_collection


@pytest.fixture
def client(layout: DataLayout) -> FlaskClient:
    hostile_collection(layout.raw)
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "run"]) == 0
    app = create_app(layout, layout.data_dir / "no-configs", "alice")
    return app.test_client()


def token(client: FlaskClient, page: str = "/duplicates-1.html") -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text)
    assert match
    return match.group(1)


def reject_form(layout: DataLayout) -> dict[str, str]:
    with Catalog(layout.catalog) as catalog:
        (match,) = catalog.media_matches()
    return {
        "action": "match_reject",
        "media_a": match.media_a,
        "media_b": match.media_b,
        "reason": "not the same",
        "back": "duplicates-1.html",
    }


def test_a_form_without_the_csrf_token_is_refused(client: FlaskClient, layout: DataLayout) -> None:
    assert client.post("/decide", data=reject_form(layout)).status_code == 400
    assert client.post("/apply").status_code == 400
    with Catalog(layout.catalog) as catalog:
        assert catalog.decisions() == []


def test_a_decision_is_recorded_with_reviewer_and_reason(
    client: FlaskClient, layout: DataLayout
) -> None:
    form = reject_form(layout) | {"csrf_token": token(client)}
    response = client.post("/decide", data=form)
    assert response.status_code == 303 and response.headers["Location"] == "/duplicates-1.html"
    with Catalog(layout.catalog) as catalog:
        (decision,) = catalog.decisions()
    assert (decision.reviewer, decision.action, decision.reason) == (
        "alice",
        "match_reject",
        "not the same",
    )
    assert "Decision 1 recorded" in client.get("/duplicates-1.html").text
    exported = client.get("/decisions.csv")
    assert exported.mimetype == "text/csv" and b"not the same" in exported.data


def test_redirects_stay_on_the_app(client: FlaskClient, layout: DataLayout) -> None:
    form = reject_form(layout) | {"csrf_token": token(client), "back": "https://evil.example/"}
    assert client.post("/decide", data=form).headers["Location"] == "/index.html"


def test_a_refused_decision_says_why(client: FlaskClient, layout: DataLayout) -> None:
    form = reject_form(layout) | {"csrf_token": token(client), "reason": ""}
    client.post("/decide", data=form)
    assert "Not recorded: match reject needs a reason" in client.get("/index.html").text


def test_only_stored_thumbnails_are_served(client: FlaskClient, layout: DataLayout) -> None:
    assert client.get("/thumbs/..%2F..%2Fcatalog.sqlite").status_code == 404
    assert client.get("/thumbs/ab/../../catalog.sqlite").status_code == 404
    stored = next(layout.thumbs.rglob("*.jpg"))
    ok = client.get(f"/thumbs/{stored.parent.name}/{stored.name}")
    assert ok.status_code == 200 and ok.data == stored.read_bytes()


def test_pages_forbid_scripts_and_framing(client: FlaskClient) -> None:
    policy = client.get("/index.html").headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert client.get("/missing.html").status_code == 404


def test_review_listens_on_localhost_unless_told_otherwise() -> None:
    args = build_parser().parse_args(["review"])
    assert (args.host, args.port) == ("127.0.0.1", 8765)


def test_decisions_export_from_the_command_line(
    client: FlaskClient, layout: DataLayout, tmp_path, capsys
) -> None:
    client.post("/decide", data=reject_form(layout) | {"csrf_token": token(client)})
    out = tmp_path / "decisions.csv"
    assert main(["--data-dir", str(layout.data_dir), "review", "--export-decisions", str(out)]) == 0
    assert (
        out.read_text().splitlines()[0]
        == "decision_id,time_utc,reviewer,action,subject,value,reason"
    )
    assert "match_reject" in out.read_text()
