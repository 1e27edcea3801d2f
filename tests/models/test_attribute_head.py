"""Tests of the attribute stream (attribute-aware Mask R-CNN): shapes, loss, no-op when off."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from conftest import SMALL_MODEL, SMALL_TRAINING
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.ops import MultiScaleRoIAlign, box_iou

from fashionvision.config import LossWeights, load_config
from fashionvision.engine.build import build_model
from fashionvision.engine.losses import weighted_loss
from fashionvision.errors import FashionVisionError
from fashionvision.models import MatchRCNN, build_match_rcnn
from fashionvision.models.roi_heads import AttributeHead, MatchRoIHeads

A = 5
ATTRIBUTE_KEYS = [f"roi_heads.attribute_head.attr_score.{p}" for p in ("weight", "bias")]
# the landmark/matching streams are independent of the attribute stream: off where not compared
NO_STREAMS = ("model.landmarks=false", "model.matching=false")


def small_model(*overrides: str, seed: int = 0) -> MatchRCNN:
    torch.manual_seed(seed)
    return build_model(load_config("match_rcnn_tiny", [*SMALL_TRAINING, *overrides]).model)


def scene(size: int = 64, attributes: bool = True) -> tuple[list[torch.Tensor], list[dict]]:
    """Two images with a red square and a blue bar each; the attributes follow colour and shape
    (red -> 0, blue -> 1, square -> 2, bar -> 3; attribute 4 never set)."""
    garments = [
        [((6, 8, 34, 36), 1, (0.9, 0.1, 0.1), [1, 0, 1, 0, 0]),
         ((38, 4, 58, 60), 8, (0.1, 0.2, 0.9), [0, 1, 0, 1, 0])],
        [((30, 28, 60, 58), 1, (0.9, 0.1, 0.1), [1, 0, 1, 0, 0]),
         ((4, 2, 22, 50), 8, (0.1, 0.2, 0.9), [0, 1, 0, 1, 0])],
    ]  # fmt: skip
    images, targets = [], []
    for i, items in enumerate(garments):
        image = torch.full((3, size, size), 0.5)
        masks = torch.zeros(len(items), size, size, dtype=torch.uint8)
        for k, ((x1, y1, x2, y2), _, colour, _) in enumerate(items):
            image[:, y1:y2, x1:x2] = torch.tensor(colour)[:, None, None]
            masks[k, y1:y2, x1:x2] = 1
        target = {
            "boxes": torch.tensor([g[0] for g in items], dtype=torch.float32),
            "labels": torch.tensor([g[1] for g in items]),
            "masks": masks,
            "keypoints": torch.zeros(len(items), 294, 3),
            "pair_id": torch.full((len(items),), 3),
            "style": torch.ones(len(items), dtype=torch.long),
            "source": ("user", "shop")[i],
        }
        if attributes:
            target["attributes"] = torch.tensor([g[3] for g in items], dtype=torch.uint8)
        images.append(image)
        targets.append(target)
    return images, targets


def test_off_changes_no_state_dict_key_and_on_adds_only_the_head() -> None:
    off = small_model().state_dict()
    on = small_model(f"model.num_attributes={A}").state_dict()
    assert not any("attribute" in k for k in off)
    assert [k for k in on if k not in ATTRIBUTE_KEYS] == list(off)
    width = load_config("match_rcnn_tiny", SMALL_MODEL).model.representation_size
    assert on[ATTRIBUTE_KEYS[0]].shape == (A, width)


def test_head_changes_no_other_output_or_loss() -> None:
    """With the shared weights, the attribute model's losses and eval outputs are the plain
    model's plus loss_attribute / attribute_scores (the hook and the head draw no randomness)."""
    off = small_model()
    on = small_model(f"model.num_attributes={A}")
    on.load_state_dict({**on.state_dict(), **off.state_dict()})
    images, targets = scene()
    off.train(), on.train()
    torch.manual_seed(3)
    plain = off(images, targets)
    torch.manual_seed(3)
    extended = on(images, targets)
    assert set(extended) == set(plain) | {"loss_attribute"}
    for key, value in plain.items():
        assert torch.equal(value, extended[key]), key
    off.eval(), on.eval()
    with torch.no_grad():
        a, b = off(images), on(images)
    for pa, pb in zip(a, b, strict=True):
        assert set(pb) == set(pa) | {"attribute_scores"}
        for key, value in pa.items():
            assert torch.equal(value, pb[key]), key


def test_train_and_eval_shapes() -> None:
    model = small_model(f"model.num_attributes={A}", "model.box_score_thresh=0.0", *NO_STREAMS)
    images, targets = scene()
    model.train()
    losses = model(images, targets)
    loss = losses["loss_attribute"]
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert abs(loss.item() - 0.69) < 0.3  # untrained logits near 0: BCE near log 2
    loss.backward()
    head = model.roi_heads.attribute_head
    assert head.attr_score.weight.grad.abs().sum() > 0
    # the attribute loss trains the shared box head too (what makes it attribute-aware)
    assert model.roi_heads.box_head.fc7.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        out = model([images[0], torch.rand(3, 48, 80)])
    for pred in out:
        k = len(pred["boxes"])
        assert k > 0 and pred["attribute_scores"].shape == (k, A)
        assert bool(((pred["attribute_scores"] > 0) & (pred["attribute_scores"] < 1)).all())
    # no detection at all: an empty [0, A]
    model.roi_heads.score_thresh = 1.0
    with torch.no_grad():
        out = model([images[0]])
    assert len(out[0]["boxes"]) == 0 and out[0]["attribute_scores"].shape == (0, A)


def _roi_heads(num_attributes: int, channels: int = 4, rep: int = 8) -> MatchRoIHeads:
    torch.manual_seed(0)
    return MatchRoIHeads(
        MultiScaleRoIAlign(["0"], output_size=7, sampling_ratio=2),
        TwoMLPHead(channels * 49, rep),
        FastRCNNPredictor(rep, 3),
        0.5,  # fg IoU
        0.5,  # bg IoU
        512,  # batch size per image: larger than the proposals, so every one is sampled
        0.25,
        None,
        0.05,
        0.5,
        100,
        attribute_head=AttributeHead(rep, num_attributes),
    )


def test_loss_equals_hand_bce_on_positive_proposals() -> None:
    """Fixed proposals, all sampled (the RoI batch is larger): the loss is the BCE of the head
    on the box-head features of every proposal (GT boxes included, as torchvision appends them)
    with IoU >= 0.5, against its best GT's attributes; an image without attributes adds no row."""
    heads = _roi_heads(3).train()
    torch.manual_seed(1)
    features = {"0": torch.rand(2, 4, 16, 16)}
    shapes = [(64, 64), (64, 64)]
    gt = [torch.tensor([[4.0, 4.0, 30.0, 30.0], [32.0, 20.0, 60.0, 62.0]]),
          torch.tensor([[10.0, 10.0, 50.0, 40.0]])]  # fmt: skip
    proposals = [
        torch.tensor([[5.0, 5.0, 30.0, 31.0], [33.0, 22.0, 60.0, 60.0], [0.0, 40.0, 20.0, 63.0],
                      [2.0, 3.0, 28.0, 26.0], [40.0, 0.0, 63.0, 15.0]]),
        torch.tensor([[12.0, 10.0, 50.0, 42.0], [0.0, 0.0, 10.0, 10.0]]),
    ]  # fmt: skip
    attrs = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    targets = [
        {"boxes": gt[0], "labels": torch.tensor([1, 2]), "attributes": attrs},
        {"boxes": gt[1], "labels": torch.tensor([2])},
    ]
    _, losses = heads(features, proposals, shapes, targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg", "loss_attribute"}
    # by hand, on image 0 only
    boxes = torch.cat([proposals[0], gt[0]])
    iou, best = box_iou(boxes, gt[0]).max(1)
    pos = iou >= 0.5
    assert int(pos.sum()) == 5  # 3 proposals + the 2 GT boxes
    with torch.no_grad():
        feats = heads.box_head(heads.box_roi_pool({"0": features["0"][:1]}, [boxes[pos]], shapes))
        expected = F.binary_cross_entropy_with_logits(heads.attribute_head(feats), attrs[best[pos]])
    torch.testing.assert_close(losses["loss_attribute"], expected, rtol=1e-5, atol=1e-6)

    # no image with attributes: zero, still in the graph
    del targets[0]["attributes"]
    _, losses = heads(features, proposals, shapes, targets)
    assert losses["loss_attribute"].item() == 0.0 and losses["loss_attribute"].requires_grad
    losses["loss_attribute"].backward()
    assert torch.all(heads.attribute_head.attr_score.weight.grad == 0)


def test_images_without_attributes_give_no_loss() -> None:
    model = small_model(f"model.num_attributes={A}", *NO_STREAMS).train()
    images, targets = scene(attributes=False)
    losses = model(images, targets)
    assert losses["loss_attribute"].item() == 0.0 and losses["loss_attribute"].requires_grad
    sum(losses.values()).backward()  # every parameter reached: DDP needs no unused-param search
    assert model.roi_heads.attribute_head.attr_score.weight.grad is not None
    # one image with, one without: finite and positive
    images, targets = scene()
    del targets[1]["attributes"]
    losses = model(images, targets)
    assert losses["loss_attribute"].item() > 0.0


@pytest.mark.parametrize(
    "bad", [torch.zeros(2, A + 1), torch.zeros(3, A), torch.zeros(2 * A), [[0] * A] * 2]
)
def test_misshapen_attributes_raise(bad: object) -> None:
    model = small_model(f"model.num_attributes={A}", *NO_STREAMS).train()
    images, targets = scene()
    targets[1]["attributes"] = bad
    with pytest.raises(FashionVisionError, match=r"targets\[1\]\.attributes"):
        model(images, targets)


def test_negative_num_attributes_is_rejected() -> None:
    with pytest.raises(FashionVisionError, match="num_attributes"):
        build_match_rcnn(num_attributes=-1, landmarks=False, matching=False)


def test_weighted_loss_scales_by_lambda_attribute() -> None:
    heads = _roi_heads(2).train()
    torch.manual_seed(0)
    target = {
        "boxes": torch.tensor([[4.0, 4.0, 40.0, 50.0]]),
        "labels": torch.tensor([1]),
        "attributes": torch.tensor([[1, 0]], dtype=torch.uint8),
    }
    xy = torch.rand(20, 2) * 30
    proposals = [torch.cat([xy, xy + 8 + torch.rand(20, 2) * 30], 1)]
    _, losses = heads({"0": torch.rand(1, 4, 16, 16)}, proposals, [(64, 64)], [target])
    raw = losses["loss_attribute"]
    assert raw.item() > 0
    total_1, weighted_1 = weighted_loss(losses, LossWeights())
    total_3, weighted_3 = weighted_loss(losses, LossWeights(attribute=3.0))
    assert torch.equal(weighted_1["loss_attribute"], raw)
    torch.testing.assert_close(weighted_3["loss_attribute"], 3.0 * raw)
    torch.testing.assert_close(total_3 - total_1, 2.0 * raw)
    torch.testing.assert_close(weighted_3["loss_classifier"], losses["loss_classifier"])


def test_tiny_batch_overfits_attributes() -> None:
    """A fixed two-image batch: loss_attribute falls by more than half in 25 Adam steps on the
    weighted total (backbone frozen: its backward is most of a step's time, and the attributes
    are read from the RoI heads)."""
    model = small_model(f"model.num_attributes={A}", *NO_STREAMS).train()
    model.backbone.requires_grad_(False)
    images, targets = scene()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=2e-3)
    history = []
    for _ in range(25):
        losses = model(images, targets)
        history.append(losses["loss_attribute"].item())
        total, _ = weighted_loss(losses, LossWeights())
        optimizer.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
    last = sum(history[-5:]) / 5
    assert last < 0.5 * history[0], history


def test_score_filtering_keeps_attribute_scores_aligned_with_their_boxes():
    from fashionvision.engine.inference import keep_confident

    out = {
        "boxes": torch.tensor([[0.0, 0, 1, 1], [0, 0, 2, 2], [0, 0, 3, 3]]),
        "labels": torch.tensor([1, 2, 3]),
        "scores": torch.tensor([0.9, 0.2, 0.7]),
        "attribute_scores": torch.tensor([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]),
    }
    kept = keep_confident(out, 0.5)
    torch.testing.assert_close(kept["attribute_scores"], torch.tensor([[0.1, 0.2], [0.5, 0.6]]))
