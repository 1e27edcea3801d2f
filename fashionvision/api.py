"""The Python API: ``fashionvision.load(checkpoint)`` -> a Predictor.

Example::

    import fashionvision
    predictor = fashionvision.load("runs/tiny/model_final.pt")
    [result] = predictor.predict(["street.jpg"], score_threshold=0.5)
    result["boxes"], result["category_names"], result["landmarks"][0]
"""

from __future__ import annotations

from pathlib import Path

from fashionvision.engine.inference import Predictor


def load(checkpoint: str | Path, device: str | None = None) -> Predictor:
    """A Predictor for a training checkpoint (``last.pt`` / ``model_final.pt``).

    `device`: ``cpu``, ``cuda`` or ``cuda:N``; None picks CUDA when available.  A missing or
    malformed checkpoint raises `CheckpointError` (a FashionVisionError) naming the file.
    """
    return Predictor.from_checkpoint(checkpoint, device=device)


__all__ = ["Predictor", "load"]
