"""Command-line options shared by several commands, defined once."""

from __future__ import annotations

import argparse


def add_retrieval_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--ranking`` and ``--gallery-threshold`` (checked by `gallery_threshold`)."""
    parser.add_argument(
        "--ranking",
        choices=("similarity", "distance"),
        default="similarity",
        help="retrieval order: the model's similarity network (default) or embedding distance",
    )
    parser.add_argument(
        "--gallery-threshold",
        type=float,
        default=None,
        metavar="S",
        help="shop detections scoring >= S form the retrieval gallery (default 0.5)",
    )


def gallery_threshold(args: argparse.Namespace) -> float:
    """The ``--gallery-threshold`` given (or the default); a parser error outside [0, 1]."""
    from fashionvision.evaluation.retrieval_evaluator import DEFAULT_GALLERY_THRESHOLD

    value = DEFAULT_GALLERY_THRESHOLD if args.gallery_threshold is None else args.gallery_threshold
    if not 0 <= value <= 1:
        args.parser.error(f"--gallery-threshold must be in [0, 1], got {value}")
    return value
