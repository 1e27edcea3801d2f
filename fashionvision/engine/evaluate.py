"""Evaluate a detector on a DeepFashion2-format split with the project's COCO evaluator."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fashionvision.data.coco_format import detections_to_coco_results, split_to_coco
from fashionvision.detections import output_to_detections
from fashionvision.engine.inference import (
    batched,
    forward_images,
    load_image,
)
from fashionvision.structures import Detection, ImageAnnotation


def detect_records(
    model: nn.Module,
    split_dir: str | Path,
    records: Sequence[ImageAnnotation],
    device: torch.device,
    batch_size: int = 4,
) -> list[Detection]:
    """Every detection the model (in eval mode) keeps on the images of `records`."""
    was_training = model.training
    model.eval()
    dets: list[Detection] = []
    try:
        for chunk in batched(list(records), batch_size):
            images = [load_image(Path(split_dir) / r.file_name) for r in chunk]
            for rec, out in zip(chunk, forward_images(model, images, device), strict=True):
                dets.extend(output_to_detections(out, rec.image_id))
    finally:
        model.train(was_training)
    return dets


def evaluate_detections(
    records: Sequence[ImageAnnotation], detections: Sequence[Detection]
) -> dict[str, Any]:
    """Box, mask and landmark AP of `detections` against `records` (tasks without output skipped).

    Returns ``{"bbox": {...}, "segm": {...}, "landmarks": {...}, "num_detections": int}``; without
    any detection only ``bbox`` is reported, all zero (pycocotools cannot load an empty results
    list), and segm/landmarks are absent when the model has no such stream.
    """
    from fashionvision.evaluation.coco_eval import evaluate_coco, stat_keys

    gt = split_to_coco(records)
    results = detections_to_coco_results(detections)
    report: dict[str, Any] = {"num_detections": len(results)}
    tasks = {"bbox": "bbox", "segm": "segmentation", "landmarks": "keypoints"}
    for task, key in tasks.items():
        rows = [r for r in results if key in r]
        if rows:
            report[task] = evaluate_coco(gt, rows, task)
        elif task == "bbox":
            report[task] = dict.fromkeys(stat_keys(task), 0.0)
    return report
