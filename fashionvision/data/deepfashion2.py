"""DeepFashion2 per-image annotation JSON <-> `ImageAnnotation` records.

Layout of a split: ``SPLIT/image/000001.jpg`` and ``SPLIT/annos/000001.json``; the file stem is
the zero-padded integer image id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fashionvision.io_utils import write_json
from fashionvision.structures import Garment, ImageAnnotation


def _number(x: float) -> int | float:
    """DeepFashion2 writes integral coordinates as ints; keep floats that are not integral."""
    xf = float(x)
    return int(xf) if xf.is_integer() else xf


def garment_to_json(item: Garment) -> dict[str, Any]:
    return {
        "segmentation": [[_number(v) for v in poly] for poly in item.segmentation],
        "scale": item.scale,
        "viewpoint": item.viewpoint,
        "zoom_in": item.zoom_in,
        "landmarks": [_number(v) for v in np.asarray(item.landmarks).reshape(-1)],
        "style": item.style,
        "bounding_box": [_number(v) for v in item.bbox],
        "occlusion": item.occlusion,
        "category_id": item.category_id,
        "category_name": item.category_name,
    }


def annotation_to_json(ann: ImageAnnotation) -> dict[str, Any]:
    """The DeepFashion2 JSON object of one image (`source`, `pair_id`, `item1..itemN`)."""
    out: dict[str, Any] = {"source": ann.source, "pair_id": ann.pair_id}
    for k, item in enumerate(ann.items, start=1):
        out[f"item{k}"] = garment_to_json(item)
    return out


def annotation_path(split_dir: str | Path, image_id: int) -> Path:
    return Path(split_dir) / "annos" / f"{image_id:06d}.json"


def image_path(split_dir: str | Path, image_id: int) -> Path:
    return Path(split_dir) / "image" / f"{image_id:06d}.jpg"


def write_annotation(split_dir: str | Path, ann: ImageAnnotation) -> Path:
    """Write `ann` to ``split_dir/annos/<id>.json`` atomically; returns the path."""
    path = annotation_path(split_dir, ann.image_id)
    write_json(path, annotation_to_json(ann))
    return path
