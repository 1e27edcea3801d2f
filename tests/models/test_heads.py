"""Tests of the landmark, matching and attribute heads: target encoding, decoding, pair sampling,
losses."""

from __future__ import annotations

import math

import pytest
import torch

from fashionvision.categories import CATEGORIES, category
from fashionvision.models.landmark_head import (
    MAX_SLICE,
    LandmarkHead,
    decode_landmarks,
    encode_landmark_targets,
    landmark_loss,
    slice_index,
)
from fashionvision.models.matching_head import (
    MatchingHead,
    PairSimilarity,
    pair_loss,
    pair_probabilities,
    sample_pairs,
)
from fashionvision.models.roi_heads import AttributeHead, attribute_loss


def test_slice_index_covers_each_category() -> None:
    labels = torch.tensor([1, 8, 13, 0])
    index, valid = slice_index(labels)
    assert index.shape == (4, MAX_SLICE) == (4, 39)
    assert valid.sum(1).tolist() == [25, 14, 19, 0]
    assert index[1, :14].tolist() == list(range(168, 182))
    assert index[2, 18].item() == 293


def test_sliced_prediction_equals_full_prediction_gathered() -> None:
    torch.manual_seed(0)
    head = LandmarkHead(8, width=8, num_convs=2)
    x = torch.rand(5, 8, 7, 7)
    labels = torch.tensor([4, 9, 4, 13, 1])
    full = head(x)
    sliced = head(x, labels)
    assert full.shape == (5, 294, 28, 28) and sliced.shape == (5, MAX_SLICE, 28, 28)
    index, valid = slice_index(labels)
    for r in range(5):
        n = int(valid[r].sum())
        torch.testing.assert_close(sliced[r, :n], full[r, index[r, :n]], rtol=1e-5, atol=1e-5)
        assert torch.all(sliced[r, n:] == 0)


def test_sliced_loss_equals_full_294_channel_loss() -> None:
    torch.manual_seed(1)
    head = LandmarkHead(8, width=8, num_convs=1)
    x = torch.rand(3, 8, 14, 14)
    labels = torch.tensor([2, 7, 11])
    rois = torch.tensor([[0.0, 0.0, 50.0, 50.0], [10.0, 10.0, 40.0, 90.0], [5.0, 5.0, 105.0, 55.0]])
    gt = torch.zeros(3, 294, 3)
    for r, lab in enumerate(labels.tolist()):
        cat = category(lab)
        gt[r, cat.landmark_slice, 0] = torch.rand(cat.num_landmarks) * 30 + rois[r, 0] + 1
        gt[r, cat.landmark_slice, 1] = torch.rand(cat.num_landmarks) * 30 + rois[r, 1] + 1
        gt[r, cat.landmark_slice, 2] = torch.randint(0, 3, (cat.num_landmarks,)).float()
    targets, valid = encode_landmark_targets(gt, labels, rois, 56)
    sliced = landmark_loss(head(x, labels), targets, valid)
    # Reference: torchvision-style loss over all 294 channels, labelled points only.
    from torchvision.models.detection.roi_heads import keypoints_to_heatmap

    full_targets, full_valid = keypoints_to_heatmap(gt, rois, 56)
    full = landmark_loss(head(x), full_targets, full_valid.bool())
    assert int(valid.sum()) == int((gt[..., 2] > 0).sum())
    torch.testing.assert_close(sliced, full, rtol=1e-5, atol=1e-5)


def test_encode_decode_round_trip_within_one_cell() -> None:
    torch.manual_seed(2)
    size = 56
    labels = torch.tensor([1, 8, 13])
    rois = torch.tensor(
        [[10.0, 20.0, 122.0, 132.0], [0.0, 0.0, 56.0, 280.0], [30.5, 4.0, 90.0, 60.0]]
    )
    gt = torch.zeros(3, 294, 3)
    for r, lab in enumerate(labels.tolist()):
        cat = category(lab)
        w, h = rois[r, 2] - rois[r, 0], rois[r, 3] - rois[r, 1]
        gt[r, cat.landmark_slice, 0] = rois[r, 0] + torch.rand(cat.num_landmarks) * w
        gt[r, cat.landmark_slice, 1] = rois[r, 1] + torch.rand(cat.num_landmarks) * h
        gt[r, cat.landmark_slice, 2] = 2
    targets, valid = encode_landmark_targets(gt, labels, rois, size)
    assert bool(valid.sum(1).eq(torch.tensor([25, 14, 19])).all())
    logits = torch.full((3, MAX_SLICE, size * size), -10.0)
    logits.scatter_(2, targets[..., None], 10.0)
    decoded = decode_landmarks(logits.view(3, MAX_SLICE, size, size), labels, rois)
    assert decoded.shape == (3, 294, 3)
    for r, lab in enumerate(labels.tolist()):
        cat = category(lab)
        cell = (rois[r, 2:] - rois[r, :2]) / size
        err = (decoded[r, cat.landmark_slice, :2] - gt[r, cat.landmark_slice, :2]).abs()
        assert bool((err <= cell).all()), (lab, err.max())
        assert torch.all(decoded[r, cat.landmark_slice, 2] > 0)  # background cells are -10
        outside = torch.ones(294, dtype=torch.bool)
        outside[cat.landmark_slice] = False
        assert torch.all(decoded[r, outside] == 0)


def test_decode_subcell_offset_and_score() -> None:
    logits = torch.full((1, MAX_SLICE, 8, 8), -5.0)
    logits[0, 0, 2, 3] = 4.0  # peak at x cell 3, y cell 2
    logits[0, 0, 2, 4] = 1.0  # right neighbour higher than the left: shift +1/4 cell in x
    logits[0, 0, 1, 3] = 0.5  # upper neighbour higher than the lower: shift -1/4 cell in y
    rois = torch.tensor([[10.0, 20.0, 26.0, 36.0]])  # 2-pixel cells
    out = decode_landmarks(logits, torch.tensor([9]), rois)
    start = category(9).start
    x, y, score = out[0, start].tolist()
    assert (x, y, score) == (10 + (3.5 + 0.25) * 2, 20 + (2.5 - 0.25) * 2, 4.0)


def test_landmark_loss_zero_with_grad_when_nothing_labelled() -> None:
    logits = torch.rand(2, MAX_SLICE, 4, 4, requires_grad=True)
    loss = landmark_loss(
        logits,
        torch.zeros(2, MAX_SLICE, dtype=torch.long),
        torch.zeros(2, MAX_SLICE, dtype=torch.bool),
    )
    assert loss.item() == 0.0 and loss.requires_grad


def test_landmark_loss_is_cross_entropy_by_hand() -> None:
    logits = torch.tensor([[[[0.0, 1.0], [2.0, 3.0]]]])  # one RoI, one landmark, 2x2 heatmap
    loss = landmark_loss(logits, torch.tensor([[2]]), torch.tensor([[True]]))
    expected = -(2.0 - math.log(sum(math.exp(v) for v in (0.0, 1.0, 2.0, 3.0))))
    assert abs(loss.item() - expected) < 1e-6


def test_sample_pairs_positives_and_negatives() -> None:
    # RoIs: 0,1 user (pair 5: styles 1, 2); 2 user (pair 6, style 1); 3,4,5 shop (pair 5 style 1,
    # pair 5 style 0, pair 6 style 1); 6 user with style 0 of pair 5.
    pair_ids = torch.tensor([5, 5, 6, 5, 5, 6, 5])
    styles = torch.tensor([1, 2, 1, 1, 0, 1, 0])
    is_user = torch.tensor([True, True, True, False, False, False, True])
    a, b, target = sample_pairs(
        pair_ids, styles, is_user, neg_ratio=3, generator=torch.Generator().manual_seed(0)
    )
    pos = {(int(x), int(y)) for x, y, t in zip(a, b, target, strict=True) if t == 1}
    neg = {(int(x), int(y)) for x, y, t in zip(a, b, target, strict=True) if t == 0}
    assert pos == {(0, 3), (2, 5)}
    assert len(neg) == 6 and len(a) == 8
    all_pairs = {(u, s) for u in (0, 1, 2, 6) for s in (3, 4, 5)}
    assert neg <= all_pairs - pos
    assert all(is_user[x] and not is_user[y] for x, y in pos | neg)


def test_sample_pairs_caps_and_no_cross_source() -> None:
    is_user = torch.tensor([True, True])
    a, b, t = sample_pairs(torch.tensor([1, 1]), torch.tensor([1, 1]), is_user)
    assert a.numel() == b.numel() == t.numel() == 0
    many = torch.tensor([True] * 4 + [False] * 4)
    a, b, t = sample_pairs(
        torch.ones(8, dtype=torch.long), torch.ones(8, dtype=torch.long), many, max_positives=5
    )
    assert t.tolist() == [1.0] * 5  # all 16 pairs positive, capped at 5, no negatives exist


def test_sample_pairs_draws_the_asked_share_of_same_category_negatives() -> None:
    # 6 user and 6 shop RoIs of 6 pairs (style 1): 6 positives, 30 negatives, of which the
    # same-category ones are the 12 with both garments in {pairs 0-2} or both in {pairs 3-5}
    pair_ids = torch.arange(6).repeat(2)
    styles = torch.ones(12, dtype=torch.long)
    is_user = torch.arange(12) < 6
    categories = (pair_ids >= 3).long() + 1
    same_pairs = {(u, 6 + s) for u in range(6) for s in range(6) if u != s and (u < 3) == (s < 3)}

    def same_count(share: float, seed: int) -> int:
        a, b, t = sample_pairs(
            pair_ids, styles, is_user, neg_ratio=3, generator=torch.Generator().manual_seed(seed),
            categories=categories, same_category_share=share,
        )  # fmt: skip
        neg = [(int(x), int(y)) for x, y, v in zip(a, b, t, strict=True) if v == 0]
        assert len(neg) == len(set(neg)) == 18  # 3 per positive, no pair twice
        return sum(p in same_pairs for p in neg)

    uniform = [same_count(0.0, seed) for seed in range(20)]
    assert min(uniform) < 9 and 12 > max(uniform)  # 7.2 of 18 on average at random
    # 0.5: 9 of the 18 drawn from the 12 same-category ones, the other 9 from all 21 left
    assert all(9 <= same_count(0.5, seed) <= 12 for seed in range(20))
    assert all(same_count(1.0, seed) == 12 for seed in range(5))  # all there are, 6 others
    with pytest.raises(ValueError, match="categories"):
        sample_pairs(pair_ids, styles, is_user, same_category_share=0.5)


def test_sample_pairs_without_a_share_ignores_categories() -> None:
    pair_ids, styles = torch.arange(4).repeat(2), torch.ones(8, dtype=torch.long)
    is_user = torch.arange(8) < 4
    plain = sample_pairs(pair_ids, styles, is_user, generator=torch.Generator().manual_seed(2))
    with_cats = sample_pairs(
        pair_ids, styles, is_user, generator=torch.Generator().manual_seed(2),
        categories=torch.ones(8, dtype=torch.long),
    )  # fmt: skip
    assert all(torch.equal(x, y) for x, y in zip(plain, with_cats, strict=True))


def test_pair_loss_equals_hand_bce() -> None:
    sim = PairSimilarity(3)
    with torch.no_grad():
        sim.fc.weight.copy_(torch.tensor([[1.0, -2.0, 0.5]]))
        sim.fc.bias.fill_(-0.25)
    a = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    target = torch.tensor([1.0, 0.0])
    logits = [1.0 * 1 - 2.0 * 1 + 0.5 * 4 - 0.25, 1.0 - 2.0 + 0.5 - 0.25]  # [0.75, -0.75]
    expected = (
        -(math.log(1 / (1 + math.exp(-logits[0]))) + math.log(1 - 1 / (1 + math.exp(-logits[1]))))
        / 2
    )
    assert abs(pair_loss(sim, a, b, target).item() - expected) < 1e-6
    probs = pair_probabilities(sim, a, b)
    assert probs.shape == (2, 2)
    assert abs(probs[0, 0].item() - 1 / (1 + math.exp(-0.75))) < 1e-6
    assert abs(probs[1, 1].item() - 1 / (1 + math.exp(0.75))) < 1e-6


def test_matching_head_shapes_and_empty_pair_loss() -> None:
    head = MatchingHead(8, width=8, dim=16)
    emb = head(torch.rand(3, 8, 14, 14))
    assert emb.shape == (3, 16)
    empty = emb[:0]
    loss = pair_loss(PairSimilarity(16), empty, empty, torch.zeros(0))
    assert loss.item() == 0.0 and loss.requires_grad


def test_every_category_slice_is_predicted() -> None:
    head = LandmarkHead(4, width=4, num_convs=1)
    labels = torch.tensor([c.id for c in CATEGORIES])
    out = head(torch.rand(13, 4, 3, 3), labels)
    nonzero = (out.abs().flatten(2).sum(2) > 0).sum(1)
    assert nonzero.tolist() == [c.num_landmarks for c in CATEGORIES]


def test_attribute_loss_is_mean_bce_by_hand() -> None:
    logits = torch.tensor([[2.0, -1.0], [0.0, 3.0]])
    target = torch.tensor([[1, 0], [1, 1]], dtype=torch.uint8)

    def log_sigmoid(x: float) -> float:
        return -math.log1p(math.exp(-x))

    expected = -(log_sigmoid(2.0) + log_sigmoid(1.0) + log_sigmoid(0.0) + log_sigmoid(3.0)) / 4
    assert abs(attribute_loss(logits, target).item() - expected) < 1e-6


def test_attribute_head_shapes_and_empty_loss() -> None:
    head = AttributeHead(6, 4)
    assert head.num_attributes == 4
    logits = head(torch.rand(3, 6, 1, 1))  # a conv box head's [R, C, 1, 1] is flattened
    assert logits.shape == (3, 4)
    loss = attribute_loss(logits[:0], torch.zeros(0, 4))
    assert loss.item() == 0.0 and loss.requires_grad
    with pytest.raises(ValueError, match="num_attributes"):
        AttributeHead(6, 0)
