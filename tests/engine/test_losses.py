import pytest
import torch

from fashionvision.config import LossWeights
from fashionvision.engine.losses import LOSS_GROUPS, weighted_loss

RAW = {
    "loss_objectness": 1.0,
    "loss_rpn_box_reg": 2.0,
    "loss_classifier": 3.0,
    "loss_box_reg": 4.0,
    "loss_mask": 5.0,
    "loss_landmark": 6.0,
    "loss_pair": 7.0,
}


def _raw() -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v, requires_grad=True) for k, v in RAW.items()}


def test_weights_apply_per_group_and_rpn_shares_cls_and_box():
    w = LossWeights(cls=2.0, box=3.0, pose=0.5, mask=10.0, pair=0.0)
    total, weighted = weighted_loss(_raw(), w)
    expected = {
        "loss_objectness": 2.0,
        "loss_classifier": 6.0,  # λ1 = 2
        "loss_rpn_box_reg": 6.0,
        "loss_box_reg": 12.0,  # λ2 = 3
        "loss_landmark": 3.0,
        "loss_mask": 50.0,
        "loss_pair": 0.0,
    }
    assert {k: v.item() for k, v in weighted.items()} == expected
    assert total.item() == pytest.approx(79.0)


def test_total_backpropagates_the_weights():
    raw = _raw()
    total, _ = weighted_loss(raw, {"cls": 1, "box": 1, "pose": 4, "mask": 1, "pair": 0.5})
    total.backward()
    assert raw["loss_landmark"].grad.item() == 4.0 and raw["loss_pair"].grad.item() == 0.5


def test_missing_streams_are_fine_unknown_losses_are_not():
    total, weighted = weighted_loss({"loss_classifier": torch.tensor(1.5)}, LossWeights())
    assert total.item() == 1.5 and list(weighted) == ["loss_classifier"]
    with pytest.raises(ValueError, match="loss_attr"):
        weighted_loss({"loss_attr": torch.tensor(1.0)}, LossWeights())
    with pytest.raises(ValueError, match="pair"):
        weighted_loss({"loss_pair": torch.tensor(1.0)}, {"cls": 1.0})
    assert set(LOSS_GROUPS.values()) == {"cls", "box", "pose", "mask", "pair", "attribute"}
