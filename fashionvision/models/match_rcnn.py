"""Match R-CNN (DeepFashion2): ResNet-FPN + RPN + `MatchRoIHeads` + torchvision's image transform.

`build_match_rcnn` composes torchvision parts with torchvision's Mask R-CNN defaults, so with the
landmark, matching and attribute streams off the model *is* torchvision's Mask R-CNN (same
state-dict keys, same outputs).  The model follows torchvision's detection convention:

* ``model(images: list[Tensor[3, H, W]] in [0, 1], targets)`` in training returns the raw
  (unweighted) losses loss_objectness, loss_rpn_box_reg, loss_classifier, loss_box_reg, loss_mask,
  loss_landmark, loss_pair, loss_attribute (each present when its stream is on); the λ weights are
  applied by fashionvision.engine.
* ``model(images)`` in eval returns one dict per image in original pixels: boxes `[K, 4]` xyxy,
  labels `[K]`, scores `[K]`, masks `[K, 1, H, W]` probabilities, landmarks `[n, 294, 3]` (x, y,
  score) and embeddings `[n, D]` for the n <= K best detections the streams ran on (all unless
  `stream_detections_per_img` caps them), and with `num_attributes` = A > 0 attribute_scores
  `[K, A]` (sigmoid probabilities, every detection); ``model.roi_heads.pair_similarity(a, b)``
  compares embeddings.
* ``model.forward_with_boxes(images, boxes)`` is the eval forward plus, for given boxes from the
  same features, the box classifier's probabilities and the matching embeddings (GT-box
  classification and retrieval without a second backbone pass).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import torch
from torch import Tensor, nn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import (
    FastRCNNConvFCHead,
    FastRCNNPredictor,
    TwoMLPHead,
)
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
from torchvision.models.detection.transform import (
    GeneralizedRCNNTransform,
    resize_boxes,
    resize_keypoints,
)
from torchvision.ops import MultiScaleRoIAlign

from fashionvision.errors import FashionVisionError
from fashionvision.models.backbones import build_backbone, group_norm
from fashionvision.models.landmark_head import LandmarkHead
from fashionvision.models.matching_head import MatchingHead, PairSimilarity
from fashionvision.models.roi_heads import AttributeHead, MatchRoIHeads
from fashionvision.models.sparse_roi_align import SparseMultiScaleRoIAlign

_FEATURE_NAMES = ["0", "1", "2", "3"]
BoxHeadKind = Literal["2fc", "4conv1fc"]
BOX_HEAD_KINDS: tuple[str, ...] = get_args(BoxHeadKind)
# torchvision's FasterRCNN/MaskRCNN defaults; any of them can be overridden through the builder.
TORCHVISION_DEFAULTS: dict[str, Any] = {
    "rpn_pre_nms_top_n_train": 2000,
    "rpn_pre_nms_top_n_test": 1000,
    "rpn_post_nms_top_n_train": 2000,
    "rpn_post_nms_top_n_test": 1000,
    "rpn_nms_thresh": 0.7,
    "rpn_fg_iou_thresh": 0.7,
    "rpn_bg_iou_thresh": 0.3,
    "rpn_positive_fraction": 0.5,
    "rpn_score_thresh": 0.0,
    "box_score_thresh": 0.05,
    "box_nms_thresh": 0.5,
    "box_detections_per_img": 100,
    "box_fg_iou_thresh": 0.5,
    "box_bg_iou_thresh": 0.5,
    "box_positive_fraction": 0.25,
    "bbox_reg_weights": None,
    "image_mean": [0.485, 0.456, 0.406],
    "image_std": [0.229, 0.224, 0.225],
}


class MatchTransform(GeneralizedRCNNTransform):
    """torchvision's resize/normalise/batch transform that also maps predicted `landmarks`
    `[K, 294, 3]` back to original image pixels (as torchvision does for `keypoints`)."""

    def postprocess(
        self,
        result: list[dict[str, Tensor]],
        image_shapes: list[tuple[int, int]],
        original_image_sizes: list[tuple[int, int]],
    ) -> list[dict[str, Tensor]]:
        result = super().postprocess(result, image_shapes, original_image_sizes)
        if self.training:
            return result
        for pred, shape, original in zip(result, image_shapes, original_image_sizes, strict=True):
            if "landmarks" in pred:
                pred["landmarks"] = resize_keypoints(pred["landmarks"], shape, original)
        return result


class MatchRCNN(GeneralizedRCNN):
    """Backbone + RPN + `MatchRoIHeads` + `MatchTransform` (see the module docstring)."""

    roi_heads: MatchRoIHeads

    def __init__(
        self,
        backbone: nn.Module,
        rpn: RegionProposalNetwork,
        roi_heads: MatchRoIHeads,
        transform: MatchTransform,
    ) -> None:
        super().__init__(backbone, rpn, roi_heads, transform)

    def forward_with_boxes(
        self, images: list[Tensor], boxes: list[Tensor]
    ) -> list[dict[str, Tensor]]:
        """The eval forward, each result dict also holding, for the given `boxes[i]` [n_i, 4]
        (xyxy, original pixels of image i), ``box_class_scores`` [n_i, C] (the box classifier's
        probabilities, column 0 the background) and, with a matching stream, ``box_embeddings``
        [n_i, D] (the matching embeddings)."""
        if self.training:
            raise FashionVisionError("forward_with_boxes runs in eval mode (call model.eval())")
        original_sizes = [(int(img.shape[-2]), int(img.shape[-1])) for img in images]
        image_list, _ = self.transform(images)
        features = self.backbone(image_list.tensors)
        proposals, _ = self.rpn(image_list, features)
        detections, _ = self.roi_heads(features, proposals, image_list.image_sizes)
        detections = self.transform.postprocess(detections, image_list.image_sizes, original_sizes)
        scaled = [
            resize_boxes(b.to(image_list.tensors.device, torch.float32), orig, new)
            for b, orig, new in zip(boxes, original_sizes, image_list.image_sizes, strict=True)
        ]
        classified = self.roi_heads.classify_boxes(features, scaled, image_list.image_sizes)
        for det, probs in zip(detections, classified, strict=True):
            det["box_class_scores"] = probs
        if self.roi_heads.matching_head is not None:
            embedded = self.roi_heads.embed_boxes(features, scaled, image_list.image_sizes)
            for det, emb in zip(detections, embedded, strict=True):
                det["box_embeddings"] = emb
        return detections


def _build_rpn(
    channels: int, batch_size_per_image: int, opts: dict[str, Any]
) -> RegionProposalNetwork:
    """torchvision's FPN RPN: one anchor size per level (32..512), ratios 0.5/1/2."""
    anchors = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    return RegionProposalNetwork(
        anchors,
        RPNHead(channels, anchors.num_anchors_per_location()[0]),
        opts["rpn_fg_iou_thresh"],
        opts["rpn_bg_iou_thresh"],
        batch_size_per_image,
        opts["rpn_positive_fraction"],
        {"training": opts["rpn_pre_nms_top_n_train"], "testing": opts["rpn_pre_nms_top_n_test"]},
        {"training": opts["rpn_post_nms_top_n_train"], "testing": opts["rpn_post_nms_top_n_test"]},
        opts["rpn_nms_thresh"],
        score_thresh=opts["rpn_score_thresh"],
    )


RoIAlignKind = Literal["torchvision", "sparse"]
ROI_ALIGN_KINDS: tuple[str, ...] = get_args(RoIAlignKind)


# The FPN paper's level mapping: a box of this side (in input pixels) pools from P4, each halving
# or doubling one level down or up.  224 suits 800-px inputs; at the tiny preset's 256 px every
# garment falls on P2-P3, the shallowest levels, unless the scale shrinks with the input.
CANONICAL_SCALE = 224


def roi_pooler(
    output_size: int, kind: RoIAlignKind, canonical_scale: float = CANONICAL_SCALE
) -> MultiScaleRoIAlign:
    """The FPN RoIAlign of a head (sampling ratio 2, as torchvision's Mask R-CNN): ``torchvision``
    its kernel; ``sparse`` the same pooling as one sparse-matrix product on the CPU
    (`SparseMultiScaleRoIAlign`, a faster training step there; torchvision's kernel on CUDA).
    A box of side `canonical_scale` pools from P4 (torchvision's `canonical_scale`)."""
    if canonical_scale <= 0:
        raise FashionVisionError(
            f"model.roi_canonical_scale: expected a side in pixels > 0, got {canonical_scale}"
        )
    cls = SparseMultiScaleRoIAlign if kind == "sparse" else MultiScaleRoIAlign
    return cls(
        _FEATURE_NAMES, output_size=output_size, sampling_ratio=2, canonical_scale=canonical_scale
    )


class ContextRoIPool(nn.Module):
    """A RoIAlign over each box enlarged `factor` times (width and height) about its centre.

    A proposal that covers only part of a garment (the skirt of a dress, a top without its
    sleeves) cuts off what tells neighbouring categories apart; the enlarged RoI shows the
    classifier the garment's surroundings.  Each box still pools from the FPN level of its own
    size: `pooler` must map levels with `factor` times the canonical scale (`context_roi_pooler`).
    Enlarged boxes are not clipped to the image: their bins keep one geometry relative to the box,
    and samples beyond the feature map read zeros, as RoIAlign does."""

    def __init__(self, pooler: MultiScaleRoIAlign, factor: float) -> None:
        super().__init__()
        self.pooler = pooler
        self.factor = factor

    def forward(
        self, x: dict[str, Tensor], boxes: list[Tensor], image_shapes: list[tuple[int, int]]
    ) -> Tensor:
        return self.pooler(x, [enlarge_boxes(b, self.factor) for b in boxes], image_shapes)


def enlarge_boxes(boxes: Tensor, factor: float) -> Tensor:
    """xyxy `boxes` [N, 4] scaled `factor` times in width and height about their centres."""
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    half = (boxes[:, 2:] - boxes[:, :2]) * (factor / 2)
    return torch.cat([centre - half, centre + half], dim=1)


def context_roi_pooler(
    output_size: int, kind: RoIAlignKind, canonical_scale: float, factor: float
) -> nn.Module:
    """`roi_pooler` over boxes enlarged `factor` times (`ContextRoIPool`), each pooled from the
    level of its unenlarged size; `factor` 1 is the plain pooler."""
    if not factor >= 1.0:
        raise FashionVisionError(
            f"model.box_roi_context: expected a factor >= 1 (1 = the box itself), got {factor}"
        )
    if factor == 1.0:
        return roi_pooler(output_size, kind, canonical_scale)
    # log2(factor * side / (factor * canonical)) = log2(side / canonical): the box's own level
    return ContextRoIPool(roi_pooler(output_size, kind, canonical_scale * factor), factor)


def _stream_modules(
    channels: int,
    landmarks: bool,
    matching: bool,
    landmark_width: int,
    landmark_convs: int,
    matching_width: int,
    matching_dim: int,
    stream_roi_size: int,
    matching_roi_size: int | None,
    roi_align: RoIAlignKind,
    canonical_scale: int,
) -> dict[str, nn.Module | None]:
    """The landmark/matching stream modules for MatchRoIHeads (None when switched off)."""
    streams: dict[str, nn.Module | None] = {
        "stream_roi_pool": None,
        "matching_roi_pool": None,
        "landmark_head": None,
        "matching_head": None,
        "similarity": None,
    }
    if landmarks or matching:
        streams["stream_roi_pool"] = roi_pooler(stream_roi_size, roi_align, canonical_scale)
    if landmarks:
        streams["landmark_head"] = LandmarkHead(channels, landmark_width, landmark_convs)
    if matching and matching_roi_size not in (None, stream_roi_size):
        streams["matching_roi_pool"] = roi_pooler(matching_roi_size, roi_align, canonical_scale)
    if matching:
        streams["matching_head"] = MatchingHead(channels, matching_width, matching_dim)
        streams["similarity"] = PairSimilarity(matching_dim)
    return streams


def _box_head(
    kind: str, channels: int, roi_size: int, representation_size: int, norm: str
) -> nn.Module:
    """The detection stream's hidden layers: RoI features -> `representation_size` features."""
    if kind == "2fc":
        return TwoMLPHead(channels * roi_size**2, representation_size)
    if kind == "4conv1fc":
        # a frozen BatchNorm would stay the identity in a head trained from random init
        norm_layer = group_norm if norm == "gn" else nn.BatchNorm2d
        return FastRCNNConvFCHead(
            (channels, roi_size, roi_size), [channels] * 4, [representation_size], norm_layer
        )
    raise FashionVisionError(
        f"model.box_head: expected one of {list(BOX_HEAD_KINDS)}, got {kind!r}"
    )


def build_match_rcnn(
    num_classes: int = 14,
    backbone: str = "resnet50",
    norm: str = "frozen_bn",
    fpn_channels: int = 256,
    weights: str | None = None,
    backbone_width: float = 1.0,
    min_size: int = 800,
    max_size: int = 1333,
    rpn_batch_size_per_image: int = 256,
    box_batch_size_per_image: int = 512,
    representation_size: int = 1024,
    mask_head_width: int = 256,
    landmark_head_width: int = 512,
    landmark_convs: int = 8,
    matching_width: int = 256,
    matching_dim: int = 256,
    pair_neg_ratio: int = 3,
    pair_same_category_share: float = 0.0,
    landmarks: bool = True,
    matching: bool = True,
    masks: bool = True,
    trainable_layers: int | None = None,
    stream_detections_per_img: int | None = None,
    stream_roi_size: int = 14,
    matching_roi_size: int | None = None,
    box_roi_size: int = 7,
    box_roi_context: float = 1.0,
    box_head: BoxHeadKind = "2fc",
    num_attributes: int = 0,
    roi_align: RoIAlignKind = "torchvision",
    roi_canonical_scale: int = CANONICAL_SCALE,
    box_cross_class_nms_thresh: float | None = None,
    **torchvision_kwargs: Any,
) -> MatchRCNN:
    """Build Match R-CNN; `num_classes` counts the background (13 garments + 1).

    Backbone options are those of `build_backbone` (`backbone_width` = its `width`); head widths
    size the streams (the paper's values are the defaults); `torchvision_kwargs` override
    `TORCHVISION_DEFAULTS` (RPN/box thresholds and proposal counts, image mean/std).
    `stream_detections_per_img` limits the landmark/matching streams at inference to the best k
    detections per image (None = all).
    `stream_roi_size` is the RoIAlign output side of the landmark/matching streams: 14 gives the
    paper's 56x56 heatmaps after the two deconvolutions; 7 gives 28x28 (coarser, 4x cheaper).
    `pair_same_category_share` of the pair loss's negatives are drawn from two different
    garments of the same category where a batch has them (0 = uniformly at random).
    `box_roi_size` is the box head's RoIAlign side (7: the paper's and torchvision's).
    `box_roi_context` > 1 lets the box head (classifier and regressor) pool each RoI enlarged that
    many times about its centre, from the FPN level of the RoI's own size (`ContextRoIPool`);
    1 = the RoI itself, as torchvision.
    `box_head`: ``2fc`` (the paper's two hidden fc layers, torchvision's `TwoMLPHead`) or
    ``4conv1fc`` (torchvision's `FastRCNNConvFCHead`: four normalised 3x3 convs of
    `fpn_channels` and one fc, the head of from-scratch GroupNorm training in "Rethinking
    ImageNet Pre-training"; GroupNorm when `norm` is ``gn``, else BatchNorm).
    `matching_roi_size` gives the matching stream a RoIAlign side of its own (None = the same
    pooled features as the landmark stream).
    `num_attributes` > 0 adds the multi-label attribute head (`AttributeHead`, A logits on the
    box head's `representation_size` features; targets ``attributes [N, A]``); 0 = none.
    `roi_canonical_scale`: the box side, in input pixels, that every head's RoIAlign pools from
    P4 (the FPN paper's 224, for 800-px inputs); smaller sends boxes to deeper levels.
    `box_cross_class_nms_thresh`: in eval, an NMS across classes after torchvision's per-class
    one (IoU in (0, 1]; None = off): where boxes of different classes overlap more, only the
    best-scoring class is kept.
    """
    unknown = set(torchvision_kwargs) - set(TORCHVISION_DEFAULTS)
    if unknown:
        raise FashionVisionError(f"model: unknown option(s) {sorted(unknown)}")
    if landmarks and num_classes != 14:
        raise FashionVisionError(
            "model.num_classes: the landmark stream needs the 13 DeepFashion2 classes + 1"
        )
    if not 0.0 <= pair_same_category_share <= 1.0:
        raise FashionVisionError(
            "model.pair_same_category_share: expected a share in [0, 1], "
            f"got {pair_same_category_share}"
        )
    if num_attributes < 0:
        raise FashionVisionError(
            f"model.num_attributes: expected >= 0 (0 = no attribute head), got {num_attributes}"
        )
    if box_cross_class_nms_thresh is not None and not 0.0 < box_cross_class_nms_thresh <= 1.0:
        raise FashionVisionError(
            "model.box_cross_class_nms_thresh: expected an IoU in (0, 1] or null, "
            f"got {box_cross_class_nms_thresh}"
        )
    opts = {**TORCHVISION_DEFAULTS, **torchvision_kwargs}
    if not 0.0 < opts["box_positive_fraction"] <= 1.0:
        raise FashionVisionError(
            "model.box_positive_fraction: expected a share in (0, 1], "
            f"got {opts['box_positive_fraction']}"
        )
    body = build_backbone(backbone, norm, fpn_channels, trainable_layers, weights, backbone_width)  # type: ignore[arg-type]
    if roi_align not in ROI_ALIGN_KINDS:
        raise FashionVisionError(
            f"model.roi_align: expected one of {list(ROI_ALIGN_KINDS)}, got {roi_align!r}"
        )
    box_pool = context_roi_pooler(box_roi_size, roi_align, roi_canonical_scale, box_roi_context)
    mask_parts: dict[str, nn.Module | None] = {
        "mask_roi_pool": None,
        "mask_head": None,
        "mask_predictor": None,
    }
    if masks:
        mask_parts = {
            "mask_roi_pool": roi_pooler(14, roi_align, roi_canonical_scale),
            "mask_head": MaskRCNNHeads(fpn_channels, [mask_head_width] * 4, 1),
            "mask_predictor": MaskRCNNPredictor(mask_head_width, mask_head_width, num_classes),
        }
    roi_heads = MatchRoIHeads(
        box_pool,
        _box_head(box_head, fpn_channels, box_roi_size, representation_size, norm),
        FastRCNNPredictor(representation_size, num_classes),
        opts["box_fg_iou_thresh"],
        opts["box_bg_iou_thresh"],
        box_batch_size_per_image,
        opts["box_positive_fraction"],
        opts["bbox_reg_weights"],
        opts["box_score_thresh"],
        opts["box_nms_thresh"],
        opts["box_detections_per_img"],
        **mask_parts,
        **_stream_modules(
            fpn_channels,
            landmarks,
            matching,
            landmark_head_width,
            landmark_convs,
            matching_width,
            matching_dim,
            stream_roi_size,
            matching_roi_size,
            roi_align,
            roi_canonical_scale,
        ),
        pair_neg_ratio=pair_neg_ratio,
        pair_same_category_share=pair_same_category_share,
        stream_detections_per_img=stream_detections_per_img,
        attribute_head=(
            AttributeHead(representation_size, num_attributes) if num_attributes > 0 else None
        ),
        cross_class_nms_thresh=box_cross_class_nms_thresh,
    )
    transform = MatchTransform(min_size, max_size, opts["image_mean"], opts["image_std"])
    rpn = _build_rpn(fpn_channels, rpn_batch_size_per_image, opts)
    return MatchRCNN(body, rpn, roi_heads, transform)
