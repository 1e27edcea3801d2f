"""Vector stores: maximum-inner-product search over augmented gallery vectors, with a category
filter.

A store holds one float32 vector per gallery item, its int64 id and its category.  The vectors
are the *augmented* vectors of `fashionvision.retrieval.ranking.SimilaritySpace`, and queries its
augmented query vectors, so the inner-product order is the similarity network's order (distance
ranking being the special case ``w = -1, b = 0``); `top_k_logits` adds the per-query constant
back to give the logits themselves.

`VectorStore` is the contract; `FaissStore` the default, `QdrantStore`
(`fashionvision.retrieval.qdrant_store`, optional) the same contract on a Qdrant server.

`FaissStore` keeps every vector in an exact ``IndexIDMap2(IndexFlatIP)``: with ``kind="flat"``
(the default) that index answers every search, exactly.  For large catalogues:

* ``kind="ivfpq"``: an inverted file with product quantisation (`nlist` lists, `m` sub-vectors of
  `nbits` bits, `nprobe` lists searched) proposes ``rerank * k`` candidates, re-scored exactly
  from the stored vectors.  It is trained once, on the first ``train_size`` vectors (by default
  39 x max(nlist, 2^nbits), FAISS's minimum); until the store holds that many, search is exact.
* ``kind="ivfflat"``: an inverted file over the same reduced vectors as ``ivfpq``, held
  uncompressed (`nlist` lists, `nprobe` searched; trained on the first ``train_size`` vectors,
  by default 39 x nlist, and exact until then): each probed list is scanned exactly, so recall
  depends on `nprobe` alone; ``rerank * k`` candidates are re-scored exactly from the stored
  vectors, as for the other kinds.  It holds a second float copy of every vector.
* ``kind="hnsw"``: an HNSW graph (`M` links, `ef_search`, `ef_construction`) over the
  maximum-inner-product -> nearest-neighbour reduction (`FaissStore`), whose ``rerank * k``
  candidates are re-scored exactly.  FAISS cannot delete from a graph: `remove` rebuilds it.

A category filter is always answered by the exact index restricted to that category's ids
(``SearchParameters(sel=IDSelectorBatch)``): exact for every kind, and never short of results
the way a filtered graph or inverted-list search can be for a rare category.  The approximate
kinds keep the exact index beside theirs (for the filter and the re-scoring): they buy search
speed, not memory.

Results: ``(scores float32 [Q, k], ids int64 [Q, k])``, best first, equal scores in increasing
id order, padded with id -1 and score -inf when fewer than k items qualify.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from fashionvision.errors import FashionVisionError, IndexCorruptError
from fashionvision.io_utils import atomic_directory, load_json
from fashionvision.retrieval.ranking import SimilaritySpace

__all__ = [
    "BACKENDS",
    "FaissStore",
    "VectorStore",
    "create_store",
    "exact_top_k",
    "load_store",
    "top_k_logits",
]

BACKENDS: tuple[str, ...] = ("faiss", "qdrant")
STORE_FILE = "store.json"
STORE_FORMAT_VERSION = 1


@runtime_checkable
class VectorStore(Protocol):
    """Maximum-inner-product search over ``[N, dim]`` float32 vectors with int64 ids."""

    backend: ClassVar[str]
    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray) -> None:
        """Add items: ids int64 [N] (new, distinct, >= 0), vectors [N, dim], categories [N]."""
        ...

    def remove(self, ids: np.ndarray) -> int:
        """Remove the items with these ids (unknown ids are ignored); returns how many went."""
        ...

    def clear(self) -> None:
        """Remove every item (the store keeps its settings)."""
        ...

    def search(
        self, queries: np.ndarray, k: int, category: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The k best items per query ``[Q, dim]`` by inner product, optionally only those of
        `category`: ``(scores float32 [Q, k], ids int64 [Q, k])``, -1 / -inf padded."""
        ...

    def __len__(self) -> int: ...

    def config(self) -> dict[str, Any]:
        """The options the store was created with (JSON-ready, for manifests and `info`)."""
        ...

    def save(self, directory: str | Path) -> None:
        """Write the store to `directory`, replacing it atomically."""
        ...

    @classmethod
    def load(cls, directory: str | Path) -> VectorStore: ...


# --- helpers shared by every store ------------------------------------------------------------


def check_add(
    dim: int, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`add`'s arguments checked and converted (int64, float32 C-contiguous, int64)."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    categories = np.asarray(categories, dtype=np.int64).reshape(-1)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"expected [N, {dim}] vectors, got {vectors.shape}")
    if not len(ids) == len(vectors) == len(categories):
        raise ValueError(f"{len(ids)} ids, {len(vectors)} vectors, {len(categories)} categories")
    if len(np.unique(ids)) != len(ids) or (ids < 0).any():
        raise ValueError("ids must be distinct and >= 0")
    if not np.isfinite(vectors).all():
        raise FashionVisionError("vector store: the vectors hold NaN or infinite values")
    return ids, vectors, categories


def check_queries(dim: int, queries: np.ndarray, k: int) -> np.ndarray:
    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"expected [Q, {dim}] query vectors, got {queries.shape}")
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    if not np.isfinite(queries).all():
        raise FashionVisionError("vector store: the query vectors hold NaN or infinite values")
    return queries


def empty_results(num_queries: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.full((num_queries, k), -np.inf, dtype=np.float32),
        np.full((num_queries, k), -1, dtype=np.int64),
    )


def ordered(scores: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted by (score descending, id ascending), padding (-1, -inf) last: the stores'
    result order, whatever order the engine returned ties in."""
    scores = np.where(ids < 0, -np.inf, scores).astype(np.float32)
    order = np.lexsort((np.where(ids < 0, np.iinfo(np.int64).max, ids), -scores.astype(np.float64)))
    return np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)


def top_k_logits(
    store: VectorStore,
    space: SimilaritySpace,
    embeddings: np.ndarray,
    k: int,
    category: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The k best items of `store` for each embedding ``[Q, D]`` by `space`'s logit, in one
    store call: ``(logits float64 [Q, k], ids int64 [Q, k])``, padded with -inf / -1."""
    vectors, constants = space.query_vectors(embeddings)
    scores, ids = store.search(vectors, k, category)
    return np.where(ids < 0, -np.inf, scores + constants[:, None]), ids


def exact_top_k(
    space: SimilaritySpace, queries: np.ndarray, gallery: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rank a whole gallery ``[G, D]`` for each query ``[Q, D]`` through an in-memory flat
    store (the retrieval evaluator's ranking): ``(logits [Q, min(k, G)], gallery indices)``."""
    store = FaissStore(space.dim + 1)
    store.add(np.arange(len(gallery)), space.gallery_vectors(gallery), np.zeros(len(gallery)))
    logits, ids = top_k_logits(store, space, queries, min(k, len(gallery)))
    return logits, ids


# --- FAISS ------------------------------------------------------------------------------------


def _faiss() -> Any:
    import faiss

    return faiss


FAISS_KINDS: tuple[str, ...] = ("flat", "ivfpq", "ivfflat", "hnsw")
IVF_KINDS: tuple[str, ...] = ("ivfpq", "ivfflat")  # trained on the first train_size vectors
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "flat": {},
    # m = 32 codes of 8 bits: 8 dimensions per code for 256-d embeddings
    "ivfpq": {"nlist": 256, "m": 32, "nbits": 8, "nprobe": 16, "rerank": 8, "train_size": None},
    "ivfflat": {"nlist": 256, "nprobe": 16, "rerank": 2, "train_size": None},
    "hnsw": {"M": 32, "ef_search": 128, "ef_construction": 128, "rerank": 2},
}
# The HNSW norm bound is set this much above the largest norm seen, so that later additions
# rarely force a rebuild of the graph.
NORM_HEADROOM = 1.5


class FaissStore:
    """The FAISS vector store (see the module docstring).

    `dim`: vector size (D + 1 for D-dimensional embeddings); `kind`: ``flat``, ``ivfpq``,
    ``ivfflat`` or ``hnsw``; `options`: that kind's settings (`DEFAULT_OPTIONS` lists them and
    their defaults; ``rerank``: candidates re-scored exactly per result).  Not thread-safe for
    writes: concurrent searches are fine, an add or remove must not overlap them (the gallery
    index serialises them).

    Graphs and inverted lists work poorly under a raw inner product (a few long vectors are
    every point's best neighbour: measured recall@20 0.53 on augmented similarity vectors for an
    HNSW graph with ef = 1000), so both approximate kinds hold the standard reduction of maximum
    inner product to nearest neighbour: item x as ``[x, sqrt(R^2 - |x|^2)]`` and query q as
    ``[q, 0]``, with R (1.5 x the largest norm when built) above every item's norm, whose L2
    order is the inner-product order.  An HNSW graph is rebuilt when a longer item comes; an
    IVF item beyond R gets the extra coordinate 0 (its exact re-scoring is unaffected).
    """

    backend: ClassVar[str] = "faiss"

    def __init__(self, dim: int, kind: str = "flat", **options: Any) -> None:
        if kind not in FAISS_KINDS:
            raise FashionVisionError(
                f"faiss store: kind must be one of {FAISS_KINDS}, not {kind!r}"
            )
        unknown = set(options) - set(DEFAULT_OPTIONS[kind])
        if unknown:
            raise FashionVisionError(
                f"faiss store: unknown {kind} options {sorted(unknown)} "
                f"(known: {sorted(DEFAULT_OPTIONS[kind]) or 'none'})"
            )
        self.dim = int(dim)
        self.kind = kind
        self.options = {**DEFAULT_OPTIONS[kind], **options}
        self.clear()

    # -- contract --

    def __len__(self) -> int:
        return len(self._ids)

    def config(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.options}

    def clear(self) -> None:
        self._exact = _faiss().IndexIDMap2(_faiss().IndexFlatIP(self.dim))
        self._ann: Any = None  # the approximate index, once built
        self._norm_bound = 0.0  # R of the HNSW reduction
        self._ids = np.zeros(0, dtype=np.int64)  # row order of the exact index
        self._categories = np.zeros(0, dtype=np.int64)
        self._selectors: dict[int, Any] = {}  # per category, dropped on every change

    def add(self, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray) -> None:
        ids, vectors, categories = check_add(self.dim, ids, vectors, categories)
        if len(ids) == 0:
            return
        clash = np.intersect1d(ids, self._ids)
        if len(clash):
            raise ValueError(f"ids already in the store: {clash[:10].tolist()}")
        self._exact.add_with_ids(vectors, ids)
        self._ids = np.concatenate([self._ids, ids])
        self._categories = np.concatenate([self._categories, categories])
        self._selectors.clear()
        largest = float(np.linalg.norm(vectors, axis=1).max())
        if self.kind == "hnsw" and (self._ann is None or largest > self._norm_bound):
            self._build_ann()  # a graph is cheap to rebuild with a larger bound
        elif self._ann is not None:  # IVF: an item beyond the bound is clipped to it
            self._ann.add_with_ids(self._ann_vectors(vectors), ids)
        elif self.kind in IVF_KINDS and len(self) >= self._train_size():
            self._build_ann()

    def remove(self, ids: np.ndarray) -> int:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        gone = np.isin(self._ids, ids)
        if not gone.any():
            return 0
        selector = _faiss().IDSelectorBatch(ids)
        self._exact.remove_ids(selector)
        self._ids, self._categories = self._ids[~gone], self._categories[~gone]
        self._selectors.clear()
        if self.kind == "hnsw" or isinstance(self._ann, _faiss().IndexIDMap2):
            # FAISS cannot delete from a graph; and an inverted file saved inside an id map (as
            # before this version) cannot delete through it: the map's `remove_ids` renumbers
            # the rows as if the lists had been compacted, which they are not.  Rebuild both.
            self._build_ann()
        elif self._ann is not None:  # an inverted file holds the ids itself
            self._ann.remove_ids(selector)
        return int(gone.sum())

    def search(
        self, queries: np.ndarray, k: int, category: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = check_queries(self.dim, queries, k)
        if k == 0 or len(queries) == 0 or len(self) == 0:
            return empty_results(len(queries), k)
        if category is not None:
            selector = self._category_selector(int(category))
            if selector is None:
                return empty_results(len(queries), k)
            params = _faiss().SearchParameters(sel=selector)
            scores, ids = self._exact.search(queries, k, params=params)
        elif self._ann is None:
            scores, ids = self._exact.search(queries, k)
        else:
            scores, ids = self._rerank(queries, k)
        return ordered(scores, ids)

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors ``[N, dim]`` of `ids` (all present; KeyError otherwise)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        missing = np.setdiff1d(ids, self._ids)
        if len(missing):
            raise KeyError(f"ids not in the store: {missing[:10].tolist()}")
        if len(ids) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._exact.reconstruct_batch(ids)

    def save(self, directory: str | Path) -> None:
        faiss = _faiss()
        with atomic_directory(directory) as tmp:
            faiss.write_index(self._exact, str(tmp / "exact.faiss"))
            if self._ann is not None:
                faiss.write_index(self._ann, str(tmp / "ann.faiss"))
            np.savez(tmp / "items.npz", ids=self._ids, categories=self._categories)
            meta = {
                "backend": self.backend,
                "format_version": STORE_FORMAT_VERSION,
                "dim": self.dim,
                "count": len(self),
                "ann": self._ann is not None,
                "norm_bound": self._norm_bound,
                **self.config(),
            }
            (tmp / STORE_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: str | Path) -> FaissStore:
        directory = Path(directory)
        meta = read_store_meta(directory, cls.backend)
        try:
            state = {key: meta.pop(key) for key in ("dim", "count", "ann", "norm_bound", "kind")}
            for key in ("backend", "format_version"):
                meta.pop(key)
            store = cls(int(state["dim"]), state["kind"], **meta)
            count = int(state["count"])
        except (KeyError, TypeError, ValueError, FashionVisionError) as exc:
            raise IndexCorruptError(f"{directory / STORE_FILE}: malformed ({exc})") from None
        store._exact = _read_index(directory / "exact.faiss", store.dim, count)
        store._ids, store._categories = _read_items(directory / "items.npz", count)
        if not np.array_equal(_faiss().vector_to_array(store._exact.id_map), store._ids):
            raise IndexCorruptError(
                f"{directory / 'items.npz'}: ids differ from {directory / 'exact.faiss'}'s"
            )
        if state["ann"]:
            store._ann = _read_index(directory / "ann.faiss", None, count)
            store._norm_bound = float(state["norm_bound"])
        return store

    # -- internals --

    def _category_selector(self, category: int) -> Any:
        if category not in self._selectors:
            members = self._ids[self._categories == category]
            self._selectors[category] = _faiss().IDSelectorBatch(members) if len(members) else None
        return self._selectors[category]

    def _all_vectors(self) -> np.ndarray:
        """Every vector in row (= `_ids`) order; read from the flat index under the id map."""
        return self._exact.index.reconstruct_n(0, len(self))

    def _ann_dim(self) -> int:
        """Vector size in the approximate index: the reduction's extra coordinate, and for
        IVF-PQ zeros up to a multiple of m (they change no distance)."""
        if self.kind != "ivfpq":
            return self.dim + 1
        m = int(self.options["m"])
        return -(-(self.dim + 1) // m) * m

    def _ann_vectors(self, vectors: np.ndarray, queries: bool = False) -> np.ndarray:
        """Items ``[x, sqrt(R^2 - |x|^2), 0...]`` (or `queries` ``[q, 0, 0...]``) as the
        approximate index holds them."""
        out = np.zeros((len(vectors), self._ann_dim()), dtype=np.float32)
        out[:, : self.dim] = vectors
        if not queries:
            slack = self._norm_bound**2 - np.square(vectors.astype(np.float64)).sum(axis=1)
            out[:, self.dim] = np.sqrt(np.clip(slack, 0.0, None))
        return out

    def _train_size(self) -> int:
        given = self.options["train_size"]
        if given is not None:
            return int(given)
        codes = 2 ** int(self.options["nbits"]) if self.kind == "ivfpq" else 0  # PQ centroids
        return 39 * max(int(self.options["nlist"]), codes)

    def _build_ann(self) -> None:
        """A new approximate index over every stored vector.  IVF trains on the first
        `train_size` vectors (insertion order: a store rebuilt from the same items trains on
        the same ones)."""
        faiss = _faiss()
        opts = self.options
        stored = self._all_vectors()
        largest = float(np.linalg.norm(stored, axis=1).max()) if len(stored) else 0.0
        self._norm_bound = NORM_HEADROOM * max(largest, self._norm_bound)
        if self.kind == "hnsw":
            graph = faiss.IndexHNSWFlat(self._ann_dim(), int(opts["M"]), faiss.METRIC_L2)
            graph.hnsw.efConstruction = int(opts["ef_construction"])
            graph.hnsw.efSearch = int(opts["ef_search"])
            ann = faiss.IndexIDMap2(graph)
        else:
            quantizer = faiss.IndexFlatL2(self._ann_dim())
            if self.kind == "ivfflat":
                ivf = faiss.IndexIVFFlat(
                    quantizer, self._ann_dim(), int(opts["nlist"]), faiss.METRIC_L2
                )
            else:
                ivf = faiss.IndexIVFPQ(
                    quantizer,
                    self._ann_dim(),
                    int(opts["nlist"]),
                    int(opts["m"]),
                    int(opts["nbits"]),
                    faiss.METRIC_L2,
                )
            ivf.nprobe = int(opts["nprobe"])
            ann = ivf  # it stores the ids in its lists: no id map (see `remove`)
        vectors = self._ann_vectors(stored)
        if not ann.is_trained:
            ann.train(vectors[: self._train_size()])
        if len(vectors):
            ann.add_with_ids(vectors, self._ids)
        self._ann = ann

    def _rerank(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The approximate index's ``rerank * k`` candidates, re-scored exactly from the stored
        vectors."""
        faiss = _faiss()
        depth = min(len(self), k * int(self.options["rerank"]))
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(int(self.options["ef_search"]), depth))
        else:
            params = faiss.SearchParametersIVF(nprobe=int(self.options["nprobe"]))
        _, candidates = self._ann.search(
            self._ann_vectors(queries, queries=True), depth, params=params
        )
        scores, ids = empty_results(len(queries), k)
        for q, row in enumerate(candidates):
            row = row[row >= 0]
            exact = self._exact.reconstruct_batch(row) @ queries[q]
            best = np.lexsort((row, -exact.astype(np.float64)))[:k]
            scores[q, : len(best)], ids[q, : len(best)] = exact[best], row[best]
        return scores, ids


def load_index_json(path: Path) -> Any:
    """A JSON file of an index; unreadable or malformed JSON is an `IndexCorruptError` naming it."""
    try:
        return load_json(path)
    except FashionVisionError as exc:
        raise IndexCorruptError(str(exc)) from None


def read_store_meta(directory: Path, backend: str) -> dict[str, Any]:
    """A store folder's ``store.json``, checked to be this backend's and this format's."""
    path = directory / STORE_FILE
    if not path.is_file():
        raise IndexCorruptError(f"{path}: missing (the vector store was not saved completely)")
    meta = load_index_json(path)
    if not isinstance(meta, dict) or meta.get("backend") != backend:
        raise IndexCorruptError(f"{path}: not a {backend} store")
    if meta.get("format_version") != STORE_FORMAT_VERSION:
        raise IndexCorruptError(
            f"{path}: store format {meta.get('format_version')!r}, this version reads "
            f"{STORE_FORMAT_VERSION}"
        )
    return meta


def _read_index(path: Path, dim: int | None, count: int) -> Any:
    if not path.is_file():
        raise IndexCorruptError(f"{path}: missing")
    try:
        index = _faiss().read_index(str(path))
    except Exception as exc:  # FAISS raises RuntimeError with a C++ trace on bad bytes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise IndexCorruptError(f"{path}: unreadable FAISS index ({first[:200]})") from None
    if (dim is not None and index.d != dim) or index.ntotal != count:
        raise IndexCorruptError(
            f"{path}: holds {index.ntotal} vectors of size {index.d}, expected {count}"
            + (f" of size {dim}" if dim is not None else "")
        )
    return index


def _read_items(path: Path, count: int) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path) as data:
            ids, categories = data["ids"].astype(np.int64), data["categories"].astype(np.int64)
    except FileNotFoundError:
        raise IndexCorruptError(f"{path}: missing") from None
    except Exception as exc:  # zipfile, pickle and format errors alike
        raise IndexCorruptError(f"{path}: unreadable ({exc})") from None
    if not len(ids) == len(categories) == count:
        raise IndexCorruptError(f"{path}: holds {len(ids)} items, expected {count}")
    return ids, categories


# --- choosing a backend ----------------------------------------------------------------------


def _store_class(backend: str) -> Callable[..., VectorStore]:
    if backend == "faiss":
        return FaissStore
    if backend == "qdrant":
        from fashionvision.retrieval.qdrant_store import QdrantStore

        return QdrantStore
    raise FashionVisionError(f"backend must be one of {BACKENDS}, not {backend!r}")


def create_store(backend: str, dim: int, **options: Any) -> VectorStore:
    """A new empty store of `backend` (``faiss`` or ``qdrant``) for `dim`-sized vectors."""
    return _store_class(backend)(dim, **options)


def load_store(backend: str, directory: str | Path) -> VectorStore:
    """The store saved in `directory` by `backend`'s ``save``."""
    cls = _store_class(backend)
    return cls.load(directory)  # type: ignore[attr-defined]
