"""TIDE error analysis on hand-built cases: one error of each type with its expected count and
dAP, the oracle that fixes everything reaches AP50 = 1, subsets, the confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from fashionvision.categories import category
from fashionvision.data.coco_format import detections_to_coco_results, split_to_coco
from fashionvision.evaluation.coco_eval import evaluate_coco, evaluate_coco_ignoring
from fashionvision.evaluation.error_analysis import (
    ERROR_TYPES,
    SPECIAL_TYPES,
    analyze_detections,
    classify_errors,
    confusion_matrix,
    error_breakdown,
    fixed_case,
)
from fashionvision.evaluation.subsets import SUBSET_ATTRIBUTES
from fashionvision.structures import Detection, Garment, ImageAnnotation

SIZE = 200


def garment(cat: int, box: tuple[float, float, float, float], **attrs: int) -> Garment:
    x1, y1, x2, y2 = box
    n = category(cat).num_landmarks
    marks = np.zeros((n, 3))
    marks[:, 0] = np.linspace(x1, x2, n)
    marks[:, 1] = np.linspace(y1, y2, n)
    marks[:, 2] = 2
    return Garment(cat, box, marks, [[x1, y1, x2, y1, x2, y2, x1, y2]], **attrs)


def image(image_id: int, items: list[Garment], source: str = "user") -> ImageAnnotation:
    return ImageAnnotation(image_id, f"image/{image_id:06d}.jpg", SIZE, SIZE, source, 1, items)  # type: ignore[arg-type]


def det(image_id: int, cat: int, score: float, box: tuple[float, float, float, float]) -> Detection:
    return Detection(image_id, cat, score, box)


A = (0.0, 0.0, 100.0, 100.0)
B = (100.0, 100.0, 200.0, 200.0)
A_LOC = (0.0, 0.0, 100.0, 30.0)  # IoU 0.3 with A
A_NEAR = (0.0, 0.0, 100.0, 80.0)  # IoU 0.8 with A
FAR = (150.0, 0.0, 200.0, 50.0)  # IoU 0 with A and B

HALF = 51 / 101  # COCO's 101-point AP with precision 1 up to recall 0.5, then nothing
TP_FP_TP = (51 + 50 * 2 / 3) / 101  # ranks TP, FP, TP over 2 GT


def ap50(records: list[ImageAnnotation], dets: list[Detection]) -> float:
    return evaluate_coco(split_to_coco(records), detections_to_coco_results(dets), "bbox")["AP50"]


# (name, records, detections, expected kinds in detection order, expected missed count,
#  expected base AP50, {error type: expected dAP} (the others 0))
CASES = [
    (
        "classification",  # A detected as category 2; B found
        [image(1, [garment(1, A), garment(1, B)])],
        [det(1, 1, 0.9, B), det(1, 2, 0.8, A_NEAR)],
        ["tp", "classification"],
        0,
        HALF,
        {"classification": 1 - HALF, "false_negatives": 1 - HALF},
    ),
    (
        "localization",  # A's box too short; B found
        [image(1, [garment(1, A), garment(1, B)])],
        [det(1, 1, 0.9, B), det(1, 1, 0.8, A_LOC)],
        ["tp", "localization"],
        0,
        HALF,
        {"localization": 1 - HALF, "false_positives": 0.0, "false_negatives": 1 - HALF},
    ),
    (
        "duplicate",  # B found twice, the second outranks A's true positive
        [image(1, [garment(1, A), garment(1, B)])],
        [det(1, 1, 0.9, B), det(1, 1, 0.8, B), det(1, 1, 0.5, A)],
        ["tp", "duplicate", "tp"],
        0,
        TP_FP_TP,
        {"duplicate": 1 - TP_FP_TP, "false_positives": 1 - TP_FP_TP},
    ),
    (
        "background",  # a box on nothing outranks A's true positive
        [image(1, [garment(1, A), garment(1, B)])],
        [det(1, 1, 0.9, B), det(1, 1, 0.8, FAR), det(1, 1, 0.5, A)],
        ["tp", "background", "tp"],
        0,
        TP_FP_TP,
        {"background": 1 - TP_FP_TP, "false_positives": 1 - TP_FP_TP},
    ),
    (
        "both",  # wrong class and poorly placed on A, outranking category 2's true positive on B
        [image(1, [garment(1, A), garment(2, B)])],
        [det(1, 2, 0.9, A_LOC), det(1, 2, 0.5, B)],
        ["both", "tp"],
        1,  # A: no detection could recover it
        0.25,  # category 1: 0 (A missed); category 2: FP then TP = 0.5
        {"both": 0.25, "missed": 0.25, "false_positives": 0.25, "false_negatives": 0.25},
    ),
    (
        "missed",  # A never detected
        [image(1, [garment(1, A), garment(1, B)])],
        [det(1, 1, 0.9, B)],
        ["tp"],
        1,
        HALF,
        {"missed": 1 - HALF, "false_negatives": 1 - HALF},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_one_error_of_each_type(case) -> None:
    name, records, dets, kinds, missed, base, expected = case
    errors = classify_errors(records, dets, "bbox")
    assert errors.kind == kinds
    assert errors.count("missed") == missed
    for t in ERROR_TYPES[:-1]:
        assert errors.count(t) == kinds.count(t)
    result = error_breakdown(errors, subsets=False)["overall"]
    assert result["AP50"] == pytest.approx(base, abs=1e-12)
    assert result["AP50"] == pytest.approx(ap50(records, dets), abs=1e-12)
    for t in (*ERROR_TYPES, *SPECIAL_TYPES):
        assert result["dAP"][t] == pytest.approx(expected.get(t, 0.0), abs=1e-12), t
    assert result["counts"][name] == (missed if name == "missed" else 1)
    assert result["AP50_all_fixed"] == pytest.approx(1.0)


def test_several_errors_on_one_gt_fix_only_the_best_scoring() -> None:
    # two category-2 detections on A (classification errors): the oracle keeps the best one only
    records = [image(1, [garment(1, A)])]
    dets = [det(1, 2, 0.6, A), det(1, 2, 0.9, A_NEAR), det(1, 1, 0.7, A_LOC)]
    errors = classify_errors(records, dets)
    assert errors.kind == ["classification", "classification", "localization"]
    assert errors.fix_tp.tolist() == [False, True, False]
    assert errors.count("missed") == 0
    gt, rows = fixed_case(errors, ["classification"])
    assert [(r["category_id"], r["score"]) for r in rows] == [(1, 0.9), (1, 0.7)]
    assert rows[0]["bbox"] == [0.0, 0.0, 100.0, 100.0]  # snapped onto the GT
    # a localization error on a GT that is already matched can only be removed
    records = [image(1, [garment(1, A)])]
    errors = classify_errors(records, [det(1, 1, 0.9, A), det(1, 1, 0.8, A_LOC)])
    assert errors.kind == ["tp", "localization"] and not errors.fix_tp.any()
    assert errors.count("missed") == 0


def _random_case(seed: int, n_images: int = 12) -> tuple[list[ImageAnnotation], list[Detection]]:
    """Images of 1-3 garments with detections of every kind: right, relabelled, shifted,
    duplicated, stray; some garments get nothing."""
    rng = np.random.default_rng(seed)
    records, dets = [], []
    for i in range(1, n_images + 1):
        items = []
        for k in range(int(rng.integers(1, 4))):
            x, y = 10 + 60 * k, float(rng.integers(0, 80))
            w, h = float(rng.integers(40, 60)), float(rng.integers(50, 110))
            items.append(
                garment(
                    int(rng.integers(1, 14)),
                    (x, y, x + w, y + h),
                    scale=int(rng.integers(1, 4)),
                    occlusion=int(rng.integers(1, 4)),
                    zoom_in=int(rng.integers(1, 4)),
                    viewpoint=int(rng.integers(1, 4)),
                )
            )
        records.append(image(i, items, "shop" if i % 3 == 0 else "user"))
        for item in items:
            x1, y1, x2, y2 = item.bbox
            for _ in range(int(rng.integers(0, 3))):
                cat = item.category_id if rng.random() < 0.7 else int(rng.integers(1, 14))
                shift = float(rng.choice([0.0, 5.0, 30.0]))
                box = (x1 + shift, y1, x2 + shift, y2 - shift)
                dets.append(det(i, cat, round(float(rng.random()), 2), box))
        if rng.random() < 0.5:
            dets.append(det(i, int(rng.integers(1, 14)), float(rng.random()), (190, 190, 199, 199)))
    return records, dets


def test_fixing_everything_reaches_ap_one_and_each_fix_only_helps() -> None:
    records, dets = _random_case(3)
    errors = classify_errors(records, dets)
    assert {t for t in ERROR_TYPES if errors.count(t)} == set(ERROR_TYPES)  # every type occurs
    result = error_breakdown(errors)
    overall = result["overall"]
    assert overall["AP50"] == pytest.approx(ap50(records, dets), abs=1e-12)
    assert overall["AP50"] < 0.9
    assert overall["AP50_all_fixed"] == pytest.approx(1.0)
    assert all(v >= 0 for v in overall["dAP"].values())
    assert sum(errors.kind.count(t) for t in ("tp", *ERROR_TYPES)) == len(dets)
    # every GT is a true positive, the target of a fixable error, or missed
    targets = {int(errors.ref[k]) for k in np.flatnonzero(errors.fix_tp)}
    for g in range(len(errors.gt["annotations"])):
        assert errors.matched[g] + (g in targets) + errors.missed[g] == 1
    for attribute, values in result["subsets"].items():
        for name, entry in values.items():
            if entry["num_gt"]:
                assert entry["AP50_all_fixed"] == pytest.approx(1.0), (attribute, name)


def test_subsets_use_the_coco_eval_ignore_rule() -> None:
    records, dets = _random_case(5, n_images=15)
    errors = classify_errors(records, dets)
    result = error_breakdown(errors)
    # the paper's subsets: the same AP50 as evaluate_coco's subset table
    table = evaluate_coco(
        split_to_coco(records), detections_to_coco_results(dets), "bbox", subsets=True
    )["subsets"]
    for attribute in ("scale", "occlusion", "zoom_in", "viewpoint"):
        for name, entry in result["subsets"][attribute].items():
            assert entry["AP50"] == pytest.approx(table[attribute][name]["AP50"], abs=1e-12)
            value = next(v for v, n in SUBSET_ATTRIBUTES[attribute].items() if n == name)
            assert entry["num_gt"] == sum(
                getattr(it, attribute) == value for r in records for it in r.items
            )
    # source: the same rule, GT of the other source ignored
    gt = split_to_coco(records)
    user_only = {a["id"] for a in gt["annotations"] if a["source"] != "user"}
    ref = evaluate_coco_ignoring(gt, detections_to_coco_results(dets), "bbox", {"u": user_only})
    assert result["subsets"]["source"]["user"]["AP50"] == pytest.approx(ref["u"]["AP50"])
    # missed GT are counted in the subset of their item
    for source in ("shop", "user"):
        expected = sum(
            bool(errors.missed[g]) for g, a in enumerate(gt["annotations"]) if a["source"] == source
        )
        assert result["subsets"]["source"][source]["counts"]["missed"] == expected
    counts = result["overall"]["counts"]
    assert (
        result["subsets"]["source"]["shop"]["counts"]["background"]
        + result["subsets"]["source"]["user"]["counts"]["background"]
        == counts["background"]
    )
    assert result["subsets"]["occlusion"]["slight"]["counts"]["background"] is None


def test_errors_in_user_images_show_in_the_user_subset_only() -> None:
    records = [
        image(1, [garment(1, A), garment(1, B)], "shop"),
        image(2, [garment(1, A), garment(1, B)], "user"),
    ]
    dets = [det(1, 1, 0.9, A), det(1, 1, 0.8, B), det(2, 1, 0.7, B)]  # user A missed
    result = error_breakdown(classify_errors(records, dets))
    shop, user = result["subsets"]["source"]["shop"], result["subsets"]["source"]["user"]
    assert shop["AP50"] == pytest.approx(1.0) and shop["dAP"]["missed"] == 0
    assert user["AP50"] == pytest.approx(HALF) and user["dAP"]["missed"] == pytest.approx(1 - HALF)
    assert (shop["counts"]["missed"], user["counts"]["missed"]) == (0, 1)


def _rle(box: tuple[float, float, float, float]) -> dict:
    x1, y1, x2, y2 = box
    rle = mask_utils.merge(mask_utils.frPyObjects([[x1, y1, x2, y1, x2, y2, x1, y2]], SIZE, SIZE))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def test_mask_errors_use_mask_iou() -> None:
    records = [image(1, [garment(1, A), garment(1, B)])]
    dets = [det(1, 1, 0.9, B), det(1, 1, 0.8, A)]
    dets[0].mask = _rle(B)
    dets[1].mask = _rle(A_LOC)  # right box, mask covering 30 % of the garment
    box = classify_errors(records, dets, "bbox")
    mask = classify_errors(records, dets, "segm")
    assert box.kind == ["tp", "tp"]
    assert mask.kind == ["tp", "localization"]
    result = error_breakdown(mask, subsets=False)["overall"]
    assert result["AP50"] == pytest.approx(HALF)
    assert result["dAP"]["localization"] == pytest.approx(1 - HALF)
    analysis = analyze_detections(records, dets)
    assert set(analysis) >= {"bbox", "segm", "confusion", "settings"}
    assert "landmarks" not in analysis  # the detections carry none


def test_confusion_matrix_rows_gt_columns_predicted() -> None:
    records = [image(1, [garment(1, A), garment(3, B)]), image(2, [garment(4, A)])]
    dets = [
        det(1, 2, 0.9, A_NEAR),  # category 1 seen as 2
        det(1, 3, 0.8, B),  # right
        det(1, 3, 0.7, B),  # duplicate: background row
        det(2, 5, 0.9, FAR),  # on nothing: background row
        det(2, 4, 0.3, A),  # below the threshold: not counted, so category 4 is missed
    ]
    m = confusion_matrix(records, dets, score_threshold=0.5)
    assert m.shape == (14, 14) and m.sum() == 5
    assert m[0, 1] == 1 and m[2, 2] == 1 and m[3, 13] == 1
    assert m[13, 2] == 1 and m[13, 4] == 1
    # a right-class detection keeps its GT even when a wrong-class one scores higher
    dets = [det(1, 2, 0.9, A), det(1, 1, 0.6, A_NEAR)]
    m = confusion_matrix(records[:1], dets)
    assert m[0, 0] == 1 and m[13, 1] == 1 and m[2, 13] == 1


def test_analyze_detections_is_json_ready() -> None:
    import json

    records, dets = _random_case(7, n_images=6)
    analysis = analyze_detections(records, dets)
    json.dumps(analysis)  # plain types only
    assert analysis["num_gt"] == sum(len(r.items) for r in records)
    assert list(analysis["bbox"]["subsets"]) == [
        "source",
        "scale",
        "occlusion",
        "zoom_in",
        "viewpoint",
    ]
    assert np.asarray(analysis["confusion"]["matrix"]).shape == (14, 14)
