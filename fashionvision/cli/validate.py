"""`fashionvision validate PATH [--format deepfashion2|deepfashion|imaterialist|fashionpedia]`:
check the annotations of a DeepFashion2-format split (the default), of DeepFashion (v1)
benchmark folders, of an iMaterialist-Fashion train.csv or of a Fashionpedia-format file.

Prints each problem as ``path: field: message``, then a summary; exit status 1 if any problem
was found (or the data cannot be read), else 0.  With ``--format deepfashion``, PATH is one
benchmark folder (``Anno/``, ``Eval/``, ``Img/``; the benchmark is recognised by its files) or a
folder of them, such as the output of ``fashionvision synth --format deepfashion``; problems
name the file, line and column.  With ``--format imaterialist``, PATH is a Kaggle ``train.csv``
(2019 or 2020), checked against ``--labels`` (the competition's label_descriptions.json) and
``--images`` (each image's size) when given; problems name the CSV line and column.  With
``--format fashionpedia``, PATH is a Fashionpedia-format COCO JSON (``attribute_ids`` per
annotation, the file's own category and attribute tables); problems name the annotation and
field.  Both use the readers that training uses, collecting every problem: the summary counts
the images that lenient reading (``data.strict=false``, ``convert --lenient``) would drop.  A
problem that makes the whole file unusable (its label table, a missing CSV column) is listed
the same way, with a summary saying so.
"""

from __future__ import annotations

import argparse

from fashionvision.cli.options import nonnegative_int
from fashionvision.data.deepfashion import check_deepfashion, find_benchmarks
from fashionvision.data.deepfashion2 import check_split
from fashionvision.errors import AnnotationError, FashionVisionError, Problem

FORMATS = ("deepfashion2", "deepfashion", "imaterialist", "fashionpedia")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a DeepFashion2-format split, DeepFashion benchmark folders, an "
        "iMaterialist train.csv or a Fashionpedia-format file",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "path",
        metavar="PATH",
        help="a split holding annos/ and image/ (deepfashion2), or a DeepFashion benchmark "
        "folder holding Anno/ and Eval/, or a folder of such folders (deepfashion), or a "
        "train.csv (imaterialist), or a COCO JSON with attribute_ids (fashionpedia)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="deepfashion2",
        help="annotation format of PATH (default deepfashion2)",
    )
    parser.add_argument(
        "--max-errors",
        type=nonnegative_int,
        default=None,
        metavar="N",
        help="print at most N problems (all are still counted)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="parse every file again instead of using/writing the split's cached index "
        "(deepfashion2)",
    )
    parser.add_argument(
        "--labels",
        metavar="JSON",
        help="imaterialist: the competition's label_descriptions.json (ids are checked against "
        "it); without it categories must be 0-45",
    )
    parser.add_argument(
        "--images",
        metavar="DIR",
        help="imaterialist: folder of the images, to check each image's Height/Width against "
        "its file",
    )
    parser.set_defaults(func=run)


def _print_problems(problems: list[Problem], max_errors: int | None) -> None:
    limit = len(problems) if max_errors is None else max_errors
    for problem in problems[:limit]:
        print(problem)  # path: field: message
    hidden = len(problems) - limit
    if hidden > 0:
        print(f"... {hidden} more problems not shown (--max-errors {limit})")


def _run_deepfashion2(args: argparse.Namespace) -> int:
    report = check_split(args.path, cache=not args.no_cache)
    if report.files_checked == 0:
        raise FashionVisionError(f"{args.path}: no annotation files in annos/")
    _print_problems(report.problems, args.max_errors)
    print(
        f"{report.files_checked} files checked, {report.files_with_errors} files with errors, "
        f"{len(report.problems)} problems ({report.items_skipped} bad items, "
        f"{report.files_skipped} unusable files)"
    )
    return 1 if report.problems else 0


def _run_deepfashion(args: argparse.Namespace) -> int:
    reports = [check_deepfashion(root, name) for name, root in find_benchmarks(args.path)]
    _print_problems([p for r in reports for p in r.log.problems], args.max_errors)
    for r in reports:
        log = r.log
        print(
            f"{r.benchmark} ({r.root}): {log.files_checked} files checked, "
            f"{log.files_with_errors} files with errors, {len(log.problems)} problems "
            f"({log.rows_skipped} bad rows, {log.images_dropped} images dropped)"
        )
    return 1 if any(r.log.problems for r in reports) else 0


def _run_imaterialist(args: argparse.Namespace) -> int:
    from fashionvision.data.imaterialist import check_imaterialist_csv
    from fashionvision.data.label_tables import load_label_table

    labels = load_label_table(args.labels) if args.labels is not None else None
    report = check_imaterialist_csv(args.path, labels, args.images)
    _print_problems(report.problems, args.max_errors)
    print(
        f"{args.path}: {report.rows} rows checked, {len(report.problems)} problems "
        f"({report.images_skipped} images, {report.rows_skipped} rows dropped)"
    )
    return 1 if report.problems else 0


def _run_fashionpedia(args: argparse.Namespace) -> int:
    from fashionvision.data.fashionpedia import check_fashionpedia
    from fashionvision.io_utils import load_json

    report = check_fashionpedia(load_json(args.path), str(args.path))
    _print_problems(report.problems, args.max_errors)
    print(
        f"{args.path}: {report.num_images} images, {report.num_annotations} annotations "
        f"checked, {len(report.problems)} problems ({report.images_skipped} images dropped)"
    )
    return 1 if report.problems else 0


def run(args: argparse.Namespace) -> int:
    """Validate `args.path` in `args.format`; returns the exit status."""
    for option in ("labels", "images"):
        if getattr(args, option) is not None and args.format != "imaterialist":
            raise FashionVisionError(f"--{option}: only for --format imaterialist")
    if args.format == "deepfashion2":
        return _run_deepfashion2(args)
    if args.format == "deepfashion":
        return _run_deepfashion(args)
    try:
        return _run_imaterialist(args) if args.format == "imaterialist" else _run_fashionpedia(args)
    except AnnotationError as exc:
        # what leaves nothing else to check (the label table, a missing CSV column): the readers
        # raise it rather than collect it; listed like the other problems all the same
        _print_problems(exc.problems, args.max_errors)
        print(f"{args.path}: unusable, {len(exc.problems)} problems; nothing else checked")
        return 1
