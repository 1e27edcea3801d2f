"""Dataset evaluators: one per task, fed batch by batch by the inference pipeline.

The shape is detectron2's (``reset`` / ``process`` / ``evaluate``) with one addition for sharded
inference: every rank processes its shard, hands ``local_state()`` (picklable) to the pipeline,
and rank 0 ``merge``s the states of all ranks before ``evaluate``.  Merged states are put in image
id order, so the numbers do not depend on how the split was sharded.

`fashionvision.engine.evaluate.inference_on_dataset` drives them; this module only turns model
outputs into numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import torch

from fashionvision.data.coco_format import detections_to_coco_results, split_to_coco
from fashionvision.detections import output_to_detections
from fashionvision.evaluation.coco_eval import evaluate_coco
from fashionvision.structures import Detection, ImageAnnotation

Output = dict[str, torch.Tensor]


class DatasetEvaluator(Protocol):
    """What the inference pipeline needs of an evaluator."""

    # True when `process` needs the outputs for every GT item's box (``box_class_scores``,
    # ``box_embeddings``): the pipeline then runs ``forward_with_boxes`` on them.
    wants_gt_boxes: bool

    def reset(self) -> None: ...

    def process(self, records: Sequence[ImageAnnotation], outputs: Sequence[Output]) -> None:
        """One batch: `outputs[i]` is the model's (score-filtered) eval dict for `records[i]`."""

    def local_state(self) -> Any:
        """This rank's partial results, picklable."""

    def merge(self, states: Sequence[Any]) -> None:
        """Replace the partial results by the union of every rank's `local_state()`."""

    def evaluate(self) -> dict[str, Any]:
        """The numbers, keyed by task."""


# The COCO tasks this evaluator reports, and the result-row field each one needs.
COCO_TASKS: dict[str, str] = {
    "bbox": "bbox",
    "segm": "segmentation",
    "landmarks": "keypoints",
    "landmarks_visible": "keypoints",
}


class COCOEvaluator:
    """Box, mask and landmark AP (both landmark settings) on a DeepFashion2-format split.

    `records`: the whole split (every rank holds it; GT is built from it on rank 0 only).
    `tasks`: a subset of ``COCO_TASKS``: ``landmarks`` scores visible + occluded points,
    ``landmarks_visible`` visible points only (the paper's two settings).  With `subsets` every
    task gets the scale/occlusion/zoom_in/viewpoint table, with `per_category` one row per
    category.  ``evaluate()`` returns ``{task: evaluate_coco dict}`` plus ``num_detections``;
    afterwards `detections` holds every merged detection (for drawing).
    """

    wants_gt_boxes = False

    def __init__(
        self,
        records: Sequence[ImageAnnotation],
        tasks: Sequence[str] = tuple(COCO_TASKS),
        subsets: bool = True,
        per_category: bool = True,
    ) -> None:
        unknown = set(tasks) - set(COCO_TASKS)
        if unknown:
            raise ValueError(
                f"unknown tasks {sorted(unknown)}; expected some of {list(COCO_TASKS)}"
            )
        self.records = list(records)
        self.tasks = tuple(tasks)
        self.subsets = subsets
        self.per_category = per_category
        self.detections: list[Detection] = []

    def reset(self) -> None:
        self.detections = []

    def process(self, records: Sequence[ImageAnnotation], outputs: Sequence[Output]) -> None:
        with_masks = "segm" in self.tasks
        with_landmarks = any(t.startswith("landmarks") for t in self.tasks)
        for record, output in zip(records, outputs, strict=True):
            # embeddings are the retrieval evaluator's business; don't carry them to rank 0
            output = {k: v for k, v in output.items() if k != "embeddings"}
            self.detections.extend(
                output_to_detections(output, record.image_id, with_masks, with_landmarks)
            )

    def local_state(self) -> list[Detection]:
        return self.detections

    def merge(self, states: Sequence[list[Detection]]) -> None:
        merged = [det for state in states for det in state]
        self.detections = sorted(merged, key=lambda d: d.image_id)  # stable: per-image order kept

    def evaluate(self) -> dict[str, Any]:
        rows = detections_to_coco_results(self.detections)
        out: dict[str, Any] = {"num_detections": len(rows)}
        ground_truth: dict[bool, dict[str, Any]] = {}
        for task in self.tasks:
            visible_only = task == "landmarks_visible"
            if visible_only not in ground_truth:
                ground_truth[visible_only] = split_to_coco(self.records, visible_only=visible_only)
            gt = ground_truth[visible_only]
            field = COCO_TASKS[task]
            task_rows = [r for r in rows if field in r]
            out[task] = evaluate_coco(
                gt,
                task_rows,
                "landmarks" if visible_only else task,  # type: ignore[arg-type]
                subsets=self.subsets,
                per_category=self.per_category,
            )
        return out
