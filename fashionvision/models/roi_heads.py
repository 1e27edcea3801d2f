"""`MatchRoIHeads`: torchvision's `RoIHeads` (box + mask) plus the landmark, matching and attribute
streams.

`forward` runs torchvision's box and mask streams through ``super().forward`` (keypoint heads None)
and then the two Match R-CNN streams on a separate 14x14 `MultiScaleRoIAlign`, shared by both:

* training: on the positive proposals that torchvision's sampler chose (obtained by wrapping
  `select_training_samples`, which ``super().forward`` calls, rather than sampling twice);
* eval: on the final detections (or the best `stream_detections_per_img` of them), adding
  ``landmarks [n, 294, 3]`` (x, y, score; zeros outside the predicted label's slice) and
  ``embeddings [n, D]`` for those n detections to every result dict.

The optional attribute stream (an attribute-aware Mask R-CNN, for iMaterialist/Fashionpedia-style
data) is a linear multi-label predictor (`AttributeHead`) on the box head's representation, i.e.
on the very features the box predictor classifies:

* training: on the box head's output for the positive sampled proposals (caught from the box
  stream's own forward, not recomputed), each against the multi-hot of its matched GT instance;
  ``loss_attribute`` is the mean binary cross-entropy over those proposals x attributes;
* eval: the box features are pooled again on the final detection boxes, as the mask stream does
  (torchvision keeps no link from a detection to its proposal), and ``attribute_scores [K, A]``
  (sigmoid) is added for all K detections (the head is one linear layer: no
  `stream_detections_per_img` cap).

Targets per image (the Dataset contract): boxes `[N, 4]` xyxy, labels `[N]`, masks `[N, H, W]`,
keypoints `[N, 294, 3]`, pair_id `[N]`, style `[N]`, source "user" | "shop"; with the attribute
stream optionally attributes `[N, A]` multi-hot (float or uint8; an image without the key adds
nothing to ``loss_attribute``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.ops import MultiScaleRoIAlign
from torchvision.ops import boxes as box_ops

from fashionvision.engine.distributed import process_group_size
from fashionvision.errors import FashionVisionError
from fashionvision.models.landmark_head import (
    LandmarkHead,
    decode_landmarks,
    encode_landmark_targets,
    landmark_loss,
)
from fashionvision.models.matching_head import (
    MatchingHead,
    PairSimilarity,
    global_pair_loss,
    pair_probabilities,
)

_MATCH_KEYS = ("pair_id", "style", "source")
ATTRIBUTE_KEY = "attributes"


class AttributeHead(nn.Module):
    """Multi-label attribute logits `[R, A]` from the box head's representation `[R, C]`.

    One linear layer, beside torchvision's `FastRCNNPredictor` on the same features: the box
    head's two fc layers are already a learned representation, shared with the classifier and
    trained by the attribute loss too (which is what makes the detector attribute-aware); a hidden
    layer of its own would add C x C parameters and let the attributes bypass that sharing.
    """

    def __init__(self, in_channels: int, num_attributes: int) -> None:
        super().__init__()
        if num_attributes < 1:
            raise ValueError(f"num_attributes must be >= 1, got {num_attributes}")
        self.attr_score = nn.Linear(in_channels, num_attributes)

    @property
    def num_attributes(self) -> int:
        return self.attr_score.out_features

    def forward(self, x: Tensor) -> Tensor:
        # flatten like FastRCNNPredictor, so a box head with [R, C, 1, 1] output works too
        return self.attr_score(x.flatten(1))


def attribute_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean binary cross-entropy with logits of `logits [R, A]` against multi-hot `targets [R, A]`
    (mean over R x A); 0 connected to the graph when R = 0, so that every parameter still takes
    part in the backward (DDP) and the loss key is there at every step."""
    if logits.numel() == 0:
        return logits.sum() * 0.0
    # float32 whatever the autocast dtype: many near-0 probabilities of sparse attributes
    return F.binary_cross_entropy_with_logits(logits.float(), targets.float())


class MatchRoIHeads(RoIHeads):
    """RoIHeads with optional landmark and matching streams (see the module docstring).

    Args:
        *args, **kwargs: torchvision `RoIHeads` arguments (box and mask parts).
        stream_roi_pool: pooler for the landmark and matching streams (14x14 expected).
        matching_roi_pool: a pooler of its own for the matching stream (another RoI size than
            the landmarks'); None = the matching stream reads `stream_roi_pool`'s features.
        landmark_head: `LandmarkHead` or None to switch the stream off.
        matching_head: `MatchingHead` or None to switch the stream off.
        attribute_head: `AttributeHead` on the box head's output or None to switch it off.
        similarity: `PairSimilarity` over the matching embeddings (required with matching_head).
        pair_neg_ratio: negatives per positive pair in the pair loss.
        pair_same_category_share: share of those negatives drawn from pairs of two different
            garments of the same category, where a batch has them (`sample_pairs`).
        max_positive_pairs: cap on the positive pairs per batch (None = all).
        stream_detections_per_img: in eval, run the streams on this many best detections per
            image only (None = all); e.g. 20, the landmark AP's maxDets, bounds their cost.
        cross_class_nms_thresh: in eval, after torchvision's per-class NMS, drop a detection
            whose box overlaps a higher-scoring detection of any class by more than this IoU
            (mmdetection's class-agnostic NMS); None = off, torchvision's behaviour.
    """

    # Written by the training forward (class-level defaults keep `__init__` as it is):
    # (positive, negative) pairs of the last pair loss, over the global batch under
    # torch.distributed (for logging); and the training steps so far, which seed the pair sampling.
    last_pair_counts: tuple[int, int] | None = None
    _pair_steps: int = 0

    def __init__(
        self,
        *args: Any,
        stream_roi_pool: MultiScaleRoIAlign | None = None,
        matching_roi_pool: MultiScaleRoIAlign | None = None,
        landmark_head: LandmarkHead | None = None,
        matching_head: MatchingHead | None = None,
        similarity: PairSimilarity | None = None,
        pair_neg_ratio: int = 3,
        pair_same_category_share: float = 0.0,
        max_positive_pairs: int | None = 256,
        stream_detections_per_img: int | None = None,
        attribute_head: AttributeHead | None = None,
        cross_class_nms_thresh: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if (landmark_head is not None or matching_head is not None) and stream_roi_pool is None:
            raise ValueError("stream_roi_pool is required by the landmark and matching streams")
        if matching_head is not None and similarity is None:
            raise ValueError("matching_head needs a PairSimilarity")
        self.stream_roi_pool = stream_roi_pool
        self.matching_roi_pool = matching_roi_pool
        self.landmark_head = landmark_head
        self.matching_head = matching_head
        self.similarity = similarity
        self.pair_neg_ratio = pair_neg_ratio
        self.pair_same_category_share = pair_same_category_share
        self.max_positive_pairs = max_positive_pairs
        self.stream_detections_per_img = stream_detections_per_img
        self.attribute_head = attribute_head
        self.cross_class_nms_thresh = cross_class_nms_thresh
        self._sampled: tuple[list[Tensor], list[Tensor], list[Tensor]] | None = None

    def select_training_samples(
        self, proposals: list[Tensor], targets: list[dict[str, Tensor]] | None
    ) -> tuple[list[Tensor], list[Tensor], list[Tensor], list[Tensor]]:
        """torchvision's sampler; the chosen proposals, matched GT indices and labels are kept for
        the extra streams, which must train on the same RoIs as the box and mask streams."""
        proposals, matched_idxs, labels, regression_targets = super().select_training_samples(
            proposals, targets
        )
        self._sampled = (proposals, matched_idxs, labels)
        return proposals, matched_idxs, labels, regression_targets

    def postprocess_detections(
        self,
        class_logits: Tensor,
        box_regression: Tensor,
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
    ) -> tuple[list[Tensor], list[Tensor], list[Tensor]]:
        """torchvision's per-class decoding and NMS, then the optional cross-class NMS.

        Per-class NMS keeps one box per class above the score floor for every proposal, so
        each garment also yields low-score boxes of the categories it resembles; each is a
        false positive in that category's ranking. The cross-class pass keeps only the best
        class where boxes overlap by more than `cross_class_nms_thresh`."""
        boxes, scores, labels = super().postprocess_detections(
            class_logits, box_regression, proposals, image_shapes
        )
        if self.cross_class_nms_thresh is None:
            return boxes, scores, labels
        thresh = self.cross_class_nms_thresh
        keeps = [box_ops.nms(b, s, thresh) for b, s in zip(boxes, scores, strict=True)]
        return (
            [b[k] for b, k in zip(boxes, keeps, strict=True)],
            [s[k] for s, k in zip(scores, keeps, strict=True)],
            [lab[k] for lab, k in zip(labels, keeps, strict=True)],
        )

    @property
    def has_streams(self) -> bool:
        """Whether the landmark or matching stream (on the stream RoI pool) is on."""
        return self.landmark_head is not None or self.matching_head is not None

    def forward(  # type: ignore[override]
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Any]] | None = None,
    ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        """Box/mask results and losses of torchvision plus the landmark, matching and attribute
        streams."""
        attributes = self.attribute_head is not None
        if self.training:
            _check_stream_targets(
                targets, self.landmark_head is not None, self.matching_head is not None
            )
            if self.attribute_head is not None:
                _check_attribute_targets(targets, self.attribute_head.num_attributes)
        self._sampled = None
        box_features: list[Tensor] = []
        hook = None
        if self.training and attributes:
            # the training loss uses the box head's output for the sampled proposals, which
            # super().forward computes and drops; a hook scoped to this call keeps it (and keeps
            # working if box_head is replaced after construction)
            hook = self.box_head.register_forward_hook(
                lambda _module, _inputs, output: box_features.append(output)
            )
        try:
            result, losses = super().forward(features, proposals, image_shapes, targets)
        finally:
            if hook is not None:
                hook.remove()
        sampled, self._sampled = self._sampled, None
        if self.training:
            assert sampled is not None and targets is not None
            if self.has_streams:
                losses.update(self._stream_losses(features, image_shapes, targets, *sampled))
            if attributes:
                assert len(box_features) == 1, "the box head ran more than once"
                _, matched_idxs, labels = sampled
                losses["loss_attribute"] = self._attribute_loss(
                    box_features[0], targets, matched_idxs, labels
                )
        else:
            if self.has_streams:
                self._stream_inference(features, image_shapes, result)
            if attributes:
                self._attribute_inference(features, image_shapes, result)
        return result, losses

    def _attribute_loss(
        self,
        box_features: Tensor,
        targets: list[dict[str, Any]],
        matched_idxs: list[Tensor],
        labels: list[Tensor],
    ) -> Tensor:
        """loss_attribute over the positive sampled proposals of the images that have attributes.

        `box_features` holds the rows of all images' sampled proposals in image order (how
        box_roi_pool concatenates them); `matched_idxs`/`labels` are the sampler's, per image.
        """
        assert self.attribute_head is not None
        rows, gt = [], []
        start = 0
        for t, m, lab in zip(targets, matched_idxs, labels, strict=True):
            if ATTRIBUTE_KEY in t:
                pos = torch.nonzero(lab > 0).squeeze(1)
                rows.append(pos + start)
                gt.append(t[ATTRIBUTE_KEY].to(box_features.device)[m[pos]])
            start += len(lab)
        if start != len(box_features):
            raise FashionVisionError(
                f"attribute stream: the box head gave {len(box_features)} rows for {start} "
                "sampled proposals"
            )
        if not rows:
            # no image of the batch has attributes: zero, but with the head in the graph
            return attribute_loss(self.attribute_head(box_features[:0]), box_features.new_zeros(0))
        logits = self.attribute_head(box_features[torch.cat(rows)])
        return attribute_loss(logits, torch.cat(gt))

    def _attribute_inference(
        self,
        features: dict[str, Tensor],
        image_shapes: list[tuple[int, int]],
        result: list[dict[str, Tensor]],
    ) -> None:
        """Add attribute_scores [K, A] (sigmoid) for every detection to each result dict (in
        place), from the box features pooled again on the detected boxes."""
        assert self.attribute_head is not None
        boxes = [r["boxes"] for r in result]
        box_features = self.box_head(self.box_roi_pool(features, boxes, image_shapes))
        scores = torch.sigmoid(self.attribute_head(box_features))
        for r, s in zip(result, scores.split([len(b) for b in boxes]), strict=True):
            r["attribute_scores"] = s

    def _stream_losses(
        self,
        features: dict[str, Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Any]],
        proposals: list[Tensor],
        matched_idxs: list[Tensor],
        labels: list[Tensor],
    ) -> dict[str, Tensor]:
        """loss_landmark and loss_pair on the positive sampled proposals of every image."""
        pos = [torch.nonzero(lab > 0).squeeze(1) for lab in labels]
        rois = [p[i] for p, i in zip(proposals, pos, strict=True)]
        gt_idx = [m[i] for m, i in zip(matched_idxs, pos, strict=True)]
        roi_labels = torch.cat([lab[i] for lab, i in zip(labels, pos, strict=True)])
        pooled = self.stream_roi_pool(features, rois, image_shapes)
        losses: dict[str, Tensor] = {}
        if self.landmark_head is not None:
            logits = self.landmark_head(pooled, roi_labels)
            gt_landmarks = torch.cat(
                [t["keypoints"][g] for t, g in zip(targets, gt_idx, strict=True)]
            )
            heatmap_targets, valid = encode_landmark_targets(
                gt_landmarks, roi_labels, torch.cat(rois), logits.shape[-1]
            )
            losses["loss_landmark"] = landmark_loss(logits, heatmap_targets, valid)
        if self.matching_head is not None:
            assert self.similarity is not None
            emb = self.matching_head(self._matching_features(features, rois, image_shapes, pooled))
            pair_ids = torch.cat(
                [t["pair_id"].to(emb.device)[g] for t, g in zip(targets, gt_idx, strict=True)]
            )
            styles = torch.cat(
                [t["style"].to(emb.device)[g] for t, g in zip(targets, gt_idx, strict=True)]
            )
            is_user = torch.cat(
                [
                    torch.full_like(g, t["source"] == "user", dtype=torch.bool)
                    for t, g in zip(targets, gt_idx, strict=True)
                ]
            )
            losses["loss_pair"], positives, negatives = global_pair_loss(
                self.similarity,
                emb,
                pair_ids,
                styles,
                is_user,
                self.pair_neg_ratio,
                self.max_positive_pairs,
                self._pair_generator(),
                roi_labels,
                self.pair_same_category_share,
            )
            self.last_pair_counts = (positives, negatives)
        return losses

    def _pair_generator(self) -> torch.Generator | None:
        """None in a single process (the global RNG, as before); under torch.distributed a
        generator seeded from the count of training steps, which is the same on every rank (each
        rank runs one forward per step), so that all ranks sample the same pairs."""
        self._pair_steps += 1
        if process_group_size() == 1:
            return None
        return torch.Generator().manual_seed(self._pair_steps)

    def _stream_inference(
        self,
        features: dict[str, Tensor],
        image_shapes: list[tuple[int, int]],
        result: list[dict[str, Tensor]],
    ) -> None:
        """Add landmarks [n, 294, 3] and embeddings [n, D] to each result dict (in place).

        n is the number of detections the streams ran on: all K of them, or with
        `stream_detections_per_img` = k the best min(k, K) (results are sorted by score), so row i
        of ``landmarks``/``embeddings`` belongs to detection i and detections i >= n have none.
        Nothing is padded: a zero row would pass downstream for a real prediction.
        """
        k = self.stream_detections_per_img
        boxes = [r["boxes"] if k is None else r["boxes"][:k] for r in result]
        pooled = self.stream_roi_pool(features, boxes, image_shapes)
        counts = [len(b) for b in boxes]
        if self.landmark_head is not None:
            labels = torch.cat([r["labels"][:n] for r, n in zip(result, counts, strict=True)])
            logits = self.landmark_head(pooled, labels)
            landmarks = decode_landmarks(logits, labels, torch.cat(boxes))
            for r, lm in zip(result, landmarks.split(counts), strict=True):
                r["landmarks"] = lm
        if self.matching_head is not None:
            matching_in = self._matching_features(features, boxes, image_shapes, pooled)
            embeddings = self.matching_head(matching_in).split(counts)
            for r, emb in zip(result, embeddings, strict=True):
                r["embeddings"] = emb

    def classify_boxes(
        self,
        features: dict[str, Tensor],
        boxes: list[Tensor],
        image_shapes: list[tuple[int, int]],
    ) -> list[Tensor]:
        """The box classifier's probabilities [n_i, C] (softmax, column 0 the background) for
        given boxes [n_i, 4] (xyxy, pixels of the resized input) per image: the pooling, box
        head and predictor a proposal goes through, without regression or NMS.  On the
        ground-truth boxes this scores the classifier apart from the proposals."""
        pooled = self.box_roi_pool(features, boxes, image_shapes)
        logits, _ = self.box_predictor(self.box_head(pooled))
        return list(torch.softmax(logits, dim=-1).split([len(b) for b in boxes]))

    def embed_boxes(
        self,
        features: dict[str, Tensor],
        boxes: list[Tensor],
        image_shapes: list[tuple[int, int]],
    ) -> list[Tensor]:
        """Matching embeddings [n_i, D] of given boxes [n_i, 4] (xyxy, pixels of the resized
        input) per image: the path the eval forward takes for its detections."""
        if self.matching_head is None or self.stream_roi_pool is None:
            raise FashionVisionError("model.matching: this model has no matching stream")
        pool = self.matching_roi_pool or self.stream_roi_pool
        pooled = pool(features, boxes, image_shapes)
        return list(self.matching_head(pooled).split([len(b) for b in boxes]))

    def _matching_features(
        self,
        features: dict[str, Tensor],
        boxes: list[Tensor],
        image_shapes: list[tuple[int, int]],
        stream_pooled: Tensor,
    ) -> Tensor:
        """The matching stream's RoI features: its own pooler's where it has one, otherwise
        the landmark stream's (pooled once for both)."""
        if self.matching_roi_pool is None:
            return stream_pooled
        return self.matching_roi_pool(features, boxes, image_shapes)

    def pair_similarity(self, emb_a: Tensor, emb_b: Tensor) -> Tensor:
        """Match probabilities `[A, B]` between embeddings `emb_a [A, D]` and `emb_b [B, D]`."""
        if self.similarity is None:
            raise FashionVisionError(
                "model.matching: this model was built without the matching stream"
            )
        return pair_probabilities(self.similarity, emb_a, emb_b)


def _check_attribute_targets(targets: list[dict[str, Any]] | None, num_attributes: int) -> None:
    """`attributes`, where given, must be [N, A] and aligned with the boxes."""
    for i, t in enumerate(targets or []):
        if ATTRIBUTE_KEY not in t:
            continue
        attrs = t[ATTRIBUTE_KEY]
        expected = (len(t["boxes"]), num_attributes)
        if not isinstance(attrs, Tensor) or tuple(attrs.shape) != expected:
            got = tuple(attrs.shape) if isinstance(attrs, Tensor) else type(attrs).__name__
            raise FashionVisionError(
                f"targets[{i}].{ATTRIBUTE_KEY}: expected a tensor of shape {expected} "
                f"(boxes x num_attributes), got {got}"
            )


def _check_stream_targets(
    targets: list[dict[str, Any]] | None, landmarks: bool, matching: bool
) -> None:
    """The landmark stream needs `keypoints`, the matching stream pair_id, style and source."""
    needed = (("keypoints",) if landmarks else ()) + (_MATCH_KEYS if matching else ())
    for i, t in enumerate(targets or []):
        missing = [k for k in needed if k not in t]
        if missing:
            raise FashionVisionError(
                f"targets[{i}]: missing {missing} needed by the Match R-CNN streams"
            )
        if matching and t["source"] not in ("user", "shop"):
            raise FashionVisionError(
                f"targets[{i}].source: expected 'user' or 'shop', got {t['source']!r}"
            )
