"""Real headless Chromium (Debian's), driven by Playwright; screenshots go to test-artifacts/."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.layout import DataLayout
from tests.conftest import REPO

ARTIFACTS = REPO / "test-artifacts"


def chromium_path() -> str | None:
    return os.environ.get("CROSSCHECK_CHROMIUM") or shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: `make setup` installs it")
        pytest.skip("no chromium on this machine (`make setup` installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1300, "height": 1000})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo incident, processed once per session; tests copy it before changing it."""
    root = tmp_path_factory.mktemp("demo") / "data"
    assert main(["--data-dir", str(root), "demo-data"]) == 0
    assert (
        main(
            ["--data-dir", str(root), "--config-dir", str(REPO / "configs"), "--no-progress", "run"]
        )
        == 0
    )
    return root


@pytest.fixture
def demo_copy(demo_data: Path, tmp_path: Path) -> DataLayout:
    target = tmp_path / "data"
    shutil.copytree(demo_data, target)
    return DataLayout(target)


class LiveServer:
    def __init__(self, layout: DataLayout, reviewer: str) -> None:
        from werkzeug.serving import make_server

        from pipeline.review_app import create_app

        self.server = make_server(
            "127.0.0.1", 0, create_app(layout, REPO / "configs", reviewer), threaded=True
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()


@pytest.fixture
def review_server(demo_copy: DataLayout) -> Iterator[LiveServer]:
    server = LiveServer(demo_copy, "reviewer-one")
    yield server
    server.stop()
