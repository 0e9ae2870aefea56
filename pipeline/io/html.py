"""HTML pages of the report and the review app, from one set of Jinja2 templates.

Autoescaping is on for every template, so a file name such as `<img src=x onerror=...>.jpg`
or EXIF text holding markup is shown as text. The static report needs no JavaScript, no
network and opens from disk: links are relative, thumbnails are `../thumbs/...`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from pipeline.io.atomic import write_bytes_atomic
from pipeline.io.report_data import ReportData, duplicates_page


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("pipeline", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def pages(data: ReportData) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every page of the report: (file name, template, its variables)."""
    yield "index.html", "index.html", {}
    for incident in data.incidents:
        yield incident.page, "incident.html", {"incident": incident}
    for number, clusters in enumerate(data.cluster_pages() or [[]], start=1):
        yield duplicates_page(number), "duplicates.html", {"number": number, "clusters": clusters}
    yield "rejects.html", "rejects.html", {}
    yield "runs.html", "runs.html", {}


def render(
    template: str,
    data: ReportData,
    variables: dict[str, Any],
    root: str,
    review: bool = False,
    csrf_token: Callable[[], str] | None = None,
    flash: str = "",
) -> str:
    env = environment()
    return env.get_template(template).render(
        data=data,
        root=root,
        review=review,
        flash=flash,
        csrf_token=csrf_token or (lambda: ""),
        **variables,
    )


def write_static_report(folder: Path, data: ReportData) -> dict[str, str]:
    """Render every page into folder (atomically); returns {file name: SHA-256}."""
    written: dict[str, str] = {}
    for name, template, variables in pages(data):
        html = render(template, data, variables, root="../").encode("utf-8")
        write_bytes_atomic(folder / name, html, root=folder.parent)
        written[name] = hashlib.sha256(html).hexdigest()
    for stale in folder.glob("*.html"):
        if stale.name not in written:
            stale.unlink()
    return written


RUNS_PAGE = "runs.html"


def write_runs_page(folder: Path, data: ReportData) -> str:
    """Render only the run-record page (atomically); returns its SHA-256."""
    html = render(RUNS_PAGE, data, {}, root="../").encode("utf-8")
    write_bytes_atomic(folder / RUNS_PAGE, html, root=folder.parent)
    return hashlib.sha256(html).hexdigest()
