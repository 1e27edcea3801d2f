"""The model's eval output dict -> plain arrays and `Detection` records: the one decoder.

An output dict follows torchvision's detection convention: ``boxes`` [K, 4] xyxy pixels,
``labels`` [K] (1..13), ``scores`` [K], and optionally ``masks`` [K, 1, H, W] probabilities,
``landmarks`` [n, 294, 3] (x, y, score; global layout) and ``embeddings`` [n, D] for the first
n <= K detections (those the landmark and matching streams ran on; see `MatchRoIHeads`).
"""

from __future__ import annotations

import numpy as np
import shapely
import torch
from pycocotools import mask as mask_utils

from fashionvision.categories import to_local
from fashionvision.structures import Detection

# Mask R-CNN's binarisation of mask probabilities (torchvision's paste_masks_in_image output).
MASK_THRESHOLD = 0.5


def binary_masks(output: dict[str, torch.Tensor]) -> np.ndarray | None:
    """Mask probabilities [K, 1, H, W] -> bool [K, H, W]; None when the output has no masks."""
    if "masks" not in output:
        return None
    return (output["masks"][:, 0] >= MASK_THRESHOLD).detach().cpu().numpy()


def mask_outline(mask: np.ndarray, tolerance: float = 1.0) -> list[list[float]]:
    """The boundary of a bool mask ``[H, W]`` as polygons, flat ``[x1, y1, x2, y2, ...]`` lists in
    pixel-corner coordinates (a lone pixel (c, r) is the square (c, r)-(c + 1, r + 1)).

    Each foreground pixel side facing the background is one edge, directed so the foreground lies
    on its right; edges chain into closed rings (outer boundaries clockwise on screen, holes the
    other way), simplified by Douglas-Peucker with `tolerance` pixels.  Largest rings first;
    rings that simplify to fewer than 3 points are dropped.
    """
    fg = np.asarray(mask, dtype=bool)
    pad = np.pad(fg, 1)
    # (side facing the background, start corner offset, end corner offset) per pixel (c, r)
    sides = (
        (fg & ~pad[:-2, 1:-1], (0, 0), (1, 0)),  # top
        (fg & ~pad[1:-1, 2:], (1, 0), (1, 1)),  # right
        (fg & ~pad[2:, 1:-1], (1, 1), (0, 1)),  # bottom
        (fg & ~pad[1:-1, :-2], (0, 1), (0, 0)),  # left
    )
    following: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for present, (sx, sy), (ex, ey) in sides:
        rows, cols = np.nonzero(present)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            following.setdefault((c + sx, r + sy), []).append((c + ex, r + ey))
    rings: list[list[tuple[int, int]]] = []
    while following:
        start = next(iter(following))
        ring, point = [start], start
        while True:  # every corner has as many edges out as in: the walk returns to start
            ends = following[point]
            nxt = ends.pop()
            if not ends:
                del following[point]
            point = nxt
            if point == start:
                break
            ring.append(point)
        rings.append(ring)
    polygons = []
    for ring in rings:
        simple = shapely.LinearRing(ring).simplify(tolerance, preserve_topology=False)
        coords = np.asarray(simple.coords, dtype=np.float64)[:-1]
        if len(coords) >= 3:
            polygons.append((abs(shapely.Polygon(coords).area), coords.reshape(-1).tolist()))
    return [poly for _, poly in sorted(polygons, key=lambda p: -p[0])]


def local_landmarks(output: dict[str, torch.Tensor]) -> list[np.ndarray] | None:
    """Global [n, 294, 3] landmarks -> for each of the first n detections an (m, 3) array in its
    category's own numbering (m = the category's landmark count)."""
    if "landmarks" not in output:
        return None
    marks = output["landmarks"].detach().cpu().double().numpy()
    labels = output["labels"][: len(marks)].tolist()
    return [to_local(int(c), lm).copy() for c, lm in zip(labels, marks, strict=True)]


def output_to_detections(
    output: dict[str, torch.Tensor], image_id: int, masks: bool = True, landmarks: bool = True
) -> list[Detection]:
    """One image's output -> Detection records (RLE masks, category-local landmarks); detections
    beyond the streams' n have ``landmarks`` and ``embedding`` None."""
    binary = binary_masks(output) if masks else None
    rles = (
        mask_utils.encode(np.asfortranarray(binary.transpose(1, 2, 0).astype(np.uint8)))
        if binary is not None and len(binary)
        else None
    )
    marks = local_landmarks(output) if landmarks else None
    embeddings = output.get("embeddings")
    emb = embeddings.detach().cpu().numpy() if embeddings is not None else None
    boxes = output["boxes"].detach().cpu().double().numpy()
    scores = output["scores"].detach().cpu().tolist()
    labels = output["labels"].detach().cpu().tolist()
    return [
        Detection(
            image_id=int(image_id),
            category_id=int(labels[k]),
            score=float(scores[k]),
            bbox=(float(boxes[k, 0]), float(boxes[k, 1]), float(boxes[k, 2]), float(boxes[k, 3])),
            landmarks=marks[k] if marks is not None and k < len(marks) else None,
            mask=rles[k] if rles is not None else None,
            embedding=emb[k] if emb is not None and k < len(emb) else None,
        )
        for k in range(len(scores))
    ]
