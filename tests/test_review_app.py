"""The review app: CSRF on every form, local pages only, decisions recorded with the reviewer;
its own host only, bounded bodies, real subjects, serialised decisions, checked thumbnails."""

from __future__ import annotations

import hashlib
import http.client
import re
import shutil
import socket
import threading
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from pipeline.cli import build_parser, main
from pipeline.core.custody import chain_problems
from pipeline.io.catalog import Catalog
from pipeline.layout import DataLayout
from pipeline.review_app import create_app
from tests.io.test_custody_log import widen_the_append_window
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


def custody_lines(layout: DataLayout) -> list[str]:
    return layout.custody_log.read_text().splitlines()


@pytest.mark.parametrize(
    "host", ["attacker.example", "attacker.example:8765", "127.0.0.1.attacker.example"]
)
def test_a_request_naming_another_host_is_refused(
    client: FlaskClient, layout: DataLayout, host: str
) -> None:
    """Item 5: a DNS-rebinding page (Host: attacker.example) was served every page, the
    decisions and a CSRF token, and its POST recorded a decision in the reviewer's name.
    Variants not named: the host with the app's port, and a name that starts with ours."""
    form = reject_form(layout) | {"csrf_token": token(client)}
    for path in ("/index.html", "/decisions.html", "/decisions.csv"):
        assert client.get(path, headers={"Host": host}).status_code == 400
    assert client.post("/decide", data=form, headers={"Host": host}).status_code == 400
    with Catalog(layout.catalog) as catalog:
        assert catalog.decisions() == []
    assert client.get("/index.html", headers={"Host": "127.0.0.1:8765"}).status_code == 200


def test_an_app_bound_to_a_network_address_answers_to_that_address_only(
    layout: DataLayout,
) -> None:
    """Item 5, variant not named: bound elsewhere than loopback, `localhost` is not ours."""
    hostile_collection(layout.raw)
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "ingest"]) == 0
    app = create_app(layout, layout.data_dir / "no-configs", "alice", bound_host="10.0.0.5")
    client = app.test_client()
    assert client.get("/decisions.csv", headers={"Host": "10.0.0.5:8765"}).status_code == 200
    assert client.get("/decisions.csv", headers={"Host": "localhost:8765"}).status_code == 400


def test_a_request_body_over_the_limit_is_refused_and_never_logged(
    client: FlaskClient, layout: DataLayout
) -> None:
    """Item 18: one 50 MB POST added 50 MB to the append-only custody log for ever."""
    before = custody_lines(layout)
    form = reject_form(layout) | {"csrf_token": token(client), "reason": "x" * (2 << 20)}
    assert client.post("/decide", data=form).status_code == 413
    assert custody_lines(layout) == before


def test_a_multipart_body_over_the_limit_is_refused(
    client: FlaskClient, layout: DataLayout
) -> None:
    """Item 18, variant not named: the same bytes as a file part of a multipart form."""
    before = custody_lines(layout)
    form = reject_form(layout) | {"csrf_token": token(client)}
    parts = [
        f'--cut\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in form.items()
    ]
    big = b'--cut\r\nContent-Disposition: form-data; name="reason"; filename="r.txt"\r\n\r\n'
    body = b"".join(parts) + big + b"x" * (2 << 20) + b"\r\n--cut--\r\n"
    response = client.post("/decide", data=body, content_type="multipart/form-data; boundary=cut")
    assert response.status_code == 413
    assert custody_lines(layout) == before


def test_a_reason_longer_than_a_paragraph_is_refused(
    client: FlaskClient, layout: DataLayout
) -> None:
    """Item 18, variant not named: many long reasons under the body limit still grow the log
    for ever; a reason has a length limit of its own."""
    form = reject_form(layout) | {"csrf_token": token(client), "reason": "y" * 200_000}
    assert client.post("/decide", data=form).status_code == 303
    assert "Not recorded: a reason is at most" in client.get("/index.html").text
    with Catalog(layout.catalog) as catalog:
        assert catalog.decisions() == []


def test_a_back_value_ending_in_a_newline_redirects_home_after_recording(
    client: FlaskClient, layout: DataLayout
) -> None:
    """Item 24: `back=` ending in a newline gave HTTP 500 after the decision was recorded."""
    for back in ("duplicates-1.html\n", "index.html#x\r\nSet-Cookie: a=b"):
        form = reject_form(layout) | {"csrf_token": token(client), "back": back}
        response = client.post("/decide", data=form)
        assert response.status_code == 303 and response.headers["Location"] == "/index.html"
    with Catalog(layout.catalog) as catalog:
        assert len(catalog.decisions()) == 2


@pytest.mark.parametrize(
    "fields",
    [
        {"action": "match_confirm", "media_a": "0" * 64, "media_b": "f" * 64},
        {"action": "cluster_split", "cluster_id": "no-such-cluster", "separate": "0" * 64},
        {"action": "count_set", "incident": "nowhere", "unit": "L:a", "count": "3"},
        {"action": "count_set", "incident": "inc", "unit": f"U:{'0' * 64}#0", "count": "3"},
        {"action": "disjoint_declare", "incident": "inc", "a": "L:a", "b": f"U:{'1' * 64}#0"},
    ],
    ids=["pair", "cluster", "incident", "unit", "scene"],
)
def test_a_decision_about_something_that_does_not_exist_is_refused(
    client: FlaskClient, layout: DataLayout, fields: dict[str, str]
) -> None:
    """Item 24: decisions about media that do not exist were accepted and sealed. Variants
    not named: an unknown cluster, incident, shot of an unknown media, scene reference."""
    before = custody_lines(layout)
    form = {"csrf_token": token(client), "reason": "because", **fields}
    assert client.post("/decide", data=form).status_code == 303
    assert "Not recorded:" in client.get("/index.html").text
    with Catalog(layout.catalog) as catalog:
        assert catalog.decisions() == []
    assert custody_lines(layout) == before


def test_a_still_has_no_second_shot(client: FlaskClient, layout: DataLayout) -> None:
    """Item 24, variant not named: a count for shot 7 of a still (it has shot 0 only)."""
    with Catalog(layout.catalog) as catalog:
        media_id = sorted(catalog.media_ids())[0]
    form = {
        "csrf_token": token(client),
        "action": "count_set",
        "incident": "inc",
        "unit": f"U:{media_id}#7",
        "count": "2",
    }
    client.post("/decide", data=form)
    assert "has no shot 7" in client.get("/index.html").text


def test_concurrent_decisions_each_reach_the_log_once(
    client: FlaskClient, layout: DataLayout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Item 15: four decisions in flight at once (two reviewers, a double-click) wrote
    duplicate custody entries, and from then on every verify reported tampering. Real
    concurrent requests to the served app, 12 at once (the variant: more than four, two
    reviewers' sessions)."""
    widen_the_append_window(monkeypatch)
    app = client.application
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_port
    form = reject_form(layout)
    sessions = [_session(port) for _ in range(2)]  # two reviewers, each with a cookie
    start = threading.Barrier(12)
    statuses: list[int] = []

    def decide(n: int) -> None:
        cookie, csrf = sessions[n % 2]
        body = urlencode(form | {"csrf_token": csrf, "reason": f"no {n}"})
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start.wait()
        connection.request(
            "POST",
            "/decide",
            body,
            {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
        statuses.append(connection.getresponse().status)
        connection.close()

    try:
        workers = [threading.Thread(target=decide, args=(n,)) for n in range(12)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        server.shutdown()
    assert statuses == [303] * 12
    lines = custody_lines(layout)
    assert chain_problems(lines) == []
    with Catalog(layout.catalog) as catalog:
        assert len(catalog.decisions()) == 12
        assert len(lines) == catalog.custody_head().seq
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "verify"]) == 0


def _session(port: int) -> tuple[str, str]:
    """A reviewer's session cookie and CSRF token, from a page of the served app."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/duplicates-1.html")
    response = connection.getresponse()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode())
    connection.close()
    assert cookie and match
    return cookie, match.group(1)


def _stored(layout: DataLayout) -> Path:
    return next(layout.thumbs.rglob("*.jpg"))


def test_a_link_in_the_thumbnail_store_is_not_followed(
    client: FlaskClient, layout: DataLayout, tmp_path: Path
) -> None:
    """Item 23: a symlink to /etc/passwd placed in the thumbnail store was served."""
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/sh\n")
    name = hashlib.sha256(secret.read_bytes()).hexdigest()
    link = layout.thumbs / name[:2] / f"{name}.jpg"
    link.parent.mkdir(exist_ok=True)
    link.symlink_to(secret)
    assert client.get(f"/thumbs/{name[:2]}/{name}.jpg").status_code == 404
    stored = _stored(layout)
    stored.unlink()
    stored.symlink_to(secret)
    assert client.get(f"/thumbs/{stored.parent.name}/{stored.name}").status_code == 404


def test_a_thumbnail_whose_bytes_do_not_match_its_name_is_not_served(
    client: FlaskClient, layout: DataLayout
) -> None:
    """Item 23: thumbnails were served without checking their content."""
    stored = _stored(layout)
    stored.write_bytes(b"<svg onload=alert(1)>")
    assert client.get(f"/thumbs/{stored.parent.name}/{stored.name}").status_code == 404


def test_a_linked_shard_folder_is_not_followed(
    client: FlaskClient, layout: DataLayout, tmp_path: Path
) -> None:
    """Item 23, variant not named: the shard folder (thumbs/ab) replaced by a link to a folder
    outside the store that holds a file of the right name and content."""
    stored = _stored(layout)
    outside = tmp_path / "outside"
    shutil.copytree(stored.parent, outside)
    shutil.rmtree(stored.parent)
    stored.parent.symlink_to(outside)
    assert client.get(f"/thumbs/{stored.parent.name}/{stored.name}").status_code == 404


def test_a_thumbnail_under_another_shard_is_not_served(
    client: FlaskClient, layout: DataLayout
) -> None:
    """Item 23, variant not named: the right file in the wrong shard folder."""
    stored = _stored(layout)
    other = "00" if stored.parent.name != "00" else "01"
    (layout.thumbs / other).mkdir(exist_ok=True)
    shutil.copy(stored, layout.thumbs / other / stored.name)
    assert client.get(f"/thumbs/{other}/{stored.name}").status_code == 404


def test_an_app_bound_to_every_address_answers_to_the_machines_names_only(
    layout: DataLayout,
) -> None:
    """Item 5, variant not named: bound to 0.0.0.0 the app cannot compare `Host` with one
    address; it takes the machine's own names and loopback, and still refuses any other."""
    hostile_collection(layout.raw)
    assert main(["--data-dir", str(layout.data_dir), "--no-progress", "ingest"]) == 0
    app = create_app(layout, layout.data_dir / "no-configs", "alice", bound_host="0.0.0.0")
    client = app.test_client()
    own = f"{socket.gethostname()}:8765"
    assert client.get("/decisions.csv", headers={"Host": own}).status_code == 200
    assert client.get("/decisions.csv", headers={"Host": "attacker.example"}).status_code == 400


def test_a_decision_is_not_written_through_a_linked_custody_log(
    client: FlaskClient, layout: DataLayout
) -> None:
    """Item 2, variant not named: the review app is a writer of the log too; with the log
    replaced by a link to evidence, the decision is refused whole and the evidence kept."""
    evidence = next(p for p in layout.raw.rglob("*.jpg") if p.stat().st_size > 0)
    original = evidence.read_bytes()
    layout.custody_log.unlink()
    layout.custody_log.symlink_to(evidence)
    form = reject_form(layout) | {"csrf_token": token(client)}
    assert client.post("/decide", data=form).status_code == 303
    assert "is a symbolic link" in client.get("/index.html").text
    assert evidence.read_bytes() == original
    with Catalog(layout.catalog) as catalog:
        assert catalog.decisions() == []
