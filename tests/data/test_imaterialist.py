"""Tests of the iMaterialist-Fashion CSV reader (fashionvision.data.imaterialist) on generated
CSVs, and with the real 2019 / 2020 label tables from ``../shared`` (skipped where absent; the
tables may not be redistributed, so they are read in place, never copied)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from fashionvision.data.fashionpedia import parse_fashionpedia
from fashionvision.data.imaterialist import (
    check_imaterialist_csv,
    image_file_name,
    imaterialist_to_coco,
    read_imaterialist_csv,
)
from fashionvision.data.label_tables import load_label_table
from fashionvision.data.rle import encode_kaggle_rle, format_kaggle_rle
from fashionvision.errors import AnnotationError

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real_samples" / "imaterialist"
TABLE_2019 = REAL / "label_descriptions_2019_fgvc6.json"
TABLE_2020 = REAL / "label_descriptions_2020_fgvc7.json"
needs_real = pytest.mark.skipif(not REAL.is_dir(), reason="../shared real samples not present")
HEADER = ["ImageId", "EncodedPixels", "Height", "Width", "ClassId"]


def _box_mask(h: int, w: int, x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((h, w), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def _rle(mask: np.ndarray) -> str:
    return format_kaggle_rle(encode_kaggle_rle(mask))


def _write_csv(path: Path, rows: list[list[object]], header: list[str] = HEADER) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _table(path: Path, categories: int = 3, attributes: list[int] | None = None) -> Path:
    attributes = list(range(4)) if attributes is None else attributes
    table = {
        "categories": [
            {"id": i, "name": f"cat{i}", "supercategory": "s"} for i in range(categories)
        ],
        "attributes": [{"id": a, "name": f"attr{a}", "supercategory": "t"} for a in attributes],
    }
    path.write_text(json.dumps(table))
    return path


# Two images: A (10x8) with two segments, B (6x5) with one; rows of A are not contiguous.
MASK_A1 = _box_mask(10, 8, 1, 2, 5, 7)
MASK_A2 = _box_mask(10, 8, 0, 0, 8, 1) | _box_mask(10, 8, 6, 8, 8, 10)
MASK_B = _box_mask(6, 5, 2, 1, 3, 6)
GOOD_ROWS = [
    ["a.jpg", _rle(MASK_A1), 10, 8, "2_0_3"],
    ["b.jpg", _rle(MASK_B), 6, 5, "0"],
    ["a.jpg", _rle(MASK_A2), 10, 8, "1_2"],
]


def test_reads_segments_masks_boxes_and_attributes(tmp_path) -> None:
    report = read_imaterialist_csv(_write_csv(tmp_path / "train.csv", GOOD_ROWS))
    assert report.rows == 3 and not report.problems
    a, b = report.images
    assert (a.image_id, a.file_name, a.height, a.width) == (1, "a.jpg", 10, 8)
    assert (b.image_id, b.file_name, b.height, b.width) == (2, "b.jpg", 6, 5)
    assert [(s.category_id, s.attribute_ids) for s in a.segments] == [(2, (0, 3)), (1, (2,))]
    first, second = a.segments
    assert first.bbox == (1.0, 2.0, 5.0, 7.0) and first.area == 20
    assert second.bbox == (0.0, 0.0, 8.0, 10.0) and second.area == 8 + 4
    decoded = mask_utils.decode({**second.segmentation, "counts": second.segmentation["counts"]})
    assert np.array_equal(decoded, MASK_A2)
    assert b.segments[0].attribute_ids == () and b.segments[0].area == 5
    # without a table: categories 0-45 named by id, attributes = the ids used
    assert list(report.labels.categories)[:3] == [0, 1, 2] and len(report.labels.categories) == 46
    assert list(report.labels.attributes) == [0, 2, 3]


def test_coco_output_is_fashionpedia_format(tmp_path) -> None:
    csv_path = _write_csv(tmp_path / "train.csv", GOOD_ROWS)
    report = read_imaterialist_csv(csv_path, labels=_table(tmp_path / "labels.json"))
    coco = imaterialist_to_coco(report, csv_path)
    assert [a["attribute_ids"] for a in coco["annotations"]] == [[0, 3], [2], []]
    assert [a["id"] for a in coco["annotations"]] == [1, 2, 3]
    assert coco["annotations"][0]["bbox"] == [1, 2, 4, 5] and coco["annotations"][0]["area"] == 20
    assert [c["name"] for c in coco["categories"]] == ["cat0", "cat1", "cat2"]
    assert coco["info"]["label_table"].endswith("labels.json")
    # the Fashionpedia reader takes it back unchanged
    back = parse_fashionpedia(json.loads(json.dumps(coco)), "converted")
    assert [s.bbox for s in back.images[0].segments] == [s.bbox for s in report.images[0].segments]


def test_2020_format_reads_the_attributes_column(tmp_path) -> None:
    rows = [["img1", _rle(MASK_A1), 10, 8, "2", "3,0"], ["img1", _rle(MASK_A2), 10, 8, "1", ""]]
    path = _write_csv(tmp_path / "train.csv", rows, [*HEADER, "AttributesIds"])
    labels = _table(tmp_path / "labels.json", attributes=[0, 3, 40])  # ids with gaps are fine here
    [image] = read_imaterialist_csv(path, labels=labels).images
    assert image.file_name == "img1.jpg"  # 2020 ids carry no suffix
    assert [s.attribute_ids for s in image.segments] == [(3, 0), ()]


@pytest.mark.parametrize(
    ("row", "where", "message"),
    [
        (["a.jpg", "1 2 3", 10, 8, "2"], "line 3, EncodedPixels", "odd number of values"),
        (["a.jpg", "5 2 1 1", 10, 8, "2"], "line 3, EncodedPixels", "increasing order"),
        (["a.jpg", "1 5 3 1", 10, 8, "2"], "line 3, EncodedPixels", "overlaps run 1"),
        (["a.jpg", "75 10", 10, 8, "2"], "line 3, EncodedPixels", "beyond the 80 pixels"),
        (["a.jpg", "", 10, 8, "2"], "line 3, EncodedPixels", "empty"),
        (["a.jpg", "1 2", 0, 8, "2"], "line 3, Height", "'0' is not a positive integer"),
        (["a.jpg", "1 2", 10, "8.5", "2"], "line 3, Width", "'8.5' is not a positive integer"),
        (["a.jpg", "1 2", 10, 8, "46"], "line 3, ClassId", "unknown category 46 .expected 0-45"),
        (["a.jpg", "1 2", 10, 8, "2_x"], "line 3, ClassId", "is not CATEGORY or CATEGORY_ATTR"),
        (["a.jpg", "1 2", 10, 8, "2_5_5"], "line 3, ClassId", "attribute 5 repeated"),
        (["a.jpg", "1 2", 10, 9, "2"], "line 3, Height/Width", "10x9 differ from line 2's 10x8"),
        (["", "1 2", 10, 8, "2"], "line 3, ImageId", "empty"),
        (["a.jpg", "1 2", 10, 8], "line 3", "wrong number of fields"),
    ],
)
def test_strict_errors_name_line_and_column(tmp_path, row, where, message) -> None:
    path = _write_csv(tmp_path / "train.csv", [GOOD_ROWS[0], row])
    with pytest.raises(AnnotationError, match=message) as info:
        read_imaterialist_csv(path)
    [problem] = info.value.problems
    assert problem.path == str(path) and problem.field == where


def test_unknown_class_and_attribute_against_a_table(tmp_path) -> None:
    rows = [["a.jpg", "1 2", 10, 8, "3"], ["a.jpg", "1 2", 10, 8, "1_7"]]
    labels = _table(tmp_path / "labels.json")
    with pytest.raises(AnnotationError) as info:
        read_imaterialist_csv(_write_csv(tmp_path / "t.csv", rows), labels=labels)
    assert [(p.field, p.message) for p in info.value.problems] == [
        ("line 2, ClassId", f"unknown category 3 (not in {labels})"),
        ("line 3, ClassId", f"unknown attribute 7 (not in {labels})"),
    ]


def test_lenient_skips_images_with_a_bad_row_and_counts(tmp_path, recwarn) -> None:
    rows = [
        *GOOD_ROWS,
        ["c.jpg", _rle(MASK_B), 6, 5, "1"],
        ["c.jpg", "3 1 1 1", 6, 5, "1"],  # bad RLE: image c goes, with its good row
        ["d.jpg", "1 1", 6, 5, "99"],
        ["a.jpg", _rle(MASK_A1), 10, 8],  # wrong field count: image a goes too
    ]
    path = _write_csv(tmp_path / "train.csv", rows)
    report = read_imaterialist_csv(path, strict=False)
    assert [i.file_name for i in report.images] == ["b.jpg"]
    assert report.images[0].image_id == 1  # COCO ids number the kept images
    assert (report.rows, report.rows_skipped, report.images_skipped) == (7, 6, 3)
    assert dict(report.problem_columns) == {"EncodedPixels": 1, "ClassId": 1, "fields": 1}
    [warning] = [w for w in recwarn if "skipped" in str(w.message)]
    assert "skipped 3 images (6 rows) with bad rows" in str(warning.message)
    assert "1 ClassId, 1 EncodedPixels, 1 fields" in str(warning.message)


def test_height_width_checked_against_image_files(tmp_path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (8, 10)).save(images / "a.jpg")  # 10 high, 8 wide: as the CSV says
    Image.new("RGB", (6, 5)).save(images / "b.jpg")  # transposed
    path = _write_csv(tmp_path / "train.csv", GOOD_ROWS)
    report = check_imaterialist_csv(path, image_dir=images)
    assert [(p.field, p.message) for p in report.problems] == [
        ("line 3, ImageId", "Height x Width 6x5 differ from the image file's 5x6")
    ]
    (images / "b.jpg").unlink()
    report = check_imaterialist_csv(path, image_dir=images)
    assert "b.jpg not found" in report.problems[0].message
    assert len(check_imaterialist_csv(path).problems) == 0  # no folder: not checked


def test_file_level_errors(tmp_path) -> None:
    with pytest.raises(AnnotationError, match="line 1: missing column.s. ClassId"):
        read_imaterialist_csv(_write_csv(tmp_path / "t.csv", [], HEADER[:4]))
    with pytest.raises(Exception, match="file not found"):
        read_imaterialist_csv(tmp_path / "missing.csv")


def test_long_rle_fields_are_read(tmp_path) -> None:
    # a striped mask of a tall image: its RLE is far beyond csv's default 128 KiB field limit
    mask = np.zeros((2000, 200), dtype=bool)
    mask[::2] = True
    text = _rle(mask)
    assert len(text) > 131072
    path = _write_csv(tmp_path / "t.csv", [["big.jpg", text, 2000, 200, "4"]])
    [image] = read_imaterialist_csv(path).images
    assert image.segments[0].area == 1000 * 200
    assert csv.field_size_limit() == 131072  # restored


def test_image_file_names() -> None:
    assert image_file_name("00000663ed1ff0c4e0132b9b9ac53f6e.jpg").endswith("6e.jpg")
    assert image_file_name("00000663ed1ff0c4e0132b9b9ac53f6e") == (
        "00000663ed1ff0c4e0132b9b9ac53f6e.jpg"
    )


@needs_real
def test_real_2019_table_names_the_2019_class_ids(tmp_path) -> None:
    rows = [["a.jpg", _rle(MASK_A1), 10, 8, "6_28_77"], ["a.jpg", _rle(MASK_A2), 10, 8, "0_0"]]
    report = read_imaterialist_csv(_write_csv(tmp_path / "t.csv", rows), labels=TABLE_2019)
    table = report.labels
    assert table.year == 2019 and len(table.categories) == 46 and len(table.attributes) == 92
    first, second = report.images[0].segments
    assert table.category_name(first.category_id) == "pants"
    assert table.attribute_names(first.attribute_ids) == ["bell", "leopard"]
    assert table.category_name(second.category_id) == "shirt, blouse"  # category 0 is a garment
    assert table.attribute_names(second.attribute_ids) == ["above-the-hip (length)"]
    coco = imaterialist_to_coco(report, "t.csv")
    assert len(coco["attributes"]) == 92 and coco["attributes"][28]["name"] == "bell"


@needs_real
def test_real_2020_table_is_refused_for_a_2019_file_and_fits_a_2020_file(tmp_path) -> None:
    path = _write_csv(tmp_path / "t.csv", [["a.jpg", _rle(MASK_A1), 10, 8, "6_28_77"]])
    with pytest.raises(AnnotationError, match="294 attributes with gaps.*not the 2019 table"):
        read_imaterialist_csv(path, labels=TABLE_2020)
    # the same garment in the 2020 format: other attribute ids, same names
    rows = [["a", _rle(MASK_A1), 10, 8, "6", "123,333"]]
    path = _write_csv(tmp_path / "t20.csv", rows, [*HEADER, "AttributesIds"])
    report = read_imaterialist_csv(path, labels=TABLE_2020)
    table = load_label_table(TABLE_2020)
    assert table.year is None and not table.attribute_ids_contiguous
    assert table.attribute_names(report.images[0].segments[0].attribute_ids) == ["bell", "leopard"]
    with pytest.raises(AnnotationError, match="unknown attribute 235"):  # a gap of the 2020 ids
        rows = [["a", _rle(MASK_A1), 10, 8, "6", "235"]]
        read_imaterialist_csv(
            _write_csv(tmp_path / "gap.csv", rows, [*HEADER, "AttributesIds"]), labels=table
        )
