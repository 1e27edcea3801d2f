"""Shared test settings and helpers.

`SMALL_MODEL` shrinks the tiny preset to 64 px images and a few channels per head, so a model
builds and steps in milliseconds; test modules extend it (`from conftest import SMALL_MODEL`
works because pytest puts this folder on sys.path when it loads this file).
"""

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

SMALL_MODEL: list[str] = [
    "model.min_size=64", "model.max_size=64", "model.representation_size=64",
    "model.mask_head_width=16", "model.landmark_head_width=16", "model.landmark_convs=2",
    "model.matching_width=16", "model.matching_dim=16",
    "model.rpn_pre_nms_top_n_test=50", "model.rpn_post_nms_top_n_test=20",
    "model.box_detections_per_img=5",
]  # fmt: skip

# fashionnet_tiny shrunk so that an iteration takes well under a second
SMALL_FASHIONNET: list[str] = [
    "fashionnet.width=8", "fashionnet.input_size=32", "fashionnet.fc_dim=32",
    "fashionnet.local_dim=16", "fashionnet.embedding_dim=8", "solver.batch_size=4",
    "solver.warmup_iters=2", "train.progress=false", "train.log_every=1", "train.eval_every=0",
    "stages=[{epochs: 1, pool_from: gt, category: 0.1, landmark: 10.0}, {epochs: 2}]",
]  # fmt: skip

SMALL_TRAINING: list[str] = [
    *SMALL_MODEL,
    "model.rpn_pre_nms_top_n_train=100", "model.rpn_post_nms_top_n_train=50",
    "model.box_batch_size_per_image=16", "solver.batch_size=2",
    "train.progress=false", "train.log_every=1", "train.eval_every=100",
]  # fmt: skip


def load_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (not a package): tests reuse its data generators and its
    pycocotools reference, so the benchmark and the tests check the same thing."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def untrained_checkpoint(path: Path, overrides: list[str], seed: int = 0) -> tuple[Path, Any]:
    """Save a randomly initialised tiny-preset model (with `overrides`) as a checkpoint that
    `fashionvision.load` and the CLI accept; returns (path, the model in eval mode)."""
    import torch

    from fashionvision.config import config_to_dict, load_config
    from fashionvision.engine.build import build_model
    from fashionvision.engine.checkpoint import save_checkpoint

    torch.manual_seed(seed)
    cfg = load_config("match_rcnn_tiny", overrides)
    model = build_model(cfg.model).eval()
    state = {"model": model.state_dict(), "config": config_to_dict(cfg)}
    return save_checkpoint(path, state), model


def tree_digest(root: Path) -> str:
    """sha256 over every file below `root` (relative path + bytes), in path order: two trees
    with the same digest hold the same files byte for byte."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()
