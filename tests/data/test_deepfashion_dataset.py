from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fashionvision.data.deepfashion import ABSENT, find_benchmarks
from fashionvision.data.deepfashion_dataset import (
    FLIP_SLOTS,
    DeepFashionDataset,
    collate_batch,
    crop_box,
    load_deepfashion_split,
    load_input,
    to_input,
    to_original,
)
from fashionvision.data.synthetic_deepfashion import generate_deepfashion
from fashionvision.engine.build import grouped_epoch_batches
from fashionvision.errors import FashionVisionError


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("deepfashion")
    generate_deepfashion(out, 12, 6, 0, seed=5, size=96, benchmarks=("category",))
    generate_deepfashion(out, 12, 6, 6, seed=5, size=96, benchmarks=("inshop",))
    return out


def test_splits_take_each_benchmark_s_labels_and_roles(root):
    train = load_deepfashion_split(root, "train")
    assert train.benchmarks == {"category": 12, "inshop": 12}
    assert len(train.category_names) == 50 and train.attribute_groups
    categorised = [s for s in train.samples if s.name.startswith("category/")]
    inshop = [s for s in train.samples if s.name.startswith("inshop/")]
    assert all(s.category >= 0 and s.attributes is not None for s in categorised)
    assert all(s.item_id is None and s.role is None for s in categorised)
    assert all(s.category == -1 and s.item_id and s.role is None for s in inshop)
    assert train.retrieval is None  # training images have no query/gallery role

    val = load_deepfashion_split(root, "validation")  # alias of val
    roles = {s.role for s in val.samples}
    assert roles == {None, "query", "gallery"} and val.retrieval == "inshop"
    assert sum(s.role == "gallery" for s in val.samples) == 6
    with pytest.raises(FashionVisionError, match="split 'dev'"):
        load_deepfashion_split(root, "dev")


def test_coordinates_map_to_the_input_and_back(root):
    sample = load_deepfashion_split(root, "train").samples[0]
    crop = crop_box(sample)
    w, h = sample.image_size
    assert 0 <= crop[0] < crop[2] <= w and 0 <= crop[1] < crop[3] <= h
    xy = np.array([[crop[0], crop[1]], [crop[2], crop[3]], [10.5, 20.25]], np.float32)
    inp = to_input(xy, crop, 64)
    np.testing.assert_allclose(inp[:2], [[0, 0], [64, 64]], atol=1e-4)  # crop corners
    np.testing.assert_allclose(to_original(inp, crop, 64), xy, atol=1e-4)
    assert load_input(sample, 64).shape == (3, 64, 64)


def test_flip_mirrors_the_image_and_swaps_left_and_right_slots(root):
    samples = load_deepfashion_split(root, "train").samples
    plain = DeepFashionDataset(samples, 64, 58)
    flipped = DeepFashionDataset(samples, 64, 58, flip_prob=1.0)
    i = next(
        k for k, s in enumerate(samples) if s.visibility is not None and (s.visibility == 0).all()
    )
    image, target = plain[i]
    image_f, target_f = flipped[i]
    torch.testing.assert_close(image_f, image.flip(-1))
    slots = list(FLIP_SLOTS)
    torch.testing.assert_close(target_f["visibility"], target["visibility"][slots])
    torch.testing.assert_close(target_f["landmarks"][:, 0], 64 - target["landmarks"][slots, 0])
    torch.testing.assert_close(target_f["landmarks"][:, 1], target["landmarks"][slots, 1])


def test_targets_collate_and_items_stay_together_in_batches(root):
    samples = load_deepfashion_split(root, "train").samples
    ds = DeepFashionDataset(samples, 48, 58)
    images, targets = collate_batch([ds[0], ds[len(ds) - 1]])
    assert images.shape == (2, 3, 48, 48)
    assert targets["attributes"].shape == (2, 58) and targets["landmarks"].shape == (2, 8, 2)
    assert targets["item"][0] == -1 and targets["item"][1] >= 0  # category image, in-shop image
    lower = [k for k, s in enumerate(samples) if s.visibility is not None]
    assert all((ds[k][1]["visibility"] >= ABSENT).all() for k in lower)

    groups = ds.groups()
    assert sorted(i for g in groups for i in g) == list(range(len(ds)))
    multi = [g for g in groups if len(g) > 1]
    assert multi and all(len({samples[i].item_id for i in g}) == 1 for g in multi)
    batches = grouped_epoch_batches(groups, 4, seed=0, epoch=0)
    flat = [i for b in batches for i in b]
    for g in multi:  # an item's images are consecutive in the epoch order
        spots = sorted(flat.index(i) for i in g)
        assert spots == list(range(spots[0], spots[0] + len(g)))
    ranks = [grouped_epoch_batches(groups, 3, 0, 0, rank=r, world_size=2) for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) and all(len(b) == 3 for r in ranks for b in r)
    assert grouped_epoch_batches(groups, 4, 0, 1) != batches


def test_a_resized_image_is_an_error_naming_it(root, tmp_path):
    sample = load_deepfashion_split(root, "train").samples[0]
    bad = tmp_path / "bad.jpg"
    Image.new("RGB", (10, 10)).save(bad)
    sample.path = bad
    with pytest.raises(FashionVisionError, match="bad.jpg: image is 10x10"):
        load_input(sample, 32)
    assert find_benchmarks(root)  # the fixture's root is untouched


def test_consumer_to_shop_images_take_their_pair_s_item_and_roles(tmp_path):
    generate_deepfashion(tmp_path, 4, 4, 0, seed=2, size=64, benchmarks=("consumer2shop",))
    train = load_deepfashion_split(tmp_path, "train")
    assert all(s.item_id and s.role is None for s in train.samples)
    val = load_deepfashion_split(tmp_path, "val")
    assert {s.role for s in val.samples} == {"consumer", "shop"}
    assert val.retrieval == "consumer2shop"
    assert len({s.name for s in val.samples}) == len(val.samples)  # a shop image listed once
    shops = {s.item_id for s in val.samples if s.role == "shop"}
    assert {s.item_id for s in val.samples if s.role == "consumer"} <= shops
