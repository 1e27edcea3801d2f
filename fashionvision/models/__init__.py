"""Models: Match R-CNN (ResNet-FPN backbone, box/mask/landmark/matching streams)."""

from fashionvision.models.backbones import build_backbone
from fashionvision.models.landmark_head import (
    LandmarkHead,
    decode_landmarks,
    encode_landmark_targets,
    landmark_loss,
)
from fashionvision.models.match_rcnn import MatchRCNN, build_match_rcnn
from fashionvision.models.matching_head import MatchingHead, PairSimilarity, pair_loss, sample_pairs
from fashionvision.models.roi_heads import MatchRoIHeads

__all__ = [
    "LandmarkHead",
    "MatchRCNN",
    "MatchRoIHeads",
    "MatchingHead",
    "PairSimilarity",
    "build_backbone",
    "build_match_rcnn",
    "decode_landmarks",
    "encode_landmark_targets",
    "landmark_loss",
    "pair_loss",
    "sample_pairs",
]
