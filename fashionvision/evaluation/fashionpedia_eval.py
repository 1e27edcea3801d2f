"""Fashionpedia's metric: AP where a detection must match a ground-truth region in both its mask
(IoU) and its attributes (F1), ``AP^{IoU+F1}``; and the ordinary IoU-only AP beside it.

How the protocol is read (Jia et al., "Fashionpedia", ECCV 2020, and the official evaluator
``KMnP/fashionpedia-api`` ``fashionpedia/fp_eval.py``):

* **Attribute F1.**  The official evaluator turns both attribute lists into multi-hot vectors over
  the ground-truth file's attribute table (294 entries in the final release, in table order since
  the ids have gaps) and scores them with scikit-learn's ``f1_score(gt, dt, average="macro")``
  (its ``f1Type = "binary_macro"``).  On two 0/1 vectors, sklearn's macro average is the mean of
  the F1 of each label value that occurs in either vector: of value 1 (the attributes) and of
  value 0 (the attributes absent).  So F1 = mean(F1_present, F1_absent) over the values present,
  with F1_v = 2 TP_v / (2 TP_v + FP_v + FN_v).  Consequences: two empty lists score 1; a correct
  list scores 1; missing all 3 GT attributes of 294 scores (0 + 582/585) / 2 = 0.497, below every
  threshold.  `attribute_f1` computes exactly this (no sklearn needed).
* **Which categories need F1.**  The official evaluator hard-codes the 18 categories of the final
  ontology that carry attributes (`OFFICIAL_CATEGORIES_WITH_ATTRIBUTES`); the others are scored
  with IoU alone.  By default this module takes the categories that have at least one GT region
  with attributes (pass the official list, or any, as `attribute_categories`): the official
  list is meaningless for other ontologies (the sample file's, iMaterialist's).
* **Thresholds.**  IoU and F1 thresholds both run over .50:.05:.95.  ``"iou+f1"`` reports the
  COCO statistics with the two thresholds set *jointly* to the same t (AP = the mean over t of
  AP(IoU >= t and F1 >= t), AP50 at t = .5, AP75 at t = .75), as the task brief reads the paper.
  The official code's headline number averages all 10 x 10 (IoU, F1) pairs instead, and, by the
  way it concatenates, counts each attribute category once per F1 threshold (10 times) and each
  other category once; that number is reported as ``"AP_grid"`` so that both readings are
  available.  ``"iou"`` is the plain COCO evaluation (attributes ignored).
* **Matching.**  COCOeval's greedy matching (by score; each detection takes the unmatched GT of
  best IoU among those passing both thresholds).  The official ``evaluateImg`` lets a later GT
  replace a tentative match only if it beats both its IoU and its F1; the two differ only when
  one detection passes both thresholds with two GT regions of its category in one image.

Implementation: pycocotools' `COCOeval` whose ``computeIoU`` sets the IoU of a (detection, GT)
pair to 0 when their F1 is below the current F1 threshold (an IoU of 0 passes no threshold
>= .5).  Raw IoUs and F1s are computed once; matching and accumulation run once per F1 threshold
and once without.  Result rows are COCO results with ``attribute_ids`` (a row without them
predicts no attribute).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from fashionvision.data.coco_format import validate_result_rows
from fashionvision.data.fashionpedia import (
    FashionpediaData,
    fashionpedia_coco,
    load_fashionpedia,
    parse_fashionpedia,
)
from fashionvision.errors import AnnotationError, Problem
from fashionvision.evaluation.coco_eval import _summary, category_names
from fashionvision.io_utils import load_json

IouType = Literal["segm", "bbox"]
THRESHOLDS = np.linspace(0.5, 0.95, 10)  # the same values as COCOeval's iouThrs
# fp_eval.py FPParams.catsWithAttributes (final 46-category ontology)
OFFICIAL_CATEGORIES_WITH_ATTRIBUTES = frozenset(
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 28, 29, 31, 32, 33}
)
_FIELD = {"segm": "segmentation", "bbox": "bbox"}


def attribute_f1_matrix(dt: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The official "binary macro" F1 (module docstring) of every detection / GT pair.

    `dt` bool [D, N], `gt` bool [G, N]: multi-hot attribute vectors over a table of N attributes.
    Returns float64 [D, G].
    """
    n = dt.shape[1]
    tp = dt.astype(np.int64) @ gt.T.astype(np.int64)
    fp = dt.sum(1, dtype=np.int64)[:, None] - tp
    fn = gt.sum(1, dtype=np.int64)[None, :] - tp
    tn = n - tp - fp - fn
    errors = fp + fn  # a disagreement is an error for either value
    scores, present = np.zeros(tp.shape), np.zeros(tp.shape)
    for hits in (tp, tn):  # value 1 (attribute present), then value 0 (absent)
        occurs = hits + errors > 0
        scores += np.divide(2 * hits, 2 * hits + errors, out=np.zeros(tp.shape), where=occurs)
        present += occurs
    return np.divide(scores, present, out=np.ones(tp.shape), where=present > 0)


def attribute_f1(gt_ids: Collection[int], dt_ids: Collection[int], table: Sequence[int]) -> float:
    """The official F1 of one prediction: attribute ids `dt_ids` against `gt_ids`, multi-hot over
    the attribute ids of `table` (the GT file's attribute ids, in file order)."""
    return float(
        attribute_f1_matrix(_multi_hot([dt_ids], table), _multi_hot([gt_ids], table))[0, 0]
    )


def _multi_hot(id_lists: Sequence[Collection[int]], table: Sequence[int]) -> np.ndarray:
    index = {a: k for k, a in enumerate(table)}
    out = np.zeros((len(id_lists), len(index)), dtype=bool)
    for row, ids in enumerate(id_lists):
        out[row, [index[a] for a in ids]] = True
    return out


class _AttributeGatedEval(COCOeval):
    """COCOeval whose pair IoU is 0 where the attribute F1 is below `f1_threshold` (None: plain)."""

    def __init__(
        self, gt: COCO, dt: COCO, iou_type: str, table: Sequence[int], gated: Collection[int]
    ) -> None:
        super().__init__(gt, dt, iou_type)
        self.f1_threshold: float | None = None
        self._table, self._gated = list(table), frozenset(gated)
        self._pairs: dict[tuple[int, int], tuple[Any, np.ndarray | None]] = {}

    def computeIoU(self, imgId: int, catId: int) -> Any:  # COCOeval's method and argument names
        key = (imgId, catId)
        if key not in self._pairs:
            ious = super().computeIoU(imgId, catId)
            f1 = self._f1(imgId, catId) if catId in self._gated and len(ious) else None
            self._pairs[key] = (ious, f1)
        ious, f1 = self._pairs[key]
        if self.f1_threshold is None or f1 is None:
            return ious
        return np.where(f1 >= self.f1_threshold, ious, 0.0)

    def _f1(self, img_id: int, cat_id: int) -> np.ndarray:
        """F1 [D, G] in computeIoU's order: detections by score (stable), at most maxDets."""
        gt, dt = self._gts[img_id, cat_id], self._dts[img_id, cat_id]
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")
        dt = [dt[i] for i in order][: self.params.maxDets[-1]]
        return attribute_f1_matrix(
            _multi_hot([d.get("attribute_ids", []) for d in dt], self._table),
            _multi_hot([g["attribute_ids"] for g in gt], self._table),
        )

    def matched(self, f1_threshold: float | None) -> dict[str, np.ndarray]:
        """Matching + accumulation at `f1_threshold`: precision [T,R,K,A,M], recall [T,K,A,M]."""
        self.f1_threshold = f1_threshold
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
            self.evaluate()
            self.accumulate()
        return {"precision": self.eval["precision"].copy(), "recall": self.eval["recall"].copy()}


def _ground_truth(gt: FashionpediaData | Mapping[str, Any] | str | Path) -> FashionpediaData:
    if isinstance(gt, FashionpediaData):
        return gt
    if isinstance(gt, str | Path):
        return load_fashionpedia(gt)
    return parse_fashionpedia(gt, "<ground truth>")


def _checked_rows(
    results: list[dict] | str | Path, data: FashionpediaData, iou_type: IouType
) -> list[dict]:
    """The result rows cut to what the evaluation reads, after checking them against the GT."""
    rows, origin, rows_name = (
        (load_json(results), str(results), "")
        if isinstance(results, str | Path)
        else (results, "<results>", "results")
    )
    validate_result_rows(
        rows,
        origin,
        rows_name=rows_name,
        image_sizes={img.image_id: (img.height, img.width) for img in data.images},
        category_ids=set(data.labels.categories),
        required=_FIELD[iou_type],
    )
    problems = []
    for k, row in enumerate(rows):
        ids = row.get("attribute_ids", [])
        if not isinstance(ids, list) or any(
            type(a) is not int or a not in data.labels.attributes for a in ids
        ):
            message = "expected a list of attribute ids of the ground truth's table"
            problems.append(Problem(origin, f"{rows_name}[{k}].attribute_ids", message))
    if problems:
        raise AnnotationError(problems[:20])
    field = _FIELD[iou_type]
    return [
        {
            "image_id": r["image_id"],
            "category_id": r["category_id"],
            "score": r["score"],
            field: r[field],
            "attribute_ids": r.get("attribute_ids", []),
        }
        for r in rows
    ]


def _coco_objects(gt: dict[str, Any], rows: list[dict]) -> tuple[COCO, COCO]:
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        if rows:
            return coco_gt, coco_gt.loadRes(rows)
        coco_dt = COCO()
        coco_dt.dataset = {
            "images": gt["images"],
            "categories": gt["categories"],
            "annotations": [],
        }
        coco_dt.createIndex()
    return coco_gt, coco_dt


def _grid_ap(gated: list[dict[str, np.ndarray]], attribute_cats: np.ndarray) -> float:
    """The official headline AP: precision over all (F1, IoU) threshold pairs, recall levels and
    categories, each attribute category entering once per F1 threshold; area all, maxDets 100
    (COCOeval's first area range and last maxDets)."""
    entries = []
    for k, has_attributes in enumerate(attribute_cats):
        # the F1 threshold leaves a category without attributes unchanged: its IoU-only entries
        runs = gated if has_attributes else gated[:1]
        per_f1 = [g["precision"][:, :, k, 0, -1] for g in runs]
        entries.append(np.ravel(per_f1))
    values = np.concatenate(entries) if entries else np.zeros(0)
    valid = values[values > -1]
    return float(valid.mean()) if len(valid) else -1.0


def evaluate_fashionpedia(
    gt: FashionpediaData | Mapping[str, Any] | str | Path,
    results: list[dict] | str | Path,
    iou_type: IouType = "segm",
    attribute_categories: Collection[int] | None = None,
    per_category: bool = False,
) -> dict[str, Any]:
    """Fashionpedia AP of `results` against `gt` (see the module docstring).

    `gt`: a Fashionpedia-format file (path, parsed dict, or `FashionpediaData`), read strictly;
    its own attribute table sizes the F1 vectors.  `results`: COCO result rows (or their JSON
    file) with ``image_id, category_id, score``, ``segmentation`` (RLE; segm) or ``bbox`` (xywh;
    bbox) and ``attribute_ids``.  `attribute_categories`: the categories scored with F1 (default:
    those with attributes in the GT).

    Returns ``{"iou+f1": stats, "iou": stats, "AP_grid": float, "attribute_categories": [...]}``
    with stats the 12 COCO numbers (AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm,
    ARl; -1 when undefined), plus ``per_category[name] = {"iou+f1": stats, "iou": stats}``.
    """
    if iou_type not in _FIELD:
        raise ValueError(f"iou_type must be 'segm' or 'bbox', got {iou_type!r}")
    data = _ground_truth(gt)
    rows = _checked_rows(results, data, iou_type)
    if attribute_categories is None:
        attribute_categories = {
            s.category_id for image in data.images for s in image.segments if s.attribute_ids
        }
    coco_gt = fashionpedia_coco(data.images, data.labels)
    ev = _AttributeGatedEval(
        *_coco_objects(coco_gt, rows),
        iou_type,
        list(data.labels.attributes),
        attribute_categories,
    )
    iou_only = ev.matched(None)
    gated = [ev.matched(float(t)) for t in THRESHOLDS]
    joint = {key: np.stack([g[key][k] for k, g in enumerate(gated)]) for key in iou_only}
    params = ev.params
    attribute_cats = np.isin(params.catIds, list(attribute_categories))
    out: dict[str, Any] = {
        "iou+f1": _summary(joint, params, iou_type),
        "iou": _summary(iou_only, params, iou_type),
        "AP_grid": _grid_ap(gated, attribute_cats),
        "attribute_categories": sorted(attribute_categories),
    }
    if per_category:
        # the rows of `evaluate_coco` on the same file have the same names
        names = category_names(coco_gt["categories"])
        out["per_category"] = {
            names[cat]: {
                "iou+f1": _summary(joint, params, iou_type, k),
                "iou": _summary(iou_only, params, iou_type, k),
            }
            for k, cat in enumerate(params.catIds)
        }
    return out
