"""Which garments' landmarks work: landmark AP and PCK per category.

**Landmark AP** per category is the project's OKS AP (`evaluate_coco(..., "landmarks",
per_category=True)`, both settings: visible + occluded, visible only).

**PCK** (percentage of correct keypoints; DeepFashion2 defines none, so the choice is ours):
each GT item is matched to a detection as COCO's box AP50 matches them — same category, by
descending score, the unmatched GT of highest box IoU >= 0.5 — so an item's landmarks are judged
from the detection that counts as its true positive.  A labelled GT landmark (v > 0) is *correct*
when the matched detection's point of the same index lies within ``alpha * sqrt(GT box area)``,
with alpha = `PCK_ALPHA` = 0.1.  sqrt(box area) is the object scale DeepFashion2's OKS uses (the
GT ``area`` is the box area), so PCK and landmark AP share a length unit, and unlike a head or
torso length it exists for every one of the 13 categories; 0.1 of a garment's size is the usual
strict PCK setting (PCK@0.1 of the bounding-box size).  Every predicted point counts whatever its
score (the landmark head always predicts all points of its category, as OKS scores them).

Reported per category and pooled over all landmarks: ``PCK`` (GT items without a matched
detection count all their landmarks as misses: detection and localisation together),
``PCK_matched`` (only the items that were detected: the landmark head alone), and the same two
over visible landmarks only (v = 2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from fashionvision.categories import CATEGORY_NAMES, NUM_CATEGORIES
from fashionvision.data.coco_format import detection_to_coco_result, split_to_coco, xyxy_to_xywh
from fashionvision.evaluation.coco_eval import evaluate_coco
from fashionvision.evaluation.error_analysis import (
    detections_by_image,
    greedy_match,
    pairwise_iou,
)
from fashionvision.structures import Detection, ImageAnnotation

PCK_ALPHA = 0.1

_COUNTS = (
    "items",
    "matched",
    "points",
    "points_matched",
    "hits",
    "visible",
    "visible_matched",
    "visible_hits",
)


def match_items(
    records: Sequence[ImageAnnotation], detections: Sequence[Detection]
) -> dict[tuple[int, int], Detection]:
    """``{(image_id, item index): matched detection}``: COCO's AP50 matching on boxes (same
    category, descending score, unmatched GT of highest IoU >= 0.5)."""
    dets = list(detections)
    by_image = detections_by_image(dets)
    out: dict[tuple[int, int], Detection] = {}
    for record in records:
        d_ids = by_image.get(record.image_id, [])
        if not d_ids or not record.items:
            continue
        iou = pairwise_iou(
            [xyxy_to_xywh(dets[k].bbox) for k in d_ids],
            [xyxy_to_xywh(it.bbox) for it in record.items],
            "bbox",
        )
        det_cls = np.array([dets[k].category_id for k in d_ids])
        gt_cls = np.array([it.category_id for it in record.items])
        _, gt_det = greedy_match(iou, det_cls[:, None] == gt_cls[None, :])
        for g, d in enumerate(gt_det):
            if d >= 0:
                out[(record.image_id, g)] = dets[d_ids[d]]
    return out


def pck_counts(
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    alpha: float = PCK_ALPHA,
) -> dict[int, dict[str, int]]:
    """Per category id 1..13 the raw counts: items with labelled landmarks, of them matched,
    labelled points, of them on matched items, correct points, and the same for visible points."""
    matches = match_items(records, detections)
    out = {c: dict.fromkeys(_COUNTS, 0) for c in range(1, NUM_CATEGORIES + 1)}
    for record in records:
        for g, item in enumerate(record.items):
            gt = np.asarray(item.landmarks, dtype=np.float64).reshape(-1, 3)
            labelled = gt[:, 2] > 0
            if not labelled.any():
                continue
            visible = gt[:, 2] == 2
            c = out[item.category_id]
            c["items"] += 1
            c["points"] += int(labelled.sum())
            c["visible"] += int(visible.sum())
            det = matches.get((record.image_id, g))
            if det is None:
                continue
            c["matched"] += 1
            c["points_matched"] += int(labelled.sum())
            c["visible_matched"] += int(visible.sum())
            if det.landmarks is None or len(det.landmarks) != len(gt):
                continue  # no landmark prediction for this detection: its points are misses
            x1, y1, x2, y2 = (float(v) for v in item.bbox)
            scale = float(np.sqrt(max(x2 - x1, 0.0) * max(y2 - y1, 0.0)))
            pred = np.asarray(det.landmarks, dtype=np.float64)[:, :2]
            hit = np.hypot(*(pred - gt[:, :2]).T) <= alpha * scale
            c["hits"] += int((hit & labelled).sum())
            c["visible_hits"] += int((hit & visible).sum())
    return out


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def pck_summary(counts: Mapping[str, int]) -> dict[str, Any]:
    """The four PCK numbers of one set of counts (None where there is nothing to count)."""
    return {
        "PCK": _ratio(counts["hits"], counts["points"]),
        "PCK_matched": _ratio(counts["hits"], counts["points_matched"]),
        "PCK_visible": _ratio(counts["visible_hits"], counts["visible"]),
        "PCK_visible_matched": _ratio(counts["visible_hits"], counts["visible_matched"]),
        **{k: int(counts[k]) for k in ("items", "matched", "points")},
    }


def pck(
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    alpha: float = PCK_ALPHA,
) -> dict[str, Any]:
    """``{"alpha", "per_category": {name: summary}, "overall": summary}`` (see the module
    docstring); overall pools every landmark of every category."""
    counts = pck_counts(records, detections, alpha)
    total = {k: sum(c[k] for c in counts.values()) for k in _COUNTS}
    return {
        "alpha": alpha,
        "per_category": {CATEGORY_NAMES[c]: pck_summary(v) for c, v in counts.items()},
        "overall": pck_summary(total),
    }


def landmark_ap_per_category(
    records: Sequence[ImageAnnotation], detections: Sequence[Detection]
) -> dict[str, dict[str, float | None]]:
    """``{name: {"AP", "AP_visible"}}``: OKS landmark AP per category, visible + occluded and
    visible only (None where the category has no labelled GT)."""
    rows = [detection_to_coco_result(d) for d in detections if d.landmarks is not None]
    out: dict[str, dict[str, float | None]] = {}
    for key, visible_only in (("AP", False), ("AP_visible", True)):
        result = evaluate_coco(
            split_to_coco(records, visible_only=visible_only), rows, "landmarks", per_category=True
        )
        for name, stats in result["per_category"].items():
            out.setdefault(name, {})[key] = None if stats["AP"] < 0 else float(stats["AP"])
        out.setdefault("overall", {})[key] = None if result["AP"] < 0 else float(result["AP"])
    return out


def landmark_report(
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    alpha: float = PCK_ALPHA,
) -> dict[str, Any]:
    """Landmark AP and PCK together: ``{"alpha", "per_category": {name: {AP, AP_visible, PCK,
    PCK_matched, PCK_visible, PCK_visible_matched, items, matched, points}}, "overall": …}``."""
    ap = landmark_ap_per_category(records, detections)
    result = pck(records, detections, alpha)
    for name, entry in result["per_category"].items():
        entry.update(ap.get(name, {"AP": None, "AP_visible": None}))
    result["overall"].update(ap["overall"])
    return result


_MD_COLUMNS = (
    ("AP", "AP"),
    ("AP_visible", "AP (visible)"),
    ("PCK", "PCK"),
    ("PCK_matched", "PCK (detected items)"),
    ("PCK_visible", "PCK (visible)"),
)


def format_landmark_markdown(report: Mapping[str, Any]) -> str:
    """A Markdown table: one row per category and an overall row."""
    alpha = report["alpha"]
    head = ["category", "items", "detected", "landmarks", *(t for _, t in _MD_COLUMNS)]
    lines = [
        f"# Landmarks per category (OKS AP; PCK@{alpha:g} of sqrt(GT box area))",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    rows = [*report["per_category"].items(), ("**overall**", report["overall"])]
    for name, e in rows:
        cells = [str(e["items"]), str(e["matched"]), str(e["points"])]
        cells += ["-" if e.get(k) is None else f"{e[k]:.3f}" for k, _ in _MD_COLUMNS]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    lines += [
        "",
        "PCK counts a labelled GT landmark as correct when the matched detection's point lies "
        f"within {alpha:g} x sqrt(GT box area); GT items with no matched detection (box IoU >= "
        "0.5, same category) count as misses in PCK and are left out of PCK (detected items).",
    ]
    return "\n".join(lines) + "\n"


def format_landmark_table(report: Mapping[str, Any]) -> str:
    """The same numbers as a plain-text table for the terminal."""
    from fashionvision.evaluation.tables import _grid

    keys = [k for k, _ in _MD_COLUMNS]
    rows = [*report["per_category"].items(), ("overall", report["overall"])]
    body = [
        [name, str(e["items"]), *("-" if e.get(k) is None else f"{e[k]:.3f}" for k in keys)]
        for name, e in rows
    ]
    return _grid(["category", "items", "AP", "AP_vis", "PCK", "PCK_det", "PCK_vis"], body)
