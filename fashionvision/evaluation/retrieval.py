"""Consumer-to-shop retrieval evaluation, the official DeepFashion2 protocol.

Inputs (all boxes ``[x1, y1, x2, y2]`` in absolute pixels):

* query GT rows ``{query_image_id, pair_id, style, cls, bbox}``: every item of every user image;
* gallery GT rows ``{gallery_image_id, pair_id, style, bbox}``: the shop items with style > 0;
* result rows ``{query_image_id, query_bbox, query_cls, query_score, gallery_image_id: [20 ints],
  gallery_bbox: [20 boxes]}``: one row per detection in a user image, with its ranked shop results.

The protocol (``switchablenorms/DeepFashion2``, ``deepfashion2_retrieval_test.py``):

1. Each detection is assigned to the GT item *of its image* with the highest IoU; there is no
   minimum IoU. Ties go to the item listed first in the query GT (``np.argmax`` keeps the first
   maximum). A detection overlapping no item at all (IoU 0 with every item) is therefore assigned
   to the image's first item: the official script does exactly this (``argmax`` of an all-zero
   row is 0), and we keep it so that our figures equal the official ones. It can only matter when
   that detection also has the first item's class.
2. For each GT item with style > 0, the assigned detections whose ``query_cls`` equals the item's
   ``cls`` are kept and the highest ``query_score`` is the query (ties: the earlier result row).
   No detection left = a miss.
3. The denominator is every GT item with style > 0, images without any detection included.
4. A returned shop result is a hit when its image holds a gallery GT item with the query item's
   ``pair_id`` and ``style`` and the returned box has IoU >= 0.5 with such an item.
5. top-k is cumulative: a query counts for top-k when a hit lies among its first k results.

GT-box mode (``use_gt_boxes=True``): the result rows were produced from the GT query boxes. Each
row is matched to the item of its image with the highest IoU (rule 1), which must be at least
``GT_BOX_MIN_IOU`` (the box is the GT box up to rounding, otherwise the row is an error); the class
is not checked and the score is not needed. When several rows match one item, the row with the
highest IoU wins (ties: the earlier row). Rules 3-5 are unchanged.

Differences from the official script, all about bad input (it would crash or ignore it): result
rows for an image absent from the query GT, unknown gallery image ids (unless
``strict_gallery=False``), short or ragged result lists, missing keys and boxes of the wrong
length raise `RetrievalFormatError` naming the file, the row and the field. ``num_missed`` counts
every style>0 item without a query, images without detections included (the official counter
skips those images).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fashionvision.errors import FashionVisionError, Problem
from fashionvision.io_utils import load_json

GALLERY_IOU_THRESHOLD = 0.5
DEFAULT_TOP_K: tuple[int, ...] = (1, 5, 10, 15, 20)
GT_BOX_MIN_IOU = 0.95

__all__ = [
    "DEFAULT_TOP_K",
    "GALLERY_IOU_THRESHOLD",
    "GT_BOX_MIN_IOU",
    "RetrievalFormatError",
    "box_iou_pairwise",
    "evaluate_retrieval",
    "load_retrieval_gt",
    "load_retrieval_results",
]


class RetrievalFormatError(FashionVisionError):
    """A malformed retrieval GT or result file; `problem` names the file, the row and the field."""

    def __init__(self, source: str, field: str, message: str):
        self.problem = Problem(source, field, message)
        super().__init__(str(self.problem))


def box_iou_pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Element-wise IoU of boxes ``a[i]`` and ``b[i]``.

    a, b: float arrays [..., 4] xyxy (broadcastable). Returns [...] float64. Same arithmetic as
    pycocotools' ``iou`` on xywh boxes (no +1 pixel convention); an empty union gives 0.
    """
    iw = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    ih = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


# ----------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _QueryGT:
    image_id: np.ndarray  # [Q] int64
    pair_id: np.ndarray  # [Q] int64
    style: np.ndarray  # [Q] int64
    cls: np.ndarray  # [Q] int64
    boxes: np.ndarray  # [Q, 4] float64 xyxy


@dataclass(frozen=True)
class _GalleryGT:
    image_id: np.ndarray  # [G] int64
    pair_id: np.ndarray  # [G] int64
    style: np.ndarray  # [G] int64
    boxes: np.ndarray  # [G, 4] float64 xyxy


@dataclass(frozen=True)
class _Results:
    image_id: np.ndarray  # [R] int64
    boxes: np.ndarray  # [R, 4] float64 xyxy
    cls: np.ndarray  # [R] int64 (zeros in GT-box mode: not used)
    score: np.ndarray  # [R] float64 (zeros in GT-box mode: not used)
    gallery_ids: np.ndarray  # [R, K] int64
    gallery_boxes: np.ndarray  # [R, K, 4] float64 xyxy


def _rows_of(rows: Any, source: str) -> list[dict]:
    if not isinstance(rows, list | tuple):
        raise RetrievalFormatError(
            source, "", f"expected a JSON list of rows, got {type(rows).__name__}"
        )
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RetrievalFormatError(
                source, f"[{i}]", f"expected an object, got {type(row).__name__}"
            )
    return list(rows)


def _column(rows: list[dict], key: str, source: str, dtype: type) -> np.ndarray:
    """Column `key` of `rows` as a 1-D array; a missing or non-numeric value names its row."""
    for i, row in enumerate(rows):
        if key not in row:
            raise RetrievalFormatError(source, f"[{i}].{key}", "missing key")
    values = [row[key] for row in rows]
    try:
        out = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError):
        out = None
    if out is None or out.shape != (len(rows),):
        for i, v in enumerate(values):
            if isinstance(v, bool) or not isinstance(v, int | float):
                raise RetrievalFormatError(source, f"[{i}].{key}", f"expected a number, got {v!r}")
        raise RetrievalFormatError(source, key, "could not be read as numbers")
    return out


def _check_boxes(boxes: np.ndarray, source: str, field: str) -> None:
    """Reject non-finite or inverted boxes [R, ..., 4]; the first axis is the row number."""
    inverted = (boxes[..., 2] < boxes[..., 0]) | (boxes[..., 3] < boxes[..., 1])
    bad = ~np.isfinite(boxes).all(axis=-1) | inverted
    if bad.any():
        where = np.argwhere(bad)[0]
        row = int(where[0])
        suffix = "".join(f"[{int(j)}]" for j in where[1:])
        raise RetrievalFormatError(
            source,
            f"[{row}].{field}{suffix}",
            "box must be finite [x1, y1, x2, y2], x2 >= x1, y2 >= y1",
        )


def _box_column(rows: list[dict], key: str, source: str) -> np.ndarray:
    """Column `key` of `rows` as a [N, 4] float64 array of xyxy boxes."""
    for i, row in enumerate(rows):
        if key not in row:
            raise RetrievalFormatError(source, f"[{i}].{key}", "missing key")
        box = row[key]
        if not isinstance(box, list | tuple) or len(box) != 4:
            raise RetrievalFormatError(
                source, f"[{i}].{key}", f"expected [x1, y1, x2, y2], got {box!r}"
            )
    try:
        boxes = np.asarray([row[key] for row in rows], dtype=np.float64).reshape(len(rows), 4)
    except (TypeError, ValueError) as exc:
        raise RetrievalFormatError(source, key, f"boxes must hold numbers ({exc})") from None
    _check_boxes(boxes, source, key)
    return boxes


def _parse_query_gt(rows: Any, source: str) -> _QueryGT:
    rows = _rows_of(rows, source)
    return _QueryGT(
        image_id=_column(rows, "query_image_id", source, np.int64),
        pair_id=_column(rows, "pair_id", source, np.int64),
        style=_column(rows, "style", source, np.int64),
        cls=_column(rows, "cls", source, np.int64),
        boxes=_box_column(rows, "bbox", source),
    )


def _parse_gallery_gt(rows: Any, source: str) -> _GalleryGT:
    rows = _rows_of(rows, source)
    return _GalleryGT(
        image_id=_column(rows, "gallery_image_id", source, np.int64),
        pair_id=_column(rows, "pair_id", source, np.int64),
        style=_column(rows, "style", source, np.int64),
        boxes=_box_column(rows, "bbox", source),
    )


def _ranked_lists(rows: list[dict], source: str, num_results: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `num_results` gallery ids [R, K] and boxes [R, K, 4] of every result row."""
    if not rows:
        return np.zeros((0, num_results), np.int64), np.zeros((0, num_results, 4), np.float64)
    for i, row in enumerate(rows):
        for key in ("gallery_image_id", "gallery_bbox"):
            if not isinstance(row.get(key), list | tuple):
                raise RetrievalFormatError(source, f"[{i}].{key}", "missing key or not a list")
        n_ids, n_boxes = len(row["gallery_image_id"]), len(row["gallery_bbox"])
        where = f"query_image_id {row.get('query_image_id')!r}"
        if n_ids != n_boxes:
            raise RetrievalFormatError(
                source, f"[{i}].gallery_bbox", f"{n_boxes} boxes for {n_ids} gallery ids ({where})"
            )
        if n_ids < num_results:
            raise RetrievalFormatError(
                source,
                f"[{i}].gallery_image_id",
                f"{n_ids} results, expected {num_results} ({where})",
            )
    try:
        ids = np.asarray([row["gallery_image_id"][:num_results] for row in rows], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise RetrievalFormatError(
            source, "gallery_image_id", f"ids must be integers ({exc})"
        ) from None
    try:
        boxes = np.asarray([row["gallery_bbox"][:num_results] for row in rows], dtype=np.float64)
    except (TypeError, ValueError):
        boxes = None
    if boxes is None or boxes.shape != (len(rows), num_results, 4):
        for i, row in enumerate(rows):
            for j, box in enumerate(row["gallery_bbox"][:num_results]):
                if not isinstance(box, list | tuple) or len(box) != 4:
                    raise RetrievalFormatError(
                        source,
                        f"[{i}].gallery_bbox[{j}]",
                        f"expected [x1, y1, x2, y2], got {box!r}",
                    )
        raise RetrievalFormatError(source, "gallery_bbox", "boxes must hold numbers")
    ids, boxes = ids.reshape(len(rows), num_results), boxes.reshape(len(rows), num_results, 4)
    _check_boxes(boxes, source, "gallery_bbox")
    return ids, boxes


def _parse_results(rows: Any, source: str, num_results: int, use_gt_boxes: bool) -> _Results:
    rows = _rows_of(rows, source)
    n = len(rows)
    gallery_ids, gallery_boxes = _ranked_lists(rows, source, num_results)
    if use_gt_boxes:
        # A GT-box query is matched by its box alone: its class and score are not read.
        cls = np.zeros(n, np.int64)
        score = np.zeros(n, np.float64)
    else:
        cls = _column(rows, "query_cls", source, np.int64)
        score = _column(rows, "query_score", source, np.float64)
    return _Results(
        image_id=_column(rows, "query_image_id", source, np.int64),
        boxes=_box_column(rows, "query_bbox", source),
        cls=cls,
        score=score,
        gallery_ids=gallery_ids,
        gallery_boxes=gallery_boxes,
    )


# ----------------------------------------------------------------------------- protocol


def _assign_to_items(
    query: _QueryGT, results: _Results, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """Step 1: the GT item index [R] with the highest IoU in each result's image, and that IoU [R].

    Items are visited in query-GT order, so ``argmax`` breaks ties (and all-zero rows) towards the
    item listed first, as the official script does.
    """
    order = np.argsort(query.image_id, kind="stable")
    sorted_ids = query.image_id[order]
    start = np.searchsorted(sorted_ids, results.image_id, side="left")
    count = np.searchsorted(sorted_ids, results.image_id, side="right") - start
    unknown = np.flatnonzero(count == 0)
    if unknown.size:
        i = int(unknown[0])
        raise RetrievalFormatError(
            source,
            f"[{i}].query_image_id",
            f"image {int(results.image_id[i])} is not in the query GT",
        )
    offsets = np.arange(int(count.max()) if count.size else 0)
    valid = offsets[None, :] < count[:, None]  # [R, M]
    item = order[np.minimum(start[:, None] + offsets[None, :], len(order) - 1)]  # [R, M]
    iou = box_iou_pairwise(results.boxes[:, None, :], query.boxes[item])
    iou = np.where(valid, iou, -1.0)
    best = np.argmax(iou, axis=1) if iou.size else np.zeros(0, np.int64)
    rows = np.arange(len(best))
    return item[rows, best], iou[rows, best]


def _select_queries(
    query: _QueryGT, results: _Results, assigned: np.ndarray, iou: np.ndarray, use_gt_boxes: bool
) -> np.ndarray:
    """Step 2: for every GT item [Q], the result row acting as its query, or -1 (a miss)."""
    keep = query.style[assigned] > 0
    if use_gt_boxes:
        priority = iou
    else:
        keep &= results.cls == query.cls[assigned]
        priority = results.score
    rows = np.flatnonzero(keep)
    # Sort by item, then best priority first, then earlier row first; the head of each item wins.
    rows = rows[np.lexsort((rows, -priority[rows], assigned[rows]))]
    items = assigned[rows]
    head = np.ones(len(rows), bool)
    head[1:] = items[1:] != items[:-1]
    chosen = np.full(len(query.image_id), -1, np.int64)
    chosen[items[head]] = rows[head]
    return chosen


def _dense_codes(values: np.ndarray, vocabulary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each value in the sorted unique `vocabulary`, and whether it is present there."""
    pos = np.clip(np.searchsorted(vocabulary, values), 0, max(len(vocabulary) - 1, 0))
    found = vocabulary[pos] == values if len(vocabulary) else np.zeros(values.shape, bool)
    return pos, found


def _gallery_hits(
    gallery: _GalleryGT,
    pair_id: np.ndarray,
    style: np.ndarray,
    result_ids: np.ndarray,
    result_boxes: np.ndarray,
) -> np.ndarray:
    """Step 4 for S queries: hit [S, K] when result (S, K) lies in a shop image holding a GT item
    of the query's pair_id and style with IoU >= 0.5.

    pair_id, style: [S]; result_ids: [S, K]; result_boxes: [S, K, 4] xyxy. The gallery is keyed
    by (image, pair_id, style) as one int64 built from dense codes, sorted once, and each result
    looks up its (usually 1-long) run of candidate items with `searchsorted`.
    """
    vocabularies = [
        np.unique(gallery.image_id),
        np.unique(gallery.pair_id),
        np.unique(gallery.style),
    ]
    sizes = [len(v) + 1 for v in vocabularies]

    def key(image: np.ndarray, pair: np.ndarray, sty: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        codes = [
            _dense_codes(v, voc) for v, voc in zip((image, pair, sty), vocabularies, strict=True)
        ]
        found = codes[0][1] & codes[1][1] & codes[2][1]
        packed = (codes[0][0] * sizes[1] + codes[1][0]) * sizes[2] + codes[2][0]
        return np.where(found, packed, -1), found

    gallery_key, _ = key(gallery.image_id, gallery.pair_id, gallery.style)
    order = np.argsort(gallery_key, kind="stable")
    sorted_key = gallery_key[order]
    shape = result_ids.shape
    wanted, found = key(
        result_ids, np.broadcast_to(pair_id[:, None], shape), np.broadcast_to(style[:, None], shape)
    )
    lo = np.searchsorted(sorted_key, wanted, side="left")
    count = np.where(found, np.searchsorted(sorted_key, wanted, side="right") - lo, 0)
    hits = np.zeros(shape, bool)
    for j in range(int(count.max()) if count.size else 0):
        candidate = order[np.minimum(lo + j, len(order) - 1)]
        iou = box_iou_pairwise(result_boxes, gallery.boxes[candidate])
        hits |= (j < count) & (iou >= GALLERY_IOU_THRESHOLD)
    return hits


def _check_gallery_ids(gallery: _GalleryGT, results: _Results, source: str) -> None:
    known = np.isin(results.gallery_ids, gallery.image_id)
    if not known.all():
        row, col = (int(v) for v in np.argwhere(~known)[0])
        raise RetrievalFormatError(
            source,
            f"[{row}].gallery_image_id[{col}]",
            f"image {int(results.gallery_ids[row, col])} is not in the gallery GT "
            "(pass strict_gallery=False / --allow-unknown-gallery to count it as a miss)",
        )


def evaluate_retrieval(
    query_gt: Sequence[dict],
    gallery_gt: Sequence[dict],
    results: Sequence[dict],
    use_gt_boxes: bool = False,
    top_k: Sequence[int] = DEFAULT_TOP_K,
    *,
    strict_gallery: bool = True,
    query_source: str = "query_gt",
    gallery_source: str = "gallery_gt",
    results_source: str = "results",
) -> dict[str, Any]:
    """Consumer-to-shop top-k accuracy under the official DeepFashion2 protocol (module docstring).

    Rows are the official JSON rows (boxes xyxy). Every result row must carry at least
    ``max(top_k)`` gallery results; extra ones are ignored. `strict_gallery=False` counts results
    in shop images absent from the gallery GT (images whose items all have style 0) as misses
    instead of rejecting them. The ``*_source`` names (file paths) appear in error messages.

    Returns ``{"top1": float, ..., "num_queries": int, "num_missed": int}`` with one ``top{k}``
    per k; ``num_queries`` is the number of GT query items with style > 0 (the denominator).
    """
    ks = sorted({int(k) for k in top_k})
    if not ks or ks[0] < 1:
        raise FashionVisionError(f"top_k must hold positive integers, got {list(top_k)}")
    query = _parse_query_gt(query_gt, query_source)
    gallery = _parse_gallery_gt(gallery_gt, gallery_source)
    res = _parse_results(results, results_source, ks[-1], use_gt_boxes)
    if strict_gallery:
        _check_gallery_ids(gallery, res, results_source)

    assigned, iou = _assign_to_items(query, res, results_source)
    if use_gt_boxes and len(iou):
        worst = int(np.argmin(iou))
        if iou[worst] < GT_BOX_MIN_IOU:
            raise RetrievalFormatError(
                results_source,
                f"[{worst}].query_bbox",
                f"GT-box mode: best IoU with a GT item of image {int(res.image_id[worst])} is "
                f"{iou[worst]:.3f} < {GT_BOX_MIN_IOU}",
            )
    chosen = _select_queries(query, res, assigned, iou, use_gt_boxes)

    counted = np.flatnonzero(query.style > 0)
    selected = counted[chosen[counted] >= 0]
    rows = chosen[selected]
    hits = _gallery_hits(
        gallery,
        query.pair_id[selected],
        query.style[selected],
        res.gallery_ids[rows, : ks[-1]],
        res.gallery_boxes[rows, : ks[-1]],
    )
    first_hit = np.where(hits.any(axis=1), np.argmax(hits, axis=1), ks[-1])
    denominator = len(counted)
    out: dict[str, Any] = {
        f"top{k}": float(np.count_nonzero(first_hit < k) / denominator) if denominator else 0.0
        for k in ks
    }
    out["num_queries"] = int(denominator)
    out["num_missed"] = int(denominator - len(selected))
    return out


# ----------------------------------------------------------------------------- files


def _read_json(path: str | Path) -> Any:
    """`io_utils.load_json`, its error re-raised as this module's error type."""
    try:
        return load_json(path)
    except FashionVisionError as exc:
        message = str(exc).removeprefix(f"{Path(path)}: ")
        raise RetrievalFormatError(str(path), "", message) from None


def load_retrieval_results(path: str | Path) -> list[dict]:
    """Read an official retrieval result file (a JSON list of rows); rows are checked later by
    `evaluate_retrieval`, which should get ``results_source=str(path)``."""
    return _rows_of(_read_json(path), str(path))


def load_retrieval_gt(path: str | Path, part: Literal["query", "gallery"]) -> list[dict]:
    """Read retrieval GT rows: either a JSON list (the official ``query_gt.json`` or
    ``gallery_gt.json``, returned as is) or an object ``{"query": [...], "gallery": [...]}``,
    of which `part` is returned."""
    data = _read_json(path)
    if isinstance(data, dict):
        if part not in data:
            raise RetrievalFormatError(
                str(path), part, f"missing key (the file has {sorted(data)})"
            )
        return _rows_of(data[part], f"{path}:{part}")
    rows = _rows_of(data, str(path))
    id_key = f"{part}_image_id"
    if rows and id_key not in rows[0]:
        raise RetrievalFormatError(
            str(path),
            f"[0].{id_key}",
            f"missing key: not a {part} GT list (or a query+gallery object)",
        )
    return rows
