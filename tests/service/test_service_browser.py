"""The search page in a real browser (Chromium through Playwright) against a live server.

Skipped where Playwright or a ``chromium`` executable is missing (no browser is downloaded: the
system's Chromium is used).  The screenshot goes to the test's folder and, when the environment
variable ``FV_ARTIFACTS`` names a folder, there too.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from service_fakes import FakeIndex

from fashionvision.service import create_app

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TOP_K = 5


@pytest.fixture
def server(tmp_path) -> Iterator[str]:
    """uvicorn serving a fake index on a free local port, in a background thread."""
    import uvicorn

    app = create_app(FakeIndex(tmp_path / "gallery"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # the server takes the socket: no race for the port
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def street_photo(path: Path) -> Path:
    """A person in a shirt and trousers on a street, drawn."""
    image = Image.new("RGB", (320, 240), (150, 160, 170))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 170, 320, 240), fill=(90, 90, 95))
    draw.ellipse((145, 20, 175, 50), fill=(230, 190, 160))
    draw.polygon([(120, 55), (200, 55), (190, 120), (130, 120)], fill=(200, 40, 50))
    draw.rectangle((135, 120, 185, 200), fill=(30, 40, 120))
    image.save(path, quality=90)
    return path


def save_screenshot(page, path: Path) -> None:
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    if os.environ.get("FV_ARTIFACTS"):
        artifacts = Path(os.environ["FV_ARTIFACTS"])
        artifacts.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, artifacts / path.name)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable on PATH")
def test_upload_select_a_garment_and_see_its_matches(server, tmp_path):
    photo = street_photo(tmp_path / "street.jpg")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(server + "/")
            page.wait_for_selector("#category option >> nth=13", state="attached")
            page.fill("#top-k", str(TOP_K))
            page.press("#top-k", "Tab")  # its change event now, not when a later click blurs it
            page.set_input_files("#photo", str(photo))

            boxes = page.locator("#boxes .garment")
            boxes.first.wait_for()
            assert boxes.count() >= 1
            assert page.locator("#garments .garment-entry").count() == boxes.count()

            boxes.and_(page.locator('[data-index="1"]')).click()  # the trousers
            page.wait_for_selector("#matches-title:has-text('trousers')")
            thumbnails = page.locator("#matches .match img")
            assert thumbnails.count() == TOP_K
            page.wait_for_function(
                "[...document.querySelectorAll('#matches img')]"
                ".every((img) => img.complete && img.naturalWidth > 0)"
            )
            first_link = page.locator("#matches .match a").first.get_attribute("href")
            assert first_link is not None and first_link.startswith("/items/")
            assert page.locator("#error").is_hidden()
            save_screenshot(page, tmp_path / "service_page.png")

            # more matches re-run the search and keep the trousers selected
            page.fill("#top-k", str(TOP_K + 2))
            page.press("#top-k", "Tab")
            page.wait_for_function(
                f"document.querySelectorAll('#matches img').length === {TOP_K + 2}"
            )
            assert "trousers" in page.locator("#matches-title").inner_text()

            # the category filter re-runs the search: only the trousers are left
            page.select_option("#category", label="short sleeve top")
            page.wait_for_function("document.querySelectorAll('#boxes .garment').length === 1")
            assert "short sleeve top" in page.locator("#matches-title").inner_text()
        finally:
            browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable on PATH")
def test_the_api_error_message_is_shown(server, tmp_path):
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not a photo at all\n" * 10)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(server + "/")
            page.set_input_files("#photo", str(not_an_image))
            error = page.locator("#error")
            error.wait_for()
            assert "not a JPEG, PNG, WEBP image" in error.inner_text()
        finally:
            browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium executable on PATH")
def test_docs_page_renders_every_operation_offline(server, tmp_path):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            external = []
            page.on(
                "request",
                lambda r: external.append(r.url) if not r.url.startswith(server) else None,
            )
            page.goto(server + "/docs")
            page.wait_for_selector(".op >> nth=4")
            assert page.locator(".op").count() == 5
            assert "top_k" in page.locator(".op").first.inner_text()
            save_screenshot(page, tmp_path / "service_docs.png")
            assert external == []
        finally:
            browser.close()
