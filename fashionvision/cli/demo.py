"""`fashionvision demo OUT`: synthetic data, tiny CPU training, the four benchmarks, a report."""

from __future__ import annotations

import argparse

from fashionvision.config import DemoSettings


def register(subparsers: argparse._SubParsersAction) -> None:
    d = DemoSettings()
    p = subparsers.add_parser(
        "demo",
        help="generate synthetic data, train the tiny Match R-CNN, evaluate, write a report",
        description=__doc__,
    )
    p.add_argument("out", nargs="?", default="demo_out", help="output folder (default demo_out)")
    p.add_argument("--train", type=int, default=d.train_images, help="training images")
    p.add_argument("--val", type=int, default=d.val_images, help="validation images")
    p.add_argument("--epochs", type=int, default=d.epochs, help="training epochs")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--config", default=d.config, help="config preset name or YAML path")
    p.add_argument(
        "overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, e.g. train.device=cuda",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from fashionvision.demo import run_demo

    settings = DemoSettings(
        train_images=args.train,
        val_images=args.val,
        seed=args.seed,
        epochs=args.epochs,
        config=args.config,
        overrides=tuple(args.overrides),
    )
    run_demo(args.out, settings)
    print(f"report: {args.out}/report/index.html")
    return 0
