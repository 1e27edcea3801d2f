"""DeepFashion (v1) benchmark list files <-> typed records, with strict validation.

The four benchmarks are released as folders holding ``Anno/`` (annotation lists), ``Eval/``
(``list_eval_partition.txt``) and ``Img/`` (the images; list rows name them relative to ``Img/``,
e.g. ``img/Sheer_Pleated-Front_Blouse/img_00000001.jpg``).  `LAYOUT` names every file of each
benchmark; the Category benchmark's 2020 release calls the folder ``Anno_coarse/``, which is
found as well.

Format facts the readers follow:

- Line 1 is the row count and must equal the number of rows (else a problem naming both
  numbers); line 2 holds the column names, except in the item lists (``list_item_*.txt``), which
  have none.  Rows are whitespace-separated (runs of spaces, tabs); blank lines are not rows.
- Names in the category and attribute lists may contain spaces (``3/4 sleeve``): the type is the
  last cell and the name is the rest of the line.  In-shop's attribute list has no type column:
  the whole line is the name.
- Numbers may be zero-padded (``095`` is 95, never octal); coordinates may be decimals.
- Landmark rows are ragged: ``<image> <clothes type> [<variation type>]`` then 6 / 4 / 8
  (visibility, x, y) triples for upper / lower / full-body clothes (visibility first: 0 visible,
  1 occluded, 2 cut off).  Whether a row has the variation column is decided from its cell
  count (2 + 3n cells without it, 3 + 3n with it: never ambiguous).  The points are placed by
  meaning into a fixed 8-slot layout (`SLOT_NAMES`: collar, sleeve, waistline, hem, left/right),
  upper-body into slots 0 1 2 3 6 7 and lower-body into 4 5 6 7, and the slots the clothes type
  lacks get visibility `ABSENT`; a padding in file order would put a trouser hem on a sleeve.
- Variation types are documented as 1-5, but copies of the real lists seen in the wild carry 0
  (Category benchmark) and 6 (In-shop, "flat"): any integer >= 0 is accepted.
- Boxes are ``x1 y1 x2 y2`` with x2 > x1 and y2 > y1; they are not checked against the image
  size, which the lists do not hold.
- Attribute labels are 1 (positive), -1 (negative) or 0 (unknown); a label row must have one
  label per attribute name.
- Category labels in ``list_category_img.txt`` are 1-based rows of ``list_category_cloth.txt``.
- Consumer-to-shop partition rows ``<image 1> <image 2> <item id> <status>`` are resolved into
  (consumer, shop) with the box file's source type (1 shop, 2 consumer), whichever order the row
  has.  Items never appear in two splits (In-shop: train vs query/gallery).

Across the files of a benchmark every image must appear in each list (an image missing from one
is a problem at the line where it appears) and, when ``Img/`` exists, as a file under it.  The
clothes type of an image must agree between its landmarks, its box row and its category.

Every problem names the file and, for rows, ``line N, column K (name)``; reading collects them
all.  Strict loading (`load_deepfashion`, the ``read_*`` functions with ``strict=True``) raises
one `AnnotationError` holding every problem.  Lenient loading (``strict=False``) reports the same
problems in one warning with counts and keeps what is usable: a bad row is skipped, an image
missing from one of the lists (or contradicting itself across them) is dropped, a wrong row count
is ignored, and a count line that edited copies removed or blanked is tolerated (reading goes on
with the column line wherever it is).  A missing required file makes the benchmark unusable in
both modes.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np

from fashionvision.data.deepfashion2 import brief_repr, json_type_name
from fashionvision.errors import AnnotationError, Problem
from fashionvision.io_utils import atomic_write
from fashionvision.structures import Box

logger = logging.getLogger(__name__)
T = TypeVar("T")

BENCHMARKS = ("category", "inshop", "consumer2shop", "fld")
# Official file locations relative to a benchmark's root, by the role each file plays.  In-shop's
# landmarks, attributes and descriptions (later releases) and Consumer-to-shop's landmarks are
# optional: the benchmark is usable without them.
LAYOUT: dict[str, dict[str, str]] = {
    "category": {
        "categories": "Anno/list_category_cloth.txt",
        "category_labels": "Anno/list_category_img.txt",
        "attributes": "Anno/list_attr_cloth.txt",
        "attribute_labels": "Anno/list_attr_img.txt",
        "boxes": "Anno/list_bbox.txt",
        "landmarks": "Anno/list_landmarks.txt",
        "partition": "Eval/list_eval_partition.txt",
    },
    "inshop": {
        "items": "Anno/list_item_inshop.txt",
        "boxes": "Anno/list_bbox_inshop.txt",
        "landmarks": "Anno/list_landmarks_inshop.txt",
        "attributes": "Anno/attributes/list_attr_cloth.txt",
        "attribute_labels": "Anno/attributes/list_attr_items.txt",
        "descriptions": "Anno/list_description_inshop.json",
        "partition": "Eval/list_eval_partition.txt",
    },
    "consumer2shop": {
        "items": "Anno/list_item_consumer2shop.txt",
        "boxes": "Anno/list_bbox_consumer2shop.txt",
        "landmarks": "Anno/list_landmarks_consumer2shop.txt",
        "partition": "Eval/list_eval_partition.txt",
    },
    "fld": {
        "boxes": "Anno/list_bbox.txt",
        "landmarks": "Anno/list_landmarks.txt",
        "partition": "Eval/list_eval_partition.txt",
    },
}
IMAGE_DIR = "Img"

UPPER_BODY, LOWER_BODY, FULL_BODY = 1, 2, 3
CLOTHES_TYPES = {UPPER_BODY: "upper-body", LOWER_BODY: "lower-body", FULL_BODY: "full-body"}
# fmt: off
SLOT_NAMES = ("left collar", "right collar", "left sleeve", "right sleeve", "left waistline",
              "right waistline", "left hem", "right hem")
# fmt: on
# Slots of each clothes type's landmarks, in the order the files list them.
LANDMARK_SLOTS: dict[int, tuple[int, ...]] = {
    UPPER_BODY: (0, 1, 2, 3, 6, 7),
    LOWER_BODY: (4, 5, 6, 7),
    FULL_BODY: (0, 1, 2, 3, 4, 5, 6, 7),
}
VISIBLE, OCCLUDED, CUT_OFF = 0, 1, 2
ABSENT = -1  # visibility of a slot the clothes type does not have
ATTRIBUTE_TYPES = {1: "texture", 2: "fabric", 3: "shape", 4: "part", 5: "style"}
PAIR_SOURCES = {1: "shop", 2: "consumer"}
IMAGE_SPLITS = ("train", "val", "test")
INSHOP_SPLITS = ("train", "query", "gallery")
# In-shop box rows: 1 front, 2 side, 3 back, 4 zoom-out, 5 zoom-in, 6 stand-alone (no person).
POSE_TYPES = (1, 2, 3, 4, 5, 6)

# The column lines as the real files and their READMEs write them (only category_cloth and
# In-shop's attr_cloth were seen byte for byte); the readers check the first name only.
CATEGORY_COLUMNS = "category_name  category_type"
ATTRIBUTE_COLUMNS = "attribute_name  attribute_type"
ATTRIBUTE_NAME_COLUMNS = "attribute_name"
CATEGORY_LABEL_COLUMNS = "image_name  category_label"
ATTRIBUTE_LABEL_COLUMNS = "image_name  attribute_labels"
ITEM_ATTRIBUTE_COLUMNS = "item_id  attribute_labels"
BOX_COLUMNS = "image_name  x_1  y_1  x_2  y_2"
INSHOP_BOX_COLUMNS = "image_name  clothes_type  pose_type  x_1  y_1  x_2  y_2"
CONSUMER_BOX_COLUMNS = "image_name  clothes_type  source_type  x_1  y_1  x_2  y_2"
LANDMARK_COLUMNS = "image_name  clothes_type  variation_type  " + "  ".join(
    f"landmark_visibility_{k}  landmark_location_x_{k}  landmark_location_y_{k}"
    for k in range(1, 9)
)
IMAGE_PARTITION_COLUMNS = "image_name  evaluation_status"
ITEM_PARTITION_COLUMNS = "image_name  item_id  evaluation_status"
PAIR_PARTITION_COLUMNS = "image_pair_name_1  image_pair_name_2  item_id  evaluation_status"

_INT = re.compile(r"-?[0-9]+")  # ASCII digits only: int() also takes "١٢" and "1_000"
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]*)?")
_LABEL_VALUES = {"1": 1, "-1": -1, "0": 0}


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    """A row of ``list_category_cloth.txt``; its 1-based row number is its label."""

    name: str
    clothes_type: int  # 1 upper-body, 2 lower-body, 3 full-body


@dataclass(frozen=True)
class Attribute:
    """A row of ``list_attr_cloth.txt``; `type` is None where the list gives names only."""

    name: str
    type: int | None  # 1 texture, 2 fabric, 3 shape, 4 part, 5 style


@dataclass(eq=False)
class Landmarks:
    """One landmark row in the 8-slot layout (`SLOT_NAMES`).

    `xy`: (8, 2) float64 pixel coordinates (0 in absent slots); `visibility`: (8,) int8, 0
    visible, 1 occluded, 2 cut off, `ABSENT` where the clothes type has no such landmark.
    `variation_type` is None when the row has no variation column.
    """

    clothes_type: int
    variation_type: int | None
    xy: np.ndarray
    visibility: np.ndarray

    @property
    def present(self) -> np.ndarray:
        """(8,) bool: the slots this clothes type has."""
        return self.visibility != ABSENT

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Landmarks):
            return NotImplemented
        return (
            (self.clothes_type, self.variation_type) == (other.clothes_type, other.variation_type)
            and bool(np.array_equal(self.xy, other.xy))
            and bool(np.array_equal(self.visibility, other.visibility))
        )


@dataclass(frozen=True)
class BoxRow:
    """A row of a box list; the type columns exist in In-shop and Consumer-to-shop only."""

    bbox: Box
    clothes_type: int | None = None
    pose_type: int | None = None  # In-shop (see `POSE_TYPES`)
    source_type: int | None = None  # Consumer-to-shop: 1 shop, 2 consumer


@dataclass(frozen=True)
class PartitionRow:
    """A row of ``Eval/list_eval_partition.txt``: `item_id` in In-shop and Consumer-to-shop,
    `pair_image` (the second image of a pair) in Consumer-to-shop."""

    image: str
    status: str
    item_id: str | None = None
    pair_image: str | None = None


@dataclass(frozen=True)
class ItemDescription:
    """An entry of In-shop's ``list_description_inshop.json``."""

    item_id: str
    color: str
    description: tuple[str, ...]


@dataclass
class LandmarkImage:
    """An image of the Fashion Landmark Detection benchmark."""

    name: str  # relative to the benchmark's Img/ folder
    split: str  # train, val or test
    bbox: Box
    landmarks: Landmarks


@dataclass
class CategoryImage(LandmarkImage):
    """An image of the Category and Attribute Prediction benchmark."""

    category_label: int  # 1-based row of the category list
    attributes: np.ndarray  # (number of attributes,) int8: 1, -1 or 0


@dataclass
class InShopImage:
    name: str
    item_id: str
    split: str  # train, query or gallery
    clothes_type: int
    pose_type: int
    bbox: Box
    landmarks: Landmarks | None  # None when the benchmark has no landmark list


@dataclass
class ConsumerImage:
    name: str
    source: str  # "shop" or "consumer"
    clothes_type: int
    bbox: Box
    landmarks: Landmarks | None


@dataclass(frozen=True)
class ConsumerPair:
    consumer: str
    shop: str
    item_id: str
    split: str  # train, val or test


@dataclass
class _Benchmark:
    root: Path

    def image_path(self, name: str) -> Path:
        """The file of an image named as the lists name it."""
        return self.root / IMAGE_DIR / name


@dataclass
class CategoryAttributeData(_Benchmark):
    categories: list[Category]
    attributes: list[Attribute]
    images: list[CategoryImage]

    def category(self, image: CategoryImage) -> Category:
        return self.categories[image.category_label - 1]

    def split(self, name: str) -> list[CategoryImage]:
        return [im for im in self.images if im.split == name]


@dataclass
class LandmarkDetectionData(_Benchmark):
    images: list[LandmarkImage]

    def split(self, name: str) -> list[LandmarkImage]:
        return [im for im in self.images if im.split == name]


@dataclass
class InShopData(_Benchmark):
    items: list[str]
    images: list[InShopImage]
    attributes: list[Attribute] | None = None
    item_attributes: dict[str, np.ndarray] | None = None  # item id -> (attributes,) int8
    descriptions: dict[str, ItemDescription] | None = None

    def split(self, name: str) -> list[InShopImage]:
        return [im for im in self.images if im.split == name]


@dataclass
class ConsumerToShopData(_Benchmark):
    items: list[str]
    images: dict[str, ConsumerImage]
    pairs: list[ConsumerPair]

    def split(self, name: str) -> list[ConsumerPair]:
        return [p for p in self.pairs if p.split == name]


DeepFashionData = CategoryAttributeData | InShopData | ConsumerToShopData | LandmarkDetectionData


# --------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------


@dataclass
class ReadLog:
    """Problems found while reading, and what lenient reading left out."""

    problems: list[Problem] = field(default_factory=list)
    files_checked: int = 0
    rows_skipped: int = 0  # malformed or duplicate rows
    images_dropped: int = 0  # images missing from a list or contradicting themselves across lists

    def add(self, path: str | Path, where: str, message: str) -> None:
        self.problems.append(Problem(str(path), where, message))

    @property
    def files_with_errors(self) -> int:
        return len({p.path for p in self.problems})

    def summary(self) -> str:
        return (
            f"skipped {self.rows_skipped} bad rows and dropped {self.images_dropped} images "
            f"({len(self.problems)} problems in {self.files_with_errors} files)"
        )


class _BadCell(Exception):
    """A bad cell of a row: `column` is its 0-based index, `name` its column name."""

    def __init__(self, column: int, name: str, message: str):
        super().__init__(message)
        self.column, self.name, self.message = column, name, message


def _where(line: int, column: int | None = None, name: str = "") -> str:
    if column is None:
        return f"line {line}"
    return f"line {line}, column {column + 1}" + (f" ({name})" if name else "")


def _finish(source: str | Path, log: ReadLog, strict: bool, hint: str = "") -> None:
    """Raise every problem (strict) or warn once with the counts (lenient)."""
    if not log.problems:
        return
    if strict:
        raise AnnotationError(log.problems)
    message = f"{source}: {log.summary()}" + (f"; {hint}" if hint else "")
    logger.warning(message)
    warnings.warn(message, stacklevel=3)


# --------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------


def _cell(cells: Sequence[str], k: int, name: str) -> str:
    if k >= len(cells) or not cells[k]:
        raise _BadCell(k, name, "missing")
    return cells[k]


def _int(cells: Sequence[str], k: int, name: str, allowed: Container[int] | None = None) -> int:
    """An integer cell (zero padding allowed); `allowed` None: any integer >= 0."""
    text = _cell(cells, k, name)
    if not _INT.fullmatch(text):
        raise _BadCell(k, name, f"expected an integer, got {brief_repr(text)}")
    value = int(text)  # base 10: "095" is 95
    if allowed is None and value < 0:
        raise _BadCell(k, name, f"must be >= 0, got {value}")
    if allowed is not None and value not in allowed:
        raise _BadCell(k, name, f"must be {_options(allowed)}, got {value}")
    return value


def _options(allowed: Container[int]) -> str:
    if isinstance(allowed, range):
        return f"between {allowed.start} and {allowed.stop - 1}"
    options = sorted(allowed)  # type: ignore[call-overload]
    return ", ".join(map(str, options[:-1])) + f" or {options[-1]}"


def _number(cells: Sequence[str], k: int, name: str) -> float:
    text = _cell(cells, k, name)
    if not _NUMBER.fullmatch(text):
        raise _BadCell(k, name, f"expected a number, got {brief_repr(text)}")
    return float(text)


def _choice(cells: Sequence[str], k: int, name: str, options: Sequence[str]) -> str:
    text = _cell(cells, k, name)
    if text not in options:
        raise _BadCell(k, name, f"must be one of {', '.join(options)}, got {brief_repr(text)}")
    return text


def _width(cells: Sequence[str], n: int, what: str) -> None:
    """Exactly `n` cells: an extra cell would otherwise be silently ignored."""
    if len(cells) > n:
        raise _BadCell(n, "", f"{len(cells)} cells, but a {what} row has {n}")


def _box(cells: Sequence[str], k: int) -> Box:
    """``x_1 y_1 x_2 y_2`` from cell `k` on."""
    x1, y1, x2, y2 = (_number(cells, k + j, n) for j, n in enumerate(("x_1", "y_1", "x_2", "y_2")))
    if x2 <= x1:
        raise _BadCell(k + 2, "x_2", f"x_2 ({x2:g}) must be greater than x_1 ({x1:g})")
    if y2 <= y1:
        raise _BadCell(k + 3, "y_2", f"y_2 ({y2:g}) must be greater than y_1 ({y1:g})")
    return (x1, y1, x2, y2)


def _labels(cells: Sequence[str], n: int | None) -> np.ndarray:
    """Attribute labels from cell 1 on: `n` labels (None: any number) of 1, -1 or 0."""
    values = cells[1:]
    if n is not None and len(values) != n:
        raise _BadCell(
            min(len(cells), n + 1),
            "attribute_labels",
            f"{len(values)} labels, but there are {n} attributes",
        )
    if not _LABEL_VALUES.keys() >= set(values):  # fast path: ~10^3 labels per row
        k, bad = next((k, v) for k, v in enumerate(values) if v not in _LABEL_VALUES)
        raise _BadCell(k + 1, "attribute_labels", f"must be 1, -1 or 0, got {brief_repr(bad)}")
    return np.array([_LABEL_VALUES[v] for v in values], dtype=np.int8)


def _landmark_columns(has_variation: bool) -> Callable[[int], str]:
    """Column names of the cells of a landmark row."""
    first = 3 if has_variation else 2

    def name(k: int) -> str:
        if k < first:
            return ("image_name", "clothes_type", "variation_type")[k]
        j, part = divmod(k - first, 3)
        return ("landmark_visibility", "landmark_location_x", "landmark_location_y")[part] + (
            f"_{j + 1}"
        )

    return name


def parse_landmarks(cells: Sequence[str]) -> Landmarks:
    """The landmarks of a row ``<image> <clothes type> [<variation>] (v x y)*n`` (cell 0 is the
    image name); raises `_BadCell` naming the bad cell.  The row has the variation column when
    it has 3 + 3n cells, not when it has 2 + 3n."""
    if len(cells) % 3 == 1 or len(cells) < 2:
        raise _BadCell(
            len(cells) - 1,
            "",
            f"{len(cells) - 1} values after the image name: need clothes_type, an optional "
            "variation_type and (visibility, x, y) triples",
        )
    first = 3 if len(cells) % 3 == 0 else 2  # the first triple's cell
    name = _landmark_columns(first == 3)
    clothes_type = _int(cells, 1, name(1), CLOTHES_TYPES)
    variation = _int(cells, 2, name(2)) if first == 3 else None
    slots = LANDMARK_SLOTS[clothes_type]
    n = (len(cells) - first) // 3
    if n != len(slots):
        raise _BadCell(
            1,
            name(1),
            f"{n} landmarks, but {CLOTHES_TYPES[clothes_type]} clothes "
            f"(type {clothes_type}) have {len(slots)}",
        )
    xy = np.zeros((8, 2))
    visibility = np.full(8, ABSENT, dtype=np.int8)
    for j, slot in enumerate(slots):
        k = first + 3 * j
        visibility[slot] = _int(cells, k, name(k), (VISIBLE, OCCLUDED, CUT_OFF))
        xy[slot] = (_number(cells, k + 1, name(k + 1)), _number(cells, k + 2, name(k + 2)))
    return Landmarks(clothes_type, variation, xy, visibility)


# --------------------------------------------------------------------------------------------
# List files
# --------------------------------------------------------------------------------------------


def _count_line(
    path: Path, lines: list[str], columns: str | None, log: ReadLog
) -> tuple[int | None, int]:
    """(the row count or None, index of the line after it)."""
    first = lines[0].strip() if lines else ""
    if _INT.fullmatch(first) and not first.startswith("-"):
        return int(first), 1
    log.add(
        path,
        "line 1",
        f"expected the row count, got {brief_repr(first) if first else 'an empty line'}",
    )
    # Edited copies blank the count line or delete it (the column line, or for a list without
    # one the first row, then sits on line 1).
    moved = first and (columns is None or first.startswith(columns.split()[0]))
    return None, 0 if moved else 1


def _column_line(path: Path, lines: list[str], start: int, columns: str, log: ReadLog) -> int:
    """Index of the first row after the column line expected at `start`."""
    first_name = columns.split()[0]
    text = lines[start].strip() if start < len(lines) else ""
    if text.startswith(first_name):
        return start + 1
    got = brief_repr(text) if text else "nothing"
    log.add(path, f"line {start + 1}", f"expected the column names ({first_name} ...), got {got}")
    return start  # read it as a row: a deleted column line must not cost the first row


def _read_text(path: Path, log: ReadLog) -> str | None:
    """A list file's text (a BOM dropped), counted as checked; None when it cannot be read
    (recorded in `log`)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        log.add(path, "", "file not found")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        log.add(path, "", f"cannot read: {exc}")
        return None
    log.files_checked += 1
    return text


def _rows(path: Path, columns: str | None, log: ReadLog) -> list[tuple[int, str]] | None:
    """The data rows of a list file as (line number, text), after checking its count line and
    column line; None when the file cannot be read (recorded in `log`)."""
    text = _read_text(path, log)
    if text is None:
        return None
    lines = text.splitlines()
    count, start = _count_line(path, lines, columns, log)
    if columns is not None:
        start = _column_line(path, lines, start, columns, log)
    rows = [(k + 1, line) for k, line in enumerate(lines[start:], start) if line.strip()]
    if count is not None and count != len(rows):
        log.add(
            path, "line 1", f"row count {count} does not match the {len(rows)} rows in the file"
        )
    return rows


def _split(text: str, trailing: int | None) -> list[str]:
    """The cells of a row; with `trailing`, a name (spaces allowed) then `trailing` cells."""
    if trailing is None:
        return text.split()
    if trailing == 0:
        return [text.strip()]
    parts = text.rsplit(None, trailing)
    return [parts[0].strip(), *parts[1:]]


def _parse(
    path: Path,
    columns: str | None,
    parse: Callable[[list[str]], T],
    log: ReadLog,
    trailing: int | None = None,
) -> list[tuple[int, T]] | None:
    """Parse every row with `parse`; a bad row is recorded (with line and column) and skipped."""
    rows = _rows(path, columns, log)
    if rows is None:
        return None
    out: list[tuple[int, T]] = []
    for line, text in rows:
        try:
            out.append((line, parse(_split(text, trailing))))
        except _BadCell as bad:
            log.add(path, _where(line, bad.column, bad.name), bad.message)
            log.rows_skipped += 1
    return out


@dataclass
class _Table(Generic[T]):
    """Rows of a list keyed by their first cell (an image name or item id)."""

    path: Path
    rows: dict[str, T]
    lines: dict[str, int]


def _keyed(path: Path, parsed: list[tuple[int, tuple[str, T]]], log: ReadLog) -> _Table[T]:
    """Key rows by their name; a repeated name is a bad row."""
    table: _Table[T] = _Table(path, {}, {})
    for line, (key, value) in parsed:
        if key in table.rows:
            log.add(path, _where(line), f"{key} repeats line {table.lines[key]}")
            log.rows_skipped += 1
            continue
        table.rows[key] = value
        table.lines[key] = line
    return table


def _table(
    path: Path,
    columns: str | None,
    parse: Callable[[list[str]], tuple[str, T]],
    log: ReadLog,
) -> _Table[T] | None:
    parsed = _parse(path, columns, parse, log)
    return None if parsed is None else _keyed(path, parsed, log)


# --------------------------------------------------------------------------------------------
# One reader per list
# --------------------------------------------------------------------------------------------


def _category_row(cells: list[str]) -> Category:
    _width(cells, 2, "category")
    return Category(
        _cell(cells, 0, "category_name"), _int(cells, 1, "category_type", CLOTHES_TYPES)
    )


def _attribute_row(cells: list[str]) -> Attribute:
    _width(cells, 2, "attribute")
    name = _cell(cells, 0, "attribute_name")
    return Attribute(name, _int(cells, 1, "attribute_type", ATTRIBUTE_TYPES))


def _categories(path: Path, log: ReadLog) -> list[Category] | None:
    rows = _parse(path, CATEGORY_COLUMNS, _category_row, log, trailing=1)
    return None if rows is None else [c for _, c in rows]


def _attributes(path: Path, log: ReadLog, typed: bool) -> list[Attribute] | None:
    if typed:
        rows = _parse(path, ATTRIBUTE_COLUMNS, _attribute_row, log, trailing=1)
    else:
        rows = _parse(path, ATTRIBUTE_NAME_COLUMNS, lambda c: Attribute(c[0], None), log, 0)
    return None if rows is None else [a for _, a in rows]


def _category_labels(path: Path, log: ReadLog, n: int | None) -> _Table[int] | None:
    allowed = range(1, n + 1) if n else None

    def row(cells: list[str]) -> tuple[str, int]:
        _width(cells, 2, "category label")
        label = _int(cells, 1, "category_label", allowed)
        if allowed is None and label < 1:
            raise _BadCell(1, "category_label", f"must be >= 1, got {label}")
        return _cell(cells, 0, "image_name"), label

    return _table(path, CATEGORY_LABEL_COLUMNS, row, log)


def _attribute_labels(
    path: Path, log: ReadLog, n: int | None, columns: str
) -> _Table[np.ndarray] | None:
    return _table(path, columns, lambda c: (_cell(c, 0, columns.split()[0]), _labels(c, n)), log)


def _box_row(kind: str) -> Callable[[list[str]], tuple[str, BoxRow]]:
    """Parser of a box row of benchmark `kind` (the two retrieval benchmarks add type columns)."""

    def row(cells: list[str]) -> tuple[str, BoxRow]:
        name = _cell(cells, 0, "image_name")
        if kind == "inshop":
            _width(cells, 7, "box")
            ctype = _int(cells, 1, "clothes_type", CLOTHES_TYPES)
            return name, BoxRow(
                _box(cells, 3), ctype, pose_type=_int(cells, 2, "pose_type", POSE_TYPES)
            )
        if kind == "consumer2shop":
            _width(cells, 7, "box")
            ctype = _int(cells, 1, "clothes_type", CLOTHES_TYPES)
            return name, BoxRow(
                _box(cells, 3), ctype, source_type=_int(cells, 2, "source_type", PAIR_SOURCES)
            )
        _width(cells, 5, "box")
        return name, BoxRow(_box(cells, 1))

    return row


_BOX_COLUMNS = {"inshop": INSHOP_BOX_COLUMNS, "consumer2shop": CONSUMER_BOX_COLUMNS}


def _boxes(path: Path, log: ReadLog, kind: str) -> _Table[BoxRow] | None:
    return _table(path, _BOX_COLUMNS.get(kind, BOX_COLUMNS), _box_row(kind), log)


def _landmarks(path: Path, log: ReadLog) -> _Table[Landmarks] | None:
    return _table(path, LANDMARK_COLUMNS, lambda c: (c[0], parse_landmarks(c)), log)


def _partition_row(kind: str) -> Callable[[list[str]], PartitionRow]:
    def row(cells: list[str]) -> PartitionRow:
        if kind == "consumer2shop":
            _width(cells, 4, "pair partition")
            return PartitionRow(
                _cell(cells, 0, "image_pair_name_1"),
                _choice(cells, 3, "evaluation_status", IMAGE_SPLITS),
                _cell(cells, 2, "item_id"),
                _cell(cells, 1, "image_pair_name_2"),
            )
        if kind == "inshop":
            _width(cells, 3, "partition")
            status = _choice(cells, 2, "evaluation_status", INSHOP_SPLITS)
            return PartitionRow(_cell(cells, 0, "image_name"), status, _cell(cells, 1, "item_id"))
        _width(cells, 2, "partition")
        status = _choice(cells, 1, "evaluation_status", IMAGE_SPLITS)
        return PartitionRow(_cell(cells, 0, "image_name"), status)

    return row


_PARTITION_COLUMNS = {"inshop": ITEM_PARTITION_COLUMNS, "consumer2shop": PAIR_PARTITION_COLUMNS}


def _partition(path: Path, log: ReadLog, kind: str) -> list[tuple[int, PartitionRow]] | None:
    return _parse(
        path, _PARTITION_COLUMNS.get(kind, IMAGE_PARTITION_COLUMNS), _partition_row(kind), log
    )


def _by_image(
    path: Path, rows: list[tuple[int, PartitionRow]], log: ReadLog
) -> _Table[PartitionRow]:
    return _keyed(path, [(line, (row.image, row)) for line, row in rows], log)


def _item_ids(path: Path, log: ReadLog) -> list[str] | None:
    def row(cells: list[str]) -> str:
        _width(cells, 1, "item")
        return _cell(cells, 0, "item_id")

    rows = _parse(path, None, row, log)
    return None if rows is None else [item for _, item in rows]


def _descriptions(path: Path, log: ReadLog) -> dict[str, ItemDescription] | None:
    """In-shop's item descriptions: a JSON array of {"item", "color", "description": [str]}
    (its README calls it a list of rows; the file is JSON)."""
    text = _read_text(path, log)
    if text is None:
        return None
    try:
        entries = json.loads(text)
    except ValueError as exc:
        log.add(path, "", f"cannot read JSON: {exc}")
        return None
    if not isinstance(entries, list):
        log.add(path, "", f"expected a JSON array, got {json_type_name(entries)}")
        return None
    out: dict[str, ItemDescription] = {}
    for k, entry in enumerate(entries):
        item = entry.get("item") if isinstance(entry, dict) else None
        color = entry.get("color") if isinstance(entry, dict) else None
        lines = entry.get("description") if isinstance(entry, dict) else None
        if not isinstance(item, str) or not isinstance(color, str):
            log.add(path, f"[{k}]", "needs string fields item and color")
        elif not isinstance(lines, list) or not all(isinstance(s, str) for s in lines):
            log.add(path, f"[{k}].description", "must be a list of strings")
        elif item in out:
            log.add(path, f"[{k}].item", f"{item} repeats an earlier entry")
        else:
            out[item] = ItemDescription(item, color, tuple(lines))
            continue
        log.rows_skipped += 1
    return out


def _read_one(path: str | Path, strict: bool, read: Callable[[Path, ReadLog], T | None]) -> T:
    log = ReadLog()
    result = read(Path(path), log)
    if result is None:  # the file itself is unusable
        raise AnnotationError(log.problems)
    if log.problems:
        first = log.problems[0]
        _finish(
            path, log, strict, f"first: {first.field + ': ' if first.field else ''}{first.message}"
        )
    return result


def read_categories(path: str | Path, strict: bool = True) -> list[Category]:
    """``list_category_cloth.txt``: the categories in label order (label k = row k)."""
    return _read_one(path, strict, _categories)


def read_attributes(path: str | Path, typed: bool = True, strict: bool = True) -> list[Attribute]:
    """``list_attr_cloth.txt``: names and types (`typed`), or names only (In-shop's list)."""
    return _read_one(path, strict, lambda p, log: _attributes(p, log, typed))


def read_category_labels(path: str | Path, strict: bool = True) -> dict[str, int]:
    """``list_category_img.txt``: image name -> 1-based category label."""
    return _read_one(path, strict, lambda p, log: _category_labels(p, log, None)).rows


def read_attribute_labels(
    path: str | Path, strict: bool = True, items: bool = False
) -> dict[str, np.ndarray]:
    """``list_attr_img.txt`` (image name -> labels) or, with `items`, In-shop's
    ``list_attr_items.txt`` (item id -> labels); labels (n,) int8 of 1 / -1 / 0."""
    columns = ITEM_ATTRIBUTE_COLUMNS if items else ATTRIBUTE_LABEL_COLUMNS
    return _read_one(path, strict, lambda p, log: _attribute_labels(p, log, None, columns)).rows


def read_boxes(
    path: str | Path, benchmark: str = "category", strict: bool = True
) -> dict[str, BoxRow]:
    """A box list (``list_bbox.txt``, ``list_bbox_inshop.txt``, ``list_bbox_consumer2shop.txt``
    for `benchmark` category/fld, inshop, consumer2shop): image name -> `BoxRow`."""
    return _read_one(path, strict, lambda p, log: _boxes(p, log, benchmark)).rows


def read_landmarks(path: str | Path, strict: bool = True) -> dict[str, Landmarks]:
    """A landmark list (any benchmark's): image name -> `Landmarks` in the 8-slot layout."""
    return _read_one(path, strict, _landmarks).rows


def read_partition(
    path: str | Path, benchmark: str = "category", strict: bool = True
) -> list[PartitionRow]:
    """``Eval/list_eval_partition.txt`` of `benchmark`, in file order."""
    rows = _read_one(path, strict, lambda p, log: _partition(p, log, benchmark))
    return [row for _, row in rows]


def read_item_ids(path: str | Path, strict: bool = True) -> list[str]:
    """``list_item_inshop.txt`` / ``list_item_consumer2shop.txt`` (count line, no column line)."""
    return _read_one(path, strict, _item_ids)


def read_descriptions(path: str | Path, strict: bool = True) -> dict[str, ItemDescription]:
    """In-shop's ``list_description_inshop.json``: item id -> `ItemDescription`."""
    return _read_one(path, strict, _descriptions)


# --------------------------------------------------------------------------------------------
# Benchmarks: the files of one folder, checked against each other
# --------------------------------------------------------------------------------------------


@dataclass
class DeepFashionReport:
    """Outcome of checking one benchmark folder: `data` holds what lenient reading keeps (None
    when a required file is missing or unreadable)."""

    benchmark: str
    root: Path
    data: DeepFashionData | None
    log: ReadLog


def _file(root: Path, benchmark: str, role: str) -> Path:
    rel = LAYOUT[benchmark][role]
    if rel.startswith("Anno/") and not (root / "Anno").is_dir() and (root / "Anno_coarse").is_dir():
        return root / "Anno_coarse" / rel.removeprefix("Anno/")
    return root / rel


def _optional(root: Path, benchmark: str, role: str) -> Path | None:
    path = _file(root, benchmark, role)
    return path if path.exists() else None


def _join(
    master: _Table, others: Sequence[_Table], log: ReadLog, image_dir: Path | None
) -> list[str]:
    """Names (in `master` order) present in every table and, with `image_dir`, as image files.
    Each other name is reported at its line and counted as dropped."""
    kept = []
    for name, line in master.lines.items():
        missing = [t.path.name for t in others if name not in t.rows]
        if missing:
            log.add(master.path, _where(line), f"{name} is not in {' nor '.join(missing)}")
        elif image_dir is not None and not (image_dir / name).is_file():
            log.add(master.path, _where(line), f"image file {image_dir / name} not found")
        else:
            kept.append(name)
            continue
        log.images_dropped += 1
    for table in others:
        for name, line in table.lines.items():
            if name not in master.rows:
                log.add(table.path, _where(line), f"{name} is not in {master.path.name}")
                log.images_dropped += 1
    return kept


def _same_type(
    name: str, marks: _Table[Landmarks] | None, clothes_type: int, source: str, log: ReadLog
) -> bool:
    """Whether the landmark row of `name` has `clothes_type` (as `source` says); else report."""
    if marks is None or marks.rows[name].clothes_type == clothes_type:
        return True
    got = marks.rows[name].clothes_type
    log.add(
        marks.path,
        _where(marks.lines[name], 1, "clothes_type"),
        f"{got} contradicts clothes type {clothes_type} in {source}",
    )
    log.images_dropped += 1
    return False


def _image_dir(root: Path, check: bool) -> Path | None:
    """Img/ when image files are to be checked and the folder exists (an annotation-only
    download is still readable)."""
    folder = root / IMAGE_DIR
    return folder if check and folder.is_dir() else None


def _build_category(root: Path, log: ReadLog, images: bool) -> CategoryAttributeData | None:
    def f(role: str) -> Path:
        return _file(root, "category", role)

    categories = _categories(f("categories"), log)
    attributes = _attributes(f("attributes"), log, typed=True)
    labels = _category_labels(f("category_labels"), log, len(categories) if categories else None)
    attr = _attribute_labels(
        f("attribute_labels"), log, len(attributes) if attributes else None, ATTRIBUTE_LABEL_COLUMNS
    )
    boxes = _boxes(f("boxes"), log, "category")
    marks = _landmarks(f("landmarks"), log)
    rows = _partition(f("partition"), log, "category")
    if categories is None or attributes is None or labels is None or attr is None:
        return None
    if boxes is None or marks is None or rows is None:
        return None
    split = _by_image(f("partition"), rows, log)
    out = []
    for name in _join(split, [labels, attr, boxes, marks], log, _image_dir(root, images)):
        label = labels.rows[name]
        cat = categories[label - 1]
        source = f"category {label} ({cat.name}) of {labels.path.name} line {labels.lines[name]}"
        if _same_type(name, marks, cat.clothes_type, source, log):
            out.append(
                CategoryImage(
                    name,
                    split.rows[name].status,
                    boxes.rows[name].bbox,
                    marks.rows[name],
                    label,
                    attr.rows[name],
                )
            )
    return CategoryAttributeData(root, categories, attributes, out)


def _build_fld(root: Path, log: ReadLog, images: bool) -> LandmarkDetectionData | None:
    boxes = _boxes(_file(root, "fld", "boxes"), log, "fld")
    marks = _landmarks(_file(root, "fld", "landmarks"), log)
    rows = _partition(_file(root, "fld", "partition"), log, "fld")
    if boxes is None or marks is None or rows is None:
        return None
    split = _by_image(_file(root, "fld", "partition"), rows, log)
    names = _join(split, [boxes, marks], log, _image_dir(root, images))
    return LandmarkDetectionData(
        root,
        [LandmarkImage(n, split.rows[n].status, boxes.rows[n].bbox, marks.rows[n]) for n in names],
    )


def _item_rows(
    rows: Sequence[tuple[int, PartitionRow]],
    items: set[str],
    path: Path,
    log: ReadLog,
    group: Callable[[str], str],
) -> list[tuple[int, PartitionRow]]:
    """The partition rows whose item is in the item list and stays in one split group
    (`group` of the status: In-shop's query and gallery are one group, its train another)."""
    first: dict[str, tuple[str, int]] = {}
    kept = []
    for line, row in rows:
        item = row.item_id or ""
        where = _where(line, 2 if row.pair_image else 1, "item_id")
        if item not in items:
            log.add(path, where, f"{item} is not in the item list")
        elif item in first and first[item][0] != group(row.status):
            log.add(
                path,
                where,
                f"{item} is also in a {first[item][0]} split (line "
                f"{first[item][1]}): items must not overlap across splits",
            )
        else:
            first.setdefault(item, (group(row.status), line))
            kept.append((line, row))
            continue
        log.rows_skipped += 1
    return kept


def _inshop_group(status: str) -> str:
    return "train" if status == "train" else "query/gallery"


def _build_inshop(root: Path, log: ReadLog, images: bool) -> InShopData | None:
    items = _item_ids(_file(root, "inshop", "items"), log)
    boxes = _boxes(_file(root, "inshop", "boxes"), log, "inshop")
    rows = _partition(_file(root, "inshop", "partition"), log, "inshop")
    path = _optional(root, "inshop", "landmarks")
    marks = _landmarks(path, log) if path else None
    path = _optional(root, "inshop", "attributes")
    attributes = _attributes(path, log, typed=False) if path else None
    path = _optional(root, "inshop", "attribute_labels")
    n = len(attributes) if attributes else None
    item_attr = _attribute_labels(path, log, n, ITEM_ATTRIBUTE_COLUMNS) if path else None
    path = _optional(root, "inshop", "descriptions")
    descriptions = _descriptions(path, log) if path else None
    if items is None or boxes is None or rows is None:
        return None
    part_path = _file(root, "inshop", "partition")
    rows = _item_rows(rows, set(items), part_path, log, _inshop_group)
    split = _by_image(part_path, rows, log)
    tables = [boxes] if marks is None else [boxes, marks]
    out = []
    for name in _join(split, tables, log, _image_dir(root, images)):
        box, row = boxes.rows[name], split.rows[name]
        source = f"{boxes.path.name} line {boxes.lines[name]}"
        if _same_type(name, marks, box.clothes_type or 0, source, log):
            lm = marks.rows[name] if marks else None
            out.append(
                InShopImage(
                    name,
                    row.item_id or "",
                    row.status,
                    box.clothes_type or 0,
                    box.pose_type or 0,
                    box.bbox,
                    lm,
                )
            )
    _unknown_items(item_attr, set(items), log)
    return InShopData(
        root, items, out, attributes, item_attr.rows if item_attr else None, descriptions
    )


def _unknown_items(table: _Table | None, items: set[str], log: ReadLog) -> None:
    """Report the rows of an item-keyed table whose item is not in the item list."""
    if table is None:
        return
    for item, line in table.lines.items():
        if item not in items:
            log.add(table.path, _where(line, 0, "item_id"), f"{item} is not in the item list")


def _pair(row: PartitionRow, boxes: _Table[BoxRow]) -> tuple[str, str] | str:
    """(consumer, shop) images of a pair row, or why the row is unusable."""
    names = (row.image, row.pair_image or "")
    missing = [n for n in names if n not in boxes.rows]
    if missing:
        return f"{' and '.join(missing)} not in {boxes.path.name}"
    sources = [PAIR_SOURCES[boxes.rows[n].source_type or 1] for n in names]
    if sorted(sources) != ["consumer", "shop"]:
        return f"a pair needs one shop and one consumer image, got {' and '.join(sources)}"
    return names if sources[0] == "consumer" else (names[1], names[0])


def _build_consumer2shop(root: Path, log: ReadLog, images: bool) -> ConsumerToShopData | None:
    items = _item_ids(_file(root, "consumer2shop", "items"), log)
    boxes = _boxes(_file(root, "consumer2shop", "boxes"), log, "consumer2shop")
    rows = _partition(_file(root, "consumer2shop", "partition"), log, "consumer2shop")
    path = _optional(root, "consumer2shop", "landmarks")
    marks = _landmarks(path, log) if path else None
    if items is None or boxes is None or rows is None:
        return None
    found = {}
    for name in _join(boxes, [marks] if marks else [], log, _image_dir(root, images)):
        box = boxes.rows[name]
        source = f"{boxes.path.name} line {boxes.lines[name]}"
        if _same_type(name, marks, box.clothes_type or 0, source, log):
            lm = marks.rows[name] if marks else None
            found[name] = ConsumerImage(
                name, PAIR_SOURCES[box.source_type or 1], box.clothes_type or 0, box.bbox, lm
            )
    part_path = _file(root, "consumer2shop", "partition")
    pairs = []
    for line, row in _item_rows(rows, set(items), part_path, log, lambda status: status):
        pair = _pair(row, boxes)
        if isinstance(pair, str):
            log.add(part_path, _where(line), pair)
        if isinstance(pair, str) or pair[0] not in found or pair[1] not in found:
            log.rows_skipped += 1  # an image dropped above was reported where it was dropped
            continue
        pairs.append(ConsumerPair(pair[0], pair[1], row.item_id or "", row.status))
    return ConsumerToShopData(root, items, found, pairs)


_BUILDERS: dict[str, Callable[[Path, ReadLog, bool], DeepFashionData | None]] = {
    "category": _build_category,
    "inshop": _build_inshop,
    "consumer2shop": _build_consumer2shop,
    "fld": _build_fld,
}
# A file only that benchmark has, tried in this order (the Category benchmark also has the
# landmark list that identifies FLD).
_SIGNATURES = (
    ("inshop", "boxes"),
    ("consumer2shop", "boxes"),
    ("category", "category_labels"),
    ("fld", "landmarks"),
)


def detect_benchmark(root: str | Path) -> str:
    """Which benchmark the folder `root` (holding Anno/ and Eval/) is; `AnnotationError` if none."""
    root = Path(root)
    if not root.is_dir():
        raise AnnotationError.single(root, "", "folder not found")
    for benchmark, role in _SIGNATURES:
        if _file(root, benchmark, role).is_file():
            return benchmark
    looked = ", ".join(LAYOUT[b][r] for b, r in _SIGNATURES)
    raise AnnotationError.single(root, "", f"not a DeepFashion benchmark folder (none of {looked})")


def find_benchmarks(folder: str | Path) -> list[tuple[str, Path]]:
    """(benchmark, root) of `folder` itself, or else of each of its sub-folders that is one
    (e.g. the output of ``fashionvision synth --format deepfashion``), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError.single(folder, "", "folder not found")
    try:
        return [(detect_benchmark(folder), folder)]
    except AnnotationError:
        pass
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        try:
            found.append((detect_benchmark(sub), sub))
        except AnnotationError:
            continue
    if not found:
        raise AnnotationError.single(
            folder, "", "no DeepFashion benchmark folder in it (a folder with Anno/ and Eval/)"
        )
    return found


def check_deepfashion(
    root: str | Path, benchmark: str | None = None, images: bool = True
) -> DeepFashionReport:
    """Read and validate every file of one benchmark folder; never raises for file content.

    `benchmark` (one of `BENCHMARKS`) is detected from the files when None; with `images`, each
    listed image must exist under ``Img/`` when that folder exists.
    """
    root = Path(root)
    benchmark = benchmark or detect_benchmark(root)
    if benchmark not in _BUILDERS:
        raise ValueError(
            f"unknown DeepFashion benchmark {benchmark!r} (one of {', '.join(BENCHMARKS)})"
        )
    log = ReadLog()
    data = _BUILDERS[benchmark](root, log, images)
    return DeepFashionReport(benchmark, root, data, log)


def load_deepfashion(
    root: str | Path, benchmark: str | None = None, strict: bool = True, images: bool = True
) -> DeepFashionData:
    """The typed data of one benchmark folder (``Anno/``, ``Eval/``, ``Img/``).

    strict: any problem raises one `AnnotationError` holding all of them.  Lenient
    (strict=False): bad rows are skipped and inconsistent images dropped, with one warning that
    counts them; a missing or unreadable required file still raises.
    """
    report = check_deepfashion(root, benchmark, images)
    if report.data is None:
        raise AnnotationError(report.log.problems)
    hint = f"run `fashionvision validate --format deepfashion {root}` for details"
    _finish(root, report.log, strict, hint)
    return report.data


# --------------------------------------------------------------------------------------------
# Writing (the generator of synthetic sets writes the lists the way the real ones are written)
# --------------------------------------------------------------------------------------------


def format_coordinate(value: float) -> str:
    """A coordinate as the real lists write it: a whole number zero-padded to 3 digits."""
    return f"{round(value):03d}"


def box_cells(bbox: Box) -> list[str]:
    return [format_coordinate(v) for v in bbox]


def landmark_cells(landmarks: Landmarks, variation: bool = True) -> list[str]:
    """The cells after the image name of a landmark row (`parse_landmarks` reads them back)."""
    cells = [str(landmarks.clothes_type)]
    if variation:
        cells.append(str(landmarks.variation_type or 0))
    for slot in LANDMARK_SLOTS[landmarks.clothes_type]:
        x, y = landmarks.xy[slot]
        cells += [str(int(landmarks.visibility[slot])), format_coordinate(x), format_coordinate(y)]
    return cells


def list_text(rows: Sequence[Sequence[str]], columns: str | None) -> str:
    """A list file: the row count, the column line (None: none), then the rows, each first cell
    padded into a fixed-width column as the real files pad names."""
    width = max((len(r[0]) for r in rows), default=0) + 4
    body = [r[0].ljust(width) + " ".join(r[1:]) if len(r) > 1 else r[0] for r in rows]
    return "\n".join([str(len(rows)), *([columns] if columns else []), *body]) + "\n"


def write_list(path: str | Path, rows: Sequence[Sequence[str]], columns: str | None) -> None:
    """Write a list file atomically (LF line endings, a final newline)."""
    atomic_write(path, lambda f: f.write(list_text(rows, columns)))


__all__ = [
    "ABSENT",
    "BENCHMARKS",
    "LANDMARK_SLOTS",
    "LAYOUT",
    "SLOT_NAMES",
    "Attribute",
    "BoxRow",
    "Category",
    "CategoryAttributeData",
    "CategoryImage",
    "ConsumerImage",
    "ConsumerPair",
    "ConsumerToShopData",
    "DeepFashionReport",
    "InShopData",
    "InShopImage",
    "ItemDescription",
    "LandmarkDetectionData",
    "LandmarkImage",
    "Landmarks",
    "PartitionRow",
    "ReadLog",
    "check_deepfashion",
    "detect_benchmark",
    "find_benchmarks",
    "landmark_cells",
    "list_text",
    "load_deepfashion",
    "parse_landmarks",
    "read_attribute_labels",
    "read_attributes",
    "read_boxes",
    "read_categories",
    "read_category_labels",
    "read_descriptions",
    "read_item_ids",
    "read_landmarks",
    "read_partition",
    "write_list",
]
