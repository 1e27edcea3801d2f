"""DeepFashion (v1) benchmarks as FashionNet training and evaluation samples.

A data root holds benchmark folders (``category/``, ``inshop/``, ``fld/``, ``consumer2shop/``, as
``fashionvision synth --format deepfashion`` writes them and as the real data is laid out after
the README's steps), or is itself one benchmark folder.  FashionNet trains on the union of what
is there, each image contributing the labels its benchmark has (`DeepFashionSample`; a missing
label is -1 / None and its loss ignores it):

- Category and Attribute Prediction: category, attributes, landmarks (all splits).
- Fashion Landmark Detection: landmarks.
- In-shop: item id (the triplet loss), landmarks, the item's attributes when the attribute list is
  the Category benchmark's; evaluation roles ``query`` and ``gallery``.
- Consumer-to-shop: item id; evaluation roles ``consumer`` and ``shop``.

Split names: ``train``; ``val`` (alias ``validation``) and ``test`` select the Category / FLD /
Consumer-to-shop partitions of that name and, for In-shop, which has no validation partition,
its query and gallery images in both cases.

Each image is cropped to its box enlarged by `BOX_MARGIN` on each side (clipped to the image) and
resized to a square ``input_size`` (aspect not kept, as FashionNet's 224 x 224 input); the
affine map is kept per sample so predictions are mapped back to the original pixels.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import functional as TF

from fashionvision.data.deepfashion import (
    ATTRIBUTE_TYPES,
    CategoryAttributeData,
    ConsumerToShopData,
    InShopData,
    LandmarkDetectionData,
    Landmarks,
    find_benchmarks,
    load_deepfashion,
)
from fashionvision.errors import FashionVisionError

BOX_MARGIN = 0.1  # share of the box's side added on each side before cropping
# ImageNet statistics: what torchvision's pretrained VGG/ResNet weights expect
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# the 8-slot layout's left/right pairs (collar, sleeve, waistline, hem): a mirror swaps them
FLIP_SLOTS = (1, 0, 3, 2, 5, 4, 7, 6)
SPLIT_ALIASES = {"validation": "val"}
INSHOP_EVAL_ROLES = ("query", "gallery")


@dataclass
class DeepFashionSample:
    """One image and the labels its benchmark gives it (see the module docstring)."""

    name: str  # "<benchmark>/<name in the lists>", unique over the data root
    path: Path
    image_size: tuple[int, int]  # (width, height) of the original image
    bbox: tuple[float, float, float, float] | None
    category: int = -1  # 0-based row of the category list; -1 unknown
    attributes: np.ndarray | None = None  # [A] int8 in {1, -1, 0}
    landmarks_xy: np.ndarray | None = None  # [8, 2] original pixels
    visibility: np.ndarray | None = None  # [8] int: 0 visible, 1 occluded, 2 cut off, -1 absent
    item_id: str | None = None
    role: str | None = None  # query / gallery (In-shop), consumer / shop (Consumer-to-shop)


@dataclass
class DeepFashionSplit:
    """The samples of one split over every benchmark of a root, and the label tables."""

    samples: list[DeepFashionSample]
    category_names: list[str] = field(default_factory=list)
    attribute_names: list[str] = field(default_factory=list)
    attribute_groups: dict[str, list[int]] = field(default_factory=dict)  # type -> columns
    benchmarks: dict[str, int] = field(default_factory=dict)  # benchmark -> samples

    @property
    def retrieval(self) -> str | None:
        """The retrieval protocol the split's roles support (In-shop first)."""
        roles = {s.role for s in self.samples}
        if {"query", "gallery"} <= roles:
            return "inshop"
        if {"consumer", "shop"} <= roles:
            return "consumer2shop"
        return None


def _image_size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as im:  # reads the header only
            return im.size
    except (OSError, ValueError) as exc:
        raise FashionVisionError(f"{path}: cannot read the image ({exc})") from exc


def _landmark_arrays(lm: Landmarks | None) -> tuple[np.ndarray | None, np.ndarray | None]:
    if lm is None:
        return None, None
    return lm.xy.astype(np.float32), lm.visibility.astype(np.int64)


def _samples_of(
    benchmark: str, data: Any, split: str, attribute_names: list[str]
) -> Iterator[DeepFashionSample]:
    def sample(name: str, **labels: Any) -> DeepFashionSample:
        path = data.image_path(name)
        return DeepFashionSample(
            name=f"{benchmark}/{name}", path=path, image_size=_image_size(path), **labels
        )

    if isinstance(data, CategoryAttributeData | LandmarkDetectionData):
        for im in data.split(split):
            xy, vis = _landmark_arrays(im.landmarks)
            extra: dict[str, Any] = {}
            if isinstance(data, CategoryAttributeData):
                extra = {"category": im.category_label - 1, "attributes": im.attributes}
            yield sample(im.name, bbox=im.bbox, landmarks_xy=xy, visibility=vis, **extra)
    elif isinstance(data, InShopData):
        same_attributes = (
            data.attributes is not None and [a.name for a in data.attributes] == attribute_names
        )
        roles = ("train",) if split == "train" else INSHOP_EVAL_ROLES
        for im in data.images:
            if im.split not in roles:
                continue
            xy, vis = _landmark_arrays(im.landmarks)
            attrs = None
            if same_attributes and data.item_attributes is not None:
                attrs = data.item_attributes.get(im.item_id)
            yield sample(
                im.name,
                bbox=im.bbox,
                landmarks_xy=xy,
                visibility=vis,
                attributes=attrs,
                item_id=im.item_id,
                role=None if split == "train" else im.split,
            )
    elif isinstance(data, ConsumerToShopData):
        seen: set[str] = set()
        for pair in data.split(split):
            for name in (pair.consumer, pair.shop):
                if name in seen:
                    continue
                seen.add(name)
                im = data.images[name]
                xy, vis = _landmark_arrays(im.landmarks)
                role = None if split == "train" else im.source
                yield sample(
                    name,
                    bbox=im.bbox,
                    landmarks_xy=xy,
                    visibility=vis,
                    item_id=pair.item_id,
                    role=role,
                )


def load_deepfashion_split(
    root: str | Path, split: str, strict: bool = True, benchmarks: Sequence[str] | None = None
) -> DeepFashionSplit:
    """The samples of `split` (module docstring) over the benchmark folders of `root`."""
    split = SPLIT_ALIASES.get(split, split)
    if split not in ("train", "val", "test"):
        raise FashionVisionError(f"{root}: split {split!r}: expected train, val or test")
    found = find_benchmarks(root)
    if benchmarks is not None:
        found = [(b, p) for b, p in found if b in benchmarks]
    loaded = {b: load_deepfashion(p, b, strict=strict) for b, p in found}
    out = DeepFashionSplit(samples=[])
    category = loaded.get("category")
    if isinstance(category, CategoryAttributeData):
        out.category_names = [c.name for c in category.categories]
        out.attribute_names = [a.name for a in category.attributes]
        for a_type, a_name in ATTRIBUTE_TYPES.items():
            cols = [i for i, a in enumerate(category.attributes) if a.type == a_type]
            if cols:
                out.attribute_groups[a_name] = cols
    for benchmark, data in loaded.items():
        before = len(out.samples)
        out.samples.extend(_samples_of(benchmark, data, split, out.attribute_names))
        out.benchmarks[benchmark] = len(out.samples) - before
    if not out.samples:
        raise FashionVisionError(f"{root}: no image in split {split!r} of any benchmark")
    return out


def crop_box(sample: DeepFashionSample) -> tuple[float, float, float, float]:
    """The region cropped from the original image: the box plus `BOX_MARGIN`, clipped."""
    w, h = sample.image_size
    if sample.bbox is None:
        return 0.0, 0.0, float(w), float(h)
    x1, y1, x2, y2 = sample.bbox
    mx, my = BOX_MARGIN * (x2 - x1), BOX_MARGIN * (y2 - y1)
    x1, y1 = max(0.0, x1 - mx), max(0.0, y1 - my)
    x2, y2 = min(float(w), x2 + mx), min(float(h), y2 + my)
    if x2 - x1 < 1 or y2 - y1 < 1:  # a degenerate box: use the whole image
        return 0.0, 0.0, float(w), float(h)
    return x1, y1, x2, y2


def to_input(xy: np.ndarray, crop: Sequence[float], input_size: int) -> np.ndarray:
    """Original pixel coordinates -> input pixel coordinates (crop, then resize)."""
    x1, y1, x2, y2 = crop
    scale = np.array([input_size / (x2 - x1), input_size / (y2 - y1)], dtype=np.float32)
    return (xy - np.array([x1, y1], dtype=np.float32)) * scale


def to_original(xy: np.ndarray, crop: Sequence[float], input_size: int) -> np.ndarray:
    """Input pixel coordinates -> original pixel coordinates (the inverse of `to_input`)."""
    x1, y1, x2, y2 = crop
    scale = np.array([(x2 - x1) / input_size, (y2 - y1) / input_size], dtype=np.float32)
    return xy * scale + np.array([x1, y1], dtype=np.float32)


def load_input(sample: DeepFashionSample, input_size: int) -> torch.Tensor:
    """The normalised network input [3, S, S] of a sample (crop, resize, ImageNet statistics)."""
    try:
        with Image.open(sample.path) as im:
            image = im.convert("RGB")
    except (OSError, ValueError) as exc:
        raise FashionVisionError(f"{sample.path}: cannot read the image ({exc})") from exc
    if image.size != tuple(sample.image_size):
        raise FashionVisionError(
            f"{sample.path}: image is {image.size[0]}x{image.size[1]}, the lists were read "
            f"against {sample.image_size[0]}x{sample.image_size[1]}"
        )
    return prepare_input(image, crop_box(sample), input_size)


def prepare_input(image: Image.Image, crop: Sequence[float], input_size: int) -> torch.Tensor:
    """The region `crop` (x1, y1, x2, y2) of an RGB image resized to a normalised square input."""
    box = (float(crop[0]), float(crop[1]), float(crop[2]), float(crop[3]))
    image = image.resize((input_size, input_size), Image.BILINEAR, box=box)
    return TF.normalize(TF.to_tensor(image), MEAN, STD)


class DeepFashionDataset(Dataset):
    """`DeepFashionSample`s -> ``(image [3, S, S], target dict)`` for FashionNet.

    Target keys (see ``fashionvision.models.fashionnet``): ``category`` (long, -1 unknown),
    ``attributes`` [A] (int8, 0 = unknown where the image has none), ``landmarks`` [8, 2] input
    pixels, ``visibility`` [8] (long, -1 absent), ``item`` (long index into `items`, -1 none).
    `flip_prob` mirrors the image and swaps the left/right landmark slots.
    """

    def __init__(
        self,
        samples: Sequence[DeepFashionSample],
        input_size: int,
        num_attributes: int,
        flip_prob: float = 0.0,
    ):
        self.samples = list(samples)
        self.input_size = input_size
        self.num_attributes = num_attributes
        self.flip_prob = flip_prob
        self.items = sorted({s.item_id for s in self.samples if s.item_id is not None})
        self._item_index = {item: i for i, item in enumerate(self.items)}

    def __len__(self) -> int:
        return len(self.samples)

    def groups(self) -> list[list[int]]:
        """Indices grouped by item (images without an item alone): the triplet batches' units."""
        by_item: dict[str, list[int]] = {}
        groups: list[list[int]] = []
        for i, s in enumerate(self.samples):
            if s.item_id is None:
                groups.append([i])
            else:
                by_item.setdefault(s.item_id, []).append(i)
        return groups + list(by_item.values())

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        s = self.samples[index]
        size = self.input_size
        image = load_input(s, size)
        xy = np.zeros((8, 2), np.float32)
        vis = np.full(8, -1, np.int64)
        if s.landmarks_xy is not None and s.visibility is not None:
            xy = to_input(s.landmarks_xy, crop_box(s), size)
            vis = s.visibility.copy()
        attributes = np.zeros(self.num_attributes, np.int8)
        if s.attributes is not None and len(s.attributes) == self.num_attributes:
            attributes = s.attributes.astype(np.int8)
        if self.flip_prob > 0 and torch.rand(()) < self.flip_prob:
            image = image.flip(-1)
            xy = xy[list(FLIP_SLOTS)]
            vis = vis[list(FLIP_SLOTS)]
            xy[:, 0] = np.where(vis >= 0, size - xy[:, 0], 0.0)
        target = {
            "category": torch.tensor(s.category, dtype=torch.long),
            "attributes": torch.from_numpy(attributes),
            "landmarks": torch.from_numpy(np.ascontiguousarray(xy)),
            "visibility": torch.from_numpy(np.ascontiguousarray(vis)),
            "item": torch.tensor(self._item_index.get(s.item_id, -1), dtype=torch.long),
        }
        return image, target


def collate_batch(
    batch: Sequence[tuple[torch.Tensor, dict[str, torch.Tensor]]],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Stack images [B, 3, S, S] and each target key [B, ...]."""
    images = torch.stack([image for image, _ in batch])
    keys = batch[0][1].keys()
    return images, {k: torch.stack([t[k] for _, t in batch]) for k in keys}
