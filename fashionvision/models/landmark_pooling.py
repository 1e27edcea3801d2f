"""Landmark pooling: FashionNet's ``pool5_local`` (Liu et al., "DeepFashion", CVPR 2016).

For every landmark, a ``size x size`` window of feature cells centred on the landmark is
max-pooled out of the feature map and multiplied by a gate (the landmark's visibility), so that
the local features of a garment are read where its collar, sleeves, hem... are, whatever the pose.

Geometry.  Landmarks are ``(x, y)`` in input-image pixels, continuous convention (pixel column i
covers ``[i, i + 1)``); feature cell j of a map with stride s covers image ``[j s, (j + 1) s)``, so
a landmark lies at feature coordinate ``x / s`` (cell j's centre at ``j + 0.5``).  Output bin
``(i, j)`` (row, column) is the feature-cell-sized square centred at
``(x / s + j - (size - 1) / 2, y / s + i - (size - 1) / 2)``: the window spans ``size * s``
image pixels, as a RoI of side ``size * s`` centred on the landmark would.

Pooling.  Each bin is the maximum of ``samples x samples`` bilinear samples placed regularly in it
(at offsets ``(a + 0.5) / samples - 0.5`` cell, a = 0..samples-1): RoIAlign with max instead of
mean.  Max because the paper max-pools around the landmark (a part's response matters where it is
strongest, not averaged with background); bilinear samples instead of RoIPool's quantised cells
because a landmark between two cells then moves the result continuously.  Samples outside the
feature map read zeros (as RoIAlign's), so a landmark far outside the image pools zeros, and a
non-finite landmark is pooled as one far outside (zeros, no NaN).

Gradients reach `features` (through the bilinear weights of each bin's maximal sample), `gate`
(the pooled values) and `landmarks` (the slope of the bilinear interpolation at the maximal
sample; zero where a landmark was clamped or replaced, i.e. its window lies wholly outside the
map).  Callers that do not want the pooling to move the landmarks detach them (FashionNet does).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _offsets(size: int, samples: int, like: Tensor) -> Tensor:
    """`[size * samples]` sample offsets from the landmark, in feature cells, bin-major."""
    bins = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    within = (torch.arange(samples, dtype=like.dtype, device=like.device) + 0.5) / samples - 0.5
    return (bins[:, None] + within[None, :]).reshape(-1)


def landmark_pool(
    features: Tensor,
    landmarks: Tensor,
    gate: Tensor,
    stride: float,
    size: int = 3,
    samples: int = 2,
) -> Tensor:
    """Max-pool a ``size x size`` window of `features` around each landmark, times its gate.

    Args:
        features: `[B, C, H, W]` feature map of stride `stride` relative to the input image.
        landmarks: `[B, L, 2]` (x, y) in input-image pixels (see the module docstring).
        gate: `[B, L]` multiplier of each landmark's pooled features: 1 keep, 0 zero out, or a
            probability (e.g. P(visible)); gradients reach it.
        stride: input pixels per feature cell.
        size: window side in feature cells (the paper's 3).
        samples: bilinear samples per bin side; each bin is the max of ``samples**2`` samples.
    Returns:
        `[B, L, C, size, size]`: bin ``[..., i, j]`` is row i (top to bottom), column j (left to
        right) of the window; ``out.flatten(1)`` is the per-image local feature vector.
    """
    b, c, h, w = features.shape
    num = landmarks.shape[1]
    if landmarks.shape != (b, num, 2) or gate.shape != (b, num):
        raise ValueError(
            f"landmark_pool: landmarks {tuple(landmarks.shape)} and gate {tuple(gate.shape)} do "
            f"not fit features {tuple(features.shape)} (want [B, L, 2] and [B, L])"
        )
    if num == 0:
        return features.new_zeros(b, 0, c, size, size)
    # Coordinates in at least float32 (float16 resolves 1/64 cell at 30 cells); the grid takes
    # the features' dtype only when handed to grid_sample.
    centre = landmarks.to(torch.promote_types(features.dtype, torch.float32)) / stride
    # Beyond `margin` cells outside the map every sample reads zeros, so clamping there changes
    # nothing but keeps huge coordinates from overflowing grid_sample's integer cell indices.
    margin = size + 2.0
    far = torch.full_like(centre, -margin)
    centre = torch.where(torch.isfinite(centre), centre, far)
    extent = centre.new_tensor([w, h])
    centre = torch.maximum(torch.minimum(centre, extent + margin), far)

    offsets = _offsets(size, samples, centre)  # [n], n = size * samples
    n = offsets.numel()
    xs = centre[..., 0, None] + offsets  # [B, L, n]
    ys = centre[..., 1, None] + offsets
    # grid_sample with align_corners=False maps -1/+1 to the map's outer edges, i.e. continuous
    # coordinate u to 2u/W - 1: the same convention as the landmarks.
    grid = torch.stack(
        [
            (2 * xs / w - 1)[:, :, None, :].expand(b, num, n, n),
            (2 * ys / h - 1)[:, :, :, None].expand(b, num, n, n),
        ],
        dim=-1,
    )  # [B, L, n (rows), n (columns), 2]
    sampled = F.grid_sample(
        features,
        grid.reshape(b, num * n, n, 2).to(features.dtype),
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )  # [B, C, L * n, n]
    sampled = sampled.reshape(b, c, num, size, samples, size, samples)
    pooled = sampled.amax(dim=(4, 6)).permute(0, 2, 1, 3, 4)  # [B, L, C, size, size]
    return pooled * gate.to(pooled.dtype)[:, :, None, None, None]
