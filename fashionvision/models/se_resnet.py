"""SE-ResNet (Hu et al., "Squeeze-and-Excitation Networks"): torchvision's ResNet with a
squeeze-and-excitation gate on every residual branch.

In each block the residual branch's output (after its last norm, before the identity is added) is
scaled per channel by ``sigmoid(fc2(relu(fc1(avgpool(x)))))``, fc1: C -> C/16, fc2: C/16 -> C.
The blocks are torchvision's `Bottleneck` / `BasicBlock` with an `se` module added; the gate is
applied by a forward hook on the block's last norm, because torchvision's ``forward`` adds the
identity right after that norm and the hook reaches exactly that point without rewriting it.
The hook belongs to that norm module: code that swaps the module for another after construction
(e.g. ``nn.SyncBatchNorm.convert_sync_batchnorm``, not used in this project) would drop the gate.

State-dict layout (for ``model.weights`` files): torchvision's ResNet keys (``conv1``, ``bn1``,
``layerN.M.conv1..3``, ``layerN.M.bn1..3``, ``layerN.M.downsample.0/1``, ``fc``) plus, per block,
``layerN.M.se.fc1.{weight,bias}`` of shape [C/16, C, 1, 1] / [C/16] and ``layerN.M.se.fc2.{weight,
bias}`` of shape [C, C/16, 1, 1] / [C], where C is the block's output channels (the two fcs are
1x1 convolutions, as torchvision's `SqueezeExcitation` builds them).  timm's ``seresnet50`` /
``seresnet101`` checkpoints should fit as they are (same names; unverified here, timm is not a
dependency); other ports (e.g. ``pretrainedmodels``' ``layer0.*``, ``se_module.*``) need their keys
renamed.  For SE-ResNet-18 the squeeze is C // 16 exactly (4 channels in layer1), where timm rounds
up to a multiple of 8.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn
from torchvision.models import ResNet
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.ops import SqueezeExcitation

SE_REDUCTION = 16


def squeeze_excitation(channels: int, reduction: int = SE_REDUCTION) -> SqueezeExcitation:
    """The SE gate of `channels` channels: ``x [B,C,H,W] -> x * gate [B,C,1,1]``, gate in (0,1)."""
    return SqueezeExcitation(channels, max(1, channels // reduction))


class _ExcitedResidual(nn.Module):
    """Mixin: adds ``self.se`` and applies it to the output of the block's last norm layer."""

    se: SqueezeExcitation

    def _add_excitation(self, last_norm: nn.Module, channels: int) -> None:
        self.se = squeeze_excitation(channels)
        # A bound method (not a closure over self) so that copy.deepcopy rebinds it to the copy.
        last_norm.register_forward_hook(self._excite)

    def _excite(self, _module: nn.Module, _inputs: tuple[Tensor, ...], output: Tensor) -> Tensor:
        return self.se(output)


class SEBasicBlock(_ExcitedResidual, BasicBlock):
    """torchvision's `BasicBlock` (two 3x3 convolutions) with SE on its residual branch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_excitation(self.bn2, self.conv2.out_channels)


class SEBottleneck(_ExcitedResidual, Bottleneck):
    """torchvision's `Bottleneck` (1x1, 3x3, 1x1 convolutions) with SE on its residual branch."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._add_excitation(self.bn3, self.conv3.out_channels)


def se_resnet18(**kwargs: Any) -> ResNet:
    """SE-ResNet-18 (randomly initialised); `kwargs` go to torchvision's `ResNet` (norm_layer,
    num_classes, ...)."""
    return ResNet(SEBasicBlock, [2, 2, 2, 2], **kwargs)


def se_resnet50(**kwargs: Any) -> ResNet:
    """SE-ResNet-50 (randomly initialised; 28.09 M parameters with the 1000-class classifier)."""
    return ResNet(SEBottleneck, [3, 4, 6, 3], **kwargs)


def se_resnet101(**kwargs: Any) -> ResNet:
    """SE-ResNet-101 (randomly initialised; 49.33 M parameters with the 1000-class classifier)."""
    return ResNet(SEBottleneck, [3, 4, 23, 3], **kwargs)
