"""`QdrantStore`: the `VectorStore` contract on Qdrant (dot-product distance).

Two modes:

* ``url="http://host:6333"``: a Qdrant server holds the points (collection `collection`, created
  with `shard_number`, `replication_factor` and `on_disk` when absent).  ``save`` writes only the
  connection settings; the API key is read from ``QDRANT_API_KEY`` and never written.  Searches
  use the server's HNSW graph (`hnsw_ef` candidates; ``exact=True`` for a full scan).  The
  category is a payload field with an integer index, so filtered searches stay fast.
* no url: an in-process Qdrant (``QdrantClient(":memory:")``, exact search), whose points
  ``save`` writes to ``points.npz`` and ``load`` reads back, for tests and small catalogues
  without a server.

qdrant-client is optional (``pip install qdrant-client``); it is imported on first use.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from fashionvision.errors import FashionVisionError, IndexCorruptError
from fashionvision.io_utils import atomic_directory
from fashionvision.retrieval.vector_store import (
    STORE_FILE,
    STORE_FORMAT_VERSION,
    check_add,
    check_queries,
    empty_results,
    ordered,
    read_store_meta,
)

API_KEY_VARIABLE = "QDRANT_API_KEY"
UPSERT_BATCH = 1024
CATEGORY_FIELD = "category"


def _qdrant() -> tuple[Any, Any]:
    """``(QdrantClient, models)``, or a FashionVisionError saying how to install them."""
    try:
        from qdrant_client import QdrantClient, models
    except ImportError:
        raise FashionVisionError(
            "the qdrant backend needs the qdrant-client package: pip install qdrant-client"
        ) from None
    return QdrantClient, models


class QdrantStore:
    """The Qdrant vector store (see the module docstring)."""

    backend: ClassVar[str] = "qdrant"

    def __init__(
        self,
        dim: int,
        url: str | None = None,
        collection: str = "fashionvision",
        shard_number: int | None = None,
        replication_factor: int | None = None,
        on_disk: bool = False,
        hnsw_ef: int | None = None,
        exact: bool = False,
        prefer_grpc: bool = False,
        timeout: int | None = None,
    ) -> None:
        client_class, models = _qdrant()
        self._models = models
        self.dim = int(dim)
        self.url = url
        self.collection = collection
        self._settings = {
            "shard_number": shard_number,
            "replication_factor": replication_factor,
            "on_disk": on_disk,
            "hnsw_ef": hnsw_ef,
            "exact": exact,
            "prefer_grpc": prefer_grpc,
            "timeout": timeout,
        }
        if url is None:
            self.client = client_class(location=":memory:")
        else:
            self.client = client_class(
                url=url,
                api_key=os.environ.get(API_KEY_VARIABLE),
                prefer_grpc=prefer_grpc,
                timeout=timeout,
            )
        self._ensure_collection()

    # -- contract --

    def __len__(self) -> int:
        return int(self._call(self.client.count, self.collection, exact=True).count)

    def config(self) -> dict[str, Any]:
        return {"url": self.url, "collection": self.collection, **self._settings}

    def clear(self) -> None:
        self._call(self.client.delete_collection, self.collection)
        self._ensure_collection()

    def add(self, ids: np.ndarray, vectors: np.ndarray, categories: np.ndarray) -> None:
        ids, vectors, categories = check_add(self.dim, ids, vectors, categories)
        if len(ids) == 0:
            return
        present = self._call(
            self.client.retrieve, self.collection, ids=ids.tolist(), with_payload=False
        )
        if present:
            raise ValueError(f"ids already in the store: {sorted(p.id for p in present)[:10]}")
        for start in range(0, len(ids), UPSERT_BATCH):
            part = slice(start, start + UPSERT_BATCH)
            batch = self._models.Batch(
                ids=ids[part].tolist(),
                vectors=vectors[part].tolist(),
                payloads=[{CATEGORY_FIELD: int(c)} for c in categories[part]],
            )
            self._call(self.client.upsert, self.collection, points=batch, wait=True)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        present = self._call(
            self.client.retrieve, self.collection, ids=ids.tolist(), with_payload=False
        )
        if present:
            selector = self._models.PointIdsList(points=[p.id for p in present])
            self._call(self.client.delete, self.collection, points_selector=selector, wait=True)
        return len(present)

    def search(
        self, queries: np.ndarray, k: int, category: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = check_queries(self.dim, queries, k)
        scores, ids = empty_results(len(queries), k)
        if k == 0 or len(queries) == 0:
            return scores, ids
        models = self._models
        where = None
        if category is not None:
            match = models.MatchValue(value=int(category))
            where = models.Filter(must=[models.FieldCondition(key=CATEGORY_FIELD, match=match)])
        params = models.SearchParams(
            hnsw_ef=self._settings["hnsw_ef"], exact=self._settings["exact"]
        )
        requests = [
            models.QueryRequest(query=q.tolist(), limit=k, filter=where, params=params)
            for q in queries
        ]
        answers = self._call(self.client.query_batch_points, self.collection, requests=requests)
        for row, answer in enumerate(answers):
            for col, point in enumerate(answer.points[:k]):
                scores[row, col], ids[row, col] = point.score, int(point.id)
        return ordered(scores, ids)

    def save(self, directory: str | Path) -> None:
        with atomic_directory(directory) as tmp:
            if self.url is None:  # the in-process points live only here: write them out
                ids, vectors, categories = self._all_points()
                np.savez(tmp / "points.npz", ids=ids, vectors=vectors, categories=categories)
            meta = {
                "backend": self.backend,
                "format_version": STORE_FORMAT_VERSION,
                "dim": self.dim,
                "count": len(self),
                **self.config(),
            }
            (tmp / STORE_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, directory: str | Path) -> QdrantStore:
        directory = Path(directory)
        meta = read_store_meta(directory, cls.backend)
        count = meta.pop("count", None)
        for key in ("backend", "format_version"):
            meta.pop(key)
        try:
            store = cls(**meta)
        except TypeError as exc:
            raise IndexCorruptError(f"{directory / STORE_FILE}: malformed ({exc})") from None
        if store.url is None:
            points = directory / "points.npz"
            try:
                with np.load(points) as data:
                    arrays = data["ids"], data["vectors"], data["categories"]
            except FileNotFoundError:
                raise IndexCorruptError(f"{points}: missing") from None
            except Exception as exc:  # zipfile and format errors alike
                raise IndexCorruptError(f"{points}: unreadable ({exc})") from None
            if len(arrays[0]) != count:
                raise IndexCorruptError(
                    f"{points}: holds {len(arrays[0])} points, expected {count}"
                )
            store.add(*arrays)
        return store

    # -- internals --

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """A client call; connection and server errors become one clear FashionVisionError."""
        try:
            return method(*args, **kwargs)
        except (FashionVisionError, ValueError):
            raise
        except Exception as exc:  # qdrant-client raises httpx, grpc and its own error types
            where = self.url or "in-process Qdrant"
            raise FashionVisionError(
                f"qdrant ({where}, collection {self.collection!r}): {type(exc).__name__}: {exc}"
            ) from None

    def _ensure_collection(self) -> None:
        models = self._models
        if self._call(self.client.collection_exists, self.collection):
            info = self._call(self.client.get_collection, self.collection)
            size = getattr(info.config.params.vectors, "size", None)
            if size != self.dim:
                raise FashionVisionError(
                    f"qdrant collection {self.collection!r} holds vectors of size {size}, "
                    f"this index needs {self.dim}: choose another collection"
                )
            return
        self._call(
            self.client.create_collection,
            self.collection,
            vectors_config=models.VectorParams(
                size=self.dim, distance=models.Distance.DOT, on_disk=self._settings["on_disk"]
            ),
            shard_number=self._settings["shard_number"],
            replication_factor=self._settings["replication_factor"],
        )
        if self.url is not None:  # the in-process engine has no payload indexes (it warns)
            self._call(
                self.client.create_payload_index,
                self.collection,
                field_name=CATEGORY_FIELD,
                field_schema=models.PayloadSchemaType.INTEGER,
            )

    def _all_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ids, vectors, categories = [], [], []
        offset = None
        while True:
            points, offset = self._call(
                self.client.scroll,
                self.collection,
                limit=UPSERT_BATCH,
                offset=offset,
                with_payload=True,
                with_vectors=True,
            )
            for p in points:
                ids.append(int(p.id))
                vectors.append(p.vector)
                categories.append(int(p.payload[CATEGORY_FIELD]))
            if offset is None:
                break
        return (
            np.asarray(ids, dtype=np.int64),
            np.asarray(vectors, dtype=np.float32).reshape(-1, self.dim),
            np.asarray(categories, dtype=np.int64),
        )
