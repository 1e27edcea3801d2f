"""`fashionvision synth OUT --train N --val M [--test K] --seed S [--size PX] [--mix real|easy|FILE]
[--categories uniform|deepfashion2|FILE] [--attribute-labels described|drawn] [--format
deepfashion2|deepfashion|imaterialist|fashionpedia]`: write a synthetic data set.

``--format deepfashion2`` (default) writes ``OUT/train/`` and ``OUT/validation/`` in the
DeepFashion2 format.  ``--mix`` sets the target shares of the attribute levels (scale,
occlusion, zoom_in, viewpoint): ``real`` (default) the real DeepFashion2 mix, ``easy`` fewer
occluded, cropped and side views, or a YAML/JSON file such as ``{occlusion: [0.8, 0.15, 0.05]}``
(attributes left out keep the real shares); see `fashionvision.data.synthetic.DifficultyMix`.
``--categories`` sets the target share of garment instances per category: ``uniform`` (default)
about equal, ``deepfashion2`` DeepFashion2's skew (~95:1 between short sleeve tops and short
sleeve outwear, for class-balancing experiments), or a YAML/JSON file of weights by category name
or id such as ``{short sleeve top: 3, trousers: 2, skirt: 1}`` (categories left out never
appear); see `fashionvision.data.synthetic.CategoryMix`.

``--format deepfashion`` writes the four DeepFashion (v1) benchmarks, ``OUT/category/``,
``OUT/inshop/``, ``OUT/consumer2shop/`` and ``OUT/fld/``, each in the official layout (``Anno/``,
``Eval/``, ``Img/``); ``--train/--val/--test`` are the rows of each benchmark's partition file
(In-shop: train/query/gallery images; Consumer-to-shop: consumer-shop pairs); see
`fashionvision.data.synthetic_deepfashion`.  ``--attribute-labels`` sets how its attribute labels
are made: ``described`` (default) as the real data set's, mined from a product description, so
an image's positives are the 3-5 attributes its description mentions; ``drawn`` every attribute
that the image draws (~10 per image; the labels of earlier versions).

``--format imaterialist`` writes an iMaterialist-Fashion 2019 data set, ``OUT/train.csv`` (RLE
masks, ``ClassId`` = category and attribute ids), ``OUT/label_descriptions.json`` and
``OUT/train/``; ``--train`` images (the competition has no labelled validation split, so
``--val`` is refused).  ``--format fashionpedia`` writes ``OUT/instances_attributes_train2020.json``
and ``OUT/instances_attributes_val2020.json`` (COCO with ``attribute_ids``) with images in
``OUT/train/`` and ``OUT/val/``.  Both draw outfits whose garment parts (sleeves, necklines,
collars, pockets) are instances of their own, with a small label table of our own; see
`fashionvision.data.synthetic_parsing`.

OUT must be empty or absent: old images left in it would be read by later commands as part of
the new data set.  ``--overwrite`` clears a folder that a previous ``synth`` of the same format
wrote (only its split or benchmark folders in it) before writing.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from fashionvision.cli.options import image_size, nonnegative_int, positive_int
from fashionvision.data.deepfashion import BENCHMARKS
from fashionvision.errors import FashionVisionError

SPLIT_NAMES = ("train", "validation")
DEEPFASHION_TEST_IMAGES = 200  # --test default for --format deepfashion
DEFAULT_VAL_IMAGES = 200  # --val default where the format has a validation split
FORMATS = ("deepfashion2", "deepfashion", "imaterialist", "fashionpedia")
IMATERIALIST_NAMES = ("train", "train.csv", "label_descriptions.json")
# synthetic_deepfashion.ATTRIBUTE_LABELS (not imported here: the CLI loads generators lazily)
ATTRIBUTE_LABELS = ("described", "drawn")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "synth",
        help="generate a synthetic DeepFashion2-, DeepFashion-, iMaterialist- or "
        "Fashionpedia-format data set",
    )
    p.add_argument(
        "out",
        help="output directory (gets train/ and validation/, one folder per DeepFashion "
        "benchmark, or the iMaterialist/Fashionpedia files and image folders)",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="deepfashion2",
        help="data set format (default deepfashion2)",
    )
    p.add_argument(
        "--train", type=nonnegative_int, default=1000, help="number of training images (1000)"
    )
    p.add_argument(
        "--val",
        type=nonnegative_int,
        default=None,
        help=f"number of validation images ({DEFAULT_VAL_IMAGES}; not for imaterialist)",
    )
    p.add_argument(
        "--test",
        type=nonnegative_int,
        default=None,
        help=f"number of test images, --format deepfashion only ({DEEPFASHION_TEST_IMAGES})",
    )
    p.add_argument(
        "--seed", type=nonnegative_int, default=0, help="random seed (same seed, same bytes)"
    )
    p.add_argument(
        "--size", type=image_size, default=256, help="image side in pixels, 64..4096 (256)"
    )
    p.add_argument(
        "--mix",
        default=None,
        metavar="real|easy|FILE",
        help="target attribute mix: real (DeepFashion2's, default), easy, or a YAML/JSON file "
        "of shares per attribute, e.g. {occlusion: [0.8, 0.15, 0.05]} (deepfashion2 only)",
    )
    p.add_argument(
        "--categories",
        default=None,
        metavar="uniform|deepfashion2|FILE",
        help="target share of garment instances per category: uniform (about equal, default), "
        "deepfashion2 (its ~95:1 skew), or a YAML/JSON file of weights by category name or id "
        "(deepfashion2 only)",
    )
    p.add_argument(
        "--attribute-labels",
        choices=ATTRIBUTE_LABELS,
        default=None,
        help="deepfashion only: described (default; the attributes a product description "
        "mentions, as in the real data set) or drawn (every drawn attribute, earlier versions)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="processes (default: up to 2; deepfashion2 only)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="clear OUT first when it holds a previous synth output (train/, validation/, "
        "the benchmark folders, or the iMaterialist/Fashionpedia files and image folders)",
    )
    p.set_defaults(func=run)


def prepare_output(out: Path, overwrite: bool, names: tuple[str, ...] = SPLIT_NAMES) -> None:
    """Refuse a non-empty `out` unless `overwrite`; then clear it, if it holds only the folders
    `names` (what a previous synth of the same format wrote)."""
    if out.exists() and not out.is_dir():
        raise FashionVisionError(f"{out}: exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise FashionVisionError(
            f"{out}: folder is not empty (its old files would mix with the new data set); "
            "choose an empty folder or pass --overwrite to clear it first"
        )
    foreign = sorted(p.name for p in out.iterdir() if p.name not in names)
    if foreign:
        raise FashionVisionError(
            f"{out}: --overwrite clears only a previous synth output, but this folder also "
            f"holds {', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}; "
            "remove them yourself or choose another folder"
        )
    for name in names:
        split = out / name
        if split.is_dir() and not split.is_symlink():
            shutil.rmtree(split)
        elif split.exists() or split.is_symlink():
            split.unlink()


def _val(args: argparse.Namespace) -> int:
    return DEFAULT_VAL_IMAGES if args.val is None else args.val


def _refuse_deepfashion_options(args: argparse.Namespace) -> None:
    """--test and --attribute-labels belong to the DeepFashion (v1) generator."""
    for flag, value in (("--test", args.test), ("--attribute-labels", args.attribute_labels)):
        if value is not None:
            raise FashionVisionError(f"{flag} applies to --format deepfashion only")


def _refuse_other_formats_options(args: argparse.Namespace) -> None:
    """--test, --attribute-labels, --mix, --categories and --workers belong to the DeepFashion
    (v1) and DeepFashion2 generators."""
    _refuse_deepfashion_options(args)
    options = (("--mix", args.mix), ("--categories", args.categories), ("--workers", args.workers))
    for flag, value in options:
        if value is not None:
            raise FashionVisionError(f"{flag} applies to --format deepfashion2 only")


def _run_deepfashion2(args: argparse.Namespace) -> str:
    from fashionvision.data.synthetic import generate_dataset, load_categories, load_mix

    _refuse_deepfashion_options(args)
    try:
        mix = load_mix(args.mix)
    except (ValueError, OSError) as exc:
        raise FashionVisionError(f"--mix: {exc}") from None
    try:
        categories = load_categories(args.categories)
    except (ValueError, OSError) as exc:
        raise FashionVisionError(f"--categories: {exc}") from None
    prepare_output(Path(args.out), args.overwrite)
    generate_dataset(
        args.out,
        args.train,
        _val(args),
        args.seed,
        size=args.size,
        workers=args.workers,
        mix=mix,
        categories=categories,
    )
    return f"{args.train} train + {_val(args)} validation images"


def _run_deepfashion(args: argparse.Namespace) -> str:
    from fashionvision.data.synthetic_deepfashion import generate_deepfashion

    options = (("--mix", args.mix), ("--categories", args.categories), ("--workers", args.workers))
    for flag, value in options:
        if value is not None:
            raise FashionVisionError(f"{flag} applies to --format deepfashion2 only")
    test = DEEPFASHION_TEST_IMAGES if args.test is None else args.test
    prepare_output(Path(args.out), args.overwrite, BENCHMARKS)
    val = _val(args)
    labels = args.attribute_labels or "described"
    images = generate_deepfashion(
        args.out, args.train, val, test, args.seed, args.size, attribute_labels=labels
    )
    listed = ", ".join(f"{name} {n}" for name, n in images.items())
    return f"DeepFashion benchmarks ({args.train}/{val}/{test} rows each; images: {listed})"


def _run_imaterialist(args: argparse.Namespace) -> str:
    from fashionvision.data.synthetic_parsing import generate_imaterialist

    _refuse_other_formats_options(args)
    if args.val is not None:
        raise FashionVisionError(
            "--val: --format imaterialist writes the competition's train.csv only (it has no "
            "labelled validation split); use --train"
        )
    prepare_output(Path(args.out), args.overwrite, IMATERIALIST_NAMES)
    written = generate_imaterialist(args.out, args.train, args.seed, args.size)
    return f"iMaterialist-Fashion train.csv ({written['images']} images, {written['rows']} rows)"


def _run_fashionpedia(args: argparse.Namespace) -> str:
    from fashionvision.data.synthetic_parsing import (
        FASHIONPEDIA_SPLITS,
        annotation_file,
        generate_fashionpedia,
    )

    _refuse_other_formats_options(args)
    splits = [name for name, _ in FASHIONPEDIA_SPLITS]
    names = (*splits, *(annotation_file(name) for name in splits))
    prepare_output(Path(args.out), args.overwrite, names)
    written = generate_fashionpedia(args.out, args.train, _val(args), args.seed, args.size)
    listed = " + ".join(
        f"{n['images']} {split} images ({n['annotations']} annotations)"
        for split, n in written.items()
    )
    return f"Fashionpedia {listed}"


_RUNNERS = {
    "deepfashion2": _run_deepfashion2,
    "deepfashion": _run_deepfashion,
    "imaterialist": _run_imaterialist,
    "fashionpedia": _run_fashionpedia,
}


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    what = _RUNNERS[args.format](args)
    took = time.perf_counter() - start
    print(f"wrote {what} to {args.out} in {took:.1f} s")
    return 0
