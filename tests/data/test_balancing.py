"""Tests of class balancing: counts, LVIS repeat factors, epochs, the balancing plan."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from fashionvision.categories import category
from fashionvision.data.balancing import (
    BalancedDataset,
    balanced_epoch,
    balancing_augment,
    category_counts,
    class_balance_plan,
    expected_counts,
    format_counts,
    image_counts,
    repeat_factors,
)
from fashionvision.data.dataset import DeepFashion2Dataset
from fashionvision.structures import Garment, ImageAnnotation


def _record(image_id: int, categories: list[int], pair_id: int = 0) -> ImageAnnotation:
    items = [
        Garment(c, (4.0, 4.0, 20.0, 20.0), np.zeros((0, 3)), [[4, 4, 20, 4, 20, 20, 4, 20]])
        for c in categories
    ]
    return ImageAnnotation(image_id, f"image/{image_id:06d}.jpg", 32, 32, "shop", pair_id, items)


def _records(category_lists: list[list[int]]) -> list[ImageAnnotation]:
    return [_record(i + 1, cats) for i, cats in enumerate(category_lists)]


# two tops and trousers; a top and a skirt; a vest; nothing; a top and trousers
SMALL = [[1, 1, 8], [1, 9], [5], [], [1, 8]]


def test_counts_of_instances_and_images():
    records = _records(SMALL)
    assert category_counts(records) == {1: 4, 5: 1, 8: 2, 9: 1}
    assert image_counts(records) == {1: 3, 5: 1, 8: 2, 9: 1}
    # over given indices, with repeats
    assert category_counts(records, [2, 2, 0]) == {1: 2, 5: 2, 8: 1}
    assert image_counts(records, [2, 2, 0]) == {1: 1, 5: 2, 8: 1}
    assert category_counts([]) == {} and category_counts(records, []) == {}


def test_repeat_factors_follow_the_lvis_formula():
    records = _records(SMALL)
    # image fractions: top 3/5, vest 1/5, trousers 2/5, skirt 1/5; threshold 0.5
    r_top, r_vest = 1.0, math.sqrt(0.5 / 0.2)  # sqrt(0.5 / 0.6) < 1 -> 1
    r_trousers, r_skirt = math.sqrt(0.5 / 0.4), math.sqrt(0.5 / 0.2)
    assert (r_vest, r_trousers) == pytest.approx((1.5811388, 1.1180340))
    factors = repeat_factors(records, threshold=0.5)
    expected = [max(r_top, r_trousers), max(r_top, r_skirt), r_vest, 1.0, r_trousers]
    assert factors == pytest.approx(expected)
    assert factors == pytest.approx([1.1180340, 1.5811388, 1.5811388, 1.0, 1.1180340])
    # the LVIS default threshold lifts no category seen in 20 % of the images
    assert repeat_factors(records) == [1.0] * 5
    assert repeat_factors([]) == []
    assert expected_counts(records, factors) == pytest.approx(
        {1: 2 * 1.1180340 + 1.5811388 + 1.1180340, 5: 1.5811388, 8: 2 * 1.1180340, 9: 1.5811388}
    )
    with pytest.raises(ValueError):
        repeat_factors(records, threshold=-1.0)


def test_balanced_epoch_rounds_stochastically_to_the_factors():
    rng = np.random.default_rng(0)
    factors = list(rng.uniform(1.0, 3.0, size=50))
    factors[:3] = [1.0, 2.0, 0.0]  # whole factors are exact; 0 drops the image
    records = _records([[1]] * 50)
    epochs = 2000
    lengths, per_image = [], np.zeros(50)
    for epoch in range(epochs):
        indices = balanced_epoch(records, factors, seed=3, epoch=epoch)
        counts = np.bincount(indices, minlength=50)
        assert np.all(counts >= np.floor(factors)) and np.all(counts <= np.ceil(factors))
        assert counts[0] == 1 and counts[1] == 2 and counts[2] == 0
        lengths.append(len(indices))
        per_image += counts
    # the length varies by sqrt(sum p (1 - p)) <= 3.6 per epoch: its mean by <= 0.08
    assert np.mean(lengths) == pytest.approx(sum(factors), abs=0.4)
    assert np.std(lengths) > 1.0
    np.testing.assert_allclose(per_image / epochs, factors, atol=0.05)


def test_balanced_epoch_is_a_shuffled_function_of_seed_and_epoch():
    records = _records([[1]] * 30)
    factors = [1.5] * 30
    a = balanced_epoch(records, factors, seed=1, epoch=4)
    assert a == balanced_epoch(records, factors, seed=1, epoch=4)
    assert a != balanced_epoch(records, factors, seed=1, epoch=5)
    assert a != balanced_epoch(records, factors, seed=2, epoch=4)
    assert a != sorted(a)  # shuffled, not grouped by image
    with pytest.raises(ValueError):
        balanced_epoch(records, factors[:-1], seed=1, epoch=0)
    with pytest.raises(ValueError):
        balanced_epoch(records, [-1.0] * 30, seed=1, epoch=0)


def _balance_records() -> list[ImageAnnotation]:
    """20 tops alone, 3 vests alone, 2 images of a top with a skirt (25 images)."""
    return _records([[1]] * 20 + [[5]] * 3 + [[1, 9]] * 2)


def test_balance_plan_reaches_the_cap_and_keeps_every_original():
    records = _balance_records()
    plan = class_balance_plan(records, cap=10, seed=0, max_repeat=4)
    assert plan[:25] == [(i, False) for i in range(25)]  # originals first, in order, unchanged
    copies = Counter(i for i, flag in plan[25:] if flag)
    assert all(flag for _, flag in plan[25:])
    # skirt (2 instances) first: its 2 images 4 times each -> 10; the copies bring 8 tops along
    assert {i: copies[i] for i in (23, 24)} == {23: 4, 24: 4}
    # vest (3 instances): 7 copies spread evenly over its 3 images
    assert sorted(copies[i] for i in (20, 21, 22)) == [2, 2, 3]
    assert sum(copies.values()) == 15 and len(plan) == 40
    after = category_counts(records, [i for i, _ in plan])
    assert after == {1: 30, 5: 10, 9: 10}  # the tops overshoot: they came with the skirts


def test_balance_plan_stops_at_max_repeat_and_overshoots_with_multi_instance_images():
    records = _balance_records()
    plan = class_balance_plan(records, cap=100, seed=0, max_repeat=2)
    after = category_counts(records, [i for i, _ in plan])
    # no image repeated more than twice: (1 + 2) x the count of each rare category
    assert after[5] == 9 and after[9] == 6
    assert max(Counter(i for i, flag in plan if flag).values()) == 2
    # common categories at or above the cap get no copy of their own: only originals
    assert class_balance_plan(records, cap=2, seed=0)[25:] == []
    # two skirts in one image: one copy takes the count from 2 to 4, past a cap of 3
    pair = _records([[9, 9], [1, 1, 1]])
    plan = class_balance_plan(pair, cap=3, seed=0)
    assert plan == [(0, False), (1, False), (0, True)]
    assert category_counts(pair, [i for i, _ in plan]) == {1: 3, 9: 4}
    assert class_balance_plan(pair, cap=3, seed=0, max_repeat=0) == [(0, False), (1, False)]
    with pytest.raises(ValueError):
        class_balance_plan(pair, cap=-1, seed=0)


def test_balance_plan_pools_by_rarest_category():
    # the shorts (7) only appear with the rarer sling (6): their pool is empty, they grow with it
    records = _records([[6, 7], [6, 7], [6, 7, 7]] + [[1]] * 8)
    assert category_counts(records) == {1: 8, 6: 3, 7: 4}
    plan = class_balance_plan(records, cap=6, seed=0)
    # one round over the sling's pool (images 0-2) takes it to 6 and the shorts past it
    assert sorted(plan[11:]) == [(0, True), (1, True), (2, True)] and len(plan) == 14
    assert category_counts(records, [i for i, _ in plan]) == {1: 8, 6: 6, 7: 8}


def test_balance_plan_depends_on_the_seed_only_where_a_round_is_cut():
    records = _records([[5]] * 10 + [[1]] * 40)
    a = class_balance_plan(records, cap=14, seed=0)
    assert a == class_balance_plan(records, cap=14, seed=0)
    chosen = {i for i, flag in a if flag}
    assert len(chosen) == 4 and chosen <= set(range(10))
    others = [{i for i, flag in class_balance_plan(records, 14, seed) if flag} for seed in (1, 2)]
    assert any(o != chosen for o in others)


def test_format_counts_table():
    names = {1: "short sleeve top", 5: "vest", 9: "skirt", 13: "sling dress"}
    table = format_counts({1: 22, 5: 3, 9: 2}, {1: 30, 5: 10, 9: 10}, names)
    assert table == "\n".join(
        [
            " id  category             before      after   factor",
            "  1  short sleeve top         22         30    x1.36",
            "  5  vest                      3         10    x3.33",
            "  9  skirt                     2         10    x5.00",
            " 13  sling dress               0          0        -",
            "     total                    27         50    x1.85",
        ]
    )
    fractional = format_counts({5: 1}, {5: 1.5811388}, {5: "vest"})
    assert fractional.splitlines()[1] == "  5  vest            1.0        1.6    x1.58"
    assert "long sleeve dress" in format_counts({}, {})  # every DeepFashion2 category by default


class _FakeDataset:
    def __init__(self, n: int):
        self.records = _records([[1]] * n)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict]:
        return torch.full((1, 2, 2), float(index)), {"index": index, "augmented": False}


def test_balanced_dataset_augments_only_the_marked_copies():
    def mark(image, target):
        return image + 100, {**target, "augmented": True}

    plan = [(0, False), (1, False), (2, False), (1, True), (1, True)]
    ds = BalancedDataset(_FakeDataset(3), plan, augment=mark)
    assert len(ds) == 5
    items = [ds[j] for j in range(5)]
    assert [t["index"] for _, t in items] == [0, 1, 2, 1, 1]
    assert [t["augmented"] for _, t in items] == [False, False, False, True, True]
    assert [img[0, 0, 0].item() for img, _ in items] == [0.0, 1.0, 2.0, 101.0, 101.0]
    assert [r.image_id for r in ds.records] == [1, 2, 3, 2, 2]
    with pytest.raises(ValueError):
        BalancedDataset(_FakeDataset(3), [(3, True)], augment=mark)


def test_balanced_dataset_on_real_items_keeps_targets_consistent(tmp_path):
    n = category(5).num_landmarks
    vest_lm = np.stack([np.linspace(8, 24, n), np.linspace(6, 26, n), np.full(n, 2.0)], axis=1)
    records = [
        ImageAnnotation(
            1,
            "image/000001.jpg",
            32,
            32,
            "user",
            1,
            [Garment(5, (6, 5, 26, 27), vest_lm, [[6, 5, 26, 5, 26, 27, 6, 27]])],
        ),
        _record(2, [1, 1, 1, 8, 8, 8]),  # tops and trousers already at the cap
    ]
    (tmp_path / "image").mkdir()
    for rec in records:
        Image.new("RGB", (32, 32), (200, 100, 0)).save(tmp_path / rec.file_name)
    base = DeepFashion2Dataset(records, split_dir=tmp_path)
    plan = class_balance_plan(records, cap=3, seed=0)
    assert plan == [(0, False), (1, False), (0, True), (0, True)]
    ds = BalancedDataset(base, plan, augment=balancing_augment())
    torch.manual_seed(0)
    original_image, original = ds[0]
    for j in (2, 3):
        image, target = ds[j]
        assert image.shape == (3, 32, 32) and 0.0 <= image.min() and image.max() <= 1.0
        assert not torch.equal(image, original_image)  # rotated corners and noise
        assert target["labels"].tolist() == [5]
        count = len(target["labels"])
        for key in ("boxes", "masks", "keypoints", "area", "iscrowd", "pair_id", "style"):
            assert target[key].shape[0] == count, key
        box = target["boxes"][0]
        labelled = target["keypoints"][0][target["keypoints"][0, :, 2] > 0]
        assert len(labelled) == n  # the vest stays inside the image at +-25 degrees
        assert (labelled[:, 0] >= box[0]).all() and (labelled[:, 0] <= box[2]).all()
        assert (labelled[:, 1] >= box[1]).all() and (labelled[:, 1] <= box[3]).all()
        assert not torch.equal(target["keypoints"], original["keypoints"])
