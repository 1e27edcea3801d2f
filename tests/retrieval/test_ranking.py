import pytest
import torch

from fashionvision.errors import FashionVisionError
from fashionvision.models.matching_head import PairSimilarity
from fashionvision.retrieval.ranking import (
    augment_gallery,
    augment_queries,
    pairwise_logits,
    rank_gallery,
    similarity_parameters,
    top_k_by_distance,
    top_k_by_similarity,
)

CHUNKS = [(1, 1), (1, 203), (7, 13), (5, 50), (37, 64), (64, 1000), (1000, 21)]


def make_case(num_q: int = 37, num_g: int = 203, dim: int = 16, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    queries = torch.randn(num_q, dim, generator=gen) + 3.0  # offset: exercises the centring
    gallery = torch.randn(num_g, dim, generator=gen) + 3.0
    sim = PairSimilarity(dim)
    with torch.no_grad():
        sim.fc.weight.copy_(torch.randn(1, dim, generator=gen))  # both signs
        sim.fc.bias.fill_(0.3)
    assert (sim.fc.weight > 0).any() and (sim.fc.weight < 0).any()
    return queries, gallery, sim


def brute_logits(sim: PairSimilarity, queries: torch.Tensor, gallery: torch.Tensor):
    """All pairs through the real module, in float64: [Q, G]."""
    sim64 = PairSimilarity(queries.shape[1]).double()
    sim64.load_state_dict(sim.state_dict())
    a = queries.double()[:, None, :].expand(-1, len(gallery), -1)
    b = gallery.double()[None, :, :].expand(len(queries), -1, -1)
    with torch.no_grad():
        return sim64(a, b)


def assert_same_ranking(scores, indices, reference, descending: bool, tol: float) -> None:
    """`indices` is the exact top-k of `reference` [Q, G] (float64) up to near-ties, and `scores`
    are the reference values there."""
    k = indices.shape[1]
    ref_sorted, ref_idx = reference.sort(dim=1, descending=descending, stable=True)
    ref_sorted, ref_idx = ref_sorted[:, :k], ref_idx[:, :k]
    torch.testing.assert_close(scores.double(), reference.gather(1, indices), atol=tol, rtol=0)
    # whatever we ranked at position j has (nearly) the j-th best true value
    torch.testing.assert_close(reference.gather(1, indices), ref_sorted, atol=tol, rtol=0)
    # order disagreements, if any, are only among near-ties (none expected on random data)
    differ = indices != ref_idx
    assert differ.float().mean() < 0.01
    gaps = (reference.gather(1, indices) - reference.gather(1, ref_idx)).abs()
    assert (gaps[differ] <= tol).all()
    assert all(len(set(row)) == k for row in indices.tolist())


@pytest.mark.parametrize(("query_chunk", "gallery_chunk"), CHUNKS)
def test_similarity_top_k_equals_brute_force(query_chunk, gallery_chunk):
    queries, gallery, sim = make_case()
    weight, bias = similarity_parameters(sim)
    scores, indices = top_k_by_similarity(
        queries, gallery, weight, bias, 20, query_chunk=query_chunk, gallery_chunk=gallery_chunk
    )
    assert scores.shape == indices.shape == (37, 20)
    assert scores.dtype == torch.float32 and indices.dtype == torch.int64
    assert (scores[:, 1:] <= scores[:, :-1]).all()
    assert_same_ranking(scores, indices, brute_logits(sim, queries, gallery), True, 1e-3)


def test_similarity_top_k_exact_in_float64():
    queries, gallery, sim = make_case(seed=1)
    weight, bias = similarity_parameters(sim)
    reference = brute_logits(sim, queries, gallery)
    scores, indices = top_k_by_similarity(
        queries.double(), gallery.double(), weight, bias, 20, query_chunk=5, gallery_chunk=17
    )
    assert scores.dtype == torch.float64
    assert (
        indices.tolist() == reference.sort(dim=1, descending=True, stable=True)[1][:, :20].tolist()
    )
    torch.testing.assert_close(scores, reference.gather(1, indices), atol=1e-9, rtol=0)


def test_the_network_top_1_can_be_far_in_euclidean_distance():
    # why the whole gallery is ranked: with mixed-sign w the best logit is not among the nearest
    queries, gallery, sim = make_case(num_g=2000, seed=2)
    weight, bias = similarity_parameters(sim)
    best = top_k_by_similarity(queries, gallery, weight, bias, 1)[1][:, 0]
    nearest = top_k_by_distance(queries, gallery, 100)[1]
    assert not (nearest == best[:, None]).any(dim=1).all()


@pytest.mark.parametrize(("query_chunk", "gallery_chunk"), CHUNKS)
@pytest.mark.parametrize("squared", [False, True])
def test_distance_top_k_equals_cdist(query_chunk, gallery_chunk, squared):
    queries, gallery, _ = make_case(seed=3)
    distances, indices = top_k_by_distance(
        queries,
        gallery,
        20,
        squared=squared,
        query_chunk=query_chunk,
        gallery_chunk=gallery_chunk,
    )
    reference = torch.cdist(queries.double(), gallery.double())
    if squared:
        reference = reference.square()
    assert (distances[:, 1:] >= distances[:, :-1]).all()
    assert_same_ranking(distances, indices, reference, False, 1e-3)


@pytest.mark.parametrize(("query_chunk", "gallery_chunk"), CHUNKS)
def test_ties_put_the_lower_gallery_index_first(query_chunk, gallery_chunk):
    # small integers and a gallery mean of exactly 0 (rows and their negatives): every sum of the
    # closed form is exact in float32, so duplicated rows tie exactly
    gen = torch.Generator().manual_seed(4)
    base = torch.randint(-2, 3, (6, 4), generator=gen).float()
    half = base[torch.randint(0, 6, (101,), generator=gen)]
    gallery = torch.cat([half, -half, torch.zeros(1, 4)])[torch.randperm(203, generator=gen)]
    queries = torch.randint(-2, 3, (37, 4), generator=gen).float()
    weight = torch.tensor([1.0, -2.0, 0.5, 3.0])
    chunks = {"query_chunk": query_chunk, "gallery_chunk": gallery_chunk}
    scores, indices = top_k_by_similarity(queries, gallery, weight, -1.0, 25, **chunks)
    exact = ((queries[:, None] - gallery[None]).square() * weight).sum(-1) - 1.0
    expected = exact.sort(dim=1, descending=True, stable=True)
    assert indices.tolist() == expected.indices[:, :25].tolist()
    assert scores.tolist() == expected.values[:, :25].tolist()
    distances, indices = top_k_by_distance(queries, gallery, 25, squared=True, **chunks)
    expected = (queries[:, None] - gallery[None]).square().sum(-1).sort(dim=1, stable=True)
    assert indices.tolist() == expected.indices[:, :25].tolist()
    assert distances.tolist() == expected.values[:, :25].tolist()


def test_k_larger_than_the_gallery_gives_short_rows():
    queries, gallery, sim = make_case(num_g=9, seed=5)
    weight, bias = similarity_parameters(sim)
    scores, indices = top_k_by_similarity(queries, gallery, weight, bias, 20, gallery_chunk=4)
    assert indices.shape == (37, 9)
    assert sorted(indices[0].tolist()) == list(range(9))
    assert_same_ranking(scores, indices, brute_logits(sim, queries, gallery), True, 1e-3)
    assert top_k_by_distance(queries, gallery, 20)[1].shape == (37, 9)
    assert rank_gallery(queries, gallery, 20, "similarity", sim).shape == (37, 9)
    assert top_k_by_distance(queries, gallery, 0)[1].shape == (37, 0)


def test_empty_queries_and_empty_gallery():
    _, gallery, sim = make_case()
    weight, bias = similarity_parameters(sim)
    scores, indices = top_k_by_similarity(torch.zeros(0, 16), gallery, weight, bias, 20)
    assert scores.shape == indices.shape == (0, 20)
    assert top_k_by_distance(torch.zeros(0, 16), gallery[:3], 20)[1].shape == (0, 3)
    with pytest.raises(FashionVisionError, match="gallery is empty"):
        top_k_by_similarity(gallery, torch.zeros(0, 16), weight, bias, 20)
    with pytest.raises(FashionVisionError, match="gallery is empty"):
        top_k_by_distance(gallery, torch.zeros(0, 16), 20)
    with pytest.raises(FashionVisionError, match="gallery is empty"):
        rank_gallery(gallery, torch.zeros(0, 16), 20, "similarity", sim)


def test_bad_inputs_raise():
    queries, gallery, sim = make_case()
    weight, bias = similarity_parameters(sim)
    with pytest.raises(ValueError, match="expected"):
        top_k_by_distance(queries, gallery[:, :8], 5)
    with pytest.raises(ValueError, match="weight has"):
        top_k_by_similarity(queries, gallery, weight[:8], bias, 5)
    with pytest.raises(ValueError, match="chunk"):
        top_k_by_distance(queries, gallery, 5, query_chunk=0)
    bad = queries.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(FashionVisionError, match="NaN"):
        top_k_by_distance(bad, gallery, 5)
    with pytest.raises(FashionVisionError, match="similarity network"):
        rank_gallery(queries, gallery, 5, "similarity", None)
    with pytest.raises(ValueError, match="ranking must be"):
        rank_gallery(queries, gallery, 5, "cosine", sim)  # type: ignore[arg-type]


def test_rank_gallery_entry_point():
    queries, gallery, sim = make_case(seed=6)
    weight, bias = similarity_parameters(sim)
    by_sim = rank_gallery(queries, gallery, 20, "similarity", sim, query_chunk=8)
    assert by_sim.tolist() == top_k_by_similarity(queries, gallery, weight, bias, 20)[1].tolist()
    by_dist = rank_gallery(queries, gallery, 20, "distance", gallery_chunk=50)
    assert by_dist.tolist() == top_k_by_distance(queries, gallery, 20)[1].tolist()


def test_closed_form_and_augmented_vectors_match_the_module():
    queries, gallery, sim = make_case(seed=7)
    weight, bias = similarity_parameters(sim)
    reference = brute_logits(sim, queries, gallery)
    logits = pairwise_logits(queries, gallery, weight, bias)
    torch.testing.assert_close(logits.double(), reference, atol=1e-3, rtol=0)
    # float64: the identity itself, to rounding
    exact = pairwise_logits(queries.double(), gallery.double(), weight.double(), bias)
    torch.testing.assert_close(exact, reference, atol=1e-10, rtol=0)
    # inner products of augmented vectors + the query constant = logits; same order per query
    query_vectors, constants = augment_queries(queries.double(), weight.double(), bias)
    gallery_vectors = augment_gallery(gallery.double(), weight.double())
    assert query_vectors.shape == (37, 17) and constants.shape == (37,)
    assert gallery_vectors.shape == (203, 17)
    inner = query_vectors @ gallery_vectors.T
    torch.testing.assert_close(inner + constants[:, None], reference, atol=1e-10, rtol=0)
    inner_order = inner.sort(dim=1, descending=True, stable=True).indices[:, :20]
    assert inner_order.tolist() == reference.sort(dim=1, descending=True).indices[:, :20].tolist()
    ours = top_k_by_similarity(queries.double(), gallery.double(), weight, bias, 20)[1]
    assert ours.tolist() == inner_order.tolist()
