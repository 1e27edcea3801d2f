"""`FashionNetEvaluator`: DeepFashion (v1) numbers from FashionNet outputs, for the sharded
inference pipeline (`fashionvision.evaluation.evaluator.DatasetEvaluator`).

Every section follows the papers' definitions (`deepfashion_metrics`, `classification`):

* ``category``: top-k accuracy over the images with a known category (label >= 0);
* ``attributes``: top-k recall over the images with attribute labels, overall and per type
  (`attribute_groups`).  Per type, the k best are taken among *all* the attribute scores by
  default (``attribute_group_ranking="global"``), reading the papers' per-type recall as
  ranking all 1,000 scores.  Neither reading was checked against
  the papers' code; ``"within"`` ranks the type's own scores (`classification` has both);
* ``landmarks``: NE and the PDL curve over the visible GT landmarks, in the original image's
  pixels normalized by its width and height; ``visibility_accuracy`` is the share of the
  landmarks the clothes type has (visibility 0, 1 or 2) whose arg-max visibility logit is their
  GT class (class order as the data: 0 visible, 1 occluded, 2 cut off);
* ``retrieval``: top-k accuracy of the query images against the gallery images by embedding
  distance (``"inshop"``: role query vs gallery; ``"consumer2shop"``: role consumer vs every
  shop image processed).  A query whose item has no gallery image counts as wrong.

A section is left out when nothing can be scored: no label, or no model output for it (a model
without that head).  Values that are undefined (a slot without visible landmark) are None, so
the result is plain JSON.

What each rank keeps per image is small, so that gathering the states to rank 0 is cheap: of the
category and attribute scores only those that can reach a top-k (the ``max(k)`` best overall and
within every attribute type, with their indices), the indices of the positive attributes, the
landmark arrays, the arg-max visibility and the embedding.  ``evaluate`` rebuilds full score
matrices with the scores it did not keep set below every kept one, which leaves every top-k
ranking, ties included, as it was, and hands them to `classification`.  Merged images are put in
name order, so the numbers do not depend on sharding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import torch

from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.classification import attribute_topk_recall, topk_accuracy
from fashionvision.evaluation.deepfashion_metrics import (
    DEFAULT_PDL_THRESHOLDS,
    DEFAULT_RETRIEVAL_KS,
    landmark_normalized_error,
    percentage_detected,
    retrieval_topk_accuracy,
)

__all__ = ["RETRIEVAL_ROLES", "DeepFashionSampleLike", "FashionNetEvaluator"]

# retrieval mode -> (query role, gallery role)
RETRIEVAL_ROLES: dict[str, tuple[str, str]] = {
    "inshop": ("query", "gallery"),
    "consumer2shop": ("consumer", "shop"),
}
_ROLES = (None, "query", "gallery", "consumer", "shop")
ABSENT = -1  # visibility of a slot the clothes type lacks (`fashionvision.data.deepfashion`)
# Images per `attribute_topk_recall` call: bounds the rebuilt [images, 1000] float64 matrix.
_ATTRIBUTE_CHUNK = 4096


class DeepFashionSampleLike(Protocol):
    """What `FashionNetEvaluator.process` reads of a sample (read-only properties, so that frozen
    dataclasses and named tuples conform as well as plain objects)."""

    @property
    def name(self) -> str: ...
    @property
    def category(self) -> int: ...  # 0-based, -1 unknown
    @property
    def attributes(self) -> np.ndarray | None: ...  # [A] int8 in {1, -1, 0}
    @property
    def landmarks_xy(self) -> np.ndarray | None: ...  # [8, 2] pixels of the original image
    @property
    def visibility(self) -> np.ndarray | None: ...  # [8] int: 0, 1, 2, -1 absent
    @property
    def image_size(self) -> tuple[int, int]: ...  # (w, h) of the original image
    @property
    def item_id(self) -> str | None: ...
    @property
    def role(self) -> str | None: ...  # query, gallery, consumer, shop or None


@dataclass
class _TopScores:
    """The scores of one image that can reach a top-k: `index` [M] int32, `value` [M] float64,
    out of `width` scores."""

    index: np.ndarray
    value: np.ndarray
    width: int


@dataclass
class _Entry:
    """The compact per-image state (module docstring); None where the image has nothing."""

    name: str
    category: int = -1
    category_scores: _TopScores | None = None
    positives: np.ndarray | None = None  # [P] int32 attribute columns labelled 1
    attribute_scores: _TopScores | None = None
    landmarks: np.ndarray | None = None  # [L, 2] float64 predicted, original pixels
    landmarks_gt: np.ndarray | None = None  # [L, 2] float64
    visibility: np.ndarray | None = None  # [L] int8 GT
    visibility_pred: np.ndarray | None = None  # [L] int8 arg-max of the visibility logits
    image_size: tuple[float, float] = (0.0, 0.0)
    embedding: np.ndarray | None = None  # [D] float32
    item_id: str | None = None
    role: str | None = None


def _numpy(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        if x.dtype in (torch.float16, torch.bfloat16):
            x = x.float()  # numpy has no bfloat16
        return x.numpy()
    return np.asarray(x)


def _output(
    output: Mapping[str, Any], key: str, shape: tuple[int | None, ...], name: str
) -> np.ndarray | None:
    """``output[key]`` as a finite float64 array of `shape` (None: any size), None if absent."""
    value = output.get(key)
    if value is None:
        return None
    arr = _numpy(value).astype(np.float64)
    if arr.ndim != len(shape) or any(
        s is not None and s != d for s, d in zip(shape, arr.shape, strict=True)
    ):
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise FashionVisionError(
            f"{name}: outputs[{key!r}] has shape {tuple(arr.shape)}, expected {want}"
        )
    if not np.isfinite(arr).all():
        raise FashionVisionError(f"{name}: outputs[{key!r}] contains NaN or infinite values")
    return arr


def _top_scores(scores: np.ndarray, k: int, groups: Iterable[np.ndarray] = ()) -> _TopScores:
    """The union of the `k` best scores overall and within each group (stable: ties to the lower
    index, as `classification` ranks)."""
    keep = [np.argsort(-scores, kind="stable")[:k]]
    keep += [cols[np.argsort(-scores[cols], kind="stable")[:k]] for cols in groups]
    index = np.unique(np.concatenate(keep)).astype(np.int32)
    return _TopScores(index, scores[index], len(scores))


def _rebuild(tops: Sequence[_TopScores]) -> np.ndarray:
    """[N, width] scores: the kept ones in place, every other one below the row's lowest kept
    score, so that every top-k ranking of the kept scores is the original's."""
    out = np.empty((len(tops), tops[0].width), dtype=np.float64)
    for row, top in zip(out, tops, strict=True):
        low = float(top.value.min())
        row.fill(low - 1.0 - abs(low))  # strictly lower even when |low| is large
        row[top.index] = top.value
    return out


def _json_float(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


class FashionNetEvaluator:
    """Category, attribute, landmark and retrieval numbers of FashionNet (module docstring).

    `attribute_groups`: type name -> attribute columns (0-based), e.g. DeepFashion's five types;
    `retrieval`: ``"inshop"``, ``"consumer2shop"`` or None (no retrieval section).
    ``evaluate()`` returns::

        {"category": {"top3", "top5", "num_images"},
         "attributes": {"top3", "top5", "num_images",
                        "per_type": {name: {"top3", "top5", "num_images"}}},
         "landmarks": {"NE", "per_slot": [L], "num_landmarks",
                       "PDL": {"thresholds": [T], "detected": [T]},
                       "visibility_accuracy", "num_visibility"},
         "retrieval": {"top1", ..., "num_queries", "num_unmatched", "gallery_size"}}

    with one ``top{k}`` per k.  Attribute ``num_images`` counts the images having a positive
    attribute (the others have no recall); ``num_visibility`` the landmarks scored for
    visibility.
    """

    wants_gt_boxes = False

    def __init__(
        self,
        attribute_groups: Mapping[str, Sequence[int]] | None = None,
        ks_category: Sequence[int] = (3, 5),
        ks_attribute: Sequence[int] = (3, 5),
        ks_retrieval: Sequence[int] = DEFAULT_RETRIEVAL_KS,
        retrieval: Literal["inshop", "consumer2shop"] | None = "inshop",
        *,
        attribute_group_ranking: Literal["within", "global"] = "global",
        pdl_thresholds: Sequence[float] = DEFAULT_PDL_THRESHOLDS,
    ) -> None:
        if retrieval is not None and retrieval not in RETRIEVAL_ROLES:
            raise FashionVisionError(
                f"retrieval: expected one of {list(RETRIEVAL_ROLES)} or None, got {retrieval!r}"
            )
        if attribute_group_ranking not in ("within", "global"):
            raise FashionVisionError(
                "attribute_group_ranking: expected 'within' or 'global', "
                f"got {attribute_group_ranking!r}"
            )
        for name, ks in (("ks_category", ks_category), ("ks_attribute", ks_attribute),
                         ("ks_retrieval", ks_retrieval)):  # fmt: skip
            if not ks or min(int(k) for k in ks) < 1:
                raise FashionVisionError(f"{name}: expected positive integers, got {list(ks)}")
        self.groups: dict[str, np.ndarray] = {}
        for name, cols in (attribute_groups or {}).items():
            arr = np.asarray(cols)
            if arr.ndim != 1 or not arr.size or not np.issubdtype(arr.dtype, np.integer):
                raise FashionVisionError(
                    f"attribute_groups[{name!r}]: expected a non-empty list of column indices"
                )
            if arr.min() < 0:
                raise FashionVisionError(f"attribute_groups[{name!r}]: negative column index")
            self.groups[str(name)] = arr.astype(np.int64)
        self.ks_category = tuple(sorted({int(k) for k in ks_category}))
        self.ks_attribute = tuple(sorted({int(k) for k in ks_attribute}))
        self.ks_retrieval = tuple(sorted({int(k) for k in ks_retrieval}))
        self.retrieval = retrieval
        self.attribute_group_ranking = attribute_group_ranking
        self.pdl_thresholds = tuple(float(t) for t in pdl_thresholds)
        self.entries: list[_Entry] = []

    # ------------------------------------------------------------------ DatasetEvaluator

    def reset(self) -> None:
        self.entries = []

    def process(
        self, records: Sequence[DeepFashionSampleLike], outputs: Sequence[Mapping[str, Any]]
    ) -> None:
        if len(records) != len(outputs):
            raise FashionVisionError(f"{len(records)} records but {len(outputs)} outputs")
        for record, output in zip(records, outputs, strict=True):
            self.entries.append(self._entry(record, output))

    def local_state(self) -> list[_Entry]:
        return self.entries

    def merge(self, states: Sequence[list[_Entry]]) -> None:
        self.entries = [entry for state in states for entry in state]

    def evaluate(self) -> dict[str, Any]:
        entries = sorted(self.entries, key=lambda e: e.name)
        for a, b in zip(entries, entries[1:], strict=False):
            if a.name == b.name:
                raise FashionVisionError(f"image {a.name!r} was processed twice")
        out: dict[str, Any] = {}
        for key, section in (
            ("category", self._category),
            ("attributes", self._attributes),
            ("landmarks", self._landmarks),
            ("retrieval", self._retrieval),
        ):
            result = section(entries)
            if result is not None:
                out[key] = result
        return out

    # ------------------------------------------------------------------ per image

    def _entry(self, record: DeepFashionSampleLike, output: Mapping[str, Any]) -> _Entry:
        name = str(record.name)
        entry = _Entry(name=name, item_id=record.item_id, role=record.role)
        if record.role not in _ROLES:
            raise FashionVisionError(f"{name}: role {record.role!r} is not one of {_ROLES}")

        category = int(record.category)
        logits = _output(output, "category_logits", (None,), name)
        if category >= 0 and logits is not None:
            if category >= len(logits):
                raise FashionVisionError(
                    f"{name}: category {category} but only {len(logits)} category scores"
                )
            entry.category = category
            entry.category_scores = _top_scores(logits, self.ks_category[-1])

        if record.attributes is not None:
            labels = self._check_attributes(name, np.asarray(record.attributes))
            logits = _output(output, "attribute_logits", (labels.shape[0],), name)
            if logits is not None:
                entry.positives = np.flatnonzero(labels == 1).astype(np.int32)
                entry.attribute_scores = _top_scores(
                    logits, self.ks_attribute[-1], self.groups.values()
                )

        if record.landmarks_xy is not None and record.visibility is not None:
            gt = np.asarray(record.landmarks_xy, dtype=np.float64)
            pred = _output(output, "landmarks", gt.shape, name)
            if pred is not None:
                entry.landmarks, entry.landmarks_gt = pred, gt
                entry.visibility = self._check_visibility(name, record.visibility, len(gt))
                entry.image_size = self._check_size(name, record.image_size)
                vis_logits = _output(output, "visibility_logits", (len(gt), 3), name)
                if vis_logits is not None:
                    # first maximum on ties, as `classification` ranks
                    entry.visibility_pred = vis_logits.argmax(axis=1).astype(np.int8)

        if self.retrieval is not None and record.role in RETRIEVAL_ROLES[self.retrieval]:
            embedding = _output(output, "embedding", (None,), name)
            if embedding is None:
                raise FashionVisionError(
                    f"{name}: retrieval={self.retrieval!r} needs outputs['embedding'] of every "
                    f"{record.role} image"
                )
            if record.item_id is None:
                raise FashionVisionError(f"{name}: a {record.role} image needs an item_id")
            entry.embedding = embedding.astype(np.float32)
            entry.item_id = str(record.item_id)
        return entry

    def _check_attributes(self, name: str, labels: np.ndarray) -> np.ndarray:
        if labels.ndim != 1 or not np.isin(labels, (-1, 0, 1)).all():
            raise FashionVisionError(f"{name}: attribute labels must be a [A] array of 1, -1, 0")
        for group, cols in self.groups.items():
            if cols.max() >= len(labels):
                raise FashionVisionError(
                    f"attribute_groups[{group!r}]: column {int(cols.max())} out of range for "
                    f"{len(labels)} attributes ({name})"
                )
        return labels

    @staticmethod
    def _check_visibility(name: str, visibility: Any, num_slots: int) -> np.ndarray:
        vis = np.asarray(visibility)
        if vis.shape != (num_slots,) or not np.isin(vis, (ABSENT, 0, 1, 2)).all():
            raise FashionVisionError(
                f"{name}: visibility must be {num_slots} values in 0, 1, 2 or -1 (absent)"
            )
        return vis.astype(np.int8)

    @staticmethod
    def _check_size(name: str, size: Any) -> tuple[float, float]:
        w, h = (float(v) for v in size)
        if not (w > 0 and h > 0 and np.isfinite(w) and np.isfinite(h)):
            raise FashionVisionError(f"{name}: image_size must be (w, h) > 0, got {size!r}")
        return w, h

    # ------------------------------------------------------------------ sections

    @staticmethod
    def _same_width(name: str, tops: Sequence[_TopScores]) -> None:
        widths = {t.width for t in tops}
        if len(widths) > 1:
            raise FashionVisionError(f"{name}: images have different numbers of scores {widths}")

    def _category(self, entries: Sequence[_Entry]) -> dict[str, Any] | None:
        scored = [e for e in entries if e.category_scores is not None]
        if not scored:
            return None
        tops = [e.category_scores for e in scored]
        self._same_width("category_logits", tops)
        labels = np.array([e.category for e in scored], dtype=np.int64)
        acc = topk_accuracy(_rebuild(tops), labels, self.ks_category)
        out: dict[str, Any] = {f"top{k}": _json_float(v) for k, v in acc.items()}
        out["num_images"] = len(scored)
        return out

    def _attributes(self, entries: Sequence[_Entry]) -> dict[str, Any] | None:
        scored = [e for e in entries if e.attribute_scores is not None]
        if not scored:
            return None
        self._same_width("attribute_logits", [e.attribute_scores for e in scored])
        width = scored[0].attribute_scores.width
        # Recall is a mean over images: chunks combine as a mean weighted by their image counts.
        sums: dict[str | None, dict[int, float]] = {}
        counts: dict[str | None, int] = {}
        for start in range(0, len(scored), _ATTRIBUTE_CHUNK):
            chunk = scored[start : start + _ATTRIBUTE_CHUNK]
            labels = np.zeros((len(chunk), width), dtype=np.int8)
            for row, e in zip(labels, chunk, strict=True):
                row[e.positives] = 1
            result = attribute_topk_recall(
                _rebuild([e.attribute_scores for e in chunk]),
                labels,
                self.ks_attribute,
                groups=self.groups,
                group_ranking=self.attribute_group_ranking,
            )
            parts = [(None, result), *result["groups"].items()]
            for key, part in parts:
                n = part["num_images"]
                counts[key] = counts.get(key, 0) + n
                acc = sums.setdefault(key, dict.fromkeys(self.ks_attribute, 0.0))
                if n:
                    for k, v in part["recall"].items():
                        acc[k] += v * n

        def summary(key: str | None) -> dict[str, Any]:
            n = counts[key]
            res: dict[str, Any] = {f"top{k}": (s / n if n else None) for k, s in sums[key].items()}
            res["num_images"] = n
            return res

        out = summary(None)
        out["per_type"] = {name: summary(name) for name in self.groups}
        # What a perfect ranking reaches: an image with P > k positives can recall k/P at most,
        # so a data set with many positives per image caps top-k recall below 1.
        positives = np.array([len(e.positives) for e in scored])
        positives = positives[positives > 0]
        if len(positives):
            out["bound"] = {
                f"top{k}": float(np.mean(np.minimum(k, positives) / positives))
                for k in self.ks_attribute
            }
            out["positives_per_image"] = float(positives.mean())
        return out

    def _landmarks(self, entries: Sequence[_Entry]) -> dict[str, Any] | None:
        scored = [e for e in entries if e.landmarks is not None]
        if not scored:
            return None
        if len({e.landmarks.shape for e in scored}) > 1:
            raise FashionVisionError("landmarks: images have different numbers of slots")
        pred = np.stack([e.landmarks for e in scored])
        gt = np.stack([e.landmarks_gt for e in scored])
        vis = np.stack([e.visibility for e in scored])
        size = np.array([e.image_size for e in scored], dtype=np.float64)
        ne = landmark_normalized_error(pred, gt, vis, size)
        with_vis = [e for e in scored if e.visibility_pred is not None]
        hits = total = 0
        for e in with_vis:
            present = e.visibility != ABSENT
            hits += int(np.count_nonzero(e.visibility_pred[present] == e.visibility[present]))
            total += int(np.count_nonzero(present))
        if not ne["num_landmarks"] and not total:
            return None  # no visible landmark and no visibility to score
        pdl = percentage_detected(pred, gt, vis, size, self.pdl_thresholds)
        return {
            "NE": _json_float(ne["NE"]),
            "per_slot": [_json_float(v) for v in ne["per_slot"]],
            "num_landmarks": ne["num_landmarks"],
            "PDL": {
                "thresholds": list(self.pdl_thresholds),
                "detected": [_json_float(v) for v in pdl],
            },
            "visibility_accuracy": hits / total if total else None,
            "num_visibility": total,
        }

    def _retrieval(self, entries: Sequence[_Entry]) -> dict[str, Any] | None:
        if self.retrieval is None:
            return None
        query_role, gallery_role = RETRIEVAL_ROLES[self.retrieval]
        queries = [e for e in entries if e.role == query_role and e.embedding is not None]
        if not queries:
            return None
        gallery = [e for e in entries if e.role == gallery_role and e.embedding is not None]
        dims = {e.embedding.shape[0] for e in (*queries, *gallery)}
        if len(dims) > 1:
            raise FashionVisionError(f"embedding: images have different dimensions {dims}")
        dim = dims.pop()

        def stack(part: Sequence[_Entry]) -> np.ndarray:
            return np.stack([e.embedding for e in part]) if part else np.zeros((0, dim))

        result = retrieval_topk_accuracy(
            stack(queries),
            [e.item_id for e in queries],
            stack(gallery),
            [e.item_id for e in gallery],
            self.ks_retrieval,
        )
        return {k: _json_float(v) if k.startswith("top") else v for k, v in result.items()}
