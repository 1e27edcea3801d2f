"""The reader, validator, COCO export, rasterisation and evaluation on real DeepFashion2 files.

The files are read from ``../shared/data/real_samples/`` (never copied into the project: the data
may not be redistributed); each test skips where its folder is absent.  Every oddity that the
folders' ``SOURCES.md`` list is decided here, each with a test:

===================================================  ========  ====================================
oddity (``deepfashion2_per_image``)                  decision  what the reader does (test)
===================================================  ========  ====================================
unstable key order (``item2`` first)                 accepted  items in number order (items_order)
one-line JSON, no trailing newline                   accepted  strict read, 0 problems (strict_read)
1. int closed and float open polygons, same file     accepted  kept as written, closing point
                                                               neither added nor removed (styles)
2. polygon points outside the image (-0.2, x = W,    accepted  kept unclipped in records and COCO;
   y = H)                                                      the mask clips to the image (outside)
3. box != polygon extent; polygons and landmarks     accepted  box kept as written, never
   leaving the box                                             recomputed; COCO area = box w*h
                                                               (box_not_extent, landmark_outside)
4. several polygons per item = overlapping parts     accepted  mask = union, not even-odd (union)
5. image sizes differ                                accepted  size from each image's header (sizes)
v = 0 points stored as (0, 0, 0)                     accepted  unlabelled: num_keypoints counts v>0
===================================================  ========  ====================================

===================================================  ========  ====================================
oddity (``deepfashion2_coco_mmpose``)                decision  what the evaluation does (test)
===================================================  ========  ====================================
1. ``info`` / ``licenses`` are empty strings         accepted  not read (mmpose_gt_evaluates)
2. stray nested ``images`` list in an annotation     accepted  unknown keys ignored (same test)
3. float open and int closed polygons                accepted  segm AP 1.0 on itself (same test)
4. pretty-printed (2-space indent)                   accepted  plain JSON (same test)
keypoints as floats; one category listed             accepted  landmark AP 1.0 (same test)
converter category names (``long_sleeved_dress``)    accepted  reports name categories by id from
                                                               our table (mmpose_category_names)
no scale/occlusion/zoom_in/viewpoint fields          rejected  for subset AP only: "annotations[0]
                                                               .scale: missing" (mmpose_subsets)
===================================================  ========  ====================================

The official per-task result files are decided in
``tests/evaluation/test_official_result_files.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

import fashionvision.cli as cli
from fashionvision.data.coco_format import split_to_coco
from fashionvision.data.dataset import rasterize_polygons, record_target
from fashionvision.data.deepfashion2 import check_split, load_split, read_annotation
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.coco_eval import evaluate_coco
from fashionvision.structures import ImageAnnotation

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real_samples"
PER_IMAGE = REAL / "deepfashion2_per_image"
MMPOSE_GT = REAL / "deepfashion2_coco_mmpose" / "deepfasion2.json"

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real samples not available ({path} is absent, e.g. a fresh clone)")
    return path


@pytest.fixture(scope="module")
def split() -> Path:
    return _need(PER_IMAGE)


@pytest.fixture(scope="module")
def records(split: Path) -> dict[int, ImageAnnotation]:
    # cache=False: never write an index into the shared folder
    return {r.image_id: r for r in load_split(split, strict=True, cache=False)}


def _raw(split: Path, image_id: int) -> dict:
    return json.loads((split / "annos" / f"{image_id:06d}.json").read_text())


def test_strict_read_of_every_file(split: Path, records: dict[int, ImageAnnotation]) -> None:
    report = check_split(split, cache=False)
    assert report.problems == [] and report.files_checked == 30
    assert sorted(records) == list(range(1, 31))
    assert sum(len(r.items) for r in records.values()) == 50


def test_validate_command_passes(
    split: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("validate",))
    assert cli.main(["validate", str(split), "--no-cache"]) == 0
    assert capsys.readouterr().out.startswith("30 files checked, 0 files with errors, 0 problems")


def test_items_in_number_order_whatever_the_key_order(
    split: Path, records: dict[int, ImageAnnotation]
) -> None:
    raw = _raw(split, 1)
    assert next(iter(raw)) == "item2"  # the file lists item2 first
    assert (
        [g.category_id for g in records[1].items]
        == [raw["item1"]["category_id"], raw["item2"]["category_id"]]
        == [1, 8]
    )


def test_polygon_styles_are_kept_as_written(
    split: Path, records: dict[int, ImageAnnotation]
) -> None:
    int_closed = _raw(split, 1)["item1"]["segmentation"][0]
    assert all(type(v) is int for v in int_closed) and int_closed[:2] == int_closed[-2:]
    assert records[1].items[0].segmentation[0] == int_closed
    float_open = _raw(split, 2)["item1"]["segmentation"][0]
    assert any(type(v) is float for v in float_open) and float_open[:2] != float_open[-2:]
    assert records[2].items[0].segmentation[0] == float_open


@pytest.mark.parametrize(
    ("image_id", "axis", "extreme", "value"),
    [(6, 0, min, -0.2), (5, 0, max, 468.0), (2, 1, max, 702.0)],
)
def test_points_outside_the_image_are_kept_and_the_mask_clipped(
    records: dict[int, ImageAnnotation], image_id: int, axis: int, extreme: object, value: float
) -> None:
    record = records[image_id]
    item = record.items[0]
    coords = [v for poly in item.segmentation for v in poly[axis::2]]
    assert extreme(coords) == value  # type: ignore[operator]
    size = (record.width, record.height)[axis]
    assert value < 0 or value == size  # really outside the pixel grid [0, size)
    mask = rasterize_polygons(item.segmentation, record.height, record.width)
    assert mask.shape == (record.height, record.width) and mask.any()
    coco = split_to_coco([record])["annotations"][0]
    assert extreme(v for poly in coco["segmentation"] for v in poly[axis::2]) == value  # type: ignore[operator]


def test_box_is_kept_although_the_polygons_leave_it(records: dict[int, ImageAnnotation]) -> None:
    item = records[1].items[0]
    xs = [v for p in item.segmentation for v in p[0::2]]
    ys = [v for p in item.segmentation for v in p[1::2]]
    assert item.bbox == (0, 29, 466, 622)
    assert (min(xs), min(ys), max(xs), max(ys)) == (0, 35, 467, 603)  # x2 leaves the box
    ann = split_to_coco([records[1]])["annotations"][0]
    assert ann["bbox"] == [0, 29, 466, 593] and ann["area"] == 466 * 593


def test_landmark_outside_the_box_is_accepted(split: Path, tmp_path: Path) -> None:
    """As in 000069 (not among these 30): an occluded point one pixel right of the box."""
    obj = _raw(split, 1)
    box = obj["item1"]["bounding_box"]
    obj["item1"]["landmarks"][0:3] = [box[2] + 1, box[1] + 10, 1]
    (tmp_path / "annos").mkdir()
    path = tmp_path / "annos" / "000001.json"
    path.write_text(json.dumps(obj))
    with Image.open(split / "image" / "000001.jpg") as im:
        size = im.size
    item = read_annotation(path, image_size=size).items[0]
    assert item.landmarks[0].tolist() == [box[2] + 1, box[1] + 10, 1]


def test_union_of_overlapping_polygons_has_no_holes(records: dict[int, ImageAnnotation]) -> None:
    record = records[1]
    item = record.items[0]
    h, w = record.height, record.width
    assert len(item.segmentation) == 3
    singles = [rasterize_polygons([p], h, w).astype(bool) for p in item.segmentation]
    mask = rasterize_polygons(item.segmentation, h, w).astype(bool)
    assert np.array_equal(mask, np.logical_or.reduce(singles))
    for sub in singles[1:]:
        overlap = singles[0] & sub
        assert overlap.sum() > 100  # a sleeve lies inside the outline ...
        assert mask[overlap].all()  # ... and stays in the mask (even-odd would cut it out)
    even_odd = singles[0] ^ singles[1] ^ singles[2]
    assert (mask & ~even_odd).sum() > 100
    assert np.array_equal(record_target(record)["masks"][0].numpy().astype(bool), mask)


def test_image_sizes_come_from_each_image(split: Path, records: dict[int, ImageAnnotation]) -> None:
    sizes = set()
    for image_id, record in records.items():
        with Image.open(split / "image" / f"{image_id:06d}.jpg") as im:
            assert (record.width, record.height) == im.size
        sizes.add(im.size)
    assert len(sizes) >= 10
    target = record_target(records[11])
    assert target["masks"].shape[1:] == (961, 750)


def test_coco_export_loads_in_pycocotools(
    records: dict[int, ImageAnnotation], tmp_path: Path
) -> None:
    coco = split_to_coco(records.values())
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(coco))
    api = COCO(str(path))
    assert len(api.imgs) == 30 and len(api.anns) == 50
    for ann in api.anns.values():
        assert len(ann["keypoints"]) == 882
        v = np.asarray(ann["keypoints"][2::3])
        assert ann["num_keypoints"] == int((v > 0).sum()) > 0  # v=0 points are unlabelled
        assert api.annToMask(ann).any()


def test_convert_command_on_the_real_split(
    split: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through a linked copy of the split (links only): the index goes into tmp, not ../shared."""
    linked = tmp_path / "split"
    linked.mkdir()
    for sub in ("annos", "image"):
        os.symlink(split / sub, linked / sub)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("convert",))
    assert cli.main(["convert", "coco", str(linked), str(tmp_path / "gt.json")]) == 0
    coco = json.loads((tmp_path / "gt.json").read_text())
    assert len(coco["annotations"]) == 50


def _results_from_gt(gt: dict) -> list[dict]:
    """Perfect detections: each GT item's box, union mask (RLE) and keypoints, score 1."""
    sizes = {img["id"]: (img["height"], img["width"]) for img in gt["images"]}
    rows = []
    for ann in gt["annotations"]:
        h, w = sizes[ann["image_id"]]
        rle = mask_utils.merge(mask_utils.frPyObjects(ann["segmentation"], h, w))
        rows.append({
            "image_id": ann["image_id"], "category_id": ann["category_id"], "score": 1.0,
            "bbox": ann["bbox"], "keypoints": ann["keypoints"],
            "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
        })  # fmt: skip
    return rows


@pytest.mark.parametrize("task", ["bbox", "segm", "landmarks"])
def test_evaluating_the_gt_against_itself_gives_ap_one(
    records: dict[int, ImageAnnotation], task: str
) -> None:
    gt = split_to_coco(records.values())
    result = evaluate_coco(gt, _results_from_gt(gt), task, subsets=True)  # type: ignore[arg-type]
    assert result["AP"] == pytest.approx(1.0, abs=1e-12)


@pytest.fixture(scope="module")
def mmpose_gt() -> Path:
    return _need(MMPOSE_GT)


@pytest.mark.parametrize("task", ["bbox", "segm", "landmarks"])
def test_mmpose_gt_evaluates_against_itself(mmpose_gt: Path, task: str) -> None:
    gt = json.loads(mmpose_gt.read_text())
    assert gt["info"] == "" and gt["licenses"] == ""
    assert "images" in gt["annotations"][1]  # the stray nested list
    assert all(type(v) is float for v in gt["annotations"][0]["keypoints"])
    result = evaluate_coco(mmpose_gt, _results_from_gt(gt), task)  # type: ignore[arg-type]
    assert result["AP"] == pytest.approx(1.0, abs=1e-12)
    assert len(COCO(str(mmpose_gt)).anns) == 2


def test_mmpose_category_names(mmpose_gt: Path) -> None:
    gt = json.loads(mmpose_gt.read_text())
    assert gt["categories"][0]["name"] == "long_sleeved_dress"
    result = evaluate_coco(mmpose_gt, _results_from_gt(gt), "bbox", per_category=True)
    assert list(result["per_category"]) == ["long sleeve dress"]


def test_mmpose_subsets_need_the_attribute_fields(mmpose_gt: Path) -> None:
    gt = json.loads(mmpose_gt.read_text())
    with pytest.raises(
        FashionVisionError, match=r"deepfasion2.json: annotations\[0\]\.scale: missing"
    ):
        evaluate_coco(mmpose_gt, _results_from_gt(gt), "bbox", subsets=True)
