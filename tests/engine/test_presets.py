"""Every shipped preset builds, takes a training step and runs inference (at a small input size).

Presets that name pretrained weights get a local state-dict file made here instead (no download);
the rest of each preset — backbone depth, norm, head widths, RPN and loss settings — is as shipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from fashionvision.config import load_config, preset_names
from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine.build import build_model
from fashionvision.engine.trainer import Trainer

pytestmark = pytest.mark.slow

SMALL_INPUT = [
    "model.min_size=96", "model.max_size=96", "solver.batch_size=2", "data.workers=0",
    "train.max_iters=1", "train.eval_every=0", "train.progress=false", "train.device=cpu",
    "train.log_every=1", "solver.warmup_iters=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("preset_data")
    generate_dataset(root, train=4, val=0, seed=11, size=96)
    return root


def local_weights(backbone: str, folder: Path) -> str:
    """A state-dict file of a freshly initialised torchvision `backbone`, as a user would pass."""
    path = folder / f"{backbone}.pth"
    torch.save(getattr(torchvision.models, backbone)(weights=None).state_dict(), path)
    return str(path)


MATCH_RCNN_PRESETS = [p for p in preset_names() if load_config(p).arch == "match_rcnn"]
FASHIONNET_PRESETS = [p for p in preset_names() if load_config(p).arch == "fashionnet"]


def test_every_preset_is_tested() -> None:
    assert {"match_rcnn_r50_fpn_1x", "match_rcnn_tiny"} <= set(MATCH_RCNN_PRESETS)
    assert {"fashionnet_vgg16", "fashionnet_tiny"} <= set(FASHIONNET_PRESETS)
    assert set(MATCH_RCNN_PRESETS) | set(FASHIONNET_PRESETS) == set(preset_names())


@pytest.mark.parametrize("preset", MATCH_RCNN_PRESETS)
def test_preset_builds_trains_a_step_and_predicts(preset: str, data_root: Path, tmp_path) -> None:
    shipped = load_config(preset)
    overrides = [*SMALL_INPUT, f"data.root={data_root}"]
    if shipped.model.weights is not None:
        overrides.append(f"model.weights={local_weights(shipped.model.backbone, tmp_path)}")
    cfg = load_config(preset, overrides)
    torch.manual_seed(0)
    model = build_model(cfg.model)
    before = {k: v.clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    trainer = Trainer(cfg, tmp_path / "run", model=model)
    trainer.fit()
    row = trainer.history[0]
    assert row["iteration"] == 1 and torch.isfinite(torch.tensor(row["loss"]))
    changed = [
        k for k, v in model.state_dict().items() if k in before and not torch.equal(v, before[k])
    ]
    assert any(k.startswith("roi_heads.") for k in changed)
    model.eval()
    with torch.inference_mode():
        [out] = model([torch.rand(3, 120, 90)])
    assert out["boxes"].shape[1] == 4 and len(out["scores"]) == len(out["labels"])


@pytest.fixture(scope="module")
def deepfashion_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from fashionvision.data.synthetic_deepfashion import generate_deepfashion

    root = tmp_path_factory.mktemp("deepfashion_data")
    generate_deepfashion(root, 4, 0, 0, seed=11, size=64, benchmarks=("category",))
    return root


@pytest.mark.parametrize("preset", FASHIONNET_PRESETS)
def test_fashionnet_preset_builds_and_trains_a_step(
    preset: str, deepfashion_root: Path, tmp_path
) -> None:
    """As shipped but at 64 px, with the fc layers narrowed (VGG-16's 4096-wide fc6 on a 7 x 7
    grid is 100 M parameters per branch) and the synthetic set's 58 attributes; no weights."""
    shipped = load_config(preset)
    cfg = load_config(
        preset,
        [
            "fashionnet.input_size=64", "fashionnet.fc_dim=64", "fashionnet.local_dim=32",
            "fashionnet.weights=null", "fashionnet.num_attributes=58", "solver.batch_size=2",
            "train.max_iters=1", "train.eval_every=0", "train.progress=false",
            "train.device=cpu", "train.log_every=1", "solver.warmup_iters=1",
            "solver.amp=false", "data.workers=0", f"data.root={deepfashion_root}",
        ],
    )  # fmt: skip
    assert cfg.fashionnet.backbone == shipped.fashionnet.backbone
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.fit()
    row = trainer.history[0]
    assert row["iteration"] == 1 and torch.isfinite(torch.tensor(row["loss"]))
    trainer.model.eval()
    with torch.inference_mode():
        out = trainer.model(torch.rand(1, 3, 64, 64))
    assert out["category_logits"].shape == (1, 50) and out["landmarks"].shape == (1, 8, 2)
