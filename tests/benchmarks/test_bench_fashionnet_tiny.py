"""benchmarks/bench_fashionnet_tiny.py end to end at toy size: data, training, the held-out
metrics and, with --eval-train, the training split scored by the same pipeline."""

from __future__ import annotations

import json
import sys

import pytest
from conftest import SMALL_FASHIONNET, load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_fashionnet_tiny")


def test_eval_train_scores_the_training_split_beside_the_held_out_one(
    bench, tmp_path, monkeypatch, capsys
):
    argv = ["bench", "--out", str(tmp_path), "--category", "8", "--inshop", "6", "--val", "4"]
    monkeypatch.setattr(sys, "argv", [*argv, "--epochs", "2", "--eval-train", *SMALL_FASHIONNET])
    bench.main()
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    seen = metrics["train_split"]
    assert seen["category"]["num_images"] == 8  # the Category training images, not the held-out 4
    assert metrics["category"]["num_images"] == 4
    for section, key in (("category", "top3"), ("attributes", "top5")):
        assert 0.0 <= seen[section][key] <= 1.0
    assert seen["landmarks"]["NE"] > 0
    out = capsys.readouterr().out
    assert "training vs held-out" in out and "category.top3" in out
    assert metrics["train_s"] > 0
