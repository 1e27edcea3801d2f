"""The 13 garment templates of the synthetic DeepFashion2-format data set.

Each template gives the category's landmarks in a unit frame (x in [0, 1] across the garment, y
downwards in [0, height]) in the OFFICIAL local numbering of the DeepFashion2 landmark figure
(``shared/data/deepfashion2_samples/figures/cls.jpg``), the outline polygon through them, and a few
detail lines (necklines, waistbands) drawn inside the garment so that interior landmarks have a
visual cue.

Templates are written as the figure reads: the image-left half explicitly, and "chains" saying
which right-hand landmark mirrors which left-hand one (read from the figure, e.g. short sleeve top
7..15 mirror 25..17).  The flip table in `fashionvision.categories` is *not* used here, so the test
that flips a template and compares it with `flip_permutation` checks that table independently.

One reading differs from the figure: for the short sleeve outwear (category 3) the figure labels
the top-left neck corner ``4`` and the left placket top ``2``.  The official OKS sigmas say the
opposite (sigma 2 = sigma 6 = 0.0085, the precise collar corners; sigma 4 = sigma 26 = 0.0248, the
placket tops), and the long sleeve outwear figure uses 2 = corner, 4 = placket top.  We follow the
sigmas (and the flip table), i.e. 2 is the corner, as for category 4.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fashionvision.categories import CATEGORY_BY_ID

XY = tuple[float, float]
# An outline vertex: a 1-based landmark number, or an extra (x, y) vertex that is no landmark.
Vertex = int | XY


@dataclass(frozen=True)
class GarmentTemplate:
    """One category's shape in a unit frame.

    `landmarks`: (n, 2) float64 unit-frame coordinates in local 0-based numbering.
    `outline`: (m, 2) polygon vertices (landmarks in outline order plus extra vertices), simple.
    `details`: polylines (k_i, 2) drawn as seams inside the garment.
    `front_only`: 0-based landmarks hidden in a back view (front neckline).
    `height`: extent of the unit frame in y (x spans [0, 1]).
    """

    category_id: int
    landmarks: np.ndarray
    outline: np.ndarray
    details: tuple[np.ndarray, ...]
    front_only: tuple[int, ...]
    height: float
    allow_back_view: bool = True


def _mirror(p: XY) -> XY:
    return (1.0 - p[0], p[1])


def _resolve(v: Vertex, pts: dict[int, XY]) -> XY:
    return pts[v] if isinstance(v, int) else v


def _template(
    category_id: int,
    height: float,
    left: dict[int, XY],
    chains: Sequence[tuple[Sequence[int], Sequence[int]]],
    outline: Sequence[Vertex],
    details: Sequence[Sequence[Vertex]] = (),
    front_only: Sequence[int] = (),
    allow_back_view: bool = True,
) -> GarmentTemplate:
    """Build a template from the left/centre landmarks and the left->right mirror chains."""
    pts = dict(left)
    for left_ids, right_ids in chains:
        if len(left_ids) != len(right_ids):
            raise ValueError(f"category {category_id}: chain lengths differ")
        for a, b in zip(left_ids, right_ids, strict=True):
            pts[b] = _mirror(pts[a])
    n = CATEGORY_BY_ID[category_id].num_landmarks
    if sorted(pts) != list(range(1, n + 1)):
        raise ValueError(f"category {category_id}: landmarks {sorted(pts)} != 1..{n}")
    return GarmentTemplate(
        category_id=category_id,
        landmarks=np.array([pts[i] for i in range(1, n + 1)], dtype=np.float64),
        outline=np.array([_resolve(v, pts) for v in outline], dtype=np.float64),
        details=tuple(np.array([_resolve(v, pts) for v in d], dtype=np.float64) for d in details),
        front_only=tuple(i - 1 for i in front_only),
        height=height,
        allow_back_view=allow_back_view,
    )


def _r(a: int, b: int) -> list[int]:
    """Inclusive range a..b, ascending or descending."""
    step = 1 if b >= a else -1
    return list(range(a, b + step, step))


# The coordinate tables and template calls below are laid out by hand, one garment part per line.
# fmt: off
# Shared round neckline of tops and dresses: 1 back centre, 2/6 neck corners, 3-4-5 front.
_NECK: dict[int, XY] = {1: (0.5, 0.05), 2: (0.39, 0.0), 3: (0.42, 0.08), 4: (0.5, 0.13)}
_NECK_CHAIN = ([2, 3], [6, 5])
_NECK_LINE = [2, 3, 4, 5, 6]

_SHORT_SLEEVE: dict[int, XY] = {
    7: (0.25, 0.05), 8: (0.14, 0.15), 9: (0.02, 0.30), 10: (0.12, 0.40), 11: (0.18, 0.35),
    12: (0.24, 0.30), 13: (0.25, 0.42), 14: (0.25, 0.68), 15: (0.25, 0.97),
}
_LONG_SLEEVE: dict[int, XY] = {
    7: (0.27, 0.05), 8: (0.19, 0.18), 9: (0.13, 0.36), 10: (0.10, 0.52), 11: (0.07, 0.70),
    12: (0.17, 0.71), 13: (0.19, 0.55), 14: (0.21, 0.42), 15: (0.235, 0.33), 16: (0.265, 0.26),
    17: (0.29, 0.33), 18: (0.29, 0.62), 19: (0.29, 0.97),
}
# Outwear collar: 2 corner, 3 on the lapel, 4 placket top (see module docstring for category 3).
_COLLAR: dict[int, XY] = {1: (0.5, 0.05), 2: (0.39, 0.0), 3: (0.43, 0.07), 4: (0.47, 0.12)}


def _short_sleeve_top() -> GarmentTemplate:
    return _template(
        1, 1.0, {**_NECK, **_SHORT_SLEEVE, 16: (0.5, 0.99)},
        [_NECK_CHAIN, (_r(7, 15), _r(25, 17))],
        [2, *_r(7, 25), 6, 1], [_NECK_LINE], front_only=(3, 4, 5),
    )


def _long_sleeve_top() -> GarmentTemplate:
    return _template(
        2, 1.0, {**_NECK, **_LONG_SLEEVE, 20: (0.5, 0.99)},
        [_NECK_CHAIN, (_r(7, 19), _r(33, 21))],
        [2, *_r(7, 33), 6, 1], [_NECK_LINE], front_only=(3, 4, 5),
    )


def _short_sleeve_outwear() -> GarmentTemplate:
    placket = {30: (0.47, 0.35), 31: (0.47, 0.62), 16: (0.47, 0.99)}
    return _template(
        3, 1.0, {**_COLLAR, **_SHORT_SLEEVE, **placket},
        [([2, 3, 4], [6, 5, 26]), (_r(7, 15), _r(25, 17)), ([30, 31, 16], [27, 28, 29])],
        [2, *_r(7, 16), 31, 30, 4, 26, 27, 28, 29, *_r(17, 25), 6, 1],
        [[2, 3, 4], [6, 5, 26]], allow_back_view=False,
    )


def _long_sleeve_outwear() -> GarmentTemplate:
    placket = {38: (0.47, 0.40), 39: (0.47, 0.68), 20: (0.47, 0.99)}
    return _template(
        4, 1.0, {**_COLLAR, **_LONG_SLEEVE, **placket},
        [([2, 3, 4], [6, 5, 34]), (_r(7, 19), _r(33, 21)), ([38, 39, 20], [35, 36, 37])],
        [2, *_r(7, 20), 39, 38, 4, 34, 35, 36, 37, *_r(21, 33), 6, 1],
        [[2, 3, 4], [6, 5, 34]], allow_back_view=False,
    )


def _vest() -> GarmentTemplate:
    left = {1: (0.5, 0.10), 2: (0.36, 0.0), 3: (0.39, 0.12), 4: (0.5, 0.20), 7: (0.28, 0.0),
            8: (0.20, 0.36), 9: (0.21, 0.58), 10: (0.19, 0.93), 11: (0.5, 0.95)}
    arm = [(0.26, 0.15), (0.19, 0.30)]
    return _template(
        5, 0.95, left, [_NECK_CHAIN, ([7, 8, 9, 10], [15, 14, 13, 12])],
        [2, 7, *arm, 8, 9, 10, 11, 12, 13, 14, *[_mirror(p) for p in arm[::-1]], 15, 6, 1],
        [_NECK_LINE], front_only=(3, 4, 5),
    )


def _sling() -> GarmentTemplate:
    left = {1: (0.5, 0.24), 2: (0.34, 0.18), 3: (0.42, 0.24), 4: (0.5, 0.28), 7: (0.30, 0.0),
            8: (0.24, 0.42), 9: (0.26, 0.58), 10: (0.22, 0.93), 11: (0.5, 0.94)}
    corner, strap = (0.22, 0.34), (0.33, 0.0)
    return _template(
        6, 0.95, left, [_NECK_CHAIN, ([7, 8, 9, 10], [15, 14, 13, 12])],
        [corner, 7, strap, 2, 1, 6, _mirror(strap), 15, _mirror(corner), *_r(14, 8)],
        [_NECK_LINE], front_only=(3, 4, 5),
    )


def _shorts() -> GarmentTemplate:
    left = {1: (0.10, 0.0), 2: (0.5, 0.01), 4: (0.07, 0.32), 5: (0.04, 0.66), 6: (0.45, 0.70),
            7: (0.5, 0.40)}
    return _template(
        7, 0.7, left, [([1, 4, 5, 6], [3, 10, 9, 8])], [1, *_r(4, 10), 3, 2],
        [[(0.1, 0.07), (0.9, 0.07)]],
    )


def _trousers() -> GarmentTemplate:
    left = {1: (0.12, 0.0), 2: (0.5, 0.0), 4: (0.08, 0.35), 5: (0.07, 0.75), 6: (0.08, 1.58),
            7: (0.42, 1.58), 8: (0.47, 0.80), 9: (0.5, 0.45)}
    return _template(
        8, 1.6, left, [([1, 4, 5, 6, 7, 8], [3, 14, 13, 12, 11, 10])], [1, *_r(4, 14), 3, 2],
        [[(0.12, 0.08), (0.88, 0.08)]],
    )


def _skirt() -> GarmentTemplate:
    left = {1: (0.30, 0.0), 2: (0.5, 0.02), 4: (0.18, 0.42), 5: (0.03, 0.82), 6: (0.5, 0.90)}
    return _template(
        9, 0.9, left, [([1, 4, 5], [3, 8, 7])], [1, 4, 5, 6, 7, 8, 3, 2],
        [[(0.29, 0.07), (0.71, 0.07)]],
    )


def _short_sleeve_dress() -> GarmentTemplate:
    left = {**_NECK, 7: (0.27, 0.05), 8: (0.18, 0.13), 9: (0.10, 0.25), 10: (0.19, 0.31),
            11: (0.24, 0.27), 12: (0.29, 0.20), 13: (0.30, 0.28), 14: (0.31, 0.38),
            15: (0.31, 0.55), 16: (0.24, 0.95), 17: (0.08, 1.45), 18: (0.5, 1.47)}
    return _template(
        10, 1.5, left, [_NECK_CHAIN, (_r(7, 17), _r(29, 19))], [2, *_r(7, 29), 6, 1],
        [_NECK_LINE], front_only=(3, 4, 5),
    )


def _long_sleeve_dress() -> GarmentTemplate:
    left = {**_NECK, 7: (0.27, 0.05), 8: (0.21, 0.16), 9: (0.18, 0.26), 10: (0.16, 0.34),
            11: (0.14, 0.43), 12: (0.22, 0.44), 13: (0.24, 0.36), 14: (0.26, 0.28),
            15: (0.28, 0.21), 16: (0.30, 0.15), 17: (0.33, 0.22), 18: (0.34, 0.32),
            19: (0.33, 0.45), 20: (0.27, 0.85), 21: (0.10, 1.45), 22: (0.5, 1.47)}
    return _template(
        11, 1.5, left, [_NECK_CHAIN, (_r(7, 21), _r(37, 23))], [2, *_r(7, 37), 6, 1],
        [_NECK_LINE], front_only=(3, 4, 5),
    )


def _vest_dress() -> GarmentTemplate:
    left = {1: (0.5, 0.08), 2: (0.36, 0.0), 3: (0.39, 0.10), 4: (0.5, 0.18), 7: (0.28, 0.0),
            8: (0.24, 0.33), 9: (0.25, 0.43), 10: (0.25, 0.56), 11: (0.20, 0.86),
            12: (0.06, 1.45), 13: (0.5, 1.47)}
    arm = [(0.25, 0.12), (0.21, 0.26)]
    return _template(
        12, 1.5, left, [_NECK_CHAIN, (_r(7, 12), _r(19, 14))],
        [2, 7, *arm, *_r(8, 18), *[_mirror(p) for p in arm[::-1]], 19, 6, 1],
        [_NECK_LINE], front_only=(3, 4, 5),
    )


def _sling_dress() -> GarmentTemplate:
    left = {1: (0.5, 0.21), 2: (0.34, 0.16), 3: (0.42, 0.21), 4: (0.5, 0.25), 7: (0.30, 0.0),
            8: (0.25, 0.36), 9: (0.27, 0.46), 10: (0.27, 0.58), 11: (0.22, 0.90),
            12: (0.08, 1.45), 13: (0.5, 1.47)}
    corner, strap = (0.23, 0.30), (0.33, 0.0)
    return _template(
        13, 1.5, left, [_NECK_CHAIN, (_r(7, 12), _r(19, 14))],
        [corner, 7, strap, 2, 1, 6, _mirror(strap), 19, _mirror(corner), *_r(18, 8)],
        [_NECK_LINE], front_only=(3, 4, 5),
    )


TEMPLATES: dict[int, GarmentTemplate] = {
    t.category_id: t
    for t in (
        _short_sleeve_top(), _long_sleeve_top(), _short_sleeve_outwear(), _long_sleeve_outwear(),
        _vest(), _sling(), _shorts(), _trousers(), _skirt(), _short_sleeve_dress(),
        _long_sleeve_dress(), _vest_dress(), _sling_dress(),
    )
}
# fmt: on
