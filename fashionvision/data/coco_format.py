"""The project's one COCO encoder/decoder for DeepFashion2.

Ground truth follows the official ``deepfashion2_to_coco.py``: one COCO annotation per garment, ids
1.. in record order, ``keypoints`` always 882 numbers (294 x (x, y, v)) that are zero outside the
garment's category slice with v kept as annotated, ``num_keypoints`` = number of points with v > 0,
``area`` = box w*h (not the mask area: the official landmark OKS uses the box area as object scale),
``iscrowd`` 0, ``bbox`` xywh and polygon ``segmentation``.  Beyond the official file each annotation
also carries the garment's ``scale``, ``occlusion``, ``zoom_in``, ``viewpoint`` and the image's
``source`` so that subset evaluation can filter on them.

Retrieval ground truth follows the official ``query_gt.json`` / ``gallery_gt.json`` rows.  Results
files (detections) follow the COCO results format with 882-number keypoints and RLE masks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from fashionvision.categories import CATEGORIES, NUM_LANDMARKS, to_global
from fashionvision.errors import AnnotationError, Problem
from fashionvision.io_utils import gc_paused, load_json
from fashionvision.structures import Detection, Garment, ImageAnnotation

KEYPOINT_NAMES: tuple[str, ...] = tuple(str(i) for i in range(1, NUM_LANDMARKS + 1))
_MAX_REPORTED_PROBLEMS = 20


def coco_categories() -> list[dict[str, Any]]:
    """The 13 COCO category entries; every category lists all 294 keypoint names "1".."294"."""
    return [
        {
            "id": c.id,
            "name": c.name,
            "supercategory": "clothes",
            "keypoints": list(KEYPOINT_NAMES),
            "skeleton": [],
        }
        for c in CATEGORIES
    ]


def garment_keypoints(item: Garment, visible_only: bool = False) -> np.ndarray:
    """The garment's landmarks in the global layout, shape (294, 3) float64 of (x, y, v).

    With `visible_only`, occluded points (v == 1) become (0, 0, 0) so that they count as unlabelled
    (the paper's "visible landmarks" evaluation setting).
    """
    kps = to_global(item.category_id, item.landmarks)
    if visible_only:
        kps[kps[:, 2] == 1] = 0.0
    return kps


def _xyxy_to_xywh(box: Sequence[float]) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return [x1, y1, x2 - x1, y2 - y1]


def _plain(value: float) -> int | float:
    """Integral floats as ints so that files written from integer annotations stay integer."""
    value = float(value)
    return int(value) if value.is_integer() else value


def garment_to_coco(
    item: Garment, ann_id: int, image: ImageAnnotation, visible_only: bool = False
) -> dict[str, Any]:
    """One COCO annotation dict for `item` of `image` (bbox xywh, 882 keypoint numbers)."""
    kps = garment_keypoints(item, visible_only)
    x, y, w, h = _xyxy_to_xywh(item.bbox)
    return {
        "id": ann_id,
        "image_id": image.image_id,
        "category_id": item.category_id,
        "bbox": [_plain(v) for v in (x, y, w, h)],
        "area": _plain(w * h),
        "iscrowd": 0,
        "segmentation": [[_plain(v) for v in poly] for poly in item.segmentation],
        # floats, as the official script writes them (np.zeros(882).tolist()); also 30x faster
        "keypoints": kps.reshape(-1).tolist(),
        "num_keypoints": int(np.count_nonzero(kps[:, 2] > 0)),
        "pair_id": image.pair_id,
        "style": item.style,
        "scale": item.scale,
        "occlusion": item.occlusion,
        "zoom_in": item.zoom_in,
        "viewpoint": item.viewpoint,
        "source": image.source,
    }


def image_to_coco(image: ImageAnnotation) -> dict[str, Any]:
    """The COCO image entry: id, file_name (relative to the split, ``image/000001.jpg``), size."""
    return {
        "id": image.image_id,
        "file_name": image.file_name,
        "width": image.width,
        "height": image.height,
        "pair_id": image.pair_id,
        "source": image.source,
    }


def split_to_coco(records: Iterable[ImageAnnotation], visible_only: bool = False) -> dict[str, Any]:
    """Convert a split's records to a COCO ground-truth dict (see the module docstring).

    Annotation ids run 1.. over the records in the given order and their items in item order.
    """
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    with gc_paused():
        for record in records:
            images.append(image_to_coco(record))
            for item in record.items:
                ann = garment_to_coco(item, len(annotations) + 1, record, visible_only)
                annotations.append(ann)
    return {
        "info": {"description": "DeepFashion2-format split converted by fashionvision"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": coco_categories(),
    }


def retrieval_ground_truth(
    records: Iterable[ImageAnnotation],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The consumer-to-shop retrieval ground truth in the official row format.

    Returns ``(query, gallery)``: query rows ``{query_image_id, pair_id, style, cls, bbox}`` for
    every item of every user image (style 0 included, as in the official ``query_gt.json``); gallery
    rows ``{gallery_image_id, pair_id, style, bbox}`` for shop items with style > 0.  Boxes xyxy.
    """
    query: list[dict[str, Any]] = []
    gallery: list[dict[str, Any]] = []
    for record in records:
        for item in record.items:
            bbox = [_plain(v) for v in item.bbox]
            if record.source == "user":
                query.append(
                    {
                        "query_image_id": record.image_id,
                        "pair_id": record.pair_id,
                        "style": item.style,
                        "cls": item.category_id,
                        "bbox": bbox,
                    }
                )
            elif item.style > 0:
                gallery.append(
                    {
                        "gallery_image_id": record.image_id,
                        "pair_id": record.pair_id,
                        "style": item.style,
                        "bbox": bbox,
                    }
                )
    return query, gallery


def _json_rle(rle: dict[str, Any]) -> dict[str, Any]:
    """A COCO RLE with `counts` as str (pycocotools returns bytes, which json cannot dump)."""
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(v) for v in rle["size"]], "counts": counts}


def _global_landmarks(category_id: int, landmarks: np.ndarray) -> np.ndarray:
    """(294, 3) landmarks from a detection's local (n, 3) ones; a (294, 3) array is taken as already
    global (the model's output layout) so that no caller has to convert back and forth."""
    arr = np.asarray(landmarks, dtype=np.float64).reshape(-1, 3)
    if len(arr) == NUM_LANDMARKS:
        return arr
    return to_global(category_id, arr)


def detection_to_coco_result(det: Detection) -> dict[str, Any]:
    """One COCO results row for `det`: bbox xywh always; ``segmentation`` (RLE) when the detection
    has a mask; ``keypoints`` (882 numbers, the landmark scores as v) when it has landmarks
    (local (n, 3) as in `Detection`, or already global (294, 3))."""
    row: dict[str, Any] = {
        "image_id": int(det.image_id),
        "category_id": int(det.category_id),
        "score": float(det.score),
        "bbox": _xyxy_to_xywh(det.bbox),
    }
    if det.mask is not None:
        row["segmentation"] = _json_rle(det.mask)
    if det.landmarks is not None:
        row["keypoints"] = _global_landmarks(det.category_id, det.landmarks).reshape(-1).tolist()
    return row


def detections_to_coco_results(dets: Iterable[Detection]) -> list[dict[str, Any]]:
    """COCO results rows for `dets`, in order (see `detection_to_coco_result`)."""
    with gc_paused():
        return [detection_to_coco_result(d) for d in dets]


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _numbers(value: Any, length: int | None = None) -> bool:
    return (
        isinstance(value, list)
        and (length is None or len(value) == length)
        and all(_is_number(v) for v in value)
    )


def _result_row_problems(row: Any, index: int, path: str) -> list[Problem]:
    """Problems of one results row; field names are like ``[3].bbox``."""
    where = f"[{index}]"
    if not isinstance(row, dict):
        return [Problem(path, where, "expected an object")]
    problems = []
    for key in ("image_id", "category_id"):
        if not isinstance(row.get(key), int) or isinstance(row.get(key), bool):
            problems.append(Problem(path, f"{where}.{key}", "missing or not an integer"))
    if not _is_number(row.get("score")):
        problems.append(Problem(path, f"{where}.score", "missing or not a finite number"))
    if "bbox" in row and not (_numbers(row["bbox"], 4) and min(row["bbox"][2:]) >= 0):
        problems.append(Problem(path, f"{where}.bbox", "expected [x, y, w, h] with w, h >= 0"))
    if "keypoints" in row and not _numbers(row["keypoints"], 3 * NUM_LANDMARKS):
        problems.append(
            Problem(path, f"{where}.keypoints", f"expected {3 * NUM_LANDMARKS} numbers")
        )
    seg = row.get("segmentation")
    if seg is not None and not (isinstance(seg, dict) and {"size", "counts"} <= seg.keys()):
        if not (isinstance(seg, list) and all(_numbers(p) for p in seg)):
            problems.append(
                Problem(path, f"{where}.segmentation", "expected an RLE {size, counts} or polygons")
            )
    if not {"bbox", "segmentation", "keypoints"} & row.keys():
        problems.append(Problem(path, where, "needs one of bbox, segmentation, keypoints"))
    return problems


def load_coco_results(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a COCO results file (a JSON list of detections).

    Raises AnnotationError (a FashionVisionError) listing the bad rows and fields, e.g.
    ``results.json: [3].keypoints: expected 882 numbers``.
    """
    data = load_json(path)
    if not isinstance(data, list):
        raise AnnotationError.single(path, "", "expected a JSON list of detections")
    problems: list[Problem] = []
    for index, row in enumerate(data):
        problems.extend(_result_row_problems(row, index, str(path)))
        if len(problems) >= _MAX_REPORTED_PROBLEMS:
            break
    if problems:
        raise AnnotationError(problems[:_MAX_REPORTED_PROBLEMS])
    return data


def load_coco_ground_truth(path: str | Path) -> dict[str, Any]:
    """Read a COCO ground-truth file and check its top-level structure (images, annotations,
    categories lists); raises AnnotationError naming the file and the missing field."""
    data = load_json(path)
    if not isinstance(data, dict):
        raise AnnotationError.single(path, "", "expected a JSON object (COCO ground truth)")
    problems = [
        Problem(str(path), key, "missing or not a list")
        for key in ("images", "annotations", "categories")
        if not isinstance(data.get(key), list)
    ]
    if problems:
        raise AnnotationError(problems)
    return data
