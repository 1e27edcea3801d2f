"""Time exact gallery ranking (fashionvision.retrieval.ranking) at DeepFashion2 validation size.

12,550 queries x 37,000 gallery items, embedding size 64 (tiny model) and 256 (paper), random
N(0, 1) embeddings and a random similarity network ``fc((q - g)^2)`` whose weights have both
signs.  Times are the best of `--repeat` runs (the machine may be shared).  Methods, top-20 each:

* ``similarity``: `top_k_by_similarity`, the network's exact top-20 over the whole gallery;
* ``distance``: `top_k_by_distance`, exact Euclidean top-20;
* ``old``: the previous engine approach (dense ``torch.cdist`` over all queries x gallery,
  Euclidean top-100, per-query Python re-rank by the network), at `--old-queries` queries, where
  the dense matrix still fits; ours is run at that size too, for the ratios.

Each (method, dim, queries) runs in a fresh subprocess; "time" is wall time, "CPU" the process's
CPU time (all threads; less disturbed than wall time when other jobs share the cores).  "RSS
growth" is the process's peak resident set size after the calls (``getrusage().ru_maxrss``) minus
its resident set size just before them (inputs and torch already loaded): the extra memory the
call needed, torch's allocations included.  Exactness: for the first `--check` queries the
result is compared with a float64 brute force through the real ``PairSimilarity`` module
(``torch.cdist`` for distance): "yes" when the indices are identical, "near-ties" when they differ
only among logits within 1e-3; for ``old`` this shows that it does not return the network's
ranking.

    python benchmarks/bench_retrieval_search.py [--queries 12550] [--gallery 37000] \
        [--dims 64 256] [--old-queries 2000] [--threads 2] [--check 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from fashionvision.models.matching_head import PairSimilarity, pair_probabilities
from fashionvision.retrieval.ranking import (
    similarity_parameters,
    top_k_by_distance,
    top_k_by_similarity,
)

K = 20


def make_case(
    num_queries: int, num_gallery: int, dim: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, PairSimilarity]:
    """Random queries [Q, dim], gallery [G, dim] and a PairSimilarity with mixed-sign weights.
    The queries of a smaller `num_queries` are the first rows of a larger one's."""
    gen = torch.Generator().manual_seed(seed)
    gallery = torch.randn(num_gallery, dim, generator=gen)
    weight = torch.randn(1, dim, generator=gen) / dim
    queries = torch.randn(num_queries, dim, generator=gen)
    sim = PairSimilarity(dim)
    with torch.no_grad():
        sim.fc.weight.copy_(weight)
        sim.fc.bias.fill_(0.1)
    return queries, gallery, sim


def old_rank(
    queries: torch.Tensor, gallery: torch.Tensor, sim: PairSimilarity, rerank_k: int = 100
) -> torch.Tensor:
    """The previous engine's `rank_gallery` (copied, so this benchmark does not change with it):
    dense cdist, Euclidean top-`rerank_k`, per-query re-rank by the network, top-20."""
    distances = torch.cdist(queries, gallery)
    candidates = distances.topk(min(rerank_k, len(gallery)), dim=1, largest=False).indices
    with torch.inference_mode():
        rows = [
            pair_probabilities(sim, q[None], gallery[c])[0]
            for q, c in zip(queries, candidates, strict=True)
        ]
    order = torch.stack(rows).argsort(dim=1, descending=True, stable=True)
    return candidates.gather(1, order)[:, :K]


def rss_kib() -> int:
    """Current resident set size (KiB) of this process."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() // 1024


def reference_logits(queries: torch.Tensor, gallery: torch.Tensor, sim: PairSimilarity):
    """float64 logits [q, G] through the real module, one query at a time."""
    sim64 = PairSimilarity(queries.shape[1]).double()
    sim64.load_state_dict(sim.state_dict())
    g = gallery.double()
    with torch.no_grad():
        return torch.stack([sim64(q.double().expand_as(g), g) for q in queries])


def exactness(indices: torch.Tensor, reference: torch.Tensor, descending: bool) -> str:
    """'yes' (same indices as the reference order), 'near-ties' or 'no'."""
    ref_idx = reference.sort(dim=1, descending=descending, stable=True).indices[:, :K]
    if torch.equal(indices, ref_idx):
        return "yes"
    gaps = (reference.gather(1, indices) - reference.gather(1, ref_idx)).abs()
    return "near-ties" if (gaps <= 1e-3).all() else "no"


def child(method: str, dim: int, num_queries: int, args: argparse.Namespace) -> dict:
    """One measured configuration (run in its own process)."""
    torch.set_num_threads(args.threads)
    queries, gallery, sim = make_case(num_queries, args.gallery, dim, args.seed)
    weight, bias = similarity_parameters(sim)
    run = {
        "similarity": lambda q: top_k_by_similarity(q, gallery, weight, bias, K)[1],
        "distance": lambda q: top_k_by_distance(q, gallery, K)[1],
        "old": lambda q: old_rank(q, gallery, sim),
    }[method]
    run(queries[:8])  # warm-up: thread pool, BLAS
    before = rss_kib()
    times, cpu_times = [], []
    for _ in range(args.repeat):
        start, cpu_start = time.perf_counter(), time.process_time()
        indices = run(queries)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    seconds = min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    check = queries[: args.check]
    if method == "distance":
        exact = exactness(
            indices[: len(check)], torch.cdist(check.double(), gallery.double()), False
        )
        note = ""
    else:
        reference = reference_logits(check, gallery, sim)
        exact = exactness(indices[: len(check)], reference, True)
        ref_top1 = reference.argmax(dim=1)
        top1 = (indices[: len(check)] == ref_top1[:, None]).any(dim=1).float().mean().item()
        note = f"network top-1 in the 20: {100 * top1:.0f}%"
    return {
        "seconds": seconds,
        "cpu_seconds": min(cpu_times),
        "growth_mib": (peak - before) / 1024,
        "peak_mib": peak / 1024,
        "exact": exact,
        "note": note,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=12_550)
    parser.add_argument("--gallery", type=int, default=37_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--old-queries", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--check", type=int, default=200, help="queries checked by brute force")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs; the best is shown")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=3, metavar=("METHOD", "DIM", "QUERIES"), help="internal")
    args = parser.parse_args()
    if args.child:
        method, dim, num_queries = args.child
        print(json.dumps(child(method, int(dim), int(num_queries), args)))
        return

    print(
        f"torch {torch.__version__}, {args.threads} threads, gallery {args.gallery:,}, top-{K}; "
        "peak RSS growth = peak RSS during the call - RSS before it (fresh process each)"
    )
    header = (
        f"{'d':>4} {'method':<11} {'queries':>7} {'time s':>8} {'CPU s':>7} {'ms/1k q':>8} "
        f"{'RSS growth MiB':>14} {'peak MiB':>9} {'exact':>9}  note"
    )
    print(header)
    print("-" * len(header))
    ratios = []
    for dim in args.dims:
        results = {}
        for method, num_queries in [
            ("similarity", args.queries),
            ("distance", args.queries),
            ("similarity", args.old_queries),
            ("distance", args.old_queries),
            ("old", args.old_queries),
        ]:
            command = [sys.executable, __file__, *sys.argv[1:]]
            command += ["--child", method, str(dim), str(num_queries)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            results[method, num_queries] = r
            print(
                f"{dim:>4} {method:<11} {num_queries:>7,} {r['seconds']:>8.2f} "
                f"{r['cpu_seconds']:>7.2f} "
                f"{1e6 * r['seconds'] / num_queries:>8.1f} "
                f"{r['growth_mib']:>14.0f} {r['peak_mib']:>9.0f} {r['exact']:>9}  {r['note']}",
                flush=True,
            )
        old = results["old", args.old_queries]
        for method in ("similarity", "distance"):
            ours = results[method, args.old_queries]
            ratios.append(
                f"d={dim:<4} {method:<11} vs old at {args.old_queries:,} queries: "
                f"{old['seconds'] / ours['seconds']:5.1f}x faster (CPU time "
                f"{old['cpu_seconds'] / ours['cpu_seconds']:.1f}x less), "
                f"RSS growth {ours['growth_mib']:.0f} vs {old['growth_mib']:.0f} MiB "
                f"({old['growth_mib'] / max(ours['growth_mib'], 1):.1f}x less)"
            )
    print()
    print("\n".join(ratios))
    print(
        "load average (1, 5, 15 min) at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
    )


if __name__ == "__main__":
    main()
