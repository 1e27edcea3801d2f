"""Tests of fashionvision.models.backbones: output levels, norm choice, freezing, weight loading."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from fashionvision.errors import FashionVisionError
from fashionvision.models.backbones import build_backbone, resolve_weight_name


def test_fpn_levels_shapes_and_channels() -> None:
    backbone = build_backbone("resnet18", norm="gn", fpn_channels=32)
    out = backbone(torch.rand(1, 3, 128, 96))
    assert list(out) == ["0", "1", "2", "3", "pool"]
    assert [tuple(v.shape[2:]) for v in out.values()] == [
        (32, 24),
        (16, 12),
        (8, 6),
        (4, 3),
        (2, 2),
    ]
    assert all(v.shape[1] == 32 for v in out.values())
    assert backbone.out_channels == 32


@pytest.mark.parametrize(
    ("norm", "layer"),
    [("gn", nn.GroupNorm), ("bn", nn.BatchNorm2d), ("frozen_bn", FrozenBatchNorm2d)],
)
def test_norm_choice(norm: str, layer: type) -> None:
    backbone = build_backbone("resnet18", norm=norm, fpn_channels=16)
    assert isinstance(backbone.body.bn1, layer)
    fpn_has_gn = any(isinstance(m, nn.GroupNorm) for m in backbone.fpn.modules())
    assert fpn_has_gn == (norm == "gn")


def test_trainable_layers_freezes_early_stages() -> None:
    backbone = build_backbone("resnet18", norm="bn", fpn_channels=16, trainable_layers=2)
    grads = {name.split(".")[0]: p.requires_grad for name, p in backbone.body.named_parameters()}
    assert grads == {
        "conv1": False,
        "bn1": False,
        "layer1": False,
        "layer2": False,
        "layer3": True,
        "layer4": True,
    }
    assert all(p.requires_grad for p in backbone.fpn.parameters())


def test_local_weights_file_loads(tmp_path) -> None:
    torch.manual_seed(3)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(reference.state_dict(), path)
    backbone = build_backbone("resnet18", norm="frozen_bn", fpn_channels=16, weights=str(path))
    assert torch.equal(backbone.body.conv1.weight, reference.conv1.weight)
    assert torch.equal(backbone.body.layer3[0].bn1.running_var, reference.layer3[0].bn1.running_var)


def test_bad_weights_name_the_file(tmp_path) -> None:
    with pytest.raises(FashionVisionError, match="missing.pth"):
        build_backbone("resnet18", weights=str(tmp_path / "missing.pth"))
    path = tmp_path / "r18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(FashionVisionError, match="r18.pth.*BatchNorm"):
        build_backbone("resnet18", norm="gn", weights=str(path))
    with pytest.raises(FashionVisionError, match="model.backbone"):
        build_backbone("vgg16")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "written", ["IMAGENET1K_V1", "DEFAULT", "ResNet50_Weights.IMAGENET1K_V1", "IMAGENET1K_V2"]
)
def test_weight_names_resolve_as_users_write_them(written: str) -> None:
    member = resolve_weight_name(written, "resnet50")
    assert isinstance(member, torchvision.models.ResNet50_Weights)
    assert member.name == ("IMAGENET1K_V2" if written == "DEFAULT" else written.split(".")[-1])


def test_weight_names_of_another_architecture_or_unknown_are_clear_errors() -> None:
    with pytest.raises(FashionVisionError, match="model.weights.*ResNet18_Weights.*resnet50"):
        resolve_weight_name("ResNet18_Weights.IMAGENET1K_V1", "resnet50")
    with pytest.raises(FashionVisionError, match="IMAGENET1K_V1, IMAGENET1K_V2"):
        resolve_weight_name("IMAGENET", "resnet50")


def test_a_weight_name_loads_what_torchvision_serves(monkeypatch) -> None:
    # torchvision would download; serve a local state dict instead (no network in tests)
    torch.manual_seed(5)
    served = torchvision.models.resnet18(weights=None).state_dict()
    monkeypatch.setattr(
        torchvision.models.ResNet18_Weights, "get_state_dict", lambda self, **kw: served
    )
    backbone = build_backbone("resnet18", norm="frozen_bn", fpn_channels=16, weights="DEFAULT")
    assert torch.equal(backbone.body.layer2[0].conv1.weight, served["layer2.0.conv1.weight"])


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "se_resnet18"])
def test_width_scaled_resnet_halves_every_layer_of_the_published_one(name: str) -> None:
    from torchvision.models import get_model

    from fashionvision.models.backbones import _LAYOUTS, WidthScaledResNet
    from fashionvision.models.se_resnet import se_resnet18

    published = se_resnet18() if name.startswith("se_") else get_model(name)
    block, layers = _LAYOUTS[name]
    same = WidthScaledResNet(block, layers, 1.0)
    half = WidthScaledResNet(block, layers, 0.5)
    ref = {k: v.shape for k, v in published.state_dict().items()}
    assert {k: v.shape for k, v in same.state_dict().items()} == ref
    scaled = half.state_dict()
    assert scaled.keys() == ref.keys()
    for key, shape in ref.items():
        if key.endswith("num_batches_tracked") or key.startswith("fc."):
            continue
        if ".se." in key:  # the SE squeeze is C // 16 of the scaled C
            continue
        expected = list(shape)
        expected[0] //= 2
        if len(shape) == 4 and key != "conv1.weight":  # a conv's input is the scaled width too
            expected[1] //= 2
        assert list(scaled[key].shape) == expected, key


def test_backbone_width_scales_the_fpn_inputs_and_keeps_its_outputs() -> None:
    body = build_backbone("resnet18", "gn", fpn_channels=32, width=0.5)
    out = body(torch.zeros(1, 3, 64, 64))
    levels = ["0", "1", "2", "3", "pool"]
    assert {k: v.shape[1] for k, v in out.items()} == dict.fromkeys(levels, 32)
    assert [m.in_channels for m in body.fpn.inner_blocks.modules() if isinstance(m, nn.Conv2d)] == [
        32,
        64,
        128,
        256,
    ]


def test_backbone_width_is_checked_and_refuses_pretrained_weights() -> None:
    with pytest.raises(FashionVisionError, match="model.backbone_width"):
        build_backbone("resnet18", "gn", width=0.0)
    with pytest.raises(FashionVisionError, match="no pretrained weights"):
        build_backbone("resnet18", "gn", weights="IMAGENET1K_V1", width=0.5)
