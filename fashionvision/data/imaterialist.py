"""iMaterialist-Fashion (Kaggle FGVC6 2019) ``train.csv`` -> typed records -> Fashionpedia-format
COCO (`fashionvision.data.fashionpedia`).

The CSV has one row per segment: ``ImageId, EncodedPixels, Height, Width, ClassId``.
``ClassId`` is the category id followed by the segment's attribute ids, joined by ``_``
(``6_28_77``: category 6, attributes 28 and 77); ``EncodedPixels`` is Kaggle's column-major,
1-based RLE (`fashionvision.data.rle`).  The 2020 (FGVC7) file is read too: its ``ClassId`` is the
category alone and the attributes are a comma-separated ``AttributesIds`` column.  Ids mean what
the ``label_descriptions.json`` of the *same* competition says: the 2019 and 2020 tables give the
same attribute different ids, so a 2019 CSV read with a table whose attribute ids have gaps (the
2020 one) is refused.  Without a table, categories must be 0-45 (27 garments + 19 parts),
attribute ids are only checked to be integers, and names are the ids.

Image ids are Kaggle's ``ImageId`` strings; COCO image ids number the kept images 1.. in order of
first appearance, and ``file_name`` is the ``ImageId`` (with ``.jpg`` appended where it has no image
suffix: 2019 ids are believed to carry it, 2020 ids do not; unverified against the real files).
Masks become compressed COCO RLE straight from the runs, with box and area from the mask.

Every problem names the CSV line (the header is line 1) and the column: ``train.csv: line 7,
EncodedPixels: odd number of values (5): expected start/length pairs``.  Checked: the columns, the
RLE (`fashionvision.data.rle`), ``Height``/``Width`` (positive integers, equal on all rows of an
image, and equal to the image file's size when an image folder is given: a file missing from that
folder is a problem too), ``ClassId`` (known category and attributes, no repeated attribute).  A
row reports its first problem, checked in the order ImageId, Height, Width, ClassId,
EncodedPixels.  Strict reading raises one `AnnotationError`;
lenient reading skips every image that has a bad row (the image's other segments would otherwise
be background where a garment is) and warns once with the counts.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from fashionvision.data.fashionpedia import (
    AttributedSegment,
    SegmentedImage,
    capped,
    fashionpedia_coco,
    mask_geometry,
    warn,
)
from fashionvision.data.label_tables import Label, LabelTable, load_label_table
from fashionvision.data.rle import RLEError, kaggle_to_coco_rle, parse_kaggle_rle
from fashionvision.errors import AnnotationError, FashionVisionError, Problem

COLUMNS = ("ImageId", "EncodedPixels", "Height", "Width", "ClassId")
ATTRIBUTES_COLUMN = "AttributesIds"  # the 2020 file's extra column
NUM_CATEGORIES = 46  # both competitions: ids 0..45
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_CLASS_ID = re.compile(r"[0-9]+(?:_[0-9]+)*")
_ATTRIBUTE_LIST = re.compile(r"[0-9]+(?:,[0-9]+)*")
_FIELD_SIZE_LIMIT = 2**31 - 1  # the largest the C long of every platform holds


@dataclass(frozen=True)
class KaggleRow:
    """One valid CSV row: a segment of `image_id` with its runs [n, 2] (1-based start, length)."""

    line: int
    image_id: str
    height: int
    width: int
    category_id: int
    attribute_ids: tuple[int, ...]
    runs: np.ndarray = field(repr=False)


@dataclass
class CsvReport:
    """What reading a CSV found: the kept images, every problem, and what was skipped."""

    images: list[SegmentedImage]
    labels: LabelTable
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    images_skipped: int = 0
    rows_skipped: int = 0
    problem_columns: Counter[str] = field(default_factory=Counter)


def image_file_name(image_id: str) -> str:
    """The image file of a Kaggle ``ImageId`` (``.jpg`` appended unless it has a suffix)."""
    return image_id if image_id.lower().endswith(IMAGE_SUFFIXES) else f"{image_id}.jpg"


class _RowProblem(Exception):
    """A row's problem: the column it concerns and what is wrong."""

    def __init__(self, column: str, message: str):
        super().__init__(message)
        self.column, self.message = column, message


def _positive_int(text: str, column: str) -> int:
    if not re.fullmatch(r"[0-9]+", text.strip()) or int(text) < 1:
        raise _RowProblem(column, f"{text!r} is not a positive integer")
    return int(text)


def _class_ids(cells: dict[str, str], table: LabelTable | None) -> tuple[int, tuple[int, ...]]:
    """(category id, attribute ids) of a row's ``ClassId`` (and 2020 ``AttributesIds``)."""
    text = cells["ClassId"].strip()
    if not _CLASS_ID.fullmatch(text):
        raise _RowProblem("ClassId", f"{text!r} is not CATEGORY or CATEGORY_ATTR_ATTR...")
    category, *attributes = (int(v) for v in text.split("_"))
    column = "ClassId"
    if ATTRIBUTES_COLUMN in cells:
        listed = cells[ATTRIBUTES_COLUMN].strip()
        if attributes:
            message = f"{text!r} carries attributes, but the file has an {ATTRIBUTES_COLUMN} column"
            raise _RowProblem("ClassId", message)
        if listed and not _ATTRIBUTE_LIST.fullmatch(listed):
            raise _RowProblem(ATTRIBUTES_COLUMN, f"{listed!r} is not a comma-separated id list")
        attributes, column = [int(v) for v in listed.split(",") if v], ATTRIBUTES_COLUMN
    known = range(NUM_CATEGORIES) if table is None else table.categories
    if category not in known:
        raise _RowProblem("ClassId", f"unknown category {category} ({_known_ids(table)})")
    unknown = [a for a in attributes if table is not None and a not in table.attributes]
    if unknown:
        raise _RowProblem(column, f"unknown attribute {unknown[0]} ({_known_ids(table)})")
    repeated = [a for a, n in Counter(attributes).items() if n > 1]
    if repeated:
        raise _RowProblem(column, f"attribute {repeated[0]} repeated")
    return category, tuple(attributes)


def _known_ids(table: LabelTable | None) -> str:
    return f"not in {table.origin}" if table else f"expected 0-{NUM_CATEGORIES - 1}"


def _parse_row(line: int, cells: dict[str, str], table: LabelTable | None) -> KaggleRow:
    image_id = cells["ImageId"].strip()
    if not image_id:
        raise _RowProblem("ImageId", "empty")
    height = _positive_int(cells["Height"], "Height")
    width = _positive_int(cells["Width"], "Width")
    category, attributes = _class_ids(cells, table)
    try:
        runs = parse_kaggle_rle(cells["EncodedPixels"], height, width)
    except RLEError as exc:
        raise _RowProblem("EncodedPixels", str(exc)) from None
    return KaggleRow(line, image_id, height, width, category, attributes, runs)


@contextmanager
def _csv_rows(path: Path) -> Iterator[tuple[list[str], Iterator[tuple[int, dict[str, str], bool]]]]:
    """(header, rows): each row is (line, cells by column, whether it has every field).
    A missing column is a file-level error."""
    try:
        f = open(path, newline="", encoding="utf-8-sig")  # Excel re-saves add a BOM
    except FileNotFoundError:
        raise FashionVisionError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise FashionVisionError(f"{path}: is a directory, expected a CSV file") from None
    # An RLE of a large mask outgrows csv's default 128 KiB field limit (a process-wide setting).
    old_limit = csv.field_size_limit(_FIELD_SIZE_LIMIT)
    try:
        with f:
            reader = csv.reader(f)
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                expected = ",".join(COLUMNS)
                message = f"missing column(s) {', '.join(missing)}; expected {expected}"
                raise AnnotationError.single(path, "line 1", message)
            rows = (
                (
                    reader.line_num,
                    dict(zip(header, values, strict=False)),
                    len(values) == len(header),
                )
                for values in reader
                if values  # a blank line, e.g. at the end of the file
            )
            yield header, rows
    finally:
        csv.field_size_limit(old_limit)


@dataclass
class _Image:
    """An image being assembled: its rows, size, first line and whether a row was bad."""

    first_line: int
    height: int
    width: int
    rows: list[KaggleRow] = field(default_factory=list)
    bad: bool = False


def _image_size_problem(image_dir: Path, image_id: str, height: int, width: int) -> str | None:
    """Why the image file contradicts the CSV's size (or is missing), or None."""
    path = image_dir / image_file_name(image_id)
    try:
        with Image.open(path) as img:
            file_width, file_height = img.size
    except FileNotFoundError:
        return f"image file {path} not found"
    except (UnidentifiedImageError, OSError) as exc:
        return f"image file {path} is unreadable ({exc})"
    if (file_height, file_width) != (height, width):
        size = f"{file_height}x{file_width}"
        return f"Height x Width {height}x{width} differ from the image file's {size}"
    return None


def check_imaterialist_csv(
    path: str | Path, labels: LabelTable | None = None, image_dir: str | Path | None = None
) -> CsvReport:
    """Read a Kaggle ``train.csv``, collecting every row problem instead of raising.

    `labels`: the competition's label table (names, and the ids to check against); `image_dir`:
    the folder of the images, to check each image's size (None: not checked).  The report holds
    the images without problems (COCO ids 1.. in order of first appearance).  File-level errors
    (missing file, missing column, a 2019 file with a table whose attribute ids have gaps) raise.
    """
    path = Path(path)
    problems: list[Problem] = []
    columns: Counter[str] = Counter()

    def record(line: int, column: str, message: str) -> None:
        problems.append(
            Problem(str(path), f"line {line}, {column}" if column else f"line {line}", message)
        )
        columns[column or "fields"] += 1

    images: dict[str, _Image] = {}
    num_rows = 0
    with _csv_rows(path) as (header, rows):
        if labels is not None:
            _check_table_fits(path, header, labels)
        for line, cells, complete in rows:
            num_rows += 1
            try:
                _add_row(images, line, cells, complete, labels)
            except _RowProblem as exc:
                record(line, exc.column, exc.message)
                image_id = cells.get("ImageId", "").strip()
                if image_id:
                    images.setdefault(image_id, _Image(line, 0, 0)).bad = True
    for image_id, image in images.items():
        if image_dir is None or not image.rows:
            continue
        problem = _image_size_problem(Path(image_dir), image_id, image.height, image.width)
        if problem:
            record(image.first_line, "ImageId", problem)
            image.bad = True
    good = [(image_id, image) for image_id, image in images.items() if not image.bad]
    kept = [_segmented_image(k, *item) for k, item in enumerate(good, start=1)]
    return CsvReport(
        images=kept,
        labels=labels if labels is not None else _table_without_file(kept),
        rows=num_rows,
        problems=problems,
        images_skipped=len(images) - len(kept),
        rows_skipped=num_rows - sum(len(image.segments) for image in kept),
        problem_columns=columns,
    )


def _add_row(
    images: dict[str, _Image],
    line: int,
    cells: dict[str, str],
    complete: bool,
    labels: LabelTable | None,
) -> None:
    """Parse a row into its image's rows; `_RowProblem` when it is bad."""
    if not complete:
        raise _RowProblem("", "wrong number of fields")
    row = _parse_row(line, cells, labels)
    image = images.setdefault(row.image_id, _Image(line, row.height, row.width))
    if not image.rows:  # the first valid row sets the size (an earlier bad row could not)
        image.first_line, image.height, image.width = line, row.height, row.width
    if (image.height, image.width) != (row.height, row.width):
        raise _RowProblem(
            "Height/Width",
            f"{row.height}x{row.width} differ from line {image.first_line}'s "
            f"{image.height}x{image.width} for the same image",
        )
    image.rows.append(row)


def _check_table_fits(path: Path, header: list[str], labels: LabelTable) -> None:
    """Refuse a 2019-format file (attributes inside ClassId) read with a table whose attribute
    ids have gaps: the 2020 table knows most 2019 ids, so the names would be silently wrong."""
    if ATTRIBUTES_COLUMN not in header and not labels.attribute_ids_contiguous:
        raise AnnotationError.single(
            labels.origin,
            "attributes",
            f"{len(labels.attributes)} attributes with gaps in their ids: this is not the 2019 "
            f"table, but {path.name} is a 2019-format file (attributes in ClassId); use the "
            "label_descriptions.json of the 2019 competition",
        )


def _segmented_image(coco_id: int, image_id: str, image: _Image) -> SegmentedImage:
    """The record of an image without problems: masks as COCO RLE, box and area from the mask."""
    segments = []
    for row in image.rows:
        rle = kaggle_to_coco_rle(row.runs, row.height, row.width)
        box, area = mask_geometry(rle, row.height, row.width)
        segments.append(AttributedSegment(row.category_id, row.attribute_ids, rle, box, area))
    return SegmentedImage(
        coco_id, image_file_name(image_id), image.height, image.width, tuple(segments)
    )


def _table_without_file(images: list[SegmentedImage]) -> LabelTable:
    """Categories 0-45 and the attribute ids used, named by their ids (no label file given)."""
    used = sorted({a for img in images for s in img.segments for a in s.attribute_ids})

    def table(ids: list[int] | range) -> dict[int, Label]:
        return {i: Label(i, str(i), {"id": i, "name": str(i)}) for i in ids}

    return LabelTable(table(range(NUM_CATEGORIES)), table(used), "<no label file>")


def read_imaterialist_csv(
    path: str | Path,
    labels: LabelTable | str | Path | None = None,
    image_dir: str | Path | None = None,
    strict: bool = True,
) -> CsvReport:
    """Read a Kaggle ``train.csv`` (see the module docstring and `check_imaterialist_csv`).

    `labels`: a `LabelTable` or the path of the competition's ``label_descriptions.json``.
    strict: any problem raises one `AnnotationError`; lenient: images with a bad row are skipped,
    with one warning that counts them by column.
    """
    table = load_label_table(labels) if isinstance(labels, str | Path) else labels
    report = check_imaterialist_csv(path, table, image_dir)
    if report.problems and strict:
        raise AnnotationError(capped(report.problems))
    if report.problems:
        kinds = ", ".join(f"{n} {c}" for c, n in sorted(report.problem_columns.items()))
        warn(
            f"{path}: skipped {report.images_skipped} images ({report.rows_skipped} rows) with bad "
            f"rows; problems by column: {kinds}; read it strictly to list them"
        )
    return report


def imaterialist_to_coco(report: CsvReport, source: str | Path) -> dict:
    """The Fashionpedia-format COCO dict of a read CSV (tables from its label file)."""
    info = {
        "description": f"iMaterialist-Fashion {Path(source).name} converted by fashionvision",
        "label_table": report.labels.origin,
    }
    return fashionpedia_coco(report.images, report.labels, info)
