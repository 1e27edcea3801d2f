"""Tests of the Fashionpedia metric (fashionvision.evaluation.fashionpedia_eval): hand-built cases,
and agreement with an independent plain-Python implementation written here (greedy matching by
score, 101-point interpolated precision) on generated cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from fashionvision.errors import AnnotationError
from fashionvision.evaluation.fashionpedia_eval import (
    attribute_f1,
    attribute_f1_matrix,
    evaluate_fashionpedia,
)

SAMPLE = (
    Path(__file__).resolve().parents[2].parent / "shared/data/real_samples/fashionpedia/sample.json"
)
TABLE = [0, 3, 4, 9, 10, 12]  # attribute ids with gaps, as the real tables have
SIZE = 24  # images are SIZE x SIZE
THRESHOLDS = [0.5 + 0.05 * k for k in range(10)]
# COCOeval's precision is tp / (tp + fp + eps): a perfect score is 1 - 2e-16
ONE = pytest.approx(1.0, abs=1e-12)


# ------------------------------------------------------------------------------------------------
# The independent reference: plain Python over boolean masks
# ------------------------------------------------------------------------------------------------


def ref_f1(gt: set[int], dt: set[int], n: int) -> float:
    """Mean F1 of the label values (1 = attribute present, 0 = absent) occurring in either."""
    tp, fp, fn = len(gt & dt), len(dt - gt), len(gt - dt)
    tn = n - tp - fp - fn
    scores = [2 * hits / (2 * hits + fp + fn) for hits in (tp, tn) if hits + fp + fn > 0]
    return sum(scores) / len(scores)


def ref_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def ref_category_ap(gts: list[dict], dets: list[dict], t_iou: float, t_f1: float | None) -> float:
    """AP of one category: greedy matching per image by decreasing score, each detection taking
    the free GT of highest IoU among those with IoU >= t_iou (and F1 >= t_f1 when given)."""
    matched: set[int] = set()
    hits = []
    for det in sorted(dets, key=lambda d: -d["score"]):
        best, best_iou = None, -1.0
        for k, gt in enumerate(gts):
            if k in matched or gt["image_id"] != det["image_id"]:
                continue
            iou = ref_iou(det["mask"], gt["mask"])
            ok_f1 = t_f1 is None or ref_f1(gt["attrs"], det["attrs"], len(TABLE)) >= t_f1 - 1e-12
            if iou >= t_iou - 1e-12 and ok_f1 and iou > best_iou:
                best, best_iou = k, iou
        if best is not None:
            matched.add(best)
        hits.append(best is not None)
    precision, recall, tp = [], [], 0
    for rank, hit in enumerate(hits, start=1):
        tp += hit
        precision.append(tp / rank)
        recall.append(tp / len(gts))
    for i in range(len(precision) - 2, -1, -1):  # precision envelope
        precision[i] = max(precision[i], precision[i + 1])
    total = 0.0
    for r in np.linspace(0, 1, 101):
        reached = [p for p, rc in zip(precision, recall, strict=True) if rc >= r]
        total += reached[0] if reached else 0.0
    return total / 101


def ref_ap(gts: list[dict], dets: list[dict], attr_cats: set[int], t_iou: float, t_f1) -> float:
    """Mean AP over the categories that have ground truth; F1 only for `attr_cats`."""
    aps = []
    for cat in sorted({g["category_id"] for g in gts}):
        f1 = t_f1 if cat in attr_cats else None
        cat_gts = [g for g in gts if g["category_id"] == cat]
        cat_dets = [d for d in dets if d["category_id"] == cat]
        aps.append(ref_category_ap(cat_gts, cat_dets, t_iou, f1))
    return float(np.mean(aps))


def ref_grid_ap(gts: list[dict], dets: list[dict], attr_cats: set[int]) -> float:
    """The official headline: every attribute category once per (IoU, F1) pair, the others once
    per IoU threshold."""
    values = []
    for cat in sorted({g["category_id"] for g in gts}):
        cat_gts = [g for g in gts if g["category_id"] == cat]
        cat_dets = [d for d in dets if d["category_id"] == cat]
        f1s = THRESHOLDS if cat in attr_cats else [None]
        values += [ref_category_ap(cat_gts, cat_dets, t, f) for t in THRESHOLDS for f in f1s]
    return float(np.mean(values))


# ------------------------------------------------------------------------------------------------
# Building GT files and result rows from masks
# ------------------------------------------------------------------------------------------------


def _box(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def _rle(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [SIZE, SIZE], "counts": rle["counts"].decode("ascii")}


def _gt_file(gts: list[dict], num_images: int) -> dict:
    return {
        "images": [
            {"id": i, "file_name": f"{i}.jpg", "height": SIZE, "width": SIZE}
            for i in range(1, num_images + 1)
        ],
        "categories": [{"id": c, "name": f"c{c}"} for c in range(3)],
        "attributes": [{"id": a, "name": f"a{a}"} for a in TABLE],
        "annotations": [
            {
                "id": k + 1,
                "image_id": g["image_id"],
                "category_id": g["category_id"],
                "attribute_ids": sorted(g["attrs"]),
                "segmentation": _rle(g["mask"]),
                "iscrowd": 0,
            }
            for k, g in enumerate(gts)
        ],
    }


def _rows(dets: list[dict]) -> list[dict]:
    return [
        {
            "image_id": d["image_id"],
            "category_id": d["category_id"],
            "score": d["score"],
            "segmentation": _rle(d["mask"]),
            "attribute_ids": sorted(d["attrs"]),
        }
        for d in dets
    ]


def _item(image_id: int, cat: int, mask: np.ndarray, attrs: set[int], score: float = 1.0) -> dict:
    return {"image_id": image_id, "category_id": cat, "mask": mask, "attrs": attrs, "score": score}


def _evaluate(gts: list[dict], dets: list[dict], **kwargs) -> dict:
    num_images = max(g["image_id"] for g in gts)
    return evaluate_fashionpedia(_gt_file(gts, num_images), _rows(dets), **kwargs)


# ------------------------------------------------------------------------------------------------
# Attribute F1
# ------------------------------------------------------------------------------------------------


def test_attribute_f1_follows_the_official_binary_macro_reading() -> None:
    table294 = list(range(294))
    assert attribute_f1([], [], table294) == 1.0  # only "absent" occurs, and it agrees
    assert attribute_f1([5, 7], [7, 5], table294) == 1.0
    # 3 GT attributes, none predicted: (F1 present 0 + F1 absent 2*291/(2*291+3)) / 2
    assert attribute_f1([1, 2, 3], [], table294) == pytest.approx(291 / 585)
    # {a, b} vs {a} over 6 attributes: present 2/3, absent 8/9
    assert attribute_f1([0, 3], [0], TABLE) == pytest.approx((2 / 3 + 8 / 9) / 2)
    # every attribute on both sides: only "present" occurs
    assert attribute_f1(TABLE, TABLE, TABLE) == 1.0
    with pytest.raises(KeyError):
        attribute_f1([1], [], TABLE)  # 1 is not in the table


def test_attribute_f1_matrix_agrees_with_the_reference() -> None:
    rng = np.random.default_rng(0)
    dt, gt = rng.random((7, len(TABLE))) < 0.4, rng.random((5, len(TABLE))) < 0.4
    dt[0], gt[0] = False, False
    matrix = attribute_f1_matrix(dt, gt)
    for d in range(7):
        for g in range(5):
            expected = ref_f1(set(np.flatnonzero(gt[g])), set(np.flatnonzero(dt[d])), len(TABLE))
            assert matrix[d, g] == pytest.approx(expected, abs=1e-12)


# ------------------------------------------------------------------------------------------------
# Hand-built cases
# ------------------------------------------------------------------------------------------------

SHIRT = _box(2, 2, 12, 12)  # 100 pixels
SLEEVE = _box(12, 2, 15, 6)  # category 2 has no attributes


def test_perfect_detections_score_one_everywhere() -> None:
    gts = [_item(1, 0, SHIRT, {0, 3}), _item(1, 2, SLEEVE, set())]
    result = _evaluate(gts, gts)
    assert [result["iou+f1"]["AP"], result["iou"]["AP"], result["AP_grid"]] == [ONE] * 3
    assert result["attribute_categories"] == [0]


def test_wrong_attributes_fail_the_joint_metric_only() -> None:
    gts = [_item(1, 0, SHIRT, {0, 3})]
    # present-F1 0, absent-F1 2*3/(2*3+3) = 2/3: F1 1/3 below every threshold
    result = _evaluate(gts, [_item(1, 0, SHIRT, {4})])
    assert result["iou"]["AP"] == ONE
    assert result["iou+f1"]["AP"] == result["iou+f1"]["AP50"] == result["AP_grid"] == 0.0


def test_right_attributes_with_low_iou_fail_at_high_thresholds() -> None:
    gts = [_item(1, 0, SHIRT, {0, 3})]
    det = _item(1, 0, _box(2, 2, 12, 8), {0, 3})  # IoU 60/100: passes .50, .55, .60
    result = _evaluate(gts, [det])
    assert result["iou"]["AP"] == pytest.approx(0.3)
    assert result["iou+f1"]["AP"] == pytest.approx(0.3)
    assert result["iou+f1"]["AP50"] == ONE and result["iou+f1"]["AP75"] == 0.0


def test_joint_and_grid_readings_differ_as_described() -> None:
    gts = [_item(1, 0, SHIRT, {0, 3})]
    det = _item(1, 0, _box(2, 2, 12, 8), {0})  # IoU 0.6 (3 thresholds), F1 0.78 (6 thresholds)
    result = _evaluate(gts, [det])
    assert result["iou+f1"]["AP"] == pytest.approx(0.3)  # t <= 0.6 for both
    assert result["AP_grid"] == pytest.approx(3 * 6 / 100)  # every (IoU, F1) pair


def test_grid_counts_an_attribute_category_once_per_f1_threshold() -> None:
    gts = [_item(1, 0, SHIRT, {0, 3}), _item(1, 2, SLEEVE, set())]
    dets = [_item(1, 0, SHIRT, set()), _item(1, 2, SLEEVE, {9})]  # sleeve attributes: ignored
    result = _evaluate(gts, dets)
    assert result["iou+f1"]["AP"] == pytest.approx(0.5)  # shirt 0, sleeve 1
    assert result["AP_grid"] == pytest.approx(1 / 11)  # shirt 10 entries of 0, sleeve 1 of 1
    official = _evaluate(gts, dets, attribute_categories={0, 2})
    assert official["iou+f1"]["AP"] == 0.0 and official["attribute_categories"] == [0, 2]


def test_empty_attribute_lists_agree_and_missing_ones_mean_none() -> None:
    gts = [_item(1, 0, SHIRT, set()), _item(1, 1, SLEEVE, {9})]
    rows = _rows([_item(1, 0, SHIRT, set()), _item(1, 1, SLEEVE, {9})])
    del rows[0]["attribute_ids"]  # a detector without attribute predictions
    result = evaluate_fashionpedia(_gt_file(gts, 1), rows)
    assert result["iou+f1"]["AP"] == ONE and result["attribute_categories"] == [1]


def test_bbox_evaluation_and_per_category_numbers() -> None:
    gts = [_item(1, 0, SHIRT, {0}), _item(1, 2, SLEEVE, set())]
    rows = [
        {
            "image_id": 1,
            "category_id": 0,
            "score": 0.9,
            "bbox": [2, 2, 10, 10],
            "attribute_ids": [],
        },
        {"image_id": 1, "category_id": 2, "score": 0.8, "bbox": [12, 2, 3, 4]},
    ]
    result = evaluate_fashionpedia(_gt_file(gts, 1), rows, iou_type="bbox", per_category=True)
    assert result["iou"]["AP"] == ONE and result["iou+f1"]["AP"] == pytest.approx(0.5)
    per = result["per_category"]
    assert per["c0"]["iou+f1"]["AP"] == 0.0 and per["c0"]["iou"]["AP"] == ONE
    assert per["c2"]["iou+f1"]["AP"] == ONE and per["c1"]["iou"]["AP"] == -1.0  # no GT


def test_no_detections_score_zero() -> None:
    result = _evaluate([_item(1, 0, SHIRT, {0})], [])
    assert result["iou+f1"]["AP"] == result["iou"]["AP"] == result["AP_grid"] == 0.0


def test_bad_result_rows_are_named() -> None:
    gt = _gt_file([_item(1, 0, SHIRT, {0})], 1)
    rows = _rows([_item(1, 0, SHIRT, {0})])
    with pytest.raises(AnnotationError, match=r"results\[0\].attribute_ids: expected a list"):
        evaluate_fashionpedia(gt, [{**rows[0], "attribute_ids": [1]}])  # 1 is not in the table
    with pytest.raises(AnnotationError, match=r"results\[0\].category_id: unknown category 5"):
        evaluate_fashionpedia(gt, [{**rows[0], "category_id": 5}])
    with pytest.raises(AnnotationError, match=r"results\[0\].segmentation: missing"):
        evaluate_fashionpedia(gt, [{k: v for k, v in rows[0].items() if k != "segmentation"}])


# ------------------------------------------------------------------------------------------------
# Generated cases against the reference
# ------------------------------------------------------------------------------------------------


def _random_box(rng: np.random.Generator) -> np.ndarray:
    x1, y1 = rng.integers(0, SIZE - 8, 2)
    w, h = rng.integers(6, SIZE - max(x1, y1) + 1, 2)
    return _box(x1, y1, x1 + w, y1 + h)


def _jitter(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    dx, dy, grow = rng.integers(-1, 2, 3)
    x1, y1 = max(0, xs.min() + dx), max(0, ys.min() + dy)
    return _box(x1, y1, max(x1 + 1, xs.max() + 1 + dx + grow), max(y1 + 1, ys.max() + 1 + dy))


def _random_case(seed: int) -> tuple[list[dict], list[dict]]:
    """3 images, categories 0-1 with attributes and 2 without; detections: jittered GT with
    flipped attributes, duplicates, and false positives, all with distinct scores."""
    rng = np.random.default_rng(seed)
    gts: list[dict] = []
    for image_id in (1, 2, 3):
        for _ in range(rng.integers(1, 5)):
            cat = int(rng.integers(0, 3))
            attrs = set() if cat == 2 else {a for a in TABLE if rng.random() < 0.35}
            gts.append(_item(image_id, cat, _random_box(rng), attrs))
    dets = []
    for gt in gts:
        for _ in range(rng.integers(0, 3)):
            attrs = {a for a in TABLE if (a in gt["attrs"]) != (rng.random() < 0.15)}
            dets.append(_item(gt["image_id"], gt["category_id"], _jitter(rng, gt["mask"]), attrs))
    for _ in range(3):
        dets.append(_item(int(rng.integers(1, 4)), int(rng.integers(0, 3)), _random_box(rng), {0}))
    scores = rng.permutation(len(dets)) / len(dets) + 0.01
    for det, score in zip(dets, scores, strict=True):
        det["score"] = float(score)
    return gts, dets


@pytest.mark.parametrize("seed", range(8))
def test_generated_cases_agree_with_the_reference(seed: int) -> None:
    gts, dets = _random_case(seed)
    attr_cats = {g["category_id"] for g in gts if g["attrs"]}
    result = _evaluate(gts, dets, per_category=False)
    joint = [ref_ap(gts, dets, attr_cats, t, t) for t in THRESHOLDS]
    iou = [ref_ap(gts, dets, attr_cats, t, None) for t in THRESHOLDS]
    assert result["iou+f1"]["AP"] == pytest.approx(np.mean(joint), abs=1e-9)
    assert result["iou+f1"]["AP50"] == pytest.approx(joint[0], abs=1e-9)
    assert result["iou+f1"]["AP75"] == pytest.approx(joint[5], abs=1e-9)
    assert result["iou"]["AP"] == pytest.approx(np.mean(iou), abs=1e-9)
    assert result["AP_grid"] == pytest.approx(ref_grid_ap(gts, dets, attr_cats), abs=1e-9)
    assert result["iou"]["AP"] >= result["iou+f1"]["AP"]


def test_generated_cases_are_not_trivial() -> None:
    """The generated cases exercise partial scores, and attributes change them."""
    aps = [_evaluate(*_random_case(seed)) for seed in range(8)]
    assert all(0 < r["iou+f1"]["AP"] < 1 and 0 < r["iou"]["AP"] < 1 for r in aps)
    assert sum(r["iou+f1"]["AP"] < r["iou"]["AP"] - 0.01 for r in aps) >= 5


# ------------------------------------------------------------------------------------------------
# The real sample
# ------------------------------------------------------------------------------------------------


@pytest.mark.skipif(not SAMPLE.is_file(), reason="../shared real samples not present")
def test_real_sample_scored_against_itself() -> None:
    gt = json.loads(SAMPLE.read_text())
    sizes = {i["id"]: (i["height"], i["width"]) for i in gt["images"]}
    rows = []
    for k, ann in enumerate(gt["annotations"]):
        h, w = sizes[ann["image_id"]]
        rle = mask_utils.merge(mask_utils.frPyObjects(ann["segmentation"], h, w))
        rows.append(
            {
                "image_id": ann["image_id"],
                "category_id": ann["category_id"],
                "score": 1.0 - k / 100,
                "segmentation": {"size": [h, w], "counts": rle["counts"].decode("ascii")},
                "attribute_ids": ann["attribute_ids"],
            }
        )
    result = evaluate_fashionpedia(SAMPLE, rows)
    assert [result["iou+f1"]["AP"], result["iou"]["AP"], result["AP_grid"]] == [ONE] * 3
    # 8 categories in the sample, 5 of them with attributes (the sample's own ontology)
    assert result["attribute_categories"] == [6, 10, 29, 32, 35]
    dropped = evaluate_fashionpedia(SAMPLE, [{**r, "attribute_ids": []} for r in rows])
    assert dropped["iou"]["AP"] == ONE
    assert dropped["iou+f1"]["AP"] == pytest.approx(3 / 8)
    assert dropped["AP_grid"] == pytest.approx(3 / (5 * 10 + 3))
