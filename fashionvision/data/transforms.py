"""Joint image/target transforms for detection training.

Every transform is a callable ``(image, target) -> (image, target)`` where `image` is a PIL image or
a tensor [C, H, W] and `target` is the dict of `fashionvision.data.dataset.DeepFashion2Dataset`:
``boxes`` float [N, 4] xyxy, ``masks`` uint8 [N, H, W], ``keypoints`` float [N, 294, 3] (x, y, v)
and ``area`` float [N]; other keys pass through unchanged.  Missing keys are simply skipped.

Pixel convention: coordinates are continuous, pixel column i covers [i, i + 1), so an image of width
W spans [0, W].  A horizontal mirror therefore maps a point x to W - x and a box (x1, x2) to
(W - x2, W - x1), which is exactly consistent with reversing the mask's columns.  Landmarks with
v = 0 (unlabelled) are stored as (0, 0, 0) and stay so under every transform.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import functional as TF

from fashionvision.categories import global_flip_permutation

ImageLike = Image.Image | torch.Tensor
Target = dict[str, Any]
Transform = Callable[[ImageLike, Target], tuple[ImageLike, Target]]


def image_size(image: ImageLike) -> tuple[int, int]:
    """(height, width) of a PIL image or a tensor [..., H, W]."""
    if isinstance(image, Image.Image):
        return image.height, image.width
    return int(image.shape[-2]), int(image.shape[-1])


def resized_shape(height: int, width: int, min_size: int, max_size: int) -> tuple[int, int]:
    """(new_height, new_width): shorter side to `min_size`, longer side at most `max_size`,
    aspect ratio kept (the torchvision / Detectron2 "ResizeShortestEdge" rule)."""
    scale = min_size / min(height, width)
    if max(height, width) * scale > max_size:
        scale = max_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]):
        self.transforms = list(transforms)

    def __call__(self, image: ImageLike, target: Target) -> tuple[ImageLike, Target]:
        for t in self.transforms:
            image, target = t(image, target)
        return image, target

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class ToTensor:
    """PIL image -> float tensor [3, H, W] in [0, 1]; tensors pass through unchanged."""

    def __call__(self, image: ImageLike, target: Target) -> tuple[torch.Tensor, Target]:
        if isinstance(image, Image.Image):
            image = TF.to_tensor(image.convert("RGB"))
        return image, target

    def __repr__(self) -> str:
        return "ToTensor()"


def _scale_keypoints(kps: torch.Tensor, sx: float, sy: float) -> torch.Tensor:
    """Scale x, y of [N, K, 3] keypoints; v is untouched and (0, 0, 0) points stay zero."""
    out = kps.clone()
    out[..., 0] *= sx
    out[..., 1] *= sy
    return out


class Resize:
    """Resize so that the shorter side is `min_size` and the longer side at most `max_size`.

    Boxes, keypoints (x, y only) and area are scaled by the exact per-axis factors new/old size;
    masks are resized with nearest-neighbour interpolation so they stay binary.
    """

    def __init__(self, min_size: int, max_size: int):
        if min_size <= 0 or max_size < min_size:
            raise ValueError(f"need 0 < min_size <= max_size, got {min_size}, {max_size}")
        self.min_size = min_size
        self.max_size = max_size

    def __call__(self, image: ImageLike, target: Target) -> tuple[ImageLike, Target]:
        height, width = image_size(image)
        new_h, new_w = resized_shape(height, width, self.min_size, self.max_size)
        if (new_h, new_w) == (height, width):
            return image, target
        if isinstance(image, Image.Image):
            image = image.resize((new_w, new_h), Image.BILINEAR)
        else:
            image = F.interpolate(
                image[None].float(),
                size=(new_h, new_w),
                mode="bilinear",
                align_corners=False,
                antialias=True,
            )[0]
        sx, sy = new_w / width, new_h / height
        target = dict(target)
        if "boxes" in target:
            target["boxes"] = target["boxes"] * torch.tensor([sx, sy, sx, sy])
        if "keypoints" in target:
            target["keypoints"] = _scale_keypoints(target["keypoints"], sx, sy)
        if "area" in target:
            target["area"] = target["area"] * (sx * sy)
        if "masks" in target:
            # nearest keeps masks binary and works on uint8 directly (no float copy)
            resized = F.interpolate(target["masks"][:, None], size=(new_h, new_w), mode="nearest")
            target["masks"] = resized[:, 0]
        return image, target

    def __repr__(self) -> str:
        return f"Resize(min_size={self.min_size}, max_size={self.max_size})"


def hflip_target(target: Target, width: int) -> Target:
    """Mirror a target horizontally in an image of `width` pixels (see the module docstring).

    Keypoints are mirrored and then permuted with `global_flip_permutation()`, so the point that was
    the left cuff becomes the right cuff: flipped[:, i] = mirrored[:, perm[i]].
    """
    target = dict(target)
    if "boxes" in target:
        boxes = target["boxes"].clone()
        boxes[:, 0] = width - target["boxes"][:, 2]
        boxes[:, 2] = width - target["boxes"][:, 0]
        target["boxes"] = boxes
    if "masks" in target:
        target["masks"] = target["masks"].flip(-1)
    if "keypoints" in target:
        kps = target["keypoints"].clone()
        labelled = kps[..., 2] > 0
        kps[..., 0] = torch.where(labelled, width - kps[..., 0], kps[..., 0])
        perm = torch.as_tensor(global_flip_permutation(), dtype=torch.long)
        target["keypoints"] = kps[:, perm]
    return target


class RandomHorizontalFlip:
    """With probability `p`, mirror the image and its target and swap left/right landmarks."""

    def __init__(self, p: float = 0.5):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, image: ImageLike, target: Target) -> tuple[ImageLike, Target]:
        if torch.rand(()) >= self.p:
            return image, target
        _, width = image_size(image)
        if isinstance(image, Image.Image):
            image = image.transpose(Image.FLIP_LEFT_RIGHT)
        else:
            image = image.flip(-1)
        return image, hflip_target(target, width)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


# ------------------------------------------------------------------------------ rotation, noise
# Rotation convention: positive degrees turn the picture counter-clockwise as displayed (the
# torchvision and PIL convention) about the image centre (W / 2, H / 2) of the continuous pixel
# frame above; the canvas keeps its size.  Keypoints use exactly the mapping the pixels get, so a
# landmark stays on the pixel it marked.

Fill = float | Sequence[float] | str
# target entries that describe the image, never one instance, even when their length happens to
# equal the number of instances (see `select_instances`)
IMAGE_LEVEL_KEYS = frozenset({"image_id", "orig_size", "size", "source"})


def rotate_points(xy: torch.Tensor, degrees: float, height: int, width: int) -> torch.Tensor:
    """Points [..., 2] (x, y) rotated by `degrees` about the centre of an image of `height` x
    `width` (see the convention above); computed in float64, returned in the input dtype."""
    theta = torch.deg2rad(torch.tensor(float(degrees), dtype=torch.float64))
    cos, sin = torch.cos(theta), torch.sin(theta)
    cx, cy = width / 2, height / 2
    dx = xy[..., 0].double() - cx
    dy = xy[..., 1].double() - cy
    # y points down, so a counter-clockwise turn takes a point right of the centre to above it
    x = cx + cos * dx + sin * dy
    y = cy - sin * dx + cos * dy
    return torch.stack([x, y], dim=-1).to(xy.dtype)


def _fill_values(image: ImageLike, fill: Fill) -> list[float]:
    """Per-channel fill in the image's own units (0..1 float tensors, 0..255 PIL / uint8)."""
    if isinstance(image, Image.Image):
        pixels = TF.pil_to_tensor(image)
    else:
        pixels = image if image.dim() == 3 else image[None]
    channels = int(pixels.shape[0])
    if isinstance(fill, str):
        if fill != "mean":
            raise ValueError(f"fill must be a number, a sequence or 'mean', got {fill!r}")
        return pixels.double().mean(dim=(-2, -1)).tolist()
    if isinstance(fill, int | float):
        return [float(fill)] * channels
    values = [float(v) for v in fill]
    if len(values) != channels:
        raise ValueError(f"fill has {len(values)} values for an image of {channels} channels")
    return values


def rotate_image(image: ImageLike, degrees: float, fill: Fill = "mean") -> ImageLike:
    """`image` (PIL or tensor [C, H, W]) rotated bilinearly by `degrees` on the same canvas; the
    corners it uncovers get `fill`: a value per channel, one value for all, or ``"mean"``, the
    image's mean colour (plain black corners are a cue no real photo has)."""
    values = _fill_values(image, fill)
    if isinstance(image, Image.Image):
        # PIL fills with integer colours
        values = [float(round(v)) for v in values]
    return TF.rotate(image, float(degrees), TF.InterpolationMode.BILINEAR, fill=values)


def _num_instances(target: Target) -> int | None:
    for key in ("boxes", "labels", "masks", "keypoints"):
        if key in target:
            return int(target[key].shape[0])
    return None


def select_instances(target: Target, keep: torch.Tensor) -> Target:
    """`target` with only the instances where the bool [N] `keep` is true, taken alike from every
    per-instance entry: each tensor whose first dimension is N (boxes, labels, masks, keypoints,
    area, iscrowd, pair_id, style, ...), except the image-level keys in `IMAGE_LEVEL_KEYS`."""
    n = _num_instances(target)
    if n is None:
        return dict(target)
    if keep.shape != (n,):
        raise ValueError(f"keep must have shape ({n},), got {tuple(keep.shape)}")
    if bool(keep.all()):
        return dict(target)
    out = {}
    for key, value in target.items():
        per_instance = (
            isinstance(value, torch.Tensor)
            and value.dim() >= 1
            and value.shape[0] == n
            and key not in IMAGE_LEVEL_KEYS
        )
        out[key] = value[keep] if per_instance else value
    return out


def _mask_bounds(masks: torch.Tensor) -> torch.Tensor:
    """[N, 4] float64 pixel bounds (x1, y1, x2, y2) of each mask, pixel c covering [c, c + 1);
    (inf, inf, -inf, -inf) for an empty mask, the neutral element of a union."""
    n, height, width = masks.shape
    out = torch.empty(n, 4, dtype=torch.float64)
    out[:, :2], out[:, 2:] = float("inf"), float("-inf")
    binary = masks.bool()
    for axis, size, lo, hi in ((1, width, 0, 2), (2, height, 1, 3)):
        hit = binary.any(dim=axis)  # [N, size]: columns (axis 1) or rows (axis 2) in use
        nonempty = hit.any(dim=1)
        first = hit.int().argmax(dim=1)
        last = size - 1 - hit.flip(1).int().argmax(dim=1)
        out[nonempty, lo] = first[nonempty].double()
        out[nonempty, hi] = last[nonempty].double() + 1
    return out


def rotate_target(target: Target, degrees: float, height: int, width: int) -> Target:
    """A target rotated with its image of `height` x `width` (see `rotate_image`).

    - masks: rotated with nearest-neighbour sampling, so they stay binary.
    - keypoints: labelled points (v > 0) are rotated and keep their v; a point that leaves the
      image [0, W] x [0, H] becomes (0, 0, 0), unlabelled, as DeepFashion2 (and the synthetic
      set) label no landmark outside the image.  Unlabelled points stay (0, 0, 0).
    - boxes: an item's box covers the whole garment (its visible mask and every labelled
      landmark, occluded ones included), so it is recomputed as the bounds of the rotated mask's
      pixels and the rotated labelled landmarks still in the image; the rotated old box would
      only be a loose bound.  An item with neither mask pixels nor labelled landmarks before the
      rotation (nothing to recompute from) gets the bounds of its rotated box's corners, clipped.
    - area: the new box's area (the DeepFashion2 convention of `record_target`).  COCO-format
      targets, whose area is the mask's, never come here: the trainer refuses ``data.balance``,
      the only user of the rotation, for data other than DeepFashion2's
      (`fashionvision.engine.trainer.check_balance_fits`).
    - instances that vanish are dropped from every per-instance entry (`select_instances`): no
      mask pixel and no labelled landmark left (of an item that had some), or, when the target
      has boxes, a box of zero width or height (a degenerate box is no training target and
      torchvision's detectors refuse it; e.g. a lone landmark without mask pixels).
    """
    n = _num_instances(target)
    if n is None:
        return dict(target)
    target = dict(target)
    inf = float("inf")
    bounds = torch.empty(n, 4, dtype=torch.float64)
    bounds[:, :2], bounds[:, 2:] = inf, -inf
    had_evidence = torch.zeros(n, dtype=torch.bool)
    if "keypoints" in target:
        kps = target["keypoints"].clone()
        labelled = kps[..., 2] > 0
        xy = rotate_points(kps[..., :2], degrees, height, width)
        x, y = xy[..., 0], xy[..., 1]
        kept = labelled & (x >= 0) & (x <= width) & (y >= 0) & (y <= height)
        kps[..., :2] = torch.where(kept[..., None], xy, torch.zeros_like(xy))
        kps[..., 2] = torch.where(kept, kps[..., 2], torch.zeros_like(kps[..., 2]))
        target["keypoints"] = kps
        had_evidence |= labelled.any(dim=-1)
        xd, yd = x.double(), y.double()
        bounds[:, 0] = torch.where(kept, xd, inf).amin(dim=-1)
        bounds[:, 1] = torch.where(kept, yd, inf).amin(dim=-1)
        bounds[:, 2] = torch.where(kept, xd, -inf).amax(dim=-1)
        bounds[:, 3] = torch.where(kept, yd, -inf).amax(dim=-1)
    if "masks" in target:
        masks = target["masks"]
        had_evidence |= masks.flatten(1).bool().any(dim=1)
        if n > 0:
            # no fill: samples from outside the canvas read 0, background
            masks = TF.rotate(masks, float(degrees), TF.InterpolationMode.NEAREST)
        target["masks"] = masks
        mask_bounds = _mask_bounds(masks)
        bounds[:, :2] = torch.minimum(bounds[:, :2], mask_bounds[:, :2])
        bounds[:, 2:] = torch.maximum(bounds[:, 2:], mask_bounds[:, 2:])
    if "boxes" in target:
        old = target["boxes"]
        corners = old[:, [[0, 1], [2, 1], [2, 3], [0, 3]]]  # [N, 4 corners, 2]
        turned = rotate_points(corners.double(), degrees, height, width)
        from_box = torch.cat([turned.amin(dim=1), turned.amax(dim=1)], dim=1)
        bounds = torch.where(had_evidence[:, None], bounds, from_box)
    # mask pixels and kept landmarks make a finite union; an empty one stays at +-inf
    keep = ~had_evidence | torch.isfinite(bounds[:, 0])
    if "boxes" in target:
        if n > 0:
            bounds[:, 0::2] = bounds[:, 0::2].clamp(0, width)
            bounds[:, 1::2] = bounds[:, 1::2].clamp(0, height)
        keep &= (bounds[:, 2] > bounds[:, 0]) & (bounds[:, 3] > bounds[:, 1])
        target["boxes"] = bounds.to(target["boxes"].dtype)
        if "area" in target:
            box = target["boxes"]
            area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
            target["area"] = area.to(target["area"].dtype)
    return select_instances(target, keep)


def rotate(
    image: ImageLike, target: Target, degrees: float, fill: Fill = "mean"
) -> tuple[ImageLike, Target]:
    """Rotate an image and its target together (`rotate_image`, `rotate_target`); a multiple of
    360 degrees returns both unchanged (boxes are not recomputed then)."""
    if float(degrees) % 360.0 == 0.0:
        return image, target
    height, width = image_size(image)
    return rotate_image(image, degrees, fill), rotate_target(target, degrees, height, width)


class RandomRotation:
    """With probability `prob`, rotate by an angle drawn uniformly from [-max_degrees,
    max_degrees] (`rotate`); torch's global generator draws, as for the flip."""

    def __init__(self, max_degrees: float = 25.0, prob: float = 1.0, fill: Fill = "mean"):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        if max_degrees < 0:
            raise ValueError(f"max_degrees must be >= 0, got {max_degrees}")
        self.max_degrees = float(max_degrees)
        self.prob = prob
        self.fill = fill

    def __call__(self, image: ImageLike, target: Target) -> tuple[ImageLike, Target]:
        if torch.rand(()) >= self.prob:
            return image, target
        degrees = (2 * torch.rand((), dtype=torch.float64).item() - 1) * self.max_degrees
        return rotate(image, target, degrees, self.fill)

    def __repr__(self) -> str:
        args = f"max_degrees={self.max_degrees}, prob={self.prob}, fill={self.fill!r}"
        return f"RandomRotation({args})"


def add_gaussian_noise(image: ImageLike, std: float) -> ImageLike:
    """`image` plus i.i.d. normal noise of `std` in units of the full intensity range (a float
    tensor is taken to span [0, 1], uint8 tensors and PIL images [0, 255]), clipped to that range;
    the type and dtype are kept."""
    if isinstance(image, Image.Image):
        noisy = add_gaussian_noise(TF.pil_to_tensor(image), std)
        return TF.to_pil_image(noisy, mode=image.mode)
    if image.dtype == torch.uint8:
        noisy = image.float() + torch.randn(image.shape) * (std * 255.0)
        return noisy.round().clamp(0, 255).to(torch.uint8)
    return (image + torch.randn(image.shape, dtype=image.dtype) * std).clamp(0.0, 1.0)


class GaussianNoise:
    """With probability `prob`, add Gaussian pixel noise of `std` (`add_gaussian_noise`); the
    target is unchanged."""

    def __init__(self, std: float = 0.03, prob: float = 1.0):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        if std < 0:
            raise ValueError(f"std must be >= 0, got {std}")
        self.std = std
        self.prob = prob

    def __call__(self, image: ImageLike, target: Target) -> tuple[ImageLike, Target]:
        if self.std == 0 or torch.rand(()) >= self.prob:
            return image, target
        return add_gaussian_noise(image, self.std), target

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std}, prob={self.prob})"
