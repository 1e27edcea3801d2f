"""Reading, writing and strict validation of DeepFashion2 per-image annotation files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from fashionvision.data.deepfashion2 import (
    BBOX_TOLERANCE,
    annotation_to_json,
    parse_annotation_file,
    read_annotation,
    write_annotation,
)
from fashionvision.errors import AnnotationError
from fashionvision.structures import Garment, ImageAnnotation

W, H = 64, 48


def skirt_item(**overrides: Any) -> dict[str, Any]:
    """A valid skirt (category 9, 8 landmarks) inside a 64x48 image."""
    item: dict[str, Any] = {
        "segmentation": [[10, 10, 40, 10, 40, 40, 10, 40]],
        "scale": 2,
        "viewpoint": 2,
        "zoom_in": 1,
        "occlusion": 1,
        "landmarks": [v for k in range(8) for v in (10 + k, 12 + k, 2 if k % 2 else 1)],
        "style": 1,
        "bounding_box": [10, 10, 40, 40],
        "category_id": 9,
        "category_name": "skirt",
    }
    item.update(overrides)
    return item


def write_split_file(split: Path, obj: Any, stem: str = "000001", image: bool = True) -> Path:
    """Write annos/<stem>.json (obj dumped, or raw text if a str) and a W x H image beside it."""
    (split / "annos").mkdir(parents=True, exist_ok=True)
    (split / "image").mkdir(parents=True, exist_ok=True)
    if image:
        Image.new("RGB", (W, H), (200, 10, 10)).save(split / "image" / f"{stem}.jpg")
    path = split / "annos" / f"{stem}.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def fields_of(exc: pytest.ExceptionInfo[AnnotationError]) -> list[str]:
    return [p.field for p in exc.value.problems]


def test_read_valid_file_uses_image_header_size(tmp_path: Path) -> None:
    path = write_split_file(tmp_path, {"source": "user", "pair_id": 7, "item1": skirt_item()})
    ann = read_annotation(path)
    assert (ann.image_id, ann.width, ann.height) == (1, W, H)
    assert (ann.source, ann.pair_id, ann.file_name) == ("user", 7, "image/000001.jpg")
    (g,) = ann.items
    assert g.category_id == 9 and g.bbox == (10.0, 10.0, 40.0, 40.0)
    assert g.landmarks.shape == (8, 3) and g.landmarks[1].tolist() == [11.0, 13.0, 2.0]


def test_image_size_argument_skips_image(tmp_path: Path) -> None:
    path = write_split_file(
        tmp_path, {"source": "shop", "pair_id": 1, "item1": skirt_item()}, image=False
    )
    ann = read_annotation(path, image_size=(100, 90))
    assert (ann.width, ann.height) == (100, 90)
    with pytest.raises(AnnotationError) as exc:
        read_annotation(path)
    assert fields_of(exc) == ["image"] and "not found" in str(exc.value)


def _record(image_id: int, items: list[Garment]) -> ImageAnnotation:
    return ImageAnnotation(image_id, f"image/{image_id:06d}.jpg", W, H, "shop", 3, items)


def test_round_trip_is_identity_with_floats_and_empty_landmarks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lm = np.column_stack([rng.uniform(0, W, 14), rng.uniform(0, H, 14), rng.integers(0, 3, 14)])
    items = [
        Garment(
            8,
            (1.25, 2.5, 60.75, 47.0),
            lm,
            [[1.5, 2.25, 30.0, 3.0, 20.125, 40.5]],
            style=2,
            scale=3,
            occlusion=2,
            zoom_in=3,
            viewpoint=1,
        ),
        Garment(
            1, (0.0, 0.0, 10.0, 10.0), np.zeros((0, 3)), [[0, 0, 10, 0, 10, 10], [1, 1, 2, 1, 2, 2]]
        ),
    ]
    original = _record(12, items)
    Image.new("RGB", (W, H)).save(tmp_path / "ignored.jpg")
    path = write_annotation(tmp_path, original)
    first = read_annotation(path, image_size=(W, H))
    assert first == original
    assert first.items[1].landmarks.shape == (0, 3)
    path = write_annotation(tmp_path, first)
    second = read_annotation(path, image_size=(W, H))
    assert second == first and annotation_to_json(second) == annotation_to_json(original)
    assert json.loads(path.read_text())["item1"]["bounding_box"] == [1.25, 2.5, 60.75, 47]


BASE = {"source": "user", "pair_id": 5, "item1": skirt_item(), "item2": skirt_item()}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("source"), "source"),
        (lambda d: d.update(source="consumer"), "source"),
        (lambda d: d.update(pair_id="5"), "pair_id"),
        (lambda d: d.update(pair_id=True), "pair_id"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d.update(item4=skirt_item()), "item3"),
        (lambda d: d.update(item2=[1, 2]), "item2"),
        (lambda d: d["item2"].pop("style"), "item2.style"),
        (lambda d: d["item2"].update(style=-1), "item2.style"),
        (lambda d: d["item2"].update(style=1.5), "item2.style"),
        (lambda d: d["item2"].update(colour="red"), "item2.colour"),
        (lambda d: d["item2"].update(category_id=14), "item2.category_id"),
        (lambda d: d["item2"].update(category_id=0), "item2.category_id"),
        (lambda d: d["item2"].update(category_name="trousers"), "item2.category_name"),
        (lambda d: d["item2"].update(landmarks=[1, 2, 2] * 7), "item2.landmarks"),
        (lambda d: d["item2"].update(landmarks=[1, 2]), "item2.landmarks"),
        (lambda d: d["item2"].update(landmarks=[1, 2, 3] * 8), "item2.landmarks"),
        (lambda d: d["item2"].update(landmarks="none"), "item2.landmarks"),
        (lambda d: d["item2"].update(bounding_box=[1, 2, 3]), "item2.bounding_box"),
        (lambda d: d["item2"].update(bounding_box=[30, 10, 20, 40]), "item2.bounding_box"),
        (lambda d: d["item2"].update(bounding_box=[10, 40, 20, 40]), "item2.bounding_box"),
        (lambda d: d["item2"].update(bounding_box=[10, 10, W + 2, 40]), "item2.bounding_box"),
        (lambda d: d["item2"].update(bounding_box=[10, -1.5, 20, 40]), "item2.bounding_box"),
        (lambda d: d["item2"].update(bounding_box=[10, "1", 20, 40]), "item2.bounding_box"),
        (lambda d: d["item2"].update(segmentation=[1, 2, 3, 4, 5, 6]), "item2.segmentation"),
        (lambda d: d["item2"].update(segmentation=[]), "item2.segmentation"),
        (lambda d: d["item2"].update(segmentation=[[1, 2, 3, 4, 5]]), "item2.segmentation"),
        (lambda d: d["item2"].update(segmentation=[[1, 2, 3, 4]]), "item2.segmentation"),
        (lambda d: d["item2"].update(scale=0), "item2.scale"),
        (lambda d: d["item2"].update(occlusion=4), "item2.occlusion"),
        (lambda d: d["item2"].update(zoom_in="1"), "item2.zoom_in"),
        (lambda d: d["item2"].update(viewpoint=None), "item2.viewpoint"),
    ],
)
def test_each_rule_reports_its_field(tmp_path: Path, mutate: Any, field: str) -> None:
    obj = copy.deepcopy(BASE)
    mutate(obj)
    path = write_split_file(tmp_path, obj)
    with pytest.raises(AnnotationError) as exc:
        read_annotation(path)
    assert fields_of(exc) == [field]
    assert all(p.path == str(path) for p in exc.value.problems)


def test_box_tolerance_is_one_pixel(tmp_path: Path) -> None:
    assert BBOX_TOLERANCE == 1.0
    item = skirt_item(bounding_box=[-1, -0.5, W + 1, H + 1])
    path = write_split_file(tmp_path, {"source": "user", "pair_id": 1, "item1": item})
    assert read_annotation(path).items[0].bbox == (-1.0, -0.5, W + 1.0, H + 1.0)


def test_empty_landmarks_are_allowed(tmp_path: Path) -> None:
    path = write_split_file(
        tmp_path, {"source": "user", "pair_id": 1, "item1": skirt_item(landmarks=[])}
    )
    assert read_annotation(path).items[0].landmarks.shape == (0, 3)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("", "invalid JSON"),
        ("null", "expected a JSON object, got null"),
        ("\xff\xfe{", "invalid JSON"),
        ('{"source": "user", "pair_id": NaN', "invalid JSON"),
    ],
)
def test_unreadable_files(tmp_path: Path, text: str, message: str) -> None:
    path = write_split_file(tmp_path, text)
    with pytest.raises(AnnotationError) as exc:
        read_annotation(path)
    assert fields_of(exc) == ["file"] and message in str(exc.value)


@pytest.mark.parametrize("stem", ["img_a", "\u00b2"])
def test_non_integer_file_name_is_reported_with_content_problems(tmp_path: Path, stem: str) -> None:
    obj = copy.deepcopy(BASE)
    obj["item1"]["style"] = "2"
    path = write_split_file(tmp_path, obj, stem=stem)
    with pytest.raises(AnnotationError) as exc:
        read_annotation(path)
    assert fields_of(exc) == ["file", "item1.style"]
    assert parse_annotation_file(path).annotation is None


def test_all_problems_of_a_file_are_reported(tmp_path: Path) -> None:
    obj = copy.deepcopy(BASE)
    obj["pair_id"] = "x"
    obj["item1"].update(category_id=3, occlusion=7)
    obj["item2"].update(bounding_box=[5, 5, 1, 1], landmarks=[0, 0, 5] * 8)
    path = write_split_file(tmp_path, obj)
    with pytest.raises(AnnotationError) as exc:
        read_annotation(path)
    assert sorted(fields_of(exc)) == sorted(
        [
            "pair_id",
            "item1.category_name",
            "item1.landmarks",
            "item1.occlusion",
            "item2.bounding_box",
            "item2.bounding_box",
            "item2.landmarks",
        ]
    )
    lines = str(exc.value).splitlines()
    assert len(lines) == 7 and lines[0].startswith(f"{path}: ")


def test_lenient_file_report_keeps_good_items(tmp_path: Path) -> None:
    obj = copy.deepcopy(BASE)
    obj["item1"]["scale"] = 9
    report = parse_annotation_file(write_split_file(tmp_path, obj))
    assert report.items_skipped == 1 and len(report.problems) == 1
    assert report.annotation is not None and len(report.annotation.items) == 1
