"""Consumer-to-shop retrieval with a trained Match R-CNN, written as the official result rows.

Pipeline: embed the garments of the shop images (the gallery) and of the user images (the
queries), rank the gallery for each query by Euclidean embedding distance (exact brute force with
``torch.cdist``), re-rank the closest `rerank_k` candidates by the model's similarity network
(``model.roi_heads.pair_similarity``, a probability of "same item") and keep the first `top_k`.

Two modes, as in the DeepFashion2 protocol:

* detected boxes (default): every detection of a user image with score >= `query_threshold` is a
  query (``query_cls``/``query_score`` from the detector); the gallery holds the detections of
  the shop images with score >= `gallery_threshold`;
* GT boxes (`use_gt_boxes`): the queries are the annotated items of the user images and the gallery
  the annotated shop items, embedded by running the matching stream on those boxes.

The gallery images are the shop images holding at least one paired item (style > 0): exactly the
images of the official ``gallery_gt.json``.  When the gallery has fewer than `top_k` entries the
ranked list is padded by repeating its last entry, because a result row must carry `top_k` results.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models.detection.transform import resize_boxes

from fashionvision.engine.inference import batched, forward_images, keep_confident, load_image
from fashionvision.errors import FashionVisionError
from fashionvision.structures import ImageAnnotation

Similarity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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
    def concat(cls, parts: Sequence[EmbeddedBoxes], dim: int) -> EmbeddedBoxes:
        if not parts:
            empty = torch.zeros(0)
            return cls(torch.zeros(0, dim), torch.zeros(0, 4), empty.long(), empty.long(), empty)
        return cls(*(torch.cat([getattr(p, f) for p in parts]) for f in cls.__dataclass_fields__))

    def __len__(self) -> int:
        return len(self.image_ids)


@torch.inference_mode()
def embed_boxes(
    model: nn.Module, images: Sequence[torch.Tensor], boxes: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """Matching embeddings [n_i, D] of given boxes [n_i, 4] (xyxy, input pixels) per image.

    Uses ``model.embed_boxes`` when the model provides it; otherwise runs the model's own transform,
    backbone, stream RoI pooler and matching head (the path its eval forward takes on detections).
    """
    if hasattr(model, "embed_boxes"):
        return list(model.embed_boxes(list(images), list(boxes)))
    heads = getattr(model, "roi_heads", None)
    if heads is None or getattr(heads, "matching_head", None) is None:
        raise FashionVisionError("model.matching: this model has no matching stream")
    device = next(model.parameters()).device
    original = [tuple(img.shape[-2:]) for img in images]
    image_list, _ = model.transform([img.to(device) for img in images])
    features = model.backbone(image_list.tensors)
    scaled = [
        resize_boxes(b.to(device, torch.float32), orig, new)
        for b, orig, new in zip(boxes, original, image_list.image_sizes, strict=True)
    ]
    pooled = heads.stream_roi_pool(features, scaled, image_list.image_sizes)
    embeddings = heads.matching_head(pooled).cpu()
    return list(embeddings.split([len(b) for b in boxes]))


def detect_and_embed(
    model: nn.Module,
    split_dir: Path,
    records: Sequence[ImageAnnotation],
    device: torch.device,
    score_threshold: float,
    batch_size: int,
) -> EmbeddedBoxes:
    """Detections (score >= threshold) of the images of `records`, with their embeddings."""
    parts = []
    for chunk in batched(list(records), batch_size):
        images = [load_image(split_dir / r.file_name) for r in chunk]
        for rec, out in zip(chunk, forward_images(model, images, device), strict=True):
            out = keep_confident(out, score_threshold)
            if "embeddings" not in out:
                raise FashionVisionError("model.matching: this model has no matching stream")
            n = len(out["scores"])
            parts.append(
                EmbeddedBoxes(
                    out["embeddings"].float(),
                    out["boxes"].float(),
                    torch.full((n,), rec.image_id, dtype=torch.int64),
                    out["labels"].long(),
                    out["scores"].float(),
                )
            )
    return EmbeddedBoxes.concat(parts, _embedding_dim(parts))


def gt_embed(
    model: nn.Module,
    split_dir: Path,
    records: Sequence[ImageAnnotation],
    batch_size: int,
    keep: Callable[[Any], bool] = lambda item: True,
) -> EmbeddedBoxes:
    """Embeddings of the annotated items (those `keep` accepts) of `records`."""
    parts = []
    for chunk in batched([r for r in records if any(keep(i) for i in r.items)], batch_size):
        images = [load_image(split_dir / r.file_name) for r in chunk]
        items = [[i for i in r.items if keep(i)] for r in chunk]
        boxes = [torch.tensor([i.bbox for i in its], dtype=torch.float32) for its in items]
        for rec, its, b, emb in zip(
            chunk, items, boxes, embed_boxes(model, images, boxes), strict=True
        ):
            n = len(its)
            parts.append(
                EmbeddedBoxes(
                    emb.float(),
                    b,
                    torch.full((n,), rec.image_id, dtype=torch.int64),
                    torch.tensor([i.category_id for i in its], dtype=torch.int64),
                    torch.ones(n),
                )
            )
    return EmbeddedBoxes.concat(parts, _embedding_dim(parts))


def _embedding_dim(parts: Sequence[EmbeddedBoxes]) -> int:
    return parts[0].embeddings.shape[1] if parts else 0


def rank_gallery(
    queries: torch.Tensor,
    gallery: torch.Tensor,
    top_k: int = 20,
    rerank_k: int = 100,
    similarity: Similarity | None = None,
) -> torch.Tensor:
    """Indices [Q, top_k] into `gallery` [G, D] for each query [Q, D], best first.

    Candidates are the `max(rerank_k, top_k)` nearest by Euclidean distance; with `similarity`
    (``(a [A, D], b [B, D]) -> probabilities [A, B]``) they are re-ordered by decreasing
    probability.  Lists shorter than `top_k` (small gallery) repeat their last index.
    """
    if len(gallery) == 0:
        raise FashionVisionError("retrieval: the gallery is empty (no shop garment found)")
    if len(queries) == 0:
        return torch.zeros(0, top_k, dtype=torch.int64)
    distances = torch.cdist(queries.float(), gallery.float())
    k = min(max(rerank_k, top_k), len(gallery))
    candidates = distances.topk(k, dim=1, largest=False).indices  # ascending distance
    if similarity is not None:
        with torch.inference_mode():
            rows = [
                similarity(q[None], gallery[c])[0] for q, c in zip(queries, candidates, strict=True)
            ]
        order = torch.stack(rows).argsort(dim=1, descending=True, stable=True)
        candidates = candidates.gather(1, order)
    candidates = candidates[:, :top_k]
    if candidates.shape[1] < top_k:
        pad = candidates[:, -1:].expand(-1, top_k - candidates.shape[1])
        candidates = torch.cat([candidates, pad], dim=1)
    return candidates


def result_rows(
    queries: EmbeddedBoxes, gallery: EmbeddedBoxes, ranked: torch.Tensor
) -> list[dict[str, Any]]:
    """Official result rows: query_image_id, query_bbox, query_cls, query_score and the ranked
    gallery_image_id / gallery_bbox lists (boxes xyxy)."""
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


def retrieval_results(
    model: nn.Module,
    split_dir: str | Path,
    records: Sequence[ImageAnnotation],
    device: torch.device,
    *,
    use_gt_boxes: bool = False,
    query_threshold: float = 0.05,
    gallery_threshold: float = 0.5,
    batch_size: int = 4,
    top_k: int = 20,
    rerank_k: int = 100,
) -> list[dict[str, Any]]:
    """Retrieval result rows for the user images of a split (see the module docstring)."""
    split_dir = Path(split_dir)
    model.eval()
    users = [r for r in records if r.source == "user"]
    shops = [r for r in records if r.source != "user" and any(i.style > 0 for i in r.items)]
    if use_gt_boxes:
        queries = gt_embed(model, split_dir, users, batch_size)
        gallery = gt_embed(model, split_dir, shops, batch_size, keep=lambda i: i.style > 0)
    else:
        queries = detect_and_embed(model, split_dir, users, device, query_threshold, batch_size)
        gallery = detect_and_embed(model, split_dir, shops, device, gallery_threshold, batch_size)
    if len(gallery) == 0:
        # No shop garment found: no result row can be formed, so every query counts as a miss.
        message = "retrieval: no garment detected in the shop images; no results written"
        warnings.warn(message, stacklevel=2)
        return []
    heads = getattr(model, "roi_heads", None)
    similarity = heads.pair_similarity if getattr(heads, "similarity", None) is not None else None

    def similarity_cpu(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        assert similarity is not None
        return similarity(a.to(device), b.to(device)).cpu()

    ranked = rank_gallery(
        queries.embeddings,
        gallery.embeddings,
        top_k=top_k,
        rerank_k=rerank_k,
        similarity=similarity_cpu if similarity is not None else None,
    )
    return result_rows(queries, gallery, ranked)
