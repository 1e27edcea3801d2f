"""fashionvision: clothing detection, landmarks, masks and consumer-to-shop retrieval."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# `load`, `Predictor` and `GalleryIndex` import torch: resolved on first use so the package
# import stays light.
_LAZY = {
    "load": "fashionvision.api",
    "Predictor": "fashionvision.api",
    "GalleryIndex": "fashionvision.api",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fashionvision' has no attribute {name!r}")
