"""`fashionvision analyze --weights CKPT --split DIR --out DIR`: an untrained model on a small
generated split writes every file and prints the tables."""

from __future__ import annotations

import json

import pytest
from conftest import SMALL_MODEL, untrained_checkpoint
from PIL import Image

import fashionvision.cli as cli
from fashionvision.data.synthetic import generate_dataset
from fashionvision.evaluation.error_analysis import ERROR_TYPES

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

SMALL = [*SMALL_MODEL, "model.box_score_thresh=0.0", "model.box_detections_per_img=10"]


def test_analyze_writes_the_report(tmp_path, capsys) -> None:
    generate_dataset(tmp_path / "data", train=0, val=6, seed=5, size=64)
    ckpt, _ = untrained_checkpoint(tmp_path / "tiny.pt", SMALL, seed=1)
    out = tmp_path / "analysis"
    argv = ["analyze", "--weights", str(ckpt), "--split", str(tmp_path / "data" / "validation"),
            "--out", str(out), "--device", "cpu", "--score-threshold", "0.0"]  # fmt: skip
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "Box AP50 and AP50 gained by fixing each error type" in printed
    assert "source=user" in printed and "Main confusions" in printed
    assert "Landmarks per category" in printed
    assert "Classification on GT boxes: top1=" in printed
    analysis = json.loads((out / "analysis.json").read_text())
    assert analysis["metrics"]["gt_box_classification"]["num_items"] == analysis["num_gt"]
    assert analysis["num_images"] == 6 and analysis["num_detections"] > 0
    assert analysis["metrics"]["num_detections"] == analysis["num_detections"]
    assert set(analysis["bbox"]["overall"]["dAP"]) >= set(ERROR_TYPES)
    assert analysis["bbox"]["overall"]["AP50"] == pytest.approx(
        analysis["metrics"]["bbox"]["AP50"], abs=1e-9
    )
    assert "segm" in analysis and "landmarks" in analysis
    # at threshold 0 every detection is in the confusion matrix
    assert sum(map(sum, analysis["confusion"]["matrix"])) >= analysis["num_detections"]
    for name in ("errors.png", "confusion.png"):
        with Image.open(out / name) as im:
            assert im.format == "PNG" and im.width > 200 and im.height > 200
    assert "| **overall** |" in (out / "landmarks.md").read_text()


def test_analyze_rejects_a_bad_threshold(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["analyze", "--weights", "w.pt", "--split", "S", "--out", "o",
                  "--score-threshold", "1.5"])  # fmt: skip
    assert exc.value.code == 2
    assert "--score-threshold" in capsys.readouterr().err
