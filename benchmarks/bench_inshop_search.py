"""Benchmark: In-shop retrieval scoring at the benchmark's test size (14,218 queries x 12,612
gallery images), `retrieval_topk_accuracy` against a brute-force reference side by side.

    python benchmarks/bench_inshop_search.py [--queries 14218 --gallery 12612 --dim 256]

Embeddings are synthetic unit vectors clustered by item (7,982 In-shop items; each item's images
are noisy copies of its centre), so that top-k accuracy lies strictly between 0 and 1.  The
brute force ranks each query's whole gallery with a stable argsort of float64 distances, one
query at a time; it is timed on `--brute-queries` queries and scaled to all of them.  The two
must give the same first-correct ranks on those queries (checked), and the top-k table of ours.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from fashionvision.evaluation.deepfashion_metrics import first_correct_rank, retrieval_topk_accuracy


def brute_force_rank(q: np.ndarray, q_item: int, g: np.ndarray, g_items: np.ndarray) -> int:
    d = ((g.astype(np.float64) - q.astype(np.float64)) ** 2).sum(axis=1)
    order = np.argsort(d, kind="stable")  # ties to the lower gallery index
    hits = np.flatnonzero(g_items[order] == q_item)
    return int(hits[0]) if len(hits) else -1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=14_218)
    parser.add_argument("--gallery", type=int, default=12_612)
    parser.add_argument("--items", type=int, default=3_985, help="items of the test split")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--noise", type=float, default=3.0, help="noise std / centre std")
    parser.add_argument("--brute-queries", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    centres = rng.standard_normal((args.items, args.dim)).astype(np.float32)

    def embed(n: int, cover: bool) -> tuple[np.ndarray, np.ndarray]:
        # the gallery holds every item at least once (as In-shop's does), then random ones
        first = np.arange(min(n, args.items)) if cover else np.zeros(0, np.int64)
        items = np.concatenate([first, rng.integers(0, args.items, n - len(first))])
        x = centres[items] + args.noise * rng.standard_normal((n, args.dim)).astype(np.float32)
        return x / np.linalg.norm(x, axis=1, keepdims=True), items

    q, q_items = embed(args.queries, cover=False)
    g, g_items = embed(args.gallery, cover=True)

    tic = time.perf_counter()
    ours = retrieval_topk_accuracy(q, q_items, g, g_items, ks=(1, 5, 10, 20, 50))
    ours_s = time.perf_counter() - tic

    n = min(args.brute_queries, args.queries)
    tic = time.perf_counter()
    brute = np.array([brute_force_rank(q[i], q_items[i], g, g_items) for i in range(n)])
    brute_s = (time.perf_counter() - tic) * args.queries / n
    ranks = first_correct_rank(q[:n], q_items[:n], g, g_items)
    agree = bool(np.array_equal(ranks, brute))

    print(f"{args.queries} queries x {args.gallery} gallery, d={args.dim}")
    print(f"{'method':<34}{'seconds':>10}{'ratio':>8}")
    print(f"{'retrieval_topk_accuracy (ours)':<34}{ours_s:>10.2f}{1.0:>8.2f}")
    print(f"{'brute force (per query, argsort)':<34}{brute_s:>10.2f}{brute_s / ours_s:>8.2f}")
    print(f"first-correct ranks identical on {n} queries: {agree}")
    print("top-k:", {k: round(v, 4) for k, v in ours.items() if k.startswith("top")})
    print(json.dumps({"ours_s": round(ours_s, 3), "brute_s_scaled": round(brute_s, 2),
                      "agree": agree}))  # fmt: skip
    if not agree:
        raise SystemExit("ranks differ from the brute force")


if __name__ == "__main__":
    main()
