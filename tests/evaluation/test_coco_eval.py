"""evaluate_coco against pycocotools' COCOeval on generated inputs, number by number (1e-9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_benchmark

from fashionvision.categories import CATEGORIES, NUM_LANDMARKS
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.coco_eval import category_names, evaluate_coco, stat_keys

TOL = 1e-9


bench = load_benchmark("bench_eval")


def _assert_same(ours: dict, ref: dict, keys: tuple[str, ...]) -> None:
    for key in keys:
        assert ours[key] == pytest.approx(ref[key], abs=TOL), key


@pytest.fixture(scope="module")
def data() -> tuple[dict, list[dict]]:
    """120 images: images without GT, all 13 categories, tiny and full-image boxes, score ties,
    and two images with 150+ detections (more than maxDets)."""
    gt, results = bench.synthetic_coco(120, seed=3, score_decimals=2, crowded_images=2)
    cats = {a["category_id"] for a in gt["annotations"]}
    assert cats == set(range(1, 14))
    assert any(
        not any(a["image_id"] == img["id"] for a in gt["annotations"]) for img in gt["images"]
    )
    return gt, results


@pytest.mark.parametrize("task", ["bbox", "segm", "landmarks"])
def test_matches_pycocotools(data: tuple[dict, list[dict]], task: str) -> None:
    gt, results = data
    ours = evaluate_coco(gt, results, task)
    ref = bench.pycocotools_reference(gt, results, task)
    _assert_same(ours, ref, stat_keys(task))
    assert 0.05 < ours["AP"] < 0.95  # a meaningful, non-degenerate case


@pytest.mark.parametrize("task", ["bbox", "landmarks"])
def test_per_category_matches_pycocotools_cat_ids(data: tuple[dict, list[dict]], task: str) -> None:
    gt, results = data
    ours = evaluate_coco(gt, results, task, per_category=True)["per_category"]
    assert list(ours) == [c.name for c in CATEGORIES]
    for cat in CATEGORIES[::3]:  # every third category keeps the test fast
        ref = bench.pycocotools_reference(gt, results, task, cat_ids=[cat.id])
        _assert_same(ours[cat.name], ref, stat_keys(task))


# A Fashionpedia-like table: 0-based ids with gaps, names that are not DeepFashion2's.
OTHER_NAMES = ("shirt, blouse", "top, t-shirt, sweatshirt", "sweater", "cardigan", "jacket",
               "pants", "jumpsuit", "cape", "glasses", "hat", "sleeve", "neckline",
               "pocket")  # fmt: skip


@pytest.fixture(scope="module")
def other_data() -> tuple[dict, list[dict]]:
    """The generated case as a plain COCO instances file of another data set: category k gets id
    3 (k - 1) and the k-th of `OTHER_NAMES`, no keypoints anywhere."""
    gt, results = bench.synthetic_coco(80, seed=11, score_decimals=2)
    new_id = {c.id: 3 * (c.id - 1) for c in CATEGORIES}
    gt["categories"] = [
        {"id": new_id[c.id], "name": name, "supercategory": "apparel"}
        for c, name in zip(CATEGORIES, OTHER_NAMES, strict=True)
    ]
    drop = {"keypoints", "num_keypoints"}
    gt["annotations"] = [
        {**{k: v for k, v in a.items() if k not in drop}, "category_id": new_id[a["category_id"]]}
        for a in gt["annotations"]
    ]
    results = [
        {**{k: v for k, v in r.items() if k not in drop}, "category_id": new_id[r["category_id"]]}
        for r in results
    ]
    return gt, results


@pytest.mark.parametrize("task", ["bbox", "segm"])
def test_per_category_rows_of_another_data_set_are_named_by_its_table(
    other_data: tuple[dict, list[dict]], task: str
) -> None:
    gt, results = other_data
    ours = evaluate_coco(gt, results, task, per_category=True)["per_category"]
    assert list(ours) == list(OTHER_NAMES)
    for entry in gt["categories"][::2]:  # every other category keeps the test fast
        ref = bench.pycocotools_reference(gt, results, task, cat_ids=[entry["id"]])
        _assert_same(ours[entry["name"]], ref, stat_keys(task))
    scored = [row["AP"] for row in ours.values()]
    assert min(scored) >= 0 and 0.05 < sum(scored) / len(scored) < 0.95  # not degenerate


def test_category_names_rule() -> None:
    official = {"id": 11, "name": "long_sleeved_dress", "keypoints": [str(i) for i in range(294)]}
    assert category_names([official]) == {11: "long sleeve dress"}  # DeepFashion2: our table
    # the same name without DeepFashion2's keypoint layout is another data set's, kept as is
    assert category_names([{"id": 11, "name": "long_sleeved_dress"}]) == {11: "long_sleeved_dress"}
    # a repeated name keeps both rows apart; a missing name falls back to the id
    assert category_names([{"id": 4, "name": "top"}, {"id": 9, "name": "top"}, {"id": 2}]) == {
        4: "top (id 4)",
        9: "top (id 9)",
        2: "2",
    }


@pytest.mark.parametrize("task", ["bbox", "segm", "landmarks"])
def test_no_detections(data: tuple[dict, list[dict]], task: str) -> None:
    gt, _ = data
    ours = evaluate_coco(gt, [], task)
    ref = bench.pycocotools_reference(gt, [], task)
    _assert_same(ours, ref, stat_keys(task))
    assert ours["AP"] == 0.0


def test_perfect_detections_score_one() -> None:
    gt, _ = bench.synthetic_coco(20, seed=5)
    results = [
        {
            "image_id": a["image_id"],
            "category_id": a["category_id"],
            "score": 1.0,
            "bbox": a["bbox"],
            "keypoints": a["keypoints"],
        }
        for a in gt["annotations"]
    ]
    assert evaluate_coco(gt, results, "bbox")["AP"] == pytest.approx(1.0, abs=1e-12)
    # an item without landmarks is ignored; a detection for it would be a false positive
    labelled = [r for r, a in zip(results, gt["annotations"], strict=True) if a["num_keypoints"]]
    assert len(labelled) < len(results)
    landmarks = evaluate_coco(gt, labelled, "landmarks")
    assert landmarks["AP"] == pytest.approx(1.0, abs=1e-12)


def test_input_objects_are_not_modified(data: tuple[dict, list[dict]]) -> None:
    gt, results = data
    before = json.dumps([gt["annotations"][:5], results[:5]])
    evaluate_coco(gt, results, "segm", subsets=True)
    assert json.dumps([gt["annotations"][:5], results[:5]]) == before


def test_reads_json_files(tmp_path: Path, data: tuple[dict, list[dict]]) -> None:
    gt, results = data
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    from_files = evaluate_coco(tmp_path / "gt.json", str(tmp_path / "res.json"), "bbox")
    assert from_files == evaluate_coco(gt, results, "bbox")


def test_errors_name_file_and_field(tmp_path: Path, data: tuple[dict, list[dict]]) -> None:
    gt, results = data
    with pytest.raises(FashionVisionError, match="missing.json: file not found"):
        evaluate_coco(tmp_path / "missing.json", results, "bbox")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FashionVisionError, match="bad.json: not valid JSON"):
        evaluate_coco(tmp_path / "bad.json", results, "bbox")
    bad = [dict(results[0], image_id=10**6)]
    with pytest.raises(FashionVisionError, match=r"results\[0\]\.image_id: unknown image id"):
        evaluate_coco(gt, bad, "bbox")
    bad = [results[0], dict(results[1], category_id=14)]
    with pytest.raises(FashionVisionError, match=r"results\[1\]\.category_id: unknown category"):
        evaluate_coco(gt, bad, "bbox")
    bad = [dict(results[0], keypoints=[0.0] * (3 * NUM_LANDMARKS - 3))]
    with pytest.raises(FashionVisionError, match=r"results\[0\]\.keypoints: expected 882"):
        evaluate_coco(gt, bad, "landmarks")
    with pytest.raises(FashionVisionError, match="task"):
        evaluate_coco(gt, results, "keypoints")  # type: ignore[arg-type]
