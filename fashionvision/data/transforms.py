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
