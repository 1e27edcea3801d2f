"""`fashionvision synth OUT --train N --val M --seed S [--size PX]`: write a synthetic data set."""

from __future__ import annotations

import argparse
import time

from fashionvision.errors import FashionVisionError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("synth", help="generate a synthetic DeepFashion2-format data set")
    p.add_argument("out", help="output directory (gets train/ and validation/)")
    p.add_argument("--train", type=int, default=1000, help="number of training images")
    p.add_argument("--val", type=int, default=200, help="number of validation images")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    p.add_argument("--size", type=int, default=256, help="image side in pixels (>= 64)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: up to 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fashionvision.data.synthetic import generate_dataset

    if args.train < 0 or args.val < 0:
        raise FashionVisionError("--train and --val must be >= 0")
    if args.size < 64:
        raise FashionVisionError("--size must be >= 64")
    start = time.perf_counter()
    generate_dataset(
        args.out, args.train, args.val, args.seed, size=args.size, workers=args.workers
    )
    took = time.perf_counter() - start
    print(f"wrote {args.train} train + {args.val} validation images to {args.out} in {took:.1f} s")
    return 0
