"""What the service needs of a gallery index (`fashionvision.retrieval.index.GalleryIndex`).

A structural type, so the service does not import the model stack to be tested: tests pass a
fake with the same methods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image


class Serializable(Protocol):
    """A search result (a detected garment or one of its matches) as JSON-ready data."""

    def to_dict(self) -> dict[str, Any]: ...


class SearchIndex(Protocol):
    """A searchable gallery of shop garments.

    `item` and `image_path` raise a `KeyError` (``ItemNotFound``) for an id not in the index.
    """

    def search(
        self,
        image: str | Path | Image.Image | np.ndarray,
        top_k: int = 20,
        category: int | None = None,
        score_threshold: float = 0.5,
    ) -> list[Serializable]: ...

    def item(self, item_id: int) -> Serializable: ...

    def image_path(self, item_id: int) -> Path: ...

    def info(self) -> dict[str, Any]: ...

    def __len__(self) -> int: ...
