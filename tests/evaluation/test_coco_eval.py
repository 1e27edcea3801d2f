"""evaluate_coco against pycocotools' COCOeval on generated inputs, number by number (1e-9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import load_benchmark

from fashionvision.categories import CATEGORIES, NUM_LANDMARKS
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.coco_eval import evaluate_coco, stat_keys

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
    assert any(not any(a["image_id"] == img["id"] for a in gt["annotations"])
               for img in gt["images"])
    return gt, results


@pytest.mark.parametrize("task", ["bbox", "segm", "landmarks"])
def test_matches_pycocotools(data: tuple[dict, list[dict]], task: str) -> None:
    gt, results = data
    ours = evaluate_coco(gt, results, task)
    ref = bench.pycocotools_reference(gt, results, task)
    _assert_same(ours, ref, stat_keys(task))
    assert 0.05 < ours["AP"] < 0.95  # a meaningful, non-degenerate case


@pytest.mark.parametrize("task", ["bbox", "landmarks"])
def test_per_category_matches_pycocotools_cat_ids(
    data: tuple[dict, list[dict]], task: str
) -> None:
    gt, results = data
    ours = evaluate_coco(gt, results, task, per_category=True)["per_category"]
    assert list(ours) == [c.name for c in CATEGORIES]
    for cat in CATEGORIES[::3]:  # every third category keeps the test fast
        ref = bench.pycocotools_reference(gt, results, task, cat_ids=[cat.id])
        _assert_same(ours[cat.name], ref, stat_keys(task))


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
        {"image_id": a["image_id"], "category_id": a["category_id"], "score": 1.0,
         "bbox": a["bbox"], "keypoints": a["keypoints"]}
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


def _outputs_from_gt(gt: dict, image: dict) -> dict:
    """A perfect model output for `image`: the GT garments as eval-dict tensors."""
    import numpy as np
    import torch
    from pycocotools import mask as mask_utils

    anns = [a for a in gt["annotations"] if a["image_id"] == image["id"]]
    h, w = image["height"], image["width"]
    masks = np.zeros((len(anns), 1, h, w), dtype=np.float32)
    for k, a in enumerate(anns):
        rle = mask_utils.merge(mask_utils.frPyObjects(a["segmentation"], h, w))
        masks[k, 0] = mask_utils.decode(rle) * 0.9
    boxes = [[x, y, x + bw, y + bh] for x, y, bw, bh in (a["bbox"] for a in anns)]
    landmarks = [np.asarray(a["keypoints"], dtype=np.float32).reshape(-1, 3) for a in anns]
    return {
        "boxes": torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4),
        "labels": torch.tensor([a["category_id"] for a in anns], dtype=torch.int64),
        "scores": torch.linspace(0.9, 0.5, len(anns)),
        "masks": torch.from_numpy(masks),
        "landmarks": torch.from_numpy(np.stack(landmarks)) if anns else torch.zeros(0, 294, 3),
    }


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools' decode on numpy 2
def test_evaluator_perfect_outputs_and_batching() -> None:
    from fashionvision.evaluation.evaluator import COCOStyleEvaluator

    gt, _ = bench.synthetic_coco(6, seed=8)
    evaluator = COCOStyleEvaluator(gt, landmark_gt_visible_only=gt)
    images = gt["images"]
    evaluator.process([i["id"] for i in images[:1]], [_outputs_from_gt(gt, images[0])])
    evaluator.reset()
    for batch in (images[:4], images[4:]):
        evaluator.process([i["id"] for i in batch], [_outputs_from_gt(gt, i) for i in batch])
    out = evaluator.evaluate()
    assert set(out) == {"bbox", "segm", "landmarks", "landmarks_visible"}
    assert out["bbox"]["AP"] == pytest.approx(1.0, abs=1e-6)
    # float32 tensors shift boxes by < 1e-4 px; the thresholded masks reproduce the polygons
    assert out["segm"]["AP"] == pytest.approx(1.0, abs=1e-6)
    assert 0.5 < out["landmarks"]["AP"] == out["landmarks_visible"]["AP"]
