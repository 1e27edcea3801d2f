"""Inference time of Match R-CNN vs torchvision's Mask R-CNN (same backbone, heads and input size).

Both models come from one config preset (`--config`, plus `key=value` overrides): ours is built as
training builds it, torchvision's `MaskRCNN` gets the same backbone, box/mask head widths, RPN and
post-processing settings and our state dict minus the landmark/matching streams.  Both run in eval
mode under `torch.inference_mode` on the same random images, one image per call, after a warm-up.
Prints per-image times and the ratio ours / torchvision (target <= 1.25).  Optionally times one
training iteration with and without the two Match R-CNN streams (`--train-batch`).

    python benchmarks/bench_inference.py --config match_rcnn_tiny --images 10 --train-batch 4
    python benchmarks/bench_inference.py --config match_rcnn_r50_fpn_1x --size 512 --images 5
    python benchmarks/bench_inference.py --config match_rcnn_r50_fpn_1x --size 512 \
        model.stream_detections_per_img=20
    python benchmarks/bench_inference.py --config match_rcnn_r50_fpn_1x --device cuda --images 20

On CUDA every timed region ends with a device synchronisation (the kernels run asynchronously).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

from fashionvision.config import ModelConfig, load_config
from fashionvision.engine.build import build_model, resolve_device
from fashionvision.models.backbones import build_backbone
from fashionvision.models.match_rcnn import TORCHVISION_DEFAULTS


def build_pair(cfg: ModelConfig) -> tuple[nn.Module, nn.Module]:
    """(ours, torchvision's) sharing every detection/mask weight; random init, no download."""
    cfg = dataclasses.replace(cfg, weights=None)
    torch.manual_seed(0)
    ours = build_model(cfg)
    shared = {k: getattr(cfg, k) for k in TORCHVISION_DEFAULTS if hasattr(cfg, k)}
    rep, width, channels = cfg.representation_size, cfg.mask_head_width, cfg.fpn_channels
    theirs = MaskRCNN(
        build_backbone(cfg.backbone, cfg.norm, channels, width=cfg.backbone_width),  # type: ignore[arg-type]
        num_classes=None,
        min_size=cfg.min_size,
        max_size=cfg.max_size,
        rpn_batch_size_per_image=cfg.rpn_batch_size_per_image,
        box_batch_size_per_image=cfg.box_batch_size_per_image,
        box_head=TwoMLPHead(channels * 49, rep),
        box_predictor=FastRCNNPredictor(rep, 14),
        mask_head=MaskRCNNHeads(channels, [width] * 4, 1),
        mask_predictor=MaskRCNNPredictor(width, width, 14),
        **shared,
    )
    theirs.load_state_dict({k: v for k, v in ours.state_dict().items() if k in theirs.state_dict()})
    return ours.eval(), theirs.eval()


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels, so that a host clock reads their time."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_per_image(model: nn.Module, images: list[torch.Tensor], warmup: int = 1) -> float:
    """Median seconds per image over `images` (one forward per image, on the images' device)."""
    device = images[0].device
    times = []
    with torch.inference_mode():
        for image in images[:warmup]:
            model([image])
        for image in images:
            synchronize(device)
            start = time.perf_counter()
            model([image])
            synchronize(device)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_train_iteration(
    cfg: ModelConfig, batch: int, streams: bool, device: torch.device, iters: int = 3
) -> float:
    """Median seconds of one forward + backward on `batch` synthetic images, with or without the
    landmark and matching streams."""
    cfg = dataclasses.replace(cfg, weights=None, landmarks=streams, matching=streams)
    model = build_model(cfg).train().to(device)
    size = cfg.min_size
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
    images = [image.to(device) for image in images]
    targets = [
        {key: v.to(device) if torch.is_tensor(v) else v for key, v in t.items()} for t in targets
    ]
    times = []
    for _ in range(iters + 1):
        synchronize(device)
        start = time.perf_counter()
        sum(model(images, targets).values()).backward()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", default="match_rcnn_tiny", help="preset name or YAML path")
    parser.add_argument("--size", type=int, default=None, help="input side (default: the config's)")
    parser.add_argument("--images", type=int, default=5)
    parser.add_argument("--train-batch", type=int, default=0, help="also time a training iteration")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.config, args.overrides).model
    if args.size:
        cfg = dataclasses.replace(cfg, min_size=args.size, max_size=args.size)
    device = resolve_device(args.device, "--device")
    torch.manual_seed(1)
    images = [torch.rand(3, cfg.min_size, cfg.min_size, device=device) for _ in range(args.images)]
    ours, theirs = (model.to(device) for model in build_pair(cfg))
    # Interleave the two so machine-load drift affects both alike.
    t_theirs = time_per_image(theirs, images)
    t_ours = time_per_image(ours, images)
    t_theirs = min(t_theirs, time_per_image(theirs, images, warmup=0))
    t_ours = min(t_ours, time_per_image(ours, images, warmup=0))
    print(
        f"{args.config} {' '.join(args.overrides)}: {cfg.backbone}, {cfg.min_size} px, "
        f"{args.images} images, {torch.get_num_threads()} threads, {device}"
        + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else "")
    )
    print(f"torchvision MaskRCNN:              {t_theirs * 1000:8.1f} ms/image")
    print(f"MatchRCNN (+landmarks, +matching): {t_ours * 1000:8.1f} ms/image")
    print(f"ratio ours/torchvision: {t_ours / t_theirs:.2f}x (target <= 1.25x)")
    if args.train_batch:
        for streams in (False, True):
            t_train = time_train_iteration(cfg, args.train_batch, streams, device)
            what = "full model" if streams else "box + mask only"
            print(f"training iteration, batch {args.train_batch}, {what}: {t_train:.2f} s/iter")


if __name__ == "__main__":
    main()
