"""The service over a real gallery index: an untrained tiny model indexes generated shop images,
then a user photo goes through ``POST /search`` and the returned ids through ``/items``."""

from __future__ import annotations

import pytest
from conftest import SMALL_MODEL, untrained_checkpoint
from fastapi.testclient import TestClient

from fashionvision.data.synthetic import generate_dataset
from fashionvision.service import ServiceSettings, create_app

pytestmark = pytest.mark.slow
index_module = pytest.importorskip("fashionvision.retrieval.index")

# An untrained model scores its detections about 0.07; its own floor is 0.05.
LOW_SCORE = 0.05


def test_search_a_real_index_through_the_app(tmp_path):
    generate_dataset(tmp_path / "data", train=0, val=6, seed=7, size=64, workers=1)
    catalogue = tmp_path / "data" / "validation" / "image"  # a plain folder of photos
    weights, _ = untrained_checkpoint(tmp_path / "model.pt", SMALL_MODEL)
    built = index_module.GalleryIndex.build(
        weights,
        catalogue,
        tmp_path / "index",
        device="cpu",
        score_threshold=LOW_SCORE,
        progress=False,
    )
    assert len(built) > 0
    photo = sorted(catalogue.glob("*.jpg"))[0]

    app = create_app(index_path=tmp_path / "index", device="cpu", settings=ServiceSettings())
    with TestClient(app) as client:
        health = client.get("/health").json()
        assert health["status"] == "ok" and health["items"] == len(built)
        response = client.post(
            "/search",
            params={"top_k": 3, "score_threshold": LOW_SCORE},
            files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["image"] == {"width": 64, "height": 64}
        assert body["garments"], "the untrained model detects nothing at its floor score"
        for garment in body["garments"]:
            assert 1 <= garment["category"] <= 13 and garment["score"] >= LOW_SCORE
            assert 1 <= len(garment["matches"]) <= 3
        match = body["garments"][0]["matches"][0]
        item = client.get(f"/items/{match['item_id']}").json()
        assert item["item_id"] == match["item_id"] and item["box"] == match["box"]
        image = client.get(match["image_url"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        assert image.content == (catalogue / match["image_path"]).read_bytes()

        filtered = client.post(
            "/search",
            params={"top_k": 2, "score_threshold": LOW_SCORE, "category": match["category_name"]},
            files={"image": (photo.name, photo.read_bytes(), "image/jpeg")},
        ).json()
        categories = {m["category"] for g in filtered["garments"] for m in g["matches"]}
        assert categories == {match["category"]}
        assert client.get("/items/999999").status_code == 404
