"""COCO-format splits (Fashionpedia layout and plain COCO): records that keep the file's masks
compressed, the data root lookup, and targets that are the annotations in the model's label
space."""

from __future__ import annotations

import gc
import json
import shutil
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils

from fashionvision.data.coco_dataset import (
    CocoInstanceDataset,
    coco_target,
    find_coco_split,
    load_coco_split,
)
from fashionvision.data.synthetic_parsing import annotation_file, generate_fashionpedia
from fashionvision.data.transforms import RandomHorizontalFlip
from fashionvision.errors import AnnotationError, FashionVisionError

SIZE = 128


@pytest.fixture(scope="module")
def fp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fp")
    generate_fashionpedia(root, 6, 4, seed=5, size=SIZE)
    return root


def _raw(root: Path, split: str) -> dict[str, Any]:
    return json.loads((root / annotation_file(split)).read_text())


def _decode(segmentation: Any, height: int, width: int) -> np.ndarray:
    """A file's segmentation as a bitmap, straight from pycocotools (not the reader's helper)."""
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    else:
        rle = {"size": segmentation["size"], "counts": segmentation["counts"].encode()}
    return mask_utils.decode(rle)


def _as_plain_coco(raw: dict[str, Any]) -> dict[str, Any]:
    """The file as a plain COCO file: no attribute table, no attribute_ids, and category ids
    1-based with gaps (id = 2 * old + 1) in a table listed in reverse order."""
    out = json.loads(json.dumps(raw))
    del out["attributes"]
    for ann in out["annotations"]:
        del ann["attribute_ids"]
        ann["category_id"] = 2 * ann["category_id"] + 1
    out["categories"] = [{**c, "id": 2 * c["id"] + 1} for c in reversed(out["categories"])]
    return out


def test_targets_are_the_annotations(fp_root: Path) -> None:
    raw = _raw(fp_root, "train")
    split = load_coco_split(*find_coco_split(fp_root, "train"))
    assert split.category_ids == [c["id"] for c in raw["categories"]]
    assert split.category_names == [c["name"] for c in raw["categories"]]
    assert split.attribute_ids == [a["id"] for a in raw["attributes"]]
    assert split.num_classes == 12 and split.num_attributes == 22
    by_image: dict[int, list[dict]] = {img["id"]: [] for img in raw["images"]}
    for ann in raw["annotations"]:
        by_image[ann["image_id"]].append(ann)
    dataset = CocoInstanceDataset(split)
    assert len(dataset) == len(raw["images"]) == 6
    seen_styles = set()
    for k, img in enumerate(raw["images"]):
        image, target = dataset[k]
        record = dataset.records[k]
        anns = by_image[img["id"]]
        assert record.file_name == img["file_name"] and target["image_id"] == img["id"]
        assert image.shape == (3, SIZE, SIZE) and image.dtype == torch.float32
        assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
        n = len(anns)
        assert target["boxes"].shape == (n, 4) and target["boxes"].dtype == torch.float32
        assert target["masks"].shape == (n, SIZE, SIZE) and target["masks"].dtype == torch.uint8
        assert target["attributes"].shape == (n, 22)
        assert target["attributes"].dtype == torch.float32
        for i, ann in enumerate(anns):
            x, y, w, h = ann["bbox"]
            assert target["boxes"][i].tolist() == [x, y, x + w, y + h]
            assert split.category_ids[int(target["labels"][i]) - 1] == ann["category_id"]
            mask = _decode(ann["segmentation"], SIZE, SIZE)
            assert np.array_equal(target["masks"][i].numpy(), mask)
            assert float(target["area"][i]) == ann["area"] == mask.sum()
            hot = target["attributes"][i].nonzero().flatten().tolist()
            assert [split.attribute_ids[j] for j in hot] == sorted(ann["attribute_ids"])
            assert set(target["attributes"][i].tolist()) <= {0.0, 1.0}
            # the record keeps the file's own segmentation, polygons or RLE
            assert record.instances[i].segmentation == ann["segmentation"]
            seen_styles.add(type(ann["segmentation"]).__name__)
        assert target["iscrowd"].tolist() == [0] * n
    assert seen_styles == {"list", "dict"}


def test_a_flip_keeps_the_attribute_rows_and_needs_no_keypoints(fp_root: Path) -> None:
    split = load_coco_split(*find_coco_split(fp_root, "train"))
    plain = CocoInstanceDataset(split)[0][1]
    image, flipped = CocoInstanceDataset(split, transforms=RandomHorizontalFlip(p=1.0))[0]
    assert isinstance(image, torch.Tensor)
    assert torch.equal(flipped["masks"], plain["masks"].flip(-1))
    assert torch.equal(flipped["attributes"], plain["attributes"])
    assert torch.equal(flipped["boxes"][:, [0, 2]], SIZE - plain["boxes"][:, [2, 0]])


def test_a_plain_coco_root_reads_with_an_empty_attribute_table(
    fp_root: Path, tmp_path: Path
) -> None:
    (tmp_path / "annotations").mkdir()
    shutil.copytree(fp_root / "val", tmp_path / "images" / "val2017")
    coco = _as_plain_coco(_raw(fp_root, "val"))
    (tmp_path / "annotations" / "instances_val2017.json").write_text(json.dumps(coco))
    found = find_coco_split(tmp_path, "val2017")
    assert found == (
        tmp_path / "annotations" / "instances_val2017.json",
        tmp_path / "images" / "val2017",
    )
    split = load_coco_split(*found)
    assert split.category_ids == [c["id"] for c in coco["categories"]]  # table order
    assert split.attribute_ids == [] and split.num_attributes == 0
    dataset = CocoInstanceDataset(split)
    anns = [a for a in coco["annotations"] if a["image_id"] == coco["images"][0]["id"]]
    _, target = dataset[0]
    assert "attributes" not in target
    assert [split.category_ids[k - 1] for k in target["labels"].tolist()] == [
        a["category_id"] for a in anns
    ]


def test_crowds_and_empty_boxes_are_no_training_targets(fp_root: Path, tmp_path: Path) -> None:
    coco = _as_plain_coco(_raw(fp_root, "val"))
    first = coco["images"][0]["id"]
    anns = [a for a in coco["annotations"] if a["image_id"] == first]
    crowd = dict(anns[0], id=10_000, iscrowd=1)
    # a collinear polygon rasterises to nothing; without a bbox its box is (0, 0, 0, 0)
    empty = {k: v for k, v in anns[0].items() if k not in ("bbox", "area")}
    empty.update(id=10_001, segmentation=[[5, 5, 6, 5, 7, 5]])
    coco["annotations"] += [crowd, empty]
    shutil.copytree(fp_root / "val", tmp_path / "val")
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val.json").write_text(json.dumps(coco))
    split = load_coco_split(*find_coco_split(tmp_path, "val"))
    assert len(split.records[0].instances) == len(anns) + 2
    assert len(coco_target(split.records[0], 0)["labels"]) == len(anns)
    assert len(CocoInstanceDataset(split)[0][1]["labels"]) == len(anns)
    kept = coco_target(split.records[0], 0, keep_crowd=True)
    assert len(kept["labels"]) == len(anns) + 1 and kept["iscrowd"].tolist()[-1] == 1


def test_find_coco_split_layouts_and_errors(fp_root: Path, tmp_path: Path) -> None:
    assert find_coco_split(fp_root, "val") == (
        fp_root / "instances_attributes_val2020.json",
        fp_root / "val",
    )
    # the release: annotations/ and the validation images in test/ (val_test2020.zip)
    release = tmp_path / "release"
    (release / "annotations").mkdir(parents=True)
    (release / "test").mkdir()
    shutil.copy(fp_root / annotation_file("val"), release / "annotations")
    assert find_coco_split(release, "val") == (
        release / "annotations" / "instances_attributes_val2020.json",
        release / "test",
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FashionVisionError) as info:
        find_coco_split(empty, "val")
    message = str(info.value)
    for tried in (
        empty / "instances_attributes_val2020.json",
        empty / "annotations" / "instances_attributes_val2020.json",
        empty / "annotations" / "instances_val.json",
    ):
        assert str(tried) in message
    no_images = tmp_path / "no_images"
    no_images.mkdir()
    shutil.copy(fp_root / annotation_file("train"), no_images)
    with pytest.raises(FashionVisionError, match="no image folder") as info:
        find_coco_split(no_images, "train")
    assert str(no_images / "train") in str(info.value)
    assert str(no_images / "images" / "train") in str(info.value)
    with pytest.raises(FashionVisionError, match="data root not found"):
        find_coco_split(tmp_path / "missing", "val")
    with pytest.raises(FashionVisionError, match="image folder not found"):
        load_coco_split(fp_root / annotation_file("val"), tmp_path / "nowhere")


def test_a_fashionpedia_file_still_needs_attribute_ids(fp_root: Path, tmp_path: Path) -> None:
    raw = _raw(fp_root, "val")
    del raw["annotations"][0]["attribute_ids"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(AnnotationError, match=r"annotations\[0\]\.attribute_ids"):
        load_coco_split(path, fp_root / "val")
    with pytest.warns(UserWarning, match="skipped 1 images"):
        split = load_coco_split(path, fp_root / "val", strict=False)
    assert len(split.records) == len(raw["images"]) - 1


def test_a_wrong_image_size_names_the_file(fp_root: Path, tmp_path: Path) -> None:
    raw = _raw(fp_root, "val")
    raw["images"][0]["width"] = SIZE + 1
    for ann in raw["annotations"]:  # keep the RLEs consistent with the size the file claims
        if ann["image_id"] == raw["images"][0]["id"] and isinstance(ann["segmentation"], dict):
            ann["segmentation"] = [[1, 1, 5, 1, 5, 5]]
    path = tmp_path / "sizes.json"
    path.write_text(json.dumps(raw))
    dataset = CocoInstanceDataset(load_coco_split(path, fp_root / "val"))
    with pytest.raises(FashionVisionError, match="width/height"):
        dataset[0]


def test_records_stay_compressed(tmp_path: Path) -> None:
    """Loaded records of 200 images at 256 px hold far less than one bitmap per instance."""
    size, n_images = 256, 200
    generate_fashionpedia(tmp_path, n_images, 0, seed=11, size=size)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        split = load_coco_split(tmp_path / annotation_file("train"), tmp_path / "train")
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    retained -= before
    instances = sum(len(r.instances) for r in split.records)
    bitmaps = instances * size * size
    print(
        f"{n_images} images, {instances} instances: records hold {retained / 1e6:.2f} MB "
        f"(peak while reading {(peak - before) / 1e6:.2f} MB), one uint8 bitmap per instance "
        f"would be {bitmaps / 1e6:.1f} MB ({bitmaps / retained:.0f}x)"
    )
    assert instances > 2 * n_images
    assert retained < bitmaps / 10
