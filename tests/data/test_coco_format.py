"""Tests of the DeepFashion2 -> COCO encoder, retrieval ground truth and results files."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fashionvision.categories import category, oks_sigmas
from fashionvision.data.coco_format import (
    detections_to_coco_results,
    load_coco_ground_truth,
    load_coco_results,
    load_json,
    retrieval_ground_truth,
    split_to_coco,
)
from fashionvision.errors import AnnotationError, FashionVisionError
from fashionvision.io_utils import write_json
from fashionvision.structures import Detection, Garment, ImageAnnotation


def _landmarks(category_id: int, x0: float, y0: float) -> np.ndarray:
    """Landmarks on a line, v cycling 2, 1, 0 (unlabelled points stored as zeros)."""
    n = category(category_id).num_landmarks
    v = np.array([2, 1, 0] * n)[:n].astype(float)
    lm = np.stack([x0 + 2.0 * np.arange(n), y0 + np.arange(n), v], axis=1)
    lm[v == 0, :2] = 0.0
    return lm


def _garment(category_id: int, box: tuple[float, float, float, float], style: int, **kw) -> Garment:
    x1, y1, x2, y2 = box
    return Garment(
        category_id=category_id,
        bbox=box,
        landmarks=kw.pop("landmarks", _landmarks(category_id, x1 + 1, y1 + 1)),
        segmentation=[[x1, y1, x2, y1, x2, y2, x1, y2]],
        style=style,
        **kw,
    )


def make_records() -> list[ImageAnnotation]:
    """Three images: a shop image (2 items), a user image of the same pair, and a user image
    whose skirt has no landmarks."""
    return [
        ImageAnnotation(
            1,
            "image/000001.jpg",
            120,
            160,
            "shop",
            7,
            [
                _garment(1, (10, 20, 70, 90), 1, scale=3, occlusion=1, zoom_in=1, viewpoint=2),
                _garment(8, (20, 80, 60, 150), 0, scale=2, occlusion=2, zoom_in=2, viewpoint=3),
            ],
        ),
        ImageAnnotation(
            2,
            "image/000002.jpg",
            100,
            100,
            "user",
            7,
            [
                _garment(1, (5, 5, 55, 65), 1, scale=1, occlusion=3),
            ],
        ),
        ImageAnnotation(
            3,
            "image/000003.jpg",
            100,
            90,
            "user",
            8,
            [
                _garment(9, (0, 10, 50, 80), 2, landmarks=np.zeros((0, 3))),
            ],
        ),
    ]


def test_annotations_follow_the_official_conversion():
    coco = split_to_coco(make_records())
    anns = coco["annotations"]
    assert [a["id"] for a in anns] == [1, 2, 3, 4]
    assert [a["image_id"] for a in anns] == [1, 1, 2, 3]
    first = anns[0]
    assert first["bbox"] == [10, 20, 60, 70]
    assert first["area"] == 60 * 70
    assert first["iscrowd"] == 0
    assert first["segmentation"] == [[10, 20, 70, 20, 70, 90, 10, 90]]
    assert (first["pair_id"], first["style"], first["source"]) == (7, 1, "shop")
    attrs = (first["scale"], first["occlusion"], first["zoom_in"], first["viewpoint"])
    assert attrs == (3, 1, 1, 2)
    for ann, n_labelled in zip(anns, [17, 10, 17, 0], strict=True):
        kps = np.asarray(ann["keypoints"], dtype=float).reshape(294, 3)
        assert len(ann["keypoints"]) == 882
        sl = category(ann["category_id"]).landmark_slice
        outside = np.ones(294, dtype=bool)
        outside[sl] = False
        assert not kps[outside].any()
        assert ann["num_keypoints"] == n_labelled == int((kps[:, 2] > 0).sum())
    trousers = np.asarray(anns[1]["keypoints"]).reshape(294, 3)[168:182]
    np.testing.assert_array_equal(trousers, _landmarks(8, 21, 81))


def test_images_and_categories():
    coco = split_to_coco(make_records())
    assert coco["images"][0] == {
        "id": 1,
        "file_name": "image/000001.jpg",
        "width": 120,
        "height": 160,
        "pair_id": 7,
        "source": "shop",
    }
    cats = coco["categories"]
    assert [c["id"] for c in cats] == list(range(1, 14))
    assert all(c["keypoints"] == [str(i) for i in range(1, 295)] for c in cats)
    assert {c["supercategory"] for c in cats} == {"clothes"}
    assert cats[7]["name"] == "trousers" and cats[0]["skeleton"] == []


def test_visible_only_removes_occluded_points():
    full = split_to_coco(make_records())["annotations"][0]
    visible = split_to_coco(make_records(), visible_only=True)["annotations"][0]
    kf = np.asarray(full["keypoints"]).reshape(294, 3)
    kv = np.asarray(visible["keypoints"]).reshape(294, 3)
    occluded = kf[:, 2] == 1
    assert occluded.sum() == 8
    assert not kv[occluded].any()
    np.testing.assert_array_equal(kv[~occluded], kf[~occluded])
    assert visible["num_keypoints"] == 9 == full["num_keypoints"] - 8


def test_output_loads_in_pycocotools(tmp_path):
    path = tmp_path / "gt.json"
    write_json(path, split_to_coco(make_records()))
    coco = COCO(str(path))
    assert sorted(coco.getImgIds()) == [1, 2, 3]
    assert coco.getAnnIds(imgIds=[1]) == [1, 2]
    mask = coco.annToMask(coco.anns[1])
    assert mask.shape == (160, 120)
    assert 55 * 65 <= mask.sum() <= 61 * 71  # the 60x70 box polygon, up to boundary pixels
    assert load_coco_ground_truth(path)["images"][2]["id"] == 3


def test_retrieval_ground_truth_rows():
    query, gallery = retrieval_ground_truth(make_records())
    assert query == [
        {"query_image_id": 2, "pair_id": 7, "style": 1, "cls": 1, "bbox": [5, 5, 55, 65]},
        {"query_image_id": 3, "pair_id": 8, "style": 2, "cls": 9, "bbox": [0, 10, 50, 80]},
    ]
    # the style-0 trousers of the shop image are no gallery item
    assert gallery == [{"gallery_image_id": 1, "pair_id": 7, "style": 1, "bbox": [10, 20, 70, 90]}]


def _perfect_detections(records: list[ImageAnnotation]) -> list[Detection]:
    """The ground truth as detections (masks from the polygons, landmark scores = 1)."""
    dets = []
    for rec in records:
        for k, item in enumerate(rec.items):
            rle = mask_utils.merge(mask_utils.frPyObjects(item.segmentation, rec.height, rec.width))
            lm = item.landmarks.copy()
            if len(lm):
                lm[:, 2] = 1.0
            dets.append(
                Detection(
                    rec.image_id,
                    item.category_id,
                    0.9 - 0.1 * k,
                    item.bbox,
                    landmarks=lm if len(lm) else None,
                    mask=rle,
                )
            )
    return dets


def test_results_round_trip_through_load_res(tmp_path):
    records = make_records()
    gt_path, res_path = tmp_path / "gt.json", tmp_path / "res.json"
    write_json(gt_path, split_to_coco(records))
    rows = detections_to_coco_results(_perfect_detections(records))
    assert isinstance(rows[0]["segmentation"]["counts"], str)
    assert rows[0]["bbox"] == [10.0, 20.0, 60.0, 70.0]
    kps = np.asarray(rows[1]["keypoints"]).reshape(294, 3)
    assert len(rows[1]["keypoints"]) == 882 and kps[168:182, 2].tolist() == [1.0] * 14
    assert not kps[:168].any() and "keypoints" not in rows[3]
    as_global = Detection(1, 8, 0.5, (0, 0, 1, 1), landmarks=kps)
    assert detections_to_coco_results([as_global])[0]["keypoints"] == rows[1]["keypoints"]
    write_json(res_path, rows)
    loaded = load_coco_results(res_path)
    assert loaded == json.loads(json.dumps(rows))
    gt = COCO(str(gt_path))
    dt = gt.loadRes(copy.deepcopy(loaded))
    assert len(dt.anns) == 4 and dt.anns[1]["score"] == pytest.approx(0.9)
    for iou_type in ("bbox", "segm"):
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate(), ev.accumulate(), ev.summarize()
        assert ev.stats[0] == pytest.approx(1.0)


def test_perfect_landmarks_give_keypoint_ap_one(tmp_path):
    records = make_records()
    gt_path = tmp_path / "gt.json"
    write_json(gt_path, split_to_coco(records))
    gt = COCO(str(gt_path))
    rows = [r for r in detections_to_coco_results(_perfect_detections(records)) if "keypoints" in r]
    dt = gt.loadRes(rows)
    ev = COCOeval(gt, dt, "keypoints")
    ev.params.kpt_oks_sigmas = oks_sigmas()
    ev.params.maxDets = [20]
    ev.evaluate(), ev.accumulate(), ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_bad_results_files_name_the_file_and_field(tmp_path):
    path = tmp_path / "bad.json"
    write_json(
        path,
        [
            {"image_id": 1, "category_id": 1, "score": 0.5, "bbox": [0, 0, 1, 1]},
            {"image_id": "x", "category_id": 1, "score": 0.5, "keypoints": [0.0] * 10},
        ],
    )
    with pytest.raises(AnnotationError) as info:
        load_coco_results(path)
    message = str(info.value)
    assert f"{path}: [1].image_id" in message and f"{path}: [1].keypoints" in message
    assert "[0]" not in message
    write_json(path, {"not": "a list"})
    with pytest.raises(FashionVisionError, match="expected a JSON list"):
        load_coco_results(path)
    path.write_text("{broken")
    with pytest.raises(FashionVisionError, match="not valid JSON"):
        load_json(path)
    with pytest.raises(FashionVisionError, match="file not found"):
        load_json(tmp_path / "missing.json")
    write_json(path, {"images": []})
    with pytest.raises(AnnotationError, match="annotations: missing or not a list"):
        load_coco_ground_truth(path)
