"""`fashionvision train CONFIG [key=value ...] --out RUN_DIR [--resume]`: train Match R-CNN.

CONFIG is a preset name (``match_rcnn_r50_fpn_1x``, ``match_rcnn_tiny``) or a YAML path; overrides
are dotted ``section.key=value`` pairs, before or after the options, e.g.
``data.root=/data/deepfashion2 solver.base_lr=0.01``.
Multi-GPU: ``torchrun --nproc_per_node N -m fashionvision train ...`` (solver.batch_size is the
total over all processes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fashionvision.config import load_config
from fashionvision.errors import FashionVisionError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train Match R-CNN on a DeepFashion2-format data set",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("config", metavar="CONFIG", help="preset name or YAML file")
    parser.add_argument(
        "overrides", nargs="*", metavar="KEY=VALUE", help="dotted overrides, e.g. data.root=DIR"
    )
    parser.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory")
    parser.add_argument(
        "--resume", action="store_true", help="continue from RUN_DIR/last.pt (same data position)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fashionvision.engine.trainer import train

    if args.resume and not (Path(args.out) / "last.pt").is_file():
        raise FashionVisionError(
            f"--resume: {Path(args.out) / 'last.pt'}: checkpoint not found, nothing to "
            "resume (leave out --resume to start a new run)"
        )
    cfg = load_config(args.config, args.overrides)
    state = train(cfg, args.out, resume=args.resume)
    print(f"stopped at epoch {state.epoch}, iteration {state.iteration}; run directory {args.out}")
    return 0
