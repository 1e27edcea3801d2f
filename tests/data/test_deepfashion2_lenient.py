"""Lenient reading keeps the garment: only the bad part of an item goes, on hand-made broken files.

Strict reading of the same files must still report every problem with file and field.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from fashionvision.cli import convert
from fashionvision.data import deepfashion2 as df2
from fashionvision.data.coco_format import split_to_coco
from fashionvision.data.dataset import record_target
from fashionvision.errors import AnnotationError

W, H = 64, 48
BOX = [10, 10, 40, 40]
BOX_POLYGON = [10.0, 10.0, 40.0, 10.0, 40.0, 40.0, 10.0, 40.0]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2
GOOD = [12, 12, 38, 12, 38, 38, 12, 38]


def skirt(**overrides: Any) -> dict[str, Any]:
    """A valid skirt (category 9, 8 landmarks) inside a 64x48 image."""
    item: dict[str, Any] = {
        "segmentation": [GOOD],
        "scale": 2, "viewpoint": 2, "zoom_in": 1, "occlusion": 1,
        "landmarks": [v for k in range(8) for v in (10 + k, 12 + k, 2)],
        "style": 1, "bounding_box": BOX, "category_id": 9, "category_name": "skirt",
    }  # fmt: skip
    item.update(overrides)
    return item


def write(split: Path, image_id: int, *items: dict[str, Any], raw: str | None = None) -> Path:
    """annos/<id>.json holding `items` (or the raw text), and a W x H image."""
    (split / "annos").mkdir(parents=True, exist_ok=True)
    (split / "image").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (W, H)).save(split / "image" / f"{image_id:06d}.jpg")
    obj = {"source": "user", "pair_id": 1} | {f"item{k}": it for k, it in enumerate(items, 1)}
    path = split / "annos" / f"{image_id:06d}.json"
    path.write_text(raw if raw is not None else json.dumps(obj))
    return path


def lenient(path: Path) -> df2.FileReport:
    report = df2.parse_annotation_file(path)
    assert report.problems, "the file was meant to be broken"
    with pytest.raises(AnnotationError) as exc:  # strict reading of the same file fails
        df2.read_annotation(path)
    assert [(p.path, p.field, p.message) for p in exc.value.problems] == [
        (p.path, p.field, p.message) for p in report.problems
    ]
    return report


def test_bad_polygons_are_dropped_and_the_others_kept(tmp_path: Path) -> None:
    seg = [GOOD, [1, 2, 3, 4], [1, 2, 3, 4, 5, 6, 7], [1, "x", 3, 4, 5, 6], 5, [5, 5, 9, 5, 9, 9]]
    path = write(tmp_path, 1, skirt(segmentation=seg))
    report = lenient(path)
    assert [(p.field, p.message) for p in report.problems] == [
        ("item1.segmentation", "polygon 1 is degenerate: 2 points, need >= 3"),
        ("item1.segmentation", "polygon 2 has an odd number of values (7)"),
        ("item1.segmentation", "polygon 3: element 1 must be a finite number, got 'x'"),
        ("item1.segmentation", "polygon 4 must be a list of numbers, got integer"),
    ]
    assert report.annotation is not None and report.items_skipped == 0
    (item,) = report.annotation.items
    assert item.segmentation == [GOOD, [5, 5, 9, 5, 9, 9]]
    assert item.landmarks.shape == (8, 3) and item.style == 1
    assert report.repairs == df2.Repairs(polygons_dropped=4)


@pytest.mark.parametrize(
    ("segmentation", "dropped"),
    [([[1, 2, 3, 4]], 1), ([[1, 2, 3, 4], [float("nan")] * 6], 2), ([], 0),
     ([1, 2, 3, 4, 5, 6], 0), ("poly", 0), (None, 0)],
)  # fmt: skip
def test_no_usable_polygon_makes_the_box_the_mask(
    tmp_path: Path, segmentation: Any, dropped: int
) -> None:
    path = write(tmp_path, 1, skirt(segmentation=segmentation))
    (item,) = lenient(path).annotation.items  # type: ignore[union-attr]
    assert item.segmentation == [BOX_POLYGON]
    assert df2.parse_annotation_file(path).repairs == df2.Repairs(dropped, masks_replaced=1)


def test_missing_segmentation_makes_the_box_the_mask(tmp_path: Path) -> None:
    item = skirt()
    del item["segmentation"]
    report = lenient(write(tmp_path, 1, item))
    assert [p.field for p in report.problems] == ["item1.segmentation"]
    assert report.annotation.items[0].segmentation == [BOX_POLYGON]  # type: ignore[union-attr]
    assert report.repairs == df2.Repairs(masks_replaced=1)


@pytest.mark.parametrize(
    "landmarks",
    [[1, 2, 2] * 7, [1, 2, 3] * 8, [1, 2], "none", [1, 2, None] * 8, None],
)
def test_unusable_landmarks_become_all_unlabelled(tmp_path: Path, landmarks: Any) -> None:
    item = skirt(landmarks=landmarks)
    if landmarks is None:
        del item["landmarks"]
    report = lenient(write(tmp_path, 1, item))
    assert {p.field for p in report.problems} == {"item1.landmarks"}
    (kept,) = report.annotation.items  # type: ignore[union-attr]
    assert kept.landmarks.shape == (8, 3) and not kept.landmarks.any()  # skirt: 8 points, v=0
    assert kept.segmentation == [GOOD]
    assert report.repairs == df2.Repairs(landmarks_cleared=1)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"bounding_box": [30, 10, 20, 40]}, "item1.bounding_box"),
     ({"bounding_box": [10, 10, W + 5, 40]}, "item1.bounding_box"),
     ({"bounding_box": None}, "item1.bounding_box"),
     ({"category_id": 14}, "item1.category_id"),
     ({"category_name": "trousers"}, "item1.category_name"),
     ({"scale": 9}, "item1.scale"),
     ({"style": -1}, "item1.style")],
)  # fmt: skip
def test_item_without_usable_box_category_or_attributes_is_dropped(
    tmp_path: Path, overrides: dict[str, Any], field: str
) -> None:
    path = write(
        tmp_path, 1, skirt(**overrides), skirt(category_id=7, category_name="shorts", landmarks=[])
    )
    report = lenient(path)
    assert [p.field for p in report.problems] == [field]
    assert report.items_skipped == 1 and report.repairs == df2.Repairs()
    assert [g.category_id for g in report.annotation.items] == [7]  # type: ignore[union-attr]


def test_missing_box_drops_the_item_and_its_repairs(tmp_path: Path) -> None:
    item = skirt(segmentation=[[1, 2, 3, 4]], landmarks=[1, 2])
    del item["bounding_box"]
    report = lenient(write(tmp_path, 1, item, skirt()))
    assert report.items_skipped == 1 and report.repairs == df2.Repairs()


def test_harmless_problems_keep_the_item_unchanged(tmp_path: Path) -> None:
    item = skirt(colour="red")
    del item["category_name"]
    report = lenient(write(tmp_path, 1, item))
    assert [(p.field, p.message) for p in report.problems] == [
        ("item1.category_name", "missing"),
        ("item1.colour", "unknown field"),
    ]
    assert (
        report.annotation.items[0]
        == df2.read_annotation(  # type: ignore[union-attr]
            write(tmp_path / "clean", 1, skirt())
        ).items[0]
    )


def test_a_file_whose_items_are_all_dropped_is_skipped(tmp_path: Path) -> None:
    report = lenient(write(tmp_path, 1, skirt(category_id=0)))
    assert report.annotation is None and report.items_skipped == 1


def _broken_split(root: Path) -> Path:
    """Image 1 clean; 2: a bad polygon + a bad landmark list; 3: no usable polygon; 4: a box with
    x2 < x1 and y2 < y1 (two problems) in item2; 5: truncated JSON."""
    write(root, 1, skirt())
    write(root, 2, skirt(segmentation=[GOOD, [0, 0, 1, 1]], landmarks=[1, 2, 2]))
    write(root, 3, skirt(segmentation=[[1, 2]]))
    write(root, 4, skirt(), skirt(bounding_box=[5, 5, 1, 1]))
    write(root, 5, raw='{"source": "user", "pair')
    return root


@pytest.mark.parametrize("cache", [False, True])
def test_load_split_counts_each_kind_in_one_warning(tmp_path: Path, cache: bool) -> None:
    split = _broken_split(tmp_path / "val")
    for _ in range(2):  # with the cache, the second load is served by the index
        with pytest.warns(UserWarning) as record:
            records = df2.load_split(split, strict=False, cache=cache)
        (warning,) = record
        assert str(warning.message).startswith(
            f"{split}: skipped 1 bad items and 1 unusable files, dropped 2 bad polygons, "
            f"replaced 1 masks by their box, cleared 1 landmark lists (6 problems in 4 files)"
        )
        assert [(r.image_id, len(r.items)) for r in records] == [(1, 1), (2, 1), (3, 1), (4, 1)]
        assert records[1].items[0].segmentation == [GOOD]
        assert records[2].items[0].segmentation == [BOX_POLYGON]
        with pytest.raises(AnnotationError) as exc:
            df2.load_split(split, strict=True, cache=cache)
        assert [(Path(p.path).name, p.field) for p in exc.value.problems] == [
            ("000002.json", "item1.landmarks"), ("000002.json", "item1.segmentation"),
            ("000003.json", "item1.segmentation"), ("000004.json", "item2.bounding_box"),
            ("000004.json", "item2.bounding_box"), ("000005.json", "file"),
        ]  # fmt: skip


def test_repaired_items_stay_foreground_in_training_and_coco(tmp_path: Path) -> None:
    split = _broken_split(tmp_path / "val")
    with pytest.warns(UserWarning):
        records = df2.load_split(split, strict=False, cache=False)
    target = record_target(records[2])  # image 3: the mask became the box
    mask = target["masks"][0].numpy()
    assert mask[10:40, 10:40].all() and mask.sum() == 30 * 30
    target = record_target(records[1])  # image 2: landmarks cleared, not dropped
    assert target["keypoints"].shape == (1, 294, 3) and not target["keypoints"].any()
    coco = split_to_coco(records)
    by_image = {a["image_id"]: a for a in coco["annotations"]}
    assert by_image[2]["num_keypoints"] == 0 and by_image[3]["segmentation"] == [BOX_POLYGON]


def _convert(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fashionvision")
    convert.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["convert", *argv])
    return args.func(args)


@pytest.mark.parametrize("switch", ["--lenient", "--skip-bad"])
def test_convert_lenient_switch(tmp_path: Path, switch: str) -> None:
    split = _broken_split(tmp_path / "val")
    out = tmp_path / "coco.json"
    with pytest.raises(AnnotationError, match=r"000003.json: item1.segmentation"):
        _convert(["coco", str(split), str(out)])
    assert not out.exists()
    with pytest.warns(UserWarning, match="replaced 1 masks by their box"):
        assert _convert(["coco", switch, str(split), str(out)]) == 0
    coco = json.loads(out.read_text())
    assert sorted(a["image_id"] for a in coco["annotations"]) == [1, 2, 3, 4]


def test_strict_problems_are_unchanged_by_the_repairs(tmp_path: Path) -> None:
    """The strict report of a file mixing every kind of problem names each one."""
    obj = {
        "item2": skirt(segmentation=[[1, 2, 3, 4], GOOD], landmarks=[1, 2, 5] * 8, scale=0),
        "source": "shop", "pair_id": 3,
        "item1": skirt(bounding_box=[1, 2, 3]),
    }  # fmt: skip
    path = write(tmp_path, 1, raw=json.dumps(obj))
    report = lenient(path)
    assert [p.field for p in report.problems] == [
        "item1.bounding_box",
        "item2.landmarks",
        "item2.segmentation",
        "item2.scale",
    ]
    assert report.annotation is None and report.items_skipped == 2
    assert all(p.path == str(path) for p in report.problems)
