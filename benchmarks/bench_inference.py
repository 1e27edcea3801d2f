"""Inference time of Match R-CNN vs torchvision's Mask R-CNN (same backbone, heads and input size).

Both models are built from the same random weights (torchvision's model gets our state dict
minus the landmark/matching streams), run in eval mode under `torch.inference_mode` on the same
random images, one image per call, after a warm-up.  Prints per-image times and the ratio
ours / torchvision
(target <= 1.25).  Optionally times one training iteration of the full model (`--train-batch`).

    python benchmarks/bench_inference.py --backbone resnet50 --size 512 --images 5
    python benchmarks/bench_inference.py --backbone resnet18 --size 256 --images 10 --tiny \
        --train-batch 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

from fashionvision.models import build_match_rcnn
from fashionvision.models.backbones import build_backbone

# The tiny training configuration (ResNet-18-FPN, GN, narrow heads).
TINY = dict(
    norm="gn",
    fpn_channels=64,
    box_batch_size_per_image=64,
    representation_size=256,
    mask_head_width=64,
    landmark_head_width=64,
    landmark_convs=4,
    matching_width=64,
    matching_dim=128,
)
FULL = dict(norm="frozen_bn", fpn_channels=256, representation_size=1024, mask_head_width=256)


def build_pair(
    backbone: str, size: int, tiny: bool, stream_dets: int | None = None
) -> tuple[nn.Module, nn.Module]:
    """(ours, torchvision's) sharing every detection/mask weight."""
    cfg: dict = TINY if tiny else FULL
    torch.manual_seed(0)
    ours = build_match_rcnn(
        backbone=backbone,
        min_size=size,
        max_size=size,
        stream_detections_per_img=stream_dets,
        **cfg,
    )
    channels, rep, width = cfg["fpn_channels"], cfg["representation_size"], cfg["mask_head_width"]
    theirs = MaskRCNN(
        build_backbone(backbone, cfg["norm"], channels),  # type: ignore[arg-type]
        num_classes=None,
        min_size=size,
        max_size=size,
        box_head=TwoMLPHead(channels * 49, rep),
        box_predictor=FastRCNNPredictor(rep, 14),
        mask_head=MaskRCNNHeads(channels, [width] * 4, 1),
        mask_predictor=MaskRCNNPredictor(width, width, 14),
    )
    theirs.load_state_dict({k: v for k, v in ours.state_dict().items() if k in theirs.state_dict()})
    return ours.eval(), theirs.eval()


def time_per_image(model: nn.Module, images: list[torch.Tensor], warmup: int = 1) -> float:
    """Median seconds per image over `images` (one forward per image)."""
    times = []
    with torch.inference_mode():
        for image in images[:warmup]:
            model([image])
        for image in images:
            start = time.perf_counter()
            model([image])
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_train_iteration(
    backbone: str, size: int, batch: int, tiny: bool, streams: bool = True, iters: int = 3
) -> float:
    """Median seconds of one forward + backward on `batch` synthetic images, with or without the
    landmark and matching streams."""
    cfg: dict = TINY if tiny else FULL
    model = build_match_rcnn(
        backbone=backbone, min_size=size, max_size=size, landmarks=streams, matching=streams, **cfg
    ).train()
    images = [torch.rand(3, size, size) for _ in range(batch)]
    targets = []
    for i in range(batch):
        keypoints = torch.zeros(2, 294, 3)
        keypoints[0, 0:25] = torch.tensor([size * 0.3, size * 0.3, 2.0])
        keypoints[1, 168:182] = torch.tensor([size * 0.6, size * 0.7, 2.0])
        masks = torch.zeros(2, size, size, dtype=torch.uint8)
        masks[0, size // 8 : size // 2, size // 8 : size // 2] = 1
        masks[1, size // 2 :, size // 2 :] = 1
        targets.append(
            {
                "boxes": torch.tensor(
                    [
                        [size / 8, size / 8, size / 2, size / 2],
                        [size / 2, size / 2, size - 1, size - 1],
                    ]
                ),
                "labels": torch.tensor([1, 8]),
                "masks": masks,
                "keypoints": keypoints,
                "pair_id": torch.tensor([i // 2, i // 2]),
                "style": torch.tensor([1, 0]),
                "source": "user" if i % 2 == 0 else "shop",
            }
        )
    times = []
    for _ in range(iters + 1):
        start = time.perf_counter()
        sum(model(images, targets).values()).backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--backbone", default="resnet50", choices=["resnet18", "resnet34", "resnet50", "resnet101"]
    )
    parser.add_argument(
        "--size", type=int, default=512, help="shorter = longer side after resizing"
    )
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument(
        "--tiny", action="store_true", help="tiny config (GN, 64-channel FPN, narrow heads)"
    )
    parser.add_argument("--train-batch", type=int, default=0, help="also time a training iteration")
    parser.add_argument(
        "--stream-dets", type=int, default=None, help="landmark/matching streams on the best k only"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    images = [torch.rand(3, args.size, args.size) for _ in range(args.images)]
    ours, theirs = build_pair(args.backbone, args.size, args.tiny, args.stream_dets)
    # Interleave the two so machine-load drift affects both alike.
    t_theirs = time_per_image(theirs, images)
    t_ours = time_per_image(ours, images)
    t_theirs = min(t_theirs, time_per_image(theirs, images, warmup=0))
    t_ours = min(t_ours, time_per_image(ours, images, warmup=0))
    print(
        f"{args.backbone} {args.size}px {'tiny' if args.tiny else 'full'} heads, "
        f"{args.images} images"
    )
    print(f"torchvision MaskRCNN: {t_theirs * 1000:.1f} ms/image")
    print(f"MatchRCNN (+landmarks, +matching): {t_ours * 1000:.1f} ms/image")
    print(f"ratio: {t_ours / t_theirs:.2f}x")
    if args.train_batch:
        for streams in (False, True):
            t_train = time_train_iteration(
                args.backbone, args.size, args.train_batch, args.tiny, streams
            )
            what = "full model" if streams else "box + mask only"
            print(f"training iteration, batch {args.train_batch}, {what}: {t_train:.2f} s/iter")


if __name__ == "__main__":
    main()
