"""`FashionNetEvaluator`: hand-computed numbers per section, shards merging into the one-pass
numbers, the compact state giving the full-score numbers, and sections left out when nothing can
be scored."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch

import fashionvision.evaluation.fashionnet_evaluator as fe
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.classification import attribute_topk_recall, topk_accuracy
from fashionvision.evaluation.deepfashion_metrics import first_correct_rank
from fashionvision.evaluation.fashionnet_evaluator import FashionNetEvaluator


@dataclass(frozen=True)
class Sample:
    name: str
    category: int = -1
    attributes: np.ndarray | None = None
    landmarks_xy: np.ndarray | None = None
    visibility: np.ndarray | None = None
    image_size: tuple[int, int] = (100, 100)
    item_id: str | None = None
    role: str | None = None


def run(evaluator: FashionNetEvaluator, samples, outputs, batch: int = 2) -> dict:
    evaluator.reset()
    for i in range(0, len(samples), batch):
        evaluator.process(samples[i : i + batch], outputs[i : i + batch])
    return evaluator.evaluate()


# ----------------------------------------------------------------------------- category


def test_category_top_k_hand_case() -> None:
    descending = torch.tensor([6.0, 5, 4, 3, 2, 1])
    samples = [
        Sample("a", category=2),  # rank 2: in top 3 and top 5
        Sample("b", category=4),  # rank 4: top 5 only
        Sample("c", category=5),  # rank 5: neither
        Sample("d", category=-1),  # unknown: not counted
        Sample("e", category=3),  # all scores tie: order 0..5, rank 3: top 5 only
    ]
    outputs = [{"category_logits": descending} for _ in range(4)]
    outputs.append({"category_logits": torch.zeros(6)})
    out = run(FashionNetEvaluator(retrieval=None), samples, outputs)
    assert out == {"category": {"top3": 0.25, "top5": 0.75, "num_images": 4}}


# ----------------------------------------------------------------------------- attributes

GROUPS = {"texture": [0, 1, 2], "shape": [3, 4, 5]}


def attribute_case() -> tuple[list[Sample], list[dict]]:
    samples = [
        # positives {0, 1, 4}; global order 0, 2, 3, 4, 5, 1
        Sample("a", attributes=np.array([1, 1, -1, 0, 1, -1], np.int8)),
        Sample("b", attributes=np.array([-1, 0, -1, -1, 0, -1], np.int8)),  # no positive
        # positives {1, 3}; all scores tie: order 0, 1, 2, 3, 4, 5
        Sample("c", attributes=np.array([-1, 1, 0, 1, -1, -1], np.int8)),
        Sample("d"),  # no attribute labels
    ]
    outputs = [
        {"attribute_logits": np.array([0.9, 0.1, 0.8, 0.7, 0.6, 0.3], np.float32)},
        {"attribute_logits": np.arange(6.0)},
        {"attribute_logits": np.zeros(6)},
        {"attribute_logits": np.arange(6.0)},
    ]
    return samples, outputs


def test_attribute_recall_hand_case_global_ranking() -> None:
    # overall: a: top1 {0} 1/3, top2 {0, 2} 1/3; c: top1 {0} 0, top2 {0, 1} 1/2
    # texture: a (positives 0, 1): 1/2, 1/2; c (positive 1): 0, 1
    # shape: a (positive 4) and c (positive 3) never in the global top 2
    samples, outputs = attribute_case()
    evaluator = FashionNetEvaluator(GROUPS, ks_attribute=(1, 2), retrieval=None)
    out = run(evaluator, samples, outputs)
    attributes = out["attributes"]
    assert attributes["top1"] == pytest.approx(1 / 6)
    assert attributes["top2"] == pytest.approx(5 / 12)
    assert attributes["num_images"] == 2
    assert attributes["per_type"]["texture"] == pytest.approx(
        {"top1": 0.25, "top2": 0.75, "num_images": 2}
    )
    assert attributes["per_type"]["shape"] == {"top1": 0.0, "top2": 0.0, "num_images": 2}
    # a perfect ranking: a (3 positives) 1/3 and 2/3, c (2 positives) 1/2 and 1
    assert attributes["bound"] == pytest.approx({"top1": 5 / 12, "top2": 5 / 6})
    assert attributes["positives_per_image"] == pytest.approx(2.5)


def test_attribute_recall_hand_case_within_ranking() -> None:
    # shape within: a ranks 3 (0.7), 4 (0.6), 5 -> positive 4 second; c ranks 3, 4, 5 -> 3 first
    samples, outputs = attribute_case()
    evaluator = FashionNetEvaluator(
        GROUPS, ks_attribute=(1, 2), retrieval=None, attribute_group_ranking="within"
    )
    attributes = run(evaluator, samples, outputs)["attributes"]
    assert attributes["per_type"]["texture"] == pytest.approx(
        {"top1": 0.25, "top2": 0.75, "num_images": 2}
    )
    assert attributes["per_type"]["shape"] == {"top1": 0.5, "top2": 1.0, "num_images": 2}
    assert attributes["top2"] == pytest.approx(5 / 12)  # overall does not depend on the mode


@pytest.mark.parametrize("ranking", ["global", "within"])
def test_compact_scores_give_the_full_score_numbers(ranking, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    n, a, c = 23, 40, 12
    groups = {"g0": list(range(0, 10)), "g1": list(range(10, 25)), "g2": list(range(25, 40))}
    # scores rounded to one decimal: many ties, which must be ranked as on the full scores
    attr_scores = np.round(rng.standard_normal((n, a)), 1)
    attr_labels = rng.choice([-1, 0, 1], size=(n, a), p=[0.6, 0.3, 0.1]).astype(np.int8)
    cat_scores = np.round(rng.standard_normal((n, c)), 1)
    cat_labels = rng.integers(0, c, size=n)
    samples = [
        Sample(f"im{i:02d}", category=int(cat_labels[i]), attributes=attr_labels[i])
        for i in range(n)
    ]
    outputs = [
        {"category_logits": cat_scores[i], "attribute_logits": attr_scores[i]} for i in range(n)
    ]
    monkeypatch.setattr(fe, "_ATTRIBUTE_CHUNK", 5)  # several chunks, combined by image counts
    evaluator = FashionNetEvaluator(
        groups, (1, 3, 5), (1, 3, 5), retrieval=None, attribute_group_ranking=ranking
    )
    out = run(evaluator, samples, outputs, batch=4)
    for entry in evaluator.entries:  # kept: at most 5 overall + 5 per group, not 40
        assert entry.attribute_scores.index.size <= 20
        assert entry.category_scores.index.size == 5
    want = topk_accuracy(cat_scores, cat_labels, (1, 3, 5))
    assert out["category"] == {"top1": want[1], "top3": want[3], "top5": want[5], "num_images": n}
    full = attribute_topk_recall(attr_scores, attr_labels, (1, 3, 5), groups, ranking)
    assert out["attributes"]["num_images"] == full["num_images"]
    for k in (1, 3, 5):
        assert out["attributes"][f"top{k}"] == pytest.approx(full["recall"][k], abs=1e-12)
        for name, part in full["groups"].items():
            got = out["attributes"]["per_type"][name]
            assert got[f"top{k}"] == pytest.approx(part["recall"][k], abs=1e-12)
            assert got["num_images"] == part["num_images"]


# ----------------------------------------------------------------------------- landmarks


def landmark_samples() -> tuple[list[Sample], list[dict]]:
    """Visible errors (x / w, y / h): a slot 0: 10/200 = 0.05, slot 1: 8/100 = 0.08; b slot 0:
    10/50 = 0.2.  Occluded, cut-off and absent slots have large errors that must not count."""
    gt_a, pred_a = np.zeros((8, 2)), np.zeros((8, 2))
    vis_a = np.array([0, 0, 1, 2, -1, -1, 0, -1])
    gt_a[0], pred_a[0] = (100, 50), (110, 50)
    gt_a[1], pred_a[1] = (100, 50), (100, 58)
    gt_a[2], pred_a[2] = (10, 10), (190, 90)  # occluded
    pred_a[3] = (150, 20)  # cut off, GT written as 0 0
    pred_a[4] = (123, 45)  # absent slot: any prediction
    gt_a[6], pred_a[6] = (30, 30), (30, 30)  # visible, exact
    gt_b, pred_b = np.zeros((8, 2)), np.zeros((8, 2))
    vis_b = np.array([0, -1, -1, -1, 1, 1, -1, -1])
    gt_b[0], pred_b[0] = (50, 0), (60, 0)
    gt_b[4], pred_b[4] = (20, 300), (40, 10)  # occluded

    # visibility logits: arg-max per slot, then scored on the slots the clothes type has
    # a: predicted 0 0 1 0 x x 2 x vs GT 0 0 1 2 . . 0 . -> 3 of 5 right
    # b: predicted 0 x x x 1 0 x x vs GT 0 . . . 1 1 . . -> 2 of 3 right
    def logits(classes: list[int]) -> torch.Tensor:
        out = torch.zeros(8, 3)
        out[torch.arange(8), torch.tensor(classes)] = 1.0
        return out

    samples = [
        Sample("a", landmarks_xy=gt_a, visibility=vis_a, image_size=(200, 100)),
        Sample("b", landmarks_xy=gt_b, visibility=vis_b, image_size=(50, 400)),
        Sample("c", landmarks_xy=None, visibility=None),  # no landmark GT
    ]
    logits_a = logits([0, 0, 1, 0, 1, 1, 2, 0])
    logits_b = logits([0, 2, 2, 2, 1, 0, 2, 2])
    outputs = [
        {"landmarks": torch.from_numpy(pred_a), "visibility_logits": logits_a},
        {"landmarks": torch.from_numpy(pred_b), "visibility_logits": logits_b},
        {"landmarks": torch.zeros(8, 2)},
    ]
    return samples, outputs


def test_landmark_hand_case() -> None:
    samples, outputs = landmark_samples()
    evaluator = FashionNetEvaluator(retrieval=None, pdl_thresholds=(0.0, 0.05, 0.1, 0.25))
    out = run(evaluator, samples, outputs)
    lm = out["landmarks"]
    # visible: 0.05, 0.08, 0.0 (a) and 0.2 (b)
    assert lm["NE"] == pytest.approx((0.05 + 0.08 + 0.0 + 0.2) / 4)
    assert lm["num_landmarks"] == 4
    assert lm["per_slot"] == pytest.approx([0.125, 0.08, None, None, None, None, 0.0, None])
    assert lm["PDL"] == {"thresholds": [0.0, 0.05, 0.1, 0.25], "detected": [0.25, 0.5, 0.75, 1.0]}
    assert lm["visibility_accuracy"] == pytest.approx(5 / 8)
    assert lm["num_visibility"] == 8
    json.dumps(out, allow_nan=False)  # None, not NaN, where undefined


# ----------------------------------------------------------------------------- retrieval


def retrieval_samples(query_role: str, gallery_role: str) -> tuple[list[Sample], list[dict]]:
    """Gallery embeddings 0, 1, 1, 3 of items a, b, c, a; queries at 1 (item c: ties with b at
    index 1, so second), 0 (item a: first) and 2 (item z: not in the gallery)."""
    gallery = [("g0", 0.0, "a"), ("g1", 1.0, "b"), ("g2", 1.0, "c"), ("g3", 3.0, "a")]
    queries = [("q0", 1.0, "c"), ("q1", 0.0, "a"), ("q2", 2.0, "z")]
    samples, outputs = [], []
    for rows, role in ((queries, query_role), (gallery, gallery_role)):
        for name, x, item in rows:
            samples.append(Sample(name, item_id=item, role=role))
            outputs.append({"embedding": torch.tensor([x, 0.0])})
    samples.append(Sample("other", item_id="c", role=None))  # takes no part
    outputs.append({"embedding": torch.tensor([1.0, 0.0])})
    return samples, outputs


@pytest.mark.parametrize(
    ("mode", "roles"), [("inshop", ("query", "gallery")), ("consumer2shop", ("consumer", "shop"))]
)
def test_retrieval_hand_case(mode, roles) -> None:
    samples, outputs = retrieval_samples(*roles)
    out = run(FashionNetEvaluator(retrieval=mode, ks_retrieval=(1, 2, 50)), samples, outputs)
    assert out == {
        "retrieval": {
            "top1": 1 / 3,
            "top2": 2 / 3,
            "top50": 2 / 3,
            "num_queries": 3,
            "num_unmatched": 1,
            "gallery_size": 4,
        }
    }


def test_retrieval_of_the_other_mode_finds_no_query() -> None:
    samples, outputs = retrieval_samples("query", "gallery")
    assert run(FashionNetEvaluator(retrieval="consumer2shop"), samples, outputs) == {}
    assert run(FashionNetEvaluator(retrieval=None), samples, outputs) == {}


# ----------------------------------------------------------------------------- merge


def random_split(n: int = 30, seed: int = 0) -> tuple[list[Sample], list[dict]]:
    rng = np.random.default_rng(seed)
    samples, outputs = [], []
    for i in range(n):
        role = ["query", "gallery", "gallery", None][i % 4]
        vis = rng.choice([-1, 0, 0, 1, 2], size=8)
        samples.append(
            Sample(
                f"img_{i:03d}",
                category=int(rng.integers(-1, 7)),
                attributes=None if i % 5 == 0 else rng.choice([-1, 0, 1], size=12).astype(np.int8),
                landmarks_xy=rng.uniform(0, 200, size=(8, 2)),
                visibility=vis,
                image_size=(200, int(rng.integers(150, 300))),
                item_id=f"item{rng.integers(0, 5)}",
                role=role,
            )
        )
        outputs.append(
            {
                "category_logits": torch.from_numpy(np.round(rng.standard_normal(7), 1)).float(),
                "attribute_logits": torch.randn(12, generator=torch.Generator().manual_seed(i)),
                "landmarks": rng.uniform(0, 200, size=(8, 2)),
                "visibility_logits": rng.standard_normal((8, 3)),
                "embedding": np.round(rng.standard_normal(4), 0).astype(np.float32),
            }
        )
    return samples, outputs


def test_merged_shards_give_the_one_pass_numbers() -> None:
    samples, outputs = random_split()
    kwargs = {"attribute_groups": {"t": [0, 1, 2, 3], "s": [4, 5, 6, 7, 8, 9, 10, 11]}}
    whole = run(FashionNetEvaluator(**kwargs), samples, outputs, batch=4)
    assert set(whole) == {"category", "attributes", "landmarks", "retrieval"}
    shards = []
    for rank in range(3):
        shard = FashionNetEvaluator(**kwargs)
        shard.process(samples[rank::3], outputs[rank::3])
        shards.append(pickle.loads(pickle.dumps(shard.local_state())))  # as gathered to rank 0
    merged = FashionNetEvaluator(**kwargs)
    merged.merge(shards)
    assert merged.evaluate() == whole
    # the numbers do not depend on the order the images came in
    reverse = run(FashionNetEvaluator(**kwargs), samples[::-1], outputs[::-1], batch=7)
    assert reverse == whole
    json.dumps(whole, allow_nan=False)


def test_retrieval_section_equals_the_metric_on_the_split() -> None:
    samples, outputs = random_split(seed=1)
    out = run(FashionNetEvaluator(ks_retrieval=(1, 3)), samples, outputs)["retrieval"]
    queries = [i for i, s in enumerate(samples) if s.role == "query"]
    gallery = [i for i, s in enumerate(samples) if s.role == "gallery"]  # already in name order
    ranks = first_correct_rank(
        np.stack([outputs[i]["embedding"] for i in queries]),
        [samples[i].item_id for i in queries],
        np.stack([outputs[i]["embedding"] for i in gallery]),
        [samples[i].item_id for i in gallery],
    )
    assert out["top1"] == np.mean((ranks >= 0) & (ranks < 1))
    assert out["top3"] == np.mean((ranks >= 0) & (ranks < 3))
    assert out["num_queries"] == len(queries) and out["gallery_size"] == len(gallery)


# ----------------------------------------------------------------------------- absent / errors


def test_sections_absent_without_labels_or_outputs() -> None:
    samples, outputs = random_split(8)
    unlabelled = [
        replace(s, category=-1, attributes=None, landmarks_xy=None, visibility=None)
        for s in samples
    ]
    assert run(FashionNetEvaluator(retrieval=None), unlabelled, outputs) == {}
    bare = [{} for _ in samples]  # a model without the heads
    assert run(FashionNetEvaluator(retrieval=None), samples, bare) == {}
    # landmark GT with nothing visible and no visibility logits: nothing to score
    hidden = [replace(s, visibility=np.full(8, 1)) for s in samples]
    only_points = [{"landmarks": o["landmarks"]} for o in outputs]
    assert run(FashionNetEvaluator(retrieval=None), hidden, only_points) == {}


def test_bad_input_is_reported_with_the_image_name() -> None:
    evaluator = FashionNetEvaluator()
    with pytest.raises(FashionVisionError, match="q1: retrieval='inshop' needs"):
        evaluator.process([Sample("q1", item_id="a", role="query")], [{}])
    with pytest.raises(FashionVisionError, match="q2: a query image needs an item_id"):
        evaluator.process([Sample("q2", role="query")], [{"embedding": np.zeros(3)}])
    with pytest.raises(FashionVisionError, match="x: role 'probe' is not one of"):
        evaluator.process([Sample("x", role="probe")], [{}])
    with pytest.raises(FashionVisionError, match="x: category 6 but only 6 category scores"):
        evaluator.process([Sample("x", category=6)], [{"category_logits": np.zeros(6)}])
    with pytest.raises(FashionVisionError, match=r"x: outputs\['attribute_logits'\] has shape"):
        evaluator.process(
            [Sample("x", attributes=np.ones(4, np.int8))], [{"attribute_logits": np.zeros(5)}]
        )
    with pytest.raises(FashionVisionError, match="contains NaN"):
        evaluator.process([Sample("x", category=0)], [{"category_logits": np.full(6, np.nan)}])
    with pytest.raises(FashionVisionError, match=r"attribute_groups\['t'\]: column 7"):
        FashionNetEvaluator({"t": [7]}).process(
            [Sample("x", attributes=np.ones(4, np.int8))], [{"attribute_logits": np.zeros(4)}]
        )
    with pytest.raises(FashionVisionError, match="retrieval: expected one of"):
        FashionNetEvaluator(retrieval="street2shop")  # type: ignore[arg-type]
    twice = FashionNetEvaluator(retrieval=None)
    twice.process([Sample("x", category=0)] * 2, [{"category_logits": np.zeros(6)}] * 2)
    with pytest.raises(FashionVisionError, match="image 'x' was processed twice"):
        twice.evaluate()
