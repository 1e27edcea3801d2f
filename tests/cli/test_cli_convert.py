"""Tests of `fashionvision convert` on a tiny split written to disk."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from fashionvision.categories import category
from fashionvision.cli import convert
from fashionvision.data import deepfashion2
from fashionvision.errors import FashionVisionError
from fashionvision.structures import Garment, ImageAnnotation


def _run(argv: list[str]) -> int:
    """Parse with a parser holding only the convert command (other commands may be absent)."""
    parser = argparse.ArgumentParser(prog="fashionvision")
    convert.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["convert", *argv])
    return args.func(args)


@pytest.fixture
def split_dir(tmp_path):
    """A shop image (top with style 1) and a user image (the same top, occluded points)."""
    split = tmp_path / "validation"
    n = category(1).num_landmarks
    lm = np.stack([np.arange(n) + 10.0, np.full(n, 20.0), np.array([2.0, 1.0] * 12 + [2.0])], 1)
    seg = [[10, 10, 60, 10, 60, 70, 10, 70]]
    records = [
        ImageAnnotation(
            1,
            "image/000001.jpg",
            80,
            90,
            "shop",
            4,
            [Garment(1, (10, 10, 60, 70), lm, seg, style=1)],
        ),
        ImageAnnotation(
            2,
            "image/000002.jpg",
            80,
            90,
            "user",
            4,
            [
                Garment(1, (10, 10, 60, 70), lm, seg, style=1),
                Garment(
                    9,
                    (10, 60, 50, 85),
                    np.zeros((0, 3)),
                    [[10, 60, 50, 60, 50, 85, 10, 85]],
                    style=0,
                ),
            ],
        ),
    ]
    for rec in records:
        deepfashion2.write_annotation(split, rec)
        path = deepfashion2.image_path(split, rec.image_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (rec.width, rec.height)).save(path)
    return split


def test_convert_coco_and_visible(split_dir, tmp_path, capsys):
    out = tmp_path / "val_coco.json"
    assert _run(["coco", str(split_dir), str(out)]) == 0
    assert "2 images, 3 annotations" in capsys.readouterr().out
    coco = COCO(str(out))
    ann = coco.anns[1]
    assert (ann["num_keypoints"], ann["area"], ann["bbox"]) == (25, 3000, [10, 10, 50, 60])
    assert len(ann["keypoints"]) == 882
    assert coco.imgs[2]["file_name"] == "image/000002.jpg"
    visible = tmp_path / "val_visible.json"
    assert _run(["coco-visible", str(split_dir), str(visible)]) == 0
    assert json.loads(visible.read_text())["annotations"][0]["num_keypoints"] == 13


def test_convert_retrieval_gt(split_dir, tmp_path):
    out = tmp_path / "retrieval"
    assert _run(["retrieval-gt", str(split_dir), str(out)]) == 0
    query = json.loads((out / convert.QUERY_FILE).read_text())
    gallery = json.loads((out / convert.GALLERY_FILE).read_text())
    assert [(q["query_image_id"], q["cls"], q["style"]) for q in query] == [(2, 1, 1), (2, 9, 0)]
    assert gallery == [{"gallery_image_id": 1, "pair_id": 4, "style": 1, "bbox": [10, 10, 60, 70]}]


def test_convert_bad_split_raises_user_error(tmp_path):
    with pytest.raises(FashionVisionError):
        _run(["coco", str(tmp_path / "missing"), str(tmp_path / "out.json")])
    assert not (tmp_path / "out.json").exists()


def test_a_missing_output_folder_is_an_error_not_created(split_dir, tmp_path):
    out = tmp_path / "out" / "dir" / "x.json"
    with pytest.raises(FashionVisionError, match=rf"folder {tmp_path / 'out' / 'dir'} does not"):
        _run(["coco", str(split_dir), str(out)])
    assert not (tmp_path / "out").exists()
    # retrieval-gt writes into a directory of its own: that one is created
    assert _run(["retrieval-gt", str(split_dir), str(tmp_path / "new" / "gt")]) == 0
    assert (tmp_path / "new" / "gt" / convert.QUERY_FILE).is_file()


def test_help_documents_the_retrieval_output(capsys):
    with pytest.raises(SystemExit):
        _run(["--help"])
    text = capsys.readouterr().out
    assert "query_gt.json" in text and "gallery_gt.json" in text
