import csv
import json

import pytest
import torch
from conftest import SMALL_TRAINING

from fashionvision.config import load_config
from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine.build import epoch_batches
from fashionvision.engine.checkpoint import load_checkpoint
from fashionvision.engine.trainer import Trainer, check_balance_fits
from fashionvision.errors import ConfigError, FashionVisionError

# the tiny preset shrunk further so one iteration takes well under a second on a CPU
SMALL = [*SMALL_TRAINING, "solver.warmup_iters=2", "data.workers=0"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    generate_dataset(root, train=6, val=4, seed=0, size=64)
    return root


def _trainer(data_root, out, *extra):
    cfg = load_config("match_rcnn_tiny", [*SMALL, f"data.root={data_root}", *extra])
    return Trainer(cfg, out)


def _losses(trainer):
    return [(row["iteration"], row["loss"]) for row in trainer.history]


def test_epoch_batches_are_deterministic_and_rank_disjoint():
    a = epoch_batches(10, 2, seed=3, epoch=1, rank=0, world_size=2)
    b = epoch_batches(10, 2, seed=3, epoch=1, rank=1, world_size=2)
    assert a == epoch_batches(10, 2, seed=3, epoch=1, rank=0, world_size=2)
    flat_a, flat_b = sum(a, []), sum(b, [])
    assert not set(flat_a) & set(flat_b) and sorted(flat_a + flat_b) == list(range(10))
    assert epoch_batches(10, 2, seed=3, epoch=2) != epoch_batches(10, 2, seed=3, epoch=1)
    padded = epoch_batches(5, 4, seed=0, epoch=0, rank=1, world_size=2)
    assert [len(x) for x in padded] == [3]  # 5 items padded to 6, 3 per rank


@pytest.mark.slow
def test_cpu_training_is_deterministic_and_resume_takes_the_same_next_step(data_root, tmp_path):
    first = _trainer(data_root, tmp_path / "a", "train.max_iters=3")
    first.fit()
    assert [i for i, _ in _losses(first)] == [1, 2, 3]
    assert len({loss for _, loss in _losses(first)}) == 3  # real steps, not a constant

    # a second run from the same seed, stopped after 2 iterations (mid-epoch) ...
    stopped = _trainer(data_root, tmp_path / "b", "train.max_iters=2")
    stopped.fit()
    assert _losses(stopped) == _losses(first)[:2]  # identical losses: CPU determinism
    state = load_checkpoint(tmp_path / "b" / "last.pt")
    assert (state["epoch"], state["iter_in_epoch"], state["iteration"]) == (0, 2, 2)
    # ... then resumed in a new Trainer: the next step is the uninterrupted run's third step
    resumed = _trainer(data_root, tmp_path / "b", "train.max_iters=3")
    resumed.fit(resume=True)
    assert _losses(resumed) == _losses(first)[2:]
    with open(tmp_path / "b" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["loss"]) for r in rows] == [loss for _, loss in _losses(first)]
    assert float(rows[0]["lr"]) == pytest.approx(0.01 * 0.001)  # warm-up start (tiny preset lr)


@pytest.mark.slow
def test_a_short_run_writes_metrics_eval_and_checkpoints(data_root, tmp_path):
    trainer = _trainer(
        data_root, tmp_path, "solver.epochs=1", "train.checkpoint_every=2", "loss.pose=5"
    )
    state = trainer.fit()
    assert (state.epoch, state.iteration) == (1, trainer.iters_per_epoch)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"config.yaml", "metrics.csv", "last.pt", "model_final.pt", "eval_epoch1.json"} <= names
    with open(tmp_path / "metrics.csv", newline="") as f:
        row = next(csv.DictReader(f))
    for key in (
        "loss",
        "lr",
        "time",
        "loss_classifier",
        "loss_landmark",
        "loss_pair",
        "w_loss_mask",
    ):
        assert key in row
    weighted = sum(float(row[k]) for k in row if k.startswith("w_loss_"))
    assert float(row["loss"]) == pytest.approx(weighted, rel=1e-5)
    # λ3 (pose) set to 5 here, the other weights 1
    assert float(row["w_loss_landmark"]) == pytest.approx(5 * float(row["loss_landmark"]), 1e-6)
    assert float(row["w_loss_mask"]) == pytest.approx(float(row["loss_mask"]), rel=1e-6)
    final = load_checkpoint(tmp_path / "model_final.pt", required=("model", "config"))
    assert "optimizer" not in final and final["config"]["model"]["matching_dim"] == 16
    assert torch.equal(
        final["model"]["roi_heads.box_predictor.cls_score.weight"],
        trainer.model.state_dict()["roi_heads.box_predictor.cls_score.weight"],
    )
    report = json.loads((tmp_path / "eval_epoch1.json").read_text())
    assert report["epoch"] == 1 and 0.0 <= report["bbox"]["AP"] <= 1.0


def _grad_norm(model):
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))


@pytest.mark.parametrize("clip", [1e9, 0.05])
def test_step_reports_the_gradient_norm_before_clipping(data_root, tmp_path, clip):
    trainer = _trainer(data_root, tmp_path, f"solver.clip={clip}")
    images, targets = next(iter(trainer._loader(trainer.epoch_plan(0)[:1], 0)))
    metrics = trainer.step(images, targets)
    # the gradients the optimizer used are still on the parameters after the step
    used = _grad_norm(trainer.model).item()
    assert metrics["grad_norm"] > 0.05
    if clip > 1:  # nothing clipped: the reported norm is the gradients' own
        assert metrics["grad_norm"] == pytest.approx(used, rel=1e-5)
    else:  # clipped to the cap: the report keeps the norm before clipping
        assert used == pytest.approx(clip, rel=1e-4)
        assert metrics["grad_norm"] > 2 * used


def test_without_a_clip_no_gradient_norm_is_reported(data_root, tmp_path):
    trainer = _trainer(data_root, tmp_path, "solver.clip=0")
    images, targets = next(iter(trainer._loader(trainer.epoch_plan(0)[:1], 0)))
    assert "grad_norm" not in trainer.step(images, targets)


def test_missing_data_root_and_missing_checkpoint(data_root, tmp_path):
    with pytest.raises(FashionVisionError, match="data.root"):
        Trainer(load_config("match_rcnn_tiny", [*SMALL, "data.root=/nonexistent"]), tmp_path)
    with pytest.raises(FashionVisionError, match="last.pt: checkpoint not found"):
        _trainer(data_root, tmp_path / "out").fit(resume=True)


def test_batch_must_split_over_processes():
    from fashionvision.config import ConfigError
    from fashionvision.engine.distributed import DistInfo, per_rank_batch_size

    assert per_rank_batch_size(16, DistInfo(rank=1, world_size=8, local_rank=1)) == 2
    with pytest.raises(ConfigError, match="solver.batch_size"):
        per_rank_batch_size(6, DistInfo(rank=0, world_size=4))


@pytest.mark.slow
def test_a_max_iters_run_ends_with_model_final_and_a_bar_of_its_own_length(
    data_root, tmp_path, monkeypatch
):
    import tqdm

    bars = []

    class Bar:
        def __init__(self, total, initial, desc, **kwargs):
            self.total, self.n, self.desc = total, initial, desc
            bars.append(self)

        def update(self, n):
            self.n += n

        def set_postfix(self, **kwargs):
            pass

        def close(self):
            pass

    monkeypatch.setattr(tqdm, "tqdm", Bar)
    trainer = _trainer(data_root, tmp_path, "train.max_iters=4", "train.progress=true")
    per_epoch = trainer.iters_per_epoch
    assert per_epoch < 4 <= 2 * per_epoch  # the cap falls in the second of 12 epochs
    state = trainer.fit()
    assert state.iteration == 4
    assert [b.desc for b in bars] == [
        "epoch 1/2 (train.max_iters=4)",
        "epoch 2/2 (train.max_iters=4)",
    ]
    assert [b.total for b in bars] == [per_epoch, 4 - per_epoch]
    assert all(b.n == b.total for b in bars)  # every bar ends full
    final = load_checkpoint(tmp_path / "model_final.pt", required=("model", "config"))
    assert final["iteration"] == 4


def test_resume_of_a_missing_run_creates_no_folder(data_root, tmp_path):
    out = tmp_path / "missing"
    with pytest.raises(FashionVisionError, match="last.pt: checkpoint not found"):
        _trainer(data_root, out).fit(resume=True)
    assert not out.exists()


def test_adamw_is_built_with_the_solver_settings_and_its_state_resumes(data_root, tmp_path):
    trainer = _trainer(
        data_root,
        tmp_path,
        "solver.optimizer=adamw",
        "solver.base_lr=0.001",
        "solver.weight_decay=0.05",
        "train.max_iters=1",
    )
    assert isinstance(trainer.optimizer, torch.optim.AdamW)
    group = trainer.optimizer.param_groups[0]
    assert group["weight_decay"] == 0.05 and group["initial_lr"] == 0.001
    trainer.fit()
    state = load_checkpoint(tmp_path / "last.pt")
    assert "exp_avg_sq" in next(iter(state["optimizer"]["state"].values()))  # Adam's moments
    assert isinstance(_trainer(data_root, tmp_path / "sgd").optimizer, torch.optim.SGD)


def test_class_balancing_augment_adds_marked_copies_and_prints_the_counts(
    data_root, tmp_path, capsys
):
    trainer = _trainer(data_root, tmp_path, "data.balance=augment", "data.balance_max_repeat=2")
    originals = len(trainer.train_dataset.plan) - sum(aug for _, aug in trainer.train_dataset.plan)
    assert originals == 6 and len(trainer.train_dataset) > 6  # every category is under the cap
    assert len(trainer.train_records) == len(trainer.train_dataset)
    image, target = trainer.train_dataset[len(trainer.train_dataset) - 1]  # an augmented copy
    assert image.shape[0] == 3 and target["boxes"].shape[1] == 4
    out = capsys.readouterr().out
    assert "data.balance=augment" in out and "before" in out and "after" in out


@pytest.mark.parametrize(
    ("preset", "data_format"),
    [("fashionnet_tiny", "deepfashion"), ("match_rcnn_tiny", "coco"),
     ("match_rcnn_tiny", "imaterialist")],
)  # fmt: skip
def test_balancing_is_refused_for_data_other_than_deepfashion2(preset, data_format, tmp_path):
    # refused before any data is read (there is none here), not silently ignored
    for balance in ("augment", "repeat_factor"):
        cfg = load_config(preset, [f"data.format={data_format}", f"data.balance={balance}"])
        message = (
            f"data.balance: '{balance}' is for arch=match_rcnn with data.format=deepfashion2, "
            f"not .* data.format={data_format}"
        )
        with pytest.raises(ConfigError, match=message):
            Trainer(cfg, tmp_path)
    check_balance_fits(load_config("match_rcnn_tiny", ["data.balance=augment"]))  # DeepFashion2


def test_repeat_factor_sampling_repeats_images_and_every_rank_gets_as_many_batches(
    data_root, tmp_path
):
    plain = _trainer(data_root, tmp_path / "a")
    repeated = _trainer(data_root, tmp_path / "b", "data.balance=repeat_factor",
                        "data.repeat_threshold=1.0")  # fmt: skip
    assert repeated.repeat_factors is not None and min(repeated.repeat_factors) >= 1.0
    planned = sum(len(b) for b in repeated.epoch_plan(0))
    assert planned > sum(len(b) for b in plain.epoch_plan(0))  # rare images come back
    assert repeated.epoch_plan(0) == repeated.epoch_plan(0) != repeated.epoch_plan(1)


def _float_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}


def test_ema_is_the_moving_average_of_the_steps_weights_and_model_final_holds_it(
    data_root, tmp_path
):
    trainer = _trainer(data_root, tmp_path, "solver.ema=0.5", "train.max_iters=3")
    assert trainer.eval_model is trainer.ema.module
    after_each_step: list[dict[str, torch.Tensor]] = []
    trainer.optimizer.register_step_post_hook(
        lambda *_: after_each_step.append(_float_state(trainer.model))
    )
    trainer.fit()
    assert len(after_each_step) == 3
    # the average written out by hand: the first step's weights, then halfway to each next one
    expected = after_each_step[0]
    for weights in after_each_step[1:]:
        expected = {k: 0.5 * expected[k] + 0.5 * weights[k] for k in expected}
    final = load_checkpoint(tmp_path / "model_final.pt")["model"]
    last = load_checkpoint(tmp_path / "last.pt")
    changed = 0
    for key, value in expected.items():
        torch.testing.assert_close(final[key], value)
        torch.testing.assert_close(last["model"][key], after_each_step[-1][key])  # raw weights
        changed += not torch.equal(value, after_each_step[-1][key])
    assert changed > 10  # the average is not the last step's weights
    assert int(last["ema"]["n_averaged"]) == 3


@pytest.mark.slow
def test_a_resumed_ema_run_ends_with_the_uninterrupted_runs_average(data_root, tmp_path):
    _trainer(data_root, tmp_path / "a", "solver.ema=0.9", "train.max_iters=3").fit()
    _trainer(data_root, tmp_path / "b", "solver.ema=0.9", "train.max_iters=2").fit()
    _trainer(data_root, tmp_path / "b", "solver.ema=0.9", "train.max_iters=3").fit(resume=True)
    a = load_checkpoint(tmp_path / "a" / "model_final.pt")["model"]
    b = load_checkpoint(tmp_path / "b" / "model_final.pt")["model"]
    for key, value in a.items():
        torch.testing.assert_close(b[key], value, rtol=0, atol=0)


@pytest.mark.parametrize(
    "override, message",
    [
        ("solver.ema=1.0", "solver.ema: expected a decay in \\[0, 1\\)"),
        ("solver.ema=-0.1", "solver.ema: expected a decay in \\[0, 1\\)"),
        ("solver.schedule=linear", "solver.schedule: expected one of \\['step', 'cosine'\\]"),
    ],
)
def test_bad_ema_decay_or_schedule_is_refused_before_anything_is_built(
    data_root, tmp_path, override, message
):
    with pytest.raises(ConfigError, match=message):
        _trainer(data_root, tmp_path / "out", override)
    assert not (tmp_path / "out").exists()


def test_cosine_schedule_runs_over_the_whole_schedule_not_the_iteration_cap(data_root, tmp_path):
    trainer = _trainer(
        data_root, tmp_path, "solver.schedule=cosine", "solver.epochs=4", "train.max_iters=2"
    )
    assert trainer.scheduler.schedule == "cosine"
    assert trainer.scheduler.max_iters == 4 * trainer.iters_per_epoch
