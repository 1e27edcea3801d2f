"""Exact, memory-bounded gallery ranking for consumer-to-shop retrieval.

Match R-CNN scores a (query, gallery) pair with `PairSimilarity`:
``logit(q, g) = sum_d w_d (q_d - g_d)^2 + b``.  Expanding the square gives the closed form

    logit(q, g) = sum_d w_d q_d^2  +  sum_d w_d g_d^2  -  2 (w * q) . g  +  b,

so, for a block of queries ``Q [A, D]`` and gallery items ``G [B, D]``, all ``A x B`` logits are
one matrix product of *augmented vectors* (`augment_queries`, `augment_gallery`):

    query  ->  [-2 w * q, 1]          [A, D + 1],   plus the constant  sum_d w_d q_d^2 + b  [A]
    gallery ->  [g, sum_d w_d g_d^2]  [B, D + 1]

    logits = constant[:, None] + query_vectors @ gallery_vectors.T          (`pairwise_logits`)

The same vectors fit any maximum-inner-product index (the per-query constant does not change a
query's order).  Since w may have either sign, the network's best match need not be near the query
in Euclidean distance: `top_k_by_similarity` ranks the *whole* gallery by the network, exactly.
Squared Euclidean distance is the special case ``w = -1, b = 0`` (``logit = -|q - g|^2``), which is
how `top_k_by_distance` is computed.

Both top-k functions work blockwise: `query_chunk` queries against `gallery_chunk` gallery items
at a time, keeping a running top-k per query, so memory is ``O(query_chunk x gallery_chunk +
(Q + G) x D)`` and the full ``Q x G`` matrix is never formed.  Ties are broken deterministically:
the lower gallery index comes first.

`SimilaritySpace` is the same identity for vector stores (numpy in, float32 augmented vectors out):
`fashionvision.retrieval.vector_store` searches those vectors by inner product, which is how the
gallery index and the retrieval evaluator rank; the blockwise top-k functions here are the exact
reference the stores are tested against.

Precision: the computation runs in float32 (float64 inputs stay float64).  The closed form
subtracts large terms (``w q^2 + w g^2`` against ``2 w q g``), so its absolute error is about
``eps * sum_d |w_d| (q_d^2 + g_d^2)`` rather than ``eps * |logit|``; both sides are centred on the
gallery mean first (logits are translation invariant) to keep ``q`` and ``g`` small.  Scores may
therefore differ from ``PairSimilarity.forward`` by that amount, and two candidates whose logits
differ by less may come out in either order; any other order is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from fashionvision.errors import FashionVisionError
from fashionvision.models.matching_head import PairSimilarity

__all__ = [
    "Ranking",
    "SimilaritySpace",
    "augment_gallery",
    "augment_queries",
    "pairwise_logits",
    "rank_gallery",
    "similarity_parameters",
    "top_k_by_distance",
    "top_k_by_similarity",
]

Ranking = Literal["similarity", "distance"]
RANKINGS: tuple[str, ...] = ("similarity", "distance")
DEFAULT_QUERY_CHUNK = 1024
DEFAULT_GALLERY_CHUNK = 4096


# --- the closed form --------------------------------------------------------------------------


def augment_queries(queries: Tensor, weight: Tensor, bias: float | Tensor) -> tuple[Tensor, Tensor]:
    """Query side of the closed form.

    Args:
        queries: ``[A, D]`` embeddings.
        weight: ``[D]`` weights w of the similarity network; bias: its scalar bias b.
    Returns:
        ``(vectors [A, D + 1], constants [A])``: ``vectors = [-2 w * q, 1]`` and
        ``constants = sum_d w_d q_d^2 + b``, so that with ``augment_gallery``'s vectors
        ``logit(q, g) = constant(q) + vector(q) . vector(g)``.
    """
    weight = weight.to(queries)
    vectors = torch.cat([queries * (-2 * weight), queries.new_ones(len(queries), 1)], dim=1)
    constants = queries.square() @ weight + bias
    return vectors, constants


def augment_gallery(gallery: Tensor, weight: Tensor) -> Tensor:
    """Gallery side of the closed form: ``[B, D]`` -> ``[B, D + 1]`` rows ``[g, sum_d w_d g_d^2]``
    (see `augment_queries`)."""
    weight = weight.to(gallery)
    return torch.cat([gallery, (gallery.square() @ weight)[:, None]], dim=1)


def pairwise_logits(
    queries: Tensor, gallery: Tensor, weight: Tensor, bias: float | Tensor
) -> Tensor:
    """All-pairs similarity logits ``[A, B]`` of queries ``[A, D]`` and gallery ``[B, D]`` by the
    closed form (one matrix product); equal to ``PairSimilarity`` up to the rounding described in
    the module docstring.  Dense: use the top-k functions for large inputs."""
    query_vectors, constants = augment_queries(queries, weight, bias)
    return torch.addmm(constants[:, None], query_vectors, augment_gallery(gallery, weight).T)


def similarity_parameters(similarity: PairSimilarity) -> tuple[Tensor, float]:
    """``(w [D], b)`` of a `PairSimilarity` (``logit = fc((a - b)^2)``), detached."""
    fc = getattr(similarity, "fc", None)
    if not isinstance(fc, nn.Linear) or fc.out_features != 1:
        raise ValueError("similarity must be a PairSimilarity (one linear layer to 1 output)")
    bias = float(fc.bias.detach()[0]) if fc.bias is not None else 0.0
    return fc.weight.detach()[0], bias


@dataclass(frozen=True)
class SimilaritySpace:
    """The closed form for a maximum-inner-product store: embeddings -> augmented vectors.

    ``weight [D]`` and ``bias`` are the similarity network's (``w = -1, b = 0`` for distance
    ranking); ``center [D]`` (optional) is subtracted from both sides first, which leaves every
    logit unchanged and keeps the float32 rounding small (module docstring).  Augmentation runs
    in float64; the vectors are float32, as stores hold them.
    """

    weight: np.ndarray
    bias: float
    center: np.ndarray | None = None

    @classmethod
    def of(
        cls,
        ranking: str,
        similarity: PairSimilarity | None = None,
        dim: int | None = None,
        center: np.ndarray | Tensor | None = None,
    ) -> SimilaritySpace:
        """The space of ``ranking="similarity"`` (needs `similarity`) or ``"distance"`` (needs
        `dim`, the embedding size)."""
        if center is not None:
            center = np.asarray(torch.as_tensor(center).detach().cpu(), dtype=np.float64)
        if ranking == "similarity":
            if similarity is None:
                raise FashionVisionError(
                    "retrieval: ranking by similarity needs the model's similarity network"
                )
            weight, bias = similarity_parameters(similarity)
            return cls(weight.cpu().double().numpy(), bias, center)
        if ranking == "distance":
            if dim is None:
                raise ValueError("distance ranking needs the embedding dimension")
            return cls(-np.ones(dim), 0.0, center)
        raise ValueError(f"ranking must be 'similarity' or 'distance', not {ranking!r}")

    @property
    def dim(self) -> int:
        """The embedding dimension D (vectors have D + 1 entries)."""
        return len(self.weight)

    def gallery_vectors(self, embeddings: np.ndarray | Tensor) -> np.ndarray:
        """``[N, D]`` embeddings -> float32 ``[N, D + 1]`` vectors (`augment_gallery`)."""
        return augment_gallery(self._centred(embeddings), self._weight()).numpy().astype(np.float32)

    def query_vectors(self, embeddings: np.ndarray | Tensor) -> tuple[np.ndarray, np.ndarray]:
        """``[Q, D]`` embeddings -> ``(vectors float32 [Q, D + 1], constants float64 [Q])``
        (`augment_queries`): ``logit = constant + vector . gallery_vector``."""
        vectors, constants = augment_queries(self._centred(embeddings), self._weight(), self.bias)
        return vectors.numpy().astype(np.float32), constants.numpy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (floats written with full precision by `json`)."""
        return {
            "weight": self.weight.tolist(),
            "bias": float(self.bias),
            "center": None if self.center is None else self.center.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SimilaritySpace:
        center = data.get("center")
        return cls(
            np.asarray(data["weight"], dtype=np.float64),
            float(data["bias"]),
            None if center is None else np.asarray(center, dtype=np.float64),
        )

    def _weight(self) -> Tensor:
        return torch.from_numpy(np.asarray(self.weight, dtype=np.float64))

    def _centred(self, embeddings: np.ndarray | Tensor) -> Tensor:
        x = torch.as_tensor(embeddings).detach().cpu().to(torch.float64)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected [N, {self.dim}] embeddings, got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise FashionVisionError("retrieval: the embeddings hold NaN or infinite values")
        return x if self.center is None else x - torch.from_numpy(self.center)


# --- blockwise exact top-k --------------------------------------------------------------------


@torch.no_grad()
def top_k_by_similarity(
    queries: Tensor,
    gallery: Tensor,
    weight: Tensor,
    bias: float | Tensor,
    k: int,
    *,
    query_chunk: int = DEFAULT_QUERY_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
) -> tuple[Tensor, Tensor]:
    """The `k` gallery items with the highest similarity logit for each query, exactly.

    Args:
        queries: ``[Q, D]`` embeddings; gallery: ``[G, D]`` embeddings (G >= 1).
        weight: ``[D]`` and bias: scalar of the similarity network (`similarity_parameters`).
        k: results per query; rows hold ``min(k, G)`` entries (never padded).
        query_chunk, gallery_chunk: block size; peak extra memory is about
            ``query_chunk * gallery_chunk`` scores.
    Returns:
        ``(logits [Q, min(k, G)]`` descending, ``indices [Q, min(k, G)]`` int64 into `gallery`);
        equal logits are ordered by increasing index.  Same device as the inputs.
    """
    queries, gallery = _validated(queries, gallery, k, query_chunk, gallery_chunk)
    weight = weight.detach().to(device=queries.device, dtype=queries.dtype).reshape(-1)
    if weight.numel() != queries.shape[1]:
        raise ValueError(f"weight has {weight.numel()} entries for {queries.shape[1]}-d embeddings")
    return _top_k(queries, gallery, weight, bias, k, query_chunk, gallery_chunk)


@torch.no_grad()
def top_k_by_distance(
    queries: Tensor,
    gallery: Tensor,
    k: int,
    *,
    squared: bool = False,
    query_chunk: int = DEFAULT_QUERY_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
) -> tuple[Tensor, Tensor]:
    """The `k` nearest gallery items by Euclidean distance for each query, exactly (blockwise,
    as `top_k_by_similarity`, with ``w = -1, b = 0``).

    Returns:
        ``(distances [Q, min(k, G)]`` ascending (squared when `squared`),
        ``indices [Q, min(k, G)]`` int64); equal distances are ordered by increasing index.
    """
    queries, gallery = _validated(queries, gallery, k, query_chunk, gallery_chunk)
    weight = -torch.ones(queries.shape[1], dtype=queries.dtype, device=queries.device)
    scores, indices = _top_k(queries, gallery, weight, 0.0, k, query_chunk, gallery_chunk)
    distances = scores.neg_().clamp_(min=0)  # rounding can make -|q - g|^2 slightly positive
    return (distances if squared else distances.sqrt_()), indices


def rank_gallery(
    queries: Tensor,
    gallery: Tensor,
    k: int,
    ranking: Literal["similarity", "distance"] = "similarity",
    similarity: PairSimilarity | None = None,
    *,
    query_chunk: int = DEFAULT_QUERY_CHUNK,
    gallery_chunk: int = DEFAULT_GALLERY_CHUNK,
) -> Tensor:
    """Gallery indices ``[Q, min(k, G)]`` for each query ``[Q, D]`` into `gallery` ``[G, D]``,
    best first: by decreasing `similarity` logit (``ranking="similarity"``, the model's own
    ranking over the whole gallery) or by increasing Euclidean distance (``"distance"``).

    Rows are shorter than `k` when the gallery is; they are not padded (the caller decides).
    Raises FashionVisionError for an empty gallery or when similarity ranking has no network.
    """
    chunks = {"query_chunk": query_chunk, "gallery_chunk": gallery_chunk}
    if ranking == "similarity":
        if similarity is None:
            raise FashionVisionError(
                "retrieval: ranking by similarity needs the model's similarity network"
            )
        weight, bias = similarity_parameters(similarity)
        return top_k_by_similarity(queries, gallery, weight, bias, k, **chunks)[1]
    if ranking == "distance":
        return top_k_by_distance(queries, gallery, k, squared=True, **chunks)[1]
    raise ValueError(f"ranking must be 'similarity' or 'distance', not {ranking!r}")


# --- internals --------------------------------------------------------------------------------


def _validated(
    queries: Tensor, gallery: Tensor, k: int, query_chunk: int, gallery_chunk: int
) -> tuple[Tensor, Tensor]:
    """Checked inputs in the compute dtype (float32, or float64 when given)."""
    if queries.ndim != 2 or gallery.ndim != 2 or queries.shape[1] != gallery.shape[1]:
        raise ValueError(
            f"queries [Q, D] and gallery [G, D] expected, got {tuple(queries.shape)} and "
            f"{tuple(gallery.shape)}"
        )
    if k < 0 or query_chunk < 1 or gallery_chunk < 1:
        raise ValueError("k must be >= 0 and the chunk sizes >= 1")
    if len(gallery) == 0:
        raise FashionVisionError("retrieval: the gallery is empty (no shop garment found)")
    dtype = torch.float64 if torch.float64 in (queries.dtype, gallery.dtype) else torch.float32
    queries, gallery = queries.detach().to(dtype), gallery.detach().to(dtype=dtype)
    if not (torch.isfinite(queries).all() and torch.isfinite(gallery).all()):
        raise FashionVisionError("retrieval: the embeddings hold NaN or infinite values")
    return queries, gallery.to(queries.device)


def _top_k(
    queries: Tensor,
    gallery: Tensor,
    weight: Tensor,
    bias: float | Tensor,
    k: int,
    query_chunk: int,
    gallery_chunk: int,
) -> tuple[Tensor, Tensor]:
    """Blockwise exact top-k of the closed-form logits (see the module docstring)."""
    k = min(k, len(gallery))
    scores = queries.new_empty(len(queries), k)
    indices = torch.empty(len(queries), k, dtype=torch.int64, device=queries.device)
    if k == 0 or len(queries) == 0:
        return scores, indices
    center = gallery.mean(dim=0)
    gallery_vectors = augment_gallery(gallery - center, weight)
    for start in range(0, len(queries), query_chunk):
        query_vectors, constants = augment_queries(
            queries[start : start + query_chunk] - center, weight, bias
        )
        best_s, best_i = None, None
        for g0 in range(0, len(gallery), gallery_chunk):
            # The per-query constant does not change a row's order: add it to the k kept only.
            block = query_vectors @ gallery_vectors[g0 : g0 + gallery_chunk].T
            s, i = _block_top_k(block, k)
            i += g0
            if best_s is None or best_i is None:
                best_s, best_i = s, i
            else:
                best_s, best_i = _merge(best_s, best_i, s, i, k)
        assert best_s is not None and best_i is not None
        stop = start + len(query_vectors)
        scores[start:stop] = best_s + constants[:, None]
        indices[start:stop] = best_i
    return scores, indices


def _block_top_k(block: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Top-k of each row of `block` ``[A, n]``, ordered by (value descending, column ascending):
    ``(values [A, min(k, n)], columns [A, min(k, n)])``."""
    if block.shape[1] <= k:
        return block.sort(dim=1, descending=True, stable=True)
    values, columns = block.topk(k + 1, dim=1)
    # A tie across the k-th place makes topk's choice arbitrary: redo those rows with a stable sort.
    straddling = values[:, k - 1] == values[:, k]
    values, columns = _order_ties_by_index(values[:, :k], columns[:, :k])
    if straddling.any():
        rows = straddling.nonzero().squeeze(1)
        exact_values, exact_columns = block[rows].sort(dim=1, descending=True, stable=True)
        values[rows], columns[rows] = exact_values[:, :k], exact_columns[:, :k]
    return values, columns


def _order_ties_by_index(values: Tensor, indices: Tensor) -> tuple[Tensor, Tensor]:
    """Rows sorted by (value descending, index ascending); indices unique within a row."""
    by_index = indices.argsort(dim=1)
    values, indices = values.gather(1, by_index), indices.gather(1, by_index)
    by_value = values.argsort(dim=1, descending=True, stable=True)
    return values.gather(1, by_value), indices.gather(1, by_value)


def _merge(
    best_s: Tensor, best_i: Tensor, new_s: Tensor, new_i: Tensor, k: int
) -> tuple[Tensor, Tensor]:
    """Merge a running top-k with a later chunk's (both ordered by value descending, index
    ascending; every running index lower than every new one): the stable sort of the
    concatenation keeps that order."""
    values, indices = torch.cat([best_s, new_s], dim=1), torch.cat([best_i, new_i], dim=1)
    order = values.argsort(dim=1, descending=True, stable=True)[:, :k]
    return values.gather(1, order), indices.gather(1, order)
