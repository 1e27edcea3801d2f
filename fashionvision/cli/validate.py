"""`fashionvision validate SPLIT_DIR`: check every annotation file of a DeepFashion2-format split.

Prints each problem as ``path: field: message``, then a summary; exit status 1 if any problem
was found (or the split cannot be read), else 0.
"""

from __future__ import annotations

import argparse

from fashionvision.cli.options import nonnegative_int
from fashionvision.data.deepfashion2 import check_split
from fashionvision.errors import FashionVisionError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a DeepFashion2-format split (annos/*.json + image/*.jpg)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "split_dir", metavar="SPLIT_DIR", help="directory holding annos/ and image/"
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
        help="parse every file again instead of using/writing the split's cached index",
    )
    parser.set_defaults(func=run)


def _format_problem(path: str, field: str, message: str) -> str:
    return f"{path}: {field}: {message}" if field else f"{path}: {message}"


def run(args: argparse.Namespace) -> int:
    """Validate `args.split_dir`; returns the exit status."""
    report = check_split(args.split_dir, cache=not args.no_cache)
    if report.files_checked == 0:
        raise FashionVisionError(f"{args.split_dir}: no annotation files in annos/")
    limit = len(report.problems) if args.max_errors is None else args.max_errors
    for problem in report.problems[:limit]:
        print(_format_problem(problem.path, problem.field, problem.message))
    hidden = len(report.problems) - limit
    if hidden > 0:
        print(f"... {hidden} more problems not shown (--max-errors {limit})")
    print(
        f"{report.files_checked} files checked, {report.files_with_errors} files with errors, "
        f"{len(report.problems)} problems ({report.items_skipped} bad items, "
        f"{report.files_skipped} unusable files)"
    )
    return 1 if report.problems else 0
