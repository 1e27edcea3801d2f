"""Where the box and mask AP go: TIDE's error types, written once, scored by the project's AP.

The definitions are those of TIDE (Bolya et al., "TIDE: A General Toolbox for Identifying Object
Detection Errors", ECCV 2020; reference code ``tidecv``), at the foreground IoU t_f = 0.5 and the
background IoU t_b = 0.1.  Per image and task (box IoU for ``bbox``, mask IoU for ``segm``), the
detections are first matched as COCO matches them at IoU 0.5 (by descending score, each to the
unmatched GT of its category with the highest IoU >= 0.5; at most 100 per image and category).
Every unmatched detection then gets the first of these that applies, in TIDE's order:

* **localization**: right class, best IoU with a GT of its class in [0.1, 0.5);
* **classification**: IoU >= 0.5 with a GT of another class;
* **duplicate**: right class, IoU >= 0.5 with a GT already matched by a higher-scoring detection;
* **background**: IoU < 0.1 with every GT of the image;
* **both**: the rest — wrong class and 0.1 <= IoU < 0.5 (TIDE's "Both"/"Other").

**missed**: a GT matched by no detection and not the target of a classification or localization
error (those would recover it when fixed).

The AP an oracle would gain per type (``dAP``, TIDE's main table) is AP50 after fixing only that
type minus AP50 as is, both computed by `fashionvision.evaluation.coco_eval` (the same COCO AP as
every other number of the project).  Fixes, as in tidecv: a classification / localization error
whose GT is still unmatched becomes a true positive (class set to the GT's, geometry to the GT's;
when several errors point at one GT only the highest-scoring one is fixed, the others are removed,
and errors pointing at a matched GT are removed); duplicate, background and both errors are
removed; missed GT are removed from the ground truth.  Negative dAPs (only possible through
interpolation artefacts) are clipped to 0 as in tidecv.  Two more numbers, TIDE's "special"
errors: ``false_positives`` (every unmatched detection removed) and ``false_negatives`` (every
unmatched GT removed).  Fixing all six types gives AP50 = 1.

**Subsets** (image source shop/user, and the paper's scale, occlusion, zoom_in, viewpoint): errors
are classified once against the full ground truth, the fixes are applied everywhere, and each
subset's AP50 — as is and fixed — is computed with coco_eval's subset rule (GT outside the subset
marked *ignore*: detections matched to them are ignored, unmatched detections stay false
positives), through `evaluate_coco_ignoring`.  A subset's dAP is thus "how much this subset's AP50
rises when the oracle fixes this error type".  Per-subset counts count the errors whose GT (the
matched, confused or missed item; for "both" the item of highest IoU) lies in the subset;
background errors have no GT and are counted per image source only.

**Confusion matrix** (boxes): rows GT category + "background", columns predicted category +
"missed".  Only detections scoring >= `CONFUSION_SCORE_THRESHOLD` (0.5, the display threshold of
``predict`` and the demo) take part: a matrix counts hard decisions, and at the evaluation
threshold (0.05) the low-score tail that AP integrates over would flood the background row.  Per
image, detections are first matched within their class as above (the diagonal = true positives at
that threshold), then the remaining ones, by descending score, to the unmatched GT of any class
with the highest IoU >= 0.5 (off-diagonal = confusions).  Detections left over count in the
background row (background, poorly localized, or duplicates), GT left over in the missed column.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from fashionvision.categories import CATEGORY_NAMES, NUM_CATEGORIES
from fashionvision.data.coco_format import (
    detection_to_coco_result,
    split_to_coco,
    xyxy_to_xywh,
)
from fashionvision.evaluation.coco_eval import evaluate_coco_ignoring
from fashionvision.evaluation.subsets import SUBSET_ATTRIBUTES, outside_subset
from fashionvision.structures import Detection, ImageAnnotation

ERROR_TYPES: tuple[str, ...] = (
    "classification",
    "localization",
    "both",
    "duplicate",
    "background",
    "missed",
)
SPECIAL_TYPES: tuple[str, ...] = ("false_positives", "false_negatives")
SHORT_NAMES: dict[str, str] = {
    "classification": "cls",
    "localization": "loc",
    "both": "both",
    "duplicate": "dupe",
    "background": "bkg",
    "missed": "miss",
    "false_positives": "FP",
    "false_negatives": "FN",
}

FOREGROUND_IOU = 0.5
BACKGROUND_IOU = 0.1
CONFUSION_SCORE_THRESHOLD = 0.5
MAX_DETS = 100  # COCO's maxDets for AP50: per image and category
ERROR_TASKS: tuple[str, ...] = ("bbox", "segm")

# Image-level source first (the question "what do user images fail on"), then the paper's four.
SOURCE_VALUES: dict[str, str] = {"shop": "shop", "user": "user"}


def analysis_subsets() -> list[tuple[str, Any, str]]:
    """(attribute, value, value name) of every subset the analysis reports: source, then the
    paper's scale / occlusion / zoom_in / viewpoint values."""
    out: list[tuple[str, Any, str]] = [("source", v, n) for v, n in SOURCE_VALUES.items()]
    for attribute, names in SUBSET_ATTRIBUTES.items():
        out += [(attribute, value, name) for value, name in names.items()]
    return out


# ------------------------------------------------------------------------------------------------
# Geometry and matching
# ------------------------------------------------------------------------------------------------


def _gt_geometry(gt: dict[str, Any], task: str) -> list[Any]:
    """Per GT annotation what the task's IoU is computed on: xywh boxes or RLE masks."""
    if task == "bbox":
        return [np.asarray(a["bbox"], dtype=np.float64) for a in gt["annotations"]]
    sizes = {img["id"]: (img["height"], img["width"]) for img in gt["images"]}
    out = []
    for a in gt["annotations"]:
        h, w = sizes[a["image_id"]]
        polys = [p for p in a["segmentation"] if len(p) >= 6]
        if polys:
            rle = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
        else:
            rle = mask_utils.encode(np.zeros((h, w, 1), dtype=np.uint8, order="F"))[0]
        out.append(rle)
    return out


def pairwise_iou(dets: Sequence[Any], gts: Sequence[Any], task: str) -> np.ndarray:
    """IoU matrix [len(dets), len(gts)] as COCO computes it (pycocotools' ``iou``)."""
    if not len(dets) or not len(gts):
        return np.zeros((len(dets), len(gts)))
    if task == "bbox":
        d, g = np.stack(dets), np.stack(gts)
    else:
        d, g = list(dets), list(gts)
    return np.asarray(mask_utils.iou(d, g, [0] * len(gts)), dtype=np.float64).reshape(
        len(dets), len(gts)
    )


def greedy_match(
    iou: np.ndarray, allowed: np.ndarray, threshold: float = FOREGROUND_IOU
) -> tuple[np.ndarray, np.ndarray]:
    """COCO's matching: rows (detections, already in descending score order) each take the
    unmatched column (GT) with the highest IoU >= `threshold` among the `allowed` ones (ties: the
    later GT, as pycocotools).  Returns (GT index per detection or -1, detection index per GT or
    -1)."""
    n_det, n_gt = iou.shape
    det_gt = np.full(n_det, -1, dtype=np.int64)
    gt_det = np.full(n_gt, -1, dtype=np.int64)
    for d in range(n_det):
        best, m = min(threshold, 1 - 1e-10), -1
        for g in range(n_gt):
            if gt_det[g] >= 0 or not allowed[d, g] or iou[d, g] < best:
                continue
            best, m = iou[d, g], g
        if m >= 0:
            det_gt[d], gt_det[m] = m, d
    return det_gt, gt_det


def detections_by_image(detections: Iterable[Detection]) -> dict[int, list[int]]:
    """Detection indices per image, each list in descending score order (stable)."""
    out: dict[int, list[int]] = defaultdict(list)
    dets = list(detections)
    for k, det in enumerate(dets):
        out[det.image_id].append(k)
    for ids in out.values():
        ids.sort(key=lambda k: -dets[k].score)
    return out


def _gt_by_image(gt: dict[str, Any]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for g, a in enumerate(gt["annotations"]):
        out[a["image_id"]].append(g)
    return out


# ------------------------------------------------------------------------------------------------
# TIDE error classification
# ------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class TaskErrors:
    """The TIDE labels of one task's detections and GT.

    `kind[k]`: ``"tp"``, one of `ERROR_TYPES` (not ``missed``), or ``"skipped"`` (beyond COCO's
    100 per image and category: no part of AP50); `ref[k]`: index into ``gt["annotations"]`` of
    the matched / confused / mislocalized / duplicated GT (for ``both`` the GT of highest IoU),
    -1 for background; `fix_tp[k]`: a classification / localization error the oracle turns into a
    true positive (the others are removed when fixed).  Per GT: `matched` (a true positive) and
    `missed` (TIDE's missed error)."""

    task: str
    gt: dict[str, Any]
    rows: list[dict[str, Any]]
    kind: list[str]
    ref: np.ndarray
    fix_tp: np.ndarray
    matched: np.ndarray
    missed: np.ndarray
    gt_geometry: list[Any]

    def count(self, error: str) -> int:
        if error == "missed":
            return int(self.missed.sum())
        return sum(1 for k in self.kind if k == error)


def _task_row(det: Detection, task: str) -> dict[str, Any]:
    row = detection_to_coco_result(dataclasses.replace(det, landmarks=None, embedding=None))
    field = "bbox" if task == "bbox" else "segmentation"
    return {k: row[k] for k in ("image_id", "category_id", "score", field)}


def classify_errors(
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    task: str = "bbox",
    *,
    gt: dict[str, Any] | None = None,
) -> TaskErrors:
    """Label every detection and GT of `task` ('bbox' or 'segm') with TIDE's error types (see the
    module docstring).  `gt`: ``split_to_coco(records)`` when the caller already has it."""
    if task not in ERROR_TASKS:
        raise ValueError(f"task must be one of {ERROR_TASKS}, got {task!r}")
    if task == "segm" and any(d.mask is None for d in detections):
        raise ValueError("segm error analysis needs a mask on every detection")
    gt = split_to_coco(records) if gt is None else gt
    anns = gt["annotations"]
    geometry = _gt_geometry(gt, task)
    rows = [_task_row(d, task) for d in detections]
    field = "bbox" if task == "bbox" else "segmentation"
    kind = ["skipped"] * len(rows)
    ref = np.full(len(rows), -1, dtype=np.int64)
    fix_tp = np.zeros(len(rows), dtype=bool)
    matched = np.zeros(len(anns), dtype=bool)
    usable = np.zeros(len(anns), dtype=bool)
    best_fixer: dict[int, int] = {}  # GT index -> the highest-scoring cls/loc error pointing at it
    gt_of_image = _gt_by_image(gt)
    for image_id, det_ids in detections_by_image(detections).items():
        # COCO's maxDets: the best 100 per category (det_ids are in score order)
        per_cat: dict[int, int] = defaultdict(int)
        kept = []
        for k in det_ids:
            per_cat[rows[k]["category_id"]] += 1
            if per_cat[rows[k]["category_id"]] <= MAX_DETS:
                kept.append(k)
        g_ids = gt_of_image.get(image_id, [])
        det_geo = [
            np.asarray(rows[k]["bbox"], dtype=np.float64) if task == "bbox" else rows[k][field]
            for k in kept
        ]
        iou = pairwise_iou(det_geo, [geometry[g] for g in g_ids], task)
        det_cls = np.array([rows[k]["category_id"] for k in kept])
        gt_cls = np.array([anns[g]["category_id"] for g in g_ids])
        same = det_cls[:, None] == gt_cls[None, :]
        det_gt, gt_det = greedy_match(iou, same)
        used = gt_det >= 0
        matched[[g_ids[j] for j in np.flatnonzero(used)]] = True
        for d, k in enumerate(kept):
            if det_gt[d] >= 0:
                kind[k], ref[k] = "tp", g_ids[det_gt[d]]
                continue
            if not len(g_ids):
                kind[k] = "background"
                continue
            same_iou = np.where(same[d], iou[d], 0.0)
            other_iou = np.where(~same[d], iou[d], 0.0)
            used_same = np.where(used, same_iou, 0.0)
            j = int(same_iou.argmax())
            if BACKGROUND_IOU <= same_iou[j] < FOREGROUND_IOU:
                kind[k], ref[k] = "localization", g_ids[j]
            elif other_iou.max() >= FOREGROUND_IOU:
                j = int(other_iou.argmax())
                kind[k], ref[k] = "classification", g_ids[j]
            elif used_same.max() >= FOREGROUND_IOU:
                j = int(used_same.argmax())
                kind[k], ref[k] = "duplicate", g_ids[j]
            elif iou[d].max() < BACKGROUND_IOU:
                kind[k] = "background"
            else:
                kind[k], ref[k] = "both", g_ids[int(iou[d].argmax())]
            if kind[k] in ("classification", "localization") and not used[j]:
                usable[ref[k]] = True
                # tidecv's BestGTMatch: the highest-scoring error (first in score order) wins
                best_fixer.setdefault(int(ref[k]), k)
    for k in best_fixer.values():
        fix_tp[k] = True
    return TaskErrors(
        task=task,
        gt=gt,
        rows=rows,
        kind=kind,
        ref=ref,
        fix_tp=fix_tp,
        matched=matched,
        missed=~matched & ~usable,
        gt_geometry=geometry,
    )


def _gt_field(errors: TaskErrors, g: int) -> Any:
    """The GT's geometry as a result-row field value (xywh list or JSON RLE)."""
    if errors.task == "bbox":
        return [float(v) for v in errors.gt["annotations"][g]["bbox"]]
    rle = errors.gt_geometry[g]
    counts = rle["counts"]
    return {
        "size": [int(v) for v in rle["size"]],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def fixed_case(errors: TaskErrors, fix: Iterable[str]) -> tuple[dict[str, Any], list[dict]]:
    """(GT, result rows) after an oracle fixes the error types in `fix` (any of `ERROR_TYPES` and
    `SPECIAL_TYPES`; see the module docstring for what each fix does)."""
    fix = set(fix)
    unknown = fix - set(ERROR_TYPES) - set(SPECIAL_TYPES)
    if unknown:
        raise ValueError(f"unknown error types {sorted(unknown)}")
    field = "bbox" if errors.task == "bbox" else "segmentation"
    anns = errors.gt["annotations"]
    rows = []
    for k, row in enumerate(errors.rows):
        kind = errors.kind[k]
        if kind in ("tp", "skipped"):
            rows.append(row)
        elif "false_positives" in fix:
            continue
        elif kind not in fix:
            rows.append(row)
        elif errors.fix_tp[k]:
            g = int(errors.ref[k])
            rows.append(
                dict(row, category_id=anns[g]["category_id"], **{field: _gt_field(errors, g)})
            )
    drop = np.zeros(len(anns), dtype=bool)
    if "missed" in fix:
        drop |= errors.missed
    if "false_negatives" in fix:
        drop |= ~errors.matched
    gt = errors.gt
    if drop.any():
        gt = dict(gt, annotations=[a for a, d in zip(anns, drop, strict=True) if not d])
    return gt, rows


def _subset_ignore_sets(gt: dict[str, Any]) -> dict[str, set[int]]:
    """``{"overall": {}, "attribute\\tvalue name": ids outside the subset}``."""
    anns = gt["annotations"]
    out: dict[str, set[int]] = {"overall": set()}
    for attribute, value, name in analysis_subsets():
        out[f"{attribute}\t{name}"] = outside_subset(anns, attribute, value)
    return out


def _in_subset(ann: Mapping[str, Any], key: str) -> bool:
    if key == "overall":
        return True
    attribute, name = key.split("\t")
    value = next(v for a, v, n in analysis_subsets() if a == attribute and n == name)
    return ann.get(attribute) == value


def error_breakdown(errors: TaskErrors, subsets: bool = True) -> dict[str, Any]:
    """AP50 as is, AP50 with each error type fixed, dAP and counts: ``{"overall": entry,
    "subsets": {attribute: {value name: entry}}}`` with entry = ``{"AP50", "AP50_fixed": {type},
    "dAP": {type}, "AP50_all_fixed", "counts": {type}, "num_gt"}`` (dAP None where the subset has
    no GT)."""
    ignore = _subset_ignore_sets(errors.gt) if subsets else {"overall": set()}
    variants: dict[str, tuple[str, ...]] = {"base": ()}
    variants.update({t: (t,) for t in (*ERROR_TYPES, *SPECIAL_TYPES)})
    variants["all"] = ERROR_TYPES
    ap50: dict[str, dict[str, float]] = {}
    for name, fix in variants.items():
        gt, rows = fixed_case(errors, fix)
        stats = evaluate_coco_ignoring(gt, rows, errors.task, ignore)  # type: ignore[arg-type]
        ap50[name] = {key: s["AP50"] for key, s in stats.items()}
    anns = errors.gt["annotations"]
    image_source = {img["id"]: img.get("source") for img in errors.gt["images"]}
    entries: dict[str, dict[str, Any]] = {}
    for key in ignore:
        base = ap50["base"][key]
        fixed = {t: ap50[t][key] for t in (*ERROR_TYPES, *SPECIAL_TYPES)}
        in_subset = np.array([_in_subset(a, key) for a in anns], dtype=bool)
        counts: dict[str, int | None] = {}
        for t in ERROR_TYPES:
            if t == "missed":
                counts[t] = int((errors.missed & in_subset).sum())
            elif t == "background":
                counts[t] = _background_count(errors, key, image_source)
            else:
                counts[t] = sum(
                    1
                    for k, kind in enumerate(errors.kind)
                    if kind == t and in_subset[int(errors.ref[k])]
                )
        entries[key] = {
            "AP50": _num(base),
            "AP50_fixed": {t: _num(v) for t, v in fixed.items()},
            "dAP": {
                t: (max(v - base, 0.0) if base >= 0 and v >= 0 else None) for t, v in fixed.items()
            },  # fmt: skip
            "AP50_all_fixed": _num(ap50["all"][key]),
            "counts": counts,
            "num_gt": int(in_subset.sum()),
        }
    out: dict[str, Any] = {"overall": entries.pop("overall")}
    if subsets:
        nested: dict[str, dict[str, Any]] = {}
        for key, entry in entries.items():
            attribute, name = key.split("\t")
            nested.setdefault(attribute, {})[name] = entry
        out["subsets"] = nested
    return out


def _background_count(errors: TaskErrors, key: str, image_source: Mapping[int, Any]) -> int | None:
    """Background errors in a subset: all of them overall, per image source, None elsewhere (a
    background detection has no GT item whose attributes could place it)."""
    if key != "overall" and not key.startswith("source\t"):
        return None
    wanted = None if key == "overall" else key.split("\t")[1]
    return sum(
        1
        for row, kind in zip(errors.rows, errors.kind, strict=True)
        if kind == "background" and (wanted is None or image_source[row["image_id"]] == wanted)
    )


def _num(value: float) -> float | None:
    """-1 (undefined: no GT) as None for JSON."""
    return None if value < 0 else float(value)


# ------------------------------------------------------------------------------------------------
# Confusion matrix
# ------------------------------------------------------------------------------------------------


def confusion_labels() -> tuple[list[str], list[str]]:
    """(row labels, column labels): the 13 category names + "background" / + "missed"."""
    names = [CATEGORY_NAMES[c] for c in range(1, NUM_CATEGORIES + 1)]
    return names + ["background"], names + ["missed"]


def confusion_matrix(
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    *,
    score_threshold: float = CONFUSION_SCORE_THRESHOLD,
    iou_threshold: float = FOREGROUND_IOU,
) -> np.ndarray:
    """int64 [14, 14]: rows GT category 1..13 then background, columns predicted category 1..13
    then missed (see the module docstring for the matching)."""
    n = NUM_CATEGORIES
    out = np.zeros((n + 1, n + 1), dtype=np.int64)
    dets = [d for d in detections if d.score >= score_threshold]
    by_image = detections_by_image(dets)
    for record in records:
        d_ids = by_image.get(record.image_id, [])
        det_boxes = [xyxy_to_xywh(dets[k].bbox) for k in d_ids]
        gt_boxes = [xyxy_to_xywh(item.bbox) for item in record.items]
        iou = pairwise_iou(det_boxes, gt_boxes, "bbox")
        det_cls = np.array([dets[k].category_id for k in d_ids], dtype=np.int64)
        gt_cls = np.array([item.category_id for item in record.items], dtype=np.int64)
        same = det_cls[:, None] == gt_cls[None, :]
        det_gt, gt_det = greedy_match(iou, same, iou_threshold)
        rest_d = np.flatnonzero(det_gt < 0)
        rest_g = np.flatnonzero(gt_det < 0)
        sub_det, _ = greedy_match(
            iou[np.ix_(rest_d, rest_g)], np.ones((len(rest_d), len(rest_g)), bool), iou_threshold
        )
        for d, j in zip(rest_d, sub_det, strict=True):
            if j >= 0:
                det_gt[d] = rest_g[j]
                gt_det[rest_g[j]] = d
        for d, g in enumerate(det_gt):
            row = gt_cls[g] - 1 if g >= 0 else n
            out[row, det_cls[d] - 1] += 1
        for g in np.flatnonzero(gt_det < 0):
            out[gt_cls[g] - 1, n] += 1
    return out


# ------------------------------------------------------------------------------------------------
# Everything at once
# ------------------------------------------------------------------------------------------------


def analyze_detections(
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    *,
    score_threshold: float = CONFUSION_SCORE_THRESHOLD,
    subsets: bool = True,
    tasks: Sequence[str] | None = None,
    pck_alpha: float | None = None,
) -> dict[str, Any]:
    """The whole error analysis of `detections` (e.g. a `COCOEvaluator`'s ``.detections``
    after evaluation) on the split `records`, as a JSON-ready dict:

    * ``settings``: thresholds used;
    * ``bbox`` / ``segm`` (segm when every detection has a mask, or as `tasks` says):
      `error_breakdown` — AP50, dAP and counts per error type, overall and per subset;
    * ``confusion``: the box confusion matrix at `score_threshold` with its labels;
    * ``landmarks``: per-category landmark AP and PCK (`fashionvision.evaluation.landmarks`),
      when the detections carry landmarks.
    """
    from fashionvision.evaluation import landmarks as lm

    detections = list(detections)
    if tasks is None:
        with_masks = bool(detections) and all(d.mask is not None for d in detections)
        tasks = ("bbox", "segm") if with_masks else ("bbox",)
    gt = split_to_coco(records)
    out: dict[str, Any] = {
        "settings": {
            "foreground_iou": FOREGROUND_IOU,
            "background_iou": BACKGROUND_IOU,
            "max_dets": MAX_DETS,
            "confusion_score_threshold": score_threshold,
            "error_types": list(ERROR_TYPES),
            "special_types": list(SPECIAL_TYPES),
        },
        "num_images": len(records),
        "num_gt": len(gt["annotations"]),
        "num_detections": len(detections),
    }
    for task in tasks:
        errors = classify_errors(records, detections, task, gt=gt)
        out[task] = error_breakdown(errors, subsets=subsets)
    rows, cols = confusion_labels()
    matrix = confusion_matrix(records, detections, score_threshold=score_threshold)
    out["confusion"] = {
        "score_threshold": score_threshold,
        "iou_threshold": FOREGROUND_IOU,
        "rows": rows,
        "columns": cols,
        "matrix": matrix.tolist(),
    }
    if any(d.landmarks is not None for d in detections):
        alpha = lm.PCK_ALPHA if pck_alpha is None else pck_alpha
        out["landmarks"] = lm.landmark_report(records, detections, alpha=alpha)
    return out


# ------------------------------------------------------------------------------------------------
# Text
# ------------------------------------------------------------------------------------------------


def format_error_table(analysis: Mapping[str, Any], task: str = "bbox") -> str:
    """One row per subset (overall first): AP50 and the dAP of every error type."""
    from fashionvision.evaluation.tables import _grid

    result = analysis[task]
    types = (*ERROR_TYPES, *SPECIAL_TYPES)
    header = ["subset", "AP50", *(SHORT_NAMES[t] for t in types)]
    entries = [("overall", result["overall"])]
    for attribute, values in result.get("subsets", {}).items():
        entries += [(f"{attribute}={name}", entry) for name, entry in values.items()]

    def cell(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    rows = [[name, cell(e["AP50"]), *(cell(e["dAP"][t]) for t in types)] for name, e in entries]
    return _grid(header, rows)


def format_counts(analysis: Mapping[str, Any], task: str = "bbox") -> str:
    """``errors (bbox): cls=… loc=… …`` over the whole split."""
    counts = analysis[task]["overall"]["counts"]
    return f"errors ({task}): " + "  ".join(f"{SHORT_NAMES[t]}={counts[t]}" for t in ERROR_TYPES)


def top_confusions(analysis: Mapping[str, Any], n: int = 5) -> list[tuple[str, str, int]]:
    """The `n` largest off-diagonal cells of the confusion matrix (GT, predicted, count)."""
    conf = analysis["confusion"]
    matrix = np.asarray(conf["matrix"])
    cells = [
        (conf["rows"][i], conf["columns"][j], int(matrix[i, j]))
        for i in range(matrix.shape[0])
        for j in range(matrix.shape[1])
        if i != j and matrix[i, j] > 0
    ]
    return sorted(cells, key=lambda c: -c[2])[:n]
