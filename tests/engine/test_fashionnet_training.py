"""FashionNet through the shared engine: stages, training, resume, evaluation, checkpoints."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from conftest import SMALL_FASHIONNET as SMALL

from fashionvision.cli import main
from fashionvision.config import FashionNetStage, load_config
from fashionvision.data.synthetic_deepfashion import generate_deepfashion
from fashionvision.engine.checkpoint import CheckpointError, load_checkpoint
from fashionvision.engine.fashionnet import (
    attribute_frequency,
    evaluate_fashionnet_checkpoint,
    load_split_for,
    stage_at,
)
from fashionvision.engine.inference import load_network, model_from_checkpoint
from fashionvision.engine.trainer import Trainer
from fashionvision.errors import ConfigError


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    out = tmp_path_factory.mktemp("deepfashion")
    generate_deepfashion(out, 8, 4, 0, seed=1, size=64, benchmarks=("category",))
    generate_deepfashion(out, 8, 4, 4, seed=1, size=64, benchmarks=("inshop",))
    return out


def _trainer(root, out, *extra: str) -> Trainer:
    return Trainer(load_config("fashionnet_tiny", [*SMALL, f"data.root={root}", *extra]), out)


def test_the_stage_list_repeats_over_the_epochs():
    a, b = FashionNetStage(epochs=2, pool_from="gt"), FashionNetStage(epochs=3)
    assert [stage_at((a, b), e) is a for e in range(7)] == [1, 1, 0, 0, 0, 1, 1]
    with pytest.raises(ConfigError, match="stages"):
        stage_at((FashionNetStage(epochs=0),), 0)


def test_training_weights_each_loss_by_its_stage_and_learns_attribute_frequencies(root, tmp_path):
    trainer = _trainer(root, tmp_path, "train.max_iters=3")
    freq = trainer.model.attribute_pos_frequency
    split = load_split_for(trainer.cfg.data, "train")
    torch.testing.assert_close(freq, attribute_frequency(split.samples, 58))
    assert (freq != 0.5).sum() > 40 and 0 <= float(freq.min()) <= float(freq.max()) <= 1
    trainer.fit()
    row = trainer.history[0]  # epoch 1 = stage 1 (ground-truth pooling, landmark x10)
    for key in ("category", "attribute", "landmark", "visibility", "triplet"):
        assert torch.isfinite(torch.tensor(row[f"loss_{key}"]))
    assert row["w_loss_landmark"] == pytest.approx(10 * row["loss_landmark"], rel=1e-5)
    assert row["w_loss_category"] == pytest.approx(0.1 * row["loss_category"], rel=1e-5)
    assert row["w_loss_attribute"] == pytest.approx(row["loss_attribute"], rel=1e-5)


@pytest.mark.slow
def test_resume_takes_the_same_next_step(root, tmp_path):
    first = _trainer(root, tmp_path / "a", "train.max_iters=4")
    first.fit()
    stopped = _trainer(root, tmp_path / "b", "train.max_iters=3")
    stopped.fit()
    resumed = _trainer(root, tmp_path / "b", "train.max_iters=4")
    resumed.fit(resume=True)
    losses = [(r["iteration"], r["loss"]) for r in first.history]
    assert [(r["iteration"], r["loss"]) for r in resumed.history] == losses[3:]
    with open(tmp_path / "b" / "metrics.csv", newline="") as f:
        assert [float(r["loss"]) for r in csv.DictReader(f)] == [loss for _, loss in losses]


@pytest.mark.slow
def test_a_finished_run_is_evaluated_by_the_cli_and_the_pipeline_alike(root, tmp_path, capsys):
    trainer = _trainer(root, tmp_path / "run", "solver.epochs=1", "train.eval_every=1")
    trainer.fit()
    weights = tmp_path / "run" / "model_final.pt"
    in_training = json.loads((tmp_path / "run" / "eval_epoch1.json").read_text())
    metrics = evaluate_fashionnet_checkpoint(weights, root, "val", device=torch.device("cpu"))
    assert metrics is not None
    assert metrics["category"]["num_images"] == 4 and metrics["retrieval"]["num_queries"] == 4
    assert metrics["retrieval"]["gallery_size"] == 4
    assert 0.0 <= metrics["attributes"]["top5"] <= 1.0 and metrics["landmarks"]["NE"] > 0
    for section in ("category", "attributes", "retrieval"):
        assert in_training[section] == metrics[section]  # one path to every number

    code = main(["evaluate", "--weights", str(weights), "--split", str(root),
                 "--json", str(tmp_path / "m.json")])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "category top3" in out and "FashionNet (paper)" in out and "0.826" in out
    assert json.loads((tmp_path / "m.json").read_text())["category"] == metrics["category"]

    model, cfg = load_network(weights, torch.device("cpu"))
    assert cfg.arch == "fashionnet" and not model.training
    with pytest.raises(CheckpointError, match="fashionnet checkpoint"):
        model_from_checkpoint(weights, torch.device("cpu"))
    assert load_checkpoint(weights)["config"]["arch"] == "fashionnet"


def test_a_label_table_that_does_not_fit_the_network_is_a_config_error(root, tmp_path):
    with pytest.raises(ConfigError, match="fashionnet.num_attributes: 1000, but .* 58"):
        _trainer(root, tmp_path, "fashionnet.num_attributes=1000")


@pytest.mark.slow
def test_predict_cli_and_python_api_name_categories_attributes_and_landmarks(
    root, tmp_path, capsys
):
    import fashionvision
    from fashionvision.engine.fashionnet import FashionNetPredictor

    _trainer(root, tmp_path / "run", "train.max_iters=2").fit()
    weights = tmp_path / "run" / "model_final.pt"
    split = load_split_for(load_config("fashionnet_tiny", [f"data.root={root}"]).data, "val")
    sample = next(s for s in split.samples if s.role is None)

    net = fashionvision.load(weights, device="cpu")
    assert isinstance(net, FashionNetPredictor)
    [whole], [cropped] = (
        net.predict(sample.path, top_k=3),
        net.predict([sample.path], boxes=[sample.bbox], top_k=3),
    )
    assert [n for n, _ in whole["categories"]][0] in split.category_names
    assert len(whole["attributes"]) == 3 and whole["attributes"][0][0] in split.attribute_names
    assert {t for _, t, _ in whole["attributes"]} <= set(split.attribute_groups)
    probs = [p for _, p in whole["categories"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1
    assert whole["landmarks"].shape == (8, 2) and len(whole["visibility"]) == 8
    assert np_norm(whole["embedding"]) == pytest.approx(1.0, abs=1e-5)
    # the same network output mapped back through a different crop: different pixels
    assert not (whole["landmarks"] == cropped["landmarks"]).all()
    # the evaluation pipeline's landmarks for this image are the cropped prediction
    from fashionvision.engine.fashionnet import fashionnet_outputs

    [out] = fashionnet_outputs(net.model, [sample], torch.device("cpu"), net.input_size)
    torch.testing.assert_close(
        torch.from_numpy(out["landmarks"]), torch.from_numpy(cropped["landmarks"])
    )

    code = main(["predict", "--weights", str(weights), str(sample.path),
                 "--out", str(tmp_path / "pred"), "--top-k", "2"])  # fmt: skip
    assert code == 0
    [row] = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert row["image"] == str(sample.path) and len(row["categories"]) == 2
    assert len(row["landmarks"]) == 8 and {"x", "y", "visibility"} <= set(row["landmarks"][0])
    assert (tmp_path / "pred" / "vis" / f"{sample.path.stem}.jpg").is_file()


def np_norm(v) -> float:
    return float((v.astype("float64") ** 2).sum() ** 0.5)
