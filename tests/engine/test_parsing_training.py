"""The attribute-aware Mask R-CNN trained and evaluated on a Fashionpedia-format root (fashion
parsing) and an iMaterialist root, through the same trainer and evaluation loop."""

from __future__ import annotations

import json

import pytest
from conftest import SMALL_TRAINING

from fashionvision.cli import main
from fashionvision.config import load_config
from fashionvision.data.synthetic_parsing import generate_fashionpedia, generate_imaterialist
from fashionvision.engine.trainer import Trainer
from fashionvision.errors import ConfigError, FashionVisionError

PARSING = [*SMALL_TRAINING, "data.workers=0", "solver.warmup_iters=2", "model.landmarks=false",
           "model.matching=false", "model.num_classes=13", "model.num_attributes=22"]  # fmt: skip


@pytest.fixture(scope="module")
def fashionpedia(tmp_path_factory):
    root = tmp_path_factory.mktemp("fashionpedia")
    generate_fashionpedia(root, 4, 2, seed=3, size=64)
    return root


def _cfg(root, data_format: str, *extra: str):
    return load_config(
        "match_rcnn_tiny",
        [*PARSING, f"data.root={root}", f"data.format={data_format}", "data.val_split=val", *extra],
    )


@pytest.mark.slow
def test_a_fashionpedia_root_trains_and_is_scored_with_masks_and_attributes(
    fashionpedia, tmp_path, capsys
):
    trainer = Trainer(_cfg(fashionpedia, "fashionpedia", "solver.epochs=1", "train.eval_every=1"),
                      tmp_path)  # fmt: skip
    trainer.fit()
    row = trainer.history[-1]
    assert {"loss_classifier", "loss_mask", "loss_attribute"} <= set(row)
    assert "loss_landmark" not in row and "loss_pair" not in row
    report = json.loads((tmp_path / "eval_epoch1.json").read_text())
    assert report["num_images"] == 2
    assert {"AP", "AP50"} <= set(report["bbox"]) and {"AP", "AP50"} <= set(report["segm"])
    assert "iou+f1" in report["attributes"] and 0.0 <= report["bbox"]["AP"] <= 1.0

    # the same numbers from the command line, and the results in the Fashionpedia format
    results, numbers = tmp_path / "res.json", tmp_path / "m.json"
    argv = ["evaluate", "--weights", str(tmp_path / "model_final.pt"), "--split",
            str(fashionpedia), "--partition", "val", "--device", "cpu",
            "--save-results", str(results), "--json", str(numbers)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Boxes" in printed and "Masks" in printed and "Fashionpedia AP" in printed
    assert json.loads(numbers.read_text())["bbox"] == report["bbox"]
    rows = json.loads(results.read_text())
    assert rows and all({"image_id", "category_id", "bbox", "score", "attribute_ids"} <= set(r)
                        for r in rows)  # fmt: skip


def test_the_model_must_fit_the_data_tables(fashionpedia, tmp_path):
    with pytest.raises(ConfigError, match="model.num_classes: 14, but .* 12 categories"):
        Trainer(_cfg(fashionpedia, "fashionpedia", "model.num_classes=14"), tmp_path)
    with pytest.raises(ConfigError, match="model.num_attributes: 5, but .* 22 attributes"):
        Trainer(_cfg(fashionpedia, "fashionpedia", "model.num_attributes=5"), tmp_path)
    with pytest.raises(FashionVisionError, match="landmark stream needs"):
        Trainer(_cfg(fashionpedia, "coco", "model.landmarks=true"), tmp_path)
    with pytest.raises(ConfigError, match="model.landmarks / model.matching"):
        Trainer(_cfg(fashionpedia, "coco", "model.matching=true"), tmp_path)
    with pytest.raises(ConfigError, match="data.balance"):
        Trainer(_cfg(fashionpedia, "fashionpedia", "data.balance=augment"), tmp_path)


def test_an_imaterialist_root_is_converted_once_and_has_no_validation(tmp_path):
    root = tmp_path / "imat"
    generate_imaterialist(root, 4, seed=2, size=64)
    trainer = Trainer(_cfg(root, "imaterialist", "train.max_iters=1"), tmp_path / "run")
    assert (root / ".fashionvision" / "train_coco.json").is_file()
    assert trainer.val_coco is None and len(trainer.train_dataset) == 4
    image, target = trainer.train_dataset[0]
    assert target["attributes"].shape[1] == 22 and target["masks"].shape[1:] == image.shape[1:]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FashionVisionError, match="empty/train.csv: not found"):
        Trainer(_cfg(tmp_path / "empty", "imaterialist"), tmp_path / "run2")
