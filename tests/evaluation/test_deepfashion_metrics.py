"""DeepFashion (v1) metrics: hand-computed NE / PDL cases, retrieval top-k against a brute-force
loop (ties included), and the detection-curve plot."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.deepfashion_metrics import (
    first_correct_rank,
    landmark_normalized_error,
    percentage_detected,
    plot_detection_curve,
    retrieval_topk_accuracy,
)

# ----------------------------------------------------------------------------- landmarks


def landmark_case() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two images, 8 slots.  Visible errors (x / w, y / h): image 0 slot 0: 10/200 = 0.05;
    slot 1: 8/100 = 0.08; slot 5: (12/200, 8/100) = (0.06, 0.08) -> 0.1; image 1 slot 0:
    10/50 = 0.2.  Occluded, cut-off and absent slots carry large errors (or NaN) that must not
    count."""
    gt = np.zeros((2, 8, 2))
    pred = np.zeros((2, 8, 2))
    vis = np.full((2, 8), -1)
    size = np.array([[200.0, 100.0], [50.0, 400.0]])
    gt[0, 0], pred[0, 0], vis[0, 0] = (100, 50), (110, 50), 0
    gt[0, 1], pred[0, 1], vis[0, 1] = (100, 50), (100, 58), 0
    gt[0, 2], pred[0, 2], vis[0, 2] = (10, 10), (190, 90), 1  # occluded
    gt[0, 3], pred[0, 3], vis[0, 3] = (0, 0), (150, 20), 2  # cut off (written as 0 0)
    pred[0, 4] = (np.nan, np.nan)  # absent slot: a placeholder that is never read
    gt[0, 5], pred[0, 5], vis[0, 5] = (100, 50), (112, 58), 0
    gt[1, 0], pred[1, 0], vis[1, 0] = (50, 0), (60, 0), 0
    gt[1, 6], pred[1, 6], vis[1, 6] = (20, 300), (40, 10), 1  # occluded
    return pred, gt, vis, size


def test_ne_scores_visible_landmarks_only() -> None:
    out = landmark_normalized_error(*landmark_case())
    assert out["num_landmarks"] == 4
    assert out["NE"] == pytest.approx((0.05 + 0.08 + 0.1 + 0.2) / 4)
    assert out["per_slot_count"].tolist() == [2, 1, 0, 0, 0, 1, 0, 0]
    expected = [0.125, 0.08, None, None, None, 0.1, None, None]
    for got, want in zip(out["per_slot"], expected, strict=True):
        assert math.isnan(got) if want is None else got == pytest.approx(want)


def test_pdl_counts_a_distance_equal_to_the_threshold() -> None:
    # sorted errors 0.05, 0.08, 0.1, 0.2; 0.05 is exactly 10/200
    pdl = percentage_detected(*landmark_case(), thresholds=[0.0, 0.05, 0.07, 0.09, 0.15, 0.25])
    assert pdl.tolist() == [0.0, 0.25, 0.25, 0.5, 0.75, 1.0]


def test_no_visible_landmark_gives_nan() -> None:
    pred, gt, vis, size = landmark_case()
    vis = np.where(vis == 0, 1, vis)  # everything occluded
    out = landmark_normalized_error(pred, gt, vis, size)
    assert math.isnan(out["NE"]) and out["num_landmarks"] == 0
    assert np.isnan(out["per_slot"]).all()
    assert np.isnan(percentage_detected(pred, gt, vis, size, [0.1])).all()


def test_landmark_inputs_are_checked() -> None:
    pred, gt, vis, size = landmark_case()
    with pytest.raises(FashionVisionError, match="pred_xy: shape"):
        landmark_normalized_error(pred[:, :6], gt, vis, size)
    with pytest.raises(FashionVisionError, match="visibility: expected 2 x 8 integers"):
        landmark_normalized_error(pred, gt, vis.astype(float), size)
    with pytest.raises(FashionVisionError, match="image_size: widths and heights"):
        landmark_normalized_error(pred, gt, vis, np.array([[200.0, 0.0], [50.0, 400.0]]))
    bad = pred.copy()
    bad[0, 0] = np.nan  # a visible landmark
    with pytest.raises(FashionVisionError, match="NaN or infinite coordinates"):
        landmark_normalized_error(bad, gt, vis, size)
    with pytest.raises(FashionVisionError, match="thresholds"):
        percentage_detected(pred, gt, vis, size, [-0.1])


# ----------------------------------------------------------------------------- plot


def test_plot_detection_curve_writes_a_png_atomically(tmp_path) -> None:
    out = tmp_path / "plots" / "pdl.png"
    t = [0.02, 0.05, 0.1, 0.2]
    curves = {"model A": [0.1, 0.4, 0.8, 1.0], "model B": [0.0, np.nan, 0.5, 0.9]}
    assert plot_detection_curve(t, curves, out, backend="pil") == out
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (600, 450)
    assert plot_detection_curve(t, curves, out) == out  # auto: matplotlib when installed
    with Image.open(out) as img:
        assert img.format == "PNG"
    assert sorted(p.name for p in out.parent.iterdir()) == ["pdl.png"]  # no temporary left


def test_plot_detection_curve_with_matplotlib(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "pdl.png"
    plot_detection_curve([0.05, 0.1], {"m": [0.5, 0.75]}, out, backend="matplotlib")
    with Image.open(out) as img:
        assert img.format == "PNG"


def test_plot_detection_curve_rejects_bad_input(tmp_path) -> None:
    out = tmp_path / "pdl.png"
    with pytest.raises(FashionVisionError, match=r"curves\['m'\]: 1 values for 2 thresholds"):
        plot_detection_curve([0.05, 0.1], {"m": [0.5]}, out)
    with pytest.raises(FashionVisionError, match="nothing to draw"):
        plot_detection_curve([0.05, 0.1], {}, out)
    assert not out.exists()


# ----------------------------------------------------------------------------- retrieval


def brute_force_ranks(q, q_items, g, g_items, q_names=None, g_names=None) -> list[int]:
    """The rank of each query's first correct gallery image in a full sort by (distance, index),
    distances summed in plain Python (exact for integer embeddings); -1 when there is none."""
    ranks = []
    for i in range(len(q)):
        keep = [j for j in range(len(g)) if q_names is None or g_names[j] != q_names[i]]
        dist = {
            j: sum((float(a) - float(b)) ** 2 for a, b in zip(q[i], g[j], strict=True))
            for j in keep
        }
        order = sorted(keep, key=lambda j: (dist[j], j))
        hits = [r for r, j in enumerate(order) if g_items[j] == q_items[i]]
        ranks.append(hits[0] if hits else -1)
    return ranks


def brute_force_topk(ranks: list[int], ks, exclude: bool = False) -> dict[int, float]:
    counted = [r for r in ranks if r >= 0] if exclude else ranks
    return {k: sum(0 <= r < k for r in counted) / len(counted) for k in ks}


def test_retrieval_hand_case_with_a_tie_and_an_unmatched_query() -> None:
    gallery = np.array([[0.0], [1.0], [1.0], [3.0]])
    gallery_items = ["a", "b", "c", "a"]
    queries = np.array([[1.0], [0.0], [2.0]])
    # q0 (item c): distances 1, 0, 0, 4 -> order 1, 2, 0, 3: c is second (tie to index 1 first)
    # q1 (item a): a at distance 0 -> first; q2 (item z): no gallery image
    query_items = ["c", "a", "z"]
    ranks = first_correct_rank(queries, query_items, gallery, gallery_items)
    assert ranks.tolist() == [1, 0, -1]
    out = retrieval_topk_accuracy(queries, query_items, gallery, gallery_items, ks=(1, 2))
    assert out == {
        "top1": 1 / 3,
        "top2": 2 / 3,
        "num_queries": 3,
        "num_unmatched": 1,
        "gallery_size": 4,
    }
    out = retrieval_topk_accuracy(
        queries, query_items, gallery, gallery_items, ks=(1, 2), unmatched="exclude"
    )
    assert (out["top1"], out["top2"], out["num_queries"], out["num_unmatched"]) == (0.5, 1, 2, 1)


def test_retrieval_matches_brute_force_with_many_ties() -> None:
    rng = np.random.default_rng(0)
    # Integer embeddings in {-1, 0, 1}^3: 27 points for 60 gallery images, so duplicates and
    # equal distances between different points are everywhere, and float64 is exact on them.
    g = rng.integers(-1, 2, size=(60, 3)).astype(np.float64)
    q = rng.integers(-1, 2, size=(40, 3)).astype(np.float64)
    g_items = rng.integers(0, 8, size=60).tolist()
    q_items = rng.integers(0, 10, size=40).tolist()  # items 8 and 9 are not in the gallery
    expected = brute_force_ranks(q, q_items, g, g_items)
    assert -1 in expected
    for block in (None, 1, 7, 1000):
        ranks = first_correct_rank(q, q_items, g, g_items, block_size=block)
        assert ranks.tolist() == expected
    ks = (1, 2, 5, 10, 20, 100)
    for exclude in (False, True):
        out = retrieval_topk_accuracy(
            q, q_items, g, g_items, ks, unmatched="exclude" if exclude else "wrong"
        )
        want = brute_force_topk(expected, ks, exclude)
        assert {k: out[f"top{k}"] for k in ks} == want
        assert out["num_unmatched"] == expected.count(-1)


def test_retrieval_matches_brute_force_on_random_floats() -> None:
    rng = np.random.default_rng(1)
    g = rng.standard_normal((50, 8)).astype(np.float32)
    q = rng.standard_normal((30, 8)).astype(np.float32)
    g[10] = g[3]  # an exact duplicate: ties to index 3
    g_items = rng.integers(0, 12, size=50).tolist()
    q_items = rng.integers(0, 12, size=30).tolist()
    expected = brute_force_ranks(q, q_items, g, g_items)
    assert first_correct_rank(q, q_items, g, g_items, block_size=4).tolist() == expected


def test_retrieval_excludes_the_query_image_itself() -> None:
    rng = np.random.default_rng(2)
    g = rng.integers(-1, 2, size=(30, 2)).astype(np.float64)
    g_items = rng.integers(0, 6, size=30).tolist()
    g_names = [f"img{j}" for j in range(30)]
    picks = [0, 3, 5, 8, 13, 21]  # gallery images queried against the gallery (leave one out)
    q, q_items, q_names = g[picks], [g_items[j] for j in picks], [g_names[j] for j in picks]
    q_names[-1] = "elsewhere"  # a query that is not in the gallery keeps every gallery image
    expected = brute_force_ranks(q, q_items, g, g_items, q_names, g_names)
    got = first_correct_rank(q, q_items, g, g_items, exclude_same_image=(q_names, g_names))
    assert got.tolist() == expected
    plain = first_correct_rank(q, q_items, g, g_items)
    assert plain.tolist() == brute_force_ranks(q, q_items, g, g_items)
    assert plain.tolist() != got.tolist()  # finding itself at distance 0 is what is excluded


def test_retrieval_degenerate_embeddings_rank_by_gallery_index() -> None:
    # an untrained model embedding everything at 0: all distances tie
    g_items = ["x", "y", "z", "y"]
    ranks = first_correct_rank(np.zeros((3, 4)), ["z", "y", "w"], np.zeros((4, 4)), g_items)
    assert ranks.tolist() == [2, 1, -1]


def test_retrieval_edge_cases_and_errors() -> None:
    out = retrieval_topk_accuracy(np.zeros((2, 3)), ["a", "b"], np.zeros((0, 3)), [], ks=(1,))
    assert out == {"top1": 0.0, "num_queries": 2, "num_unmatched": 2, "gallery_size": 0}
    out = retrieval_topk_accuracy(np.zeros((0, 3)), [], np.zeros((2, 3)), ["a", "b"], ks=(1,))
    assert math.isnan(out["top1"]) and out["num_queries"] == 0
    with pytest.raises(FashionVisionError, match="dimension 3 but gallery_emb 4"):
        first_correct_rank(np.zeros((1, 3)), ["a"], np.zeros((1, 4)), ["a"])
    with pytest.raises(FashionVisionError, match="query_items: 2 values for 1 embeddings"):
        first_correct_rank(np.zeros((1, 3)), ["a", "b"], np.zeros((1, 3)), ["a"])
    with pytest.raises(FashionVisionError, match="gallery_emb: contains NaN"):
        first_correct_rank(np.zeros((1, 3)), ["a"], np.full((1, 3), np.nan), ["a"])
    with pytest.raises(FashionVisionError, match="ks: expected positive integers"):
        retrieval_topk_accuracy(np.zeros((1, 3)), ["a"], np.zeros((1, 3)), ["a"], ks=(0, 1))


def test_retrieval_blocks_agree_with_a_full_sort_at_a_larger_size() -> None:
    rng = np.random.default_rng(3)
    g = rng.standard_normal((1500, 16))
    q = rng.standard_normal((900, 16))
    g_items = rng.integers(0, 400, size=1500)
    q_items = rng.integers(0, 420, size=900)
    dist = ((q[:, None, :] - g[None, :, :]) ** 2).sum(axis=2)
    order = np.lexsort((np.broadcast_to(np.arange(1500), dist.shape), dist), axis=1)
    correct = g_items[order] == q_items[:, None]
    expected = np.where(correct.any(axis=1), np.argmax(correct, axis=1), -1)
    got = first_correct_rank(q, q_items.tolist(), g, g_items.tolist(), block_size=64)
    np.testing.assert_array_equal(got, expected)
