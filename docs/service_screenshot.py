"""Draw README's picture of the web page: serve an index, upload one photo, pick its first
garment, save a full-page screenshot (Playwright driving the system's Chromium).

    fashionvision index build --weights CKPT SPLIT_DIR --out INDEX
    python docs/service_screenshot.py INDEX PHOTO.jpg docs/service_page.png
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time

import httpx
from playwright.sync_api import sync_playwright


def wait_healthy(url: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"error: the server at {url} did not answer /health in {seconds:g} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index")
    parser.add_argument("photo")
    parser.add_argument("out")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("error: no 'chromium' on PATH (apt-get install chromium)")
    url = f"http://127.0.0.1:{args.port}"
    command = [sys.executable, "-m", "fashionvision", "serve", "--index", args.index]
    server = subprocess.Popen([*command, "--port", str(args.port)])
    try:
        wait_healthy(url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(url)
            page.set_input_files("input[type=file]", args.photo)
            garments = page.locator("li button")
            garments.first.wait_for(timeout=30_000)
            garments.first.click()
            page.wait_for_timeout(1500)  # thumbnails load after the click
            page.screenshot(path=args.out, full_page=True)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
