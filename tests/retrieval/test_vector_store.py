"""The vector-store contract, for every store: search = brute force (with and without a category
filter), padding, add/remove, save/load; the augmented vectors through a store = the real
`PairSimilarity` over all pairs; approximate kinds' recall against exact search; damaged files.

References are independent of the stores: numpy inner products, and the float64
`PairSimilarity.forward` over every (query, gallery) pair.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fashionvision.errors import FashionVisionError, IndexCorruptError
from fashionvision.models.matching_head import PairSimilarity
from fashionvision.retrieval.ranking import (
    SimilaritySpace,
    similarity_parameters,
    top_k_by_similarity,
)
from fashionvision.retrieval.vector_store import (
    FaissStore,
    VectorStore,
    exact_top_k,
    load_store,
    top_k_logits,
)


def _qdrant(dim: int) -> VectorStore:
    pytest.importorskip("qdrant_client")
    from fashionvision.retrieval.qdrant_store import QdrantStore

    return QdrantStore(dim)


# every store that answers exactly at this size (HNSW: a small graph searched with ef >= k)
STORES = {
    "faiss-flat": lambda dim: FaissStore(dim),
    "faiss-hnsw": lambda dim: FaissStore(dim, "hnsw", M=16, ef_search=256),
    # every list probed; trained from 39 x 4 = 156 items, so the 300-item cases use the lists
    "faiss-ivfflat": lambda dim: FaissStore(dim, "ivfflat", nlist=4, nprobe=4),
    "qdrant": _qdrant,
}


@pytest.fixture(params=sorted(STORES))
def make_store(request):
    return STORES[request.param]


def random_items(n: int = 300, dim: int = 9, seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = rng.choice(10_000, size=n, replace=False).astype(np.int64)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    categories = rng.integers(1, 5, size=n)
    return ids, vectors, categories


def brute_force(queries, ids, vectors, categories, k, category=None):
    scores = queries.astype(np.float64) @ vectors.T.astype(np.float64)
    if category is not None:
        scores = np.where(categories == category, scores, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    best = np.take_along_axis(scores, order, 1)
    return best, np.where(np.isfinite(best), ids[order], -1)


@pytest.mark.parametrize("category", [None, 2])
def test_search_equals_brute_force(make_store, category):
    ids, vectors, categories = random_items()
    store = make_store(9)
    store.add(ids, vectors, categories)
    assert len(store) == 300
    queries = np.random.default_rng(1).normal(size=(7, 9)).astype(np.float32)
    scores, found = store.search(queries, 10, category)
    ref_scores, ref_ids = brute_force(queries, ids, vectors, categories, 10, category)
    assert found.dtype == np.int64 and scores.shape == found.shape == (7, 10)
    assert found.tolist() == ref_ids.tolist()
    np.testing.assert_allclose(scores, ref_scores, atol=1e-4)


def test_fewer_items_than_k_are_padded(make_store):
    ids, vectors, categories = random_items(n=3)
    store = make_store(9)
    queries = vectors[:2]
    scores, found = store.search(queries, 4)  # empty store
    assert (found == -1).all() and np.isneginf(scores).all()
    store.add(ids, vectors, np.array([1, 1, 2]))
    scores, found = store.search(queries, 5)
    assert (found[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()
    assert sorted(found[0, :3].tolist()) == sorted(ids.tolist())
    _, found = store.search(queries, 5, category=2)
    assert found[:, 0].tolist() == [ids[2]] * 2 and (found[:, 1:] == -1).all()
    _, found = store.search(queries, 5, category=13)  # no item of that category
    assert (found == -1).all()
    assert store.search(queries, 0)[1].shape == (2, 0)


def test_remove_and_add_again(make_store):
    ids, vectors, categories = random_items()
    store = make_store(9)
    store.add(ids, vectors, categories)
    gone = ids[::3]
    assert store.remove(np.concatenate([gone, [999_999]])) == len(gone)  # unknown ids ignored
    assert len(store) == 300 - len(gone)
    keep = np.ones(300, bool)
    keep[::3] = False
    queries = vectors[:5]
    for category in (None, 3):
        _, found = store.search(queries, 20, category)
        _, ref = brute_force(queries, ids[keep], vectors[keep], categories[keep], 20, category)
        assert found.tolist() == ref.tolist()
    store.add(gone[:2], vectors[::3][:2], categories[::3][:2])
    assert len(store) == 300 - len(gone) + 2
    assert store.search(vectors[:1], 1)[1][0, 0] == ids[0]  # its own vector is its best match
    store.clear()
    assert len(store) == 0


def test_add_rejects_duplicates_and_bad_input(make_store):
    ids, vectors, categories = random_items(n=10)
    store = make_store(9)
    store.add(ids, vectors, categories)
    with pytest.raises(ValueError, match="already in the store"):
        store.add(ids[:1], vectors[:1], categories[:1])
    with pytest.raises(ValueError, match="distinct"):
        store.add(np.array([50_001, 50_001]), vectors[:2], categories[:2])
    with pytest.raises(ValueError, match=r"\[N, 9\]"):
        store.add(np.array([50_002]), vectors[:1, :5], categories[:1])
    bad = vectors[:1].copy()
    bad[0, 3] = np.nan
    with pytest.raises(FashionVisionError, match="NaN"):
        store.add(np.array([50_003]), bad, categories[:1])
    with pytest.raises(ValueError, match=r"\[Q, 9\]"):
        store.search(vectors[:, :4], 3)
    assert len(store) == 10


def test_save_and_load_round_trip(make_store, tmp_path):
    ids, vectors, categories = random_items()
    store = make_store(9)
    store.add(ids, vectors, categories)
    store.remove(ids[:10])
    store.save(tmp_path / "store")
    store.save(tmp_path / "store")  # replacing a saved store
    loaded = load_store(store.backend, tmp_path / "store")
    assert len(loaded) == len(store) == 290 and loaded.config() == store.config()
    for category in (None, 1):
        assert_same_results(
            loaded.search(vectors[:6], 15, category), store.search(vectors[:6], 15, category)
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # no temporary left


def assert_same_results(a, b):
    assert a[1].tolist() == b[1].tolist()
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)


# --- the closed form through a store ---------------------------------------------------------


def similarity_case(num_q=23, num_g=150, dim=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    queries = torch.randn(num_q, dim, generator=gen) + 2.0
    gallery = torch.randn(num_g, dim, generator=gen) + 2.0
    sim = PairSimilarity(dim)
    with torch.no_grad():
        sim.fc.weight.copy_(torch.randn(1, dim, generator=gen))  # both signs
        sim.fc.bias.fill_(-0.7)
    categories = torch.randint(1, 4, (num_g,), generator=gen).numpy()
    return queries, gallery, sim, categories


def pair_similarity_logits(sim: PairSimilarity, queries, gallery) -> np.ndarray:
    """Every (query, gallery) pair through the real module, in float64: [Q, G]."""
    sim64 = PairSimilarity(queries.shape[1]).double()
    sim64.load_state_dict(sim.state_dict())
    a = queries.double()[:, None, :].expand(-1, len(gallery), -1)
    b = gallery.double()[None, :, :].expand(len(queries), -1, -1)
    with torch.no_grad():
        return sim64(a, b).numpy()


@pytest.mark.parametrize("category", [None, 2])
@pytest.mark.parametrize("ranking", ["similarity", "distance"])
def test_store_search_ranks_as_the_similarity_network(make_store, category, ranking):
    queries, gallery, sim, categories = similarity_case()
    space = SimilaritySpace.of(ranking, sim, dim=16)
    store = make_store(17)
    ids = np.arange(len(gallery)) * 7 + 3
    store.add(ids, space.gallery_vectors(gallery), categories)
    logits, found = top_k_logits(store, space, queries.numpy(), 20, category)
    if ranking == "similarity":
        reference = pair_similarity_logits(sim, queries, gallery)
    else:
        reference = -torch.cdist(queries.double(), gallery.double()).square().numpy()
    if category is not None:
        reference = np.where(categories == category, reference, -np.inf)
    order = np.argsort(-reference, axis=1, kind="stable")[:, :20]
    assert found.tolist() == ids[order].tolist()
    np.testing.assert_allclose(logits, np.take_along_axis(reference, order, 1), atol=1e-3)


def test_exact_top_k_is_the_blockwise_reference():
    queries, gallery, sim, _ = similarity_case(seed=3)
    weight, bias = similarity_parameters(sim)
    space = SimilaritySpace.of("similarity", sim, center=gallery.mean(dim=0))
    logits, indices = exact_top_k(space, queries, gallery, 20)
    ref_logits, ref_indices = top_k_by_similarity(queries, gallery, weight, bias, 20)
    assert indices.tolist() == ref_indices.tolist()
    np.testing.assert_allclose(logits, ref_logits.numpy(), atol=1e-4)
    assert exact_top_k(space, queries, gallery[:5], 20)[1].shape == (23, 5)  # never padded


def test_similarity_space_round_trips_and_checks_input():
    _, gallery, sim, _ = similarity_case()
    space = SimilaritySpace.of("similarity", sim)
    again = SimilaritySpace.from_dict(space.to_dict())
    np.testing.assert_array_equal(again.gallery_vectors(gallery), space.gallery_vectors(gallery))
    with pytest.raises(FashionVisionError, match="similarity network"):
        SimilaritySpace.of("similarity", None)
    with pytest.raises(ValueError, match="ranking must be"):
        SimilaritySpace.of("cosine", sim)
    with pytest.raises(ValueError, match=r"\[N, 16\]"):
        space.gallery_vectors(gallery[:, :3])


# --- approximate kinds ------------------------------------------------------------------------


def clustered(n: int, dim: int, clusters: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)) * 3
    return (centres[rng.integers(0, clusters, n)] + rng.normal(size=(n, dim))).astype(np.float32)


@pytest.mark.parametrize(
    ("kind", "options", "bound"),
    [
        ("ivfpq", {"nlist": 16, "m": 9, "nbits": 6, "nprobe": 8, "rerank": 10}, 0.9),
        ("ivfflat", {"nlist": 16, "nprobe": 4}, 0.9),
        ("hnsw", {}, 0.95),  # the defaults
    ],
)
def test_approximate_recall_against_exact(kind, options, bound):
    dim, k = 17, 10  # IVF-PQ vectors: 17 + 1 (the reduction's coordinate), padded for m = 9
    vectors = clustered(3000, dim, 30, seed=4)
    queries = clustered(100, dim, 30, seed=5)
    ids = np.arange(3000, dtype=np.int64)
    categories = np.ones(3000, dtype=np.int64)
    exact, approximate = FaissStore(dim), FaissStore(dim, kind, **options)
    for store in (exact, approximate):
        store.add(ids, vectors, categories)
    assert approximate._ann is not None  # trained (IVF-PQ: 3000 >= 39 * 64 vectors)
    assert approximate._ann.ntotal == 3000
    truth = exact.search(queries, k)[1]
    found = approximate.search(queries, k)[1]
    recall = np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)])
    print(f"{kind} recall@{k} = {recall:.3f}")
    assert recall >= bound
    # the category filter is exact for every kind
    assert_same_results(approximate.search(queries, k, 1), exact.search(queries, k, 1))


@pytest.mark.parametrize(
    ("kind", "options"), [("ivfpq", {"nlist": 8, "m": 3, "nbits": 8}), ("ivfflat", {"nlist": 8})]
)
def test_ivf_below_its_training_size_searches_exactly(kind, options):
    ids, vectors, categories = random_items()  # 300 < 39 * 256 (PQ) and < 39 * 8 (flat lists)
    store = FaissStore(9, kind, **options)
    store.add(ids, vectors, categories)
    assert store._ann is None
    assert_same_results(
        store.search(vectors[:4], 5), brute_force_results(vectors[:4], ids, vectors)
    )


def test_ivfflat_lists_survive_remove_save_and_load(tmp_path):
    """The trained lists are saved and loaded with the store, and removals reach them."""
    vectors = clustered(2000, 17, 20, seed=6)
    queries = clustered(50, 17, 20, seed=7)
    ids = np.arange(2000, dtype=np.int64) * 3
    categories = np.arange(2000) % 4
    store = FaissStore(17, "ivfflat", nlist=16, nprobe=8)
    store.add(ids, vectors, categories)
    assert store._ann is not None and store._ann.ntotal == 2000
    assert store.remove(ids[::5]) == 400 and store._ann.ntotal == 1600
    store.save(tmp_path / "store")
    loaded = load_store("faiss", tmp_path / "store")
    assert loaded.config() == store.config() and loaded._ann.ntotal == 1600
    for category in (None, 2):
        assert_same_results(
            loaded.search(queries, 10, category), store.search(queries, 10, category)
        )
    assert not np.isin(loaded.search(queries, 10)[1], ids[::5]).any()


@pytest.mark.parametrize("kind", ["ivfpq", "ivfflat"])
def test_ivf_saved_inside_an_id_map_still_removes_correctly(kind, tmp_path):
    """Stores saved before the inverted files held their ids kept them in an ``IndexIDMap2``,
    whose `remove_ids` misnumbers an inverted file: removing from such a loaded store rebuilds
    the lists, and search then agrees with an exact store."""
    import faiss

    vectors = clustered(2000, 17, 20, seed=8)
    ids = np.arange(2000, dtype=np.int64) * 3 + 1
    options = {"nlist": 8, "nprobe": 8} | ({"m": 6, "nbits": 4} if kind == "ivfpq" else {})
    store = FaissStore(17, kind, rerank=50, **options)
    store.add(ids, vectors, np.ones(2000))
    lists = faiss.clone_index(store._ann)  # trained
    lists.reset()
    store._ann = faiss.IndexIDMap2(lists)  # the old layout: the lists number the rows 0, 1, ...
    store._ann.add_with_ids(store._ann_vectors(store._all_vectors()), ids)
    store.save(tmp_path / "old")
    loaded = FaissStore.load(tmp_path / "old")
    exact = FaissStore(17)
    exact.add(ids, vectors, np.ones(2000))
    for s in (loaded, exact):
        s.remove(ids[::4])
    assert not isinstance(loaded._ann, faiss.IndexIDMap2)
    assert_same_results(loaded.search(vectors[1:30], 10), exact.search(vectors[1:30], 10))


def brute_force_results(queries, ids, vectors):
    scores, found = brute_force(queries, ids, vectors, None, 5)
    return scores.astype(np.float32), found


def test_unknown_kind_or_option_is_an_error():
    with pytest.raises(FashionVisionError, match="kind must be"):
        FaissStore(4, "lsh")
    with pytest.raises(FashionVisionError, match="unknown ivfpq options"):
        FaissStore(4, "ivfpq", nlists=3)


# --- damaged files ----------------------------------------------------------------------------


@pytest.fixture
def saved_store(tmp_path):
    ids, vectors, categories = random_items()
    store = FaissStore(9)
    store.add(ids, vectors, categories)
    store.save(tmp_path / "store")
    return tmp_path / "store"


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("exact.faiss", lambda b: b[: len(b) // 2], "unreadable FAISS index"),
        ("exact.faiss", lambda b: b"garbage" * 10, "unreadable FAISS index"),
        ("items.npz", lambda b: b[:100], "unreadable"),
        ("store.json", lambda b: b[:10], "not valid JSON"),
    ],
)
def test_damaged_store_files_are_named(saved_store, name, damage, message):
    path = saved_store / name
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(IndexCorruptError, match=message) as info:
        FaissStore.load(saved_store)
    assert str(path) in str(info.value)


def test_missing_store_file_is_named(saved_store):
    (saved_store / "exact.faiss").unlink()
    with pytest.raises(IndexCorruptError, match="exact.faiss: missing"):
        FaissStore.load(saved_store)
