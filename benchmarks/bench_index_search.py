"""Gallery search at catalogue scale (issue #10): exact, approximate and Qdrant, beside the targets.

For each gallery size N (``--sizes``) and embedding size d, with ``--queries`` query garments
searched in one batch, top-20 each:

* **exact**: our path, `top_k_logits` over a flat `FaissStore` (what
  `GalleryIndex.search_embeddings` calls: query augmentation by the `SimilaritySpace`, the store's
  ``IndexIDMap2(IndexFlatIP)`` search, the per-query constant added back), beside a bare
  ``faiss.IndexFlatIP`` holding the same augmented vectors and searched with the same augmented
  query vectors, and two NumPy brute forces on the same vectors (`NUMPY_BASELINES`; both a BLAS
  matrix product per block of at most 256 MiB of scores): the tuned one selects with
  ``argpartition`` and sorts only the k it keeps; the plain one is the code a user writes,
  ``np.argsort(-scores, axis=1)[:, :k]``, a full sort of every row (what the issue's reference,
  "NumPy brute force 588 queries/s at 75k x 256", reads as).  In the same run: queries/s, the
  ratios ours / bare FAISS, ours / NumPy (argpartition) and ours / NumPy (argsort), and whether
  they all agree on the top-20.  Times are the best of ``--repeats`` (the machine may be shared).
* **one photo's garments in one call**: 4 query embeddings searched together through the same
  path, ``--garment-repeats`` times: p50 / p95 latency (bare FAISS beside it).
* **approximate kinds** (``--kinds``): `FaissStore` ``ivfpq`` (nlist near 4 sqrt(N), m = d/8 and
  d/4 codes of 8 bits), ``ivfflat`` (the same inverted file, vectors uncompressed; nlist near
  4 sqrt(N) or ``--ivfflat-nlist``) and ``hnsw`` (M 16 and 32, efConstruction 128) on the same
  vectors; each built once, then searched with several search settings (nprobe x rerank,
  nprobe, efSearch; the store reads them at search time, so the benchmark sets them on
  ``store.options``): recall@20 against the exact store's ranking, queries/s, build time, memory
  (``faiss.serialize_index`` length of the approximate index, and of the whole store = exact
  index + approximate index, since the store keeps both; and the RSS growth of the build), then
  the cheapest (fastest) setting reaching recall@20 >= 0.95.
* **Qdrant, embedded mode**: `QdrantStore` (in-process ``:memory:``, exact) on the first
  ``--qdrant-items`` gallery items: insert time, queries/s on ``--qdrant-queries`` queries and
  recall@20 against the FAISS exact top-20 on the same items.

Ranking (``--ranking``): ``similarity`` (default, `GalleryIndex.build`'s default) ranks by the
model's similarity network, whose weights have both signs; ``distance`` by squared L2 distance
on the raw embeddings (the retrieval evaluator's default), through the very path
``GalleryIndex(ranking="distance")`` takes: ``SimilaritySpace.of("distance")`` (w = -1, b = 0)
augments the vectors, and the store searches them as for any ranking.  The approximate kinds
find neighbours far better under ``distance`` (at 20k model embeddings: recall@20 0.99 vs 0.65
for ``ivfflat`` nprobe 32 of 512 lists; 0.99 vs 0.85 for HNSW M 16, efSearch 80).

Embeddings.  ``--weights CKPT --split DIR``: real garment crops embedded by the model's matching
stream, in the same forward pass as its detections (``forward_images(..., boxes)`` =
``MatchRCNN.forward_with_boxes``): for each image of the split its annotated boxes plus
``--jitter-per-box`` copies of each (scale and shift jitter of +-``--jitter`` of the box size)
plus ``--random-boxes-per-image`` boxes anywhere in the image (each side log-uniform from 8 % of
the image's to all of it; category 0), epoch after epoch (fresh boxes) until enough vectors
exist; d is the model's embedding size (``--dims`` is ignored).  The backbone pass per image is
the cost (measured 7-12 images/s on one shared core, with 9 or 70 boxes each alike), so many random
boxes per image over many images give many *distinct* crops cheaply, where many jittered copies
of few garments give clusters of near-ties that approximate search orders badly.  They are cached
in ``--cache`` (an .npy per checkpoint + split + box settings; a longer cached pool serves a
shorter run), so a second run embeds nothing.  Queries are ``--queries`` vectors of the pool
held out of every gallery (a fixed random split).  Without ``--weights``: a clustered Gaussian
mixture (clusters of ~16 items, spread 0.2-0.6 around N(0, 1) centres), ranked by a random
similarity network with weights of both signs like the trained tiny checkpoint's (or by
distance); the output says "synthetic clusters, not model embeddings".

Targets (issue #10), printed beside each figure: exact >= 0.9x bare IndexFlatIP and >= 4x NumPy
at 75k (printed against each NumPy baseline, each row saying which); 4 garments <= 25 ms p50 at
75k; 1M items: recall@20 >= 0.95 at >= 2,000 queries/s, build <= 2 min, <= 1.5 GB.  A figure
measured at another N is shown with the target marked "(target at ...)".  Threads: all cores
in this process's affinity mask (``--threads``) for torch, FAISS and NumPy's BLAS (the script
re-executes itself once to set the BLAS variables); the plain NumPy's sort is single-threaded.

Run at full size.  Exact search at 75k, both NumPy baselines (the model pool of 76,000 crops
is cached from an earlier run; a minute or two each):

    python benchmarks/bench_index_search.py --weights /tmp/bench9b/run/model_final.pt \
        --split /tmp/bench9b/data/train --jitter-per-box 32 --sizes 75000 --cache /tmp/b10/emb \
        --no-ann --qdrant-items 0 --json index_search_75k.json
    python benchmarks/bench_index_search.py --sizes 75000 --dims 256 --no-ann --qdrant-items 0 \
        --json index_search_75k_d256.json

1M distinct model embeddings under distance ranking: a 12,000-image split (~1.3 garments per
image), each image once with its boxes, 4 jittered copies of each (+-50 %) and 78 random boxes
(~84 crops an image, 1,001,000 in about one epoch; ~15-25 min of embedding, then cached; the
plain NumPy baseline then sorts 1M scores per query, ~1.5 min of the run; a few GB of memory):

    fashionvision synth /tmp/fv_synth12k --train 12000 --val 0 --seed 11
    python benchmarks/bench_index_search.py --weights /tmp/bench9b/run/model_final.pt \
        --split /tmp/fv_synth12k/train --jitter-per-box 4 --jitter 0.5 \
        --random-boxes-per-image 78 --ranking distance --sizes 1000000 --cache /tmp/b10/emb \
        --kinds ivfflat hnsw --ivfflat-nlist 4096 --nprobe 16 32 64 128 --hnsw-m 32 \
        --ef-search 80 160 320 --qdrant-items 0 --json index_search_1m_distance.json

The same embeddings under the similarity ranking (its weights have both signs: an inverted file
must probe ~6-8 % of its lists, a graph stays below recall 0.95):

    python benchmarks/bench_index_search.py --weights /tmp/bench9b/run/model_final.pt \
        --split /tmp/fv_synth12k/train --jitter-per-box 4 --jitter 0.5 \
        --random-boxes-per-image 78 --ranking similarity --sizes 1000000 --cache /tmp/b10/emb \
        --kinds ivfflat hnsw --ivfflat-nlist 4096 --nprobe 256 320 --hnsw-m 32 \
        --ef-search 640 --qdrant-items 0 --json index_search_1m_similarity.json

Tiny check (half a minute): ``python benchmarks/bench_index_search.py --sizes 5000 --dims 64
--queries 200 --qdrant-items 2000 --garment-repeats 50``.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import json
import math
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import torch

from fashionvision.data.deepfashion2 import load_split
from fashionvision.engine.build import resolve_device
from fashionvision.engine.inference import (
    batched,
    forward_images,
    load_image,
    model_from_checkpoint,
)
from fashionvision.retrieval.index import REBUILD_CHUNK
from fashionvision.retrieval.ranking import SimilaritySpace
from fashionvision.retrieval.vector_store import FaissStore, top_k_logits
from fashionvision.structures import ImageAnnotation

K = 20
RECALL_TARGET = 0.95
BLAS_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
NUMPY_BLOCK_BYTES = 256 * 1024 * 1024  # scores per NumPy block
SYNTHETIC_CLUSTER_SIZE = 16
RANDOM_BOX_MIN = 0.08  # smallest random box side, a fraction of the image side
SYNTHETIC_LABEL = "synthetic clusters, not model embeddings"
MIB = 1024 * 1024
# The targets.
EXACT_N = 75_000
ANN_N = 1_000_000
TARGET_VS_BARE = 0.9
TARGET_VS_NUMPY = 4.0
TARGET_FOUR_P50_MS = 25.0
TARGET_ANN_QPS = 2_000.0
TARGET_BUILD_S = 120.0
TARGET_BYTES = 1.5e9


# --- set-up -----------------------------------------------------------------------------------


def available_cores() -> int:
    return len(os.sched_getaffinity(0))


def pin_threads(threads: int) -> None:
    """Use `threads` threads in torch, FAISS and NumPy's BLAS.  BLAS reads its variables when
    NumPy is imported, so the first call re-executes the script with them set."""
    if any(os.environ.get(v) != str(threads) for v in BLAS_VARIABLES):
        env = {**os.environ, **{v: str(threads) for v in BLAS_VARIABLES}}
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    torch.set_num_threads(threads)
    faiss.omp_set_num_threads(threads)


def rss_bytes() -> int:
    """Current resident set size of this process."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def percentile_ms(seconds: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(seconds) * 1000, q))


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """(fastest of `repeats` calls in seconds, the last result) after one warm-up call."""
    result = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


# --- embeddings -------------------------------------------------------------------------------


@dataclass
class Pool:
    """Embeddings to search: `gallery` rows (a size-N gallery is the first N), held-out
    `queries`, the `space` that ranks them, and where they come from."""

    gallery: np.ndarray  # float32 [N_max, d]
    categories: np.ndarray  # int64 [N_max]
    queries: np.ndarray  # float32 [Q, d]
    space: SimilaritySpace
    source: str

    @property
    def dim(self) -> int:
        return int(self.gallery.shape[1])


def split_pool(
    vectors: np.ndarray,
    categories: np.ndarray,
    num_queries: int,
    space: SimilaritySpace,
    source: str,
    seed: int,
) -> Pool:
    """A fixed random permutation of the vectors: the first `num_queries` are the queries, the
    rest the gallery (so a smaller gallery is a prefix of a larger one)."""
    order = np.random.default_rng(seed).permutation(len(vectors))
    queries, gallery = order[:num_queries], order[num_queries:]
    return Pool(vectors[gallery], categories[gallery], vectors[queries], space, source)


def synthetic_pool(count: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A clustered Gaussian mixture ``[count, dim]`` float32 and a category per cluster."""
    rng = np.random.default_rng(seed)
    clusters = max(1, count // SYNTHETIC_CLUSTER_SIZE)
    centres = rng.standard_normal((clusters, dim), dtype=np.float32)
    spread = rng.uniform(0.2, 0.6, clusters).astype(np.float32)
    cluster_category = rng.integers(1, 14, clusters)
    member = rng.integers(0, clusters, count)
    vectors = np.empty((count, dim), dtype=np.float32)
    for start in range(0, count, REBUILD_CHUNK):
        rows = member[start : start + REBUILD_CHUNK]
        noise = rng.standard_normal((len(rows), dim), dtype=np.float32)
        vectors[start : start + len(rows)] = centres[rows] + spread[rows, None] * noise
    return vectors, cluster_category[member]


def synthetic_space(ranking: str, dim: int, seed: int) -> SimilaritySpace:
    """Distance, or a random similarity network with weights of both signs (the trained tiny
    checkpoint's are half negative, between -0.18 and 0.11, bias -0.71)."""
    if ranking == "distance":
        return SimilaritySpace.of("distance", dim=dim)
    rng = np.random.default_rng(seed + 1)
    return SimilaritySpace(weight=rng.normal(0.0, 0.08, dim), bias=-0.7)


def random_boxes(
    width: int, height: int, count: int, rng: np.random.Generator
) -> list[list[float]]:
    """`count` boxes anywhere in a `width` x `height` image, of many sizes and shapes: width and
    height each log-uniform between `RANDOM_BOX_MIN` of the image's and all of it."""
    low = math.log(RANDOM_BOX_MIN)
    w = width * np.exp(rng.uniform(low, 0.0, count))
    h = height * np.exp(rng.uniform(low, 0.0, count))
    x1, y1 = rng.uniform(0.0, width - w), rng.uniform(0.0, height - h)
    return np.stack([x1, y1, x1 + w, y1 + h], axis=1).tolist()


def crop_boxes(
    record: ImageAnnotation,
    copies: int,
    jitter: float,
    random_count: int,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, np.ndarray]:
    """The record's annotated boxes, each followed by `copies` jittered ones (width and height
    scaled by 1 +- `jitter`, centre shifted by +- `jitter` of the size), then `random_count`
    `random_boxes` (category 0: no annotated garment), inside the image:
    ``(boxes float32 [n, 4], categories int64 [n])``."""
    boxes, categories = [], []
    for item in record.items:
        x1, y1, x2, y2 = map(float, item.bbox)
        w, h = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        boxes.append([x1, y1, x2, y2])
        for _ in range(copies):
            sw, sh, dx, dy = rng.uniform(-jitter, jitter, 4)
            half_w, half_h = w * (1 + sw) / 2, h * (1 + sh) / 2
            nx, ny = cx + dx * w, cy + dy * h
            boxes.append([nx - half_w, ny - half_h, nx + half_w, ny + half_h])
        categories += [item.category_id] * (copies + 1)
    if random_count:
        boxes += random_boxes(record.width, record.height, random_count, rng)
        categories += [0] * random_count
    out = torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4)
    out[:, 0::2] = out[:, 0::2].clamp(0, record.width - 2)
    out[:, 1::2] = out[:, 1::2].clamp(0, record.height - 2)
    out[:, 2:] = torch.maximum(out[:, 2:], out[:, :2] + 2)  # at least 2 px wide and high
    return out, np.asarray(categories, dtype=np.int64)


def embed_crops(
    model: torch.nn.Module,
    device: torch.device,
    split: Path,
    count: int,
    copies: int,
    jitter: float,
    random_count: int,
    seed: int,
    batch_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`count` matching-stream embeddings of the split's `crop_boxes` (annotated boxes, their
    jittered copies, random boxes), epoch after epoch over the split's images (fresh jitter and
    random boxes each epoch)."""
    records = [r for r in load_split(split, strict=False) if r.items]
    if not records:
        raise SystemExit(f"{split}: no annotated garments")
    rng = np.random.default_rng(seed)
    chunks: list[np.ndarray] = []
    categories: list[np.ndarray] = []
    total, started, shown = 0, time.perf_counter(), time.perf_counter()
    for epoch in itertools.count():
        for batch in batched(records, batch_size):
            images = [load_image(split / r.file_name) for r in batch]
            boxed = [crop_boxes(r, copies, jitter, random_count, rng) for r in batch]
            outputs = forward_images(model, images, device, [b for b, _ in boxed])
            for out, (_, cats) in zip(outputs, boxed, strict=True):
                chunks.append(out["box_embeddings"].float().numpy())
                categories.append(cats)
                total += len(cats)
            if time.perf_counter() - shown > 10 or total >= count:
                shown = time.perf_counter()
                rate = total / (shown - started)
                print(
                    f"  embedded {min(total, count):,}/{count:,} crops (epoch {epoch + 1}, "
                    f"{rate:,.0f} crops/s, {(count - min(total, count)) / rate:,.0f} s left)",
                    flush=True,
                )
            if total >= count:
                return np.concatenate(chunks)[:count], np.concatenate(categories)[:count]
    raise AssertionError("unreachable")


def model_pool(args: argparse.Namespace, count: int) -> Pool:
    """Real crops embedded by the checkpoint (from the cache when a long enough pool is there)."""
    weights, split = Path(args.weights).resolve(), Path(args.split).resolve()
    device = resolve_device(args.device, option="--device")
    model, _ = model_from_checkpoint(weights, device)
    similarity = getattr(model.roi_heads, "similarity", None)
    if similarity is None:
        raise SystemExit(f"{weights}: this model has no matching stream")
    dim = int(similarity.fc.in_features)
    space = SimilaritySpace.of(args.ranking, similarity, dim)
    stat = weights.stat()
    key_data = [str(weights), stat.st_size, stat.st_mtime_ns, str(split), args.jitter_per_box,
                args.jitter, args.seed]  # fmt: skip
    if args.random_boxes_per_image:  # absent when 0: the caches made before it stay valid
        key_data.append(args.random_boxes_per_image)
    key = hashlib.sha256(json.dumps(key_data).encode()).hexdigest()[:16]
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    for path in sorted(cache.glob(f"crops-{key}-*.npy")):
        if path.name.endswith(".categories.npy"):
            continue
        vectors = np.load(path, mmap_mode="r")
        if len(vectors) >= count:
            categories = np.load(path.with_suffix(".categories.npy"))[:count]
            print(f"embeddings: {count:,} of the {len(vectors):,} cached in {path}")
            source = f"model embeddings of {split} (cached)"
            return split_pool(
                np.array(vectors[:count]), categories, args.queries, space, source, args.seed
            )
    print(
        f"embedding {count:,} crops of {split} with {weights.name} on {device} "
        f"({args.jitter_per_box} jittered copies per box, jitter {args.jitter}, "
        f"{args.random_boxes_per_image} random boxes per image)",
        flush=True,
    )
    vectors, categories = embed_crops(
        model,
        device,
        split,
        count,
        args.jitter_per_box,
        args.jitter,
        args.random_boxes_per_image,
        args.seed,
        args.batch_size,
    )
    path = cache / f"crops-{key}-{count}.npy"
    np.save(path, vectors)
    np.save(path.with_suffix(".categories.npy"), categories)
    print(f"embeddings cached in {path}")
    source = f"model embeddings of {split}"
    return split_pool(vectors, categories, args.queries, space, source, args.seed)


def augment(space: SimilaritySpace, embeddings: np.ndarray) -> np.ndarray:
    """The store's gallery vectors ``[N, d + 1]``, augmented in chunks (float64 inside)."""
    out = np.empty((len(embeddings), space.dim + 1), dtype=np.float32)
    for start in range(0, len(embeddings), REBUILD_CHUNK):
        part = slice(start, start + REBUILD_CHUNK)
        out[part] = space.gallery_vectors(embeddings[part])
    return out


# --- exact search -----------------------------------------------------------------------------


def argpartition_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The tuned selection: `argpartition` for the k largest, then a sort of those k only."""
    part = np.argpartition(scores, scores.shape[1] - k, axis=1)[:, -k:]
    top = np.take_along_axis(scores, part, axis=1)
    return np.take_along_axis(part, np.argsort(-top, axis=1, kind="stable"), axis=1)


def argsort_top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The straightforward selection a user writes: a full sort of every row."""
    return np.argsort(-scores, axis=1)[:, :k]


# NumPy brute-force baselines: name -> (label, selection of the k best of a block of scores)
NUMPY_BASELINES: dict[str, tuple[str, Callable[[np.ndarray, int], np.ndarray]]] = {
    "argpartition": ("NumPy matmul + argpartition (tuned)", argpartition_top_k),
    "argsort": ("NumPy matmul + full argsort (plain)", argsort_top_k),
}


def numpy_top_k(
    queries: np.ndarray,
    gallery: np.ndarray,
    k: int,
    select: Callable[[np.ndarray, int], np.ndarray],
) -> np.ndarray:
    """Brute force: the `k` largest inner products per query (row indices, best first), one
    BLAS matrix product per block of queries whose scores take at most `NUMPY_BLOCK_BYTES`,
    then `select(scores, k)` (a `NUMPY_BASELINES` selection) on the block."""
    k = min(k, len(gallery))
    rows = max(1, NUMPY_BLOCK_BYTES // (4 * len(gallery)))
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), rows):
        out[start : start + rows] = select(queries[start : start + rows] @ gallery.T, k)
    return out


def overlap(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each truth row's ids (padding -1 aside) that `found`'s row holds: recall@k
    when `truth` is the exact top-k."""
    shares = []
    for f, t in zip(found, truth, strict=True):
        t = t[t >= 0]
        shares.append(len(np.intersect1d(f[f >= 0], t)) / max(len(t), 1))
    return float(np.mean(shares))


def exact_section(
    pool: Pool, vectors: np.ndarray, n: int, args: argparse.Namespace
) -> tuple[dict[str, Any], FaissStore, np.ndarray]:
    """Ours vs bare IndexFlatIP vs NumPy on the first `n` gallery vectors; returns the numbers,
    the flat store and its exact top-k ids (the approximate kinds' reference)."""
    space, queries = pool.space, pool.queries
    query_vectors, _ = space.query_vectors(queries)
    store = FaissStore(space.dim + 1)
    store.add(np.arange(n), vectors[:n], pool.categories[:n])
    bare = faiss.IndexFlatIP(space.dim + 1)
    bare.add(vectors[:n])
    ours_s, (_, ours_ids) = best_time(lambda: top_k_logits(store, space, queries, K), args.repeats)
    bare_s, (_, bare_ids) = best_time(lambda: bare.search(query_vectors, K), args.repeats)
    q = len(queries)
    result = {
        "queries": q,
        "ours_s": ours_s,
        "bare_faiss_s": bare_s,
        "ours_qps": q / ours_s,
        "bare_faiss_qps": q / bare_s,
        "ours_vs_bare": bare_s / ours_s,
        "top20_agreement_bare": overlap(ours_ids, bare_ids),
        "flat_index_bytes": len(faiss.serialize_index(store._exact)),  # the store's exact index
    }
    for name, (_, select) in NUMPY_BASELINES.items():
        numpy_s, numpy_ids = best_time(
            lambda s=select: numpy_top_k(query_vectors, vectors[:n], K, s), args.repeats
        )
        result |= {
            f"numpy_{name}_s": numpy_s,
            f"numpy_{name}_qps": q / numpy_s,
            f"ours_vs_numpy_{name}": numpy_s / ours_s,
            f"top20_agreement_numpy_{name}": overlap(ours_ids, numpy_ids),
        }
    rng = np.random.default_rng(args.seed + 2)
    picks = [rng.choice(q, size=min(4, q), replace=False) for _ in range(args.garment_repeats)]
    ours_times, bare_times = [], []
    top_k_logits(store, space, queries[picks[0]], K)  # warm-up
    for pick in picks:
        start = time.perf_counter()
        top_k_logits(store, space, queries[pick], K)
        ours_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        bare.search(query_vectors[pick], K)
        bare_times.append(time.perf_counter() - start)
    result["four_garments"] = {
        "repeats": len(picks),
        "p50_ms": percentile_ms(ours_times, 50),
        "p95_ms": percentile_ms(ours_times, 95),
        "bare_faiss_p50_ms": percentile_ms(bare_times, 50),
        "bare_faiss_p95_ms": percentile_ms(bare_times, 95),
    }
    return result, store, ours_ids


def print_exact(n: int, dim: int, r: dict[str, Any]) -> None:
    print(f"\nexact search, N = {n:,}, d = {dim}, {r['queries']:,} queries in one batch, top-{K}")
    print(f"  {'method':<40} {'ms / batch':>10} {'queries/s':>11} {'top-20 = ours':>14}")
    rows = [
        ("ours: FaissStore flat via top_k_logits", r["ours_s"], r["ours_qps"], 1.0),
        ("bare faiss.IndexFlatIP (same vectors)", r["bare_faiss_s"], r["bare_faiss_qps"],
         r["top20_agreement_bare"]),
    ] + [
        (label, r[f"numpy_{name}_s"], r[f"numpy_{name}_qps"], r[f"top20_agreement_numpy_{name}"])
        for name, (label, _) in NUMPY_BASELINES.items()
    ]  # fmt: skip
    for name, seconds, qps, agree in rows:
        print(f"  {name:<40} {1000 * seconds:>10.1f} {qps:>11,.0f} {agree:>14.4f}")
    note = target_note(n, EXACT_N)
    ratios = "; ".join(
        f"ours / NumPy ({name}) {r[f'ours_vs_numpy_{name}']:.2f}x" for name in NUMPY_BASELINES
    )
    print(
        f"  ours / bare FAISS {r['ours_vs_bare']:.2f}x (target >= {TARGET_VS_BARE}x{note}); "
        f"{ratios} (target >= {TARGET_VS_NUMPY:g}x{note})"
    )
    f = r["four_garments"]
    print(
        f"  4 garments in one call ({f['repeats']} repeats): p50 {f['p50_ms']:.2f} ms, "
        f"p95 {f['p95_ms']:.2f} ms (bare FAISS p50 {f['bare_faiss_p50_ms']:.2f} ms); "
        f"target p50 <= {TARGET_FOUR_P50_MS:g} ms{note}"
    )


def target_note(n: int, target_n: int) -> str:
    return "" if n == target_n else f"; target stated at {target_n:,}"


# --- approximate kinds ------------------------------------------------------------------------


def default_nlist(n: int) -> int:
    """The power of 2 nearest 4 sqrt(N) (at least 16)."""
    return max(16, 2 ** round(math.log2(4 * math.sqrt(n))))


def ivf_builds(n: int, dim: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    """IVF-PQ build settings: nlist (given, or `default_nlist`) x m (given, or d/8 and d/4);
    trained on min(N, FAISS's 39 x max(nlist, 256)) vectors."""
    nlists = args.ivf_nlist or [default_nlist(n)]
    ms = args.ivf_m or sorted({max(1, dim // 8), max(1, dim // 4)})
    return [
        {"nlist": nl, "m": m, "nbits": 8, "train_size": min(n, 39 * max(nl, 256))}
        for nl, m in itertools.product(nlists, ms)
    ]


def ann_plans(n: int, dim: int, args: argparse.Namespace) -> list[tuple[str, dict, list[dict]]]:
    """(kind, build options, search settings) to measure, for the kinds in ``--kinds``."""
    plans = []
    if "ivfpq" in args.kinds:
        for build in ivf_builds(n, dim, args):
            grid = [
                {"nprobe": p, "rerank": r}
                for p, r in itertools.product(args.nprobe, args.ivf_rerank)
                if p <= build["nlist"]
            ]
            plans.append(("ivfpq", build, grid))
    if "ivfflat" in args.kinds:
        for nl in args.ivfflat_nlist or [default_nlist(n)]:
            grid = [{"nprobe": p, "rerank": 2} for p in args.nprobe if p <= nl]
            plans.append(("ivfflat", {"nlist": nl, "train_size": min(n, 39 * nl)}, grid))
    if "hnsw" in args.kinds:
        for m in args.hnsw_m:
            grid = [{"ef_search": e, "rerank": 2} for e in args.ef_search]
            plans.append(("hnsw", {"M": m, "ef_construction": args.ef_construction}, grid))
    return plans


def ann_section(
    pool: Pool,
    vectors: np.ndarray,
    n: int,
    exact_ids: np.ndarray,
    flat_bytes: int,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """Each plan built once on the first `n` vectors, then searched with each setting."""
    rows = []
    for kind, build, grid in ann_plans(n, pool.dim, args):
        gc.collect()
        before = rss_bytes()
        start = time.perf_counter()
        store = FaissStore(pool.space.dim + 1, kind, **build, **grid[0])
        store.add(np.arange(n), vectors[:n], pool.categories[:n])
        build_s = time.perf_counter() - start
        gc.collect()
        rss_growth = rss_bytes() - before
        ann = store._ann  # a private part: the benchmark weighs the store's pieces
        if ann is None:
            print(f"  {kind} {build}: the approximate index was not built (too few items)")
            continue
        ann_bytes = len(faiss.serialize_index(ann))
        for setting in grid:
            store.options.update(setting)  # read at search time: no rebuild needed
            seconds, (_, ids) = best_time(
                lambda s=store: top_k_logits(s, pool.space, pool.queries, K), args.repeats
            )
            row = {
                "kind": kind,
                "build": build,
                "search": setting,
                "recall_at_20": overlap(ids, exact_ids),
                "qps": len(pool.queries) / seconds,
                "build_s": build_s,
                "ann_bytes": ann_bytes,
                "store_bytes": flat_bytes + ann_bytes,
                "rss_growth_bytes": rss_growth,
            }
            rows.append(row)
            print_ann_row(row)
        del store, ann
    return rows


def settings_text(row: dict[str, Any]) -> tuple[str, str]:
    build = " ".join(f"{k}={v}" for k, v in row["build"].items() if k != "train_size")
    return build, " ".join(f"{k}={v}" for k, v in row["search"].items())


def print_ann_header(n: int, dim: int) -> None:
    print(f"\napproximate search, N = {n:,}, d = {dim} (recall@{K} against the exact store)")
    print(
        f"  {'kind':<6} {'build':<28} {'search':<22} {'recall':>7} {'queries/s':>10} "
        f"{'build s':>8} {'ann MiB':>8} {'store MiB':>9} {'RSS+ MiB':>9}"
    )


def print_ann_row(row: dict[str, Any]) -> None:
    build, search = settings_text(row)
    print(
        f"  {row['kind']:<6} {build:<28} {search:<22} {row['recall_at_20']:>7.4f} "
        f"{row['qps']:>10,.0f} {row['build_s']:>8.1f} {row['ann_bytes'] / MIB:>8.1f} "
        f"{row['store_bytes'] / MIB:>9.1f} {row['rss_growth_bytes'] / MIB:>9.1f}",
        flush=True,
    )


def meets_all(row: dict[str, Any]) -> bool:
    return (
        row["recall_at_20"] >= RECALL_TARGET
        and row["qps"] >= TARGET_ANN_QPS
        and row["build_s"] <= TARGET_BUILD_S
        and row["store_bytes"] <= TARGET_BYTES
    )


def cheapest(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest setting reaching recall@20 >= 0.95 (then the quicker build)."""
    good = [r for r in rows if r["recall_at_20"] >= RECALL_TARGET]
    return max(good, key=lambda r: (r["qps"], -r["build_s"]), default=None)


def print_cheapest(n: int, rows: list[dict[str, Any]]) -> dict[str, Any]:
    best: dict[str, Any] = {}
    groups = {
        kind: [r for r in rows if r["kind"] == kind] for kind in sorted({r["kind"] for r in rows})
    }
    groups["any"] = rows
    for label, subset in groups.items():
        row = cheapest(subset)
        best[label] = row
        if row is None:
            print(f"  cheapest {label}: no setting reaches recall@{K} >= {RECALL_TARGET}")
            continue
        build, search = settings_text(row)
        print(
            f"  cheapest {label} with recall@{K} >= {RECALL_TARGET}: {row['kind']} {build} "
            f"{search}: recall {row['recall_at_20']:.4f}, {row['qps']:,.0f} q/s, build "
            f"{row['build_s']:.1f} s, store {row['store_bytes'] / 1e9:.3f} GB"
        )
    all_met = [r for r in rows if meets_all(r)]
    best["meets_all_targets"] = max(all_met, key=lambda r: r["qps"], default=None)
    if best["meets_all_targets"] is None:
        print(f"  no setting meets every 1M target at once{target_note(n, ANN_N)}")
    return best


# --- Qdrant -----------------------------------------------------------------------------------


def qdrant_section(pool: Pool, vectors: np.ndarray, args: argparse.Namespace) -> dict[str, Any]:
    """The in-process Qdrant store on the first `--qdrant-items` gallery vectors, against a flat
    FAISS store on the same items."""
    from fashionvision.retrieval.qdrant_store import QdrantStore

    n = min(args.qdrant_items, len(vectors))
    queries = pool.queries[: args.qdrant_queries]
    ids, categories = np.arange(n), pool.categories[:n]
    start = time.perf_counter()
    qdrant = QdrantStore(pool.space.dim + 1)
    qdrant.add(ids, vectors[:n], categories)
    insert_s = time.perf_counter() - start
    seconds, (_, q_ids) = best_time(
        lambda: top_k_logits(qdrant, pool.space, queries, K), max(1, args.repeats // 3)
    )
    flat = FaissStore(pool.space.dim + 1)
    flat.add(ids, vectors[:n], categories)
    _, f_ids = top_k_logits(flat, pool.space, queries, K)
    result = {
        "items": n,
        "queries": len(queries),
        "insert_s": insert_s,
        "inserts_per_s": n / insert_s,
        "qps": len(queries) / seconds,
        "recall_at_20_vs_faiss_exact": overlap(q_ids, f_ids),
        "same_order_share": float(np.mean(np.all(q_ids == f_ids, axis=1))),
    }
    print(
        f"\nQdrant embedded mode (':memory:', exact), {n:,} items, d = {pool.dim}: insert "
        f"{insert_s:.1f} s ({result['inserts_per_s']:,.0f} items/s), {result['qps']:,.1f} "
        f"queries/s ({len(queries)} queries), top-{K} vs FAISS exact: recall "
        f"{result['recall_at_20_vs_faiss_exact']:.4f}, identical order on "
        f"{100 * result['same_order_share']:.1f} % of queries"
    )
    return result


# --- the run ----------------------------------------------------------------------------------


def make_pool(args: argparse.Namespace, dim: int, count: int) -> Pool:
    if args.weights:
        return model_pool(args, count)
    vectors, categories = synthetic_pool(count, dim, args.seed)
    space = synthetic_space(args.ranking, dim, args.seed)
    return split_pool(vectors, categories, args.queries, space, SYNTHETIC_LABEL, args.seed)


def run_dim(args: argparse.Namespace, dim: int) -> dict[str, Any]:
    sizes = sorted(args.sizes)
    pool = make_pool(args, dim, sizes[-1] + args.queries)
    print(f"\n=== d = {pool.dim}: {pool.source}; ranking: {args.ranking} ===")
    vectors = augment(pool.space, pool.gallery)
    runs = []
    for n in sizes:
        gc.collect()
        exact, store, exact_ids = exact_section(pool, vectors, n, args)
        print_exact(n, pool.dim, exact)
        del store
        ann: list[dict[str, Any]] = []
        best: dict[str, Any] = {}
        if not args.no_ann:
            print_ann_header(n, pool.dim)
            ann = ann_section(pool, vectors, n, exact_ids, exact["flat_index_bytes"], args)
            best = print_cheapest(n, ann)
        runs.append({"n": n, "dim": pool.dim, "exact": exact, "ann": ann, "ann_best": best})
    qdrant = None if args.qdrant_items == 0 else qdrant_section(pool, vectors, args)
    return {"dim": pool.dim, "source": pool.source, "runs": runs, "qdrant": qdrant}


def target_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's targets beside the measured figures, one row per (N, d) and figure."""
    rows: list[dict[str, Any]] = []
    for result in results:
        for run in result["runs"]:
            n, dim, e = run["n"], run["dim"], run["exact"]
            p50 = e["four_garments"]["p50_ms"]
            checks: list[tuple[str, str, str, bool, int]] = [
                ("exact: ours / bare IndexFlatIP", f"{e['ours_vs_bare']:.2f}x",
                 f">= {TARGET_VS_BARE}x", e["ours_vs_bare"] >= TARGET_VS_BARE, EXACT_N),
            ] + [
                (f"exact: ours / {label}", f"{e[f'ours_vs_numpy_{name}']:.2f}x",
                 f">= {TARGET_VS_NUMPY:g}x", e[f"ours_vs_numpy_{name}"] >= TARGET_VS_NUMPY,
                 EXACT_N)
                for name, (label, _) in NUMPY_BASELINES.items()
            ] + [
                ("4 garments in one call, p50", f"{p50:.2f} ms",
                 f"<= {TARGET_FOUR_P50_MS:g} ms", p50 <= TARGET_FOUR_P50_MS, EXACT_N),
            ]  # fmt: skip
            best = run["ann_best"].get("any") if run["ann"] else None
            if run["ann"] and best is None:
                checks.append(("approx.: recall@20 >= 0.95", "not reached", ">= 0.95", False,
                               ANN_N))  # fmt: skip
            elif best is not None:
                label = "approx. cheapest at recall >= 0.95 ({} {} {})".format(
                    best["kind"], *settings_text(best)
                )
                every = run["ann_best"]["meets_all_targets"]
                checks += [
                    (f"{label}: q/s", f"{best['qps']:,.0f}", f">= {TARGET_ANN_QPS:,.0f}",
                     best["qps"] >= TARGET_ANN_QPS, ANN_N),
                    (f"{label}: build", f"{best['build_s']:.1f} s", f"<= {TARGET_BUILD_S:g} s",
                     best["build_s"] <= TARGET_BUILD_S, ANN_N),
                    (f"{label}: store", f"{best['store_bytes'] / 1e9:.3f} GB", "<= 1.5 GB",
                     best["store_bytes"] <= TARGET_BYTES, ANN_N),
                    ("approx.: a setting meeting all four at once",
                     "none" if every is None else "{} {}".format(*settings_text(every)),
                     "recall, q/s, build, bytes", every is not None, ANN_N),
                ]  # fmt: skip
            for what, value, target, met, target_n in checks:
                note = "" if n == target_n else f" (target at {target_n:,})"
                rows.append({"what": what, "n": n, "dim": dim, "measured": value,
                             "target": target + note, "met": met})  # fmt: skip
    return rows


def print_targets(rows: list[dict[str, Any]]) -> None:
    print("\nissue #10 targets")
    print(f"  {'N':>9} {'d':>4}  {'figure':<66} {'measured':>14}  {'target':<32} met")
    for r in rows:
        print(
            f"  {r['n']:>9,} {r['dim']:>4}  {r['what']:<66} {r['measured']:>14}  "
            f"{r['target']:<32} {'yes' if r['met'] else 'NO'}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[EXACT_N], help="gallery sizes")
    parser.add_argument(
        "--dims",
        type=int,
        nargs="+",
        default=[64],
        help="embedding sizes of the synthetic vectors (ignored with --weights)",
    )
    parser.add_argument("--queries", type=int, default=1000, help="queries in one batch")
    parser.add_argument("--repeats", type=int, default=3, help="timed batches; the best is shown")
    parser.add_argument(
        "--garment-repeats", type=int, default=500, help="timed 4-garment calls (p50/p95)"
    )
    parser.add_argument("--ranking", choices=["similarity", "distance"], default="similarity")
    parser.add_argument("--weights", metavar="CKPT", help="embed real crops with this checkpoint")
    parser.add_argument("--split", metavar="DIR", help="DeepFashion2-format split (--weights)")
    parser.add_argument(
        "--jitter-per-box",
        type=int,
        default=15,
        help="jittered copies of each annotated box (--weights)",
    )
    parser.add_argument(
        "--jitter",
        type=float,
        default=0.15,
        help="scale and shift jitter, a fraction of the box size",
    )
    parser.add_argument(
        "--random-boxes-per-image",
        type=int,
        default=0,
        metavar="N",
        help="N random boxes of many sizes and places per image, besides the annotated ones "
        "(--weights): more distinct crops per backbone pass",
    )
    parser.add_argument(
        "--cache",
        default=str(Path(tempfile.gettempdir()) / "fashionvision-bench-embeddings"),
        help="folder of cached embeddings (default %(default)s)",
    )
    parser.add_argument("--device", default="cpu", help="device embedding the crops")
    parser.add_argument("--batch-size", type=int, default=4, help="images per forward pass")
    parser.add_argument("--no-ann", action="store_true", help="skip the approximate kinds")
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=["ivfpq", "ivfflat", "hnsw"],
        default=["ivfpq", "ivfflat", "hnsw"],
        help="approximate FaissStore kinds to measure",
    )
    parser.add_argument("--ivfflat-nlist", type=int, nargs="+", help="ivfflat; default: ~4 sqrt(N)")
    parser.add_argument("--ivf-nlist", type=int, nargs="+", help="ivfpq; default: ~4 sqrt(N)")
    parser.add_argument("--ivf-m", type=int, nargs="+", help="default: d/8 and d/4")
    parser.add_argument("--nprobe", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128])
    parser.add_argument("--ivf-rerank", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--hnsw-m", type=int, nargs="+", default=[16, 32])
    parser.add_argument("--ef-construction", type=int, default=128)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 80, 160, 320])
    parser.add_argument("--qdrant-items", type=int, default=20_000, help="0 skips Qdrant")
    parser.add_argument("--qdrant-queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=available_cores())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", metavar="OUT", help="write every number here")
    args = parser.parse_args()
    if bool(args.weights) != bool(args.split):
        parser.error("--weights and --split go together")
    if args.random_boxes_per_image < 0:
        parser.error("--random-boxes-per-image must be >= 0")
    if min(args.sizes) < K or args.queries < 1:
        parser.error(f"sizes must be >= {K} and --queries >= 1")
    return args


def main() -> None:
    args = parse_args()
    pin_threads(args.threads)
    print(
        f"faiss {faiss.__version__}, torch {torch.__version__}, numpy {np.__version__}; "
        f"{args.threads} threads (torch {torch.get_num_threads()}, faiss "
        f"{faiss.omp_get_max_threads()}, BLAS {os.environ['OPENBLAS_NUM_THREADS']}) of "
        f"{available_cores()} available cores; top-{K}, {args.queries:,} queries"
    )
    if args.weights:
        print(f"embeddings: the model's, from {args.weights} on {args.split} (--dims ignored)")
        dims = [0]  # the model decides
    else:
        print(f"embeddings: {SYNTHETIC_LABEL.upper()} (pass --weights and --split for real ones)")
        dims = args.dims
    started = time.perf_counter()
    results = [run_dim(args, dim) for dim in dims]
    rows = target_rows(results)
    print_targets(rows)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average (1, 5, 15 min): {load}")
    if args.json:
        out = {
            "threads": args.threads,
            "available_cores": available_cores(),
            "args": vars(args),
            "results": results,
            "targets": rows,
            "load_average": os.getloadavg(),
        }
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
