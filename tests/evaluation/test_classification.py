"""Hand-computed cases for category top-k accuracy and attribute top-k recall."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.classification import attribute_topk_recall, topk_accuracy


def test_topk_accuracy_hand_case_with_ties_to_the_lower_index():
    scores = np.array(
        [
            [0.1, 0.5, 0.4],  # order 1, 2, 0: label 2 at rank 2
            [0.3, 0.3, 0.3],  # tie: order 0, 1, 2: label 2 at rank 3
            [0.2, 0.1, 0.7],  # order 2, 0, 1: label 1 at rank 3
            [0.9, 0.0, 0.1],  # label 0 at rank 1
        ]
    )
    labels = np.array([2, 2, 1, 0])
    assert topk_accuracy(scores, labels, ks=(1, 2, 3)) == {1: 0.25, 2: 0.5, 3: 1.0}


def test_topk_accuracy_rejects_bad_input():
    with pytest.raises(FashionVisionError, match="labels: values must lie in 0..2"):
        topk_accuracy(np.zeros((2, 3)), np.array([0, 3]), ks=(1,))
    with pytest.raises(FashionVisionError, match="ks: each k must lie in 1..3"):
        topk_accuracy(np.zeros((2, 3)), np.array([0, 1]), ks=(5,))
    with pytest.raises(FashionVisionError, match="scores: contains NaN"):
        topk_accuracy(np.array([[np.nan, 1.0]]), np.array([0]), ks=(1,))


SCORES = np.array(
    [
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    ]
)
LABELS = np.array(
    [
        [1, -1, 0, 1, -1, 1],  # positives 0, 3, 5
        [0, 0, 0, 0, 0, 1],  # positive 5
        [-1, -1, -1, -1, -1, -1],  # no positive: left out
    ]
)
GROUPS = {"texture": [0, 1, 2], "shape": [3, 4, 5]}


def test_attribute_recall_overall():
    out = attribute_topk_recall(SCORES, LABELS, ks=(1, 3, 5))
    # image 0: top1 {0} -> 1/3, top3 {0,1,2} -> 1/3, top5 {0..4} -> 2/3; image 1: 1 at every k.
    assert out["recall"] == pytest.approx({1: 2 / 3, 3: 2 / 3, 5: 5 / 6})
    assert out["num_images"] == 2 and out["groups"] == {}


def test_attribute_recall_accepts_binary_labels():
    binary = (LABELS == 1).astype(np.int64)
    assert attribute_topk_recall(SCORES, binary, ks=(3,))["recall"] == pytest.approx({3: 2 / 3})


def test_attribute_group_recall_both_rankings():
    within = attribute_topk_recall(SCORES, LABELS, ks=(1, 3), groups=GROUPS)["groups"]
    # texture: only image 0 has a positive (0), its best texture score -> 1 at both k.
    assert within["texture"] == {"recall": {1: 1.0, 3: 1.0}, "num_images": 1}
    # shape: image 0 ranks 3, 4, 5 (positives 3, 5): 1/2 at k=1, 1 at k=3; image 1 ranks 5 first.
    assert within["shape"]["recall"] == pytest.approx({1: 0.75, 3: 1.0})
    assert within["shape"]["num_images"] == 2
    glob = attribute_topk_recall(SCORES, LABELS, ks=(1, 3), groups=GROUPS, group_ranking="global")[
        "groups"
    ]
    assert glob["texture"]["recall"] == {1: 1.0, 3: 1.0}
    # shape, global top 3: image 0 holds {0, 1, 2} (no shape positive) -> 0; image 1 -> 1.
    assert glob["shape"]["recall"] == pytest.approx({1: 0.5, 3: 0.5})


def test_attribute_recall_without_positives_is_nan():
    out = attribute_topk_recall(SCORES[2:], LABELS[2:], ks=(3,))
    assert math.isnan(out["recall"][3]) and out["num_images"] == 0


def test_attribute_recall_rejects_bad_input():
    with pytest.raises(FashionVisionError, match="labels: shape"):
        attribute_topk_recall(SCORES, LABELS[:2])
    with pytest.raises(FashionVisionError, match="labels: values must be 1"):
        attribute_topk_recall(SCORES, LABELS * 2)
    with pytest.raises(FashionVisionError, match=r"groups\['bad'\]"):
        attribute_topk_recall(SCORES, LABELS, groups={"bad": [6]})
