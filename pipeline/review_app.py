"""`crosscheck review`: the report's pages served locally, with forms for reviewers' decisions.

A reviewer confirms or rejects a match, splits a cluster, confirms or corrects a scene's
count, declares or removes a disjointness. Each decision is appended to the catalog's audit
log (reviewer, time, reason) and sealed into the custody chain; it takes effect when the
pipeline runs again, which the "Apply decisions" button does. Bound to 127.0.0.1 by default;
every form carries a CSRF token; every value is escaped by the templates. Requests must name
the address the app is bound to in `Host` (a DNS-rebinding page names its own), bodies are
capped at MAX_BODY_BYTES, decisions about subjects the catalog does not hold are refused, and
a thumbnail is served only when it is a regular file in the store whose bytes match its name.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from flask import Flask, Response, abort, flash, get_flashed_messages, redirect, request
from flask_wtf.csrf import CSRFProtect, generate_csrf
from werkzeug.wrappers.response import Response as BaseResponse

from pipeline.core.outcome import EXIT_NOTHING_TO_DO, EXIT_OK
from pipeline.core.review import FACE_ACTIONS, DecisionError, pair
from pipeline.io import thumbs
from pipeline.io.catalog import Catalog
from pipeline.io.contract import read_contract_csv
from pipeline.io.custody_log import CustodyLogError
from pipeline.io.html import environment, pages, render
from pipeline.io.report_data import ReportData, load_report_data
from pipeline.io.review_log import decisions_csv, record_decision
from pipeline.layout import DataLayout
from pipeline.stages.context import utc_now

_PAGE_NAME = re.compile(r"^[A-Za-z0-9_.-]+\.html(#[A-Za-z0-9_-]+)?$")
_THUMB = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{64}\.jpg$")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
WILDCARD_ADDRESSES = ("0.0.0.0", "::", "")  # noqa: S104  # names, never bound here
MAX_BODY_BYTES = 1 << 20  # a split of a 10,000-member cluster is ~750 KB of form; 50 MB is abuse
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _subject_and_value(
    layout: DataLayout, form: Any
) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    action = form.get("action", "")
    reason = form.get("reason", "")
    if action in ("match_confirm", "match_reject"):
        a, b = pair(form.get("media_a", ""), form.get("media_b", ""))
        return action, {"media_a": a, "media_b": b}, {}, reason
    if action == "cluster_split":
        cluster_id = form.get("cluster_id", "")
        members = {
            row["media_id"]
            for row in read_contract_csv(layout.processed / "clusters.csv")
            if row["cluster_id"] == cluster_id
        }
        if not members:
            raise DecisionError(f"no cluster {cluster_id!r} in clusters.csv")
        separate = sorted(set(form.getlist("separate")) & members)
        rest = sorted(members - set(separate))
        return action, {"cluster_id": cluster_id}, {"separate": separate, "rest": rest}, reason
    if action in FACE_ACTIONS:
        a, b = pair(form.get("face_a", ""), form.get("face_b", ""))
        return action, {"incident": form.get("incident", ""), "face_a": a, "face_b": b}, {}, reason
    if action == "count_set":
        try:
            count = int(form.get("count", ""))
        except ValueError as exc:
            raise DecisionError("a count is a whole number, 0 or more") from exc
        subject = {"incident": form.get("incident", ""), "unit": form.get("unit", "")}
        return action, subject, {"count": count}, reason
    subject = {"incident": form.get("incident", ""), "a": form.get("a", ""), "b": form.get("b", "")}
    return action, subject, {}, reason


def trusted_hosts(bound_host: str) -> list[str]:
    """The `Host` names a browser sends to an app bound to `bound_host` (ports aside). Bound
    to every address (0.0.0.0, ::), the machine's own names and loopback are accepted."""
    if bound_host in LOOPBACK_NAMES:
        return list(LOOPBACK_NAMES)
    if bound_host in WILDCARD_ADDRESSES:
        return sorted({*LOOPBACK_NAMES, socket.gethostname(), socket.getfqdn()})
    return [bound_host]


def create_app(
    layout: DataLayout,
    config_dir: Path,
    reviewer: str,
    secret_key: str | None = None,
    bound_host: str = "127.0.0.1",
) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_hex(32),
        WTF_CSRF_TIME_LIMIT=None,  # a review session may last a working day
        SESSION_COOKIE_SAMESITE="Strict",
        TRUSTED_HOSTS=trusted_hosts(bound_host),  # anything else: 400 (DNS rebinding)
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,  # larger bodies: 413, before anything is parsed
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
    )
    CSRFProtect(app)

    def data() -> ReportData:
        with Catalog(layout.catalog) as catalog:
            return load_report_data(layout, catalog)

    def page(template: str, variables: dict[str, Any], report: ReportData) -> str:
        return render(
            template,
            report,
            variables,
            root="/",
            review=True,
            csrf_token=generate_csrf,
            flash=" ".join(str(m) for m in get_flashed_messages()),
        )

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.get("/")
    def _root() -> BaseResponse:
        return redirect("/index.html")

    @app.get("/decisions.html")
    def _decisions() -> str:
        with Catalog(layout.catalog) as catalog:
            decisions = catalog.decisions()
        return (
            environment()
            .get_template("decisions.html")
            .render(
                data=data(),
                root="/",
                review=True,
                decisions=decisions,
                reviewer=reviewer,
                csrf_token=generate_csrf,
                flash=" ".join(str(m) for m in get_flashed_messages()),
            )
        )

    @app.get("/decisions.csv")
    def _decisions_csv() -> Response:
        with Catalog(layout.catalog) as catalog:
            body = decisions_csv(catalog.decisions())
        return Response(
            body,
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=review_decisions.csv"},
        )

    @app.get("/<name>.html")
    def _page(name: str) -> str:
        report = data()
        for file_name, template, variables in pages(report):
            if file_name == f"{name}.html":
                return page(template, variables, report)
        abort(404)

    @app.get("/thumbs/<prefix>/<file_name>")
    def _thumb(prefix: str, file_name: str) -> Response:
        relative = f"{prefix}/{file_name}"
        if not _THUMB.fullmatch(relative) or prefix != file_name[:2]:
            abort(404)
        data = thumbs.read_verified(layout.thumbs, file_name.removesuffix(".jpg"))
        if data is None:
            abort(404)
        return Response(data, mimetype="image/jpeg")

    @app.post("/decide")
    def _decide() -> BaseResponse:
        back = request.form.get("back", "index.html")
        if not _PAGE_NAME.fullmatch(back):
            back = "index.html"
        try:
            action, subject, value, reason = _subject_and_value(layout, request.form)
            with Catalog(layout.catalog) as catalog:
                number = record_decision(
                    catalog, layout.custody_log, utc_now(), reviewer, action, subject, value, reason
                )
            flash(
                f"Decision {number} recorded ({action.replace('_', ' ')}). "
                "It takes effect when the pipeline runs again: use Apply decisions."
            )
        except DecisionError as exc:
            flash(f"Not recorded: {exc}.")
        except CustodyLogError as exc:
            flash(f"Custody log: {exc}.")
        return redirect(f"/{back}", code=303)

    @app.post("/apply")
    def _apply() -> BaseResponse:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "--data-dir",
                str(layout.data_dir),
                "--config-dir",
                str(config_dir),
                "--operator",
                reviewer,
                "--no-progress",
                "run",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = (done.stdout + done.stderr).strip().splitlines()
        flash(_apply_message(done.returncode, lines))
        return redirect("/decisions.html", code=303)

    return app


def _apply_message(returncode: int, lines: list[str]) -> str:
    """What the reviewer is told after Apply: exit 3 is not an error, only nothing new."""
    tail = " · ".join(lines[-7:])
    if returncode == EXIT_OK:
        return f"Pipeline re-run: {tail}"
    if returncode == EXIT_NOTHING_TO_DO:
        return "Nothing new to apply: every decision is already in the outputs."
    return f"Re-run ended with {returncode}: {tail}"


def serve(app: Flask, host: str, port: int) -> None:
    from werkzeug.serving import make_server

    server = make_server(host, port, app, threaded=True)
    print(f"crosscheck review: http://{host}:{server.server_port}/ (Ctrl-C to stop)")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
