"""`mask_outline`: the polygons of a mask, checked against the pixels they enclose."""

import numpy as np
import pytest
import shapely

from fashionvision.detections import mask_outline


def rasterise(polygons: list[list[float]], shape: tuple[int, int]) -> np.ndarray:
    """Pixels whose centre lies inside an odd number of rings (holes cut out)."""
    ys, xs = np.mgrid[: shape[0], : shape[1]]
    centres = shapely.points(xs.ravel() + 0.5, ys.ravel() + 0.5)
    inside = np.zeros(shape[0] * shape[1], dtype=int)
    for poly in polygons:
        inside += shapely.contains(shapely.Polygon(np.reshape(poly, (-1, 2))), centres)
    return (inside % 2 == 1).reshape(shape)


def test_a_rectangle_with_a_hole_and_a_separate_blob():
    mask = np.zeros((12, 14), dtype=bool)
    mask[2:8, 3:11] = True
    mask[4:6, 5:8] = False  # a hole
    mask[9:12, 0:3] = True  # touching the image border
    polygons = mask_outline(mask, tolerance=0.0)
    assert len(polygons) == 3
    assert polygons[0] == [3.0, 2.0, 11.0, 2.0, 11.0, 8.0, 3.0, 8.0]  # largest first, clockwise
    np.testing.assert_array_equal(rasterise(polygons, mask.shape), mask)


def test_an_irregular_mask_is_traced_exactly_and_simplified_closely():
    yy, xx = np.mgrid[:80, :100]
    mask = ((xx - 50) / 40) ** 2 + ((yy - 40) / 25) ** 2 < 1
    mask[35:45, 20:30] = False
    mask[:, 60:62] &= yy[:, 60:62] < 30  # a notch reaching in from below
    exact = mask_outline(mask, tolerance=0.0)
    np.testing.assert_array_equal(rasterise(exact, mask.shape), mask)
    simple = mask_outline(mask)  # 1-pixel Douglas-Peucker
    assert sum(len(p) for p in simple) < sum(len(p) for p in exact) / 3
    assert (rasterise(simple, mask.shape) != mask).mean() < 0.02


@pytest.mark.parametrize("mask", [np.zeros((5, 5), bool), np.eye(1, dtype=bool)])
def test_empty_and_single_pixel_masks(mask):
    assert mask_outline(mask) == []  # a lone pixel simplifies below 3 points
    assert len(mask_outline(mask, tolerance=0.0)) == int(mask.any())
