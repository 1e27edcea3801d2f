"""`fashionvision validate`: messages, summary and exit codes, run in-process."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import fashionvision.cli as cli
from fashionvision.data.deepfashion2 import annotation_path, write_annotation
from fashionvision.structures import Garment, ImageAnnotation


@pytest.fixture(autouse=True)
def only_validate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register just this command, so the test does not depend on the other commands' modules."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("validate",))


@pytest.fixture
def split(tmp_path: Path) -> Path:
    """Three valid images (ids 1..3) of one skirt each, 50x40 pixels."""
    root = tmp_path / "validation"
    (root / "image").mkdir(parents=True)
    for image_id in (1, 2, 3):
        item = Garment(9, (5.0, 5.0, 30.0, 30.0), np.zeros((0, 3)), [[5, 5, 30, 5, 30, 30]])
        ann = ImageAnnotation(image_id, f"image/{image_id:06d}.jpg", 50, 40, "shop", 1, [item])
        write_annotation(root, ann)
        Image.new("RGB", (50, 40)).save(root / ann.file_name)
    return root


def _edit(split: Path, image_id: int, **item_fields: object) -> Path:
    path = annotation_path(split, image_id)
    obj = json.loads(path.read_text())
    obj["item1"].update(item_fields)
    path.write_text(json.dumps(obj))
    return path


def test_valid_split_exits_0(split: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", str(split)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == (
        "3 files checked, 0 files with errors, 0 problems (0 bad items, 0 unusable files)"
    )


def test_problems_are_listed_and_exit_1(split: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _edit(split, 2, category_id=20, occlusion=0)
    other = _edit(split, 3, bounding_box=[5, 5, 60, 30])
    assert cli.main(["validate", str(split), "--no-cache"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{bad}: item1.category_id: unknown category id 20 (expected 1..13)"
    assert lines[1] == f"{bad}: item1.occlusion: must be between 1 and 3, got 0"
    assert lines[2].startswith(f"{other}: item1.bounding_box: box [5.0, 5.0, 60.0, 30.0] lies")
    assert lines[3] == (
        "3 files checked, 2 files with errors, 3 problems (2 bad items, 2 unusable files)"
    )


def test_max_errors_limits_printing_not_counting(
    split: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(split, 1, scale=9, zoom_in=9, viewpoint=9)
    assert cli.main(["validate", str(split), "--max-errors", "1"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].endswith("item1.scale: must be between 1 and 3, got 9")
    assert lines[1] == "... 2 more problems not shown (--max-errors 1)"
    assert lines[2].startswith("3 files checked, 1 files with errors, 3 problems")


def test_missing_directory_is_an_error_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["validate", str(tmp_path / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "split directory not found" in err
    assert "Traceback" not in err


def test_split_without_annotations_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "annos").mkdir()
    assert cli.main(["validate", str(tmp_path)]) == 1
    assert "no annotation files" in capsys.readouterr().err


@pytest.fixture
def deepfashion(tmp_path: Path) -> Path:
    """A synthetic set of the four DeepFashion benchmarks (2/1/1 partition rows each)."""
    from fashionvision.data.synthetic_deepfashion import generate_deepfashion

    generate_deepfashion(tmp_path / "df", train=2, val=1, test=1, seed=0, size=64)
    return tmp_path / "df"


def test_deepfashion_folders_validate(
    deepfashion: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["validate", "--format", "deepfashion", str(deepfashion)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"{name} ({deepfashion / name}): {files} files checked, 0 files with errors, 0 problems "
        "(0 bad rows, 0 images dropped)"
        for name, files in (("category", 7), ("consumer2shop", 4), ("fld", 3), ("inshop", 7))
    ]
    assert cli.main(["validate", "--format", "deepfashion", str(deepfashion / "fld")]) == 0
    assert capsys.readouterr().out.startswith("fld (")


def test_deepfashion_problems_name_file_line_and_column(
    deepfashion: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bbox = deepfashion / "fld" / "Anno" / "list_bbox.txt"
    lines = bbox.read_text().splitlines()
    lines[2] = lines[2].rsplit(" ", 1)[0] + " x9"  # the first row's y_2
    bbox.write_text("\n".join(lines) + "\n")
    assert cli.main(["validate", "--format", "deepfashion", str(deepfashion / "fld")]) == 1
    out = capsys.readouterr().out.splitlines()
    name = lines[2].split()[0]
    assert out == [
        f"{bbox}: line 3, column 5 (y_2): expected a number, got 'x9'",
        f"{deepfashion / 'fld/Eval/list_eval_partition.txt'}: line 3: {name} is not in "
        "list_bbox.txt",
        f"fld ({deepfashion / 'fld'}): 3 files checked, 2 files with errors, 2 problems "
        "(1 bad rows, 1 images dropped)",
    ]


def test_deepfashion_folder_without_benchmarks_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["validate", "--format", "deepfashion", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {tmp_path}: no DeepFashion benchmark folder in it")


@pytest.fixture
def imaterialist(tmp_path: Path) -> Path:
    """A generated iMaterialist-Fashion 2019 root: train.csv, label_descriptions.json, train/."""
    from fashionvision.data.synthetic_parsing import generate_imaterialist

    generate_imaterialist(tmp_path / "imat", 3, seed=4, size=64)
    return tmp_path / "imat"


def _edit_csv(path: Path, cells: dict[tuple[int, str], str]) -> None:
    """Set the cells {(CSV line, column): value} (the header is line 1)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    for (line, column), value in cells.items():
        rows[line - 1][rows[0].index(column)] = value
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_imaterialist_csv_validates(imaterialist: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file, labels = imaterialist / "train.csv", imaterialist / "label_descriptions.json"
    rows = len(csv_file.read_text().splitlines()) - 1
    argv = ["validate", "--format", "imaterialist", str(csv_file), "--labels", str(labels),
            "--images", str(imaterialist / "train")]  # fmt: skip
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{csv_file}: {rows} rows checked, 0 problems (0 images, 0 rows dropped)"
    ]


def test_imaterialist_problems_name_line_and_column(
    imaterialist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file, labels = imaterialist / "train.csv", imaterialist / "label_descriptions.json"
    _edit_csv(csv_file, {(2, "ClassId"): "12", (3, "EncodedPixels"): "1 2 3", (3, "Height"): "x"})
    image_ids = [line.split(",")[0] for line in csv_file.read_text().splitlines()[1:]]
    dropped = {image_ids[0], image_ids[1]}  # the images of lines 2 and 3, with all their rows
    rows_dropped = sum(1 for i in image_ids if i in dropped)
    argv = ["validate", "--format", "imaterialist", str(csv_file), "--labels", str(labels)]
    assert cli.main(argv) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{csv_file}: line 2, ClassId: unknown category 12 (not in {labels})",
        f"{csv_file}: line 3, Height: 'x' is not a positive integer",  # a row's first problem
        f"{csv_file}: {len(image_ids)} rows checked, 2 problems "
        f"({len(dropped)} images, {rows_dropped} rows dropped)",
    ]


def test_imaterialist_unusable_table_is_listed_without_traceback(
    imaterialist: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = json.loads((imaterialist / "label_descriptions.json").read_text())
    table["categories"][1]["id"] = 0
    bad_table = tmp_path / "labels.json"
    bad_table.write_text(json.dumps(table))
    csv_file = imaterialist / "train.csv"
    argv = ["validate", "--format", "imaterialist", str(csv_file), "--labels", str(bad_table)]
    assert cli.main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{bad_table}: categories[1].id: id 0 repeated",
        f"{csv_file}: unusable, 1 problems; nothing else checked",
    ]
    assert "Traceback" not in captured.err


@pytest.fixture
def fashionpedia(tmp_path: Path) -> Path:
    """A generated Fashionpedia-format training file (3 images)."""
    from fashionvision.data.synthetic_parsing import annotation_file, generate_fashionpedia

    generate_fashionpedia(tmp_path / "fp", 3, 0, seed=4, size=64)
    return tmp_path / "fp" / annotation_file("train")


def test_fashionpedia_file_validates_and_problems_name_the_field(
    fashionpedia: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(fashionpedia.read_text())
    images, annotations = len(data["images"]), len(data["annotations"])
    argv = ["validate", "--format", "fashionpedia", str(fashionpedia)]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{fashionpedia}: {images} images, {annotations} annotations checked, 0 problems "
        "(0 images dropped)"
    ]
    data["annotations"][0]["attribute_ids"] = [999]
    data["annotations"][-1]["category_id"] = 77
    fashionpedia.write_text(json.dumps(data))
    assert cli.main([*argv, "--max-errors", "1"]) == 1
    dropped = len({data["annotations"][k]["image_id"] for k in (0, -1)})
    assert capsys.readouterr().out.splitlines() == [
        f"{fashionpedia}: annotations[0].attribute_ids: unknown attribute 999 (not in the file's "
        "attributes)",
        "... 1 more problems not shown (--max-errors 1)",
        f"{fashionpedia}: {images} images, {annotations} annotations checked, 2 problems "
        f"({dropped} images dropped)",
    ]
    data["categories"].append(dict(data["categories"][0]))  # a repeated id: no table to check by
    fashionpedia.write_text(json.dumps(data))
    assert cli.main(argv) == 1
    k = len(data["categories"]) - 1
    assert capsys.readouterr().out.splitlines() == [
        f"{fashionpedia}: categories[{k}].id: id 0 repeated",
        f"{fashionpedia}: unusable, 1 problems; nothing else checked",
    ]


def test_imaterialist_options_with_another_format_are_an_error(
    fashionpedia: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["validate", "--format", "fashionpedia", str(fashionpedia), "--labels", "x.json"]
    assert cli.main(argv) == 1
    assert capsys.readouterr().err == "error: --labels: only for --format imaterialist\n"
