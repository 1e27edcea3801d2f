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

`Predictor.predict` documents every field of a result.  A FashionNet checkpoint gives a
`FashionNetPredictor` instead::

    net = fashionvision.load("runs/fashionnet/model_final.pt")
    [r] = net.predict("dress.jpg", top_k=5)   # optional boxes=[(x1, y1, x2, y2)] to crop
    r["categories"], r["attributes"], r["landmarks"], r["visibility"], r["embedding"]

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

from fashionvision.engine.fashionnet import FashionNetPredictor
from fashionvision.engine.inference import Predictor
from fashionvision.retrieval.index import GalleryIndex, Match, QueryGarment


def load(checkpoint: str | Path, device: str | None = None) -> Predictor | FashionNetPredictor:
    """A Predictor for a training checkpoint (``last.pt`` / ``model_final.pt``): a Match R-CNN
    `Predictor`, or for a FashionNet checkpoint a `FashionNetPredictor` (its ``predict(images,
    boxes=None, top_k=5)`` gives category and attribute top-k with names, the 8 landmarks with
    visibility, and the retrieval embedding of each garment image).

    `device`: ``cpu``, ``cuda`` or ``cuda:N``; None picks CUDA when available.  A missing or
    malformed checkpoint raises `CheckpointError`, an unavailable device `ConfigError` naming
    ``device`` (both FashionVisionError).
    """
    from fashionvision.engine.inference import checkpoint_arch

    if checkpoint_arch(checkpoint) == "fashionnet":
        return FashionNetPredictor.from_checkpoint(checkpoint, device=device, option="device")
    return Predictor.from_checkpoint(checkpoint, device=device, option="device")


__all__ = ["FashionNetPredictor", "GalleryIndex", "Match", "Predictor", "QueryGarment", "load"]
