"""The service's endpoints on a fake index: answers, the page and its assets, the offline docs."""

from __future__ import annotations

import io
import re

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from service_fakes import FakeIndex, jpeg_bytes

from fashionvision.categories import CATEGORY_NAMES
from fashionvision.service import ServiceSettings, create_app

API_ENDPOINTS = {
    "/search": {"post"},
    "/items/{item_id}": {"get"},
    "/items/{item_id}/image": {"get"},
    "/health": {"get"},
    "/categories": {"get"},
}
EXTERNAL_URL = re.compile(r"https?://", re.IGNORECASE)


@pytest.fixture
def index(tmp_path):
    return FakeIndex(tmp_path / "gallery")


@pytest.fixture
def client(index):
    with TestClient(create_app(index)) as client:
        yield client


def upload(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg") -> dict:
    return {"image": (name, data, content_type)}


def test_search_returns_garments_matches_and_image_size(client, index):
    response = client.post("/search?top_k=3", files=upload(jpeg_bytes(96, 64)))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["image"] == {"width": 96, "height": 64}
    assert body["took_ms"] >= 0
    assert [g["category"] for g in body["garments"]] == [1, 8]
    for garment in body["garments"]:
        assert len(garment["matches"]) == 3
        for match in garment["matches"]:
            assert match["image_url"] == f"/items/{match['item_id']}/image"
            assert match["category"] == garment["category"]
    [call] = index.searches
    assert call["top_k"] == 3 and call["category"] is None and call["threshold"] == 0.5
    assert isinstance(call["image"], Image.Image) and call["image"].mode == "RGB"


@pytest.mark.parametrize("category", ["8", "trousers", "TROUSERS", " trousers "])
def test_search_category_by_id_or_name(client, index, category):
    response = client.post("/search", params={"category": category}, files=upload(jpeg_bytes()))
    assert response.status_code == 200, response.text
    assert [g["category"] for g in response.json()["garments"]] == [8]
    assert index.searches[-1]["category"] == 8


def test_search_category_name_with_underscores(client, index):
    response = client.post(
        "/search", params={"category": "short_sleeve_top"}, files=upload(jpeg_bytes())
    )
    assert response.status_code == 200
    assert index.searches[-1]["category"] == 1


def test_search_passes_the_score_threshold(client, index):
    response = client.post("/search?score_threshold=0.05", files=upload(jpeg_bytes()))
    assert response.status_code == 200
    assert index.searches[-1]["threshold"] == pytest.approx(0.05)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_search_accepts_png_and_webp(client, fmt):
    buffer = io.BytesIO()
    Image.new("RGBA", (30, 20), (10, 200, 30, 128)).save(buffer, format=fmt)
    response = client.post("/search", files=upload(buffer.getvalue(), "x.bin", "text/plain"))
    assert response.status_code == 200, response.text
    assert response.json()["image"] == {"width": 30, "height": 20}


def test_search_turns_the_photo_as_its_exif_orientation_says(client, index):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated by 90 degrees
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), "white").save(buffer, format="JPEG", exif=exif)
    response = client.post("/search", files=upload(buffer.getvalue()))
    assert response.json()["image"] == {"width": 20, "height": 40}
    assert index.searches[-1]["image"].size == (20, 40)


def test_item_metadata(client):
    response = client.get("/items/3")
    assert response.status_code == 200
    body = response.json()
    assert body["item_id"] == 3 and body["category"] == 8
    assert body["image_url"] == "/items/3/image"


def test_item_image_serves_the_indexed_file(client, index):
    response = client.get("/items/4/image")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content == (index.root / "shop_004.jpg").read_bytes()


def test_health(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["model_loaded"] is True
    assert body["items"] == 20 and body["index"] == {"backend": "fake"}  # no server paths
    assert body["searches_in_progress"] == 0


def test_categories(client):
    body = client.get("/categories").json()
    assert body == [{"id": i, "name": name} for i, name in CATEGORY_NAMES.items()]
    assert len(body) == 13


def test_openapi_lists_every_endpoint_with_the_upload_field(client):
    spec = client.get("/openapi.json").json()
    assert {path: set(ops) for path, ops in spec["paths"].items()} == API_ENDPOINTS
    body = spec["paths"]["/search"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert body["schema"]["required"] == ["image"]
    params = {p["name"] for p in spec["paths"]["/search"]["post"]["parameters"]}
    assert params == {"top_k", "category", "score_threshold"}


def test_docs_page_works_offline(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "openapi.json" in response.text
    assert not EXTERNAL_URL.search(response.text)
    assert client.get("/redoc").status_code == 404


def test_page_and_its_assets_load_nothing_from_elsewhere(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(static/[^"]+)"', page.text)
    assert sorted(assets) == ["static/app.css", "static/app.js"]
    texts = [page.text] + [client.get(f"/{asset}").text for asset in assets]
    urls = [url for text in texts for url in re.findall(r"https?://[^\s\"'`]+", text)]
    assert urls == ["http://www.w3.org/2000/svg"]  # the SVG namespace name, never fetched


def test_index_loaded_at_start_up_from_a_path(tmp_path, monkeypatch):
    from fashionvision.service import app as app_module

    opened = []

    def fake_open(path, device=None):
        opened.append((path, device))
        return FakeIndex(tmp_path / "gallery", n_items=5)

    monkeypatch.setattr(app_module, "open_gallery_index", fake_open)
    app = create_app(index_path=tmp_path / "idx", device="cpu", settings=ServiceSettings())
    not_started = TestClient(app)  # no start-up run yet: the index is not loaded
    assert not_started.get("/health").status_code == 503
    assert not_started.get("/items/1").json()["error"]["code"] == "not_ready"
    with TestClient(app) as client:
        assert client.get("/health").json()["items"] == 5
    assert opened == [(tmp_path / "idx", "cpu")]


def test_create_app_needs_exactly_one_index_source(tmp_path):
    with pytest.raises(ValueError, match="either"):
        create_app()
    with pytest.raises(ValueError, match="either"):
        create_app(FakeIndex(tmp_path), index_path=tmp_path)


def test_settings_reject_out_of_range_limits():
    with pytest.raises(ValueError, match="max_queue=-1"):
        ServiceSettings(max_queue=-1)
    with pytest.raises(ValueError, match="timeout_s=nan"):
        ServiceSettings(timeout_s=float("nan"))


def test_an_app_can_be_served_again_after_shut_down(index):
    app = create_app(index)
    for _ in range(2):
        with TestClient(app) as client:
            response = client.post("/search", files=upload(jpeg_bytes()))
            assert response.status_code == 200, response.text
