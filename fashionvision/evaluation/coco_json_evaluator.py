"""Box / mask AP and Fashionpedia's attribute AP on a COCO-format split, with results rows in
the Fashionpedia results format (COCO results + ``attribute_ids``).

A `DatasetEvaluator` (`fashionvision.evaluation.evaluator`) over `CocoSplit` records: each
model output becomes result rows in the file's own ids (model label k is
``split.category_ids[k - 1]``; attribute column j is ``split.attribute_ids[j]``), kept as rows
(a few hundred bytes each, RLE masks) so that sharded inference gathers little.

Numbers: ``bbox`` and ``segm`` are stock COCO AP (`fashionvision.evaluation.coco_eval`), and
when the file has an attribute table ``attributes`` holds Fashionpedia's ``iou+f1`` / ``AP_grid``
/ ``iou`` (`fashionvision.evaluation.fashionpedia_eval`), on masks when ``segm`` is evaluated,
else on boxes.  A model without an attribute head predicts no attribute, and its ``iou+f1`` says
what that costs.  The ground truth is the split's records (`split_ground_truth`), i.e. the
annotation file less any image lenient reading skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils

from fashionvision.data.coco_dataset import CocoImageRecord, CocoSplit, split_ground_truth
from fashionvision.data.coco_format import xyxy_to_xywh
from fashionvision.data.fashionpedia import fashionpedia_coco
from fashionvision.detections import binary_masks
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.coco_eval import evaluate_coco
from fashionvision.evaluation.fashionpedia_eval import evaluate_fashionpedia
from fashionvision.io_utils import gc_paused, write_json

Output = dict[str, torch.Tensor]
TASKS = ("bbox", "segm")


class CocoJsonEvaluator:
    """COCO AP (and attribute AP) of a model's outputs on `split` (see the module docstring).

    `tasks`: a non-empty subset of ``("bbox", "segm")``; ``segm`` needs ``masks`` in the outputs.
    `attribute_threshold`: an attribute is predicted where its score is >= it.
    ``evaluate()`` returns ``{"num_detections": n, "bbox": stats, "segm": stats}`` (stats: AP,
    AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl) plus, when the split has
    attributes, ``"attributes": {"iou+f1": stats, "AP_grid": float, "iou": stats,
    "attribute_categories": [...], "iou_type": "segm" | "bbox"}``.  With `per_category` (the
    default, as `COCOEvaluator`'s: the rows are slices of the same accumulation, nearly free)
    ``bbox``, ``segm`` and ``attributes`` also hold ``per_category[name]``, named by the file's
    own category table.
    """

    wants_gt_boxes = False

    def __init__(
        self,
        split: CocoSplit,
        tasks: Sequence[str] = TASKS,
        attribute_threshold: float = 0.5,
        per_category: bool = True,
    ) -> None:
        unknown = set(tasks) - set(TASKS)
        if unknown or not tasks:
            raise ValueError(f"tasks must be a non-empty subset of {TASKS}, got {list(tasks)}")
        self.split = split
        self.tasks = tuple(tasks)
        self.attribute_threshold = float(attribute_threshold)
        self.per_category = per_category
        self.rows: list[dict[str, Any]] = []

    def reset(self) -> None:
        self.rows = []

    def process(self, records: Sequence[CocoImageRecord], outputs: Sequence[Output]) -> None:
        for record, output in zip(records, outputs, strict=True):
            self.rows.extend(self.output_rows(record, output))

    def output_rows(self, record: CocoImageRecord, output: Output) -> list[dict[str, Any]]:
        """The result rows of one image's output, in detection order."""
        origin = self.split.annotation_file
        labels = output["labels"].detach().cpu().tolist()
        if labels and not 1 <= min(labels) <= max(labels) <= self.split.num_classes:
            bad = next(k for k in labels if not 1 <= k <= self.split.num_classes)
            raise FashionVisionError(
                f"{origin}: categories: the model predicts label {bad}, the file has "
                f"{self.split.num_classes} categories (labels 1..{self.split.num_classes})"
            )
        boxes = output["boxes"].detach().cpu().double().numpy().reshape(-1, 4)
        scores = output["scores"].detach().cpu().tolist()
        rows: list[dict[str, Any]] = [
            {
                "image_id": record.image_id,
                "category_id": self.split.category_ids[label - 1],
                "score": float(score),
                "bbox": xyxy_to_xywh(box),
            }
            for label, score, box in zip(labels, scores, boxes, strict=True)
        ]
        if "segm" in self.tasks:
            for row, rle in zip(rows, self._mask_rles(record, output), strict=True):
                row["segmentation"] = rle
        if "attribute_scores" in output:
            for row, ids in zip(rows, self._attribute_ids(output), strict=True):
                row["attribute_ids"] = ids
        return rows

    def _mask_rles(self, record: CocoImageRecord, output: Output) -> list[dict[str, Any]]:
        masks = binary_masks(output)
        if masks is None:
            raise ValueError("the segm task needs masks [K, 1, H, W] in the model's outputs")
        if masks.shape[1:] != (record.height, record.width):
            raise ValueError(
                f"image {record.image_id}: masks are {masks.shape[2]}x{masks.shape[1]}, "
                f"the image is {record.width}x{record.height} (masks must be pasted into it)"
            )
        if not len(masks):
            return []
        rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
        # pycocotools' counts are bytes, which JSON cannot hold
        return [
            {"size": [record.height, record.width], "counts": r["counts"].decode()} for r in rles
        ]

    def _attribute_ids(self, output: Output) -> list[list[int]]:
        scores = output["attribute_scores"].detach().cpu()
        expected = (len(output["labels"]), self.split.num_attributes)
        if tuple(scores.shape) != expected:
            raise FashionVisionError(
                f"{self.split.annotation_file}: attributes: the model gives attribute_scores of "
                f"shape {tuple(scores.shape)}, the file's table needs {expected}"
            )
        table = self.split.attribute_ids
        hot = (scores >= self.attribute_threshold).tolist()
        return [[table[j] for j, on in enumerate(row) if on] for row in hot]

    def local_state(self) -> list[dict[str, Any]]:
        return self.rows

    def merge(self, states: Sequence[list[dict[str, Any]]]) -> None:
        merged = [row for state in states for row in state]
        self.rows = sorted(merged, key=lambda r: r["image_id"])  # stable: per-image order kept

    def results(self) -> list[dict[str, Any]]:
        """The result rows (Fashionpedia results format), merged ones after `merge`."""
        return list(self.rows)

    def write_results(self, path: str | Path) -> None:
        """Write the rows as a JSON results file (atomically: never a half-written file)."""
        write_json(path, self.rows)

    def evaluate(self) -> dict[str, Any]:
        ground_truth = split_ground_truth(self.split)
        with gc_paused():
            gt = fashionpedia_coco(ground_truth.images, ground_truth.labels)
        out: dict[str, Any] = {"num_detections": len(self.rows)}
        for task in self.tasks:
            out[task] = evaluate_coco(
                gt,
                self.rows,
                task,  # type: ignore[arg-type]
                per_category=self.per_category,
            )
        if self.split.num_attributes:
            iou_type = "segm" if "segm" in self.tasks else "bbox"
            scored = evaluate_fashionpedia(
                ground_truth, self.rows, iou_type, per_category=self.per_category
            )
            out["attributes"] = {**scored, "iou_type": iou_type}
        return out
