"""Tests of the joint image/target transforms (flip, resize, to-tensor)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from fashionvision.categories import category, global_flip_permutation
from fashionvision.data.transforms import (
    Compose,
    RandomHorizontalFlip,
    Resize,
    ToTensor,
    hflip_target,
    resized_shape,
)


def _target(height: int = 40, width: int = 60) -> dict:
    """Two items: a short sleeve top with labelled points and a trousers item with none."""
    boxes = torch.tensor([[5.0, 4.0, 25.0, 30.0], [30.0, 10.0, 58.0, 39.0]])
    masks = torch.zeros(2, height, width, dtype=torch.uint8)
    masks[0, 4:30, 5:25] = 1
    masks[1, 10:39, 30:58] = 1
    kps = torch.zeros(2, 294, 3)
    top = category(1)
    n = top.num_landmarks
    kps[0, top.start : top.end, 0] = torch.linspace(6, 24, n)
    kps[0, top.start : top.end, 1] = torch.linspace(5, 29, n)
    kps[0, top.start : top.end, 2] = torch.tensor([2.0, 1.0] * 12 + [2.0])
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return {
        "boxes": boxes,
        "masks": masks,
        "keypoints": kps,
        "area": area,
        "labels": torch.tensor([1, 8]),
        "image_id": 3,
    }


def _image(height: int = 40, width: int = 60) -> torch.Tensor:
    return torch.rand(3, height, width, generator=torch.Generator().manual_seed(0))


def test_flip_twice_is_identity():
    image, target = _image(), _target()
    flip = RandomHorizontalFlip(p=1.0)
    once_image, once = flip(image, target)
    twice_image, twice = flip(once_image, once)
    assert not torch.equal(once["boxes"], target["boxes"])
    for key in ("boxes", "masks", "keypoints", "area"):
        assert torch.equal(twice[key], target[key]), key
    assert torch.equal(twice_image, image)
    assert twice["image_id"] == 3


def test_flip_mirrors_boxes_masks_and_points():
    target = _target()
    flipped = hflip_target(target, width=60)
    assert flipped["boxes"][0].tolist() == [35.0, 4.0, 55.0, 30.0]
    # the mask's columns 5..24 become 35..54: the same pixels the mirrored box covers
    cols = torch.nonzero(flipped["masks"][0].any(0)).flatten()
    assert (cols.min().item(), cols.max().item()) == (35, 54)
    perm = global_flip_permutation()
    orig = target["keypoints"][0]
    new = flipped["keypoints"][0]
    for i in range(category(1).start, category(1).end):
        assert new[i, 0].item() == pytest.approx(60 - orig[perm[i], 0].item())
        assert new[i, 1].item() == orig[perm[i], 1].item()
        assert new[i, 2].item() == orig[perm[i], 2].item()
    # unlabelled points (the whole trousers item, every slice but the top's) stay at zero
    assert not flipped["keypoints"][1].any()
    assert not new[category(1).end :].any()


def test_flip_swaps_left_and_right_landmark_pairs():
    """Short sleeve top points 2 and 6 (1-based, collar sides) trade places under a flip."""
    target = _target()
    kps = target["keypoints"]
    kps[0, 1] = torch.tensor([10.0, 5.0, 2.0])  # point 2
    kps[0, 5] = torch.tensor([20.0, 6.0, 1.0])  # point 6
    flipped = hflip_target(target, width=60)["keypoints"][0]
    assert flipped[5].tolist() == [50.0, 5.0, 2.0]
    assert flipped[1].tolist() == [40.0, 6.0, 1.0]
    assert flipped[0, 0].item() == pytest.approx(60 - kps[0, 0, 0].item())  # point 1 is central


def test_flip_probability_zero_does_nothing():
    image, target = _image(), _target()
    out_image, out = RandomHorizontalFlip(p=0.0)(image, target)
    assert out_image is image and out is target


@pytest.mark.parametrize(
    ("size", "expected"),
    [((40, 60), (800, 1200)), ((100, 1000), (133, 1333)), ((600, 400), (1200, 800))],
)
def test_resized_shape(size, expected):
    assert resized_shape(*size, min_size=800, max_size=1333) == expected


def test_resize_scales_coordinates_and_masks():
    image, target = _image(), _target()
    out_image, out = Resize(min_size=80, max_size=200)(image, target)
    assert out_image.shape == (3, 80, 120)
    assert out["boxes"][0].tolist() == [10.0, 8.0, 50.0, 60.0]
    assert out["area"][0].item() == pytest.approx(target["area"][0].item() * 4)
    kps, orig = out["keypoints"][0], target["keypoints"][0]
    torch.testing.assert_close(kps[:, :2], orig[:, :2] * 2)
    assert torch.equal(kps[:, 2], orig[:, 2])
    assert not out["keypoints"][1].any()
    assert out["masks"].shape == (2, 80, 120) and out["masks"].dtype == torch.uint8
    assert out["masks"][0].sum().item() == 4 * target["masks"][0].sum().item()


def test_resize_pil_image_and_to_tensor_compose():
    pil = Image.fromarray(np.full((40, 60, 3), 255, dtype=np.uint8))
    pipeline = Compose([Resize(20, 100), RandomHorizontalFlip(1.0), ToTensor()])
    image, target = pipeline(pil, _target())
    assert image.shape == (3, 20, 30) and image.dtype == torch.float32
    assert image.max().item() == pytest.approx(1.0)
    assert target["boxes"][0].tolist() == [17.5, 2.0, 27.5, 15.0]


def test_invalid_arguments():
    with pytest.raises(ValueError):
        Resize(800, 100)
    with pytest.raises(ValueError):
        RandomHorizontalFlip(1.5)


@settings(max_examples=40, deadline=None)
@given(
    width=st.integers(8, 64),
    cat_id=st.integers(1, 13),
    seed=st.integers(0, 2**16),
)
def test_flip_is_an_involution_for_any_category(width, cat_id, seed):
    gen = torch.Generator().manual_seed(seed)
    cat = category(cat_id)
    kps = torch.zeros(1, 294, 3)
    kps[0, cat.start : cat.end, :2] = torch.rand(cat.num_landmarks, 2, generator=gen) * width
    vis = torch.randint(0, 3, (cat.num_landmarks,), generator=gen)
    kps[0, cat.start : cat.end, 2] = vis.float()
    kps[kps[..., 2] == 0] = 0.0
    x = torch.sort(torch.rand(2, generator=gen) * width).values
    target = {"boxes": torch.stack([x[0], x[0], x[1], x[1]])[None], "keypoints": kps}
    once = hflip_target(target, width)
    twice = hflip_target(once, width)
    torch.testing.assert_close(twice["keypoints"], kps)
    torch.testing.assert_close(twice["boxes"], target["boxes"])
    assert (once["keypoints"][..., 2] > 0).sum() == (kps[..., 2] > 0).sum()
    assert not once["keypoints"][0, : cat.start].any() and not once["keypoints"][0, cat.end :].any()
