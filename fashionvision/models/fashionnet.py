"""FashionNet (Liu et al., "DeepFashion: Powering Robust Clothes Recognition and Retrieval with
Rich Annotations", CVPR 2016): category, attributes, landmarks and a retrieval embedding of one
garment image.

Layout (trunk stride s: 8 for VGG and "tiny", 16 for ResNet-50)::

    images -> trunk (conv1..conv4) -+-> conv5_global -> grid pool -> fc6_global ------------+
                                    +-> conv5_pose -> grid pool -> fc6_pose -> landmarks [L, 2] |
                                    |                                      -> visibility [L, 3] |
                                    +-> landmark_pool(conv4, landmarks, P(visible)) -> fc6_local +
                                                   fc7_fusion(fc6_global ++ fc6_local) <--------+
                                                     -> category, attributes, embedding (unit)

* Backbones: ``vgg16`` / ``vgg16_bn`` (the paper's): trunk = torchvision's ``features`` up to
  conv4_3's ReLU, each conv5 = pool4 + conv5_1..3 + pool5 (deep copies of the same block, so
  ImageNet weights reach both); ``resnet50`` (and ``se_resnet50`` / ``se_resnet101``, the
  squeeze-and-excitation variants of `fashionvision.models.se_resnet`, no torchvision weights):
  trunk = conv1..layer3, each conv5 = a copy of layer4; ``tiny``: a small VGG of 4 stages
  (2 x conv3x3 + norm + ReLU, widths width x (1, 2, 4, 8), max-pool between; stride 8) and a
  conv5 of pool + 2 convs (8 width) + pool.
* Grid pooling: the conv5 maps are adaptively average-pooled to a fixed grid before the fcs, so any
  input size works: 7 x 7 for VGG (torchvision's own; identity at 224 px, where pool5 is 7 x 7),
  3 x 3 for ResNet-50 (7 x 7 x 2048 inputs would make each fc6 411 M parameters; 3 x 3 keeps the
  coarse layout the pose branch needs at 75 M) and 2 x 2 for tiny (its pool5 at 64 px).
* Landmarks are regressed as fractions of the image width/height (the linear layer starts at the
  image centre) and returned in input pixels; visibility is 3 logits per landmark (0 visible,
  1 occluded, 2 cut off).
* Local branch: features of the trunk (conv4) pooled around each landmark (`landmark_pool`,
  ``pool_size`` cells, max), gated by P(visible) = softmax(visibility logits)[..., 0].  The
  landmarks and the gate are *detached*: the pose branch is taught by the landmark and visibility
  losses only, because through the pooling the category/attribute/triplet losses would pull the
  points towards whatever texture classifies best and the gate towards "visible" (more features
  never hurt classification), and the landmarks would stop being landmarks.
  ``forward(..., pool_from="gt")`` pools at the ground-truth landmarks instead, gated by the GT
  visibility (1 where visible, else 0) when given, else by the predicted P(visible): the paper's
  first training stage (and an upper-bound evaluation); "predicted" (default) is its second stage
  and inference.

Training (``model.train()`` with targets) returns the raw (unweighted) losses loss_category,
loss_attribute, loss_landmark, loss_visibility and loss_triplet, each present when its target key
is; eval (or training without targets) returns category_logits [B, C], attribute_logits
[B, A], landmarks [B, L, 2] (input pixels), visibility_logits [B, L, 3] and embedding [B, D]
(unit norm).  See `FashionNet.forward` for the target keys and the loss functions for their
formulas.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
import torchvision
from torch import Tensor, nn
from torchvision.models.vgg import cfgs, make_layers

from fashionvision.errors import FashionVisionError
from fashionvision.models.backbones import norm_layer_for, resolve_weight_name
from fashionvision.models.landmark_pooling import landmark_pool
from fashionvision.models.se_resnet import se_resnet50, se_resnet101

FashionNetBackbone = Literal["vgg16", "vgg16_bn", "resnet50", "se_resnet50", "se_resnet101", "tiny"]
PoolFrom = Literal["predicted", "gt"]

# backbone -> (trunk stride, side of the grid the conv5 maps are pooled to before the fcs)
_GEOMETRY: dict[str, tuple[int, int]] = {
    "vgg16": (8, 7),
    "vgg16_bn": (8, 7),
    "resnet50": (16, 3),
    "se_resnet50": (16, 3),
    "se_resnet101": (16, 3),
    "tiny": (8, 2),
}
# The ResNet-style trunks (conv1..layer3 shared, layer4 as conv5) and their constructors.
_RESNETS: dict[str, Callable[..., torchvision.models.ResNet]] = {
    "resnet50": torchvision.models.resnet50,
    "se_resnet50": se_resnet50,
    "se_resnet101": se_resnet101,
}
_RESNET_NORMS = ("bn", "frozen_bn", "gn")
_NORMS: dict[str, tuple[str, ...]] = {
    "tiny": ("bn", "gn"),
    **dict.fromkeys(_RESNETS, _RESNET_NORMS),
}
NUM_VISIBILITY_STATES = 3  # 0 visible, 1 occluded, 2 cut off (DeepFashion's landmark states)
# Attribute frequencies are clamped to [f, 1 - f] before weighting: the weights stay <= 1 / (2 f).
MIN_ATTRIBUTE_FREQUENCY = 0.01


# ----------------------------------------------------------------------------------- losses


def _zero(like: Tensor) -> Tensor:
    """A zero loss still connected to the graph (so `backward` and DDP see every parameter)."""
    return like.sum() * 0.0


def category_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy of `logits [B, C]` against `labels [B]` (0-based), averaged over the labels
    that are not -1 (unknown); 0 when none is known."""
    labels = labels.long()
    if not bool((labels >= 0).any()):
        return _zero(logits)
    return F.cross_entropy(logits, labels, ignore_index=-1)


def attribute_loss(
    logits: Tensor,
    labels: Tensor,
    pos_frequency: Tensor,
    min_frequency: float = MIN_ATTRIBUTE_FREQUENCY,
) -> Tensor:
    """The rebalanced binary cross-entropy of the attributes (positives are rare, so an
    unweighted loss learns "never").

    With ``p_a = clamp(pos_frequency[a], min_frequency, 1 - min_frequency)`` (the fraction of
    positives among the known labels of attribute a in the training set)::

        w_pos[a] = 1 / (2 p_a),   w_neg[a] = 1 / (2 (1 - p_a))
        loss = sum over known (b, a) of w[b, a] * BCE(logits[b, a], labels[b, a] == 1) / #known

    where w is w_pos for a positive label (1) and w_neg for a negative one (-1); labels 0 are
    unknown and ignored.  Over a training set with frequencies p, each attribute's positives and
    negatives then weigh half each; p = 0.5 gives the ordinary mean BCE.

    Args:
        logits: `[B, A]`.
        labels: `[B, A]` in {1, -1, 0} (any integer dtype).
        pos_frequency: `[A]` in [0, 1].
    """
    known = labels != 0
    if not bool(known.any()):
        return _zero(logits)
    p = pos_frequency.to(logits.dtype).clamp(min_frequency, 1 - min_frequency)
    positive = labels > 0
    weight = torch.where(positive, 1 / (2 * p), 1 / (2 * (1 - p)))
    bce = F.binary_cross_entropy_with_logits(logits, positive.to(logits.dtype), reduction="none")
    return (weight * bce)[known].sum() / known.sum()


def positive_frequency(labels: Tensor) -> Tensor:
    """Per-attribute fraction of positives among the known labels of `labels [N, A]` (values in
    {1, -1, 0}): the `pos_frequency` of `attribute_loss`; 0.5 (no reweighting) where an attribute
    has no known label."""
    known = (labels != 0).sum(0)
    positives = (labels > 0).sum(0)
    freq = positives.double() / known.clamp(min=1)
    return torch.where(known > 0, freq, 0.5).float()


def landmark_loss(pred: Tensor, target: Tensor, visibility: Tensor | None = None) -> Tensor:
    """Squared L2 distance between landmarks in normalised image coordinates (x / W, y / H),
    averaged over the landmarks that have a location::

        loss = sum over valid (b, l) of ||pred[b, l] - target[b, l]||^2 / #valid

    Valid: visibility 0 (visible) or 1 (occluded: DeepFashion still locates it); cut-off points
    (2) lie outside the image and have no location, and -1 marks a slot the garment does not
    have.  Without `visibility` every slot is valid; non-finite targets never are.

    Args:
        pred, target: `[B, L, 2]` normalised (x, y).
        visibility: `[B, L]` in {0, 1, 2, -1}, or None.
    """
    valid = torch.isfinite(target).all(-1)
    if visibility is not None:
        valid &= (visibility == 0) | (visibility == 1)
    if not bool(valid.any()):
        return _zero(pred)
    # Invalid targets are replaced by the prediction (not masked after the fact): NaN * 0 would
    # still be NaN in the backward pass.
    pred = pred.float()
    target = torch.where(valid[..., None], target.float(), pred.detach())
    return (pred - target).pow(2).sum(-1)[valid].mean()


def visibility_loss(logits: Tensor, visibility: Tensor) -> Tensor:
    """Cross-entropy of `logits [B, L, 3]` against `visibility [B, L]` (0 visible, 1 occluded,
    2 cut off), averaged over the slots that are not -1; 0 when all are."""
    visibility = visibility.long()
    if not bool((visibility >= 0).any()):
        return _zero(logits)
    return F.cross_entropy(logits.flatten(0, 1), visibility.flatten(), ignore_index=-1)


def triplet_loss(embeddings: Tensor, items: Tensor, margin: float = 0.2) -> Tensor:
    """Batch-hard triplet loss (Hermans et al., "In Defense of the Triplet Loss", 2017).

    With d the Euclidean distance between `embeddings [B, D]` (FashionNet passes unit vectors),
    every anchor i that has a positive (another sample of its item) and a negative (a sample of
    another item) in the batch contributes::

        max(0, margin + max over positives p of d(i, p) - min over negatives n of d(i, n))

    and the loss is the mean over those anchors.  Samples of item -1 (no item) take no part at all
    (neither anchor, positive nor negative: nothing says they differ from the others).  0 (still
    connected to the graph) when the batch has no valid anchor.

    Args:
        embeddings: `[B, D]`.
        items: `[B]` item ids, -1 = none.
    """
    items = items.long()
    labelled = items >= 0
    same = items[:, None] == items[None, :]
    pair_ok = labelled[:, None] & labelled[None, :]
    eye = torch.eye(len(items), dtype=torch.bool, device=items.device)
    positive = same & pair_ok & ~eye
    negative = ~same & pair_ok
    anchors = positive.any(1) & negative.any(1)
    if not bool(anchors.any()):
        return _zero(embeddings)
    # float32 even under autocast: in float16 the clamp below would underflow to 0.
    embeddings = embeddings.float()
    diff = embeddings[:, None, :] - embeddings[None, :, :]
    # The clamp keeps sqrt's gradient finite when two embeddings coincide (the diagonal too).
    dist = diff.pow(2).sum(-1).clamp(min=1e-12).sqrt()
    hardest_pos = dist.masked_fill(~positive, float("-inf")).amax(1)
    hardest_neg = dist.masked_fill(~negative, float("inf")).amin(1)
    return F.relu(margin + hardest_pos - hardest_neg)[anchors].mean()


# --------------------------------------------------------------------------------- the model


def _fc(in_features: int, out_features: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_features, out_features), nn.ReLU(inplace=True))


class FashionNet(nn.Module):
    """FashionNet over a given trunk and conv5 block (see the module docstring; build one with
    `build_fashionnet`).

    Args:
        trunk: images `[B, 3, H, W]` -> conv4 features `[B, trunk_channels, H / stride, ...]`.
        conv5: conv4 features -> `[B, conv5_channels, h, w]`; used as conv5_global, and a deep
            copy of it as conv5_pose.
        stride: input pixels per trunk feature cell.
        grid: side of the adaptive average pooling in front of fc6_global / fc6_pose.
        The other arguments are those of `build_fashionnet`.
    """

    attribute_pos_frequency: Tensor

    def __init__(
        self,
        trunk: nn.Module,
        conv5: nn.Module,
        trunk_channels: int,
        conv5_channels: int,
        stride: int,
        grid: int,
        num_categories: int = 50,
        num_attributes: int = 1000,
        num_landmarks: int = 8,
        fc_dim: int = 4096,
        local_dim: int = 1024,
        embedding_dim: int = 256,
        pool_size: int = 3,
        triplet_margin: float = 0.2,
        input_size: int = 224,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.num_landmarks = num_landmarks
        self.pool_size = pool_size
        self.triplet_margin = triplet_margin
        # The size the data pipeline resizes to; forward itself accepts any size.
        self.input_size = input_size

        self.trunk = trunk
        self.conv5_global = conv5
        self.conv5_pose = copy.deepcopy(conv5)
        self.grid_pool = nn.AdaptiveAvgPool2d(grid)
        flat = conv5_channels * grid * grid
        self.fc6_global = _fc(flat, fc_dim)
        self.fc6_pose = _fc(flat, fc_dim)
        self.landmark_head = nn.Linear(fc_dim, num_landmarks * 2)
        self.visibility_head = nn.Linear(fc_dim, num_landmarks * NUM_VISIBILITY_STATES)
        self.fc6_local = _fc(num_landmarks * trunk_channels * pool_size**2, local_dim)
        self.fc7_fusion = _fc(fc_dim + local_dim, fc_dim)
        self.category_head = nn.Linear(fc_dim, num_categories)
        self.attribute_head = nn.Linear(fc_dim, num_attributes)
        self.embedding_head = nn.Linear(fc_dim, embedding_dim)
        # Start every landmark at the image centre with small weights: a zero-centred output
        # would put them all in the top-left corner, the worst start for an L2 loss.
        nn.init.normal_(self.landmark_head.weight, std=0.001)
        nn.init.constant_(self.landmark_head.bias, 0.5)
        self.register_buffer("attribute_pos_frequency", torch.full((num_attributes,), 0.5))

    def set_attribute_frequency(self, freq: Tensor) -> None:
        """Set the per-attribute positive frequency `[A]` (in [0, 1]) that weights
        `attribute_loss` (see `positive_frequency`); saved in the state dict."""
        freq = torch.as_tensor(freq, dtype=torch.float32)
        if freq.shape != self.attribute_pos_frequency.shape:
            raise FashionVisionError(
                f"attribute frequency: shape {tuple(freq.shape)}, want "
                f"{tuple(self.attribute_pos_frequency.shape)}"
            )
        if not bool(((freq >= 0) & (freq <= 1)).all()):
            raise FashionVisionError("attribute frequency: values must lie in [0, 1]")
        self.attribute_pos_frequency.copy_(freq)

    def forward(
        self,
        images: Tensor,
        targets: dict[str, Tensor] | None = None,
        pool_from: PoolFrom = "predicted",
    ) -> dict[str, Tensor]:
        """Losses in training with `targets`, outputs otherwise (see the module docstring).

        Args:
            images: `[B, 3, H, W]`, already normalised.
            targets: batched tensors, each key optional (its loss is then not returned):
                "category" `[B]` 0-based (-1 unknown), "attributes" `[B, A]` in {1, -1, 0}
                (0 unknown), "landmarks" `[B, L, 2]` input pixels, "visibility" `[B, L]` in
                {0 visible, 1 occluded, 2 cut off, -1 slot absent}, "item" `[B]` (-1 none).
            pool_from: "predicted" landmarks (default) or "gt" (needs targets["landmarks"]).
        Returns:
            training with targets: loss_category, loss_attribute, loss_landmark,
            loss_visibility, loss_triplet (raw, unweighted); else the outputs.
        """
        if pool_from not in ("predicted", "gt"):
            raise FashionVisionError(f"pool_from: {pool_from!r}; use 'predicted' or 'gt'")
        if pool_from == "gt" and (targets is None or "landmarks" not in targets):
            raise FashionVisionError("pool_from='gt' needs targets['landmarks']")
        batch, _, height, width = images.shape
        conv4 = self.trunk(images)
        fc6_global = self.fc6_global(self.grid_pool(self.conv5_global(conv4)).flatten(1))
        fc6_pose = self.fc6_pose(self.grid_pool(self.conv5_pose(conv4)).flatten(1))
        # float32 under autocast too: float16 resolves only 1/8 px at 224 px.
        landmarks_norm = self.landmark_head(fc6_pose).float().view(batch, self.num_landmarks, 2)
        visibility_logits = self.visibility_head(fc6_pose).view(
            batch, self.num_landmarks, NUM_VISIBILITY_STATES
        )
        scale = landmarks_norm.new_tensor([width, height])
        landmarks = landmarks_norm * scale

        # Detached: the pose branch learns from its own losses only (module docstring).
        gate = visibility_logits.detach().softmax(-1)[..., 0]
        points = landmarks.detach()
        if pool_from == "gt":
            assert targets is not None
            points = targets["landmarks"].to(conv4.dtype)
            if "visibility" in targets:
                gate = (targets["visibility"] == 0).to(conv4.dtype)
        local = landmark_pool(conv4, points, gate, self.stride, self.pool_size)
        fc6_local = self.fc6_local(local.flatten(1))
        fused = self.fc7_fusion(torch.cat([fc6_global, fc6_local], dim=1))
        category_logits = self.category_head(fused)
        attribute_logits = self.attribute_head(fused)
        embedding = F.normalize(self.embedding_head(fused), dim=1)

        if not (self.training and targets is not None):
            return {
                "category_logits": category_logits,
                "attribute_logits": attribute_logits,
                "landmarks": landmarks,
                "visibility_logits": visibility_logits,
                "embedding": embedding,
            }
        losses: dict[str, Tensor] = {}
        if "category" in targets:
            losses["loss_category"] = category_loss(category_logits, targets["category"])
        if "attributes" in targets:
            losses["loss_attribute"] = attribute_loss(
                attribute_logits, targets["attributes"], self.attribute_pos_frequency
            )
        if "landmarks" in targets:
            losses["loss_landmark"] = landmark_loss(
                landmarks_norm, targets["landmarks"] / scale, targets.get("visibility")
            )
        if "visibility" in targets:
            losses["loss_visibility"] = visibility_loss(visibility_logits, targets["visibility"])
        if "item" in targets:
            losses["loss_triplet"] = triplet_loss(embedding, targets["item"], self.triplet_margin)
        return losses


# ------------------------------------------------------------------------------- backbones


def _read_weights(weights: str, name: str) -> dict[str, Tensor]:
    """The state dict named by `weights`: a local file, or a torchvision weight name of `name`
    (downloaded by torchvision on first use)."""
    path = Path(weights)
    if path.suffix in {".pth", ".pt", ".bin"} or path.exists():
        if not path.is_file():
            raise FashionVisionError(f"{weights}: model.weights: file not found")
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad user file
            raise FashionVisionError(f"{weights}: model.weights: not a state dict ({exc})") from exc
    return resolve_weight_name(weights, name).get_state_dict(progress=True)


def _load_weights(module: nn.Module, weights: str, name: str, prefix: str, head: str) -> None:
    """Load the ImageNet weights of the torchvision model `name` into `module`: its keys
    ``prefix + key`` that do not start with `head` (the classifier, unused by FashionNet: it may be
    absent from a file and is never loaded)."""
    state = {
        k.removeprefix(prefix): v
        for k, v in _read_weights(weights, name).items()
        if k.startswith(prefix) and not k.startswith(head)
    }
    result = module.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise FashionVisionError(
            f"{weights}: model.weights: does not fit {name} (missing {result.missing_keys[:3]}, "
            f"unexpected {result.unexpected_keys[:3]})"
        )


def _vgg_parts(name: str, weights: str | None) -> tuple[nn.Module, nn.Module, int, int]:
    # torchvision's VGG `features` alone (same layers and keys): the full model would also build
    # and initialise its 120 M-parameter classifier only to throw it away.
    features = make_layers(cfgs["D"], batch_norm=name == "vgg16_bn")
    for m in features.modules():  # torchvision's VGG initialisation
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if weights is not None:
        _load_weights(features, weights, name, "features.", "classifier.")
    pool4 = [i for i, m in enumerate(features) if isinstance(m, nn.MaxPool2d)][3]
    # Trunk: conv1_1 .. conv4_3 + ReLU (stride 8); conv5: pool4, conv5_1..3, pool5.
    return features[:pool4], features[pool4:], 512, 512


def _resnet_parts(
    name: str, norm: str, weights: str | None
) -> tuple[nn.Module, nn.Module, int, int]:
    net = _RESNETS[name](norm_layer=norm_layer_for(norm))  # random init; weights loaded below
    if weights is not None:
        _load_weights(net, weights, name, "", "fc.")
    trunk = nn.Sequential(
        net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3
    )
    return trunk, net.layer4, 1024, 2048


def _tiny_parts(norm: str, width: int) -> tuple[nn.Module, nn.Module, int, int]:
    norm_layer = norm_layer_for(norm)

    def stage(cin: int, cout: int) -> list[nn.Module]:
        layers: list[nn.Module] = []
        for c in (cin, cout):
            layers += [nn.Conv2d(c, cout, 3, padding=1, bias=False), norm_layer(cout)]
            layers.append(nn.ReLU(inplace=True))
        return layers

    widths = [width, 2 * width, 4 * width, 8 * width]
    trunk: list[nn.Module] = []
    cin = 3
    for i, w in enumerate(widths):
        if i:
            trunk.append(nn.MaxPool2d(2))
        trunk += stage(cin, w)
        cin = w
    conv5 = [nn.MaxPool2d(2), *stage(cin, cin), nn.MaxPool2d(2)]
    parts = nn.Sequential(*trunk), nn.Sequential(*conv5)
    for module in parts:
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return parts[0], parts[1], cin, cin


def build_fashionnet(
    backbone: FashionNetBackbone = "vgg16",
    weights: str | None = None,
    norm: str = "bn",
    width: int = 32,
    num_categories: int = 50,
    num_attributes: int = 1000,
    num_landmarks: int = 8,
    fc_dim: int = 4096,
    local_dim: int = 1024,
    embedding_dim: int = 256,
    pool_size: int = 3,
    triplet_margin: float = 0.2,
    input_size: int = 224,
) -> FashionNet:
    """Build FashionNet (the paper's sizes are the defaults: VGG-16, 4096-d fc6/fc7, 8 landmarks,
    50 categories, 1000 attributes).

    Args:
        backbone: "vgg16" | "vgg16_bn" | "resnet50" | "se_resnet50" | "se_resnet101" | "tiny"
            (see the module docstring).
        weights: None (random init; nothing is downloaded), a torchvision weight name of the
            backbone (``"IMAGENET1K_V1"``, ``"DEFAULT"``, ``"VGG16_Weights.IMAGENET1K_V1"``;
            downloaded by torchvision on first use) or a local state-dict file of the torchvision
            model (its classifier keys may be absent).  Loaded into the trunk and both conv5
            copies; the fc layers start random.  "tiny" has no pretrained weights, the SE-ResNets
            none from torchvision (a local file only).
        norm: normalisation of "tiny" ("bn" | "gn") and the ResNets ("bn" | "frozen_bn" | "gn");
            VGG fixes its own (none / BN) and ignores it.
        width: base width of "tiny" only (stages of width x 1, 2, 4, 8 channels).
        num_categories, num_attributes, num_landmarks: output sizes.
        fc_dim: width of fc6_global, fc6_pose and fc7_fusion; local_dim: width of fc6_local.
        embedding_dim: size of the (unit-norm) retrieval embedding.
        pool_size: landmark pooling window side, in trunk cells.
        triplet_margin: margin of `triplet_loss`.
        input_size: the side the data pipeline resizes images to (stored as ``input_size``);
            forward accepts any size.
    """
    if backbone not in _GEOMETRY:
        raise FashionVisionError(
            f"model.backbone: unknown backbone {backbone!r}; use one of {sorted(_GEOMETRY)}"
        )
    if backbone in _NORMS and norm not in _NORMS[backbone]:
        raise FashionVisionError(
            f"model.norm: {norm!r} does not apply to {backbone}; use one of {_NORMS[backbone]}"
        )
    sizes = {
        "width": width,
        "num_categories": num_categories,
        "num_attributes": num_attributes,
        "num_landmarks": num_landmarks,
        "fc_dim": fc_dim,
        "local_dim": local_dim,
        "embedding_dim": embedding_dim,
        "pool_size": pool_size,
        "input_size": input_size,
    }
    for key, value in sizes.items():
        if value < 1:
            raise FashionVisionError(f"model.{key}: must be at least 1, got {value}")
    if triplet_margin < 0:
        raise FashionVisionError(f"model.triplet_margin: must be >= 0, got {triplet_margin}")

    if backbone == "tiny":
        if weights is not None:
            raise FashionVisionError(
                "model.weights: the tiny backbone has no pretrained weights (load a checkpoint)"
            )
        parts = _tiny_parts(norm, width)
    elif backbone in _RESNETS:
        parts = _resnet_parts(backbone, norm, weights)
    else:
        parts = _vgg_parts(backbone, weights)
    stride, grid = _GEOMETRY[backbone]
    trunk, conv5, trunk_channels, conv5_channels = parts
    return FashionNet(
        trunk,
        conv5,
        trunk_channels,
        conv5_channels,
        stride,
        grid,
        num_categories=num_categories,
        num_attributes=num_attributes,
        num_landmarks=num_landmarks,
        fc_dim=fc_dim,
        local_dim=local_dim,
        embedding_dim=embedding_dim,
        pool_size=pool_size,
        triplet_margin=triplet_margin,
        input_size=input_size,
    )
