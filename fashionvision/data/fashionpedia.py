"""Fashionpedia annotation files (COCO + attributes) <-> typed records.

The format (``cvdfoundation/fashionpedia`` README, ``KMnP/fashionpedia-api``): COCO ``images``,
``annotations`` and ``categories``, a top-level ``attributes`` table and, per annotation, an
``attribute_ids`` list.  The iMaterialist converter (`fashionvision.data.imaterialist`) writes this
format too, so one reader and one writer serve both data sets.

Reading rules, set by what the official sample file holds:

- The category and attribute tables are the file's own (`fashionvision.data.label_tables`): the
  sample uses an older ontology than the final release, so ids are never decoded with another
  file's table.  Ids are 0-based; category 0 is a garment, not background.
- ``segmentation``: polygons (each >= 3 points; several polygons of one annotation are parts whose
  union is the mask) or an RLE ``{size, counts}`` (compressed string or uncompressed list) whose
  size is the image's ``[height, width]``.
- ``bbox`` is optional (the sample has none although the README documents it): when absent, the
  box is derived from the rasterised mask (pycocotools ``toBbox``, as COCO results get theirs);
  when present it is kept as written.  ``area`` may be a float (the sample has ``5246.5``) and is
  kept; when absent it is the mask's pixel count.  ``iscrowd`` defaults to 0.
- ``attribute_ids`` is required (an empty list is fine) and lists known ids without repeats.
- Unknown fields are ignored.

Strict reading raises one `AnnotationError` listing the problems (``annotations[3].category_id:
unknown category 47``).  Lenient reading (``strict=False``) skips every image that has a bad
annotation, rather than keeping the image without that garment: a garment left out of the ground
truth turns into background, and a correct detection of it into a false positive.  Both are
`check_fashionpedia`, which collects every problem (``fashionvision validate --format
fashionpedia`` lists them), and what to do with them.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycocotools import mask as mask_utils

from fashionvision.data.coco_format import _plain, xyxy_to_xywh
from fashionvision.data.label_tables import LabelTable, coco_label_entries, parse_label_table
from fashionvision.errors import AnnotationError, Problem
from fashionvision.io_utils import load_json
from fashionvision.structures import Box

logger = logging.getLogger(__name__)

# Polygons (flat [x1, y1, x2, y2, ...] lists) or a COCO RLE {size: [h, w], counts: str | list}.
Segmentation = list[list[float]] | dict[str, Any]
MAX_REPORTED_PROBLEMS = 50


@dataclass(frozen=True)
class AttributedSegment:
    """One annotated region: category, attribute ids (as its file numbers them), mask, box xyxy,
    area (pixels) and, when read from a file, its annotation id."""

    category_id: int
    attribute_ids: tuple[int, ...]
    segmentation: Segmentation = field(repr=False)
    bbox: Box
    area: float
    iscrowd: int = 0
    ann_id: int | None = None


@dataclass(frozen=True)
class SegmentedImage:
    """One image and its annotated regions in file order."""

    image_id: int
    file_name: str
    height: int
    width: int
    segments: tuple[AttributedSegment, ...]


@dataclass(frozen=True)
class FashionpediaData:
    """A parsed annotation file: images (in file order), the file's own label table, its info."""

    images: list[SegmentedImage]
    labels: LabelTable
    info: Mapping[str, Any] = field(default_factory=dict)


def mask_rle(segmentation: Segmentation, height: int, width: int) -> dict[str, Any]:
    """The compressed pycocotools RLE (bytes counts) of a valid segmentation."""
    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    counts = segmentation["counts"]
    if isinstance(counts, list):
        return mask_utils.frPyObjects(dict(segmentation), height, width)
    return {"size": [height, width], "counts": counts.encode("ascii")}


def mask_geometry(segmentation: Segmentation, height: int, width: int) -> tuple[Box, int]:
    """(box xyxy, pixel count) of the rasterised mask; the box is (0, 0, 0, 0) for an empty one."""
    rle = mask_rle(segmentation, height, width)
    x, y, w, h = (float(v) for v in mask_utils.toBbox(rle))
    return (x, y, x + w, y + h), int(mask_utils.area(rle))


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)  # exact types: no bool


def _polygons_problem(polygons: list[Any]) -> str | None:
    if not polygons:
        return "empty polygon list"
    for k, poly in enumerate(polygons):
        if not isinstance(poly, list) or not all(map(_is_number, poly)):
            return f"polygon {k} is not a list of numbers"
        if len(poly) % 2 or len(poly) < 6:
            return f"polygon {k} has {len(poly)} values: expected an even number >= 6 (3 points)"
    return None


def _rle_problem(rle: dict[str, Any], height: int, width: int) -> str | None:
    size, counts = rle.get("size"), rle.get("counts")
    if size != [height, width]:
        return f"RLE size {size!r} differs from the image's [height, width] [{height}, {width}]"
    if isinstance(counts, list):
        if not all(type(c) is int and c >= 0 for c in counts) or sum(counts) != height * width:
            return f"RLE counts must be integers >= 0 summing to {height * width}"
    elif not isinstance(counts, str) or not counts.isascii():
        return "RLE counts must be a string (compressed) or a list of integers"
    return None


def segmentation_problem(segmentation: Any, height: int, width: int) -> str | None:
    """Why `segmentation` is not a usable mask of an ``height x width`` image, or None."""
    if isinstance(segmentation, list):
        return _polygons_problem(segmentation)
    if isinstance(segmentation, dict):
        return _rle_problem(segmentation, height, width)
    return "expected polygons (a list of lists) or an RLE {size, counts}"


def _image_problems(images: Any, origin: str, problems: list[Problem]) -> dict[int, dict]:
    """The valid image entries by id; a problem for each bad one."""
    if not isinstance(images, list):
        problems.append(Problem(origin, "images", "missing or not a list"))
        return {}
    valid: dict[int, dict] = {}
    for k, img in enumerate(images):
        where = f"images[{k}]"
        if not isinstance(img, dict):
            problems.append(Problem(origin, where, "expected an object"))
            continue
        bad = [key for key in ("id", "width", "height") if type(img.get(key)) is not int]
        bad += [key for key in ("width", "height") if key not in bad and img[key] < 1]
        if bad:
            problems.append(
                Problem(origin, f"{where}.{bad[0]}", "missing or not a positive integer")
            )
        elif not isinstance(img.get("file_name"), str):
            problems.append(Problem(origin, f"{where}.file_name", "missing or not a string"))
        elif img["id"] in valid:
            problems.append(Problem(origin, f"{where}.id", f"image id {img['id']} repeated"))
        else:
            valid[img["id"]] = img
    return valid


def _annotation_problem(ann: dict, image: dict, labels: LabelTable) -> tuple[str, str] | None:
    """(field, message) of the first problem of an annotation of `image`, or None."""
    category, attributes = ann.get("category_id"), ann.get("attribute_ids")
    if type(category) is not int or category not in labels.categories:
        return "category_id", f"unknown category {category!r} (not in the file's categories)"
    if not isinstance(attributes, list):
        return "attribute_ids", "missing or not a list"
    unknown = [a for a in attributes if type(a) is not int or a not in labels.attributes]
    if unknown:
        return "attribute_ids", f"unknown attribute {unknown[0]!r} (not in the file's attributes)"
    if len(set(attributes)) != len(attributes):
        return "attribute_ids", "an attribute id is repeated"
    problem = segmentation_problem(ann.get("segmentation"), image["height"], image["width"])
    if problem:
        return "segmentation", problem
    bbox = ann.get("bbox")
    if bbox is not None and not (
        isinstance(bbox, list) and len(bbox) == 4 and all(map(_is_number, bbox))
        and bbox[2] >= 0 and bbox[3] >= 0
    ):  # fmt: skip
        return "bbox", "expected [x, y, w, h] with w, h >= 0"
    if "area" in ann and not (_is_number(ann["area"]) and ann["area"] >= 0):
        return "area", "expected a number >= 0"
    iscrowd = ann.get("iscrowd", 0)
    if type(iscrowd) is not int or iscrowd not in (0, 1):
        return "iscrowd", "expected 0 or 1"
    return None


def _segment(ann: dict, image: dict) -> AttributedSegment:
    """The record of a valid annotation (box and area from the mask where the file has none)."""
    seg, bbox, area = ann["segmentation"], ann.get("bbox"), ann.get("area")
    if bbox is None or area is None:  # rasterise only when needed: a full file has 300k+ masks
        box, pixels = mask_geometry(seg, image["height"], image["width"])
    if bbox is not None:
        x, y, w, h = (float(v) for v in bbox)
        box = (x, y, x + w, y + h)
    return AttributedSegment(
        category_id=ann["category_id"],
        attribute_ids=tuple(ann["attribute_ids"]),
        segmentation=seg,
        bbox=box,
        area=float(pixels if area is None else area),
        iscrowd=int(ann.get("iscrowd", 0)),
        ann_id=ann["id"],
    )


@dataclass
class FashionpediaReport:
    """What reading a file found: the data of the images without problems, every problem, and
    the counts (image entries that are valid, annotations, images skipped for a bad one)."""

    data: FashionpediaData
    problems: list[Problem]
    num_images: int
    num_annotations: int
    images_skipped: int


def check_fashionpedia(data: Any, origin: str) -> FashionpediaReport:
    """Read a parsed Fashionpedia-format file (rules in the module docstring), collecting every
    problem instead of raising; the report's data holds the images without a bad annotation.
    Problems of the tables themselves, or an ``annotations`` that is not a list, raise one
    `AnnotationError` (nothing can be checked without them)."""
    labels = parse_label_table(data, origin)
    problems: list[Problem] = []
    images = _image_problems(data.get("images"), origin, problems)
    annotations = data.get("annotations")
    if not isinstance(annotations, list):
        raise AnnotationError([*problems, Problem(origin, "annotations", "missing or not a list")])
    by_image: dict[int, list[AttributedSegment]] = {image_id: [] for image_id in images}
    bad_images: set[Any] = set()
    ann_ids: set[int] = set()
    for k, ann in enumerate(annotations):
        problem = _check_annotation(ann, images, labels, ann_ids)
        if problem:
            problems.append(Problem(origin, f"annotations[{k}].{problem[0]}", problem[1]))
            bad_images.add(ann.get("image_id") if isinstance(ann, dict) else None)
        else:
            by_image[ann["image_id"]].append(_segment(ann, images[ann["image_id"]]))
    kept = [
        SegmentedImage(i, img["file_name"], img["height"], img["width"], tuple(by_image[i]))
        for i, img in images.items()
        if i not in bad_images
    ]
    info = data.get("info")
    return FashionpediaReport(
        data=FashionpediaData(kept, labels, info if isinstance(info, dict) else {}),
        problems=problems,
        num_images=len(images),
        num_annotations=len(annotations),
        images_skipped=len(images) - len(kept),
    )


def parse_fashionpedia(data: Any, origin: str, strict: bool = True) -> FashionpediaData:
    """Records of a parsed Fashionpedia-format file (see the module docstring for the rules).

    strict: any problem raises one `AnnotationError` (at most `MAX_REPORTED_PROBLEMS` listed;
    `check_fashionpedia` collects them all); lenient: images with a bad annotation are skipped,
    with one warning that counts them.  Problems of the tables themselves are raised in both
    modes (nothing can be named without them).
    """
    report = check_fashionpedia(data, origin)
    if report.problems and strict:
        raise AnnotationError(capped(report.problems))
    if report.problems:
        warn(
            f"{origin}: skipped {report.images_skipped} images with a bad annotation "
            f"({len(report.problems)} problems); read it strictly to list them"
        )
    return report.data


def _check_annotation(
    ann: Any, images: Mapping[int, dict], labels: LabelTable, seen_ids: set[int]
) -> tuple[str, str] | None:
    """(field, message) of an annotation's first problem, or None; records its id in `seen_ids`."""
    if not isinstance(ann, dict):
        return "", "expected an object"
    ann_id, image_id = ann.get("id"), ann.get("image_id")
    if type(ann_id) is not int:
        return "id", "missing or not an integer"
    if ann_id in seen_ids:
        return "id", f"annotation id {ann_id} repeated"
    seen_ids.add(ann_id)
    if image_id not in images or type(image_id) is not int:
        return "image_id", f"unknown image id {image_id!r}"
    return _annotation_problem(ann, images[image_id], labels)


def capped(problems: list[Problem], limit: int = MAX_REPORTED_PROBLEMS) -> list[Problem]:
    """The first `limit` problems, plus one that counts the rest (a big file can have thousands)."""
    if len(problems) <= limit:
        return problems
    rest = len(problems) - limit
    return [*problems[:limit], Problem(problems[0].path, "", f"... and {rest} more problems")]


def warn(message: str) -> None:
    """Log and warn once (callers watch either; the CLI prints it once)."""
    logger.warning(message)
    warnings.warn(message, stacklevel=3)


def load_fashionpedia(path: str | Path, strict: bool = True) -> FashionpediaData:
    """Read a Fashionpedia-format JSON file (see `parse_fashionpedia`)."""
    return parse_fashionpedia(load_json(path), str(path), strict=strict)


def segment_to_coco(segment: AttributedSegment, ann_id: int, image_id: int) -> dict[str, Any]:
    """One COCO annotation with ``attribute_ids``, bbox xywh and the area as recorded."""
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": segment.category_id,
        "attribute_ids": list(segment.attribute_ids),
        "segmentation": segment.segmentation,
        "bbox": [_plain(v) for v in xyxy_to_xywh(segment.bbox)],
        "area": _plain(segment.area),
        "iscrowd": segment.iscrowd,
    }


def fashionpedia_coco(
    images: Iterable[SegmentedImage], labels: LabelTable, info: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A Fashionpedia-format dict (COCO + ``attributes`` + ``attribute_ids``) of `images` with the
    tables of `labels`.  Annotation ids are kept when every segment has one, else numbered 1.."""
    images = list(images)
    segments = [s for img in images for s in img.segments]
    keep_ids = all(s.ann_id is not None for s in segments)
    annotations: list[dict[str, Any]] = []
    for img in images:
        for seg in img.segments:
            ann_id = seg.ann_id if keep_ids and seg.ann_id is not None else len(annotations) + 1
            annotations.append(segment_to_coco(seg, ann_id, img.image_id))
    return {
        "info": dict(info or {}),
        "licenses": [],
        "images": [
            {"id": i.image_id, "file_name": i.file_name, "width": i.width, "height": i.height}
            for i in images
        ],
        "annotations": annotations,
        "categories": coco_label_entries(labels.categories),
        "attributes": coco_label_entries(labels.attributes),
    }
