"""Tests of fashionvision.models.landmark_pooling: geometry, max pooling, gating, gradients."""

from __future__ import annotations

import pytest
import torch
from torchvision.ops import roi_align

from fashionvision.models.landmark_pooling import landmark_pool


def _ones(b: int, n: int) -> torch.Tensor:
    return torch.ones(b, n)


def test_spike_hand_computed() -> None:
    # One active cell (row 2, column 3) of a stride-4 map; the landmark sits on that cell's centre,
    # (3.5 * 4, 2.5 * 4) in image pixels.  Each bin takes the max of 2 x 2 bilinear samples at
    # +-0.25 cell from its centre: the centre bin sees the spike with weight 0.75 * 0.75, its
    # side neighbours 0.25 * 0.75 at best, the corners 0.25 * 0.25.
    features = torch.zeros(1, 1, 6, 6)
    features[0, 0, 2, 3] = 1.0
    out = landmark_pool(features, torch.tensor([[[14.0, 10.0]]]), _ones(1, 1), stride=4)
    assert out.shape == (1, 1, 1, 3, 3)
    expected = torch.tensor(
        [[0.0625, 0.1875, 0.0625], [0.1875, 0.5625, 0.1875], [0.0625, 0.1875, 0.0625]]
    )
    torch.testing.assert_close(out[0, 0, 0], expected, rtol=0, atol=1e-7)


def test_ramp_window_rows_columns_and_centre() -> None:
    # f(row, col) = col + 10 row is linear, so bilinear samples are exact and each bin's max is
    # its bottom-right sample: landmark (7, 9) px at stride 2 is cell (col 3, row 4); bin (i, j)
    # is centred on cell (col 3 + j - 1, row 4 + i - 1) and its max sample lies +0.25 further.
    rows, cols = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    features = torch.stack([cols + 10 * rows, -(cols + 10 * rows)])[None]  # [1, 2, 8, 8]
    out = landmark_pool(features, torch.tensor([[[7.0, 9.0]]]), _ones(1, 1), stride=2)
    i, j = torch.meshgrid(torch.arange(3.0), torch.arange(3.0), indexing="ij")
    torch.testing.assert_close(out[0, 0, 0], (2.25 + j) + 10 * (3.25 + i))
    # Channel 1 is the negated ramp: its max is the top-left sample (-0.25 cell).
    torch.testing.assert_close(out[0, 0, 1], -((1.75 + j) + 10 * (2.75 + i)))


def test_one_sample_per_bin_equals_roi_align_of_the_centred_box() -> None:
    # With a single sample per bin the pooling is RoIAlign (aligned=True) of the box of side
    # size * stride centred on the landmark (interior landmarks: the two differ only in how they
    # pad outside the map).
    torch.manual_seed(0)
    stride, size = 8.0, 3
    features = torch.randn(2, 5, 12, 10)
    landmarks = torch.rand(2, 4, 2) * torch.tensor([40.0, 56.0]) + 20.0
    out = landmark_pool(features, landmarks, _ones(2, 4), stride, size=size, samples=1)
    half = size * stride / 2
    boxes = torch.cat([landmarks - half, landmarks + half], dim=-1)  # xyxy
    rois = torch.cat([torch.arange(2.0).repeat_interleave(4)[:, None], boxes.reshape(8, 4)], 1)
    ref = roi_align(features, rois, size, 1 / stride, sampling_ratio=1, aligned=True)
    torch.testing.assert_close(out.reshape(8, 5, size, size), ref, rtol=1e-5, atol=1e-5)


def test_gate_scales_and_zeroes() -> None:
    torch.manual_seed(1)
    features = torch.rand(2, 3, 8, 8) + 0.1
    landmarks = torch.tensor([[[20.0, 20.0], [40.0, 12.0]], [[8.0, 50.0], [33.0, 33.0]]])
    full = landmark_pool(features, landmarks, _ones(2, 2), stride=8)
    gate = torch.tensor([[0.0, 1.0], [0.5, 0.0]])
    gated = landmark_pool(features, landmarks, gate, stride=8)
    assert torch.all(full > 0)
    assert torch.all(gated[0, 0] == 0) and torch.all(gated[1, 1] == 0)
    torch.testing.assert_close(gated[0, 1], full[0, 1])
    torch.testing.assert_close(gated[1, 0], 0.5 * full[1, 0])


def test_gradcheck_features_landmarks_gate() -> None:
    torch.manual_seed(2)
    features = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    # Off-grid points (bilinear interpolation has kinks on the grid lines), one near the border.
    landmarks = torch.tensor(
        [[[9.37, 7.13], [14.61, 12.29], [1.19, 13.77]]], dtype=torch.float64, requires_grad=True
    )
    gate = torch.tensor([[0.9, 0.3, 0.6]], dtype=torch.float64, requires_grad=True)

    def pool(f: torch.Tensor, lm: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        return landmark_pool(f, lm, g, stride=3.0, size=2)

    assert torch.autograd.gradcheck(pool, (features, landmarks, gate))
    landmarks.grad = None
    pool(features, landmarks, gate).sum().backward()
    assert landmarks.grad is not None and bool((landmarks.grad != 0).all())


def test_landmarks_outside_the_image_are_sane() -> None:
    torch.manual_seed(3)
    features = (torch.rand(1, 4, 8, 8) + 0.5).requires_grad_()
    inf, nan = float("inf"), float("nan")
    landmarks = torch.tensor(
        [
            [
                [-500.0, 30.0],  # far left
                [1e30, -1e30],  # absurdly far
                [nan, 10.0],
                [inf, -inf],
                [-4.0, 32.0],  # half a cell left of the image: the window is partly inside
                [32.0, 32.0],  # inside
            ]
        ],
        requires_grad=True,
    )
    out = landmark_pool(features, landmarks, _ones(1, 6), stride=8)
    assert torch.isfinite(out).all()
    assert torch.all(out[0, :4] == 0)
    edge, inside = out[0, 4], out[0, 5]
    assert torch.all(edge[..., 0] == 0)  # the left column lies outside the map
    assert torch.all(edge[..., 1:] > 0) and torch.all(inside > 0)
    out.sum().backward()
    assert torch.isfinite(features.grad).all() and torch.isfinite(landmarks.grad).all()
    assert torch.all(landmarks.grad[0, :4] == 0)


def test_shapes_and_errors() -> None:
    features = torch.rand(2, 3, 4, 4)
    out = landmark_pool(features, torch.rand(2, 5, 2) * 32, _ones(2, 5), stride=8, size=2)
    assert out.shape == (2, 5, 3, 2, 2)
    empty = landmark_pool(features, torch.zeros(2, 0, 2), torch.zeros(2, 0), stride=8)
    assert empty.shape == (2, 0, 3, 3, 3)
    with pytest.raises(ValueError, match="landmark_pool"):
        landmark_pool(features, torch.rand(2, 5, 2), _ones(2, 4), stride=8)
