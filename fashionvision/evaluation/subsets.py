"""The DeepFashion2 evaluation subsets (paper table 4): scale, occlusion, zoom_in and viewpoint.

Every GT garment carries the four attributes, each in {1, 2, 3}. A subset is one (attribute, value)
pair; its AP is computed against the full GT with the garments outside the subset marked
*ignore* (see `fashionvision.evaluation.coco_eval` for why).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

SUBSET_ATTRIBUTES: dict[str, dict[int, str]] = {
    "scale": {1: "small", 2: "moderate", 3: "large"},
    "occlusion": {1: "slight", 2: "medium", 3: "heavy"},
    "zoom_in": {1: "no", 2: "medium", 3: "large"},
    "viewpoint": {1: "no wear", 2: "frontal", 3: "side or back"},
}


def iter_subsets() -> Iterator[tuple[str, int, str]]:
    """Yield (attribute, value, value name) for the 12 subsets in the paper's column order."""
    for attribute, names in SUBSET_ATTRIBUTES.items():
        for value, name in names.items():
            yield attribute, value, name


def outside_subset(annotations: Iterable[dict[str, Any]], attribute: str, value: int) -> set[int]:
    """Ids of the GT annotations whose `attribute` differs from `value` (a missing field counts
    as outside, so an annotation without attributes never enters any subset)."""
    return {a["id"] for a in annotations if a.get(attribute) != value}
