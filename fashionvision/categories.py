"""The 13 DeepFashion2 categories, the 294-landmark global layout, OKS sigmas and flip pairs.

Landmarks of an item are stored in its category's *local* numbering (0-based here, 1-based in the
DeepFashion2 figure); the COCO export and the model use the *global* 294-vector in which each
category owns a contiguous slice.  The OKS sigmas are the official per-landmark values of the
DeepFashion2 evaluator.  The left/right flip pairs are derived from the landmark figure and the
symmetry of the sigma array (not an official artefact); they live in this one table.  The official
sigma array itself is not perfectly symmetric: category 11 (long sleeve dress) pair (15, 29) has
sigmas 0.0455 vs 0.0486 — `tests/test_categories.py` pins that single exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_LANDMARKS = 294
NUM_CATEGORIES = 13

# (id, name, number of landmarks, 1-based local left/right flip pairs)
# fmt: off
_CATEGORY_TABLE: tuple[tuple[int, str, int, tuple[tuple[int, int], ...]], ...] = (
    (1, 'short sleeve top', 25, (
        (2, 6), (3, 5), (7, 25), (8, 24), (9, 23), (10, 22), (11, 21), (12, 20), (13, 19),
        (14, 18), (15, 17),
    )),
    (2, 'long sleeve top', 33, (
        (2, 6), (3, 5), (7, 33), (8, 32), (9, 31), (10, 30), (11, 29), (12, 28), (13, 27),
        (14, 26), (15, 25), (16, 24), (17, 23), (18, 22), (19, 21),
    )),
    (3, 'short sleeve outwear', 31, (
        (2, 6), (3, 5), (4, 26), (7, 25), (8, 24), (9, 23), (10, 22), (11, 21), (12, 20), (13, 19),
        (14, 18), (15, 17), (16, 29), (27, 30), (28, 31),
    )),
    (4, 'long sleeve outwear', 39, (
        (2, 6), (3, 5), (4, 34), (7, 33), (8, 32), (9, 31), (10, 30), (11, 29), (12, 28), (13, 27),
        (14, 26), (15, 25), (16, 24), (17, 23), (18, 22), (19, 21), (20, 37), (35, 38), (36, 39),
    )),
    (5, 'vest', 15, (
        (2, 6), (3, 5), (7, 15), (8, 14), (9, 13), (10, 12),
    )),
    (6, 'sling', 15, (
        (2, 6), (3, 5), (7, 15), (8, 14), (9, 13), (10, 12),
    )),
    (7, 'shorts', 10, (
        (1, 3), (4, 10), (5, 9), (6, 8),
    )),
    (8, 'trousers', 14, (
        (1, 3), (4, 14), (5, 13), (6, 12), (7, 11), (8, 10),
    )),
    (9, 'skirt', 8, (
        (1, 3), (4, 8), (5, 7),
    )),
    (10, 'short sleeve dress', 29, (
        (2, 6), (3, 5), (7, 29), (8, 28), (9, 27), (10, 26), (11, 25), (12, 24), (13, 23),
        (14, 22), (15, 21), (16, 20), (17, 19),
    )),
    (11, 'long sleeve dress', 37, (
        (2, 6), (3, 5), (7, 37), (8, 36), (9, 35), (10, 34), (11, 33), (12, 32), (13, 31),
        (14, 30), (15, 29), (16, 28), (17, 27), (18, 26), (19, 25), (20, 24), (21, 23),
    )),
    (12, 'vest dress', 19, (
        (2, 6), (3, 5), (7, 19), (8, 18), (9, 17), (10, 16), (11, 15), (12, 14),
    )),
    (13, 'sling dress', 19, (
        (2, 6), (3, 5), (7, 19), (8, 18), (9, 17), (10, 16), (11, 15), (12, 14),
    )),
)
# fmt: on
OKS_SIGMAS: tuple[float, ...] = (
    0.012,
    0.0158,
    0.0169,
    0.0165,
    0.0169,
    0.0158,
    0.0298,
    0.0329,
    0.0321,
    0.0323,
    0.034,
    0.0388,
    0.0452,
    0.0574,
    0.0492,
    0.0352,
    0.0492,
    0.0574,
    0.0452,
    0.0388,
    0.034,
    0.0323,
    0.0321,
    0.0329,
    0.0298,
    0.0194,
    0.017,
    0.0185,
    0.0193,
    0.0185,
    0.017,
    0.0286,
    0.0471,
    0.0547,
    0.0526,
    0.043,
    0.0392,
    0.0513,
    0.0566,
    0.0509,
    0.0564,
    0.0542,
    0.0604,
    0.0599,
    0.052,
    0.0599,
    0.0604,
    0.0542,
    0.0564,
    0.0509,
    0.0566,
    0.0513,
    0.0392,
    0.043,
    0.0526,
    0.0547,
    0.0471,
    0.0286,
    0.0074,
    0.0085,
    0.0165,
    0.0248,
    0.0165,
    0.0085,
    0.0156,
    0.0231,
    0.0296,
    0.0137,
    0.0195,
    0.025,
    0.0347,
    0.038,
    0.0257,
    0.037,
    0.0257,
    0.038,
    0.0347,
    0.025,
    0.0195,
    0.0137,
    0.0296,
    0.0231,
    0.0156,
    0.0248,
    0.0469,
    0.0632,
    0.037,
    0.0469,
    0.0632,
    0.0137,
    0.0153,
    0.0243,
    0.0377,
    0.0243,
    0.0153,
    0.0203,
    0.0366,
    0.0467,
    0.0433,
    0.0393,
    0.0329,
    0.0418,
    0.0477,
    0.0399,
    0.0331,
    0.042,
    0.0492,
    0.0436,
    0.0478,
    0.0436,
    0.0492,
    0.042,
    0.0331,
    0.0399,
    0.0477,
    0.0418,
    0.0329,
    0.0393,
    0.0433,
    0.0467,
    0.0366,
    0.0203,
    0.0377,
    0.0645,
    0.0573,
    0.0478,
    0.0645,
    0.0573,
    0.0352,
    0.0158,
    0.021,
    0.0214,
    0.021,
    0.0158,
    0.0196,
    0.05,
    0.0489,
    0.0404,
    0.0401,
    0.0404,
    0.0489,
    0.05,
    0.0196,
    0.0276,
    0.0548,
    0.0283,
    0.0204,
    0.0283,
    0.0548,
    0.0369,
    0.0726,
    0.0677,
    0.064,
    0.0251,
    0.064,
    0.0677,
    0.0726,
    0.0369,
    0.0308,
    0.0216,
    0.0308,
    0.0506,
    0.0494,
    0.0463,
    0.0477,
    0.0463,
    0.0494,
    0.0506,
    0.0275,
    0.0202,
    0.0275,
    0.0651,
    0.0451,
    0.035,
    0.028,
    0.0392,
    0.0362,
    0.0392,
    0.028,
    0.035,
    0.0451,
    0.0651,
    0.0253,
    0.0195,
    0.0253,
    0.0513,
    0.0543,
    0.0415,
    0.0543,
    0.0513,
    0.0153,
    0.023,
    0.0167,
    0.0145,
    0.0167,
    0.023,
    0.0332,
    0.0391,
    0.0391,
    0.0396,
    0.044,
    0.0452,
    0.0498,
    0.0514,
    0.0585,
    0.0655,
    0.0635,
    0.0602,
    0.0635,
    0.0655,
    0.0585,
    0.0514,
    0.0498,
    0.0452,
    0.044,
    0.0396,
    0.0391,
    0.0391,
    0.0332,
    0.0121,
    0.0134,
    0.0158,
    0.0162,
    0.0158,
    0.0134,
    0.0246,
    0.0406,
    0.047,
    0.0404,
    0.0463,
    0.0466,
    0.0435,
    0.0499,
    0.0455,
    0.044,
    0.0411,
    0.049,
    0.0576,
    0.0685,
    0.0618,
    0.0483,
    0.0618,
    0.0685,
    0.0576,
    0.049,
    0.0411,
    0.044,
    0.0486,
    0.0499,
    0.0435,
    0.0466,
    0.0463,
    0.0404,
    0.047,
    0.0406,
    0.0246,
    0.0116,
    0.0167,
    0.016,
    0.018,
    0.016,
    0.0167,
    0.0196,
    0.0385,
    0.0421,
    0.0497,
    0.0562,
    0.0528,
    0.0428,
    0.0528,
    0.0562,
    0.0497,
    0.0421,
    0.0385,
    0.0196,
    0.0244,
    0.0297,
    0.0244,
    0.0208,
    0.0244,
    0.0297,
    0.0173,
    0.0616,
    0.0659,
    0.0712,
    0.0707,
    0.0685,
    0.0339,
    0.0685,
    0.0707,
    0.0712,
    0.0659,
    0.0616,
    0.0173,
)


@dataclass(frozen=True)
class Category:
    """One DeepFashion2 category and its slice [start, end) of the 294-landmark layout."""

    id: int
    name: str
    num_landmarks: int
    start: int
    flip_pairs: tuple[tuple[int, int], ...]  # 0-based local indices

    @property
    def end(self) -> int:
        return self.start + self.num_landmarks

    @property
    def landmark_slice(self) -> slice:
        return slice(self.start, self.end)

    @property
    def flip_permutation(self) -> np.ndarray:
        """Local index permutation p such that flipped[i] = original[p[i]]."""
        perm = np.arange(self.num_landmarks)
        for a, b in self.flip_pairs:
            perm[a], perm[b] = b, a
        return perm

    @property
    def sigmas(self) -> np.ndarray:
        return np.asarray(OKS_SIGMAS[self.start : self.end], dtype=np.float64)


def _build_categories() -> tuple[Category, ...]:
    start = 0
    out = []
    for cid, name, n, pairs in _CATEGORY_TABLE:
        out.append(Category(cid, name, n, start, tuple((a - 1, b - 1) for a, b in pairs)))
        start += n
    return tuple(out)


CATEGORIES: tuple[Category, ...] = _build_categories()
CATEGORY_BY_ID: dict[int, Category] = {c.id: c for c in CATEGORIES}
CATEGORY_NAMES: dict[int, str] = {c.id: c.name for c in CATEGORIES}
CATEGORY_ID_BY_NAME: dict[str, int] = {c.name: c.id for c in CATEGORIES}


def category_id_from_text(text: str) -> int:
    """A category id from an id (``"3"``) or a name in any case, ``_`` or space between words
    (``"short_sleeve_top"``); ValueError listing the choices otherwise."""
    value = text.strip().lower().replace("_", " ")
    if value.isdigit() and int(value) in CATEGORY_NAMES:
        return int(value)
    if value in CATEGORY_ID_BY_NAME:
        return CATEGORY_ID_BY_NAME[value]
    raise ValueError(
        f"unknown category {text!r}: expected an id 1..{len(CATEGORY_NAMES)} or a name "
        f"({', '.join(CATEGORY_NAMES.values())})"
    )


def category(category_id: int) -> Category:
    """Look up a category by its 1-based id; KeyError for an unknown id."""
    return CATEGORY_BY_ID[category_id]


def oks_sigmas() -> np.ndarray:
    """The 294 official OKS sigmas as a float64 array."""
    return np.asarray(OKS_SIGMAS, dtype=np.float64)


def global_flip_permutation() -> np.ndarray:
    """Permutation of the 294 global indices that swaps every category's left/right pairs."""
    perm = np.arange(NUM_LANDMARKS)
    for c in CATEGORIES:
        perm[c.start : c.end] = c.start + c.flip_permutation
    return perm


def to_global(category_id: int, local: np.ndarray) -> np.ndarray:
    """Place a category's local landmarks (n, 3) into a zero (294, 3) global array."""
    cat = category(category_id)
    local = np.asarray(local, dtype=np.float64).reshape(-1, 3)
    out = np.zeros((NUM_LANDMARKS, 3), dtype=np.float64)
    if len(local) == 0:
        return out
    if len(local) != cat.num_landmarks:
        raise ValueError(
            f"category {category_id} has {cat.num_landmarks} landmarks, got {len(local)}"
        )
    out[cat.landmark_slice] = local
    return out


def to_local(category_id: int, global_landmarks: np.ndarray) -> np.ndarray:
    """Take a category's slice (n, 3) out of a global (294, 3) array."""
    arr = np.asarray(global_landmarks).reshape(NUM_LANDMARKS, -1)
    return arr[category(category_id).landmark_slice]
