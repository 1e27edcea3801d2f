"""Tests of the Fashionpedia reader and writer (fashionvision.data.fashionpedia) on generated files
and on the official API's sample from ``../shared`` (skipped where absent; never copied).

Oddities of the real sample (``fashionpedia/SOURCES.md``) and what the reader does:

==============================================  ========  ======================================
oddity                                          decision  behaviour (test)
==============================================  ========  ======================================
1. no ``bbox`` in any annotation                accepted  box derived from the mask (sample_boxes)
2. ``area`` floats with halves (5246.5)         accepted  kept as written (sample_reads)
3. older ontology: 48 categories, 320 attrs     accepted  the file's own tables (sample_tables)
4. 0-based ids, category 0 a garment            accepted  0 is a category (sample_tables)
one annotation with 2 polygons                  accepted  mask = union (sample_boxes)
==============================================  ========  ======================================
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from fashionvision.data.fashionpedia import (
    check_fashionpedia,
    fashionpedia_coco,
    load_fashionpedia,
    mask_geometry,
    mask_rle,
    parse_fashionpedia,
)
from fashionvision.data.label_tables import load_label_table
from fashionvision.errors import AnnotationError

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_samples"
SAMPLE = REAL / "fashionpedia" / "sample.json"
FINAL_TABLE = REAL / "fashionpedia" / "category_attributes_descriptions.json"
TABLE_2020 = REAL / "imaterialist" / "label_descriptions_2020_fgvc7.json"
needs_real = pytest.mark.skipif(not SAMPLE.is_file(), reason="../shared real samples not present")


def _rle_of(mask: np.ndarray) -> dict:
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def _generated() -> dict:
    """A 20x30 (h x w) image with a polygon part, a compressed RLE and an uncompressed RLE."""
    mask = np.zeros((20, 30), dtype=bool)
    mask[5:9, 10:22] = True
    return {
        "images": [{"id": 7, "file_name": "x.jpg", "height": 20, "width": 30}],
        "categories": [{"id": 0, "name": "shirt"}, {"id": 3, "name": "sleeve"}],
        "attributes": [{"id": 2, "name": "plain"}, {"id": 40, "name": "zip"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 0, "attribute_ids": [40, 2],
             "segmentation": [[2, 2, 8, 2, 8, 6, 2, 6]], "area": 24.5},
            {"id": 2, "image_id": 7, "category_id": 3, "attribute_ids": [],
             "segmentation": _rle_of(mask), "bbox": [9, 4, 14, 6], "iscrowd": 0},
            {"id": 5, "image_id": 7, "category_id": 3, "attribute_ids": [2],
             "segmentation": {"size": [20, 30], "counts": [45, 5, 550]}},
        ],
    }  # fmt: skip


def test_generated_file_reads_with_boxes_areas_and_attributes() -> None:
    data = parse_fashionpedia(_generated(), "gen.json")
    [image] = data.images
    assert (image.image_id, image.file_name, image.height, image.width) == (7, "x.jpg", 20, 30)
    poly, rle, raw = image.segments
    assert poly.attribute_ids == (40, 2) and poly.area == 24.5  # area kept as written
    assert poly.bbox == mask_geometry(poly.segmentation, 20, 30)[0]
    assert rle.bbox == (9.0, 4.0, 23.0, 10.0)  # a given bbox is kept, not recomputed
    assert rle.area == 48  # no area given: the mask's pixel count
    # uncompressed counts: 45 background pixels (columns 0-1 and 5 of column 2), then 5
    assert raw.bbox == (2.0, 5.0, 3.0, 10.0) and raw.area == 5
    assert [s.ann_id for s in image.segments] == [1, 2, 5]
    assert data.labels.category_name(0) == "shirt"


def test_writer_round_trips() -> None:
    data = parse_fashionpedia(_generated(), "gen.json")
    coco = fashionpedia_coco(data.images, data.labels, {"description": "x"})
    assert coco["categories"] == _generated()["categories"]
    assert coco["attributes"] == _generated()["attributes"]
    assert coco["annotations"][1]["bbox"] == [9, 4, 14, 6]
    assert coco["annotations"][0]["area"] == 24.5 and coco["annotations"][2]["id"] == 5
    again = parse_fashionpedia(json.loads(json.dumps(coco)), "again")
    assert again.images == data.images


def _broken(change: Callable[[dict], object]) -> dict:
    data = copy.deepcopy(_generated())
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d["annotations"][0].update(category_id=1), "annotations[0].category_id",
         "unknown category 1"),
        (lambda d: d["annotations"][1].update(attribute_ids=[3]), "annotations[1].attribute_ids",
         "unknown attribute 3"),
        (lambda d: d["annotations"][1].update(attribute_ids=[2, 2]),
         "annotations[1].attribute_ids", "repeated"),
        (lambda d: d["annotations"][1].pop("attribute_ids"), "annotations[1].attribute_ids",
         "missing"),
        (lambda d: d["annotations"][0].update(segmentation=[[1, 2, 3, 4]]),
         "annotations[0].segmentation", "polygon 0 has 4 values"),
        (lambda d: d["annotations"][1]["segmentation"].update(size=[30, 20]),
         "annotations[1].segmentation", r"RLE size \[30, 20\] differs"),
        (lambda d: d["annotations"][2]["segmentation"].update(counts=[45, 5]),
         "annotations[2].segmentation", "summing to 600"),
        (lambda d: d["annotations"][1].update(bbox=[1, 2, -3, 4]), "annotations[1].bbox",
         "w, h >= 0"),
        (lambda d: d["annotations"][0].update(area="big"), "annotations[0].area", ">= 0"),
        (lambda d: d["annotations"][0].update(image_id=8), "annotations[0].image_id",
         "unknown image id 8"),
        (lambda d: d["annotations"][2].update(id=1), "annotations[2].id", "repeated"),
        (lambda d: d["images"][0].update(height=0), "images[0].height", "positive integer"),
    ],
)  # fmt: skip
def test_strict_errors_name_the_field(change, field: str, message: str) -> None:
    with pytest.raises(AnnotationError, match=message) as info:
        parse_fashionpedia(_broken(change), "gen.json")
    assert info.value.problems[0].field == field


def test_lenient_skips_the_image_of_a_bad_annotation(recwarn) -> None:
    data = _generated()
    data["images"].append({"id": 8, "file_name": "y.jpg", "height": 20, "width": 30})
    data["annotations"].append({**data["annotations"][0], "id": 9, "image_id": 8})
    data["annotations"][1]["category_id"] = 99
    kept = parse_fashionpedia(data, "gen.json", strict=False)
    assert [i.image_id for i in kept.images] == [8]
    assert "skipped 1 images with a bad annotation (1 problems)" in str(recwarn[0].message)


def test_check_collects_every_problem_that_strict_reading_caps() -> None:
    data = _generated()
    data["images"].append({"id": 8, "file_name": "y.jpg", "height": 20, "width": 30})
    good = {**data["annotations"][0], "image_id": 8}
    bad = [{**good, "id": 100 + k, "category_id": 99} for k in range(60)]  # all on image 8
    data["annotations"] += [{**good, "id": 99}, *bad]
    report = check_fashionpedia(data, "gen.json")
    assert len(report.problems) == 60 and report.problems[-1].field == "annotations[63].category_id"
    assert (report.num_images, report.num_annotations, report.images_skipped) == (2, 64, 1)
    assert [i.image_id for i in report.data.images] == [7]  # the lenient reading's data
    with pytest.raises(AnnotationError) as info:
        parse_fashionpedia(data, "gen.json")
    assert len(info.value.problems) == 51  # 50 and one that counts the other 10
    assert info.value.problems[-1].message == "... and 10 more problems"


def test_table_problems_are_listed() -> None:
    bad = _broken(lambda d: d["attributes"].append({"id": 2, "name": "again"}))
    with pytest.raises(AnnotationError, match=r"attributes\[2\].id: id 2 repeated"):
        parse_fashionpedia(bad, "gen.json")


@needs_real
def test_sample_reads() -> None:
    data = load_fashionpedia(SAMPLE)
    assert [(i.image_id, i.width, i.height, len(i.segments)) for i in data.images] == [
        (9813, 618, 1000, 6),
        (10223, 1000, 1478, 6),
    ]
    segments = [s for i in data.images for s in i.segments]
    assert sum(1 for s in segments if not s.attribute_ids) == 4
    assert [s.area for s in segments if s.ann_id in (19, 37)] == [5246.5, 313100.5]
    assert data.info["year"] == 2020


@needs_real
def test_sample_boxes_come_from_the_masks() -> None:
    data = load_fashionpedia(SAMPLE)
    raw = {a["id"]: a for a in json.loads(SAMPLE.read_text())["annotations"]}
    for image in data.images:
        for seg in image.segments:
            mask = mask_utils.decode(mask_rle(seg.segmentation, image.height, image.width))
            ys, xs = np.nonzero(mask)
            assert seg.bbox == (xs.min(), ys.min(), xs.max() + 1.0, ys.max() + 1.0)
            # the polygon extent, to within the rasterisation's pixel
            points = np.concatenate(
                [np.reshape(p, (-1, 2)) for p in raw[seg.ann_id]["segmentation"]]
            )
            assert np.allclose(seg.bbox[:2], points.min(0), atol=1)
            assert np.allclose(seg.bbox[2:], points.max(0), atol=1)
            # the given areas are the polygons' (half-pixel) areas, close to the mask's
            assert abs(mask.sum() - seg.area) <= 0.05 * seg.area + 30
    [collar] = [s for i in data.images for s in i.segments if s.ann_id == 39]
    assert len(collar.segmentation) == 2
    parts = mask_utils.decode(mask_utils.frPyObjects(collar.segmentation, 1478, 1000))
    union = mask_utils.decode(mask_rle(collar.segmentation, 1478, 1000))
    assert np.array_equal(union, parts.any(axis=2))


@needs_real
def test_sample_tables_are_its_own_not_the_final_ones() -> None:
    data = load_fashionpedia(SAMPLE)
    assert len(data.labels.categories) == 48 and len(data.labels.attributes) == 320
    final = load_label_table(FINAL_TABLE)
    assert len(final.categories) == 46 and len(final.attributes) == 294
    assert data.labels.category_name(24) == "shoe" and final.category_name(24) == "bag, wallet"
    assert data.labels.category_name(0) == final.category_name(0) == "shirt, blouse"
    categories = [s.category_id for i in data.images for s in i.segments]
    assert 0 in categories  # category 0 is read as a garment, not as background
    # the final table is the 2020 Kaggle one (ids and names), plus taxonomy ids
    kaggle = load_label_table(TABLE_2020)
    assert {a: x.name for a, x in final.attributes.items()} == {
        a: x.name for a, x in kaggle.attributes.items()
    }
    assert (
        "taxonomy_id" in final.attributes[0].entry
        and "taxonomy_id" not in kaggle.attributes[0].entry
    )
