"""Category top-k accuracy and attribute top-k recall, the DeepFashion (v1) papers' definitions.

* Category: an image is correct at k when its label is among its k highest scores.
* Attributes: the A attribute scores of an image are ranked; its top-k recall is the fraction of
  its positive attributes found among its k highest scores. The figure reported is the mean over
  the images having at least one positive attribute; images without any positive have no defined
  recall and are left out of both the sum and the count (their number is returned). Labels may be
  DeepFashion's {1, -1, 0} (positive / negative / unknown) or {1, 0}: only 1 is positive.

Per attribute group (DeepFashion's five types: texture, fabric, shape, part, style), the papers do
not say whether the k best are taken among all A scores or among the group's own scores (neither
reading has been checked against the papers' code), so both readings are offered:
``group_ranking="within"`` ranks only the group's scores, ``"global"`` counts the group's
positives among the global top k and divides by the image's positives in that group. In both,
an image counts for a group only when it has a positive in that group.

Ties in scores are broken towards the lower index (a stable sort), so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from fashionvision.errors import FashionVisionError

__all__ = ["attribute_topk_recall", "topk_accuracy"]


def _check_ks(ks: Sequence[int], width: int) -> list[int]:
    out = sorted({int(k) for k in ks})
    if not out or out[0] < 1 or out[-1] > width:
        raise FashionVisionError(f"ks: each k must lie in 1..{width}, got {list(ks)}")
    return out


def _check_scores(scores: np.ndarray, name: str = "scores") -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise FashionVisionError(f"{name}: expected a 2-D array [N, C], got shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise FashionVisionError(f"{name}: contains NaN or infinite values")
    return scores


def _top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Column indices [N, k] of each row's k highest scores, best first, ties to the lower index."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def topk_accuracy(
    scores: np.ndarray, labels: np.ndarray, ks: Sequence[int] = (3, 5)
) -> dict[int, float]:
    """Fraction of images whose label is among their k highest scores, for each k.

    scores: [N, C] float (any monotone score: logits or probabilities); labels: [N] int in
    0..C-1. Returns ``{k: accuracy}``; an empty input gives NaN.
    """
    scores = _check_scores(scores)
    labels = np.asarray(labels)
    n, num_classes = scores.shape
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise FashionVisionError(f"labels: expected {n} integers, got shape {labels.shape}")
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise FashionVisionError(f"labels: values must lie in 0..{num_classes - 1}")
    ks = _check_ks(ks, num_classes)
    top = _top_indices(scores, ks[-1])
    # Rank of the true label among the top max(k) (max(k) when it is not there).
    found = top == labels[:, None]
    rank = np.where(found.any(axis=1), np.argmax(found, axis=1), ks[-1])
    return {k: float(np.mean(rank < k)) if n else float("nan") for k in ks}


def _recall_over_images(hits: np.ndarray, positives: np.ndarray) -> tuple[float, int]:
    """Mean of hits/positives [N] over images with positives > 0, and their number."""
    has = positives > 0
    count = int(has.sum())
    return (float(np.mean(hits[has] / positives[has])) if count else float("nan")), count


def attribute_topk_recall(
    scores: np.ndarray,
    labels: np.ndarray,
    ks: Sequence[int] = (3, 5),
    groups: Mapping[str, Sequence[int]] | None = None,
    group_ranking: Literal["within", "global"] = "within",
) -> dict:
    """Attribute top-k recall (module docstring), overall and per group.

    scores: [N, A] float; labels: [N, A] in {1, -1, 0} or {1, 0}; groups: name -> attribute
    indices (0-based columns). Returns::

        {"recall": {k: float}, "num_images": int,
         "groups": {name: {"recall": {k: float}, "num_images": int}}}

    ``num_images`` counts the images that have a positive (overall, or in the group); a recall
    with no such image is NaN.
    """
    scores = _check_scores(scores)
    labels = np.asarray(labels)
    if labels.shape != scores.shape:
        raise FashionVisionError(f"labels: shape {labels.shape} differs from scores {scores.shape}")
    if not np.isin(labels, (-1, 0, 1)).all():
        raise FashionVisionError("labels: values must be 1 (positive), -1 (negative) or 0")
    if group_ranking not in ("within", "global"):
        raise FashionVisionError(
            f"group_ranking: expected 'within' or 'global', got {group_ranking!r}"
        )
    positive = labels == 1
    num_attributes = scores.shape[1]
    ks = _check_ks(ks, num_attributes)
    top = _top_indices(scores, ks[-1])
    in_top = np.take_along_axis(positive, top, axis=1)  # [N, kmax] positive flags, ranked

    out: dict = {"recall": {}, "groups": {}}
    for k in ks:
        out["recall"][k], out["num_images"] = _recall_over_images(
            in_top[:, :k].sum(axis=1), positive.sum(axis=1)
        )
    for name, columns in (groups or {}).items():
        cols = np.asarray(columns, dtype=np.int64)
        if cols.ndim != 1 or cols.size == 0 or cols.min() < 0 or cols.max() >= num_attributes:
            raise FashionVisionError(
                f"groups[{name!r}]: expected attribute indices in 0..{num_attributes - 1}"
            )
        out["groups"][name] = _group_recall(scores, positive, top, cols, ks, group_ranking)
    return out


def _group_recall(
    scores: np.ndarray,
    positive: np.ndarray,
    top: np.ndarray,
    cols: np.ndarray,
    ks: list[int],
    group_ranking: str,
) -> dict:
    """Recall of one attribute group [cols]; `top` [N, kmax] is the global ranking."""
    group_positive = positive[:, cols]
    recall: dict[int, float] = {}
    count = 0
    if group_ranking == "within":
        local_top = _top_indices(scores[:, cols], min(ks[-1], len(cols)))
        in_top = np.take_along_axis(group_positive, local_top, axis=1)
    else:
        member = np.zeros(positive.shape[1], bool)
        member[cols] = True
        in_top = np.take_along_axis(positive, top, axis=1) & member[top]
    for k in ks:
        recall[k], count = _recall_over_images(
            in_top[:, :k].sum(axis=1), group_positive.sum(axis=1)
        )
    return {"recall": recall, "num_images": count}
