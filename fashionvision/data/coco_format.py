"""The project's one COCO encoder/decoder for DeepFashion2.

Ground truth follows the official ``deepfashion2_to_coco.py``: one COCO annotation per garment, ids
1.. in record order, ``keypoints`` always 882 numbers (294 x (x, y, v)) that are zero outside the
garment's category slice with v kept as annotated, ``num_keypoints`` = number of points with v > 0,
``area`` = box w*h (not the mask area: the official landmark OKS uses the box area as object scale),
``iscrowd`` 0, ``bbox`` xywh and polygon ``segmentation``.  Beyond the official file each annotation
also carries the garment's ``scale``, ``occlusion``, ``zoom_in``, ``viewpoint`` and the image's
``source`` so that subset evaluation can filter on them.

Retrieval ground truth follows the official ``query_gt.json`` / ``gallery_gt.json`` rows.  Results
files (detections) follow the COCO results format with 882-number keypoints and RLE masks; every
results row, read from a file or evaluated from memory, is checked by `validate_result_rows`
(vectorised: a validation results file has ~640k rows of 882 numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from fashionvision.categories import CATEGORIES, NUM_LANDMARKS, to_global
from fashionvision.data.deepfashion2 import brief_repr, json_type_name
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


def xyxy_to_xywh(box: Sequence[float]) -> list[float]:
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
    x, y, w, h = xyxy_to_xywh(item.bbox)
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
        "bbox": xyxy_to_xywh(det.bbox),
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


# ------------------------------------------------------------------------------------------------
# Results files: one validator for every way rows come in (a file, or a list in memory)
# ------------------------------------------------------------------------------------------------

_NUMBER_TYPES = frozenset({int, float})  # exact: bool is an int subclass but not a number
_MISSING = object()  # a field absent from its row (None is a value: JSON null)
_CHUNK_ROWS = 4096  # rows checked at once: bounds the temporary lists
_BBOX = "[x, y, w, h] with w, h >= 0"
_KEYPOINTS = f"{3 * NUM_LANDMARKS} numbers (294 x 3)"
_SEGMENTATION = "an RLE {size, counts} or polygons"
_ANY_OF = ("bbox", "segmentation", "keypoints")


def _is_number(value: Any) -> bool:
    """A finite int or float (numpy scalars included, for rows built in memory); not a bool."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def _first_bad_number(values: Sequence[Any]) -> int | None:
    """Index of the first element of `values` that is not a finite number, or None."""
    return next((k for k, v in enumerate(values) if not _is_number(v)), None)


def _flags(values: Iterable[bool], n: int) -> np.ndarray:
    return np.fromiter(values, dtype=bool, count=n)


def _finite_number_lists(cells: list[Any], length: int) -> np.ndarray:
    """Per cell: is it a list (or tuple) of `length` finite numbers?

    The rows of a results file hold 882 keypoint numbers each, so this is the hot loop, done with
    C-level maps over chunks of rows: lengths, then the element types (exactly int or float, so no
    bool or string), then one `sum` per row, which is finite exactly when the row holds no NaN or
    infinity (a sum that overflows only sends its row to the exact check).  Rows the fast path
    cannot vouch for are checked element by element.
    """
    n = len(cells)
    ok = _flags((isinstance(c, list | tuple) and len(c) == length for c in cells), n)
    rows = np.flatnonzero(ok)
    for start in range(0, len(rows), _CHUNK_ROWS):
        part = rows[start : start + _CHUNK_ROWS]
        chunk = [cells[i] for i in part]
        # a set per row is faster than one set over itertools.chain (no per-element hop)
        if set().union(*(set(map(type, row)) for row in chunk)) <= _NUMBER_TYPES:
            try:
                finite = np.isfinite(np.array(list(map(sum, chunk)), dtype=np.float64))
            except OverflowError:  # an int beyond the float range
                pass
            else:
                doubtful = np.flatnonzero(~finite)
                part, chunk = part[doubtful], [chunk[k] for k in doubtful]
        ok[part] = [_first_bad_number(c) is None for c in chunk]
    return ok


def _number_list_message(cell: Any, length: int, expected: str) -> str:
    """Why `cell` is not a list of `length` finite numbers (for the few rows reported)."""
    if cell is _MISSING:
        return "missing"
    if not isinstance(cell, list | tuple):
        return f"expected {expected}, got {json_type_name(cell)}"
    if len(cell) != length:
        return f"expected {expected}, got {len(cell)} values"
    k = _first_bad_number(cell)
    if k is None:
        return f"expected {expected}"  # numbers, but a further rule of the field fails
    return f"expected {expected}, element {k} is {brief_repr(cell[k])}"


def _segmentation_problem(seg: Any, image_size: tuple[int, int] | None) -> str | None:
    """What is wrong with a result's `segmentation` (None: nothing); `image_size` = (height,
    width) of its image when known: an RLE of another size cannot be compared with its GT."""
    if seg is _MISSING:
        return "missing"
    if isinstance(seg, dict):
        size = seg.get("size")
        if "counts" not in seg or not (
            isinstance(size, list | tuple) and len(size) == 2 and all(type(v) is int for v in size)
        ):
            return f"expected {_SEGMENTATION}"
        if image_size is not None and tuple(size) != tuple(image_size):
            h, w = image_size
            return f"RLE size {list(size)} (height, width) differs from the image's [{h}, {w}]"
        return None
    if (
        isinstance(seg, list)
        and seg
        and all(isinstance(p, list) and p and _first_bad_number(p) is None for p in seg)
    ):
        return None
    return f"expected {_SEGMENTATION}"


class _Check(NamedTuple):
    """One rule over all rows: `bad` flags the rows that break it, `message(row)` says why."""

    field: str
    bad: np.ndarray
    message: Callable[[int], str]


def _id_check(field: str, ids: list[Any], known: Collection[Any] | None, what: str) -> _Check:
    """An integer id, and one of `known` when given."""
    n = len(ids)
    if known is None:
        good = _flags((type(v) is int for v in ids), n)
    else:
        good = _flags((type(v) is int and v in known for v in ids), n)

    def message(i: int) -> str:
        return f"unknown {what} {ids[i]}" if type(ids[i]) is int else "missing or not an integer"

    return _Check(field, ~good, message)


def _number_list_check(field: str, cells: list[Any], length: int, expected: str) -> _Check:
    bad = ~_finite_number_lists(cells, length)
    return _Check(field, bad, lambda i: _number_list_message(cells[i], length, expected))


def _segmentation_check(
    segs: list[Any], image_ids: list[Any], image_sizes: Mapping[Any, tuple[int, int] | None] | None
) -> _Check:
    sizes = image_sizes or {}
    problems = [
        _segmentation_problem(seg, sizes.get(i) if type(i) is int else None)
        for seg, i in zip(segs, image_ids, strict=True)
    ]
    bad = _flags((p is not None for p in problems), len(segs))
    return _Check("segmentation", bad, lambda i: str(problems[i]))


def _row_checks(
    rows: list[Any],
    image_sizes: Mapping[Any, tuple[int, int] | None] | None,
    category_ids: Collection[Any] | None,
    required: str | None,
) -> list[_Check]:
    """The rules of `validate_result_rows` over `rows`, in the order a row's problems are listed."""
    n = len(rows)
    is_row = _flags((isinstance(r, dict) for r in rows), n)
    cells = {
        key: [r.get(key, _MISSING) if isinstance(r, dict) else _MISSING for r in rows]
        for key in ("image_id", "category_id", "score", *_ANY_OF)
    }
    has = {key: _flags((c is not _MISSING for c in cells[key]), n) for key in _ANY_OF}
    box = _number_list_check("bbox", cells["bbox"], 4, _BBOX)
    fine = np.flatnonzero(~box.bad)
    box.bad[fine] = [cells["bbox"][i][2] < 0 or cells["bbox"][i][3] < 0 for i in fine]
    checks = [
        _id_check("image_id", cells["image_id"], image_sizes, "image id"),
        _id_check("category_id", cells["category_id"], category_ids, "category"),
        _Check(
            "score",
            ~_flags(map(_is_number, cells["score"]), n),
            lambda i: "missing or not a finite number",
        ),
        box,
        _number_list_check("keypoints", cells["keypoints"], 3 * NUM_LANDMARKS, _KEYPOINTS),
        _segmentation_check(cells["segmentation"], cells["image_id"], image_sizes),
    ]
    # A row is checked only where it is an object; bbox, keypoints and segmentation only where
    # present, except the required one.
    checks = [
        c._replace(bad=c.bad & is_row & (has[c.field] | (c.field == required)))
        if c.field in has
        else c._replace(bad=c.bad & is_row)
        for c in checks
    ]
    checks.insert(0, _Check("", ~is_row, lambda i: "expected an object"))
    if required is None:
        no_field = is_row & ~(has["bbox"] | has["segmentation"] | has["keypoints"])
        checks.append(_Check("", no_field, lambda i: f"needs one of {', '.join(_ANY_OF)}"))
    return checks


def validate_result_rows(
    rows: Any,
    origin: str,
    *,
    rows_name: str = "",
    image_sizes: Mapping[Any, tuple[int, int] | None] | None = None,
    category_ids: Collection[Any] | None = None,
    required: str | None = None,
    limit: int = _MAX_REPORTED_PROBLEMS,
) -> None:
    """Check COCO results rows; raise `AnnotationError` listing the first `limit` problems.

    The one check of results rows, whether read from a file (`load_coco_results`) or evaluated
    (`fashionvision.evaluation.coco_eval.validate_results`).  Problems are in row order, each
    named ``<origin>: <rows_name>[row].field`` (`rows_name` "" for a file's top-level list).

    Every row: an object with integer ``image_id`` and ``category_id`` and a finite ``score``;
    ``bbox`` (4 numbers, w, h >= 0), ``keypoints`` (882 numbers) and ``segmentation`` (an RLE
    ``{size, counts}`` or non-empty polygons) are each checked when present.  `required` names
    the field every row must have (the task's: official per-task files hold only that one, e.g.
    segm rows have no ``bbox``); without it a row needs one of the three.  Against a ground
    truth: `image_sizes` maps each known image id to its (height, width), or None where unknown
    (an RLE must have its image's size), and `category_ids` are the known categories.
    """
    if not isinstance(rows, list):
        raise AnnotationError.single(origin, rows_name, "expected a JSON list of detections")
    # The checks build a few small containers per row; with hundreds of thousands of rows (each a
    # list of 882 floats) alive, cyclic collections would re-traverse all of them many times.
    with gc_paused():
        checks = _row_checks(rows, image_sizes, category_ids, required)

    # The first `limit` problems overall lie among the first `limit` of each check.
    found = sorted(
        (int(i), k) for k, check in enumerate(checks) for i in np.flatnonzero(check.bad)[:limit]
    )[:limit]
    if found:
        raise AnnotationError([_row_problem(origin, rows_name, i, checks[k]) for i, k in found])


def _row_problem(origin: str, rows_name: str, row: int, check: _Check) -> Problem:
    where = f"{rows_name}[{row}]" + (f".{check.field}" if check.field else "")
    return Problem(origin, where, check.message(row))


def load_coco_results(path: str | Path) -> list[dict[str, Any]]:
    """Read and check a COCO results file (a JSON list of detections; see
    `validate_result_rows`).

    Raises AnnotationError (a FashionVisionError) listing the bad rows and fields, e.g.
    ``results.json: [3].keypoints: expected 882 numbers (294 x 3), got 879 values``.
    """
    data = load_json(path)
    validate_result_rows(data, str(path))
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
