"""COCO-format instance data (Fashionpedia, iMaterialist converted to it, plain COCO) as compact
records, and a torch Dataset of Mask R-CNN targets over them.

Files are read by the Fashionpedia reader (`fashionvision.data.fashionpedia`), so a split keeps
the file's own category and attribute tables and the reader's checks.  A plain COCO file, which
has no ``attributes`` table and no ``attribute_ids``, is read as one whose table is empty.

Label spaces: the model's labels are 1..C (0 is its background) in the order of the file's
``categories`` table: label k is ``category_ids[k - 1]``, whatever the file's ids are (0-based
in Fashionpedia, 1-based with gaps in COCO).  Attribute column j of the multi-hot target is
``attribute_ids[j]`` (the table's order; Fashionpedia's ids have gaps).

Memory: a split of Fashionpedia's size (45k images, 330k masks) would take hundreds of GB as
one bitmap per mask, so records keep each mask as the file wrote it (polygons or RLE) and the
Dataset rasterises one image's masks when that image is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from pycocotools import mask as mask_utils
from torch.utils.data import Dataset
from torchvision.transforms import functional as TF

from fashionvision.data.fashionpedia import (
    AttributedSegment,
    FashionpediaData,
    Segmentation,
    SegmentedImage,
    mask_rle,
    parse_fashionpedia,
)
from fashionvision.data.label_tables import LabelTable
from fashionvision.data.transforms import Transform
from fashionvision.errors import FashionVisionError
from fashionvision.io_utils import gc_paused, load_json
from fashionvision.structures import Box


@dataclass(frozen=True, slots=True)
class CocoInstance:
    """One annotated region: model `label` (1..C), box xyxy pixels, the mask as the file wrote
    it (polygons or RLE), area as recorded (the mask's pixel count where the file had none),
    iscrowd, the attribute columns it has (indices into `CocoSplit.attribute_ids`) and its
    annotation id in the file."""

    label: int
    bbox: Box
    segmentation: Segmentation
    area: float
    iscrowd: int
    attributes: tuple[int, ...]
    ann_id: int | None


@dataclass(frozen=True, slots=True)
class CocoImageRecord:
    """One image: `file_name` relative to the split's image folder, its id and size, and its
    instances in file order."""

    file_name: str
    image_id: int
    width: int
    height: int
    instances: tuple[CocoInstance, ...]


@dataclass(frozen=True)
class CocoSplit:
    """A read annotation file: the records and the file's tables (see the module docstring for
    the label and attribute spaces); `labels` is the file's whole table (names, supercategories),
    as the reader gave it."""

    records: list[CocoImageRecord]
    category_ids: list[int]
    category_names: list[str]
    attribute_ids: list[int]
    attribute_names: list[str]
    annotation_file: Path
    image_dir: Path
    labels: LabelTable

    @property
    def num_classes(self) -> int:
        """Categories, background excluded (the detector has ``num_classes + 1`` outputs)."""
        return len(self.category_ids)

    @property
    def num_attributes(self) -> int:
        return len(self.attribute_ids)


def _with_attribute_fields(data: Any) -> Any:
    """A plain COCO file (no ``attributes`` table) as the Fashionpedia reader expects it: an
    empty table and empty ``attribute_ids`` on every annotation.  A file that has the table is
    left as it is, so a missing ``attribute_ids`` there is still reported."""
    if not isinstance(data, dict) or "attributes" in data:
        return data
    data["attributes"] = []
    annotations = data.get("annotations")
    if isinstance(annotations, list):
        for ann in annotations:
            if isinstance(ann, dict):
                ann.setdefault("attribute_ids", [])
    return data


def _records(
    data: FashionpediaData, labels: dict[int, int], columns: dict[int, int]
) -> list[CocoImageRecord]:
    with gc_paused():  # hundreds of thousands of small objects at once
        return [
            CocoImageRecord(
                img.file_name,
                img.image_id,
                img.width,
                img.height,
                tuple(
                    CocoInstance(
                        labels[s.category_id],
                        s.bbox,
                        s.segmentation,  # the reader's object itself: no copy
                        s.area,
                        s.iscrowd,
                        tuple(columns[a] for a in s.attribute_ids),
                        s.ann_id,
                    )
                    for s in img.segments
                ),
            )
            for img in data.images
        ]


def load_coco_split(
    annotation_file: str | Path, image_dir: str | Path, strict: bool = True
) -> CocoSplit:
    """Read a Fashionpedia-format or plain COCO annotation file whose images lie in `image_dir`.

    strict: any problem of the file raises one `AnnotationError` listing them; lenient: images
    with a bad annotation are skipped (`fashionvision.data.fashionpedia.parse_fashionpedia`).
    Images are not opened here; the folder must exist.
    """
    annotation_file, image_dir = Path(annotation_file), Path(image_dir)
    if not image_dir.is_dir():
        raise FashionVisionError(f"{image_dir}: image folder not found (for {annotation_file})")
    raw = _with_attribute_fields(load_json(annotation_file))
    data = parse_fashionpedia(raw, str(annotation_file), strict=strict)
    del raw  # only the segmentations, shared with the records, stay alive
    category_ids = list(data.labels.categories)
    attribute_ids = list(data.labels.attributes)
    labels = {c: k + 1 for k, c in enumerate(category_ids)}
    columns = {a: j for j, a in enumerate(attribute_ids)}
    return CocoSplit(
        records=_records(data, labels, columns),
        category_ids=category_ids,
        category_names=[data.labels.categories[c].name for c in category_ids],
        attribute_ids=attribute_ids,
        attribute_names=[data.labels.attributes[a].name for a in attribute_ids],
        annotation_file=annotation_file,
        image_dir=image_dir,
        labels=data.labels,
    )


def split_ground_truth(split: CocoSplit) -> FashionpediaData:
    """The split's records back in the reader's form, with the file's ids: the ground truth that
    results are scored against.  Built from the records rather than read again, so an image that
    lenient reading skipped is not counted as missed.  Annotation ids are left out (the writer
    numbers them 1..): pycocotools takes a GT id of 0 for "unmatched"."""
    images = [
        SegmentedImage(
            r.image_id,
            r.file_name,
            r.height,
            r.width,
            tuple(
                AttributedSegment(
                    category_id=split.category_ids[inst.label - 1],
                    attribute_ids=tuple(split.attribute_ids[j] for j in inst.attributes),
                    segmentation=inst.segmentation,
                    bbox=inst.bbox,
                    area=inst.area,
                    iscrowd=inst.iscrowd,
                )
                for inst in r.instances
            ),
        )
        for r in split.records
    ]
    return FashionpediaData(images, split.labels)


# ----------------------------------------------------------------------------- data roots


def _layouts(root: Path, split: str) -> list[tuple[Path, list[Path]]]:
    """(annotation file, image folders in order of preference) of every layout looked for."""
    fashionpedia_images = [root / split, root / "images" / split]
    if split == "val":
        # the release's val_test2020.zip unpacks the validation images into test/
        fashionpedia_images += [root / "test", root / "images" / "test"]
    name = f"instances_attributes_{split}2020.json"
    return [
        (root / name, fashionpedia_images),
        (root / "annotations" / name, fashionpedia_images),
        (root / "annotations" / f"instances_{split}.json", [root / split, root / "images" / split]),
    ]


def find_coco_split(root: str | Path, split: str) -> tuple[Path, Path]:
    """(annotation file, image folder) of `split` under a data root; the first layout whose
    annotation file exists is taken, and its first image folder that exists:

    - Fashionpedia: ``instances_attributes_<split>2020.json`` in the root or in
      ``annotations/``, images in ``<split>/`` or ``images/<split>/`` (for ``val`` also
      ``test/`` or ``images/test/``, where the release's val_test2020.zip puts them);
    - plain COCO: ``annotations/instances_<split>.json`` (e.g. split ``val2017``), images in
      ``<split>/`` or ``images/<split>/``.

    A `FashionVisionError` lists the paths tried when no annotation file or no image folder is
    found.
    """
    root = Path(root)
    if not root.is_dir():
        raise FashionVisionError(f"{root}: data root not found (a folder)")
    layouts = _layouts(root, split)
    for annotation_file, image_dirs in layouts:
        if annotation_file.is_file():
            for image_dir in image_dirs:
                if image_dir.is_dir():
                    return annotation_file, image_dir
            tried = ", ".join(str(d) for d in image_dirs)
            raise FashionVisionError(
                f"{annotation_file}: no image folder for split {split!r}; tried {tried}"
            )
    tried = ", ".join(str(a) for a, _ in layouts)
    raise FashionVisionError(
        f"{root}: no annotation file for split {split!r} (Fashionpedia or COCO layout); "
        f"tried {tried}"
    )


# ----------------------------------------------------------------------------- targets


def decode_masks(instances: Sequence[CocoInstance], height: int, width: int) -> np.ndarray:
    """uint8 [N, H, W] masks of `instances` of a `height` x `width` image (rasterised now)."""
    if not instances:
        return np.zeros((0, height, width), dtype=np.uint8)
    rles = [mask_rle(inst.segmentation, height, width) for inst in instances]
    # decode gives [H, W, N] in Fortran order: the transpose is the C-contiguous [N, H, W]
    return np.ascontiguousarray(mask_utils.decode(rles).transpose(2, 0, 1))


def coco_target(
    record: CocoImageRecord, num_attributes: int, keep_crowd: bool = False
) -> dict[str, Any]:
    """The target dict of one record, before transforms (N = instances kept):

    boxes float32 [N, 4] xyxy pixels; labels int64 [N] (1..C); masks uint8 [N, H, W];
    area float32 [N] (as recorded: the mask area in COCO files); iscrowd int64 [N];
    image_id int; and, when `num_attributes` > 0, attributes float32 [N, A] multi-hot.

    Crowd regions (iscrowd 1) are left out unless `keep_crowd`, and so are boxes of zero width
    or height (a mask that rasterises to nothing): torchvision's detectors train on neither
    (its COCO reference drops both; a degenerate box raises).  The evaluator still scores
    against every annotation, crowds as COCO's ignore regions.
    """
    kept = [
        inst
        for inst in record.instances
        if (keep_crowd or not inst.iscrowd)
        and inst.bbox[2] > inst.bbox[0]
        and inst.bbox[3] > inst.bbox[1]
    ]
    n = len(kept)
    target: dict[str, Any] = {
        "boxes": torch.tensor([list(i.bbox) for i in kept], dtype=torch.float32).reshape(n, 4),
        "labels": torch.tensor([i.label for i in kept], dtype=torch.int64),
        "masks": torch.from_numpy(decode_masks(kept, record.height, record.width)),
        "area": torch.tensor([i.area for i in kept], dtype=torch.float32),
        "iscrowd": torch.tensor([i.iscrowd for i in kept], dtype=torch.int64),
        "image_id": record.image_id,
    }
    if num_attributes > 0:
        attributes = torch.zeros(n, num_attributes, dtype=torch.float32)
        for row, inst in enumerate(kept):
            attributes[row, list(inst.attributes)] = 1.0
        target["attributes"] = attributes
    return target


def _read_image(path: Path, record: CocoImageRecord) -> Image.Image:
    """The RGB image of `record`; its size must be the one the annotation file gives."""
    try:
        with Image.open(path) as img:
            image = img.convert("RGB")
    except FileNotFoundError:
        raise FashionVisionError(f"{path}: image file not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise FashionVisionError(f"{path}: cannot read image ({exc})") from None
    if image.size != (record.width, record.height):
        raise FashionVisionError(
            f"{path}: width/height: image is {image.width}x{image.height}, "
            f"annotation says {record.width}x{record.height} (image id {record.image_id})"
        )
    return image


class CocoInstanceDataset(Dataset):
    """A `CocoSplit` as ``(image FloatTensor [3, H, W] in [0, 1], target dict)`` (`coco_target`).

    `transforms` is a joint transform (`fashionvision.data.transforms`) given the PIL image and
    the target; per-instance entries, ``attributes`` included, follow the instances it drops.
    The targets hold no ``keypoints``, so the flip's DeepFashion2 landmark permutation never
    applies.  `records` may be a subset of the split's (e.g. a debugging slice).
    """

    def __init__(
        self,
        split: CocoSplit,
        transforms: Transform | None = None,
        keep_crowd: bool = False,
        records: Sequence[CocoImageRecord] | None = None,
    ) -> None:
        self.split = split
        self.records: list[CocoImageRecord] = list(split.records if records is None else records)
        self.transforms = transforms
        self.keep_crowd = keep_crowd

    def __len__(self) -> int:
        return len(self.records)

    def load_image(self, index: int) -> Image.Image:
        record = self.records[index]
        return _read_image(self.split.image_dir / record.file_name, record)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, Any]]:
        image: Any = self.load_image(index)
        target = coco_target(self.records[index], self.split.num_attributes, self.keep_crowd)
        if self.transforms is not None:
            # transforms get the PIL image: PIL resizing is several times faster than on tensors
            image, target = self.transforms(image, target)
        if not isinstance(image, torch.Tensor):
            image = TF.to_tensor(image)
        return image, target
