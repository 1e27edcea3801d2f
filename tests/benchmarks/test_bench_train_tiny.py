"""benchmarks/bench_train_tiny.py end to end at toy size: data, training, the held-out numbers
beside the targets, the error analysis and, with --eval-train, the training split scored by the
same pipeline."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import SMALL_TRAINING, load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_train_tiny")


def test_eval_train_scores_the_training_split_beside_the_held_out_one(
    bench, tmp_path, monkeypatch, capsys
):
    argv = ["bench", "--out", str(tmp_path), "--train", "8", "--val", "4", "--epochs", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--eval-train", *SMALL_TRAINING])
    bench.main()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    seen = metrics["train_split"]
    assert seen["num_images"] == 8  # the training images, not the held-out 4
    assert metrics["num_images"] == 4
    for task, key in (("bbox", "AP50"), ("segm", "AP50"), ("landmarks", "AP")):
        assert -1.0 <= seen[task][key] <= 1.0  # -1: pycocotools' "no ground truth in range"
    assert 0.0 <= seen["retrieval"]["top20"] <= 1.0
    assert (tmp_path / "analysis" / "analysis.json").is_file()
    out = capsys.readouterr().out
    assert "training vs held-out" in out and "bbox.AP50" in out
    assert f"{seen['retrieval']['gallery_size']} training vs" in out
    assert metrics["train_s"] > 0


def test_preset_and_device_train_another_recipe_and_report_throughput(
    bench, tmp_path, monkeypatch, capsys
):
    # the paper's r50 recipe shrunk to a toy: what must survive is the preset's own solver
    shrink = [
        "model.backbone=resnet18", "model.backbone_width=0.25", "model.weights=null",
        "model.norm=gn", "model.fpn_channels=16", "model.stream_roi_size=7", "data.workers=0",
    ]  # fmt: skip
    argv = ["bench", "--out", str(tmp_path), "--train", "8", "--val", "4", "--epochs", "1"]
    argv += ["--preset", "match_rcnn_r50_fpn_1x", "--device", "cpu", "--data-workers", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, *shrink, *SMALL_TRAINING])
    bench.main()
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "base_lr: 0.02" in config and "warmup_iters: 500" in config  # r50's, not the tiny 0.01
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["device"] == "cpu"
    assert "max_mem_gb" not in metrics  # a CUDA-only figure
    iterations = int((tmp_path / "run" / "metrics.csv").read_text().splitlines()[-1].split(",")[1])
    train_s = metrics["train_s"]  # rounded to 0.1 s: the rate lies within that rounding
    images = iterations * 2
    slowest, fastest = images / (train_s + 0.05), images / max(train_s - 0.05, 1e-3)
    assert slowest <= metrics["train_images_per_s"] <= fastest
    assert "images/s), evaluation" in capsys.readouterr().out
