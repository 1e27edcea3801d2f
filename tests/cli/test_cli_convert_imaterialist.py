"""`fashionvision convert imaterialist`: a generated train.csv to Fashionpedia-format COCO, through
the real entry point (`fashionvision.cli.main`: exit codes and error lines)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from fashionvision import cli
from fashionvision.data.rle import encode_kaggle_rle, format_kaggle_rle

MASK = np.zeros((12, 10), dtype=bool)
MASK[3:9, 2:7] = True


def _csv(path: Path, rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ImageId", "EncodedPixels", "Height", "Width", "ClassId"])
        writer.writerows(rows)
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    rle = format_kaggle_rle(encode_kaggle_rle(MASK))
    train = _csv(
        tmp_path / "train.csv", [["a.jpg", rle, 12, 10, "1_2"], ["b.jpg", rle, 12, 10, "0"]]
    )
    labels = tmp_path / "label_descriptions.json"
    labels.write_text(
        json.dumps(
            {
                "info": {"year": 2019},
                "categories": [{"id": 0, "name": "shirt, blouse"}, {"id": 1, "name": "top"}],
                "attributes": [{"id": k, "name": f"attr {k}"} for k in range(3)],
            }
        )
    )
    return train, labels


def test_converts_to_coco_that_pycocotools_reads(inputs, tmp_path, capsys) -> None:
    train, labels = inputs
    out = tmp_path / "train_coco.json"
    assert cli.main(["convert", "imaterialist", str(train), str(out), "--labels", str(labels)]) == 0
    assert capsys.readouterr().out.strip() == f"2 rows: 2 images, 2 annotations -> {out}"
    coco = COCO(str(out))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["shirt, blouse", "top"]
    first = coco.loadAnns(1)[0]
    assert (first["category_id"], first["attribute_ids"], first["bbox"], first["area"]) == (
        1, [2], [2, 3, 5, 6], 30,
    )  # fmt: skip
    assert np.array_equal(coco.annToMask(first), MASK)
    assert json.loads(out.read_text())["attributes"][2] == {"id": 2, "name": "attr 2"}
    rle = coco.loadAnns(2)[0]["segmentation"]
    assert mask_utils.area({**rle, "counts": rle["counts"].encode()}) == 30


def test_bad_input_is_a_clear_error_and_leaves_the_old_output(inputs, tmp_path, capsys) -> None:
    train, labels = inputs
    out = tmp_path / "train_coco.json"
    out.write_text("old")
    bad = _csv(tmp_path / "bad.csv", [["a.jpg", "9 2 1 1", 12, 10, "1_7"]])
    assert cli.main(["convert", "imaterialist", str(bad), str(out), "--labels", str(labels)]) == 1
    err = capsys.readouterr().err
    assert f"error: {bad}: line 2, ClassId: unknown attribute 7 (not in {labels})" in err
    assert out.read_text() == "old"  # atomic: nothing half-written, the old file kept
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["bad.csv", "label_descriptions.json", "train.csv", "train_coco.json"]
    )
    # a row reports its first problem (ImageId, Height, Width, ClassId, then EncodedPixels)
    bad = _csv(tmp_path / "bad.csv", [["a.jpg", "9 2 1 1", 12, 10, "1_2"]])
    assert cli.main(["convert", "imaterialist", str(bad), str(out)]) == 1
    assert (
        "line 2, EncodedPixels: run 2 starts at pixel 1, not after run 1" in capsys.readouterr().err
    )


def test_lenient_converts_what_is_usable(inputs, tmp_path, capsys) -> None:
    train, _ = inputs
    rows = list(csv.reader(train.open()))[1:] + [["c.jpg", "1 2 3", 12, 10, "0"]]
    mixed = _csv(tmp_path / "mixed.csv", rows)
    out = tmp_path / "out.json"
    assert cli.main(["convert", "imaterialist", str(mixed), str(out), "--lenient"]) == 0
    captured = capsys.readouterr()
    assert "warning: " in captured.err and "skipped 1 images (1 rows)" in captured.err
    assert "3 rows: 2 images, 2 annotations" in captured.out
    # no label file: categories 0-45 named by id, attributes = the ids used
    coco = json.loads(out.read_text())
    assert len(coco["categories"]) == 46 and coco["attributes"] == [{"id": 2, "name": "2"}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--labels", "x.json"], "error: --labels: only for the imaterialist format"),
        (["--images", "dir"], "error: --images: only for the imaterialist format"),
    ],
)
def test_imaterialist_options_are_refused_for_other_formats(tmp_path, capsys, args, message):
    assert cli.main(["convert", "coco", str(tmp_path), str(tmp_path / "o.json"), *args]) == 1
    assert message in capsys.readouterr().err


def test_missing_inputs_and_output_folder(inputs, tmp_path, capsys) -> None:
    train, labels = inputs
    missing_dir = tmp_path / "nowhere" / "out.json"
    assert cli.main(["convert", "imaterialist", str(train), str(missing_dir)]) == 1
    assert "does not exist (create it first)" in capsys.readouterr().err
    assert not missing_dir.parent.exists()
    out = tmp_path / "out.json"
    assert cli.main(["convert", "imaterialist", str(tmp_path / "no.csv"), str(out)]) == 1
    assert "no.csv: file not found" in capsys.readouterr().err
    args = ["convert", "imaterialist", str(train), str(out), "--labels", str(tmp_path / "no.json")]
    assert cli.main(args) == 1
    assert "no.json: file not found" in capsys.readouterr().err
