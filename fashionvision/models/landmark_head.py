"""Landmark stream of Match R-CNN: 8 conv + 2 deconv -> 294 heatmaps; targets, loss, decoding.

Each RoI only has landmarks in its category's slice of the 294-landmark layout (8 to 39 points), so
the head can predict just that slice: `LandmarkHead.forward(x, labels)` runs the last deconvolution
with the weight columns of each RoI's category only and returns `[R, S, H, W]` logits, S = 39 (the
largest slice), channel j of RoI r = global landmark ``start(labels[r]) + j`` (channels past the
slice length are zero padding).  Without `labels` it returns all 294 channels.  Predicting the slice
avoids materialising `R x 294 x 56 x 56` floats — the dominant activation of the stream.

Heatmap geometry and loss follow torchvision's keypoint R-CNN (`keypoints_to_heatmap`): a target
is one cell of an `H x W` grid laid over the RoI, the loss is a softmax cross-entropy over the
`H*W` cells of each labelled landmark.  Decoding is vectorised (see `decode_landmarks`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection.roi_heads import keypoints_to_heatmap

from fashionvision.categories import CATEGORIES, NUM_LANDMARKS
from fashionvision.models.matching_head import conv_relu_layers

MAX_SLICE = max(c.num_landmarks for c in CATEGORIES)
# Indexed by label (0 = background gets an empty slice at 0).
_STARTS = torch.tensor([0] + [c.start for c in CATEGORIES], dtype=torch.int64)
_LENGTHS = torch.tensor([0] + [c.num_landmarks for c in CATEGORIES], dtype=torch.int64)


def slice_index(labels: Tensor) -> tuple[Tensor, Tensor]:
    """Global landmark indices of each RoI's category slice, padded to `MAX_SLICE`.

    Args:
        labels: `[R]` int64 category ids (1..13; 0 gives an empty slice).
    Returns:
        index `[R, MAX_SLICE]` int64 (padding clamped to a valid index) and
        valid `[R, MAX_SLICE]` bool.
    """
    starts = _STARTS.to(labels.device)[labels]
    lengths = _LENGTHS.to(labels.device)[labels]
    offsets = torch.arange(MAX_SLICE, device=labels.device)
    valid = offsets[None, :] < lengths[:, None]
    index = (starts[:, None] + offsets[None, :]).clamp(max=NUM_LANDMARKS - 1)
    return index, valid


class LandmarkHead(nn.Module):
    """`[R, C, 14, 14]` RoI features -> landmark heatmap logits `[R, S, 56, 56]`.

    `num_convs` 3x3 conv + ReLU layers of `width` channels, one 2x deconvolution + ReLU, and a
    final 2x deconvolution to `NUM_LANDMARKS` channels (computed per category slice when labels
    are given).
    """

    def __init__(self, in_channels: int, width: int = 512, num_convs: int = 8) -> None:
        super().__init__()
        layers = conv_relu_layers(in_channels, width, num_convs)
        layers += [nn.ConvTranspose2d(width, width, 4, stride=2, padding=1), nn.ReLU(inplace=True)]
        self.convs = nn.Sequential(*layers)
        self.predictor = nn.ConvTranspose2d(width, NUM_LANDMARKS, 4, stride=2, padding=1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Logits `[R, 294, 4h, 4w]` without labels; `[R, MAX_SLICE, 4h, 4w]` slices with them."""
        x = self.convs(x)
        if labels is None:
            return self.predictor(x)
        # RoIs sorted by label make each category a contiguous chunk: one deconvolution per
        # category, one concatenation and one gather back (cheaper than scattered writes).
        order = torch.argsort(labels, stable=True)
        counts = torch.bincount(labels[order], minlength=len(CATEGORIES) + 1).tolist()
        chunks = []
        for label, chunk in enumerate(x[order].split(counts)):
            if len(chunk) == 0:
                continue
            if label == 0:  # background RoIs have no landmarks
                chunks.append(chunk.new_zeros((len(chunk), MAX_SLICE, *self._out_size(chunk))))
                continue
            cat = CATEGORIES[label - 1]
            logits = F.conv_transpose2d(
                chunk,
                # A column slice of the weight is strided; contiguous keeps the fast conv kernel.
                self.predictor.weight[:, cat.landmark_slice].contiguous(),
                self.predictor.bias[cat.landmark_slice],
                stride=2,
                padding=1,
            )
            chunks.append(F.pad(logits, (0, 0, 0, 0, 0, MAX_SLICE - cat.num_landmarks)))
        if not chunks:
            return x.new_zeros((0, MAX_SLICE, *self._out_size(x)))
        return torch.cat(chunks)[torch.argsort(order)]

    @staticmethod
    def _out_size(x: Tensor) -> tuple[int, int]:
        return x.shape[2] * 2, x.shape[3] * 2


def encode_landmark_targets(
    landmarks: Tensor, labels: Tensor, rois: Tensor, heatmap_size: int
) -> tuple[Tensor, Tensor]:
    """Heatmap cell targets of each RoI's category slice.

    Args:
        landmarks: `[R, 294, 3]` (x, y, v) in image pixels of each RoI's matched GT item.
        labels: `[R]` category ids of the matched GT items.
        rois: `[R, 4]` xyxy proposals in the same pixel frame.
        heatmap_size: side of the square heatmap (56).
    Returns:
        targets `[R, MAX_SLICE]` int64 flat cell index ``y * size + x``;
        valid `[R, MAX_SLICE]` bool =
        inside the slice, labelled (v > 0: visible or occluded) and inside the RoI.
    """
    index, in_slice = slice_index(labels)
    gathered = torch.gather(landmarks, 1, index[..., None].expand(-1, -1, 3))
    targets, valid = keypoints_to_heatmap(gathered, rois, heatmap_size)
    return targets, valid.bool() & in_slice


def landmark_loss(logits: Tensor, targets: Tensor, valid: Tensor) -> Tensor:
    """Softmax cross-entropy over heatmap cells, averaged over the valid landmarks.

    Args:
        logits: `[R, K, H, W]`; targets, valid: `[R, K]` as from `encode_landmark_targets`
            (K = MAX_SLICE, or 294 with targets/valid laid out globally).
    Returns:
        scalar; 0 (connected to the graph) when no landmark is valid.
    """
    if not bool(valid.any()):
        return logits.sum() * 0.0
    flat = logits.flatten(2)[valid]
    return F.cross_entropy(flat, targets[valid])


def _subcell_offset(
    flat: Tensor, index: Tensor, step: int, at_low: Tensor, at_high: Tensor
) -> Tensor:
    """Quarter-cell shift towards the higher of the two neighbours of the argmax along one axis
    (the usual heatmap refinement; an edge cell has only one neighbour and is not shifted)."""
    high = flat.gather(-1, (index + step).clamp(max=flat.shape[-1] - 1))
    low = flat.gather(-1, (index - step).clamp(min=0))
    shift = 0.25 * torch.sign(high - low)
    return torch.where(at_low | at_high, torch.zeros_like(shift), shift)


def decode_landmarks(logits: Tensor, labels: Tensor, rois: Tensor) -> Tensor:
    """Heatmap logits of the category slices -> global landmarks in image pixels.

    Vectorised over RoIs: argmax cell of each heatmap, refined by a quarter cell towards the larger
    neighbour, mapped to the RoI with torchvision's convention (cell d covers [d, d + 1), its
    centre d + 0.5).  torchvision's `heatmaps_to_keypoints` instead upsamples every heatmap to its
    RoI's size in a Python loop, which dominated inference time with 100 detections.

    Args:
        logits: `[R, MAX_SLICE, H, W]` as returned by `LandmarkHead(x, labels)`.
        labels: `[R]` predicted category ids.
        rois: `[R, 4]` xyxy boxes the heatmaps were pooled from.
    Returns:
        `[R, 294, 3]` = (x, y, score) with score the heatmap logit at the argmax;
        zeros outside each RoI's category slice.
    """
    num, channels, height, width = logits.shape
    flat = logits.reshape(num, channels, height * width)
    scores, index = flat.max(dim=-1)
    ix, iy = index % width, torch.div(index, width, rounding_mode="floor")
    dx = _subcell_offset(flat, index[..., None], 1, ix[..., None] == 0, ix[..., None] == width - 1)
    dy = _subcell_offset(
        flat, index[..., None], width, iy[..., None] == 0, iy[..., None] == height - 1
    )
    cell_w = ((rois[:, 2] - rois[:, 0]).clamp(min=1) / width)[:, None]
    cell_h = ((rois[:, 3] - rois[:, 1]).clamp(min=1) / height)[:, None]
    x = rois[:, 0:1] + (ix + 0.5 + dx[..., 0]) * cell_w
    y = rois[:, 1:2] + (iy + 0.5 + dy[..., 0]) * cell_h
    sliced = torch.stack([x, y, scores], dim=-1)

    index, valid = slice_index(labels)
    out = logits.new_zeros((num, NUM_LANDMARKS, 3))
    rows = torch.arange(num, device=logits.device)[:, None].expand_as(index)
    out[rows[valid], index[valid]] = sliced[:, : index.shape[1]][valid].to(out.dtype)
    return out
