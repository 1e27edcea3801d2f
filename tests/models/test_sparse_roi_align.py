"""The sparse-matrix RoIAlign against torchvision's kernel: values and gradients (float64, so a
difference is a semantics difference, not rounding), over the edge cases of the kernel's rules,
for one level and for the FPN pooler, and a whole model's losses with either pooler."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from test_match_rcnn import synthetic_pair, tiny_model
from torchvision.ops import MultiScaleRoIAlign, roi_align

from fashionvision.errors import FashionVisionError
from fashionvision.models.sparse_roi_align import SparseMultiScaleRoIAlign, sparse_roi_align

# (batch index, x1, y1, x2, y2) on a 2 x 13 x 17 map at scale 1: every rule of torchvision's
# bilinear sampling is met by some box.
EDGE_ROIS = [
    [0, 2.0, 3.0, 9.5, 11.0],  # plain
    [1, 0.0, 0.0, 16.0, 12.0],  # the whole map: samples near the last row/column clamp
    [0, 4.2, 5.7, 4.6, 5.9],  # under one pixel: width and height become 1
    [1, -3.0, -2.5, 5.0, 4.0],  # starts outside: samples in [-1, 0) clamp to 0, below -1 are 0
    [0, 12.0, 8.0, 25.0, 20.0],  # runs past the right and bottom edges
    [1, -9.0, -9.0, -2.0, -1.5],  # wholly outside: all zeros
    [0, 16.0, 12.0, 16.9, 12.9],  # on the last pixel
    [1, 7.25, 1.125, 7.25, 10.0],  # zero width
]


def _single_level_case(dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(2, 3, 13, 17, generator=generator, dtype=dtype, requires_grad=True)
    return features, torch.tensor(EDGE_ROIS, dtype=dtype)


@pytest.mark.parametrize("output_size", [(7, 7), (14, 14), (3, 5)])
@pytest.mark.parametrize("sampling_ratio", [1, 2, 3])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_equals_torchvision_roi_align_values_and_gradients(
    output_size: tuple[int, int], sampling_ratio: int, scale: float
) -> None:
    features, rois = _single_level_case()
    if scale != 1.0:
        rois = torch.cat([rois[:, :1], rois[:, 1:] / scale], 1)
    levels = torch.zeros(len(rois), dtype=torch.long)
    ours = sparse_roi_align([features], rois, levels, [scale], output_size, sampling_ratio)
    theirs = roi_align(features, rois, output_size, scale, sampling_ratio, aligned=False)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    grad = torch.randn_like(theirs)
    (ours_grad,) = torch.autograd.grad(ours, features, grad)
    (theirs_grad,) = torch.autograd.grad(theirs, features, grad)
    torch.testing.assert_close(ours_grad, theirs_grad, rtol=0, atol=1e-12)
    assert theirs[5].abs().max() == 0 and ours[5].abs().max() == 0  # the box outside the map


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_a_sample_exactly_on_the_far_edge_reads_the_last_pixel(dtype: torch.dtype) -> None:
    # a 512-px box from -128 on a 16x16 map at 1/16: the first sample of bin 5 lands at 16.0,
    # the map's far edge, which RoIAlign counts as inside; rounded just past it, it read 0
    features = torch.randn(1, 3, 16, 16, dtype=dtype)
    rois = torch.tensor([[0.0, -128.0, -128.0, 384.0, 384.0]], dtype=dtype)
    levels = torch.zeros(1, dtype=torch.long)
    ours = sparse_roi_align([features], rois, levels, [1 / 16], (7, 7), 2)
    theirs = roi_align(features, rois, (7, 7), 1 / 16, 2, aligned=False)
    assert theirs[0, :, 1:6, 5].abs().min() > 0
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_no_rois_and_adaptive_sampling() -> None:
    features, _ = _single_level_case()
    empty = torch.zeros((0, 5), dtype=torch.float64)
    out = sparse_roi_align([features], empty, torch.zeros(0, dtype=torch.long), [1.0], (7, 7), 2)
    assert out.shape == (0, 3, 7, 7)
    with pytest.raises(ValueError, match="sampling_ratio"):
        sparse_roi_align([features], empty, torch.zeros(0, dtype=torch.long), [1.0], (7, 7), 0)


def _fpn_case() -> tuple[OrderedDict[str, torch.Tensor], list[torch.Tensor], list[tuple]]:
    """Four levels of a 2-image batch padded to 96 x 128 and boxes of every size, so that the
    level mapper sends some to each level."""
    generator = torch.Generator().manual_seed(1)
    names = ["0", "1", "2", "3"]
    features = OrderedDict(
        (
            name,
            torch.randn(
                2, 4, 24 >> i, 32 >> i, generator=generator, dtype=torch.float64, requires_grad=True
            ),
        )
        for i, name in enumerate(names)
    )
    boxes = []
    for _ in range(2):
        xy = torch.rand(40, 2, generator=generator, dtype=torch.float64) * torch.tensor([120, 90])
        wh = torch.rand(40, 2, generator=generator, dtype=torch.float64) ** 2 * 700 + 0.5
        boxes.append(torch.cat([xy, xy + wh], 1))
    return features, boxes, [(90, 120), (96, 128)]


@pytest.mark.parametrize("output_size", [7, 14])
def test_multiscale_pooler_equals_torchvision(output_size: int) -> None:
    features, boxes, shapes = _fpn_case()
    names = list(features)
    theirs_pool = MultiScaleRoIAlign(names, output_size, sampling_ratio=2)
    ours_pool = SparseMultiScaleRoIAlign(names, output_size, sampling_ratio=2)
    theirs = theirs_pool(features, boxes, shapes)
    ours = ours_pool(features, boxes, shapes)
    levels = theirs_pool.map_levels(boxes)
    assert len(set(levels.tolist())) == 4  # the case reaches every level
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)
    grad = torch.randn_like(theirs)
    ours_grad = torch.autograd.grad(ours, list(features.values()), grad)
    theirs_grad = torch.autograd.grad(theirs, list(features.values()), grad)
    for a, b in zip(ours_grad, theirs_grad, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_multiscale_pooler_falls_back_to_torchvision_for_adaptive_sampling() -> None:
    features, boxes, shapes = _fpn_case()
    names = list(features)
    theirs = MultiScaleRoIAlign(names, 7, sampling_ratio=0)(features, boxes, shapes)
    ours = SparseMultiScaleRoIAlign(names, 7, sampling_ratio=0)(features, boxes, shapes)
    assert torch.equal(ours, theirs)


def test_model_losses_match_with_either_pooler() -> None:
    images, targets = synthetic_pair()
    losses = {}
    for kind in ("torchvision", "sparse"):
        model = tiny_model(roi_align=kind)
        model.train()
        torch.manual_seed(3)  # the same proposal and pair sampling
        losses[kind] = {k: v.item() for k, v in model(images, targets).items()}
    for key, value in losses["torchvision"].items():
        assert losses["sparse"][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(FashionVisionError, match="model.roi_align"):
        tiny_model(roi_align="fast")
