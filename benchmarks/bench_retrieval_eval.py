"""Time `evaluate_retrieval` at DeepFashion2 validation size.

12,550 style>0 query items (plus style-0 items) in 10,000 user images, 24,000 gallery items in
14,000 shop images, about 1.3 detections per item with 20 ranked results each. Prints the
generation time, the evaluation time (median of --repeat runs) and the metrics.

    python benchmarks/bench_retrieval_eval.py [--queries 12550] [--gallery 24000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from fashionvision.evaluation.retrieval import evaluate_retrieval


def _boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """n random xyxy boxes [n, 4] inside a 600x800 image."""
    xy = rng.uniform(0, 400, (n, 2))
    wh = rng.uniform(40, 300, (n, 2))
    return np.round(np.concatenate([xy, xy + wh], axis=1), 2)


def make_case(
    num_queries: int, num_gallery: int, seed: int = 0
) -> tuple[list[dict], list[dict], list[dict]]:
    """Synthetic (query_gt, gallery_gt, results) rows in the official formats."""
    rng = np.random.default_rng(seed)
    num_user_images = int(num_queries * 0.8)
    num_shop_images = int(num_gallery * 0.58)
    num_pairs = num_user_images // 3
    # Gallery: shop items with style 1..3; each shop image belongs to one pair.
    shop_pair = rng.integers(0, num_pairs, num_shop_images)
    g_img = np.sort(rng.integers(0, num_shop_images, num_gallery))
    g_pair, g_style, g_box = (
        shop_pair[g_img],
        rng.integers(1, 4, num_gallery),
        _boxes(rng, num_gallery),
    )
    gallery = [
        {"gallery_image_id": int(i) + 1_000_000, "pair_id": int(p), "style": int(s), "bbox": b}
        for i, p, s, b in zip(g_img, g_pair, g_style, g_box.tolist(), strict=True)
    ]
    # Queries: items of user images; each query item copies the pair/style of a gallery item.
    q_src = rng.integers(0, num_gallery, num_queries)
    num_style0 = num_queries // 4
    q_img = np.concatenate(
        [np.arange(num_queries) % num_user_images, rng.integers(0, num_user_images, num_style0)]
    )
    q_pair = np.concatenate([g_pair[q_src], rng.integers(0, num_pairs, num_style0)])
    q_style = np.concatenate([g_style[q_src], np.zeros(num_style0, np.int64)])
    q_cls = rng.integers(1, 14, len(q_img))
    q_box = _boxes(rng, len(q_img))
    query_gt = [
        {"query_image_id": int(i), "pair_id": int(p), "style": int(s), "cls": int(c), "bbox": b}
        for i, p, s, c, b in zip(q_img, q_pair, q_style, q_cls, q_box.tolist(), strict=True)
    ]
    # Detections: one near every item (correct class 85% of the time) plus 30% extra ones.
    det_of = np.concatenate(
        [np.arange(len(q_img)), rng.integers(0, len(q_img), int(0.3 * len(q_img)))]
    )
    d_box = q_box[det_of] + rng.normal(0, 4, (len(det_of), 4))
    d_box[:, 2:] = np.maximum(d_box[:, 2:], d_box[:, :2] + 1)
    d_cls = np.where(
        rng.random(len(det_of)) < 0.85, q_cls[det_of], rng.integers(1, 14, len(det_of))
    )
    ranked = rng.integers(0, num_gallery, (len(det_of), 20))
    # 40% of detections of style>0 items retrieve their true gallery item at a random rank.
    lucky = np.flatnonzero((det_of < num_queries) & (rng.random(len(det_of)) < 0.4))
    ranked[lucky, rng.integers(0, 20, len(lucky))] = q_src[det_of[lucky]]
    r_ids = g_img[ranked] + 1_000_000
    r_box = g_box[ranked] + rng.normal(0, 3, (*ranked.shape, 4))
    r_box[..., 2:] = np.maximum(r_box[..., 2:], r_box[..., :2] + 1)
    results = [
        {
            "query_image_id": int(q_img[d]),
            "query_bbox": b,
            "query_cls": int(c),
            "query_score": float(s),
            "gallery_image_id": ids,
            "gallery_bbox": boxes,
        }
        for d, b, c, s, ids, boxes in zip(
            det_of,
            d_box.tolist(),
            d_cls,
            rng.random(len(det_of)),
            r_ids.tolist(),
            r_box.tolist(),
            strict=True,
        )
    ]
    return query_gt, gallery, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=12_550)
    parser.add_argument("--gallery", type=int, default=24_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    query_gt, gallery_gt, results = make_case(args.queries, args.gallery, args.seed)
    print(
        f"generated {len(query_gt)} query GT rows, {len(gallery_gt)} gallery GT rows, "
        f"{len(results)} result rows x 20 in {time.perf_counter() - t0:.2f} s"
    )
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        metrics = evaluate_retrieval(query_gt, gallery_gt, results)
        times.append(time.perf_counter() - t0)
    print(f"evaluate_retrieval: median {statistics.median(times):.3f} s over {args.repeat} runs")
    print(
        ", ".join(
            f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items()
        )
    )


if __name__ == "__main__":
    main()
