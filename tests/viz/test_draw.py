"""Tests of garment/detection drawing and of the `show` command."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from fashionvision.structures import Detection, Garment
from fashionvision.viz import category_color, draw_annotation, draw_grid


def _garment() -> Garment:
    lm = np.zeros((8, 3))
    lm[0] = (30, 30, 2)  # visible: filled dot
    lm[1] = (70, 30, 1)  # occluded: ring
    return Garment(9, (20.0, 20.0, 80.0, 90.0), lm, [[20, 20, 80, 20, 80, 90, 20, 90]], style=1)


def test_box_mask_and_landmarks_change_the_expected_pixels():
    img = Image.new("RGB", (100, 100), (0, 0, 0))
    out = np.asarray(draw_annotation(img, [_garment()], mask_alpha=0.5, numbers=False))
    color = np.array(category_color(9))
    assert (out[60, 20] == color).all()  # box edge in the category colour
    assert np.abs(out[60, 50] - color * 0.5).max() <= 1  # half-transparent mask inside
    assert (out[5, 5] == 0).all()  # outside untouched
    assert (out[30, 30] == color).all()  # filled dot centre
    assert np.abs(out[30, 70] - color * 0.5).max() <= 1  # ring: centre shows the mask only
    assert (np.asarray(img) == 0).all()  # input not modified


def test_detection_rle_mask_scale_and_threshold():
    m = np.zeros((50, 50), np.uint8, order="F")
    m[10:20, 10:20] = 1
    rle = mask_utils.encode(m)
    rle["counts"] = rle["counts"].decode("ascii")
    lm = np.zeros((8, 3))
    lm[0] = (40, 40, 0.9)
    lm[1] = (5, 40, 0.1)  # below threshold: not drawn
    det = Detection(1, 9, 0.8, (0.0, 0.0, 49.0, 49.0), landmarks=lm, mask=rle)
    img = Image.new("RGB", (50, 50), (0, 0, 0))
    out = np.asarray(draw_annotation(img, [det], scale=2.0, numbers=False, box_width=1))
    assert out.shape == (100, 100, 3)
    assert out[30, 30].sum() > 0 and out[50, 50].sum() == 0  # mask at 2x scale
    assert out[80, 80].sum() > 0 and out[80, 10].sum() == 0  # only the confident landmark


def test_draw_grid_size_and_placement():
    ims = [Image.new("RGB", (10, 20), (255, 0, 0)) for _ in range(5)]
    grid = draw_grid(ims, ncols=2, pad=1)
    assert grid.size == (2 * 11 + 1, 3 * 21 + 1)
    assert grid.getpixel((1, 1)) == (255, 0, 0) and grid.getpixel((0, 0)) == (255, 255, 255)
    with pytest.raises(ValueError):
        draw_grid([], 2)


def _run_cli(*argv: str) -> int:
    from fashionvision.cli import show, synth

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    show.register(sub)
    synth.register(sub)
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_synth_then_show_writes_png_of_expected_size(tmp_path):
    assert (
        _run_cli(
            "synth",
            str(tmp_path / "ds"),
            "--train",
            "6",
            "--val",
            "0",
            "--size",
            "96",
            "--workers",
            "1",
        )
        == 0
    )
    out = tmp_path / "grid.png"
    assert (
        _run_cli(
            "show",
            str(tmp_path / "ds" / "train"),
            "--ids",
            "1",
            "2",
            "3",
            "--ncols",
            "2",
            "--scale",
            "1",
            "--out",
            str(out),
        )
        == 0
    )
    with Image.open(out) as im:
        assert im.format == "PNG"
        assert im.size == (2 * (96 + 4) + 4, 2 * (96 + 4) + 4)


def test_show_reports_missing_split(tmp_path):
    from fashionvision.errors import FashionVisionError

    with pytest.raises(FashionVisionError, match="annos"):
        _run_cli("show", str(tmp_path), "--out", str(tmp_path / "x.png"))
