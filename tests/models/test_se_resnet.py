"""Tests of the SE-ResNet backbones: the SE gate, parameter counts against the paper, the FPN
backbone, weight files and a tiny Match R-CNN on SE-ResNet-18."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from conftest import SMALL_MODEL, untrained_checkpoint
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from fashionvision.engine.inference import Predictor
from fashionvision.errors import FashionVisionError
from fashionvision.models.backbones import build_backbone, resolve_weight_name
from fashionvision.models.se_resnet import (
    SEBasicBlock,
    SEBottleneck,
    se_resnet18,
    se_resnet50,
    se_resnet101,
    squeeze_excitation,
)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_se_gate_keeps_the_shape_and_scales_by_a_factor_in_0_1() -> None:
    torch.manual_seed(0)
    se = squeeze_excitation(64)
    assert (se.fc1.in_channels, se.fc1.out_channels, se.fc2.out_channels) == (64, 4, 64)
    x = torch.rand(2, 64, 5, 7) + 0.1  # positive, so out / x is the gate
    out = se(x)
    assert out.shape == x.shape
    gate = out / x
    # one factor per (image, channel), the same at every pixel
    torch.testing.assert_close(gate, gate[:, :, :1, :1].expand_as(gate))
    assert bool(((gate > 0) & (gate < 1)).all())


def test_se_scales_the_residual_branch_before_the_addition() -> None:
    torch.manual_seed(0)
    block = SEBottleneck(256, 64).eval()
    x = torch.randn(1, 256, 8, 8)
    with torch.no_grad():
        nn.init.constant_(block.se.fc2.bias, -1e4)  # gate = sigmoid(-1e4) = 0: branch silenced
        out = block(x)
    torch.testing.assert_close(out, torch.relu(x))  # only the identity is left
    # the gate is applied in a copy too (the hook follows the copied block)
    clone = copy.deepcopy(block)
    with torch.no_grad():
        nn.init.constant_(clone.se.fc2.bias, 1e4)  # gate 1: a plain Bottleneck
        assert not torch.allclose(clone(x), out)
        torch.testing.assert_close(block(x), torch.relu(x))


def test_parameter_counts_match_the_paper() -> None:
    # Hu et al. (table 2): SE-ResNet-50 28.1 M, SE-ResNet-101 49.3 M (1000-class classifier).
    n50, n101 = _count(se_resnet50()), _count(se_resnet101())
    assert n50 == 28_088_024 and abs(n50 / 28.09e6 - 1) < 0.005
    assert n101 == 49_326_872 and abs(n101 / 49.3e6 - 1) < 0.005
    blocks = [m for m in se_resnet18().modules() if isinstance(m, SEBasicBlock)]
    assert [b.se.fc1.out_channels for b in blocks] == [4, 4, 8, 8, 16, 16, 32, 32]


@pytest.mark.parametrize(
    ("norm", "layer"), [("gn", nn.GroupNorm), ("frozen_bn", FrozenBatchNorm2d)]
)
def test_fpn_backbone_runs_at_64_px(norm: str, layer: type) -> None:
    backbone = build_backbone("se_resnet18", norm=norm, fpn_channels=16)
    assert isinstance(backbone.body.layer1[0].bn2, layer)
    out = backbone(torch.rand(1, 3, 64, 64))
    assert [tuple(v.shape) for v in out.values()] == [
        (1, 16, 16, 16),
        (1, 16, 8, 8),
        (1, 16, 4, 4),
        (1, 16, 2, 2),
        (1, 16, 1, 1),
    ]
    se50 = build_backbone("se_resnet50", norm="bn", fpn_channels=16, trainable_layers=1)
    assert se50.body.layer4[0].se.fc1.weight.requires_grad
    assert not se50.body.layer3[0].se.fc1.weight.requires_grad


def test_weight_names_are_refused_and_state_dict_files_load(tmp_path) -> None:
    for written in ("IMAGENET1K_V1", "DEFAULT", "ResNet50_Weights.IMAGENET1K_V1"):
        with pytest.raises(FashionVisionError, match="no ImageNet weights for se_resnet50"):
            resolve_weight_name(written, "se_resnet50")
    with pytest.raises(FashionVisionError, match="se_resnet18.*local state-dict file"):
        build_backbone("se_resnet18", weights="IMAGENET1K_V1")

    torch.manual_seed(7)
    reference = se_resnet18()
    state = reference.state_dict()
    assert state["layer2.1.se.fc1.weight"].shape == (8, 128, 1, 1)
    assert state["layer2.1.se.fc2.bias"].shape == (128,)
    path = tmp_path / "se18.pth"
    torch.save(state, path)
    backbone = build_backbone("se_resnet18", norm="frozen_bn", fpn_channels=16, weights=str(path))
    assert torch.equal(backbone.body.layer3[1].se.fc2.weight, reference.layer3[1].se.fc2.weight)
    # a plain ResNet's state dict lacks the SE tensors: refused, naming a missing key
    torch.save({k: v for k, v in state.items() if ".se." not in k}, path)
    with pytest.raises(FashionVisionError, match=r"se18.pth.*missing \['layer1.0.se.fc1"):
        build_backbone("se_resnet18", norm="frozen_bn", weights=str(path))


def test_tiny_match_rcnn_on_se_resnet18_runs_inference(tmp_path) -> None:
    overrides = [*SMALL_MODEL, "model.backbone=se_resnet18", "model.box_score_thresh=0.0"]
    ckpt, model = untrained_checkpoint(tmp_path / "se18.pt", overrides)
    assert any(isinstance(m, SEBasicBlock) for m in model.backbone.body.modules())
    predictor = Predictor.from_checkpoint(ckpt, device="cpu")
    image = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    [result] = predictor.predict(image, score_threshold=0.0)
    k = len(result["scores"])
    assert 0 < k <= 5
    assert result["boxes"].shape == (k, 4) and result["masks"].shape == (k, 64, 80)
    # the checkpoint rebuilt the same weights, SE tensors included
    loaded = predictor.model.state_dict()
    key = "backbone.body.layer4.1.se.fc2.weight"
    torch.testing.assert_close(loaded[key], model.state_dict()[key])
