"""RoIAlign over FPN levels as one sparse-matrix product, for training on the CPU.

torchvision's CPU RoIAlign, forward and backward, took about a quarter of a tiny Match R-CNN
training step on 2 cores (benchmarks/RESULTS.md).  But
bilinear sampling on a fixed grid is linear in the features, with weights that depend on the
boxes only: pooled = M @ F, where F stacks every FPN level channels-last ([sum of N*H*W, C]) and
M is a sparse matrix with sampling_ratio² x 4 weights per output cell.  Built once per call as
CSR, torch's sparse kernels do the forward (M @ F) and the backward (Mᵀ @ grad) over all levels
at once.

The numbers are torchvision's `roi_align(..., aligned=False)` with a fixed `sampling_ratio` (what
`MultiScaleRoIAlign` uses) up to float rounding: box widths and heights at least one feature
pixel, samples at bin-centred sub-grid points, a sample more than one pixel outside the map
contributes 0, coordinates clamped at the first and last row/column, the mean over the sub-grid.
Checked against torchvision's kernel (values and gradients) in tests/models.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import torch
import torchvision
from torch import Tensor
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops.poolers import _convert_to_roi_format, _filter_input, _setup_scales


def _axis_samples(
    start: Tensor, length: Tensor, cells: int, sampling_ratio: int, size: Tensor
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Along one axis, for R boxes: the lower/upper neighbour index and their weights at the
    `cells * sampling_ratio` sample points ([R, cells * sampling_ratio] each); `size` [R] is the
    feature map's extent on this axis for each box's level."""
    arange = torch.arange(cells * sampling_ratio, device=start.device)
    cell = (arange // sampling_ratio).to(start.dtype)
    sub = (arange % sampling_ratio).to(start.dtype) + 0.5
    bin_size = (length / cells)[:, None]
    # torchvision's order of operations, so that a sample on the map's far edge (t == size,
    # inside) rounds as there rather than to just outside it
    t = start[:, None] + cell * bin_size + sub * bin_size / sampling_ratio
    size = size[:, None]
    inside = ((t >= -1.0) & (t <= size)).to(start.dtype)
    t = t.clamp(min=0.0)
    low = torch.minimum(t.floor().long(), size - 1)
    at_edge = low >= size - 1
    t = torch.where(at_edge, low.to(t.dtype), t)
    high = torch.where(at_edge, low, low + 1)
    frac = t - low
    return low, high, (1.0 - frac) * inside, frac * inside


def sparse_roi_align(
    features: Sequence[Tensor],
    rois: Tensor,
    levels: Tensor,
    scales: Sequence[float],
    output_size: tuple[int, int],
    sampling_ratio: int,
) -> Tensor:
    """Pool `rois` [R, 5] (batch index, x1, y1, x2, y2 in image pixels) from `features` (one
    [N, C, H_l, W_l] map per level; RoI r from level `levels[r]` at scale `scales[l]`) to
    [R, C, *output_size], as torchvision's roi_align with ``aligned=False``."""
    if sampling_ratio <= 0:
        raise ValueError("sparse_roi_align needs a fixed sampling_ratio > 0")
    first = features[0]
    num_rois, channels = rois.shape[0], first.shape[1]
    ph, pw = output_size
    if num_rois == 0:
        return first.new_zeros((0, channels, ph, pw))
    device, dtype = first.device, first.dtype
    heights = torch.tensor([f.shape[2] for f in features], device=device)
    widths = torch.tensor([f.shape[3] for f in features], device=device)
    sizes = [f.shape[0] * f.shape[2] * f.shape[3] for f in features]
    offsets = torch.tensor([0, *sizes[:-1]], device=device).cumsum(0)
    level_scale = torch.tensor(list(scales), dtype=dtype, device=device)[levels]
    height, width = heights[levels], widths[levels]

    boxes = rois[:, 1:].to(dtype) * level_scale[:, None]
    x1, y1, x2, y2 = boxes.unbind(1)
    y_low, y_high, wy_low, wy_high = _axis_samples(
        y1, (y2 - y1).clamp(min=1.0), ph, sampling_ratio, height
    )
    x_low, x_high, wx_low, wx_high = _axis_samples(
        x1, (x2 - x1).clamp(min=1.0), pw, sampling_ratio, width
    )
    # axes [R, ph, pw, sy, sx, 2 (y neighbour), 2 (x neighbour)]: each output cell's
    # sampling_ratio² x 4 entries are contiguous, so the rows come out sorted (CSR as built)
    s = sampling_ratio
    rows_y = torch.stack([y_low, y_high], -1).view(num_rois, ph, 1, s, 1, 2, 1)
    cols_x = torch.stack([x_low, x_high], -1).view(num_rois, 1, pw, 1, s, 1, 2)
    weight_y = torch.stack([wy_low, wy_high], -1).view(num_rois, ph, 1, s, 1, 2, 1)
    weight_x = torch.stack([wx_low, wx_high], -1).view(num_rois, 1, pw, 1, s, 1, 2)
    image = rois[:, 0].long()
    base = offsets[levels] + image * height * width
    columns = base.view(-1, 1, 1, 1, 1, 1, 1) + rows_y * width.view(-1, 1, 1, 1, 1, 1, 1) + cols_x
    values = weight_y * weight_x / float(s * s)
    per_cell = s * s * 4
    crow = torch.arange(0, num_rois * ph * pw * per_cell + 1, per_cell, device=device)
    with warnings.catch_warnings():  # the layout's "beta" notice, once per process
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        matrix = torch.sparse_csr_tensor(
            crow,
            columns.reshape(-1),
            values.reshape(-1),
            (num_rois * ph * pw, sum(sizes)),
            check_invariants=False,  # sorted rows, in-range columns: true by construction
        )
    stacked = torch.cat([f.permute(0, 2, 3, 1).reshape(-1, channels) for f in features])
    pooled = matrix @ stacked
    return pooled.view(num_rois, ph, pw, channels).permute(0, 3, 1, 2)


class SparseMultiScaleRoIAlign(MultiScaleRoIAlign):
    """`MultiScaleRoIAlign` whose CPU path is `sparse_roi_align` (same level mapping, same
    numbers up to float rounding); on CUDA, when tracing, or with an adaptive sampling ratio
    it is torchvision's."""

    def forward(
        self,
        x: dict[str, Tensor],
        boxes: list[Tensor],
        image_shapes: list[tuple[int, int]],
    ) -> Tensor:
        x_filtered = _filter_input(x, self.featmap_names)
        if x_filtered[0].is_cuda or self.sampling_ratio <= 0 or torchvision._is_tracing():
            return super().forward(x, boxes, image_shapes)
        if self.scales is None or self.map_levels is None:  # as torchvision: set on first use
            self.scales, self.map_levels = _setup_scales(
                x_filtered, image_shapes, self.canonical_scale, self.canonical_level
            )
        rois = _convert_to_roi_format(boxes)
        if len(x_filtered) == 1:
            levels = torch.zeros(rois.shape[0], dtype=torch.long, device=rois.device)
        else:
            levels = self.map_levels(boxes).long()
        return sparse_roi_align(
            x_filtered, rois, levels, self.scales, self.output_size, self.sampling_ratio
        )
