"""Tests of DeepFashion2Dataset, collate_fn and PairBatchSampler."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

from fashionvision.categories import category
from fashionvision.data.dataset import (
    DeepFashion2Dataset,
    PairBatchSampler,
    collate_fn,
    rasterize_polygons,
)
from fashionvision.data.transforms import Compose, RandomHorizontalFlip, Resize
from fashionvision.errors import FashionVisionError
from fashionvision.structures import Garment, ImageAnnotation


def _split(tmp_path) -> list[ImageAnnotation]:
    """Two images on disk: one with a top (labelled landmarks) and trousers, one with no items."""
    n = category(1).num_landmarks
    top_lm = np.stack([np.arange(n) + 10.0, np.full(n, 12.0), np.full(n, 2.0)], axis=1)
    records = [
        ImageAnnotation(
            1,
            "image/000001.jpg",
            64,
            48,
            "user",
            3,
            [
                Garment(1, (8, 6, 40, 30), top_lm, [[8, 6, 40, 6, 40, 30, 8, 30]], style=1),
                Garment(8, (10, 30, 30, 47), np.zeros((0, 3)), [[10, 30, 30, 30, 30, 47, 10, 47]]),
            ],
        ),
        ImageAnnotation(2, "image/000002.jpg", 32, 40, "shop", 3, []),
    ]
    (tmp_path / "image").mkdir()
    for rec in records:
        Image.new("RGB", (rec.width, rec.height), (200, 100, 0)).save(tmp_path / rec.file_name)
    return records


def test_item_tensors_and_shapes(tmp_path):
    ds = DeepFashion2Dataset(_split(tmp_path), split_dir=tmp_path)
    assert len(ds) == 2
    image, target = ds[0]
    assert image.shape == (3, 48, 64) and image.dtype == torch.float32
    assert 0.0 <= image.min().item() and image.max().item() <= 1.0
    assert target["boxes"].tolist() == [[8, 6, 40, 30], [10, 30, 30, 47]]
    assert target["boxes"].dtype == torch.float32
    assert target["labels"].tolist() == [1, 8] and target["labels"].dtype == torch.int64
    assert target["masks"].shape == (2, 48, 64) and target["masks"].dtype == torch.uint8
    assert target["masks"][0, 10, 20] == 1 and target["masks"][0, 40, 20] == 0
    assert target["keypoints"].shape == (2, 294, 3)
    assert target["keypoints"][0, :25, 0].tolist() == list(np.arange(25) + 10.0)
    assert not target["keypoints"][0, 25:].any() and not target["keypoints"][1].any()
    assert target["area"].tolist() == [32 * 24, 20 * 17]
    assert target["iscrowd"].tolist() == [0, 0]
    assert target["pair_id"].tolist() == [3, 3] and target["style"].tolist() == [1, 0]
    assert (target["source"], target["image_id"]) == ("user", 1)


def test_image_without_items_gives_empty_tensors(tmp_path):
    image, target = DeepFashion2Dataset(_split(tmp_path), split_dir=tmp_path)[1]
    assert image.shape == (3, 40, 32)
    assert target["boxes"].shape == (0, 4)
    assert target["labels"].shape == (0,) and target["labels"].dtype == torch.int64
    assert target["masks"].shape == (0, 40, 32)
    assert target["keypoints"].shape == (0, 294, 3)
    assert target["area"].shape == (0,) and target["style"].shape == (0,)


def test_transforms_apply_and_collate(tmp_path):
    transforms = Compose([Resize(96, 200), RandomHorizontalFlip(1.0)])
    ds = DeepFashion2Dataset(_split(tmp_path), transforms=transforms, split_dir=tmp_path)
    images, targets = collate_fn([ds[0], ds[1]])
    assert [tuple(i.shape) for i in images] == [(3, 96, 128), (3, 120, 96)]
    assert targets[0]["boxes"][0].tolist() == [48.0, 12.0, 112.0, 60.0]
    assert targets[1]["boxes"].shape == (0, 4)


def test_bad_image_size_names_file_and_field(tmp_path):
    records = _split(tmp_path)
    records[0].width = 65
    with pytest.raises(FashionVisionError, match=r"000001\.jpg: width/height"):
        DeepFashion2Dataset(records, split_dir=tmp_path)[0]
    (tmp_path / "image" / "000002.jpg").unlink()
    with pytest.raises(FashionVisionError, match="not found"):
        DeepFashion2Dataset(records, split_dir=tmp_path)[1]


def test_rasterize_skips_degenerate_polygons():
    mask = rasterize_polygons([[0, 0, 5, 5], [2, 2, 8, 2, 8, 6, 2, 6]], 10, 10)
    assert mask.dtype == np.uint8 and mask[4, 5] == 1 and mask[0, 0] == 0
    assert not rasterize_polygons([], 4, 4).any()


def _pair_records(group_sizes: list[tuple[int, int]]) -> list[ImageAnnotation]:
    """Records of pair ids 1.. with (users, shops) images each, pair groups interleaved in order."""
    records = []
    for pair_id, (users, shops) in enumerate(group_sizes, start=1):
        for source, count in (("shop", shops), ("user", users)):
            for _ in range(count):
                image_id = len(records) + 1
                records.append(
                    ImageAnnotation(image_id, f"image/{image_id:06d}.jpg", 8, 8, source, pair_id)
                )
    order = np.random.default_rng(1).permutation(len(records))
    return [records[i] for i in order]


GROUPS = [(2, 1), (1, 1), (3, 2), (1, 0), (0, 2), (6, 4), (2, 2), (1, 1), (1, 3)]


def test_sampler_covers_every_index_once_and_keeps_pairs_together():
    records = _pair_records(GROUPS)
    sampler = PairBatchSampler(records, batch_size=4, seed=3, group_share=4)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(records)))
    assert all(1 <= len(b) <= 4 for b in batches)
    batch_of = {i: k for k, b in enumerate(batches) for i in b}
    for pair_id, (users, shops) in enumerate(GROUPS, start=1):
        members = [i for i, r in enumerate(records) if r.pair_id == pair_id]
        if users + shops <= 4:
            assert len({batch_of[i] for i in members}) == 1, pair_id
    # the 10-image group is split into pieces that each hold both sources
    big = [i for i, r in enumerate(records) if r.pair_id == 6]
    for k in {batch_of[i] for i in big}:
        sources = {records[i].source for i in batches[k] if records[i].pair_id == 6}
        assert sources == {"user", "shop"}
    # best-fit packing wastes little: 35 images need at least 9 batches of 4
    assert len(batches) <= 11


def test_default_sampler_mixes_pair_ids_for_negatives():
    """Default group_share = half the batch: full batches hold >= 2 pair_ids (cross-pair negatives
    for the pair loss), and each pair's share holds a user and a shop image where it can."""
    records = _pair_records(GROUPS)
    sampler = PairBatchSampler(records, batch_size=4, seed=3)
    assert sampler.group_share == 2
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(records)))
    full = [b for b in batches if len(b) == 4]
    single = [b for b in full if len({records[i].pair_id for i in b}) < 2]
    # the 10-image pair needs 5 of the 9 batches: greedy packing leaves at most one unmixed
    assert full and len(single) <= 1
    # with many small pairs, as in DeepFashion2, every full batch mixes pairs
    many = _pair_records([(1, 1), (2, 1), (1, 2), (3, 2)] * 50)
    batches_many = list(PairBatchSampler(many, batch_size=4, seed=1))
    assert all(len({many[i].pair_id for i in b}) >= 2 for b in batches_many if len(b) == 4)
    shares: dict[int, list[set[str]]] = {}
    for b in batches:
        for pair_id in {records[i].pair_id for i in b}:
            share = [records[i] for i in b if records[i].pair_id == pair_id]
            assert len(share) <= 2 or b in single
            shares.setdefault(pair_id, []).append({r.source for r in share})
    for pair_id, (users, shops) in enumerate(GROUPS, start=1):
        if users and shops:  # a user-shop positive is in some batch
            assert {"user", "shop"} in shares[pair_id], pair_id
    with pytest.raises(ValueError):
        PairBatchSampler(records, batch_size=4, group_share=5)


def test_sampler_is_deterministic_per_seed_and_epoch():
    records = _pair_records(GROUPS)
    a, b = PairBatchSampler(records, 4, seed=5), PairBatchSampler(records, 4, seed=5)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    b.set_epoch(1)
    assert list(a) == list(b)
    c = PairBatchSampler(records, 4, shuffle=False)
    assert list(c) == list(PairBatchSampler(records, 4, shuffle=False, seed=9))


def test_sampler_ranks_are_disjoint():
    records = _pair_records(GROUPS)
    ranks = [
        PairBatchSampler(records, 3, seed=2, drop_last=True, num_replicas=3, rank=r)
        for r in range(3)
    ]
    per_rank = [[i for b in s for i in b] for s in ranks]
    assert len({len(s) for s in ranks}) == 1
    for r in range(3):
        for q in range(r + 1, 3):
            assert not set(per_rank[r]) & set(per_rank[q])
    padded = [PairBatchSampler(records, 3, seed=2, num_replicas=3, rank=r) for r in range(3)]
    assert len({len(s) for s in padded}) == 1
    counts = Counter(i for s in padded for b in s for i in b)
    assert set(counts) == set(range(len(records)))


def test_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError):
        PairBatchSampler([], batch_size=0)
    with pytest.raises(ValueError):
        PairBatchSampler([], batch_size=2, num_replicas=2, rank=2)
    assert list(PairBatchSampler([], batch_size=2)) == []


def test_dataset_from_split_directory(tmp_path):
    from fashionvision.data.deepfashion2 import write_annotation

    records = _split(tmp_path)
    write_annotation(tmp_path, records[0])  # the strict loader rejects files with no items
    ds = DeepFashion2Dataset(tmp_path)
    assert [r.image_id for r in ds.records] == [1]
    image, target = ds[0]
    assert image.shape == (3, 48, 64) and target["labels"].tolist() == [1, 8]
    assert target["keypoints"][0, 24].tolist() == [34.0, 12.0, 2.0]
