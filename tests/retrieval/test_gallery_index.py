"""`GalleryIndex` end to end with an untrained tiny model on generated images: build, search
(against a brute force over the model's own `PairSimilarity`), category filter, reopen,
add/remove, resume after ``kill -9``, refusal of other weights, damaged files, Qdrant."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SMALL_MODEL, untrained_checkpoint
from PIL import Image

from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine.inference import Predictor
from fashionvision.errors import (
    FashionVisionError,
    IndexCorruptError,
    IndexMismatchError,
    ItemNotFound,
)
from fashionvision.retrieval.index import GalleryIndex, Match, QueryGarment

# box_score_thresh 0: an untrained model still detects garments
SMALL = [*SMALL_MODEL, "model.box_score_thresh=0.0"]
BUILD = {"device": "cpu", "score_threshold": 0.0, "progress": False, "batch_size": 2}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("gallery")
    generate_dataset(root / "data", train=0, val=12, seed=5, size=64)
    checkpoint, model = untrained_checkpoint(root / "tiny.pt", SMALL)
    split = root / "data" / "validation"
    index = GalleryIndex.build(checkpoint, split, root / "index", **BUILD)
    return checkpoint, model, split, index


def pair_logits(model, queries: torch.Tensor, gallery: torch.Tensor) -> torch.Tensor:
    """Every (query, gallery) pair through the model's own similarity module: [Q, G]."""
    a = queries[:, None, :].expand(-1, len(gallery), -1)
    b = gallery[None, :, :].expand(len(queries), -1, -1)
    with torch.no_grad():
        return model.roi_heads.similarity(a, b)


def test_build_indexes_the_shop_images_of_a_split(setup):
    _, _, split, index = setup
    shop = [r for r in load_split(split) if r.source == "shop"]
    info = index.info()
    assert info["source"] == "deepfashion2" and info["images"] == len(shop) > 0
    assert info["pending_images"] == 0 and info["items"] == len(index) > 0
    assert sum(info["per_category"].values()) == len(index)
    assert info["ranking"] == "similarity" and info["backend"] == "faiss" and info["kind"] == "flat"
    rows = index.catalogue.all_items()
    assert {r.path for r in rows} <= {r.file_name for r in shop}
    assert {r.image_id for r in rows} <= {r.image_id for r in shop}  # DeepFashion2's ids


def test_search_embeddings_rank_as_the_similarity_network(setup):
    _, model, _, index = setup
    ids, categories, gallery = index.catalogue.embeddings(index.space.dim)
    queries = torch.randn(5, index.space.dim, generator=torch.Generator().manual_seed(0))
    reference = pair_logits(model, queries, torch.from_numpy(gallery))
    for category in (None, int(np.bincount(categories).argmax())):
        results = index.search_embeddings(queries, top_k=7, category=category)
        masked = reference.clone()
        if category is not None:
            masked[:, torch.from_numpy(categories != category)] = -torch.inf
        best = masked.sort(dim=1, descending=True, stable=True)
        for q, matches in enumerate(results):
            valid = torch.isfinite(best.values[q, :7])
            assert [m.item_id for m in matches] == ids[best.indices[q, :7][valid]].tolist()
            torch.testing.assert_close(
                torch.tensor([m.score for m in matches]),
                best.values[q, :7][valid],
                atol=1e-4,
                rtol=0,
            )
            assert category is None or {m.category for m in matches} == {category}


def test_search_a_photo(setup):
    checkpoint, _, split, index = setup
    photo = split / "image" / "000001.jpg"
    garments = index.search(photo, top_k=3, score_threshold=0.0)
    assert garments and all(isinstance(g, QueryGarment) for g in garments)
    scores = [g.score for g in garments]
    assert scores == sorted(scores, reverse=True)
    # the same as searching the Predictor's embeddings of the photo
    [prediction] = Predictor.from_checkpoint(checkpoint, device="cpu").predict(photo, 0.0)
    expected = index.search_embeddings(prediction["embeddings"], top_k=3)
    assert [[m.item_id for m in g.matches] for g in garments] == [
        [m.item_id for m in row] for row in expected
    ]
    g = garments[0].to_dict()
    assert len(g["box"]) == 4 and 1 <= g["category"] <= 13 and len(g["matches"]) == 3
    assert all(len(point) == 3 for point in g["landmarks"])
    assert g["mask_outline"] and all(len(p) % 2 == 0 and len(p) >= 6 for p in g["mask_outline"])
    match = g["matches"][0]
    assert set(match) == {
        "item_id", "score", "image_path", "image_id", "box", "category", "category_name",
        "detection_score", "pair_id", "style",
    }  # fmt: skip
    # an array or a PIL image gives the same answer
    with Image.open(photo) as img:
        array = np.asarray(img.convert("RGB"))
    again = index.search(array, top_k=3, score_threshold=0.0)
    assert [x.to_dict() for x in again] == [x.to_dict() for x in garments]
    named = index.search(photo, top_k=5, category=garments[0].category_name, score_threshold=0.0)
    assert all(m.category == garments[0].category for g in named for m in g.matches)
    with pytest.raises(FashionVisionError, match="unknown category"):
        index.search(photo, category="hat")
    with pytest.raises(FashionVisionError, match="not found"):
        index.search(split / "nothing.jpg")


def test_items_and_their_images(setup):
    _, _, split, index = setup
    first = index.catalogue.all_items()[0]
    item = index.item(first.item_id)
    assert isinstance(item, Match) and item.score is None and item.item_id == first.item_id
    assert index.image_path(first.item_id) == (split / item.image_path).resolve()
    assert index.image_path(first.item_id).is_file()
    with pytest.raises(ItemNotFound) as info:
        index.item(10**9)
    assert isinstance(info.value, KeyError) and "10000000" in str(info.value)


def test_pair_id_and_style_come_from_the_annotated_item_overlapped(setup):
    _, _, split, index = setup
    record = next(r for r in load_split(split) if r.source == "shop" and r.items)
    boxes = np.array([record.items[0].bbox, [0, 0, 1, 1]], dtype=np.float64)
    got = index._pair_style(split / record.file_name, boxes)
    assert got == [(record.pair_id, record.items[0].style), (None, None)]


def test_reopen_gives_the_same_index(setup):
    _, _, split, index = setup
    again = GalleryIndex.open(index.path, device="cpu")
    photo = split / "image" / "000002.jpg"
    assert len(again) == len(index)
    assert [g.to_dict() for g in again.search(photo, score_threshold=0.0)] == [
        g.to_dict() for g in index.search(photo, score_threshold=0.0)
    ]
    again.close()


def test_other_weights_are_refused(setup, tmp_path):
    _, _, _, index = setup
    other, _ = untrained_checkpoint(tmp_path / "other.pt", SMALL, seed=1)
    with pytest.raises(IndexMismatchError) as info:
        GalleryIndex.open(index.path, device="cpu", weights=other)
    message = str(info.value)
    assert str(other) in message and index.manifest["checkpoint"] in message
    with pytest.raises(IndexMismatchError):
        GalleryIndex.build(other, index.root, index.path, **BUILD)


# --- a folder source: add, remove, changed files, resume ------------------------------------


@pytest.fixture(scope="module")
def folder(setup, tmp_path_factory):
    """A folder of shop images (.jpg, and .png/.webp in a subfolder) and its flat index."""
    checkpoint, _, split, _ = setup
    root = tmp_path_factory.mktemp("folder")
    shop = root / "shop"
    (shop / "sub").mkdir(parents=True)
    images = sorted((split / "image").glob("*.jpg"))
    for p in images[:3]:
        shutil.copy(p, shop / p.name)
    Image.open(images[4]).save(shop / "sub" / "five.png")
    Image.open(images[5]).save(shop / "sub" / "six.webp")
    (shop / "notes.txt").write_text("not an image")
    index = GalleryIndex.build(checkpoint, shop, root / "index", **BUILD)
    return checkpoint, shop, images, index


def test_folder_build_add_and_remove(folder, tmp_path):
    checkpoint, _, images, _ = folder
    shop = tmp_path / "shop"
    shutil.copytree(folder[1], shop)  # this test changes the images
    index = GalleryIndex.build(checkpoint, shop, tmp_path / "idx", **BUILD)
    assert index.info()["images"] == 5 and index.info()["source"] == "folder"
    paths = {r.path for r in index.catalogue.all_items()}
    assert paths <= {"000001.jpg", "000002.jpg", "000003.jpg", "sub/five.png", "sub/six.webp"}
    count = len(index)

    extra = tmp_path / "extra"
    extra.mkdir()
    shutil.copy(images[6], extra / "seven.jpg")
    new = index.add_images([extra])
    assert len(index) == count + len(new) and index.add_images([extra / "seven.jpg"]) == []
    assert index.image_path(new[0]) == (extra / "seven.jpg").resolve()  # outside the root

    # a changed file is embedded again: its old items go, new ids come
    old = [r.item_id for r in index.catalogue.all_items() if r.path == "000001.jpg"]
    shutil.copy(images[7], shop / "000001.jpg")
    renewed = index.add_images([shop / "000001.jpg"])
    assert renewed and not set(renewed) & set(old)
    assert not set(old) & {r.item_id for r in index.catalogue.all_items()}

    gone = renewed[:2]
    with pytest.raises(ItemNotFound, match="999999"):
        index.remove([gone[0], 999_999])
    assert index.item(gone[0]).item_id == gone[0]  # nothing removed
    assert index.remove(gone) == 2
    for garment_matches in index.search_embeddings(
        index.catalogue.embeddings(index.space.dim)[2], top_k=len(index)
    ):
        assert not set(gone) & {m.item_id for m in garment_matches}
    with pytest.raises(ItemNotFound):
        index.item(gone[0])
    total = len(index)
    index.close()

    reopened = GalleryIndex.open(tmp_path / "idx", device="cpu")
    assert len(reopened) == total
    # building again with the same settings resumes (nothing left to do); others are refused
    assert len(GalleryIndex.build(checkpoint, shop, tmp_path / "idx", **BUILD)) == total
    with pytest.raises(FashionVisionError, match="ranking"):
        GalleryIndex.build(checkpoint, shop, tmp_path / "idx", **{**BUILD, "ranking": "distance"})


def test_build_refuses_a_folder_that_is_not_an_index(folder, tmp_path):
    checkpoint, shop, _, _ = folder
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    with pytest.raises(FashionVisionError, match="not empty"):
        GalleryIndex.build(checkpoint, shop, tmp_path / "busy", **BUILD)
    with pytest.raises(FashionVisionError, match="no such folder"):
        GalleryIndex.build(checkpoint, tmp_path / "absent", tmp_path / "i2", **BUILD)
    with pytest.raises(FashionVisionError, match="not a gallery index"):
        GalleryIndex.open(tmp_path / "busy")


def test_distance_ranking_scores_are_negative_squared_distances(folder, tmp_path):
    checkpoint, shop, _, _ = folder
    index = GalleryIndex.build(checkpoint, shop, tmp_path / "d", ranking="distance", **BUILD)
    ids, _, gallery = index.catalogue.embeddings(index.space.dim)
    queries = torch.from_numpy(gallery[:3]) + 0.1
    reference = -torch.cdist(queries.double(), torch.from_numpy(gallery).double()).square()
    best = reference.sort(dim=1, descending=True, stable=True)
    for q, matches in enumerate(index.search_embeddings(queries, top_k=4)):
        assert [m.item_id for m in matches] == ids[best.indices[q, :4]].tolist()
        np.testing.assert_allclose([m.score for m in matches], best.values[q, :4], atol=1e-4)


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_approximate_kinds_build_and_search(folder, tmp_path, kind):
    checkpoint, shop, _, exact = folder
    options = {"nlist": 2, "m": 17, "nbits": 4, "train_size": 20} if kind == "ivfpq" else {}
    index = GalleryIndex.build(checkpoint, shop, tmp_path / kind, kind=kind, **BUILD, **options)
    assert index.info()["kind"] == kind and index.info()["store_options"]["kind"] == kind
    queries = exact.catalogue.embeddings(exact.space.dim)[2][:4]
    got = [[m.item_id for m in row] for row in index.search_embeddings(queries, top_k=3)]
    want = [[m.item_id for m in row] for row in exact.search_embeddings(queries, top_k=3)]
    assert got == want  # a tiny catalogue: the candidates cover it


def test_qdrant_backend_gives_the_faiss_results(folder, tmp_path):
    pytest.importorskip("qdrant_client")
    checkpoint, shop, _, faiss_index = folder
    qdrant_index = GalleryIndex.build(checkpoint, shop, tmp_path / "q", backend="qdrant", **BUILD)
    queries = faiss_index.catalogue.embeddings(faiss_index.space.dim)[2][:4]
    for category in (None, 10):
        a = faiss_index.search_embeddings(queries, top_k=5, category=category)
        b = qdrant_index.search_embeddings(queries, top_k=5, category=category)
        assert [[m.item_id for m in r] for r in a] == [[m.item_id for m in r] for r in b]
    qdrant_index.close()
    reopened = GalleryIndex.open(tmp_path / "q", device="cpu")  # points saved beside it
    assert len(reopened) == len(faiss_index) and reopened.info()["backend"] == "qdrant"


# --- interrupted builds and damaged files ----------------------------------------------------

SLOW_BUILD = """
import runpy, sys, time
import fashionvision.retrieval.index as index
forward = index.forward_images
index.forward_images = lambda *a, **k: (time.sleep(0.4), forward(*a, **k))[1]
sys.argv = ["fashionvision", *sys.argv[1:]]
runpy.run_module("fashionvision", run_name="__main__")
"""


def done_images(catalogue: Path) -> int:
    if not catalogue.exists():
        return 0
    try:
        with sqlite3.connect(catalogue) as db:
            return db.execute("SELECT COUNT(*) FROM images WHERE done = 1").fetchone()[0]
    except sqlite3.OperationalError:  # tables not there yet
        return 0


@pytest.mark.slow
def test_a_build_killed_midway_resumes_to_the_uninterrupted_index(setup, tmp_path):
    checkpoint, _, split, _ = setup
    source, out = split / "image", tmp_path / "killed"
    # `python -m fashionvision index build`, each forward pass slowed so the kill lands midway
    argv = ["index", "build", "--weights", str(checkpoint), str(source), "--out", str(out),
            "--score-threshold", "0", "--batch-size", "2", "--device", "cpu",
            "--no-progress"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", SLOW_BUILD, *argv])
    deadline = time.monotonic() + 120
    while done_images(out / "catalogue.sqlite") < 4 and proc.poll() is None:
        assert time.monotonic() < deadline, "the build made no progress"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = done_images(out / "catalogue.sqlite")
    assert 4 <= done < 12, f"killed too late ({done} of 12 images done)"

    resumed = GalleryIndex.build(checkpoint, source, out, **BUILD)
    whole = GalleryIndex.build(checkpoint, source, tmp_path / "whole", **BUILD)
    assert resumed.catalogue.all_items() == whole.catalogue.all_items()
    ids, categories, embeddings = resumed.catalogue.embeddings(resumed.space.dim)
    ids2, categories2, embeddings2 = whole.catalogue.embeddings(whole.space.dim)
    assert ids.tolist() == ids2.tolist() and categories.tolist() == categories2.tolist()
    np.testing.assert_array_equal(embeddings, embeddings2)
    np.testing.assert_array_equal(resumed.store.vectors(ids), whole.store.vectors(ids))
    assert len(resumed.store) == len(whole.store) == len(ids)
    assert resumed.info()["images"] == 12


@pytest.fixture
def built(folder, tmp_path):
    """A copy of the folder's index, to damage."""
    shutil.copytree(folder[3].path, tmp_path / "idx")  # checkpointed: catalogue.sqlite is whole
    return tmp_path / "idx"


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("manifest.json", lambda b: b[: len(b) // 2], "not valid JSON"),
        ("manifest.json", lambda b: b.replace(b'"fingerprint"', b'"fingerprints"'), "missing"),
        ("catalogue.sqlite", lambda b: b"x" * len(b), "damaged catalogue"),
        ("catalogue.sqlite", lambda b: b[:200], "damaged catalogue"),
        ("store/exact.faiss", lambda b: b[: len(b) // 2], "unreadable FAISS index"),
        ("store/items.npz", lambda b: b[:30], "unreadable"),
    ],
)
def test_damaged_files_are_errors_naming_them(built, name, damage, message):
    path = built / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(IndexCorruptError, match=message) as info:
        GalleryIndex.open(built, device="cpu")
    assert str(path.resolve()) in str(info.value.args[0]) or str(path) in str(info.value)


def test_a_missing_store_is_rebuilt_from_the_catalogue(built):
    before = GalleryIndex.open(built, device="cpu")
    queries = before.catalogue.embeddings(before.space.dim)[2][:3]
    expected = [[m.to_dict() for m in r] for r in before.search_embeddings(queries, top_k=4)]
    before.close()
    shutil.rmtree(built / "store")
    after = GalleryIndex.open(built, device="cpu")
    assert (built / "store" / "exact.faiss").is_file()  # saved back
    assert [[m.to_dict() for m in r] for r in after.search_embeddings(queries, top_k=4)] == expected


def test_the_readme_snippet_runs(setup, capsys):
    """The Python block of README.md's "Shop-catalogue index and search" section."""
    _, _, split, index = setup
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Shop-catalogue index and search", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'GalleryIndex.open("runs/shop_index")' in code and '"street.jpg"' in code
    code = code.replace("runs/shop_index", str(index.path))
    code = code.replace('"street.jpg"', f'"{split / "image" / "000001.jpg"}", score_threshold=0.0')
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.count(str(index.root)) >= 20  # each match printed with its image path
