"""ResNet / SE-ResNet + FPN backbones (torchvision `BackboneWithFPN`) with a choice of
normalisation layer.

The SE-ResNets (`fashionvision.models.se_resnet`) have no torchvision ImageNet weights: they start
from random initialisation or from a local state-dict file laid out as that module describes.

Three normalisations:

* ``"frozen_bn"`` — torchvision's `FrozenBatchNorm2d`, the standard choice when fine-tuning from
  ImageNet weights (the batch statistics of small detection batches are too noisy to learn);
* ``"bn"`` — ordinary trainable `BatchNorm2d`;
* ``"gn"`` — `GroupNorm` in the ResNet *and* the FPN, for training from random initialisation
  (frozen BN from random init keeps unit statistics that do not match the activations and diverges).

The FPN produces feature maps ``"0".."3"`` (strides 4, 8, 16, 32) and ``"pool"`` (stride 64), each
with `fpn_channels` channels, as torchvision's detection models expect.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
import torchvision
from torch import nn
from torchvision.models.detection.backbone_utils import BackboneWithFPN
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops import FrozenBatchNorm2d
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

from fashionvision.errors import FashionVisionError
from fashionvision.models.se_resnet import (
    SEBasicBlock,
    SEBottleneck,
    se_resnet18,
    se_resnet50,
    se_resnet101,
)

BackboneName = Literal[
    "resnet18", "resnet34", "resnet50", "resnet101", "se_resnet18", "se_resnet50", "se_resnet101"
]
NormName = Literal["frozen_bn", "bn", "gn"]

_RESNETS: dict[str, Callable[..., torchvision.models.ResNet]] = {
    "resnet18": torchvision.models.resnet18,
    "resnet34": torchvision.models.resnet34,
    "resnet50": torchvision.models.resnet50,
    "resnet101": torchvision.models.resnet101,
    "se_resnet18": se_resnet18,
    "se_resnet50": se_resnet50,
    "se_resnet101": se_resnet101,
}
# Block type and blocks per stage of each name, for the width-scaled variants.
_LAYOUTS: dict[str, tuple[type[nn.Module], list[int]]] = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
    "resnet101": (Bottleneck, [3, 4, 23, 3]),
    "se_resnet18": (SEBasicBlock, [2, 2, 2, 2]),
    "se_resnet50": (SEBottleneck, [3, 4, 6, 3]),
    "se_resnet101": (SEBottleneck, [3, 4, 23, 3]),
}
# Architectures that torchvision serves no weights for: a weight name is refused for them.
_WITHOUT_TORCHVISION_WEIGHTS = frozenset(name for name in _RESNETS if name.startswith("se_"))
# From the last stage to the first: `trainable_layers=k` leaves the first k of these trainable.
_STAGES = ("layer4", "layer3", "layer2", "layer1", "conv1")
_GN_GROUPS = 32


def group_norm(num_channels: int) -> nn.GroupNorm:
    """GroupNorm with 32 groups (fewer when the channel count is not divisible by 32)."""
    return nn.GroupNorm(math.gcd(_GN_GROUPS, num_channels), num_channels)


def norm_layer_for(norm: str) -> Callable[[int], nn.Module]:
    """The per-channel normalisation constructor named by `norm` ("frozen_bn" | "bn" | "gn")."""
    layers: dict[str, Callable[[int], nn.Module]] = {
        "frozen_bn": FrozenBatchNorm2d,
        "bn": nn.BatchNorm2d,
        "gn": group_norm,
    }
    if norm not in layers:
        raise FashionVisionError(
            f"model.norm: unknown normalisation {norm!r}; use one of {sorted(layers)}"
        )
    return layers[norm]


class WidthScaledResNet(torchvision.models.ResNet):
    """torchvision's ResNet with the stem and every stage `width` times as wide (64·w, 128·w,
    256·w, 512·w planes).  Blocks, depths and strides are unchanged; a narrow network trained from
    scratch does more steps in a fixed CPU budget (the convolutions' cost scales with w²)."""

    def __init__(self, block: type[nn.Module], layers: list[int], width: float, **kwargs: object):
        self._width = width
        self._stem_pending = True
        super().__init__(block, layers, **kwargs)  # type: ignore[arg-type]
        stem = self._scaled(64)
        self.conv1 = nn.Conv2d(3, stem, kernel_size=7, stride=2, padding=3, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, mode="fan_out", nonlinearity="relu")
        self.bn1 = self._norm_layer(stem)
        if isinstance(self.bn1, nn.BatchNorm2d | nn.GroupNorm):
            nn.init.ones_(self.bn1.weight)
            nn.init.zeros_(self.bn1.bias)
        self.fc = nn.Linear(self.inplanes, self.fc.out_features)

    def _scaled(self, channels: int) -> int:
        return max(8, round(channels * self._width))

    def _make_layer(
        self,
        block: type[BasicBlock | Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
        dilate: bool = False,
    ) -> nn.Sequential:
        if self._stem_pending:  # layer1 takes the (scaled) stem's output
            self.inplanes = self._scaled(64)
            self._stem_pending = False
        return super()._make_layer(block, self._scaled(planes), blocks, stride, dilate)


def resolve_weight_name(weights: str, name: str) -> torchvision.models.WeightsEnum:
    """The torchvision weights enum member that `weights` names for the ResNet `name`.

    Accepts what users write: the member alone (``IMAGENET1K_V1``, ``DEFAULT``) or the full enum
    name (``ResNet50_Weights.IMAGENET1K_V1``); a member of another architecture's enum is an error
    (its tensors would not fit).  The SE-ResNets have no torchvision weights at all: any name is
    refused for them, pointing at a local state-dict file instead.
    """
    if name in _WITHOUT_TORCHVISION_WEIGHTS:
        raise FashionVisionError(
            f"model.weights: {weights!r} is not a file, and torchvision has no ImageNet weights "
            f"for {name}; give a local state-dict file (key layout: fashionvision.models.se_resnet)"
        )
    enum = torchvision.models.get_model_weights(name)
    try:
        return enum.verify(weights)
    except (KeyError, ValueError, TypeError):
        known = ", ".join(["DEFAULT", *(w.name for w in enum)])
        raise FashionVisionError(
            f"model.weights: {weights!r} is neither a file nor a weight name of {name} "
            f"(known: {known}, also as {enum.__name__}.NAME)"
        ) from None


def _load_weights(body: nn.Module, weights: str, name: str) -> None:
    """Load ImageNet weights into a bare (SE-)ResNet: a torchvision weight name (see
    `resolve_weight_name`; downloaded on first use; not for SE-ResNets) or a local state-dict
    file."""
    path = Path(weights)
    if path.suffix in {".pth", ".pt", ".bin"} or path.exists():
        if not path.is_file():
            raise FashionVisionError(f"{weights}: model.weights: file not found")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad user file
            raise FashionVisionError(f"{weights}: model.weights: not a state dict ({exc})") from exc
    else:
        state = resolve_weight_name(weights, name).get_state_dict(progress=True)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    result = body.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not k.startswith("fc.")]
    if missing or result.unexpected_keys:
        raise FashionVisionError(
            f"{weights}: model.weights: does not fit {name} (missing {missing[:3]}, "
            f"unexpected {result.unexpected_keys[:3]}); "
            "BatchNorm weights need norm 'bn' or 'frozen_bn'"
        )


def build_backbone(
    name: BackboneName = "resnet50",
    norm: NormName = "frozen_bn",
    fpn_channels: int = 256,
    trainable_layers: int | None = None,
    weights: str | None = None,
    width: float = 1.0,
) -> BackboneWithFPN:
    """A ResNet-FPN backbone: `images [B,3,H,W]` -> OrderedDict of `[B, fpn_channels, H/s, W/s]`.

    Args:
        name: ResNet depth, ``resnetN`` or ``se_resnetN`` (squeeze-and-excitation blocks).
        norm: normalisation of the ResNet (and of the FPN when "gn"); see the module docstring.
        fpn_channels: channels of every FPN output level.
        trainable_layers: how many stages, counted from layer4 back to conv1, receive gradients
            (0-5). ``None`` = 5 when training from scratch (`weights` None) and 3 otherwise.
        weights: None (random init; nothing is downloaded), a torchvision weight name such as
            ``"IMAGENET1K_V1"``, ``"DEFAULT"`` or ``"ResNet50_Weights.IMAGENET1K_V1"`` (downloaded
            by torchvision on first use; plain ResNets only) or a path to a state dict of the
            ResNet (layout of SE-ResNets: `fashionvision.models.se_resnet`).
    """
    if name not in _RESNETS:
        raise FashionVisionError(
            f"model.backbone: unknown backbone {name!r}; use one of {sorted(_RESNETS)}"
        )
    if trainable_layers is None:
        trainable_layers = 5 if weights is None else 3
    if not 0 <= trainable_layers <= 5:
        raise FashionVisionError(f"model.trainable_layers: must be in 0..5, got {trainable_layers}")
    if not 0 < width <= 4:
        raise FashionVisionError(f"model.backbone_width: must be in (0, 4], got {width}")
    if width != 1.0 and weights is not None:
        raise FashionVisionError(
            f"model.backbone_width: {width} has no pretrained weights; use 1.0 with model.weights"
        )
    norm_layer = norm_layer_for(norm)
    if width == 1.0:
        body = _RESNETS[name](norm_layer=norm_layer)  # random init: weights are loaded below
    else:
        block, layers = _LAYOUTS[name]
        body = WidthScaledResNet(block, layers, width, norm_layer=norm_layer)
    if weights is not None:
        _load_weights(body, weights, name)

    trainable = _STAGES[:trainable_layers]
    for param_name, param in body.named_parameters():
        # bn1 belongs to the stem, so it follows conv1.
        stage = "conv1" if param_name.startswith("bn1") else param_name.split(".")[0]
        if stage not in trainable:
            param.requires_grad_(False)

    stage_channels = body.inplanes // 8  # channels of layer1's output (64·w or 256·w)
    in_channels_list = [stage_channels * 2**i for i in range(4)]
    return BackboneWithFPN(
        body,
        return_layers={"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"},
        in_channels_list=in_channels_list,
        out_channels=fpn_channels,
        extra_blocks=LastLevelMaxPool(),
        norm_layer=group_norm if norm == "gn" else None,
    )
