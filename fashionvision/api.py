"""The Python API: ``fashionvision.load(checkpoint)`` -> a Predictor.

Example::

    import fashionvision
    predictor = fashionvision.load("runs/tiny/model_final.pt")
    [result] = predictor.predict("street.jpg", score_threshold=0.5)   # one image, or a list
    for name, score, box in zip(result["category_names"], result["scores"], result["boxes"]):
        print(f"{name} {score:.2f} at {box}")
    if result["landmarks"]:                  # an empty list when nothing scored >= 0.5
        x, y, peak = result["landmarks"][0].T

`Predictor.predict` documents every field of a result.
"""

from __future__ import annotations

from pathlib import Path

from fashionvision.engine.inference import Predictor


def load(checkpoint: str | Path, device: str | None = None) -> Predictor:
    """A Predictor for a training checkpoint (``last.pt`` / ``model_final.pt``).

    `device`: ``cpu``, ``cuda`` or ``cuda:N``; None picks CUDA when available.  A missing or
    malformed checkpoint raises `CheckpointError`, an unavailable device `ConfigError` naming
    ``device`` (both FashionVisionError).
    """
    return Predictor.from_checkpoint(checkpoint, device=device, option="device")


__all__ = ["Predictor", "load"]
