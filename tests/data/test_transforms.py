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
    GaussianNoise,
    RandomHorizontalFlip,
    RandomRotation,
    Resize,
    ToTensor,
    add_gaussian_noise,
    hflip_target,
    resized_shape,
    rotate,
    rotate_image,
    rotate_points,
    rotate_target,
    select_instances,
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


# ------------------------------------------------------------------------------ rotation, noise


def _tight_target(height: int = 60, width: int = 60) -> dict:
    """A top whose mask and labelled landmarks lie within radius 20 of the centre (so they stay
    in the image under any rotation) and whose box is their bounds, as the files have it."""
    target = _target(height, width)
    masks = torch.zeros(1, height, width, dtype=torch.uint8)
    masks[0, 22:38, 24:36] = 1
    kps = torch.zeros(1, 294, 3)
    top = category(1)
    n = top.num_landmarks
    angle = torch.linspace(0, 6.0, n)
    radius = torch.linspace(4, 19, n)
    kps[0, top.start : top.end, 0] = width / 2 + radius * torch.cos(angle)
    kps[0, top.start : top.end, 1] = height / 2 + radius * torch.sin(angle)
    kps[0, top.start : top.end, 2] = torch.tensor([2.0, 1.0] * 12 + [2.0])
    pts = kps[0, top.start : top.end, :2]
    box = torch.stack(
        [
            torch.minimum(pts[:, 0].min(), torch.tensor(24.0)),
            torch.minimum(pts[:, 1].min(), torch.tensor(22.0)),
            torch.maximum(pts[:, 0].max(), torch.tensor(36.0)),
            torch.maximum(pts[:, 1].max(), torch.tensor(38.0)),
        ]
    )[None]
    area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    target.update(boxes=box, masks=masks, keypoints=kps, area=area, labels=torch.tensor([1]))
    return target


def test_rotation_by_zero_is_identity():
    image, target = _image(), _target()
    for degrees in (0.0, 360.0, -720.0):
        out_image, out = rotate(image, target, degrees)
        assert out_image is image and out is target
    out_image, out = RandomRotation(max_degrees=0.0)(image, target)
    assert out_image is image and out is target
    assert RandomRotation(25.0, prob=0.0)(image, target)[1] is target


@settings(max_examples=30, deadline=None)
@given(degrees=st.floats(-180, 180).filter(lambda d: abs(d) > 1e-3))
def test_rotation_then_inverse_restores_landmarks_and_boxes(degrees):
    image, target = _image(60, 60), _tight_target()
    once_image, once = rotate(image, target, degrees)
    _, back = rotate(once_image, once, -degrees)
    # every landmark lies within radius 20 of the centre: none leaves the image, none is lost
    torch.testing.assert_close(back["keypoints"], target["keypoints"], atol=1e-4, rtol=0)
    # boxes: the landmark part is exact; the mask went through two nearest-neighbour resamplings
    torch.testing.assert_close(back["boxes"], target["boxes"], atol=1.5, rtol=0)
    assert back["masks"].shape == target["masks"].shape


def test_rotated_landmarks_follow_rotate_points():
    target = _tight_target()
    out = rotate_target(target, 17.0, 60, 60)
    sl = category(1).landmark_slice
    expected = rotate_points(target["keypoints"][0, sl, :2], 17.0, 60, 60)
    torch.testing.assert_close(out["keypoints"][0, sl, :2], expected)
    assert torch.equal(out["keypoints"][0, sl, 2], target["keypoints"][0, sl, 2])
    assert not out["keypoints"][0, : sl.start].any() and not out["keypoints"][0, sl.stop :].any()
    # a quarter turn by hand: (x, y) -> (y, W - x) on a square image
    quarter = rotate_points(torch.tensor([[50.0, 10.0], [30.0, 30.0]]), 90.0, 60, 60)
    torch.testing.assert_close(quarter, torch.tensor([[10.0, 10.0], [30.0, 30.0]]))


@settings(max_examples=60, deadline=None)
@given(
    degrees=st.floats(-180, 180).filter(lambda d: abs(d) > 1e-3),
    height=st.integers(8, 48),
    width=st.integers(8, 48),
    seed=st.integers(0, 2**16),
)
def test_rotated_boxes_cover_their_landmarks_and_mask(degrees, height, width, seed):
    gen = torch.Generator().manual_seed(seed)
    n, cat = 3, category(2)
    masks = torch.zeros(n, height, width, dtype=torch.uint8)
    for i in range(n):
        x = torch.sort(torch.randint(0, width, (2,), generator=gen)).values
        y = torch.sort(torch.randint(0, height, (2,), generator=gen)).values
        masks[i, y[0] : y[1] + 1, x[0] : x[1] + 1] = 1
    kps = torch.zeros(n, 294, 3)
    xy = torch.rand(n, cat.num_landmarks, 2, generator=gen) * torch.tensor([width, height])
    kps[:, cat.start : cat.end, :2] = xy
    kps[:, cat.start : cat.end, 2] = torch.randint(
        0, 3, (n, cat.num_landmarks), generator=gen
    ).float()
    kps[kps[..., 2] == 0] = 0.0
    boxes = torch.tensor([[0.0, 0.0, float(width), float(height)]] * n)
    target = {"boxes": boxes, "masks": masks, "keypoints": kps, "labels": torch.arange(n)}
    out = rotate_target(target, degrees, height, width)

    kept = out["labels"]
    assert out["boxes"].shape == (len(kept), 4) and out["masks"].shape[0] == len(kept)
    rotated = rotate_points(kps[..., :2], degrees, height, width)
    for j, i in enumerate(kept.tolist()):
        x1, y1, x2, y2 = out["boxes"][j].tolist()
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height
        pts = out["keypoints"][j]
        labelled = pts[:, 2] > 0
        assert (pts[labelled, 0] >= x1).all() and (pts[labelled, 0] <= x2).all()
        assert (pts[labelled, 1] >= y1).all() and (pts[labelled, 1] <= y2).all()
        torch.testing.assert_close(pts[labelled, :2], rotated[i, labelled])
        assert not pts[~labelled].any()
        # a labelled point is dropped exactly when its rotation leaves the image
        was = kps[i, :, 2] > 0
        r = rotated[i]
        inside = (r[:, 0] >= 0) & (r[:, 0] <= width) & (r[:, 1] >= 0) & (r[:, 1] <= height)
        assert torch.equal(labelled, was & inside)
        rows, cols = torch.nonzero(out["masks"][j], as_tuple=True)
        if len(rows):
            assert cols.min() >= x1 and cols.max() + 1 <= x2
            assert rows.min() >= y1 and rows.max() + 1 <= y2
        # the box is tight: it is the bounds of the mask pixels and the kept landmarks
        xs = torch.cat([cols.float(), cols.float() + 1, pts[labelled, 0]])
        ys = torch.cat([rows.float(), rows.float() + 1, pts[labelled, 1]])
        assert (x1, y1) == pytest.approx((xs.min().item(), ys.min().item()), abs=1e-4)
        assert (x2, y2) == pytest.approx((xs.max().item(), ys.max().item()), abs=1e-4)
    for i in sorted(set(range(n)) - set(kept.tolist())):
        # dropped: no mask pixel left, and the landmarks left (if any) span no box
        alone = rotate_target({"masks": masks[i : i + 1]}, degrees, height, width)["masks"]
        assert alone.shape[0] == 0 or not alone.any()
        r = rotated[i]
        inside = (r[:, 0] >= 0) & (r[:, 0] <= width) & (r[:, 1] >= 0) & (r[:, 1] <= height)
        left = r[(kps[i, :, 2] > 0) & inside]
        if len(left):
            span = left.amax(dim=0) - left.amin(dim=0)
            assert span.min().item() == 0.0


def test_quarter_turn_matches_rot90():
    image = _image(24, 24)
    masks = torch.zeros(2, 24, 24, dtype=torch.uint8)
    masks[0, 2:9, 3:20] = 1
    masks[1, 15:23, 0:5] = 1
    kps = torch.zeros(2, 294, 3)
    kps[0, 0] = torch.tensor([7.5, 3.5, 2.0])  # centre of pixel (row 3, column 7)
    target = {
        "masks": masks,
        "keypoints": kps,
        "boxes": torch.tensor([[3.0, 2, 20, 9], [0, 15, 5, 23]]),
    }
    out_image, out = rotate(image, target, 90.0)
    torch.testing.assert_close(out_image, torch.rot90(image, 1, dims=(-2, -1)))
    assert torch.equal(out["masks"], torch.rot90(masks, 1, dims=(-2, -1)))
    # the landmark's pixel moves where rot90 moves it: to row 24 - 1 - 7 = 16, column 3
    assert out["keypoints"][0, 0].tolist() == pytest.approx([3.5, 16.5, 2.0])
    expected = torch.tensor([[2.0, 4.0, 9.0, 21.0], [15.0, 19.0, 23.0, 24.0]])
    torch.testing.assert_close(out["boxes"], expected)
    pil = Image.fromarray((image.permute(1, 2, 0) * 255).round().byte().numpy())
    turned = np.asarray(rotate_image(pil, 90.0))
    assert np.array_equal(turned, np.rot90(np.asarray(pil), 1))


@pytest.mark.parametrize("degrees", [1.0, 7.0, -13.7, -25.0, 33.3, 45.0, 89.0, -120.0, 160.0])
def test_masks_land_where_rotate_points_sends_their_centres(degrees):
    """Masks (torchvision's resampling) and landmarks (`rotate_points`) share one geometry.

    A 2 x 2 block turned about its centre p is a square that holds the disc of radius 1 about p'
    (the turned p), so nearest sampling hits it at least once and only at pixel centres within
    sqrt(2) of p'; a quarter-pixel slip between the two conventions already breaks the bound.
    """
    height, width = 31, 40
    corners = [(3, 15), (15, 20), (22, 28), (10, 29), (18, 8), (12, 12), (25, 19), (6, 22)]
    masks = torch.zeros(len(corners), height, width, dtype=torch.uint8)
    for i, (r, c) in enumerate(corners):
        masks[i, r : r + 2, c : c + 2] = 1
    labels = torch.arange(len(corners))
    out = rotate_target({"labels": labels, "masks": masks}, degrees, height, width)
    assert out["labels"].tolist() == labels.tolist()  # all stay on the canvas
    centres = torch.tensor([[c + 1.0, r + 1.0] for r, c in corners])
    expected = rotate_points(centres, degrees, height, width)
    for i in range(len(corners)):
        got = torch.nonzero(out["masks"][i]).flip(1).float() + 0.5  # (x, y) pixel centres
        assert len(got) >= 1
        assert (got - expected[i]).norm(dim=1).max().item() <= 2**0.5 + 1e-4


def test_vanished_instances_are_dropped_from_every_per_instance_key():
    height = width = 40
    masks = torch.zeros(3, height, width, dtype=torch.uint8)
    masks[0, 15:25, 15:25] = 1
    masks[1, 0:3, 0:3] = 1  # the top-left corner: turned out of the canvas by 45 degrees
    masks[2, 30:38, 10:20] = 1
    kps = torch.zeros(3, 294, 3)
    kps[1, category(5).start] = torch.tensor([1.0, 1.0, 1.0])  # occluded point in that corner
    target = {
        "boxes": torch.tensor([[15.0, 15, 25, 25], [0, 0, 3, 3], [10, 30, 20, 38]]),
        "labels": torch.tensor([1, 5, 8]),
        "masks": masks,
        "keypoints": kps,
        "area": torch.tensor([100.0, 9.0, 80.0]),
        "iscrowd": torch.zeros(3, dtype=torch.int64),
        "pair_id": torch.tensor([7, 8, 9]),
        "style": torch.tensor([1, 2, 3]),
        "orig_size": torch.tensor([40, 40, 3]),  # image-level, though its length equals N
        "image_id": 4,
        "source": "user",
    }
    out = rotate_target(target, 45.0, height, width)
    assert out["labels"].tolist() == [1, 8]
    assert out["pair_id"].tolist() == [7, 9] and out["style"].tolist() == [1, 3]
    assert out["iscrowd"].tolist() == [0, 0]
    assert out["masks"].shape == (2, 40, 40) and out["keypoints"].shape == (2, 294, 3)
    assert out["boxes"].shape == (2, 4) and out["area"].shape == (2,)
    assert not out["keypoints"].any()  # the only labelled point left with its item
    assert out["orig_size"].tolist() == [40, 40, 3]
    assert (out["image_id"], out["source"]) == (4, "user")
    box = out["boxes"]
    torch.testing.assert_close(out["area"], (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]))
    for j in range(2):  # each kept box is its own rotated mask's bounds
        rows, cols = torch.nonzero(out["masks"][j], as_tuple=True)
        bounds = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
        assert box[j].tolist() == [float(v) for v in bounds]
    # without boxes the same instance vanishes: its mask and its landmark left the image
    bare = {key: target[key] for key in ("labels", "masks", "keypoints")}
    assert rotate_target(bare, 45.0, height, width)["labels"].tolist() == [1, 8]
    kept = select_instances(target, torch.tensor([False, True, False]))
    assert kept["labels"].tolist() == [5] and kept["keypoints"].shape == (1, 294, 3)


def test_item_without_mask_or_landmarks_keeps_its_rotated_box():
    target = {
        "boxes": torch.tensor([[10.0, 10.0, 30.0, 20.0], [1.0, 1.0, 3.0, 3.0]]),
        "masks": torch.zeros(2, 40, 40, dtype=torch.uint8),
        "labels": torch.tensor([3, 4]),
    }
    out = rotate_target(target, 90.0, 40, 40)
    # corners turned a quarter, (x, y) -> (y, 40 - x); the second box leaves the image
    assert out["labels"].tolist() == [3, 4]
    expected = torch.tensor([[10.0, 10.0, 20.0, 30.0], [1.0, 37.0, 3.0, 39.0]])
    torch.testing.assert_close(out["boxes"], expected)
    out = rotate_target(target, 45.0, 40, 40)
    assert out["labels"].tolist() == [3]  # the corner box is clipped to nothing


def test_single_landmark_item_is_dropped_as_degenerate():
    kps = torch.zeros(1, 294, 3)
    kps[0, 0] = torch.tensor([20.0, 20.0, 2.0])
    target = {
        "boxes": torch.tensor([[19.0, 19, 21, 21]]),
        "keypoints": kps,
        "labels": torch.tensor([1]),
    }
    out = rotate_target(target, 10.0, 40, 40)
    assert out["labels"].tolist() == [] and out["keypoints"].shape == (0, 294, 3)


def test_rotation_fills_corners_with_the_mean_colour():
    image = torch.zeros(3, 20, 20)
    image[:, :, 10:] = 1.0
    image[2] = 0.25
    out = rotate_image(image, 45.0)
    assert out[:, 0, 0].tolist() == pytest.approx([0.5, 0.5, 0.25])
    assert rotate_image(image, 45.0, fill=0.0)[:, 0, 0].tolist() == [0.0, 0.0, 0.0]
    pil = Image.fromarray(np.full((20, 20, 3), (200, 100, 0), dtype=np.uint8))
    assert np.asarray(rotate_image(pil, 45.0))[0, 0].tolist() == [200, 100, 0]
    with pytest.raises(ValueError):
        rotate_image(image, 45.0, fill=(0.0, 1.0))


def test_random_rotation_draws_angles_in_range():
    kps = torch.zeros(1, 294, 3)
    kps[0, 0] = torch.tensor([35.0, 20.0, 2.0])  # 15 px right of the centre of a 40 x 40 image
    target = {"keypoints": kps}  # no boxes: a lone landmark is kept
    transform = RandomRotation(max_degrees=25.0)
    torch.manual_seed(0)
    angles = []
    for _ in range(200):
        _, out = transform(torch.zeros(1, 40, 40), target)
        x, y = out["keypoints"][0, 0, :2].tolist()
        assert (x - 20.0) ** 2 + (y - 20.0) ** 2 == pytest.approx(15.0**2)
        angles.append(float(np.degrees(np.arctan2(20.0 - y, x - 20.0))))
    assert max(angles) <= 25.0 + 1e-4 and min(angles) >= -25.0 - 1e-4
    assert max(angles) > 20 and min(angles) < -20 and abs(np.mean(angles)) < 3


def test_gaussian_noise_has_the_requested_std():
    torch.manual_seed(0)
    image = torch.full((3, 100, 100), 0.5)
    target = _target()
    out, out_target = GaussianNoise(std=0.1)(image, target)
    assert out_target is target and out.dtype == torch.float32
    assert (out - 0.5).std().item() == pytest.approx(0.1, rel=0.03)
    assert (out - 0.5).mean().item() == pytest.approx(0.0, abs=0.005)
    assert torch.equal(image, torch.full((3, 100, 100), 0.5))  # not modified in place
    clipped = add_gaussian_noise(torch.ones(3, 50, 50), 0.2)
    assert clipped.max().item() == 1.0 and clipped.min().item() < 0.9
    as_bytes = add_gaussian_noise(torch.full((3, 100, 100), 128, dtype=torch.uint8), 0.1)
    assert as_bytes.dtype == torch.uint8
    assert (as_bytes.float() - 128).std().item() == pytest.approx(25.5, rel=0.05)
    pil = Image.fromarray(np.full((50, 50, 3), 128, dtype=np.uint8))
    noisy = add_gaussian_noise(pil, 0.1)
    assert isinstance(noisy, Image.Image) and noisy.mode == "RGB"
    assert np.asarray(noisy).astype(float).std() == pytest.approx(25.5, rel=0.1)
    assert GaussianNoise(0.1, prob=0.0)(image, target)[0] is image
    assert GaussianNoise(0.0)(image, target)[0] is image


def test_rotation_and_noise_arguments():
    with pytest.raises(ValueError):
        RandomRotation(25.0, prob=2.0)
    with pytest.raises(ValueError):
        RandomRotation(-1.0)
    with pytest.raises(ValueError):
        GaussianNoise(-0.1)
    with pytest.raises(ValueError):
        GaussianNoise(0.1, prob=-0.5)
    assert repr(RandomRotation()) == "RandomRotation(max_degrees=25.0, prob=1.0, fill='mean')"
