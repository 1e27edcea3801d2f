"""DeepFashion2 per-image annotation JSON <-> `ImageAnnotation` records, with strict validation.

Layout of a split: ``SPLIT/image/000001.jpg`` and ``SPLIT/annos/000001.json``; the file stem is
the zero-padded integer image id.

Reading validates everything and collects *every* problem of a file as a `Problem` whose field is a
dotted path (``pair_id``, ``item2.landmarks``, ``item1.bounding_box``); `read_annotation` raises
them together as one `AnnotationError`.  Rules beyond the DeepFashion2 description:

- Box tolerance: coordinates are pixel edges, so a box may span ``[0, W] x [0, H]``; a further
  `BBOX_TOLERANCE` (1 px) is allowed on every side because annotation tools round outward at the
  border.  Landmark and polygon coordinates are not range-checked: real files have polygon points
  at -0.2 or exactly at the image width, and polygons and landmarks that leave the box (the box
  covers the whole garment, the polygons what is seen).  The box is kept as written, never
  recomputed from the polygons.
- `segmentation` must hold at least one polygon, each of >= 3 points (an even number >= 6 values).
  Polygons may be int and closed (last point = first) or float and open; both are kept as written.
  Several polygons of one item are overlapping parts whose *union* is the mask, not holes.
- Unknown top-level or item fields are reported; items must be numbered ``item1..itemN``, in any
  key order (real files often start with ``item2``); items are returned in number order.
- Numbers must be finite JSON numbers; booleans are not numbers.

Lenient reading (`parse_annotation_file`'s annotation, `load_split(..., strict=False)`) reports the
same problems but keeps what is usable, so that a garment is not turned into background (and its
correct detections into false positives) for one bad part:

- A file is skipped when the file itself is unusable: unreadable JSON, bad `source` or `pair_id`,
  no items, a file name that is not an image id, a missing or unreadable image.
- An item is dropped only when it cannot be placed or named: bad or missing `bounding_box`,
  `category_id`, or a `category_name` that contradicts the id; and, because no value is a safe
  default, a bad or missing `style` (retrieval pairs) or `scale`/`occlusion`/`zoom_in`/`viewpoint`
  (evaluation subsets).  A file whose items are all dropped is skipped.
- A bad polygon (non-numbers, odd length, fewer than 3 points) is dropped, the others are kept.
  When no polygon is left (or `segmentation` is missing or not a list of polygons) the mask
  becomes the bounding box as a 4-point polygon, counted as "mask replaced by box": a coarse mask
  still marks the garment as foreground, where an empty one would teach background.
- An unusable `landmarks` list (wrong count for the category, bad visibility, non-numbers, missing)
  becomes all-unlabelled: the category's number of points, each (0, 0, v=0), as DeepFashion2 writes
  unlabelled points; such points are ignored by training losses and by the landmark OKS.
- Unknown fields, a missing `category_name` and gaps in the item numbering are ignored.

`FileReport.repairs` counts what was changed in the kept items; `load_split` warns once with the
counts by kind.
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import os
import re
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from fashionvision.categories import CATEGORY_BY_ID, CATEGORY_NAMES
from fashionvision.data.split_index import (
    SplitReport,
    decode_report,
    encode_report,
    gc_paused,
    load_index,
    merge_encoded,
    save_index,
    scan_split,
)
from fashionvision.errors import AnnotationError, Problem
from fashionvision.io_utils import write_json
from fashionvision.structures import Box, Garment, ImageAnnotation

logger = logging.getLogger(__name__)

BBOX_TOLERANCE = 1.0
IMAGE_SUFFIX = ".jpg"
_ITEM_KEY = re.compile(r"item([1-9][0-9]*)")
_STEM = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also accepts e.g. "²"
_TOP_FIELDS = frozenset({"source", "pair_id"})
_ITEM_FIELDS = frozenset(
    {
        "category_id",
        "category_name",
        "bounding_box",
        "landmarks",
        "segmentation",
        "style",
        "scale",
        "occlusion",
        "zoom_in",
        "viewpoint",
    }
)
_NUMBER_TYPES = frozenset({int, float})  # exact types: bool is an int subclass but not a number
# Integer item fields and their ranges (hi None: unbounded); all are Garment keyword arguments.
_INT_FIELDS: tuple[tuple[str, int, int | None], ...] = (
    ("scale", 1, 3),
    ("occlusion", 1, 3),
    ("zoom_in", 1, 3),
    ("viewpoint", 1, 3),
    ("style", 0, None),
)
_SERIAL_BELOW = 2000  # files; below this a process pool costs more than it saves
_READER_VERSION = 2  # bump when what lenient reading keeps changes (part of the index key)


def _number(x: float) -> int | float:
    """DeepFashion2 writes integral coordinates as ints; keep floats that are not integral."""
    xf = float(x)
    return int(xf) if xf.is_integer() else xf


def garment_to_json(item: Garment) -> dict[str, Any]:
    return {
        "segmentation": [[_number(v) for v in poly] for poly in item.segmentation],
        "scale": item.scale,
        "viewpoint": item.viewpoint,
        "zoom_in": item.zoom_in,
        "landmarks": [_number(v) for v in np.asarray(item.landmarks).reshape(-1)],
        "style": item.style,
        "bounding_box": [_number(v) for v in item.bbox],
        "occlusion": item.occlusion,
        "category_id": item.category_id,
        "category_name": item.category_name,
    }


def annotation_to_json(ann: ImageAnnotation) -> dict[str, Any]:
    """The DeepFashion2 JSON object of one image (`source`, `pair_id`, `item1..itemN`)."""
    out: dict[str, Any] = {"source": ann.source, "pair_id": ann.pair_id}
    for k, item in enumerate(ann.items, start=1):
        out[f"item{k}"] = garment_to_json(item)
    return out


def annotation_path(split_dir: str | Path, image_id: int) -> Path:
    return Path(split_dir) / "annos" / f"{image_id:06d}.json"


def image_path(split_dir: str | Path, image_id: int) -> Path:
    return Path(split_dir) / "image" / f"{image_id:06d}.jpg"


def write_annotation(split_dir: str | Path, ann: ImageAnnotation) -> Path:
    """Write `ann` to ``split_dir/annos/<id>.json`` atomically; returns the path."""
    path = annotation_path(split_dir, ann.image_id)
    write_json(path, annotation_to_json(ann))
    return path


# --------------------------------------------------------------------------------------------
# Reading and validation
# --------------------------------------------------------------------------------------------


@dataclass
class Repairs:
    """What lenient reading changed inside the items it kept (see the module docstring)."""

    polygons_dropped: int = 0
    masks_replaced: int = 0  # items whose mask became their box: no usable polygon
    landmarks_cleared: int = 0  # landmark lists replaced by all-unlabelled points

    def __iadd__(self, other: Repairs) -> Repairs:
        self.polygons_dropped += other.polygons_dropped
        self.masks_replaced += other.masks_replaced
        self.landmarks_cleared += other.landmarks_cleared
        return self


@dataclass
class FileReport:
    """Outcome of reading one annotation file.

    `annotation` holds the usable items, repaired as the module docstring says, or is None when
    the file is unusable; `items_skipped` counts the items dropped because of problems and
    `repairs` what was changed in the kept ones.
    """

    annotation: ImageAnnotation | None
    problems: list[Problem] = field(default_factory=list)
    items_skipped: int = 0
    repairs: Repairs = field(default_factory=Repairs)


@dataclass
class _Collector:
    """Accumulates the problems of one file."""

    path: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, field_name: str, message: str) -> None:
        self.problems.append(Problem(self.path, field_name, message))


def json_type_name(value: Any) -> str:
    """The JSON name of a Python value's type, for messages."""
    names = {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        list: "list",
        dict: "object",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


def brief_repr(value: Any) -> str:
    """`repr(value)` cut to 40 characters, for messages that quote a bad value."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass, but `true` is not a JSON integer


def _is_number(value: Any) -> bool:
    """A finite JSON number that fits a float (ints beyond ~1e308 do not)."""
    try:
        return (type(value) is int or type(value) is float) and math.isfinite(value)
    except OverflowError:
        return False


def _numbers(value: Any, fld: str, what: str, out: _Collector) -> list[float] | None:
    """`value` as a list of floats if it is a list of finite numbers, else report and None."""
    if not isinstance(value, list):
        out.add(fld, f"{what} must be a list of numbers, got {json_type_name(value)}")
        return None
    # Fast path with C-level loops: this check runs on every coordinate of a split.
    if set(map(type, value)) <= _NUMBER_TYPES:
        try:
            if all(map(math.isfinite, value)):
                return list(map(float, value))
        except OverflowError:
            pass
    k, v = next((k, v) for k, v in enumerate(value) if not _is_number(v))
    out.add(fld, f"{what}: element {k} must be a finite number, got {brief_repr(v)}")
    return None


def _check_int(
    obj: dict, name: str, fld: str, lo: int, hi: int | None, out: _Collector
) -> int | None:
    """Check an integer field in [lo, hi] (hi None: unbounded); returns it, or None if bad."""
    value = obj[name]
    if not _is_int(value):
        out.add(fld, f"must be an integer, got {json_type_name(value)} {brief_repr(value)}")
    elif value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        out.add(fld, f"must be {bound}, got {value}")
    else:
        return value
    return None


def _check_category(obj: dict, key: str, out: _Collector) -> int | None:
    """Validate category_id and category_name together; returns the id if valid."""
    cid = obj.get("category_id")
    valid = _is_int(cid) and cid in CATEGORY_NAMES
    if "category_id" in obj and not valid:
        out.add(f"{key}.category_id", f"unknown category id {brief_repr(cid)} (expected 1..13)")
    if "category_name" in obj:
        name = obj["category_name"]
        if not isinstance(name, str):
            out.add(f"{key}.category_name", f"must be a string, got {json_type_name(name)}")
        elif valid and name != CATEGORY_NAMES[cid]:
            out.add(
                f"{key}.category_name",
                f"{name!r} does not match category_id {cid} ({CATEGORY_NAMES[cid]!r})",
            )
        elif not valid and name not in CATEGORY_NAMES.values():
            out.add(f"{key}.category_name", f"unknown category name {brief_repr(name)}")
    return cid if valid else None


def _check_bbox(value: Any, fld: str, size: tuple[int, int] | None, out: _Collector) -> Box | None:
    """Validate an xyxy box, within the image (+ `BBOX_TOLERANCE`) when `size` = (W, H) is known."""
    if not isinstance(value, list) or len(value) != 4:
        out.add(fld, f"must be a list of 4 numbers [x1, y1, x2, y2], got {brief_repr(value)}")
        return None
    coords = _numbers(value, fld, "box", out)
    if coords is None:
        return None
    x1, y1, x2, y2 = coords
    ok = True
    if x2 <= x1:
        out.add(fld, f"x2 ({x2:g}) must be greater than x1 ({x1:g})")
        ok = False
    if y2 <= y1:
        out.add(fld, f"y2 ({y2:g}) must be greater than y1 ({y1:g})")
        ok = False
    if size is not None:
        w, h = size
        t = BBOX_TOLERANCE
        if x1 < -t or y1 < -t or x2 > w + t or y2 > h + t:
            out.add(fld, f"box {coords} lies outside the {w}x{h} image (tolerance {t:g} px)")
            ok = False
    return (x1, y1, x2, y2) if ok else None


def _check_landmarks(value: Any, fld: str, cid: int | None, out: _Collector) -> np.ndarray | None:
    """Validate a flat [x, y, v]*n list; returns an (n, 3) float64 array (n = 0 allowed)."""
    flat = _numbers(value, fld, "landmarks", out)
    if flat is None:
        return None
    if len(flat) % 3:
        out.add(fld, f"length {len(flat)} is not a multiple of 3 (x, y, v triples)")
        return None
    ok = True
    if cid is not None and flat and len(flat) != 3 * CATEGORY_BY_ID[cid].num_landmarks:
        need = CATEGORY_BY_ID[cid].num_landmarks
        out.add(fld, f"{len(flat) // 3} points, but category {cid} has {need} (or none)")
        ok = False
    bad_v = sorted({v for v in flat[2::3] if v not in (0.0, 1.0, 2.0)})
    if bad_v:
        out.add(fld, f"visibility must be 0, 1 or 2, got {bad_v[:5]}")
        ok = False
    return np.asarray(flat, dtype=np.float64).reshape(-1, 3) if ok else None


def _check_segmentation(value: Any, fld: str, out: _Collector) -> tuple[list[list[float]], int]:
    """Validate a non-empty list of polygons, each [x1, y1, x2, y2, ...] with >= 3 points.

    Returns (the valid polygons, the number of bad polygons left out); no polygon at all when
    `value` is not a list of polygons.
    """
    if not isinstance(value, list) or not value:
        out.add(fld, f"must be a non-empty list of polygons, got {brief_repr(value)}")
        return [], 0
    if not any(isinstance(poly, list) for poly in value):
        # e.g. one flat polygon without the outer list: one problem, not one per number
        out.add(fld, "must be a list of polygons (lists of numbers), not a list of numbers")
        return [], 0
    polygons: list[list[float]] = []
    for k, poly in enumerate(value):
        coords = _numbers(poly, fld, f"polygon {k}", out)
        if coords is None:
            continue
        if len(coords) % 2:
            out.add(fld, f"polygon {k} has an odd number of values ({len(coords)})")
        elif len(coords) < 6:
            out.add(fld, f"polygon {k} is degenerate: {len(coords) // 2} points, need >= 3")
        else:
            polygons.append(coords)
    return polygons, len(value) - len(polygons)


def _box_polygon(box: Box) -> list[float]:
    """The xyxy box as a 4-point polygon (the lenient stand-in for an item without a mask)."""
    x1, y1, x2, y2 = box
    return [x1, y1, x2, y1, x2, y2, x1, y2]


def _parse_item(
    obj: Any, key: str, size: tuple[int, int] | None, out: _Collector
) -> tuple[Garment | None, Repairs]:
    """Validate `itemK`, recording every problem; returns the garment as lenient reading keeps it
    (None when it is dropped) and what was repaired in it (see the module docstring)."""
    repairs = Repairs()
    if not isinstance(obj, dict):
        out.add(key, f"must be an object, got {json_type_name(obj)}")
        return None, repairs
    for name in sorted(_ITEM_FIELDS - obj.keys()):
        out.add(f"{key}.{name}", "missing")
    for name in sorted(obj.keys() - _ITEM_FIELDS):
        out.add(f"{key}.{name}", "unknown field")
    before = len(out.problems)
    cid = _check_category(obj, key, out)
    category_ok = cid is not None and len(out.problems) == before  # a contradicting name: unsure
    bbox = landmarks = None
    polygons: list[list[float]] = []
    if "bounding_box" in obj:
        bbox = _check_bbox(obj["bounding_box"], f"{key}.bounding_box", size, out)
    if "landmarks" in obj:
        landmarks = _check_landmarks(obj["landmarks"], f"{key}.landmarks", cid, out)
    if "segmentation" in obj:
        polygons, repairs.polygons_dropped = _check_segmentation(
            obj["segmentation"], f"{key}.segmentation", out
        )
    ints = {
        name: _check_int(obj, name, f"{key}.{name}", lo, hi, out)
        for name, lo, hi in _INT_FIELDS
        if name in obj
    }
    if not category_ok or bbox is None or len(ints) < len(_INT_FIELDS) or None in ints.values():
        return None, Repairs()
    if landmarks is None:
        landmarks = np.zeros((CATEGORY_BY_ID[cid].num_landmarks, 3))  # type: ignore[index]
        repairs.landmarks_cleared = 1
    if not polygons:
        polygons = [_box_polygon(bbox)]
        repairs.masks_replaced = 1
    return Garment(cid, bbox, landmarks, polygons, **ints), repairs  # type: ignore[arg-type]


def _image_size(json_path: Path, out: _Collector) -> tuple[int, int] | None:
    """(width, height) from the header of ``SPLIT/image/<stem>.jpg`` (no pixel decoding)."""
    image = json_path.parent.parent / "image" / (json_path.stem + IMAGE_SUFFIX)
    try:
        with Image.open(image) as im:
            return im.size
    except FileNotFoundError:
        out.add("image", f"image file {image} not found")
    except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        out.add("image", f"cannot read the header of {image}: {exc}")
    return None


_UNREADABLE = object()  # not None: a file may hold the JSON value `null`


def _load_json(json_path: Path, out: _Collector) -> Any:
    """The parsed JSON, or `_UNREADABLE` with a ``file`` problem recorded."""
    try:
        return json.loads(json_path.read_bytes())
    except OSError as exc:
        out.add("file", f"cannot read: {exc.strerror or exc}")
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        out.add("file", f"invalid JSON: {exc}")
    return _UNREADABLE


def _check_top(obj: dict, out: _Collector) -> tuple[list[int], bool]:
    """Validate `source`, `pair_id` and the field names; returns (item numbers, usable)."""
    numbers: list[int] = []
    for name in obj:
        match = _ITEM_KEY.fullmatch(name)
        if match:
            numbers.append(int(match.group(1)))
        elif name not in _TOP_FIELDS:
            out.add(name, "unknown field (expected source, pair_id, item1..itemN)")
    numbers.sort()
    before = len(out.problems)
    if "source" not in obj:
        out.add("source", "missing")
    elif obj["source"] not in ("shop", "user"):
        out.add("source", f"must be 'shop' or 'user', got {brief_repr(obj['source'])}")
    if "pair_id" not in obj:
        out.add("pair_id", "missing")
    else:
        _check_int(obj, "pair_id", "pair_id", 0, None, out)
    if not numbers:
        out.add("item1", "missing: an annotation holds at least one item")
    usable = len(out.problems) == before
    for k in sorted(set(range(1, (numbers[-1] if numbers else 0) + 1)) - set(numbers)):
        out.add(f"item{k}", "missing: items must be numbered item1..itemN without gaps")
    return numbers, usable


def parse_annotation_file(
    json_path: str | Path, image_size: tuple[int, int] | None = None
) -> FileReport:
    """Read and validate one annotation file without raising for its content.

    `image_size` = (width, height); when None it is read from the header of
    ``SPLIT/image/<stem>.jpg`` (and a missing image is a problem). The annotation is what lenient
    reading keeps (items repaired or dropped as the module docstring says), None when the file
    as a whole is unusable.
    """
    json_path = Path(json_path)
    out = _Collector(str(json_path))
    stem = json_path.stem
    name_ok = _STEM.fullmatch(stem) is not None
    if not name_ok:
        out.add("file", f"file name {json_path.name!r} is not <integer image id>.json")
    obj = _load_json(json_path, out)
    if obj is _UNREADABLE:
        return FileReport(None, out.problems)
    if not isinstance(obj, dict):
        out.add("file", f"expected a JSON object, got {json_type_name(obj)}")
        return FileReport(None, out.problems)
    size = image_size if image_size is not None else _image_size(json_path, out)
    numbers, usable = _check_top(obj, out)
    usable = usable and name_ok and size is not None
    items: list[Garment] = []
    repairs = Repairs()
    for k in numbers:
        item, item_repairs = _parse_item(obj[f"item{k}"], f"item{k}", size, out)
        if item is not None:
            items.append(item)
            repairs += item_repairs
    skipped = len(numbers) - len(items)
    if not usable or not items:
        return FileReport(None, out.problems, skipped)
    ann = ImageAnnotation(
        image_id=int(stem),
        file_name=f"image/{stem}{IMAGE_SUFFIX}",
        width=int(size[0]),  # type: ignore[index]
        height=int(size[1]),  # type: ignore[index]
        source=obj["source"],
        pair_id=obj["pair_id"],
        items=items,
    )
    return FileReport(ann, out.problems, skipped, repairs)


def read_annotation(
    json_path: str | Path, image_size: tuple[int, int] | None = None
) -> ImageAnnotation:
    """Read one annotation file strictly: any problem raises `AnnotationError` listing all.

    `image_size` = (width, height) in pixels; None reads it from the image header.
    """
    report = parse_annotation_file(json_path, image_size)
    if report.problems or report.annotation is None:
        raise AnnotationError(report.problems)
    return report.annotation


# --------------------------------------------------------------------------------------------
# Whole splits: parallel parse and the cached index
# --------------------------------------------------------------------------------------------


def _parse_chunk(paths: list[str]) -> list[FileReport]:
    with gc_paused():
        return [parse_annotation_file(p) for p in paths]


def _encode_chunk(paths: list[str]) -> dict[str, np.ndarray]:
    """Worker task: parse a chunk and return it encoded, which pickles as a few flat buffers
    instead of ~10^5 small Python objects per chunk."""
    return encode_report(_summarise(_parse_chunk(paths)))


def _parse_files(
    paths: list[str], workers: int | None = None
) -> tuple[SplitReport, dict[str, np.ndarray] | None]:
    """Parse files serially, or with a process pool over chunks for large splits.

    Returns the report and, from the parallel path, its encoded form (ready for the index).
    """
    workers = workers if workers is not None else min(os.cpu_count() or 1, 16)
    if workers <= 1 or len(paths) < _SERIAL_BELOW:
        return _summarise(_parse_chunk(paths)), None
    size = max(64, math.ceil(len(paths) / (workers * 8)))  # ~8 chunks per worker balance load
    chunks = [paths[i : i + size] for i in range(0, len(paths), size)]
    # forkserver: forking a parent that already runs torch/OpenMP threads can deadlock
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        arrays = merge_encoded(list(pool.map(_encode_chunk, chunks)))
    report = decode_report(arrays)
    report.records.sort(key=lambda a: a.image_id)  # chunks follow name order, not id order
    return report, arrays


def _summarise(reports: list[FileReport]) -> SplitReport:
    records = sorted((r.annotation for r in reports if r.annotation), key=lambda a: a.image_id)
    return SplitReport(
        records=records,
        problems=[p for r in reports for p in r.problems],
        files_checked=len(reports),
        files_with_errors=sum(1 for r in reports if r.problems),
        files_skipped=sum(1 for r in reports if r.annotation is None),
        items_skipped=sum(r.items_skipped for r in reports),
    )


def check_split(
    split_dir: str | Path, cache: bool = True, workers: int | None = None
) -> SplitReport:
    """Read and validate every ``split_dir/annos/*.json``; never raises for file content.

    With `cache`, the report is read from / written to the split's index (see
    `fashionvision.data.split_index`). Raises `AnnotationError` if the split or its ``annos/``
    directory is missing.
    """
    split = Path(split_dir)
    if not split.is_dir():
        raise AnnotationError.single(split, "", "split directory not found")
    try:
        listing = scan_split(split)
    except OSError as exc:
        raise AnnotationError.single(split / "annos", "", f"cannot list: {exc.strerror}") from exc
    # The index stores records as this reader keeps them: a reader with other lenient rules must
    # not be served an index written by an older one.
    key = f"{listing.key}-reader{_READER_VERSION}"
    if cache:
        cached = load_index(split, key)
        if cached is not None:
            # an index written by the parallel path stores records in file-name order
            cached.records.sort(key=lambda a: a.image_id)
            return cached
    # The key was taken before parsing: a file changed meanwhile makes the next key differ.
    paths = [str(split / "annos" / name) for name in listing.json_names]
    with gc_paused():
        report, arrays = _parse_files(paths, workers)
    if cache and save_index(split, key, report, arrays) is None:
        logger.warning("could not write an index for %s (no writable cache location)", split)
    return report


def load_split(
    split_dir: str | Path, strict: bool = True, cache: bool = True
) -> list[ImageAnnotation]:
    """All annotations of a split, sorted by image id.

    strict: any problem in any file raises one `AnnotationError` holding all of them.
    lenient (strict=False): items are repaired or dropped and unusable files skipped as the module
    docstring says, with one warning that counts each kind. `cache` uses the on-disk index
    (rebuilt when any file changes).
    """
    report = check_split(split_dir, cache=cache)
    if strict and report.problems:
        raise AnnotationError(report.problems)
    if not strict and report.problems:
        fixed = _lenient_repairs(report)
        message = (
            f"{split_dir}: skipped {report.items_skipped} bad items and {report.files_skipped} "
            f"unusable files, dropped {fixed.polygons_dropped} bad polygons, replaced "
            f"{fixed.masks_replaced} masks by their box, cleared {fixed.landmarks_cleared} "
            f"landmark lists ({len(report.problems)} problems in {report.files_with_errors} "
            f"files); run `fashionvision validate {split_dir}` for details"
        )
        logger.warning(message)
        warnings.warn(message, stacklevel=2)
    return report.records


def _lenient_repairs(report: SplitReport) -> Repairs:
    """What lenient reading changed in the kept items of the split of `report`.

    The index caches records and problems but not these counts, so the files with problems (a
    few in real splits) are parsed again.
    """
    total = Repairs()
    for path in sorted({p.path for p in report.problems}):
        total += parse_annotation_file(path).repairs
    return total


__all__ = [
    "BBOX_TOLERANCE",
    "FileReport",
    "Repairs",
    "annotation_path",
    "annotation_to_json",
    "check_split",
    "garment_to_json",
    "image_path",
    "load_split",
    "parse_annotation_file",
    "read_annotation",
    "write_annotation",
]
