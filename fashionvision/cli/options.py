"""Command-line options shared by several commands, defined once.

The ``type=`` helpers (`positive_int`, `nonnegative_int`, `positive_float`, `unit_float`,
`image_size`, `output_file`) check a value when argparse reads it, so a bad number is a usage error
naming the flag (``argument --ncols: must be >= 1, got 0``) before any work starts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

MIN_IMAGE_SIZE = 64
MAX_IMAGE_SIZE = 4096


def _number(text: str, kind: type) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if kind is float and value != value:  # NaN passes every comparison below
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (counts, batch sizes, grid columns)."""
    value = int(_number(text, int))
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0 (image counts that may be zero, seeds)."""
    value = int(_number(text, int))
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (scale factors)."""
    value = float(_number(text, float))
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def unit_float(text: str) -> float:
    """A number in [0, 1] (score thresholds)."""
    value = float(_number(text, float))
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def image_size(text: str) -> int:
    """A square image side in pixels, in [MIN_IMAGE_SIZE, MAX_IMAGE_SIZE]."""
    value = int(_number(text, int))
    if not MIN_IMAGE_SIZE <= value <= MAX_IMAGE_SIZE:
        raise argparse.ArgumentTypeError(
            f"must be between {MIN_IMAGE_SIZE} and {MAX_IMAGE_SIZE} pixels, got {value}"
        )
    return value


def output_file(text: str) -> Path:
    """A file to write: its folder must exist (no folder is created silently for a file path)."""
    path = Path(text)
    message = check_output_file(path)
    if message:
        raise argparse.ArgumentTypeError(message)
    return path


def check_output_file(path: Path) -> str | None:
    """Why `path` cannot be written as a file (missing folder, a directory), or None."""
    if path.is_dir():
        return f"{path} is a directory, expected a file name"
    parent = path.parent
    if not parent.is_dir():
        return f"folder {parent} does not exist (create it first)"
    return None


def add_retrieval_options(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--ranking`` and ``--gallery-threshold`` (read back with `gallery_threshold`)."""
    parser.add_argument(
        "--ranking",
        choices=("similarity", "distance"),
        default="distance",
        help="retrieval order: embedding distance (default; measured better) or the model's "
        "similarity network",
    )
    parser.add_argument(
        "--gallery-threshold",
        type=unit_float,
        default=None,
        metavar="S",
        help="shop detections scoring >= S form the retrieval gallery (default 0.5)",
    )


def add_batch_size(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--batch-size N`` (>= 1, default 4): images per forward pass."""
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        default=4,
        metavar="N",
        help="images per forward pass (default 4)",
    )


def add_inference_overrides(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """``--set model.KEY=VALUE`` (repeatable): a checkpoint's inference options for this run."""
    from fashionvision.config import INFERENCE_OPTIONS

    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="model.KEY=VALUE",
        help="score the checkpoint with another value of an inference option ("
        + ", ".join(INFERENCE_OPTIONS)
        + "); repeatable",
    )


def gallery_threshold(args: argparse.Namespace) -> float:
    """The ``--gallery-threshold`` given (checked in [0, 1] by `unit_float`) or the default."""
    from fashionvision.evaluation.retrieval_evaluator import DEFAULT_GALLERY_THRESHOLD

    return DEFAULT_GALLERY_THRESHOLD if args.gallery_threshold is None else args.gallery_threshold
