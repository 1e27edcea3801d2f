"""Tests of the synthetic DeepFashion2-format generator and its garment templates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import tree_digest
from shapely.geometry import Polygon

from fashionvision.categories import CATEGORIES, category
from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import (
    GarmentLayer,
    Scene,
    ShapeLayer,
    Style,
    _centering,
    _similarity,
    annotate,
    generate_dataset,
    random_appearance,
)
from fashionvision.data.synthetic_templates import TEMPLATES


@pytest.mark.parametrize("cat", CATEGORIES, ids=lambda c: c.name)
def test_template_has_category_landmark_count_and_valid_outline(cat):
    t = TEMPLATES[cat.id]
    assert t.landmarks.shape == (cat.num_landmarks, 2)
    outline = Polygon(t.outline)
    assert outline.is_valid and outline.area > 0.3
    # Landmarks lie on or inside the outline (they run around it).
    assert all(
        outline.buffer(1e-6).contains(Polygon([p, p + 1e-9, p + [0, 1e-9]]).centroid)
        for p in t.landmarks
    )


@pytest.mark.parametrize("cat", CATEGORIES, ids=lambda c: c.name)
def test_flip_table_maps_each_landmark_onto_its_mirror(cat):
    """Mirroring a template puts landmark i where landmark flip_permutation[i] was."""
    t = TEMPLATES[cat.id]
    flipped = t.landmarks.copy()
    flipped[:, 0] = 1.0 - flipped[:, 0]
    err = np.linalg.norm(flipped - t.landmarks[cat.flip_permutation], axis=1)
    bad = [(i + 1, int(cat.flip_permutation[i]) + 1) for i in np.flatnonzero(err > 1e-6)]
    assert bad == []


def _layer(cat: int, cx: float, cy: float, side: float, style: int = 1) -> GarmentLayer:
    rng = np.random.default_rng(0)
    h = _similarity(side, 0.0, cx, cy) @ _centering(TEMPLATES[cat])
    return GarmentLayer(Style(cat, style, random_appearance(rng)), h, viewpoint=2)


def test_annotate_marks_covered_and_cut_off_landmarks():
    size = 200
    skirt = _layer(9, 100, 100, 120)
    square = np.array([[60.0, 30.0], [140.0, 30.0], [140.0, 80.0], [60.0, 80.0]])
    scene = Scene("user", (0, 0, 0), layers=[skirt, ShapeLayer(square, (255, 0, 0))])
    [(idx, g)] = annotate(scene, size)
    assert idx == 0
    # Waist points 1-3 are under the square: occluded; hem points 5-7 visible.
    assert g.landmarks[:3, 2].tolist() == [1, 1, 1]
    assert g.landmarks[[4, 5, 6], 2].tolist() == [2, 2, 2]
    # The box covers the whole skirt, occluded waist included (as the real files); the polygons
    # cover what is seen, below the square.
    skirt_top = float(np.floor(skirt.h[1] @ [0.5, 0.0, 1.0]))
    assert g.bbox[1] == skirt_top < 80.0
    assert min(min(poly[1::2]) for poly in g.segmentation) == pytest.approx(80.0)
    xy = g.landmarks[g.landmarks[:, 2] > 0, :2]
    assert (xy >= np.array(g.bbox[:2])).all() and (xy <= np.array(g.bbox[2:])).all()
    assert g.occlusion >= 2
    # Shift the skirt half out of the image: the left points are cut off (v=0, x=y=0).
    scene = Scene("user", (0, 0, 0), layers=[_layer(9, 10, 100, 120)])
    [(_, g)] = annotate(scene, size)
    assert g.landmarks[4].tolist() == [0.0, 0.0, 0.0]
    assert g.zoom_in >= 2 and g.bbox[0] == pytest.approx(0.0)


def test_annotate_drops_a_garment_hidden_under_another():
    scene = Scene("user", (0, 0, 0), layers=[_layer(7, 100, 100, 40), _layer(10, 100, 100, 190)])
    cats = [g.category_id for _, g in annotate(scene, 200)]
    assert cats == [10]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate_dataset(out, train=24, val=8, seed=3, size=128, workers=1)
    return out


def test_same_seed_same_bytes_regardless_of_workers(generated, tmp_path):
    generate_dataset(tmp_path, train=24, val=8, seed=3, size=128, workers=2)
    assert tree_digest(tmp_path) == tree_digest(generated)
    other = tmp_path / "other"
    generate_dataset(other, train=24, val=8, seed=4, size=128, workers=1)
    assert tree_digest(other) != tree_digest(generated)


def test_layout_and_labels_are_consistent(generated):
    train = generated / "train"
    assert sorted(p.name for p in (train / "image").iterdir())[:2] == ["000001.jpg", "000002.jpg"]
    assert len(list((train / "annos").glob("*.json"))) == 24
    assert len(list((generated / "validation" / "image").glob("*.jpg"))) == 8
    styles: dict[tuple[int, int], set[str]] = {}
    for path in sorted((train / "annos").glob("*.json")):
        obj = json.loads(path.read_text())
        assert obj["source"] in ("shop", "user")
        items = [v for k, v in obj.items() if k.startswith("item")]
        assert 1 <= len(items) <= 3
        for it in items:
            n = category(it["category_id"]).num_landmarks
            lm = np.reshape(it["landmarks"], (-1, 3))
            assert lm.shape == (n, 3)
            assert (lm[lm[:, 2] == 0, :2] == 0).all()
            x1, y1, x2, y2 = it["bounding_box"]
            assert 0 <= x1 < x2 <= 128 and 0 <= y1 < y2 <= 128
            for poly in it["segmentation"]:
                assert len(poly) >= 6 and len(poly) % 2 == 0
            if it["style"] > 0:
                styles.setdefault((obj["pair_id"], it["style"]), set()).add(obj["source"])
    # Every positive style is seen on both sides of its pair.
    assert styles and all(s == {"shop", "user"} for s in styles.values())


def test_generated_split_passes_strict_loading(generated):
    records = load_split(generated / "train", strict=True, cache=False)
    assert [r.image_id for r in records] == list(range(1, 25))
    assert all(r.width == 128 and r.height == 128 for r in records)


@pytest.mark.slow
def test_category_balance_and_throughput(tmp_path):
    import time

    start = time.perf_counter()
    generate_dataset(tmp_path, train=400, val=0, seed=1, size=256)
    took = time.perf_counter() - start
    counts = np.zeros(14, int)
    for path in (tmp_path / "train" / "annos").glob("*.json"):
        for k, v in json.loads(path.read_text()).items():
            if k.startswith("item"):
                counts[v["category_id"]] += 1
    assert counts[1:].min() >= 0.4 * counts[1:].mean()
    assert took < 40.0  # 1,000 images take ~20 s on 2 cores
