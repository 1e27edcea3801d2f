"""A fake gallery index for the service tests (the `SearchIndex` protocol, no model), and photo
bytes to upload.

Test modules import it by name: pytest puts this folder on ``sys.path`` when it collects them.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from fashionvision.categories import CATEGORY_NAMES

# Items alternate between these categories; each fake garment is one of them.
ITEM_CATEGORIES = (1, 8)


def jpeg_bytes(
    width: int = 96, height: int = 64, colour: tuple[int, int, int] = (200, 60, 40)
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@dataclass
class Result:
    """A QueryGarment or Match: only `to_dict` is used by the service."""

    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass
class FakeIndex:
    """`n_items` shop images in `root`; every search finds one garment per category (top and
    trousers), each matched with the items of its category in id order.

    `gate`: when given, a search waits for it (at most 10 s) after setting `started`, to hold a
    worker thread.  `fail`: an exception a search raises.
    """

    root: Path
    n_items: int = 20
    gate: threading.Event | None = None
    fail: Exception | None = None
    started: threading.Event = field(default_factory=threading.Event)
    searches: list[dict[str, Any]] = field(default_factory=list)
    asked: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for item_id in range(self.n_items):
            path = self._path(item_id)
            if not path.exists():
                path.write_bytes(jpeg_bytes(48, 64, (20 * (item_id % 12), 90, 160)))

    def _path(self, item_id: int) -> Path:
        return self.root / f"shop_{item_id:03d}.jpg"

    def _category(self, item_id: int) -> int:
        return ITEM_CATEGORIES[item_id % len(ITEM_CATEGORIES)]

    def _match(self, item_id: int, rank: int) -> dict[str, Any]:
        category = self._category(item_id)
        return {
            "item_id": item_id,
            "score": round(1.0 / (rank + 1), 4),
            "image_path": str(self._path(item_id)),
            "image_id": item_id + 1,
            "box": [2.0, 3.0, 40.0, 60.0],
            "category": category,
            "category_name": CATEGORY_NAMES[category],
            "detection_score": 0.9,
            "pair_id": item_id // 2,
            "style": 1,
        }

    def search(
        self, image: Any, top_k: int = 20, category: int | None = None, score_threshold: float = 0.5
    ) -> list[Result]:
        self.searches.append(
            {"image": image, "top_k": top_k, "category": category, "threshold": score_threshold}
        )
        self.started.set()
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail is not None:
            raise self.fail
        width, height = image.size
        garments = []
        for n, cat in enumerate(ITEM_CATEGORIES):
            if category is not None and cat != category:
                continue
            ids = [i for i in range(self.n_items) if self._category(i) == cat][:top_k]
            top = n * height / 2
            garments.append(
                Result(
                    {
                        "box": [width * 0.2, top + 2, width * 0.8, top + height / 2 - 2],
                        "category": cat,
                        "category_name": CATEGORY_NAMES[cat],
                        "score": 0.9 - 0.1 * n,
                        "landmarks": None,
                        "mask_outline": [],
                        "matches": [self._match(i, rank) for rank, i in enumerate(ids)],
                    }
                )
            )
        return garments

    def item(self, item_id: int) -> Result:
        self.asked.append(item_id)
        if not 0 <= item_id < self.n_items:
            raise KeyError(item_id)
        return Result(self._match(item_id, 0))

    def image_path(self, item_id: int) -> Path:
        self.asked.append(item_id)
        if not 0 <= item_id < self.n_items:
            raise KeyError(item_id)
        return self._path(item_id)

    def info(self) -> dict[str, Any]:
        return {"items": self.n_items, "backend": "fake", "root": self.root}

    def __len__(self) -> int:
        return self.n_items
