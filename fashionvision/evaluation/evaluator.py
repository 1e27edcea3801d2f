"""`COCOStyleEvaluator`: collects model outputs batch by batch, then computes box / mask /
landmark AP with `evaluate_coco` (detectron2's reset / process / evaluate shape).

The trainer calls `reset()` at the start of an evaluation pass, `process()` after every batch and
`evaluate()` at the end. Outputs are converted once into COCO result rows by the project's one
encoder, `fashionvision.data.coco_format.detections_to_coco_results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pycocotools import mask as mask_utils

from fashionvision.categories import to_local
from fashionvision.data.coco_format import detections_to_coco_results
from fashionvision.evaluation.coco_eval import TASKS, evaluate_coco
from fashionvision.structures import Detection

MASK_THRESHOLD = 0.5


def _encode_masks(masks: torch.Tensor) -> list[dict[str, Any]]:
    """[K,1,H,W] probabilities -> K COCO RLEs of the masks thresholded at 0.5."""
    binary = (masks[:, 0] > MASK_THRESHOLD).to(torch.uint8).cpu().numpy()  # [K,H,W]
    return mask_utils.encode(np.asfortranarray(binary.transpose(1, 2, 0)))


def output_to_detections(
    image_id: int, output: dict[str, torch.Tensor], masks: bool = True, landmarks: bool = True
) -> list[Detection]:
    """One image's eval output -> Detection records.

    `output`: boxes [K,4] xyxy pixels, labels [K] (1..13), scores [K], optionally masks [K,1,H,W]
    probabilities and landmarks [K,294,3] (x, y, score; global layout). Landmarks are stored in
    the predicted category's local numbering, as `Detection` requires.
    """
    boxes = output["boxes"].detach().cpu().double().numpy()
    labels = output["labels"].detach().cpu().tolist()
    scores = output["scores"].detach().cpu().tolist()
    rles = _encode_masks(output["masks"].detach()) if masks and "masks" in output else None
    marks = output.get("landmarks") if landmarks else None
    marks_np = marks.detach().cpu().double().numpy() if marks is not None else None
    dets = []
    for k, (label, score) in enumerate(zip(labels, scores, strict=True)):
        dets.append(Detection(
            image_id=int(image_id), category_id=int(label), score=float(score),
            bbox=tuple(float(v) for v in boxes[k]),  # type: ignore[arg-type]
            landmarks=to_local(int(label), marks_np[k]) if marks_np is not None else None,
            mask=rles[k] if rles is not None else None,
        ))
    return dets


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
            dets = output_to_detections(image_id, output, with_masks, with_landmarks)
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
