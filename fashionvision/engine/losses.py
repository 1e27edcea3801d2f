"""The one place where the loss weights λ1..λ5 are applied to the model's raw losses."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from fashionvision.config import LossWeights

# Raw loss key of the model -> the LossWeights field (λ) that scales it.  RPN terms share the
# detector's classification/regression weights (see LossWeights).
LOSS_GROUPS: dict[str, str] = {
    "loss_objectness": "cls",
    "loss_classifier": "cls",
    "loss_rpn_box_reg": "box",
    "loss_box_reg": "box",
    "loss_landmark": "pose",
    "loss_mask": "mask",
    "loss_pair": "pair",
    "loss_attribute": "attribute",
}


# FashionNet's raw losses -> the `FashionNetStage` field that weights them
FASHIONNET_LOSS_GROUPS: dict[str, str] = {
    "loss_category": "category",
    "loss_attribute": "attribute",
    "loss_landmark": "landmark",
    "loss_visibility": "visibility",
    "loss_triplet": "triplet",
}


def weighted_loss(
    loss_dict: Mapping[str, torch.Tensor],
    weights: LossWeights | Mapping[str, float],
    groups: Mapping[str, str] = LOSS_GROUPS,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Scale each raw loss by its λ and sum them.

    `loss_dict` maps ``loss_*`` keys (see `groups`: LOSS_GROUPS for Match R-CNN,
    FASHIONNET_LOSS_GROUPS) to scalar tensors; `weights` is a LossWeights or a mapping from group
    name (``cls``, ``box``, ``pose``, ``mask``, ``pair``, ``attribute``; FashionNet's stage
    fields) to λ.
    Returns ``(total, weighted)`` where ``weighted[k] = λ(k) * loss_dict[k]``.  An unknown loss
    key is a programming error (ValueError): silently unweighted terms would skew training.
    """
    if isinstance(weights, LossWeights):
        lambdas = {name: float(getattr(weights, name)) for name in set(groups.values())}
    else:
        lambdas = {name: float(v) for name, v in weights.items()}
    if not loss_dict:
        raise ValueError("weighted_loss needs at least one loss")
    weighted: dict[str, torch.Tensor] = {}
    for key, value in loss_dict.items():
        group = groups.get(key)
        if group is None:
            raise ValueError(f"unknown loss {key!r}; known: {sorted(groups)}")
        if group not in lambdas:
            raise ValueError(f"no weight given for group {group!r} (loss {key!r})")
        weighted[key] = value * lambdas[group]
    # float32 sum: under autocast some terms may come out in half precision
    total = torch.stack([v.reshape(()).float() for v in weighted.values()]).sum()
    return total, weighted
