"""The demo end to end at toy size: every stage runs and the report folder is complete."""

import json

import pytest

from fashionvision.config import DemoSettings
from fashionvision.demo import run_demo

pytestmark = pytest.mark.slow


def test_demo_writes_a_complete_report(tmp_path):
    settings = DemoSettings(
        train_images=12,
        val_images=8,
        epochs=1,
        image_size=128,
        overrides=(
            "model.min_size=128",
            "model.max_size=128",
            "train.progress=false",
            "model.box_score_thresh=0.0",
        ),
    )
    lines: list[str] = []
    metrics = run_demo(tmp_path, settings, log=lines.append)
    report = tmp_path / "report"
    for name in ("metrics.json", "tables.md", "predictions.png", "retrieval.png", "index.html"):
        assert (report / name).stat().st_size > 0, name
    saved = json.loads((report / "metrics.json").read_text())
    assert saved["retrieval"]["num_queries"] == metrics["retrieval"]["num_queries"] > 0
    assert 0.0 <= saved["retrieval"]["top20"] <= 1.0
    stages = [line[:5] for line in lines if line.startswith("[")]
    assert stages == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert lines[0].startswith("torch uses ")  # the thread count, from the available cores
    assert any("training about" in line and "left" in line for line in lines)  # after each epoch
    assert any("scoring AP and retrieval" in line for line in lines)  # evaluation's progress
    run = saved["run"]
    assert run["data"]["val_images"] == 8 and run["training"]["iterations"] > 0
    assert set(run["times_s"]) == {"data", "training", "evaluation", "report"}
    page = (report / "index.html").read_text()
    assert "losses.png" in page and (report / "losses.png").stat().st_size > 0
    # the error analysis of `fashionvision analyze`, on the demo's own detections
    assert "Where the AP goes" in page
    for name in ("errors.png", "confusion.png"):
        assert name in page and (report / name).stat().st_size > 0, name
    analysis = json.loads((report / "analysis.json").read_text())
    assert analysis["bbox"]["overall"]["counts"]["missed"] >= 0
