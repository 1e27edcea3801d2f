"""Tests of the assembled Match R-CNN: outputs, equality with torchvision Mask R-CNN, overfit."""

from __future__ import annotations

import math

import pytest
import torch
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.faster_rcnn import (
    FastRCNNConvFCHead,
    FastRCNNPredictor,
    TwoMLPHead,
)
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.ops import MultiScaleRoIAlign

from fashionvision.categories import category
from fashionvision.errors import FashionVisionError
from fashionvision.models import MatchRCNN, build_match_rcnn
from fashionvision.models.backbones import build_backbone
from fashionvision.models.match_rcnn import ContextRoIPool, context_roi_pooler, roi_pooler

LOSS_KEYS = {
    "loss_objectness",
    "loss_rpn_box_reg",
    "loss_classifier",
    "loss_box_reg",
    "loss_mask",
    "loss_landmark",
    "loss_pair",
}
TINY = dict(
    backbone="resnet18",
    norm="gn",
    fpn_channels=32,
    min_size=128,
    max_size=192,
    rpn_batch_size_per_image=64,
    box_batch_size_per_image=64,
    representation_size=128,
    mask_head_width=32,
    landmark_head_width=32,
    landmark_convs=2,
    matching_width=32,
    matching_dim=32,
    rpn_pre_nms_top_n_train=300,
    rpn_post_nms_top_n_train=150,
    rpn_pre_nms_top_n_test=150,
    rpn_post_nms_top_n_test=100,
)


def tiny_model(**overrides: object) -> MatchRCNN:
    torch.manual_seed(0)
    return build_match_rcnn(**{**TINY, **overrides})  # type: ignore[arg-type]


def _garment(
    kind: str, box: tuple[int, int, int, int], label: int, size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask [H, W] of a rectangle or ellipse filling `box`, and global landmarks [294, 3] spread
    around its outline in the category's local order."""
    h, w = size
    x1, y1, x2, y2 = box
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) / 2, (y2 - y1) / 2
    if kind == "ellipse":
        mask = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1
    else:
        mask = (xs >= x1) & (xs < x2) & (ys >= y1) & (ys < y2)
    cat = category(label)
    angles = torch.arange(cat.num_landmarks) * (2 * math.pi / cat.num_landmarks)
    landmarks = torch.zeros(294, 3)
    landmarks[cat.landmark_slice, 0] = cx + 0.9 * rx * torch.cos(angles)
    landmarks[cat.landmark_slice, 1] = cy + 0.9 * ry * torch.sin(angles)
    landmarks[cat.landmark_slice, 2] = 2
    return mask.to(torch.uint8), landmarks


def synthetic_pair(size: int = 128) -> tuple[list[torch.Tensor], list[dict]]:
    """A user and a shop image of pair 7: the same red rectangle top (style 1) in both and a
    blue ellipse skirt (style 0) in the user image only, on a grey background."""
    specs = [
        (
            "user",
            [
                ("rect", (16, 12, 70, 76), 1, 1, (0.9, 0.1, 0.1)),
                ("ellipse", (60, 60, 120, 120), 9, 0, (0.1, 0.2, 0.9)),
            ],
        ),
        ("shop", [("rect", (30, 20, 100, 110), 1, 1, (0.9, 0.1, 0.1))]),
    ]
    images, targets = [], []
    for source, garments in specs:
        image = torch.full((3, size, size), 0.5)
        masks, landmarks = [], []
        for kind, box, label, _, colour in garments:
            mask, lm = _garment(kind, box, label, (size, size))
            image[:, mask.bool()] = torch.tensor(colour)[:, None]
            masks.append(mask)
            landmarks.append(lm)
        images.append(image)
        targets.append(
            {
                "boxes": torch.tensor([g[1] for g in garments], dtype=torch.float32),
                "labels": torch.tensor([g[2] for g in garments]),
                "masks": torch.stack(masks),
                "keypoints": torch.stack(landmarks),
                "pair_id": torch.full((len(garments),), 7),
                "style": torch.tensor([g[3] for g in garments]),
                "source": source,
            }
        )
    return images, targets


def test_training_returns_raw_losses() -> None:
    model = tiny_model()
    model.train()
    images, targets = synthetic_pair()
    losses = model(images, targets)
    assert set(losses) == LOSS_KEYS
    assert all(v.ndim == 0 and torch.isfinite(v) for v in losses.values())
    # Untrained heatmaps are near uniform: CE ~ log(56 * 56).
    assert abs(losses["loss_landmark"].item() - math.log(56 * 56)) < 1.0
    sum(losses.values()).backward()
    assert model.roi_heads.landmark_head.predictor.weight.grad.abs().sum() > 0
    assert model.roi_heads.similarity.fc.weight.grad is not None


def test_eval_outputs_in_original_coordinates() -> None:
    model = tiny_model(box_score_thresh=0.0)
    model.eval()
    images = [torch.rand(3, 160, 200), torch.rand(3, 96, 96)]
    with torch.no_grad():
        out = model(images)
    for image, pred in zip(images, out, strict=True):
        k = len(pred["boxes"])
        assert k > 0
        h, w = image.shape[1:]
        assert pred["masks"].shape == (k, 1, h, w)
        assert pred["landmarks"].shape == (k, 294, 3) and pred["embeddings"].shape == (k, 32)
        for box, label, lm in zip(pred["boxes"], pred["labels"], pred["landmarks"], strict=True):
            cat = category(int(label))
            xy = lm[cat.landmark_slice, :2]
            assert bool((xy[:, 0] >= box[0] - 1e-3).all() and (xy[:, 0] <= box[2] + 1e-3).all())
            assert bool((xy[:, 1] >= box[1] - 1e-3).all() and (xy[:, 1] <= box[3] + 1e-3).all())
            assert int((lm.abs().sum(1) > 0).sum()) <= cat.num_landmarks
    sim = model.roi_heads.pair_similarity(out[0]["embeddings"], out[1]["embeddings"])
    assert sim.shape == (len(out[0]["boxes"]), len(out[1]["boxes"]))
    assert bool(((sim >= 0) & (sim <= 1)).all())


def test_stream_detections_per_img_limits_streams_to_best_detections() -> None:
    images = [torch.rand(3, 128, 128)]
    with torch.no_grad():
        full = tiny_model(box_score_thresh=0.0).eval()(images)[0]
        top = tiny_model(box_score_thresh=0.0, stream_detections_per_img=3).eval()(images)[0]
    assert len(top["boxes"]) == len(full["boxes"]) > 3
    torch.testing.assert_close(top["landmarks"][:3], full["landmarks"][:3])
    torch.testing.assert_close(top["embeddings"][:3], full["embeddings"][:3])
    assert torch.all(top["landmarks"][3:] == 0) and torch.all(top["embeddings"][3:] == 0)


def test_matching_roi_size_gives_the_matching_stream_its_own_pooler() -> None:
    model = tiny_model(stream_roi_size=7, matching_roi_size=14, box_score_thresh=0.0)
    heads = model.roi_heads
    seen: dict[str, list[tuple[int, ...]]] = {"landmark": [], "matching": []}
    heads.landmark_head.register_forward_pre_hook(
        lambda _m, args: seen["landmark"].append(tuple(args[0].shape[-2:]))
    )
    heads.matching_head.register_forward_pre_hook(
        lambda _m, args: seen["matching"].append(tuple(args[0].shape[-2:]))
    )
    model.train()
    images, targets = synthetic_pair()
    losses = model(images, targets)
    assert torch.isfinite(losses["loss_pair"])
    model.eval()
    image = [torch.rand(3, 128, 128)]  # 128 px: the model's resize is the identity
    with torch.no_grad():
        out = model(image)[0]
        features = model.backbone(model.transform(image)[0].tensors)
        again = heads.embed_boxes(features, [out["boxes"]], [(128, 128)])[0]
    assert set(seen["landmark"]) == {(7, 7)} and set(seen["matching"]) == {(14, 14)}
    torch.testing.assert_close(again, out["embeddings"])
    assert tiny_model(stream_roi_size=7).roi_heads.matching_roi_pool is None
    assert tiny_model(stream_roi_size=7, matching_roi_size=7).roi_heads.matching_roi_pool is None


def test_box_roi_size_sizes_the_box_heads_pooler_and_first_fc() -> None:
    model = tiny_model(box_roi_size=14, box_score_thresh=0.0)
    seen: list[tuple[int, ...]] = []
    model.roi_heads.box_head.register_forward_pre_hook(
        lambda _m, args: seen.append(tuple(args[0].shape[1:]))
    )
    model.train()
    losses = model(*synthetic_pair())
    assert torch.isfinite(losses["loss_classifier"])
    with torch.no_grad():
        out = model.eval()([torch.rand(3, 128, 128)])[0]
    assert len(out["boxes"]) > 0
    assert set(seen) == {(32, 14, 14)}  # fpn_channels 32
    assert model.roi_heads.box_head.fc6.in_features == 32 * 14 * 14


@pytest.mark.parametrize("kind", ["torchvision", "sparse"])
@pytest.mark.parametrize("factor", [1.5, 2.0])
def test_context_pooler_pools_enlarged_boxes_from_their_own_level(kind: str, factor: float):
    from torchvision.ops import roi_align

    torch.manual_seed(0)
    side = 256
    feats = {str(k): torch.randn(2, 8, side >> (k + 2), side >> (k + 2)) for k in range(4)}
    # boxes of P2-P4 (the levels a box inside a 256-px image reaches), some at the border:
    # enlarged, they leave the image
    boxes = [
        torch.tensor([[10.0, 12.0, 30.0, 40.0], [0.0, 0.0, 120.0, 90.0], [100, 60, 250, 256.0]]),
        torch.tensor([[200.0, 5.0, 256.0, 60.0], [40.0, 30.0, 200.0, 240.0], [0, 0, 256, 256.0]]),
    ]
    pooled = context_roi_pooler(7, kind, 224, factor)(feats, boxes, [(side, side)] * 2)

    expected, levels = [], set()
    for image, image_boxes in enumerate(boxes):
        for box in image_boxes:
            w, h = (box[2:] - box[:2]).tolist()
            level = min(max(math.floor(4 + math.log2(math.sqrt(w * h) / 224) + 1e-6), 2), 5)
            levels.add(level)
            cx, cy = ((box[:2] + box[2:]) / 2).tolist()
            hw, hh = w * factor / 2, h * factor / 2
            big = [cx - hw, cy - hh, cx + hw, cy + hh]
            roi = torch.tensor([[float(image), *big]])
            expected.append(
                roi_align(feats[str(level - 2)], roi, 7, 1 / 2**level, sampling_ratio=2)[0]
            )
    assert levels == {2, 3, 4}
    torch.testing.assert_close(pooled, torch.stack(expected), rtol=1e-4, atol=1e-5)


def test_box_roi_context_feeds_the_box_head_enlarged_rois_with_the_same_weights():
    plain, context = tiny_model(), tiny_model(box_roi_context=1.5, box_score_thresh=0.0)
    assert isinstance(context.roi_heads.box_roi_pool, ContextRoIPool)
    assert isinstance(plain.roi_heads.box_roi_pool, MultiScaleRoIAlign)
    # no new parameters: a checkpoint of either loads into the other
    context.load_state_dict(plain.state_dict())
    rois: list[torch.Tensor] = []  # what the box head asks for, then what the pooler gets
    pooled: list[torch.Tensor] = []
    context.roi_heads.box_roi_pool.register_forward_pre_hook(
        lambda _m, args: rois.append(torch.cat(args[1]))
    )
    context.roi_heads.box_roi_pool.pooler.register_forward_pre_hook(
        lambda _m, args: pooled.append(torch.cat(args[1]))
    )
    context.train()
    losses = context(*synthetic_pair())
    assert torch.isfinite(losses["loss_classifier"]) and torch.isfinite(losses["loss_box_reg"])
    with torch.no_grad():
        out = context.eval()([torch.rand(3, 128, 128)])[0]
    assert len(out["boxes"]) > 0 and len(rois) == len(pooled) == 2  # training and eval
    for asked, got in zip(rois, pooled, strict=True):
        torch.testing.assert_close(got[:, 2:] - got[:, :2], 1.5 * (asked[:, 2:] - asked[:, :2]))
        torch.testing.assert_close(got[:, :2] + got[:, 2:], asked[:, :2] + asked[:, 2:])
    # the mask head pools the RoIs themselves
    assert isinstance(context.roi_heads.mask_roi_pool, MultiScaleRoIAlign)
    with pytest.raises(FashionVisionError, match="model.box_roi_context"):
        tiny_model(box_roi_context=0.8)


@pytest.mark.parametrize(
    "norm, norm_type", [("gn", torch.nn.GroupNorm), ("bn", torch.nn.BatchNorm2d)]
)
def test_4conv1fc_box_head_is_torchvisions_conv_fc_head(norm: str, norm_type: type) -> None:
    model = tiny_model(box_head="4conv1fc", norm=norm, box_score_thresh=0.0)
    head = model.roi_heads.box_head
    assert isinstance(head, FastRCNNConvFCHead)
    torch.manual_seed(1)
    twin = FastRCNNConvFCHead(
        (32, 7, 7),
        [32] * 4,
        [128],
        norm_layer=lambda c: norm_type(*((32, c) if norm_type is torch.nn.GroupNorm else (c,))),
    )
    # same modules, same shapes, in the same order: torchvision's head, not a look-alike
    assert [(k, v.shape) for k, v in head.state_dict().items()] == [
        (k, v.shape) for k, v in twin.state_dict().items()
    ]
    assert sum(isinstance(m, norm_type) for m in head.modules()) == 4
    twin.load_state_dict(head.state_dict())
    x = torch.randn(5, 32, 7, 7)
    head.eval(), twin.eval()
    torch.testing.assert_close(head(x), twin(x))
    model.train()
    losses = model(*synthetic_pair())
    assert torch.isfinite(losses["loss_classifier"]) and losses["loss_classifier"] > 0
    with torch.no_grad():
        out = model.eval()([torch.rand(3, 128, 128)])[0]
    assert out["boxes"].shape[1] == 4 and len(out["boxes"]) > 0


@pytest.mark.parametrize("roi_align", ["torchvision", "sparse"])
def test_roi_canonical_scale_moves_every_heads_boxes_to_deeper_fpn_levels(roi_align: str) -> None:
    # FPN: level = floor(4 + log2(sqrt(wh) / canonical)), clamped to P2-P5.  A 100-px box pools
    # from P2 at torchvision's 224, from P3 at 112 and from P4 at 56.
    model = tiny_model(roi_canonical_scale=112, roi_align=roi_align, stream_roi_size=7)
    heads = model.roi_heads
    pools = [heads.box_roi_pool, heads.mask_roi_pool, heads.stream_roi_pool]
    assert [p.canonical_scale for p in pools] == [112, 112, 112]
    torch.manual_seed(2)
    names, strides = ["0", "1", "2", "3"], [4, 8, 16, 32]
    features = {
        n: torch.randn(1, 8, 128 // s, 128 // s) for n, s in zip(names, strides, strict=True)
    }
    box = [torch.tensor([[10.0, 14.0, 110.0, 114.0]])]
    for scale, level in ((224, 0), (112, 1), (56, 2)):
        pooled = roi_pooler(7, roi_align, scale)(features, box, [(128, 128)])  # type: ignore[arg-type]
        # the same box on the one level torchvision's own pooler (a single map, no mapping) reads
        alone = MultiScaleRoIAlign([names[level]], 7, 2)
        expected = alone({names[level]: features[names[level]]}, box, [(128, 128)])
        torch.testing.assert_close(pooled, expected)
    for bad in (0, -56):
        with pytest.raises(FashionVisionError, match="model.roi_canonical_scale"):
            tiny_model(roi_canonical_scale=bad)


def _greedy_nms(boxes: list[list[float]], scores: list[float], thresh: float) -> list[int]:
    """Plain-Python greedy NMS (indices by decreasing score), the reference for torchvision's."""

    def iou(a: list[float], b: list[float]) -> float:
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / area

    kept: list[int] = []
    for i in sorted(range(len(scores)), key=lambda j: -scores[j]):
        if all(iou(boxes[i], boxes[k]) <= thresh for k in kept):
            kept.append(i)
    return kept


def test_cross_class_nms_keeps_the_best_class_where_boxes_of_different_classes_overlap() -> None:
    # Three proposals: two on one garment (both scoring classes 2 and 5), one far away.
    # Per-class NMS keeps a class-2 and a class-5 box on the garment; the cross-class pass
    # keeps only the better of the two, and leaves the far box alone.
    proposals = [torch.tensor([[10.0, 10, 60, 90], [12, 11, 61, 88], [80, 80, 120, 120]])]
    logits = torch.full((3, 14), -4.0)
    logits[0, 2], logits[0, 5] = 3.0, 2.5
    logits[1, 2], logits[1, 5] = 2.0, 2.8
    logits[2, 7] = 3.0
    regression = torch.zeros(3, 14 * 4)
    shapes = [(128, 128)]
    plain = tiny_model().roi_heads
    (boxes,), (scores,), (labels,) = plain.postprocess_detections(
        logits, regression, proposals, shapes
    )
    assert sorted(labels.tolist()) == [2, 5, 7]  # torchvision: one box per class per garment
    for thresh in (0.5, 0.9):
        heads = tiny_model(box_cross_class_nms_thresh=thresh).roi_heads
        (b,), (s,), (lab,) = heads.postprocess_detections(logits, regression, proposals, shapes)
        keep = _greedy_nms(boxes.tolist(), scores.tolist(), thresh)
        torch.testing.assert_close(b, boxes[keep])
        torch.testing.assert_close(s, scores[keep])
        assert lab.tolist() == labels[keep].tolist()
        # the garment keeps its best-scoring class only (class 5, from the second proposal)
        assert sorted(lab.tolist()) == [5, 7]
        assert float(s[lab == 5]) == float(scores[labels != 7].max())
    for bad in (0.0, 1.5):
        with pytest.raises(FashionVisionError, match="model.box_cross_class_nms_thresh"):
            tiny_model(box_cross_class_nms_thresh=bad)


def test_box_head_and_positive_fraction_are_checked() -> None:
    with pytest.raises(FashionVisionError, match="model.box_head"):
        tiny_model(box_head="3fc")
    for bad in (0.0, 1.5):
        with pytest.raises(FashionVisionError, match="model.box_positive_fraction"):
            tiny_model(box_positive_fraction=bad)


def test_box_positive_fraction_sets_the_share_of_sampled_positive_rois() -> None:
    model = tiny_model(box_positive_fraction=0.5, box_batch_size_per_image=32)
    sampler = model.roi_heads.fg_bg_sampler
    assert sampler.positive_fraction == 0.5
    labels = [torch.tensor([1] * 40 + [0] * 60)]  # plenty of both: the share decides
    pos, neg = sampler(labels)
    assert int(pos[0].sum()) == 16 and int(neg[0].sum()) == 16


def _torchvision_twin(fpn_channels: int = 32) -> MaskRCNN:
    t = TINY
    return MaskRCNN(
        build_backbone("resnet18", "gn", fpn_channels),
        num_classes=None,
        min_size=t["min_size"],
        max_size=t["max_size"],
        rpn_batch_size_per_image=t["rpn_batch_size_per_image"],
        box_batch_size_per_image=t["box_batch_size_per_image"],
        rpn_pre_nms_top_n_test=t["rpn_pre_nms_top_n_test"],
        rpn_post_nms_top_n_test=t["rpn_post_nms_top_n_test"],
        box_head=TwoMLPHead(fpn_channels * 49, t["representation_size"]),
        box_predictor=FastRCNNPredictor(t["representation_size"], 14),
        mask_head=MaskRCNNHeads(fpn_channels, [t["mask_head_width"]] * 4, 1),
        mask_predictor=MaskRCNNPredictor(t["mask_head_width"], t["mask_head_width"], 14),
        box_score_thresh=0.0,
    )


@pytest.mark.parametrize("streams", [False, True])
def test_detection_equals_torchvision_mask_rcnn(streams: bool) -> None:
    ours = tiny_model(landmarks=streams, matching=streams, box_score_thresh=0.0).eval()
    theirs = _torchvision_twin().eval()
    state = {k: v for k, v in ours.state_dict().items() if k in theirs.state_dict()}
    assert len(state) == len(theirs.state_dict())
    if not streams:
        assert len(state) == len(ours.state_dict())
    theirs.load_state_dict(state, strict=True)
    torch.manual_seed(5)
    images = [torch.rand(3, 150, 130), torch.rand(3, 128, 128)]
    with torch.no_grad():
        a, b = ours(images), theirs(images)
    for pa, pb in zip(a, b, strict=True):
        assert len(pa["boxes"]) > 0
        for key in ("boxes", "labels", "scores", "masks"):
            assert torch.equal(pa[key], pb[key]), key


def test_empty_target_images_train_and_infer() -> None:
    model = tiny_model()
    images, targets = synthetic_pair()
    empty = {
        "boxes": torch.zeros(0, 4),
        "labels": torch.zeros(0, dtype=torch.long),
        "masks": torch.zeros(0, 128, 128, dtype=torch.uint8),
        "keypoints": torch.zeros(0, 294, 3),
        "pair_id": torch.zeros(0, dtype=torch.long),
        "style": torch.zeros(0, dtype=torch.long),
        "source": "shop",
    }
    model.train()
    losses = model([images[0], torch.rand(3, 128, 128)], [targets[0], empty])
    assert set(losses) == LOSS_KEYS and all(torch.isfinite(v) for v in losses.values())
    losses = model([torch.rand(3, 128, 128)], [empty])
    assert losses["loss_pair"].item() == 0.0 and losses["loss_pair"].requires_grad
    assert losses["loss_landmark"].item() == 0.0
    sum(losses.values()).backward()
    model.eval()
    with torch.no_grad():
        out = model([torch.full((3, 128, 128), 0.5)])
    assert out[0]["landmarks"].shape[1:] == (294, 3)


def test_pair_same_category_share_must_be_a_share() -> None:
    with pytest.raises(FashionVisionError, match="model.pair_same_category_share"):
        tiny_model(pair_same_category_share=1.5)
    model = tiny_model(pair_same_category_share=1.0).train()
    assert torch.isfinite(model(*synthetic_pair())["loss_pair"])


def test_missing_match_targets_raise() -> None:
    model = tiny_model().train()
    images, targets = synthetic_pair()
    del targets[1]["source"]
    with pytest.raises(FashionVisionError, match=r"targets\[1\].*source"):
        model(images, targets)


@pytest.mark.slow
def test_overfits_two_synthetic_images() -> None:
    """30 Adam steps on one user/shop pair: every stream's loss falls well below its start."""
    model = tiny_model(min_size=96, max_size=96)
    images, targets = synthetic_pair()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=2e-3)
    model.train()
    history = []
    for _ in range(30):
        losses = model(images, targets)
        history.append({k: v.item() for k, v in losses.items()})
        optimizer.zero_grad()
        sum(losses.values()).backward()
        # (v1 - v2)^2 is unbounded: clipping keeps an early large pair logit from derailing the run.
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
    first, last = history[0], {k: sum(h[k] for h in history[-5:]) / 5 for k in history[0]}
    for key in ("loss_classifier", "loss_mask", "loss_pair", "loss_objectness"):
        assert last[key] < 0.5 * first[key], (key, first[key], last[key])
    # A 56x56 softmax starts at log(3136) = 8.05 and moves slowest; a 1-nat drop = 2.7x likelihood.
    assert last["loss_landmark"] < first["loss_landmark"] - 1.0, (
        first["loss_landmark"],
        last["loss_landmark"],
    )
