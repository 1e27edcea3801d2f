"""DeepFashion (v1) metrics, the papers' definitions (not mmfashion's).

**Landmarks** (Liu et al., "Fashion Landmark Detection in the Wild", ECCV 2016): the normalized
error (NE) of a landmark is the Euclidean distance between the predicted and the GT point in
coordinates divided by the image's width and height (x / w, y / h), so that 0.1 is a tenth of
the image whatever its size.  Only landmarks whose GT is *visible* (visibility 0) are scored:
an occluded (1) or cut-off (2) point has no reliable position to compare with, and an absent
slot (-1, a landmark the clothes type does not have) has none at all.  NE is the mean over every
visible landmark of the split (pooled, not a mean of per-image means), also reported per slot.
The percentage of detected landmarks (PDL) at a threshold t is the share of those landmarks
whose normalized distance is <= t; over a range of t it is the paper's detection-rate curve.

**Retrieval** (In-shop and Consumer-to-shop, Liu et al., "DeepFashion", CVPR 2016): a query is
right at k when an image of its item is among its k nearest gallery images.  Images are compared
by the Euclidean distance of the embeddings exactly as given (normalize them first if the model
is meant to be compared by cosine); equal distances are ranked by the lower gallery index, so
results are deterministic.  A query whose item has no image in the gallery cannot be right: by
default (``unmatched="wrong"``) it counts as wrong, as the In-shop paper counts every query;
``unmatched="exclude"`` leaves it out of the denominator.  Either way its number is returned.

Category top-k accuracy and attribute top-k recall are `fashionvision.evaluation.classification`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from fashionvision.errors import FashionVisionError
from fashionvision.io_utils import atomic_path

__all__ = [
    "DEFAULT_PDL_THRESHOLDS",
    "DEFAULT_RETRIEVAL_KS",
    "first_correct_rank",
    "landmark_normalized_errors",
    "landmark_normalized_error",
    "percentage_detected",
    "plot_detection_curve",
    "retrieval_topk_accuracy",
]

DEFAULT_RETRIEVAL_KS: tuple[int, ...] = (1, 5, 10, 20, 30, 40, 50)
# Normalized distances 0.01 .. 0.20: the FLD paper's curves span this range, and NE of good models
# lies well inside it (FashionNet 0.0872).
DEFAULT_PDL_THRESHOLDS: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(1, 21))
VISIBLE = 0  # as `fashionvision.data.deepfashion.VISIBLE`
# Elements of the [queries, gallery] distance block computed at once: 2**22 float64 = 32 MiB, a
# few such temporaries per block whatever the gallery size.
_BLOCK_ELEMENTS = 1 << 22


# ----------------------------------------------------------------------------- landmarks


def landmark_normalized_errors(
    pred_xy: np.ndarray, gt_xy: np.ndarray, visibility: np.ndarray, image_size: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Normalized distance [N, L] of every landmark, and the mask [N, L] of those to score.

    pred_xy, gt_xy: [N, L, 2] pixels; visibility: [N, L] int (0 visible, 1 occluded, 2 cut off,
    -1 absent); image_size: [N, 2] (width, height) in the pixels of the coordinates.  Distances
    where the mask is False are 0 (their coordinates are not read, so they may be anything).
    """
    pred = np.asarray(pred_xy, dtype=np.float64)
    gt = np.asarray(gt_xy, dtype=np.float64)
    vis = np.asarray(visibility)
    size = np.asarray(image_size, dtype=np.float64)
    if gt.ndim != 3 or gt.shape[2] != 2:
        raise FashionVisionError(f"gt_xy: expected shape [N, L, 2], got {gt.shape}")
    n, num_slots = gt.shape[:2]
    if pred.shape != gt.shape:
        raise FashionVisionError(f"pred_xy: shape {pred.shape} differs from gt_xy {gt.shape}")
    if vis.shape != (n, num_slots) or not np.issubdtype(vis.dtype, np.integer):
        raise FashionVisionError(
            f"visibility: expected {n} x {num_slots} integers, got shape {vis.shape}"
        )
    if size.shape != (n, 2):
        raise FashionVisionError(f"image_size: expected shape [{n}, 2] (w, h), got {size.shape}")
    if not (np.isfinite(size).all() and (size > 0).all()):
        raise FashionVisionError("image_size: widths and heights must be finite and > 0")
    scored = vis == VISIBLE
    # Only the scored points must be numbers: absent slots hold placeholders.
    if not (np.isfinite(pred[scored]).all() and np.isfinite(gt[scored]).all()):
        raise FashionVisionError(
            "pred_xy / gt_xy: NaN or infinite coordinates at visible landmarks"
        )
    delta = np.where(scored[..., None], (pred - gt) / size[:, None, :], 0.0)
    return np.hypot(delta[..., 0], delta[..., 1]), scored


def landmark_normalized_error(
    pred_xy: np.ndarray, gt_xy: np.ndarray, visibility: np.ndarray, image_size: np.ndarray
) -> dict[str, Any]:
    """NE (module docstring) over the visible GT landmarks, overall and per slot.

    Inputs as `landmark_normalized_errors`.  Returns::

        {"NE": float, "num_landmarks": int,
         "per_slot": ndarray [L] float (NaN where a slot has no visible GT),
         "per_slot_count": ndarray [L] int}

    ``NE`` is NaN when no landmark is visible.
    """
    dist, scored = landmark_normalized_errors(pred_xy, gt_xy, visibility, image_size)
    count = scored.sum(axis=0)
    total = int(count.sum())
    per_slot = np.full(dist.shape[1], np.nan)
    np.divide(dist.sum(axis=0), count, out=per_slot, where=count > 0)
    return {
        "NE": float(dist.sum() / total) if total else float("nan"),
        "num_landmarks": total,
        "per_slot": per_slot,
        "per_slot_count": count.astype(np.int64),
    }


def percentage_detected(
    pred_xy: np.ndarray,
    gt_xy: np.ndarray,
    visibility: np.ndarray,
    image_size: np.ndarray,
    thresholds: Sequence[float] = DEFAULT_PDL_THRESHOLDS,
) -> np.ndarray:
    """PDL [T]: the share of visible GT landmarks whose normalized distance is <= each threshold.

    Inputs as `landmark_normalized_errors`; NaN everywhere when no landmark is visible.
    """
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 1 or not np.isfinite(t).all() or (t < 0).any():
        raise FashionVisionError(f"thresholds: expected finite values >= 0, got {list(thresholds)}")
    dist, scored = landmark_normalized_errors(pred_xy, gt_xy, visibility, image_size)
    values = np.sort(dist[scored])
    if not values.size:
        return np.full(t.shape, np.nan)
    # side="right": a distance equal to the threshold counts as detected (<= t).
    return np.searchsorted(values, t, side="right") / values.size


def plot_detection_curve(
    thresholds: Sequence[float],
    curves: Mapping[str, Sequence[float]],
    out_png: str | Path,
    title: str = "Fashion landmark detection",
    backend: Literal["auto", "matplotlib", "pil"] = "auto",
) -> Path:
    """Draw PDL curves (label -> one value in [0, 1] per threshold) and write them to `out_png`.

    The file is written atomically (`fashionvision.io_utils.atomic_path`).  matplotlib draws it
    when installed (its Agg canvas, without pyplot, so no global backend is switched); it is not
    a dependency of the package, so ``"auto"`` falls back to a plain PIL chart without it.  NaN
    values leave a gap.  Returns the path written.
    """
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim != 1 or not t.size or not np.isfinite(t).all():
        raise FashionVisionError("thresholds: expected a non-empty list of finite numbers")
    if not curves:
        raise FashionVisionError("curves: nothing to draw")
    series = {}
    for label, values in curves.items():
        v = np.asarray(values, dtype=np.float64)
        if v.shape != t.shape:
            raise FashionVisionError(f"curves[{label!r}]: {v.size} values for {t.size} thresholds")
        series[str(label)] = v
    if backend not in ("auto", "matplotlib", "pil"):
        raise FashionVisionError(f"backend: expected auto, matplotlib or pil, got {backend!r}")
    use_matplotlib = backend == "matplotlib"
    if backend == "auto":
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            pass
        else:
            use_matplotlib = True
    out = Path(out_png)
    with atomic_path(out) as tmp:
        if use_matplotlib:
            _plot_matplotlib(t, series, tmp, title)
        else:
            _plot_pil(t, series, tmp, title)
    return out


def _plot_matplotlib(t: np.ndarray, series: dict[str, np.ndarray], path: Path, title: str) -> None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise FashionVisionError(
            "plot_detection_curve: matplotlib is not installed (use backend='pil')"
        ) from None
    fig = Figure(figsize=(6, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, v in series.items():
        ax.plot(t, 100 * v, marker=".", label=label)
    ax.set_xlabel("normalized distance")
    ax.set_ylabel("detected landmarks (%)")
    ax.set_xlim(0, float(t.max()) or 1.0)
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, format="png")  # the temporary name has no .png suffix to go by


# matplotlib's default colour cycle, so that both backends colour the curves alike.
_COLORS = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)  # fmt: skip


def _plot_pil(t: np.ndarray, series: dict[str, np.ndarray], path: Path, title: str) -> None:
    from PIL import Image, ImageDraw

    from fashionvision.viz.draw import _font

    width, height, left, right, top, bottom = 600, 450, 60, 20, 48, 50
    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = _font(12)
    x_max = float(t.max()) or 1.0
    pw, ph = width - left - right, height - top - bottom

    def px(x: float, y: float) -> tuple[float, float]:
        return left + pw * x / x_max, top + ph * (1.0 - y)

    for i in range(6):  # grid and ticks every 20 % and every fifth of the x range
        y = top + ph * i / 5
        draw.line((left, y, left + pw, y), fill=(225, 225, 225))
        draw.text((left - 34, y - 7), f"{100 - 20 * i:3d}", fill=(0, 0, 0), font=font)
        x = left + pw * i / 5
        draw.line((x, top, x, top + ph), fill=(225, 225, 225))
        draw.text((x - 12, top + ph + 6), f"{x_max * i / 5:.2f}", fill=(0, 0, 0), font=font)
    draw.rectangle((left, top, left + pw, top + ph), outline=(0, 0, 0))
    draw.text((left, 10), title, fill=(0, 0, 0), font=_font(15))
    draw.text((left + pw // 2 - 50, height - 22), "normalized distance", fill=(0, 0, 0), font=font)
    draw.text((6, top - 18), "detected (%)", fill=(0, 0, 0), font=font)
    for k, (label, v) in enumerate(series.items()):
        color = _COLORS[k % len(_COLORS)]
        points = [px(x, y) if np.isfinite(y) else None for x, y in zip(t, v, strict=True)]
        for a, b in zip(points, points[1:], strict=False):
            if a is not None and b is not None:
                draw.line((*a, *b), fill=color, width=2)
        for p in points:
            if p is not None:
                draw.ellipse((p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2), fill=color)
        ly = top + ph - 18 * (len(series) - k)  # legend, lower right as matplotlib's
        draw.line((left + pw - 150, ly + 7, left + pw - 130, ly + 7), fill=color, width=2)
        draw.text((left + pw - 124, ly), label, fill=(0, 0, 0), font=font)
    img.save(path, format="PNG")


# ----------------------------------------------------------------------------- retrieval


def _embeddings(x: np.ndarray, name: str) -> np.ndarray:
    emb = np.asarray(x, dtype=np.float64)
    if emb.ndim != 2:
        raise FashionVisionError(f"{name}: expected a 2-D array [N, D], got shape {emb.shape}")
    if not np.isfinite(emb).all():
        raise FashionVisionError(f"{name}: contains NaN or infinite values")
    return emb


def _codes(
    values: Sequence[Hashable], vocabulary: dict[Hashable, int], n: int, name: str
) -> np.ndarray:
    """Integer code of each value in `vocabulary` (-1 when absent), checking there are `n`."""
    if len(values) != n:
        raise FashionVisionError(f"{name}: {len(values)} values for {n} embeddings")
    return np.fromiter((vocabulary.get(v, -1) for v in values), dtype=np.int64, count=n)


def first_correct_rank(
    query_emb: np.ndarray,
    query_items: Sequence[Hashable],
    gallery_emb: np.ndarray,
    gallery_items: Sequence[Hashable],
    *,
    exclude_same_image: tuple[Sequence[Hashable], Sequence[Hashable]] | None = None,
    block_size: int | None = None,
) -> np.ndarray:
    """0-based rank [Q] (int64) of each query's best-ranked gallery image of its item, -1 if none.

    The gallery is ranked by Euclidean distance, ties to the lower gallery index (module
    docstring); a query is right at k exactly when ``0 <= rank < k``.  `exclude_same_image`:
    (query image names, gallery image names); a gallery image with the query's own name is then
    left out of that query's ranking (for a gallery that contains the queries).

    Computed in blocks of `block_size` queries (default: a [block, gallery] matrix of about 4M
    float64), so memory stays bounded at any size.  The rank needs no sort: it is the number of
    gallery images closer than the best correct one plus those as close with a lower index.
    Distances come from ``|g|^2 - 2 q.g`` in float64 (``|q|^2`` is the same for a whole row);
    identical gallery embeddings are computed once, so they tie exactly, as do distances that
    float64 represents exactly (e.g. small integer embeddings); other near-equal distances are
    ordered as rounding leaves them.
    """
    q = _embeddings(query_emb, "query_emb")
    g = _embeddings(gallery_emb, "gallery_emb")
    if q.shape[1] != g.shape[1] and len(q) and len(g):
        raise FashionVisionError(
            f"query_emb has dimension {q.shape[1]} but gallery_emb {g.shape[1]}"
        )
    num_q, num_g = len(q), len(g)
    vocabulary = {item: i for i, item in enumerate(dict.fromkeys(gallery_items))}
    g_item = _codes(gallery_items, vocabulary, num_g, "gallery_items")
    q_item = _codes(query_items, vocabulary, num_q, "query_items")
    ranks = np.full(num_q, -1, dtype=np.int64)
    if not num_q or not num_g:
        return ranks
    if exclude_same_image is not None:
        query_names, gallery_names = exclude_same_image
        names = {name: i for i, name in enumerate(dict.fromkeys(gallery_names))}
        g_name = _codes(gallery_names, names, num_g, "exclude_same_image (gallery names)")
        q_name = _codes(query_names, names, num_q, "exclude_same_image (query names)")
    # Duplicated gallery rows get one distance, computed once, so that they tie exactly.
    unique, inverse = np.unique(g, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    unique_sq = np.einsum("ij,ij->i", unique, unique)
    if block_size is None:
        block_size = max(1, _BLOCK_ELEMENTS // num_g)
    if block_size < 1:
        raise FashionVisionError(f"block_size: expected a positive integer, got {block_size}")
    index = np.arange(num_g)
    for start in range(0, num_q, block_size):
        stop = min(start + block_size, num_q)
        dist = (unique_sq[None, :] - 2.0 * (q[start:stop] @ unique.T))[:, inverse]  # [B, G]
        correct = q_item[start:stop, None] == g_item[None, :]
        if exclude_same_image is not None:
            same = q_name[start:stop, None] == g_name[None, :]
            correct &= ~same
            dist[same] = np.inf  # never closer than a (finite) correct image
        best = np.where(correct, dist, np.inf).min(axis=1, keepdims=True)  # [B, 1]
        at_best = dist == best
        first = np.argmax(correct & at_best, axis=1)  # the lowest index among the best correct
        before = (dist < best).sum(axis=1) + (at_best & (index < first[:, None])).sum(axis=1)
        ranks[start:stop] = np.where(correct.any(axis=1), before, -1)
    return ranks


def retrieval_topk_accuracy(
    query_emb: np.ndarray,
    query_items: Sequence[Hashable],
    gallery_emb: np.ndarray,
    gallery_items: Sequence[Hashable],
    ks: Sequence[int] = DEFAULT_RETRIEVAL_KS,
    *,
    unmatched: Literal["wrong", "exclude"] = "wrong",
    exclude_same_image: tuple[Sequence[Hashable], Sequence[Hashable]] | None = None,
    block_size: int | None = None,
) -> dict[str, Any]:
    """Retrieval top-k accuracy (module docstring), for each k.

    query_emb [Q, D] and gallery_emb [G, D] float; query_items [Q] and gallery_items [G]: item
    ids (any hashable).  `exclude_same_image` and `block_size` as `first_correct_rank`.  Returns
    (the shape of `fashionvision.evaluation.retrieval.evaluate_retrieval`'s result)::

        {"top1": float, ..., "num_queries": int, "num_unmatched": int, "gallery_size": int}

    ``num_queries`` is the denominator; ``num_unmatched`` counts the queries whose item has no
    gallery image (counted as wrong, or with ``unmatched="exclude"`` left out of
    ``num_queries``).  A k larger than the gallery is allowed (every matched query is right).
    With no query to count the accuracies are NaN.
    """
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise FashionVisionError(f"ks: expected positive integers, got {list(ks)}")
    if unmatched not in ("wrong", "exclude"):
        raise FashionVisionError(f"unmatched: expected 'wrong' or 'exclude', got {unmatched!r}")
    ranks = first_correct_rank(
        query_emb,
        query_items,
        gallery_emb,
        gallery_items,
        exclude_same_image=exclude_same_image,
        block_size=block_size,
    )
    matched = ranks >= 0
    num_unmatched = int(len(ranks) - matched.sum())
    denominator = len(ranks) if unmatched == "wrong" else int(matched.sum())
    out: dict[str, Any] = {
        f"top{k}": float(np.count_nonzero(matched & (ranks < k)) / denominator)
        if denominator
        else float("nan")
        for k in ks
    }
    out["num_queries"] = int(denominator)
    out["num_unmatched"] = num_unmatched
    out["gallery_size"] = int(np.asarray(gallery_emb).shape[0])
    return out
