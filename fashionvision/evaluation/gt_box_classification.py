"""Classification on the ground-truth boxes: does the box classifier name a garment right when it
is handed the garment's own box?

Box AP mixes finding a garment (the RPN), placing its box and naming it; the error analysis
(`fashionvision.evaluation.error_analysis`) says how much AP each kind of error costs, but not how
often the classifier is wrong.  This evaluator isolates the naming: every annotated item's box
goes through the box head as a proposal would (``model.forward_with_boxes``, the same backbone
pass as the detections), and its best foreground class (and its best two) is compared with the
item's category.  Reported overall, per category, per subset (source and the four DeepFashion2
attributes) and as a confusion matrix (rows: the true category, columns: the top-1 category).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from fashionvision.categories import CATEGORY_NAMES
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.classification import topk_accuracy
from fashionvision.evaluation.subsets import SUBSET_ATTRIBUTES
from fashionvision.structures import ImageAnnotation

REPORT_KEY = "gt_box_classification"
_KS = (1, 2)


@dataclass(frozen=True)
class ClassifiedItems:
    """One image's items: true categories [n], foreground scores [n, C-1] (column j is category
    j + 1) and the subset levels of each item."""

    image_id: int
    categories: np.ndarray
    scores: np.ndarray
    source: str
    levels: dict[str, np.ndarray]


def _category_name(category_id: int) -> str:
    return CATEGORY_NAMES.get(category_id, str(category_id))


def _accuracy(scores: np.ndarray, categories: np.ndarray) -> dict[str, Any]:
    """``top1``, ``top2`` (None when there are no rows) and ``num_items`` of the rows given."""
    if len(categories) == 0:
        return {"top1": None, "top2": None, "num_items": 0}
    ks = [k for k in _KS if k <= scores.shape[1]]
    acc = topk_accuracy(scores, categories - 1, ks)
    return {f"top{k}": acc.get(k) for k in _KS} | {"num_items": len(categories)}


class GTBoxClassificationEvaluator:
    """Top-1 / top-2 accuracy of the box classifier on the ground-truth boxes of a split.

    ``evaluate()`` returns ``{"gt_box_classification": {"top1", "top2", "num_items",
    "per_category": {name: {...}}, "subsets": {attribute: {level name: {...}}}, "confusion":
    {"categories": [names], "matrix": [[count]]}}}`` — subsets ``source`` (shop / user), scale,
    occlusion, zoom_in and viewpoint; the matrix rows are true categories, columns the top-1.
    """

    wants_gt_boxes = True

    def __init__(self, records: Sequence[ImageAnnotation]) -> None:
        self.records = list(records)
        self.reset()

    def reset(self) -> None:
        self.parts: list[ClassifiedItems] = []

    def process(
        self, records: Sequence[ImageAnnotation], outputs: Sequence[dict[str, torch.Tensor]]
    ) -> None:
        for record, out in zip(records, outputs, strict=True):
            if not record.items:
                continue
            if "box_class_scores" not in out:
                raise FashionVisionError(
                    "GT-box classification: the model's outputs have no box_class_scores "
                    "(run it with forward_with_boxes on the ground-truth boxes)"
                )
            probs = out["box_class_scores"].double().numpy()
            if probs.shape[0] != len(record.items):
                raise FashionVisionError(
                    f"GT-box classification: {probs.shape[0]} score rows for the "
                    f"{len(record.items)} items of {record.file_name}"
                )
            self.parts.append(
                ClassifiedItems(
                    record.image_id,
                    np.asarray([it.category_id for it in record.items], dtype=np.int64),
                    probs[:, 1:],  # the background column is no answer to "which garment"
                    str(record.source),
                    {
                        attr: np.asarray([getattr(it, attr) for it in record.items])
                        for attr in SUBSET_ATTRIBUTES
                    },
                )
            )

    def local_state(self) -> list[ClassifiedItems]:
        return self.parts

    def merge(self, states: Sequence[list[ClassifiedItems]]) -> None:
        self.parts = sorted((p for s in states for p in s), key=lambda p: p.image_id)

    def evaluate(self) -> dict[str, Any]:
        if not self.parts:
            return {REPORT_KEY: _accuracy(np.zeros((0, 1)), np.zeros(0, dtype=np.int64))}
        width = self.parts[0].scores.shape[1]
        categories = np.concatenate([p.categories for p in self.parts])
        if categories.max() > width:
            raise FashionVisionError(
                f"GT-box classification: category {int(categories.max())} in the split, but "
                f"the model has {width} categories"
            )
        scores = np.concatenate([p.scores for p in self.parts])
        source = np.concatenate([[p.source] * len(p.categories) for p in self.parts])
        result = _accuracy(scores, categories)
        result["per_category"] = {
            _category_name(c): _accuracy(scores[categories == c], categories[categories == c])
            for c in range(1, width + 1)
            if (categories == c).any()
        }
        subsets: dict[str, dict[str, Any]] = {
            "source": {
                name: _accuracy(scores[source == name], categories[source == name])
                for name in ("shop", "user")
            }
        }
        for attr, names in SUBSET_ATTRIBUTES.items():
            levels = np.concatenate([p.levels[attr] for p in self.parts])
            subsets[attr] = {
                name: _accuracy(scores[levels == value], categories[levels == value])
                for value, name in names.items()
            }
        result["subsets"] = subsets
        predicted = scores.argmax(axis=1) + 1
        matrix = np.zeros((width, width), dtype=np.int64)
        np.add.at(matrix, (categories - 1, predicted - 1), 1)
        result["confusion"] = {
            "categories": [_category_name(c) for c in range(1, width + 1)],
            "matrix": matrix.tolist(),
        }
        return {REPORT_KEY: result}


def top_confusions(result: dict[str, Any], k: int = 5) -> list[tuple[int, str, str]]:
    """The `k` most frequent off-diagonal cells of the confusion matrix: (count, true category,
    top-1 category), largest first."""
    conf = result.get("confusion") or {}
    names, matrix = conf.get("categories", []), np.asarray(conf.get("matrix", []), dtype=np.int64)
    cells = [
        (int(matrix[i, j]), names[i], names[j])
        for i, j in zip(*np.nonzero(matrix), strict=True)
        if i != j
    ]
    return sorted(cells, key=lambda t: -t[0])[:k]


def format_gt_box_classification(result: dict[str, Any], confusions: int = 5) -> str:
    """Two lines: the overall top-1 / top-2 with the user / shop split, and the most frequent
    confusions (``true -> predicted xN``)."""

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    sub = result.get("subsets", {}).get("source", {})
    line = (
        f"Classification on GT boxes: top1={pct(result['top1'])} top2={pct(result['top2'])} "
        f"items={result['num_items']}"
    )
    if sub:
        line += "  (" + ", ".join(f"{k} top1={pct(v['top1'])}" for k, v in sub.items()) + ")"
    top = top_confusions(result, confusions)
    if top:
        line += "\n  most confused: " + ", ".join(f"{t} -> {p} x{n}" for n, t, p in top)
    return line
