"""The one path from a model and a split to every number: sharded inference + per-task evaluators.

`inference_on_dataset` (detectron2's shape) runs the model over this rank's shard of a split
(``records[rank::world_size]``), feeds every batch to each evaluator, gathers the evaluators'
partial results on rank 0 and returns their numbers there (None on the other ranks).  The
trainer's periodic evaluation, ``fashionvision evaluate --weights``, ``fashionvision retrieve``,
the demo and the benchmarks all call it, so one checkpoint gives one set of numbers.

Evaluation keeps every detection scoring >= `EVAL_SCORE_THRESHOLD` (0.05, as Mask R-CNN's
evaluation does): AP integrates over the low-score tail, so a display threshold such as 0.5
would cut recall and lower AP.  Display paths (``predict``, the Python API) choose their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from fashionvision.engine.distributed import DistInfo, gather_to_main
from fashionvision.engine.inference import batched, forward_images, keep_confident, load_image
from fashionvision.evaluation.evaluator import COCO_TASKS, COCOEvaluator, DatasetEvaluator
from fashionvision.evaluation.gt_box_classification import GTBoxClassificationEvaluator
from fashionvision.evaluation.retrieval_evaluator import (
    DEFAULT_GALLERY_THRESHOLD,
    DEFAULT_RANKING,
    Ranking,
    RetrievalEvaluator,
)
from fashionvision.structures import ImageAnnotation

EVAL_SCORE_THRESHOLD = 0.05

Progress = Callable[[int, int], None]  # (images done on this rank, images in this rank's shard)


class ProgressBar:
    """A `Progress` callback drawing a tqdm bar (created at the first call, closed at the end)."""

    def __init__(self, desc: str = "evaluation") -> None:
        self.desc = desc
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit="img", dynamic_ncols=True)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.bar.close()


def gt_boxes(records: Sequence[ImageAnnotation]) -> list[torch.Tensor]:
    """Per record its items' boxes [n, 4] xyxy float32 (the GT-box retrieval queries/gallery)."""
    return [
        torch.tensor([item.bbox for item in r.items], dtype=torch.float32).reshape(-1, 4)
        for r in records
    ]


def inference_on_dataset(
    model: nn.Module,
    split_dir: str | Path,
    records: Sequence[Any],
    evaluators: Sequence[DatasetEvaluator],
    *,
    device: torch.device,
    batch_size: int = 4,
    dist: DistInfo | None = None,
    progress: Progress | None = None,
    run_batch: Callable[[Sequence[Any]], list[Any]] | None = None,
) -> dict[str, Any] | None:
    """Run `model` (eval mode) on this rank's shard of `records` and evaluate on rank 0.

    Every rank must call it with the same `records` (the whole split) and evaluators of the same
    kinds.  By default the model is a detector whose images are read from
    ``split_dir / record.file_name``; `run_batch` (records -> one output per record) replaces that
    for other networks (FashionNet).  Returns the evaluators' merged numbers plus ``num_images``
    and ``inference_s`` (this rank's) on rank 0, None elsewhere.
    """
    dist = dist or DistInfo()
    shard = list(records)[dist.rank :: dist.world_size]
    with_boxes = any(getattr(e, "wants_gt_boxes", False) for e in evaluators)

    def detect(chunk: Sequence[ImageAnnotation]) -> list[Any]:
        images = [load_image(Path(split_dir) / r.file_name) for r in chunk]
        boxes = gt_boxes(chunk) if with_boxes else None
        return [
            keep_confident(out, EVAL_SCORE_THRESHOLD)
            for out in forward_images(model, images, device, boxes)
        ]

    run = run_batch or detect
    for evaluator in evaluators:
        evaluator.reset()
    was_training = model.training
    model.eval()
    started = time.perf_counter()
    done = 0
    try:
        for chunk in batched(shard, batch_size):
            outputs = run(chunk)
            for evaluator in evaluators:
                evaluator.process(chunk, outputs)
            done += len(chunk)
            if progress is not None:
                progress(done, len(shard))
    finally:
        model.train(was_training)
    inference_s = time.perf_counter() - started
    results: dict[str, Any] = {"num_images": len(records), "inference_s": round(inference_s, 1)}
    for evaluator in evaluators:
        states = gather_to_main(evaluator.local_state(), dist)
        if dist.is_main:
            evaluator.merge(states)
            results.update(evaluator.evaluate())
    return results if dist.is_main else None


def model_tasks(model: nn.Module) -> tuple[list[str], bool]:
    """The COCO tasks `model` can be scored on and whether it has a matching stream."""
    heads = getattr(model, "roi_heads", None)
    tasks = ["bbox"]
    if getattr(heads, "mask_predictor", None) is not None:
        tasks.append("segm")
    if getattr(heads, "landmark_head", None) is not None:
        tasks += ["landmarks", "landmarks_visible"]
    return tasks, getattr(heads, "matching_head", None) is not None


def standard_evaluators(
    model: nn.Module,
    records: Sequence[ImageAnnotation],
    *,
    ranking: Ranking = DEFAULT_RANKING,
    gallery_threshold: float = DEFAULT_GALLERY_THRESHOLD,
    subsets: bool = True,
) -> tuple[COCOEvaluator, RetrievalEvaluator | None, GTBoxClassificationEvaluator | None]:
    """The evaluators of every task `model` supports: box / mask / landmark AP (both settings,
    with subsets and per-category rows), retrieval with detected and GT boxes, and the box
    classifier's accuracy on the GT boxes (models with ``forward_with_boxes``)."""
    tasks, matching = model_tasks(model)
    assert set(tasks) <= set(COCO_TASKS)
    coco = COCOEvaluator(records, tasks, subsets=subsets, per_category=True)
    retrieval = None
    if matching:
        similarity = getattr(model.roi_heads, "similarity", None)
        retrieval = RetrievalEvaluator(
            records,
            similarity,
            ranking=ranking,
            query_threshold=EVAL_SCORE_THRESHOLD,
            gallery_threshold=gallery_threshold,
        )
    classification = None
    if hasattr(model, "forward_with_boxes"):
        classification = GTBoxClassificationEvaluator(records)
    return coco, retrieval, classification


def evaluate_model(
    model: nn.Module,
    split_dir: str | Path,
    records: Sequence[ImageAnnotation],
    *,
    device: torch.device,
    batch_size: int = 4,
    dist: DistInfo | None = None,
    ranking: Ranking = DEFAULT_RANKING,
    gallery_threshold: float = DEFAULT_GALLERY_THRESHOLD,
    progress: Progress | None = None,
) -> tuple[dict[str, Any] | None, COCOEvaluator, RetrievalEvaluator | None]:
    """Every number of every task `model` supports on a split (rank 0; None elsewhere), and the
    evaluators, which afterwards hold the detections and the retrieval rows (for drawing)."""
    coco, retrieval, classification = standard_evaluators(
        model, records, ranking=ranking, gallery_threshold=gallery_threshold
    )
    evaluators: list[DatasetEvaluator] = [
        e for e in (coco, retrieval, classification) if e is not None
    ]
    metrics = inference_on_dataset(
        model,
        split_dir,
        records,
        evaluators,
        device=device,
        batch_size=batch_size,
        dist=dist,
        progress=progress,
    )
    return metrics, coco, retrieval


def evaluate_checkpoint(
    weights: str | Path,
    split_dir: str | Path,
    *,
    device: torch.device,
    batch_size: int = 4,
    strict: bool = True,
    dist: DistInfo | None = None,
    ranking: Ranking = DEFAULT_RANKING,
    gallery_threshold: float = DEFAULT_GALLERY_THRESHOLD,
    progress: Progress | None = None,
    overrides: Sequence[str] = (),
) -> tuple[dict[str, Any] | None, COCOEvaluator, RetrievalEvaluator | None]:
    """`evaluate_model` for a checkpoint and a split folder (``annos/`` + ``image/``); under
    torchrun rank 0 reads (and caches) the split index first, then the others.  `overrides`
    (``model.KEY=VALUE``) set the checkpoint's inference options (`INFERENCE_OPTIONS`)."""
    from fashionvision.data.deepfashion2 import load_split
    from fashionvision.engine.distributed import main_first
    from fashionvision.engine.inference import model_from_checkpoint

    dist = dist or DistInfo()
    model, _ = model_from_checkpoint(weights, device, overrides)
    with main_first(dist):
        records = load_split(split_dir, strict=strict)
    return evaluate_model(
        model,
        split_dir,
        records,
        device=device,
        batch_size=batch_size,
        dist=dist,
        ranking=ranking,
        gallery_threshold=gallery_threshold,
        progress=progress,
    )
