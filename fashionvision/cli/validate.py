"""`fashionvision validate DIR [--format deepfashion2|deepfashion]`: check the annotation files of
a DeepFashion2-format split (the default) or of DeepFashion (v1) benchmark folders.

Prints each problem as ``path: field: message``, then a summary; exit status 1 if any problem
was found (or the data cannot be read), else 0.  With ``--format deepfashion``, DIR is one
benchmark folder (``Anno/``, ``Eval/``, ``Img/``; the benchmark is recognised by its files) or a
folder of them, such as the output of ``fashionvision synth --format deepfashion``; problems
name the file, line and column.
"""

from __future__ import annotations

import argparse

from fashionvision.cli.options import nonnegative_int
from fashionvision.data.deepfashion import check_deepfashion, find_benchmarks
from fashionvision.data.deepfashion2 import check_split
from fashionvision.errors import FashionVisionError, Problem

FORMATS = ("deepfashion2", "deepfashion")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a DeepFashion2-format split or DeepFashion benchmark folders",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "split_dir",
        metavar="DIR",
        help="a split holding annos/ and image/ (deepfashion2), or a DeepFashion benchmark "
        "folder holding Anno/ and Eval/, or a folder of such folders (deepfashion)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="deepfashion2",
        help="annotation format of DIR (default deepfashion2)",
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
    parser.set_defaults(func=run)


def _print_problems(problems: list[Problem], max_errors: int | None) -> None:
    limit = len(problems) if max_errors is None else max_errors
    for problem in problems[:limit]:
        print(problem)  # path: field: message
    hidden = len(problems) - limit
    if hidden > 0:
        print(f"... {hidden} more problems not shown (--max-errors {limit})")


def _run_deepfashion2(args: argparse.Namespace) -> int:
    report = check_split(args.split_dir, cache=not args.no_cache)
    if report.files_checked == 0:
        raise FashionVisionError(f"{args.split_dir}: no annotation files in annos/")
    _print_problems(report.problems, args.max_errors)
    print(
        f"{report.files_checked} files checked, {report.files_with_errors} files with errors, "
        f"{len(report.problems)} problems ({report.items_skipped} bad items, "
        f"{report.files_skipped} unusable files)"
    )
    return 1 if report.problems else 0


def _run_deepfashion(args: argparse.Namespace) -> int:
    reports = [check_deepfashion(root, name) for name, root in find_benchmarks(args.split_dir)]
    _print_problems([p for r in reports for p in r.log.problems], args.max_errors)
    for r in reports:
        log = r.log
        print(
            f"{r.benchmark} ({r.root}): {log.files_checked} files checked, "
            f"{log.files_with_errors} files with errors, {len(log.problems)} problems "
            f"({log.rows_skipped} bad rows, {log.images_dropped} images dropped)"
        )
    return 1 if any(r.log.problems for r in reports) else 0


def run(args: argparse.Namespace) -> int:
    """Validate `args.split_dir`; returns the exit status."""
    return _run_deepfashion(args) if args.format == "deepfashion" else _run_deepfashion2(args)
