"""Consumer-to-shop retrieval from model outputs: the queries, the gallery, the ranking, the rows.

`RetrievalEvaluator` is fed by the inference pipeline like every evaluator.  Two modes, as in the
DeepFashion2 protocol:

* ``detected``: every detection of a user image with score >= `query_threshold` is a query
  (``query_cls``/``query_score`` from the detector); the gallery holds the detections of the shop
  images with score >= `gallery_threshold`.  Only detections that carry an embedding (the ones
  the matching stream ran on) take part;
* ``gt_boxes``: the queries are the annotated items of the user images and the gallery the
  annotated shop items with style > 0, embedded by the matching stream on those boxes (the
  pipeline asks the model for ``box_embeddings`` in the same forward pass).

The gallery images are the shop images holding at least one paired item (style > 0): exactly the
images of the official ``gallery_gt.json``.  Ranking is exact over the whole gallery, through
the same store search as the gallery index (`fashionvision.retrieval.vector_store.exact_top_k`:
a flat FAISS store over the closed form's augmented vectors): by embedding distance
(`DEFAULT_RANKING`, the better of the two as measured) or by the model's similarity network.
A gallery smaller than `top_k` gives shorter result lists — never padded; top-k for k >= the
gallery size is then the accuracy over the whole ranked gallery, which is what top-k means when
every item is returned.  ``evaluate()``
reports ``gallery_size`` beside the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

import torch

from fashionvision.data.coco_format import retrieval_ground_truth
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.retrieval import DEFAULT_TOP_K, evaluate_retrieval
from fashionvision.models.matching_head import PairSimilarity
from fashionvision.retrieval.ranking import Ranking, SimilaritySpace
from fashionvision.retrieval.vector_store import exact_top_k
from fashionvision.structures import ImageAnnotation

Mode = Literal["detected", "gt_boxes"]
# Measured on one trained checkpoint (benchmarks/RESULTS.md, "Retrieval ranking"): after the tiny
# demo's 500 iterations the embedding distance ranks better than the similarity network, whose fc
# is still near its initialisation; "similarity" stays one option away.
DEFAULT_RANKING: Ranking = "distance"
# result keys of each mode in the evaluation report (and in eval JSON files)
REPORT_KEYS: dict[str, str] = {"detected": "retrieval", "gt_boxes": "retrieval_gt_boxes"}
# A shop detection must be this confident to enter the gallery: a catalogue holds garments, not
# the low-score guesses that AP evaluation keeps.
DEFAULT_GALLERY_THRESHOLD = 0.5


@dataclass
class EmbeddedBoxes:
    """Garments found (or given) in a set of images: one row per garment.

    embeddings float32 [N, D]; boxes float32 [N, 4] xyxy pixels; image_ids int64 [N];
    labels int64 [N] (1..13); scores float32 [N] (1 for GT boxes).
    """

    embeddings: torch.Tensor
    boxes: torch.Tensor
    image_ids: torch.Tensor
    labels: torch.Tensor
    scores: torch.Tensor

    @classmethod
    def concat(cls, parts: Sequence[EmbeddedBoxes]) -> EmbeddedBoxes:
        """Rows of `parts` in image id order (stable: an image's rows keep their order)."""
        if not parts:
            empty = torch.zeros(0)
            return cls(torch.zeros(0, 0), torch.zeros(0, 4), empty.long(), empty.long(), empty)
        joined = cls(*(torch.cat([getattr(p, f.name) for p in parts]) for f in fields(cls)))
        order = torch.argsort(joined.image_ids, stable=True)
        return cls(*(getattr(joined, f.name)[order] for f in fields(cls)))

    def __len__(self) -> int:
        return len(self.image_ids)


def result_rows(
    queries: EmbeddedBoxes, gallery: EmbeddedBoxes, ranked: torch.Tensor
) -> list[dict[str, Any]]:
    """Official result rows: query_image_id, query_bbox, query_cls, query_score and the ranked
    gallery_image_id / gallery_bbox lists (boxes xyxy, rounded to 0.01 px)."""
    rows = []
    for q in range(len(queries)):
        idx = ranked[q]
        rows.append(
            {
                "query_image_id": int(queries.image_ids[q]),
                "query_bbox": [round(float(v), 2) for v in queries.boxes[q]],
                "query_cls": int(queries.labels[q]),
                "query_score": float(queries.scores[q]),
                "gallery_image_id": [int(v) for v in gallery.image_ids[idx]],
                "gallery_bbox": [[round(float(v), 2) for v in b] for b in gallery.boxes[idx]],
            }
        )
    return rows


def _rows_of(
    image_id: int,
    embeddings: torch.Tensor,
    boxes: torch.Tensor,
    labels: torch.Tensor,
    scores: torch.Tensor,
) -> EmbeddedBoxes:
    """One image's garments as `EmbeddedBoxes` rows."""
    n = len(embeddings)
    return EmbeddedBoxes(
        embeddings.float(),
        boxes.float().reshape(n, 4),
        torch.full((n,), image_id, dtype=torch.int64),
        labels.long(),
        scores.float(),
    )


class RetrievalEvaluator:
    """Consumer-to-shop top-k of a split (see the module docstring).

    `records`: the whole split; `similarity`: the model's `PairSimilarity` (needed by
    ``ranking="similarity"``).  ``evaluate()`` returns ``{"retrieval": {...}}`` for ``detected``
    and ``{"retrieval_gt_boxes": {...}}`` for ``gt_boxes`` (``top1..top20``, ``num_queries``,
    ``num_missed``, ``gallery_size``); afterwards ``rows[mode]`` holds the official result rows.
    """

    def __init__(
        self,
        records: Sequence[ImageAnnotation],
        similarity: PairSimilarity | None,
        *,
        modes: Sequence[Mode] = ("detected", "gt_boxes"),
        ranking: Ranking = DEFAULT_RANKING,
        query_threshold: float = 0.05,
        gallery_threshold: float = DEFAULT_GALLERY_THRESHOLD,
        top_k: int = max(DEFAULT_TOP_K),
    ) -> None:
        unknown = set(modes) - set(REPORT_KEYS)
        if unknown:
            raise ValueError(f"unknown retrieval modes {sorted(unknown)}")
        self.records = list(records)
        self.similarity = similarity
        self.modes = tuple(modes)
        self.ranking = ranking
        self.query_threshold = query_threshold
        self.gallery_threshold = gallery_threshold
        self.top_k = top_k
        self.wants_gt_boxes = "gt_boxes" in self.modes
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.reset()

    def reset(self) -> None:
        # parts[mode][role]: one EmbeddedBoxes per processed image
        self.parts: dict[str, dict[str, list[EmbeddedBoxes]]] = {
            mode: {"query": [], "gallery": []} for mode in self.modes
        }
        self.rows = {}

    def process(
        self, records: Sequence[ImageAnnotation], outputs: Sequence[dict[str, torch.Tensor]]
    ) -> None:
        for record, out in zip(records, outputs, strict=True):
            if record.source == "user":
                role, keep_item, threshold = (
                    "query",
                    [True] * len(record.items),
                    self.query_threshold,
                )
            elif any(item.style > 0 for item in record.items):
                role, threshold = "gallery", self.gallery_threshold
                keep_item = [item.style > 0 for item in record.items]
            else:
                continue  # a shop image without paired items is not in the gallery
            if "detected" in self.modes:
                if "embeddings" not in out:
                    raise FashionVisionError("model.matching: this model has no matching stream")
                n = len(out["embeddings"])
                keep = out["scores"][:n] >= threshold
                self.parts["detected"][role].append(
                    _rows_of(
                        record.image_id,
                        out["embeddings"][keep],
                        out["boxes"][:n][keep],
                        out["labels"][:n][keep],
                        out["scores"][:n][keep],
                    )
                )
            if "gt_boxes" in self.modes:
                mask = torch.tensor(keep_item, dtype=torch.bool)
                items = [it for it, k in zip(record.items, keep_item, strict=True) if k]
                self.parts["gt_boxes"][role].append(
                    _rows_of(
                        record.image_id,
                        out["box_embeddings"][mask],
                        torch.tensor([it.bbox for it in items], dtype=torch.float32),
                        torch.tensor([it.category_id for it in items], dtype=torch.int64),
                        torch.ones(len(items)),
                    )
                )

    def local_state(self) -> dict[str, dict[str, list[EmbeddedBoxes]]]:
        return self.parts

    def merge(self, states: Sequence[dict[str, dict[str, list[EmbeddedBoxes]]]]) -> None:
        self.parts = {
            mode: {
                role: [p for s in states for p in s[mode][role]] for role in ("query", "gallery")
            }
            for mode in self.modes
        }

    def evaluate(self) -> dict[str, Any]:
        query_gt, gallery_gt = retrieval_ground_truth(self.records)
        out: dict[str, Any] = {}
        for mode in self.modes:
            queries = EmbeddedBoxes.concat(self.parts[mode]["query"])
            gallery = EmbeddedBoxes.concat(self.parts[mode]["gallery"])
            self.rows[mode] = self.rank(queries, gallery)
            out[REPORT_KEYS[mode]] = self._score(
                query_gt, gallery_gt, self.rows[mode], mode, len(gallery)
            )
        return out

    def rank(self, queries: EmbeddedBoxes, gallery: EmbeddedBoxes) -> list[dict[str, Any]]:
        """Result rows of `queries` against `gallery` (no rows when either is empty)."""
        if len(gallery) == 0 or len(queries) == 0:
            return []
        # centred on the gallery mean: the logits are unchanged, the float32 rounding smaller
        space = SimilaritySpace.of(
            self.ranking,
            self.similarity,
            gallery.embeddings.shape[1],
            center=gallery.embeddings.double().mean(dim=0),
        )
        _, ranked = exact_top_k(space, queries.embeddings, gallery.embeddings, self.top_k)
        return result_rows(queries, gallery, torch.from_numpy(ranked))

    def _score(
        self,
        query_gt: list[dict[str, Any]],
        gallery_gt: list[dict[str, Any]],
        rows: list[dict[str, Any]],
        mode: str,
        gallery_size: int,
    ) -> dict[str, Any]:
        ks = [k for k in DEFAULT_TOP_K if k <= self.top_k]
        # A list holds min(G, top_k) results: top-k for every k >= that is the same number.
        g = min(gallery_size, ks[-1])
        asked = sorted({k for k in ks if k < g} | {max(g, 1)})
        scores = evaluate_retrieval(
            query_gt, gallery_gt, rows, use_gt_boxes=mode == "gt_boxes", top_k=asked
        )
        result: dict[str, Any] = {f"top{k}": scores[f"top{max(min(k, g), 1)}"] for k in ks}
        result.update(
            num_queries=scores["num_queries"],
            num_missed=scores["num_missed"],
            gallery_size=gallery_size,
        )
        return result
