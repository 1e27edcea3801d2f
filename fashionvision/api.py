"""The Python API: ``fashionvision.load(checkpoint)`` -> a Predictor; ``fashionvision.GalleryIndex``
to index a shop catalogue and search it with photos.

Example::

    import fashionvision
    predictor = fashionvision.load("runs/tiny/model_final.pt")
    [result] = predictor.predict("street.jpg", score_threshold=0.5)   # one image, or a list
    for name, score, box in zip(result["category_names"], result["scores"], result["boxes"]):
        print(f"{name} {score:.2f} at {box}")
    if result["landmarks"]:                  # an empty list when nothing scored >= 0.5
        x, y, peak = result["landmarks"][0].T

`Predictor.predict` documents every field of a result.

A shop-catalogue index (built once with ``GalleryIndex.build`` or ``fashionvision index build``)::

    index = fashionvision.GalleryIndex.open("runs/shop_index")      # loads its model once
    for garment in index.search("street.jpg", top_k=20):            # one photo
        print(garment.category_name, garment.score)
        for match in garment.matches:                                # best first
            print(match.item_id, match.score, index.image_path(match.item_id))

`GalleryIndex.search` returns `QueryGarment` records (box, category, score, landmarks, mask
outline, matches); each `Match` has the shop item's id, similarity logit, image, box, category,
detection score and, from DeepFashion2 annotations, pair_id and style (``to_dict()`` for JSON).
"""

from __future__ import annotations

from pathlib import Path

from fashionvision.engine.inference import Predictor
from fashionvision.retrieval.index import GalleryIndex, Match, QueryGarment


def load(checkpoint: str | Path, device: str | None = None) -> Predictor:
    """A Predictor for a training checkpoint (``last.pt`` / ``model_final.pt``).

    `device`: ``cpu``, ``cuda`` or ``cuda:N``; None picks CUDA when available.  A missing or
    malformed checkpoint raises `CheckpointError`, an unavailable device `ConfigError` naming
    ``device`` (both FashionVisionError).
    """
    return Predictor.from_checkpoint(checkpoint, device=device, option="device")


__all__ = ["GalleryIndex", "Match", "Predictor", "QueryGarment", "load"]
