"""Kaggle run-length encoding (iMaterialist ``EncodedPixels``) <-> masks and COCO RLE.

The Kaggle format is a space-separated list of ``start length`` pairs: `start` is a 1-based pixel
index and pixels are counted column-major (down the first column, then the next), so pixel
``(row, col)`` of an ``H x W`` image is index ``col * H + row + 1``.  That is the order COCO's RLE
counts in too, so runs convert to COCO counts directly (`kaggle_to_coco_rle`) without drawing the
mask.

Runs are checked strictly (`parse_kaggle_rle`): an even number of non-negative integers, starts
>= 1, lengths >= 1, each run inside the image, starts increasing, no overlap.  Touching runs
(one starting right where the previous ends) describe an unambiguous mask and are accepted; the
COCO conversion merges them.  Kaggle's ground truth and its scoring code are ambiguous about
nothing else, so no other leniency is offered here: callers decide what to do with a bad row.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

_RLE_TEXT = re.compile(r"[0-9]+(?:[ \t]+[0-9]+)*")  # ASCII digits only ("²".isdigit() is True)


class RLEError(ValueError):
    """A malformed Kaggle RLE; the message says what is wrong (the caller adds where)."""


def parse_kaggle_rle(text: str, height: int, width: int) -> np.ndarray:
    """Check a Kaggle ``EncodedPixels`` string for an ``height x width`` image.

    Returns the runs, int64 [n, 2] of (1-based start, length) in increasing order; raises
    `RLEError` naming the first bad value or run.
    """
    stripped = text.strip()
    if not stripped:
        raise RLEError("empty: a segment needs at least one run")
    if not _RLE_TEXT.fullmatch(stripped):
        bad = next(t for t in stripped.split() if not re.fullmatch(r"[0-9]+", t))
        raise RLEError(f"{bad!r} is not a non-negative integer")
    try:
        values = np.array(stripped.split(), dtype=np.int64)
    except OverflowError:
        raise RLEError("a value is too large for a pixel index") from None
    if len(values) % 2:
        raise RLEError(f"odd number of values ({len(values)}): expected start/length pairs")
    return check_runs(values.reshape(-1, 2), height, width)


def check_runs(runs: np.ndarray, height: int, width: int) -> np.ndarray:
    """`runs` [n, 2] of (1-based start, length) if they are valid for the image, else `RLEError`."""
    starts, lengths = runs[:, 0], runs[:, 1]
    ends = starts + lengths - 1  # last pixel of each run, 1-based
    num_pixels = height * width
    checks = (
        (starts < 1, lambda k: f"run {k + 1} starts at pixel {starts[k]}: starts are 1-based"),
        (lengths < 1, lambda k: f"run {k + 1} has length {lengths[k]}: lengths are >= 1"),
        (
            ends > num_pixels,
            lambda k: (
                f"run {k + 1} (start {starts[k]}, length {lengths[k]}) ends at pixel "
                f"{ends[k]}, beyond the {num_pixels} pixels of a {height}x{width} image"
            ),
        ),
        (
            np.r_[False, starts[1:] <= starts[:-1]],
            lambda k: (
                f"run {k + 1} starts at pixel {starts[k]}, not after run {k} (start "
                f"{starts[k - 1]}): runs must be in increasing order"
            ),
        ),
        (
            np.r_[False, starts[1:] <= ends[:-1]],
            lambda k: (
                f"run {k + 1} (start {starts[k]}) overlaps run {k} (pixels {starts[k - 1]}"
                f"-{ends[k - 1]})"
            ),
        ),
    )
    # the earliest bad run; at one run the first failing rule of the list above
    first = [(int(np.argmax(bad)), k) for k, (bad, _) in enumerate(checks) if bad.any()]
    if first:
        run, rule = min(first)
        raise RLEError(checks[rule][1](run))
    return runs


def decode_kaggle_rle(runs: np.ndarray, height: int, width: int) -> np.ndarray:
    """The bool mask [height, width] of valid `runs` [n, 2] (see `parse_kaggle_rle`)."""
    flat = np.zeros(height * width + 1, dtype=np.int32)
    np.add.at(flat, runs[:, 0] - 1, 1)
    np.add.at(flat, runs[:, 0] - 1 + runs[:, 1], -1)
    return (np.cumsum(flat[:-1]) > 0).reshape(width, height).T


def encode_kaggle_rle(mask: np.ndarray) -> np.ndarray:
    """The runs [n, 2] (1-based start, length; column-major) of a 2-D mask; n = 0 when empty."""
    flat = np.asarray(mask, dtype=bool).ravel(order="F")
    edges = np.flatnonzero(np.diff(np.r_[False, flat, False].astype(np.int8)))
    starts, stops = edges[0::2], edges[1::2]  # 0-based start, exclusive stop
    return np.stack([starts + 1, stops - starts], axis=1).astype(np.int64)


def format_kaggle_rle(runs: np.ndarray) -> str:
    """``EncodedPixels`` text of `runs` [n, 2]: ``"start length start length ..."``."""
    return " ".join(str(int(v)) for v in np.asarray(runs).ravel())


def kaggle_to_coco_rle(runs: np.ndarray, height: int, width: int) -> dict[str, Any]:
    """The compressed COCO RLE ``{"size": [h, w], "counts": str}`` of valid `runs`, equal to
    ``pycocotools.mask.encode`` of the decoded mask (counts as str so that it dumps to JSON)."""
    if not len(runs):
        return _compressed([height * width], height, width)
    starts, lengths = runs[:, 0] - 1, runs[:, 1]
    gaps = starts - np.r_[0, starts[:-1] + lengths[:-1]]  # background before each run
    merged = np.r_[True, gaps[1:] > 0]  # a run that touches the previous one extends it
    run_ids = np.cumsum(merged) - 1
    fg = np.bincount(run_ids, weights=lengths).astype(np.int64)
    bg = gaps[merged]
    counts = np.stack([bg, fg], axis=1).ravel().tolist()
    tail = height * width - int(starts[-1] + lengths[-1])
    if tail:  # pycocotools' encoder ends on the last run when it reaches the last pixel
        counts.append(tail)
    return _compressed(counts, height, width)


def _compressed(counts: list[int], height: int, width: int) -> dict[str, Any]:
    rle = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}
