"""`fashionvision demo [--out DIR] [KEY=VALUE ...]`: synthetic data, tiny CPU training, the four
benchmarks, a report (DIR/report/index.html).

Arguments of the form KEY=VALUE override the training config (train.device=cuda); the output
folder is --out (default demo_out).  For compatibility a single argument without '=' is taken
as the output folder, as in `fashionvision demo demo_out`.  torch uses one thread per core this
process may run on (at most 8) unless --threads says otherwise; the demo prints the time left
after each training epoch and during evaluation.  Measured times of the defaults:
benchmarks/RESULTS.md ("The demo").
"""

from __future__ import annotations

import argparse

from fashionvision.cli.options import image_size, nonnegative_int, positive_int
from fashionvision.config import MAX_DEMO_THREADS, DemoSettings
from fashionvision.errors import FashionVisionError

DEFAULT_OUT = "demo_out"


def register(subparsers: argparse._SubParsersAction) -> None:
    d = DemoSettings()
    p = subparsers.add_parser(
        "demo",
        help="generate synthetic data, train the tiny Match R-CNN, evaluate, write a report",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  fashionvision demo\n"
        "  fashionvision demo --out demo_gpu train.device=cuda\n"
        "  fashionvision demo --out demo_big --train 2000 --val 400 --epochs 12",
    )
    p.add_argument(
        "--out", default=None, metavar="DIR", help=f"output folder (default {DEFAULT_OUT})"
    )
    p.add_argument(
        "--train",
        type=positive_int,
        default=d.train_images,
        help=f"training images ({d.train_images})",
    )
    p.add_argument(
        "--val", type=positive_int, default=d.val_images, help=f"validation images ({d.val_images})"
    )
    p.add_argument(
        "--epochs", type=positive_int, default=d.epochs, help=f"training epochs ({d.epochs})"
    )
    p.add_argument(
        "--size",
        type=image_size,
        default=d.image_size,
        help=f"image side in pixels ({d.image_size}; the model still resizes to its preset's "
        "model.min_size, an override)",
    )
    p.add_argument("--seed", type=nonnegative_int, default=d.seed)
    p.add_argument(
        "--threads",
        type=positive_int,
        default=d.threads,
        help=f"torch CPU threads (default: the cores available, at most {MAX_DEMO_THREADS})",
    )
    p.add_argument("--config", default=d.config, help="config preset name or YAML path")
    p.add_argument(
        "overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides, e.g. train.device=cuda (one argument without '=' is read as the "
        "output folder, as --out)",
    )
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from fashionvision.demo import run_demo

    out, overrides = split_out_and_overrides(args.out, args.overrides)
    settings = DemoSettings(
        train_images=args.train,
        val_images=args.val,
        seed=args.seed,
        image_size=args.size,
        epochs=args.epochs,
        config=args.config,
        overrides=tuple(overrides),
        threads=args.threads,
    )
    run_demo(out, settings)
    print(f"report: {out}/report/index.html")
    return 0


def split_out_and_overrides(out: str | None, positional: list[str]) -> tuple[str, list[str]]:
    """(output folder, config overrides): arguments with '=' are overrides; one without is the
    output folder (the older ``fashionvision demo OUT`` form), unless --out names it already."""
    bare = [a for a in positional if "=" not in a]
    overrides = [a for a in positional if "=" in a]
    if len(bare) > 1:
        raise FashionVisionError(
            f"demo: {' '.join(bare)}: expected config overrides KEY=VALUE and at most one output "
            "folder (better: --out DIR)"
        )
    if bare and out is not None:
        raise FashionVisionError(
            f"demo: {bare[0]}: not a KEY=VALUE override, and --out already names the output "
            f"folder ({out})"
        )
    return (bare[0] if bare else out or DEFAULT_OUT), overrides
