"""Tests of fashionvision.models.fashionnet: the losses against hand computations, the backbones,
landmark pooling from GT or predicted landmarks, and a small overfitting run."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models.vgg import cfgs, make_layers

from fashionvision.errors import FashionVisionError
from fashionvision.models.fashionnet import (
    FashionNet,
    attribute_loss,
    build_fashionnet,
    category_loss,
    landmark_loss,
    positive_frequency,
    triplet_loss,
    visibility_loss,
)

LOSS_KEYS = {"loss_category", "loss_attribute", "loss_landmark", "loss_visibility", "loss_triplet"}
OUTPUT_KEYS = {"category_logits", "attribute_logits", "landmarks", "visibility_logits", "embedding"}
SMALL_HEADS = {"fc_dim": 64, "local_dim": 32, "embedding_dim": 16}


def tiny(**kwargs: object) -> FashionNet:
    opts = {
        "backbone": "tiny",
        "width": 8,
        "num_categories": 5,
        "num_attributes": 6,
        "num_landmarks": 4,
        **SMALL_HEADS,
        **kwargs,
    }
    return build_fashionnet(**opts)  # type: ignore[arg-type]


def batch(
    n: int = 8, size: int = 64, seed: int = 0
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    images = torch.randn(n, 3, size, size, generator=g)
    targets = {
        "category": torch.randint(0, 5, (n,), generator=g),
        "attributes": torch.randint(-1, 2, (n, 6), generator=g),
        "landmarks": torch.rand(n, 4, 2, generator=g) * (size - 16) + 8,
        "visibility": torch.randint(0, 3, (n, 4), generator=g),
        "item": torch.arange(n) // 2,
    }
    return images, targets


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # These tensors are too small to gain from intra-op threads, and on a shared 2-core machine a
    # descheduled thread leaves the other spinning: the overfitting test took 2 s on one thread
    # and 7-50 s on two while other jobs ran.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------- losses


def test_triplet_loss_hand_computed() -> None:
    s = math.sqrt
    emb = torch.tensor(
        [[1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [-1.0, 0.0], [0.6, 0.8], [0.0, -1.0]],
        requires_grad=True,
    )
    # Items 0, 0, 1, 1; sample 4 (item -1) coincides with sample 1 and would be the hardest
    # negative of anchors 0 and 1, but takes no part; sample 5 (an item of its own) has no
    # positive, so it is a negative only, not an anchor.
    items = torch.tensor([0, 0, 1, 1, -1, 7])
    # Distances: d01 = sqrt(.8), d02 = sqrt(2), d03 = 2, d12 = sqrt(.4), d13 = sqrt(3.2),
    # d23 = sqrt(2), d05 = sqrt(2), d15 = sqrt(3.6), d25 = 2, d35 = sqrt(2).
    per_anchor = [
        max(0.0, 0.2 + s(0.8) - s(2)),  # anchor 0: positive 1, hardest negative 2 (tie with 5)
        max(0.0, 0.2 + s(0.8) - s(0.4)),  # anchor 1: positive 0, negative 2
        max(0.0, 0.2 + s(2) - s(0.4)),  # anchor 2: positive 3, negative 1
        max(0.0, 0.2 + s(2) - s(2)),  # anchor 3: positive 2, negative 5
    ]
    loss = triplet_loss(emb, items, margin=0.2)
    assert loss.item() == pytest.approx(sum(per_anchor) / 4, abs=1e-6)
    assert per_anchor[0] == 0 and per_anchor[3] == pytest.approx(0.2)
    loss.backward()
    assert torch.all(emb.grad[4] == 0) and emb.grad[5].abs().sum() > 0


def test_triplet_loss_without_valid_triplet_is_a_connected_zero() -> None:
    emb = F.normalize(torch.randn(4, 3), dim=1).requires_grad_()
    for items in ([0, 1, 2, 3], [0, 0, 0, 0], [-1, -1, 2, 2]):
        loss = triplet_loss(emb, torch.tensor(items))
        assert loss.item() == 0 and loss.requires_grad
    loss.backward()
    assert torch.all(emb.grad == 0)
    # Identical embeddings of one item do not make sqrt's gradient NaN.
    same = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    triplet_loss(same, torch.tensor([0, 0, 1])).backward()
    assert torch.isfinite(same.grad).all()


def test_attribute_loss_hand_computed() -> None:
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    labels = torch.tensor([[1, -1], [0, 1]], dtype=torch.int8)
    freq = torch.tensor([0.25, 0.5])
    # w_pos = 1 / (2 p) = (2, 1), w_neg = 1 / (2 (1 - p)) = (2/3, 1); (1, 0) is unknown.
    # Known: (0,0) positive, w 2, BCE(0, 1) = ln 2; (0,1) negative, w 1, BCE(2, 0) = ln(1 + e^2);
    # (1,1) positive, w 1, BCE(-1, 1) = ln(1 + e).
    expected = (2 * math.log(2) + math.log(1 + math.e**2) + math.log(1 + math.e)) / 3
    assert attribute_loss(logits, labels, freq).item() == pytest.approx(expected, rel=1e-6)
    # The unknown label's logit does not matter.
    moved = logits.clone()
    moved[1, 0] = 50.0
    assert attribute_loss(moved, labels, freq).item() == pytest.approx(expected, rel=1e-6)
    # A negative of the rare attribute weighs 2/3.
    neg = torch.tensor([[-1, 0]])
    assert attribute_loss(torch.tensor([[0.5, 0.0]]), neg, freq).item() == pytest.approx(
        2 / 3 * math.log(1 + math.e**0.5), rel=1e-6
    )


def test_attribute_loss_defaults_clamp_and_empty() -> None:
    torch.manual_seed(0)
    logits = torch.randn(4, 3)
    labels = torch.tensor([[1, -1, 1], [-1, -1, 1], [1, 1, -1], [-1, 1, 1]])
    plain = F.binary_cross_entropy_with_logits(logits, (labels > 0).float())
    half = torch.full((3,), 0.5)
    torch.testing.assert_close(attribute_loss(logits, labels, half), plain)
    # Frequency 0 is clamped to 0.01: a positive weighs 1 / 0.02 = 50, not infinity.
    one = torch.tensor([[1, 0, 0]])
    z = torch.zeros(1, 3)
    assert attribute_loss(z, one, torch.tensor([0.0, 0.5, 0.5])).item() == pytest.approx(
        50 * math.log(2), rel=1e-6
    )
    empty = attribute_loss(logits.requires_grad_(), torch.zeros(4, 3), half)
    assert empty.item() == 0 and empty.requires_grad


def test_positive_frequency() -> None:
    labels = torch.tensor([[1, -1, 0], [1, 1, 0], [-1, -1, 0], [0, -1, 0]])
    torch.testing.assert_close(positive_frequency(labels), torch.tensor([2 / 3, 1 / 4, 0.5]))


def test_landmark_loss_hand_computed_and_ignores_unlocated_points() -> None:
    pred = torch.tensor([[[0.5, 0.5], [0.1, 0.2], [0.9, 0.9], [0.3, 0.3]]], requires_grad=True)
    target = torch.tensor([[[0.2, 0.9], [0.1, 0.0], [0.0, 0.0], [float("nan"), 0.0]]])
    visibility = torch.tensor([[0, 1, 2, 0]])  # cut-off point 2; point 3 has no finite location
    # (0.3^2 + 0.4^2 + 0^2 + 0.2^2) / 2 located points
    loss = landmark_loss(pred, target, visibility)
    assert loss.item() == pytest.approx((0.09 + 0.16 + 0.04) / 2, rel=1e-6)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and torch.all(pred.grad[0, 2:] == 0)
    assert landmark_loss(pred, target, torch.tensor([[-1, 2, -1, 2]])).item() == 0
    # Without visibility every finite target counts.
    no_vis = landmark_loss(pred, target)
    assert no_vis.item() == pytest.approx((0.09 + 0.16 + 0.04 + 0.81 + 0.81) / 3, rel=1e-6)


def test_category_and_visibility_losses_ignore_minus_one() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [5.0, 1.0, 1.0]])
    labels = torch.tensor([0, -1, 2])
    expected = F.cross_entropy(logits[:1], labels[:1]) + F.cross_entropy(logits[2:], labels[2:])
    torch.testing.assert_close(category_loss(logits, labels), expected / 2)
    vis = visibility_loss(logits[None], labels[None])
    torch.testing.assert_close(vis, expected / 2)
    for fn in (category_loss, visibility_loss):
        zero = fn(logits.requires_grad_(), torch.full((3,), -1))
        assert zero.item() == 0 and zero.requires_grad


# --------------------------------------------------------------------------------- the model


def test_tiny_eval_outputs_shapes_pixels_and_unit_embeddings() -> None:
    torch.manual_seed(0)
    model = tiny().eval()
    images = torch.randn(3, 3, 64, 96)  # not square: x scales with the width, y with the height
    with torch.no_grad():
        out = model(images)
    assert set(out) == OUTPUT_KEYS
    assert out["category_logits"].shape == (3, 5)
    assert out["attribute_logits"].shape == (3, 6)
    assert out["landmarks"].shape == (3, 4, 2)
    assert out["visibility_logits"].shape == (3, 4, 3)
    assert out["embedding"].shape == (3, 16)
    torch.testing.assert_close(out["embedding"].norm(dim=1), torch.ones(3))
    # Untrained landmarks start near the image centre, in pixels.
    torch.testing.assert_close(
        out["landmarks"].mean((0, 1)), torch.tensor([48.0, 32.0]), atol=2.0, rtol=0
    )


def test_training_returns_the_losses_of_the_given_targets() -> None:
    torch.manual_seed(0)
    model = tiny().train()
    images, targets = batch(4)
    losses = model(images, targets)
    assert set(losses) == LOSS_KEYS
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    assert losses["loss_category"].item() == pytest.approx(math.log(5), abs=0.5)
    partial = model(images, {"category": targets["category"], "item": targets["item"]})
    assert set(partial) == {"loss_category", "loss_triplet"}
    assert set(model(images)) == OUTPUT_KEYS  # training without targets: the outputs


def test_pose_branch_is_taught_by_its_own_losses_only() -> None:
    # The pooled landmarks and the visibility gate are detached: the category loss reaches the
    # trunk through the local branch but never the pose branch.
    torch.manual_seed(0)
    model = tiny().train()
    images, targets = batch(4)
    model(images, {"category": targets["category"]})["loss_category"].backward()
    pose = [*model.conv5_pose.parameters(), *model.fc6_pose.parameters()]
    pose += [*model.landmark_head.parameters(), *model.visibility_head.parameters()]
    assert all(p.grad is None for p in pose)
    assert model.fc6_local[0].weight.grad.abs().sum() > 0
    assert model.trunk[0].weight.grad.abs().sum() > 0


def test_pool_from_gt_pools_at_the_ground_truth() -> None:
    torch.manual_seed(0)
    model = tiny().eval()
    images, targets = batch(2)
    with torch.no_grad():
        predicted = model(images)
        # GT landmarks equal to the predicted ones (and no GT visibility: the predicted gate)
        # give the predicted-mode outputs exactly.
        same = model(images, {"landmarks": predicted["landmarks"]}, pool_from="gt")
        torch.testing.assert_close(same, predicted, rtol=0, atol=0)
        moved = {**targets, "visibility": torch.zeros(2, 4, dtype=torch.long)}
        at_gt = model(images, moved, pool_from="gt")
        moved["landmarks"] = moved["landmarks"] + 16.0
        at_moved = model(images, moved, pool_from="gt")
        # Predicted mode ignores the GT landmarks.
        ignored = model(images, moved)
    assert not torch.allclose(at_gt["category_logits"], at_moved["category_logits"])
    torch.testing.assert_close(ignored, predicted, rtol=0, atol=0)
    # The pose outputs never depend on where the local branch pooled.
    torch.testing.assert_close(at_moved["landmarks"], predicted["landmarks"], rtol=0, atol=0)
    with pytest.raises(FashionVisionError, match="targets\\['landmarks'\\]"):
        model(images, {"category": targets["category"]}, pool_from="gt")
    with pytest.raises(FashionVisionError, match="pool_from"):
        model(images, pool_from="teacher")  # type: ignore[arg-type]


def test_gt_visibility_gates_the_local_features() -> None:
    torch.manual_seed(0)
    model = tiny().eval()
    images, targets = batch(2)
    hidden = {"landmarks": targets["landmarks"], "visibility": torch.full((2, 4), 2)}
    with torch.no_grad():
        a = model(images, hidden, pool_from="gt")
        hidden["landmarks"] = torch.rand(2, 4, 2) * 64  # all gated off: the places do not matter
        b = model(images, hidden, pool_from="gt")
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_attribute_frequency_buffer_weights_the_loss() -> None:
    torch.manual_seed(0)
    model = tiny(norm="gn")  # no batch statistics: train and eval forwards agree
    images, targets = batch(4)
    labels = targets["attributes"]
    freq = torch.tensor([0.1, 0.2, 0.5, 0.7, 0.9, 0.05])
    assert torch.equal(model.attribute_pos_frequency, torch.full((6,), 0.5))
    model.set_attribute_frequency(freq)
    assert torch.equal(model.state_dict()["attribute_pos_frequency"], freq)
    with torch.no_grad():
        loss = model.train()(images, {"attributes": labels})["loss_attribute"]
        logits = model.eval()(images)["attribute_logits"]
    torch.testing.assert_close(loss, attribute_loss(logits, labels, freq))
    assert loss.item() != pytest.approx(
        attribute_loss(logits, labels, torch.full((6,), 0.5)).item()
    )
    with pytest.raises(FashionVisionError, match="shape"):
        model.set_attribute_frequency(torch.full((5,), 0.5))
    with pytest.raises(FashionVisionError, match="\\[0, 1\\]"):
        model.set_attribute_frequency(torch.full((6,), 1.5))


def test_vgg16_trunk_is_conv1_to_conv4_and_both_conv5_are_vgg_conv5() -> None:
    with torch.device("meta"):
        reference = torchvision.models.vgg16(weights=None)
        full = build_fashionnet("vgg16")
    conv1_to_4 = sum(p.numel() for p in reference.features[:23].parameters())
    conv5 = sum(p.numel() for p in reference.features[23:].parameters())
    assert conv1_to_4 == 7_635_264  # 10 conv layers 3x3: 64, 64, 128, 128, 256 x3, 512 x3
    assert sum(p.numel() for p in full.trunk.parameters()) == conv1_to_4
    assert sum(p.numel() for p in full.conv5_global.parameters()) == conv5
    assert sum(p.numel() for p in full.conv5_pose.parameters()) == conv5
    assert full.fc6_global[0].in_features == 512 * 7 * 7  # the paper's fc6 on pool5 at 224 px
    assert full.fc6_global[0].out_features == full.fc7_fusion[0].out_features == 4096
    assert full.fc6_local[0].in_features == 8 * 512 * 3 * 3
    assert full.stride == 8


@pytest.mark.parametrize(("name", "stride"), [("vgg16", 8), ("resnet50", 16)])
def test_full_backbones_forward_at_64_px(name: str, stride: int) -> None:
    torch.manual_seed(0)
    model = build_fashionnet(name, num_categories=5, num_attributes=7, **SMALL_HEADS).eval()  # type: ignore[arg-type]
    assert model.stride == stride
    assert model.conv5_global is not model.conv5_pose
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 64))
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    assert shapes == {
        "category_logits": (2, 5),
        "attribute_logits": (2, 7),
        "landmarks": (2, 8, 2),
        "visibility_logits": (2, 8, 3),
        "embedding": (2, 16),
    }


def test_resnet50_and_vgg16_bn_layouts() -> None:
    with torch.device("meta"):
        reference = torchvision.models.resnet50(weights=None)
        resnet = build_fashionnet("resnet50")
        vgg_bn = build_fashionnet("vgg16_bn")
    layer4 = sum(p.numel() for p in reference.layer4.parameters())
    assert sum(p.numel() for p in resnet.conv5_pose.parameters()) == layer4
    trunk = sum(p.numel() for p in reference.parameters()) - layer4 - reference.fc.weight.numel()
    assert sum(p.numel() for p in resnet.trunk.parameters()) == trunk - reference.fc.bias.numel()
    assert resnet.fc6_global[0].in_features == 2048 * 3 * 3
    assert resnet.fc6_local[0].in_features == 8 * 1024 * 3 * 3
    assert isinstance(vgg_bn.trunk[-2], torch.nn.BatchNorm2d)  # conv4_3, BN, ReLU
    assert isinstance(vgg_bn.conv5_global[0], torch.nn.MaxPool2d)  # pool4 starts conv5


def test_local_weights_file_reaches_trunk_and_both_conv5(tmp_path) -> None:
    torch.manual_seed(4)
    features = make_layers(cfgs["D"])
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.6.weight"] = torch.zeros(3, 2)  # any classifier is ignored
    path = tmp_path / "vgg16.pth"
    torch.save(state, path)
    model = build_fashionnet("vgg16", weights=str(path), **SMALL_HEADS)
    assert torch.equal(model.trunk[0].weight, features[0].weight)
    assert torch.equal(model.trunk[21].weight, features[21].weight)  # conv4_3
    for branch in (model.conv5_global, model.conv5_pose):
        assert torch.equal(branch[1].weight, features[24].weight)  # conv5_1
        assert torch.equal(branch[5].bias, features[28].bias)  # conv5_3
    assert model.conv5_global[1].weight.data_ptr() != model.conv5_pose[1].weight.data_ptr()


def test_builder_errors() -> None:
    with pytest.raises(FashionVisionError, match="model.backbone"):
        build_fashionnet("vgg19")  # type: ignore[arg-type]
    with pytest.raises(FashionVisionError, match="pretrained"):
        tiny(weights="IMAGENET1K_V1")
    with pytest.raises(FashionVisionError, match="model.norm"):
        tiny(norm="frozen_bn")
    with pytest.raises(FashionVisionError, match="missing.pth"):
        build_fashionnet("resnet50", weights="/nonexistent/missing.pth", **SMALL_HEADS)
    with pytest.raises(FashionVisionError, match="model.weights"):  # refused before any download
        build_fashionnet("vgg16", weights="IMAGENET9K_V7", **SMALL_HEADS)
    with pytest.raises(FashionVisionError, match="model.fc_dim"):
        tiny(fc_dim=0)
    assert isinstance(tiny(norm="gn").trunk[1], torch.nn.GroupNorm)


def test_tiny_overfits_a_fixed_batch() -> None:
    torch.manual_seed(0)
    model = tiny().train()
    images, targets = batch(8)
    located = targets["visibility"] < 2

    def pixel_error() -> float:
        model.eval()
        with torch.no_grad():
            pred = model(images)["landmarks"]
        model.train()
        return (pred - targets["landmarks"]).norm(dim=-1)[located].mean().item()

    start = pixel_error()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(60):
        losses = model(images, targets)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    assert losses["loss_category"].item() < 0.05
    assert losses["loss_attribute"].item() < 0.1
    assert losses["loss_visibility"].item() < 0.1
    assert losses["loss_triplet"].item() < 0.05
    end = pixel_error()
    assert start > 10 and end < 2, (start, end)
    model.eval()
    with torch.no_grad():
        out = model(images)
    assert torch.equal(out["category_logits"].argmax(1), targets["category"])
    torch.testing.assert_close(out["embedding"].norm(dim=1), torch.ones(8))


@pytest.mark.parametrize("name", ["se_resnet50", "se_resnet101"])
def test_se_resnet_trunks_are_the_se_networks_split_like_resnet50(name: str) -> None:
    from fashionvision.models import se_resnet

    with torch.device("meta"):
        reference = getattr(se_resnet, name)()
        net = build_fashionnet(name)
    layer4 = sum(p.numel() for p in reference.layer4.parameters())
    fc = sum(p.numel() for p in reference.fc.parameters())
    assert sum(p.numel() for p in net.conv5_pose.parameters()) == layer4
    assert sum(p.numel() for p in net.trunk.parameters()) == (
        sum(p.numel() for p in reference.parameters()) - layer4 - fc
    )
    assert any(n.endswith(".se.fc1.weight") for n, _ in net.trunk.named_parameters())
    with pytest.raises(FashionVisionError, match="no ImageNet weights"):
        build_fashionnet(name, weights="IMAGENET1K_V1")
