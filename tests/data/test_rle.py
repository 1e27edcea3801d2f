"""Tests of fashionvision.data.rle: Kaggle RLE <-> masks <-> COCO RLE, and every malformed RLE."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as mask_utils

from fashionvision.data.rle import (
    RLEError,
    decode_kaggle_rle,
    encode_kaggle_rle,
    format_kaggle_rle,
    kaggle_to_coco_rle,
    parse_kaggle_rle,
)

masks = st.tuples(st.integers(1, 12), st.integers(1, 12)).flatmap(
    lambda hw: arrays(np.bool_, hw, elements=st.booleans())
)


def _coco_counts(mask: np.ndarray) -> str:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode("ascii")


@settings(max_examples=300, deadline=None)
@given(masks)
def test_round_trip_agrees_with_pycocotools(mask: np.ndarray) -> None:
    h, w = mask.shape
    runs = encode_kaggle_rle(mask)
    assert np.array_equal(decode_kaggle_rle(runs, h, w), mask)
    coco = kaggle_to_coco_rle(runs, h, w)
    assert coco == {"size": [h, w], "counts": _coco_counts(mask)}
    assert np.array_equal(mask_utils.decode({**coco, "counts": coco["counts"].encode()}), mask)
    if len(runs):  # the text form parses back to the same runs
        assert np.array_equal(parse_kaggle_rle(format_kaggle_rle(runs), h, w), runs)
    assert int(mask_utils.area(coco)) == int(mask.sum())


def test_column_major_one_based_example() -> None:
    # 3 rows x 2 columns: pixel k (1-based) is row (k-1) % 3, column (k-1) // 3
    runs = parse_kaggle_rle("2 3 6 1", 3, 2)
    mask = decode_kaggle_rle(runs, 3, 2)
    assert mask.tolist() == [[False, True], [True, False], [True, True]]
    assert format_kaggle_rle(encode_kaggle_rle(mask)) == "2 3 6 1"


def test_touching_runs_are_accepted_and_merged() -> None:
    runs = parse_kaggle_rle("1 2 3 2 9 1", 3, 3)
    mask = decode_kaggle_rle(runs, 3, 3)
    assert format_kaggle_rle(encode_kaggle_rle(mask)) == "1 4 9 1"
    assert kaggle_to_coco_rle(runs, 3, 3)["counts"] == _coco_counts(mask)


def test_whitespace_around_and_between_values_is_fine() -> None:
    assert parse_kaggle_rle(" 1 2\t5  1 ", 2, 3).tolist() == [[1, 2], [5, 1]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty: a segment needs at least one run"),
        ("   ", "empty"),
        ("1 2 3", r"odd number of values \(3\): expected start/length pairs"),
        ("1 a", "'a' is not a non-negative integer"),
        ("1 -2", "'-2' is not a non-negative integer"),
        ("1.0 2", "'1.0' is not a non-negative integer"),
        ("1 ²", "'²' is not a non-negative integer"),
        ("1 99999999999999999999", "too large"),
        ("0 2", "run 1 starts at pixel 0: starts are 1-based"),
        ("1 2 4 0", "run 2 has length 0: lengths are >= 1"),
        ("5 3", r"run 1 \(start 5, length 3\) ends at pixel 7, beyond the 6 pixels of a 2x3 image"),
        ("7 1", "ends at pixel 7, beyond the 6 pixels"),
        ("4 1 2 1", r"run 2 starts at pixel 2, not after run 1 \(start 4\): runs must be in"),
        ("2 1 2 1", "run 2 starts at pixel 2, not after run 1"),
        ("1 3 2 1", r"run 2 \(start 2\) overlaps run 1 \(pixels 1-3\)"),
        # the earliest bad run is reported, whatever is wrong with later ones
        ("1 3 3 1 9 9", r"run 2 \(start 3\) overlaps run 1"),
    ],
)
def test_bad_rle_is_refused_with_its_reason(text: str, message: str) -> None:
    with pytest.raises(RLEError, match=message):
        parse_kaggle_rle(text, 2, 3)


def test_empty_runs_give_an_empty_mask() -> None:
    empty = np.zeros((0, 2), dtype=np.int64)
    assert not decode_kaggle_rle(empty, 2, 3).any()
    assert encode_kaggle_rle(np.zeros((2, 3), bool)).shape == (0, 2)
    assert kaggle_to_coco_rle(empty, 2, 3)["counts"] == _coco_counts(np.zeros((2, 3), bool))
