import json

import pytest
import torch
from conftest import SMALL_MODEL, untrained_checkpoint
from pycocotools.coco import COCO

import fashionvision.cli as cli
from fashionvision.cli.predict import image_ids
from fashionvision.data.coco_format import split_to_coco
from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import generate_dataset

SMALL = [*SMALL_MODEL, "model.box_score_thresh=0.0"]


@pytest.fixture
def main(monkeypatch):
    """The real dispatcher, limited to this command so the test does not depend on the others."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("predict",))
    return cli.main


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    generate_dataset(root / "data", train=0, val=2, seed=3, size=64)
    return untrained_checkpoint(root / "tiny.pt", SMALL)[0], root / "data" / "validation"


def test_predict_writes_results_that_pycocotools_loads(setup, tmp_path, main, capsys):
    ckpt, split_dir = setup
    out = tmp_path / "out"
    argv = ["predict", "--weights", str(ckpt), str(split_dir / "image"), "--out", str(out),
            "--score-threshold", "0.0", "--batch-size", "1", "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    assert "detections in 2 images" in capsys.readouterr().out
    rows = json.loads((out / "results.json").read_text())
    records = load_split(split_dir)
    assert {r["image_id"] for r in rows} == {r.image_id for r in records}
    assert all(len(r["keypoints"]) == 882 and len(r["bbox"]) == 4 for r in rows)
    gt = COCO()
    gt.dataset = split_to_coco(records)
    gt.createIndex()
    dt = gt.loadRes(rows)
    assert len(dt.getAnnIds()) == len(rows) and all(a["area"] > 0 for a in dt.anns.values())
    assert sorted(p.name for p in (out / "vis").iterdir()) == [
        f"{r.image_id:06d}.jpg" for r in records
    ]
    assert json.loads((out / "images.json").read_text())[str(records[0].image_id)].endswith(
        records[0].file_name.split("/")[-1]
    )


def test_image_ids_follow_deepfashion2_names_then_count_on(tmp_path):
    from pathlib import Path

    paths = [Path("a/000123.jpg"), Path("cat.jpg"), Path("b/7.png"), Path("dog.jpeg")]
    assert image_ids(paths) == [123, 124, 7, 125]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.pt", "missing.pt: checkpoint not found"),
        (lambda d: (d / "bad.pt").write_text("x") and d / "bad.pt", "bad.pt: not a checkpoint"),
    ],
)
def test_bad_checkpoints_exit_1_naming_the_file(setup, tmp_path, main, capsys, make, message):
    _, split_dir = setup
    out = tmp_path / "o"
    argv = [
        "predict",
        "--weights",
        str(make(tmp_path)),
        str(split_dir / "image"),
        "--out",
        str(out),
    ]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "weights_only" not in err
    assert not out.exists()


def test_bad_images_exit_1_naming_the_file(setup, tmp_path, main, capsys):
    ckpt, _ = setup
    out = str(tmp_path / "o")
    assert main(["predict", "--weights", str(ckpt), str(tmp_path / "no.jpg"), "--out", out]) == 1
    assert "no.jpg: no such image file" in capsys.readouterr().err
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 truncated")
    assert main(["predict", "--weights", str(ckpt), str(broken), "--out", str(tmp_path)]) == 1
    assert "broken.jpg: cannot read image" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_names_the_flag(setup, tmp_path, main, capsys):
    ckpt, split_dir = setup
    argv = ["predict", "--weights", str(ckpt), str(split_dir / "image"), "--out",
            str(tmp_path / "o"), "--device", "cuda"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "error: --device: cuda requested but CUDA is not available" in err
    assert "train.device" not in err


@pytest.mark.parametrize(
    "option, value", [("--score-threshold", "1.5"), ("--score-threshold", "-0.1"),
                      ("--batch-size", "0"), ("--score-threshold", "nan")],
)  # fmt: skip
def test_bad_numbers_are_usage_errors_naming_the_flag(setup, tmp_path, main, capsys, option, value):
    ckpt, split_dir = setup
    argv = ["predict", "--weights", str(ckpt), str(split_dir / "image"), "--out",
            str(tmp_path / "o"), option, value]  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}:" in err and "Traceback" not in err
