"""`COCOStyleEvaluator`: collects model outputs batch by batch, then computes box / mask /
landmark AP with `evaluate_coco` (detectron2's reset / process / evaluate shape).

The trainer calls `reset()` at the start of an evaluation pass, `process()` after every batch and
`evaluate()` at the end. Outputs are converted once into COCO result rows by the project's one
encoder, `fashionvision.data.coco_format.detections_to_coco_results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from fashionvision.data.coco_format import detections_to_coco_results
from fashionvision.detections import output_to_detections
from fashionvision.evaluation.coco_eval import TASKS, evaluate_coco


class COCOStyleEvaluator:
    """Box / mask / landmark AP over a validation pass.

    `gt`: COCO GT dict (`split_to_coco(records)`); `tasks`: subset of ('bbox', 'segm',
    'landmarks'); `landmark_gt_visible_only`: the same GT exported with visible points only
    (`split_to_coco(records, visible_only=True)`), evaluated as the extra task
    'landmarks_visible' (the paper's second landmark setting).
    """

    def __init__(
        self,
        gt: dict[str, Any],
        tasks: Sequence[str] = TASKS,
        landmark_gt_visible_only: dict[str, Any] | None = None,
        subsets: bool = False,
        per_category: bool = False,
    ) -> None:
        unknown = set(tasks) - set(TASKS)
        if unknown:
            raise ValueError(f"unknown tasks {sorted(unknown)}; expected a subset of {TASKS}")
        self.gt = gt
        self.tasks = tuple(tasks)
        self.landmark_gt_visible_only = landmark_gt_visible_only
        self.subsets = subsets
        self.per_category = per_category
        self._rows: list[dict[str, Any]] = []

    def reset(self) -> None:
        """Forget everything processed so far."""
        self._rows = []

    def process(self, image_ids: Sequence[int], outputs: Sequence[dict[str, torch.Tensor]]) -> None:
        """Add one batch: `outputs[i]` is the model's eval dict for image `image_ids[i]`."""
        with_masks = "segm" in self.tasks
        with_landmarks = "landmarks" in self.tasks
        for image_id, output in zip(image_ids, outputs, strict=True):
            dets = output_to_detections(output, image_id, with_masks, with_landmarks)
            self._rows.extend(detections_to_coco_results(dets))

    def evaluate(self) -> dict[str, dict[str, Any]]:
        """{task: evaluate_coco's dict} for every task (and 'landmarks_visible' when given)."""
        out = {
            task: evaluate_coco(self.gt, self._rows, task, self.subsets, self.per_category)  # type: ignore[arg-type]
            for task in self.tasks
        }
        if self.landmark_gt_visible_only is not None and "landmarks" in self.tasks:
            out["landmarks_visible"] = evaluate_coco(
                self.landmark_gt_visible_only, self._rows, "landmarks",
                self.subsets, self.per_category,
            )
        return out
