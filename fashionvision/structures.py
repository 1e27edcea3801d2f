"""Typed records shared by every part of the package.

Conventions: boxes are ``(x1, y1, x2, y2)`` in absolute pixels (xyxy); landmarks of a garment are a
float array of shape (n, 3) = (x, y, v) in the garment category's *local* numbering (v: 2 visible,
1 occluded, 0 not labelled), or shape (0, 3) when the item has no landmarks; polygons are flat
``[x1, y1, x2, y2, ...]`` lists in pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from fashionvision.categories import CATEGORY_NAMES

Box = tuple[float, float, float, float]
Source = Literal["shop", "user"]


@dataclass
class Garment:
    """One annotated clothing item (`itemK` of a DeepFashion2 annotation file)."""

    category_id: int
    bbox: Box
    landmarks: np.ndarray  # (n, 3) float64, local numbering; (0, 3) when unlabelled
    segmentation: list[list[float]]
    style: int = 0
    scale: int = 2
    occlusion: int = 1
    zoom_in: int = 1
    viewpoint: int = 2

    @property
    def category_name(self) -> str:
        return CATEGORY_NAMES[self.category_id]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Garment):
            return NotImplemented
        return (
            self.category_id == other.category_id
            and tuple(self.bbox) == tuple(other.bbox)
            and self.landmarks.shape == other.landmarks.shape
            and bool(np.array_equal(self.landmarks, other.landmarks))
            and self.segmentation == other.segmentation
            and (self.style, self.scale, self.occlusion, self.zoom_in, self.viewpoint)
            == (other.style, other.scale, other.occlusion, other.zoom_in, other.viewpoint)
        )


@dataclass
class ImageAnnotation:
    """One image of a DeepFashion2-format split and its garments (in `item1..itemN` order).

    `file_name` is the image path relative to the split directory (``image/000001.jpg``);
    `width`/`height` come from the image file, not the JSON (DeepFashion2 JSON holds no size).
    """

    image_id: int
    file_name: str
    width: int
    height: int
    source: Source
    pair_id: int
    items: list[Garment] = field(default_factory=list)


@dataclass
class Detection:
    """One predicted garment. `landmarks` are (n, 3) in the category's local numbering with
    v = the landmark's score; `mask` is a COCO RLE dict or None; `embedding` a 1-D array or None."""

    image_id: int
    category_id: int
    score: float
    bbox: Box
    landmarks: np.ndarray | None = None
    mask: dict | None = None
    embedding: np.ndarray | None = None
