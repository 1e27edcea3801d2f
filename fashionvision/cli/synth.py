"""`fashionvision synth OUT --train N --val M --seed S [--size PX] [--mix real|easy|FILE]`: write a
synthetic data set.

``--mix`` sets the target shares of the attribute levels (scale, occlusion, zoom_in, viewpoint):
``real`` (default) the real DeepFashion2 mix, ``easy`` fewer occluded, cropped and side views, or
a YAML/JSON file such as ``{occlusion: [0.8, 0.15, 0.05]}`` (attributes left out keep the real
shares); see `fashionvision.data.synthetic.DifficultyMix`.

OUT must be empty or absent: old images left in it would be read by later commands as part of
the new data set.  ``--overwrite`` clears a folder that a previous ``synth`` wrote (only
``train/`` and ``validation/`` in it) before writing.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from fashionvision.cli.options import image_size, nonnegative_int, positive_int
from fashionvision.errors import FashionVisionError

SPLIT_NAMES = ("train", "validation")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("synth", help="generate a synthetic DeepFashion2-format data set")
    p.add_argument("out", help="output directory (gets train/ and validation/)")
    p.add_argument(
        "--train", type=nonnegative_int, default=1000, help="number of training images (1000)"
    )
    p.add_argument(
        "--val", type=nonnegative_int, default=200, help="number of validation images (200)"
    )
    p.add_argument(
        "--seed", type=nonnegative_int, default=0, help="random seed (same seed, same bytes)"
    )
    p.add_argument(
        "--size", type=image_size, default=256, help="image side in pixels, 64..4096 (256)"
    )
    p.add_argument(
        "--mix",
        default="real",
        metavar="real|easy|FILE",
        help="target attribute mix: real (DeepFashion2's, default), easy, or a YAML/JSON file "
        "of shares per attribute, e.g. {occlusion: [0.8, 0.15, 0.05]}",
    )
    p.add_argument(
        "--workers", type=positive_int, default=None, help="processes (default: up to 2)"
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="clear OUT first when it holds a previous synth output (train/, validation/)",
    )
    p.set_defaults(func=run)


def prepare_output(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty `out` unless `overwrite`; then clear it, if it holds only splits."""
    if out.exists() and not out.is_dir():
        raise FashionVisionError(f"{out}: exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise FashionVisionError(
            f"{out}: folder is not empty (its old files would mix with the new data set); "
            "choose an empty folder or pass --overwrite to clear it first"
        )
    foreign = sorted(p.name for p in out.iterdir() if p.name not in SPLIT_NAMES)
    if foreign:
        raise FashionVisionError(
            f"{out}: --overwrite clears only a previous synth output, but this folder also "
            f"holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}; "
            "remove them yourself or choose another folder"
        )
    for name in SPLIT_NAMES:
        split = out / name
        if split.is_dir() and not split.is_symlink():
            shutil.rmtree(split)
        elif split.exists() or split.is_symlink():
            split.unlink()


def run(args: argparse.Namespace) -> int:
    from fashionvision.data.synthetic import generate_dataset, load_mix

    try:
        mix = load_mix(args.mix)
    except (ValueError, OSError) as exc:
        raise FashionVisionError(f"--mix: {exc}") from None
    prepare_output(Path(args.out), args.overwrite)
    start = time.perf_counter()
    generate_dataset(
        args.out, args.train, args.val, args.seed, size=args.size, workers=args.workers, mix=mix
    )
    took = time.perf_counter() - start
    print(f"wrote {args.train} train + {args.val} validation images to {args.out} in {took:.1f} s")
    return 0
