"""Landmark PCK per category on hand-built cases, and the landmark report."""

from __future__ import annotations

import numpy as np
import pytest

from fashionvision.categories import CATEGORY_NAMES, category
from fashionvision.evaluation.landmarks import (
    PCK_ALPHA,
    format_landmark_markdown,
    landmark_report,
    match_items,
    pck,
)
from fashionvision.structures import Detection, Garment, ImageAnnotation

TOP, TROUSERS = 1, 8  # short sleeve top (25 landmarks), trousers (14)


def garment(cat: int, box: tuple[float, float, float, float], v: np.ndarray) -> Garment:
    x1, y1, x2, y2 = box
    n = category(cat).num_landmarks
    marks = np.stack([np.linspace(x1, x2, n), np.linspace(y1, y2, n), v], axis=1)
    return Garment(cat, box, marks, [[x1, y1, x2, y1, x2, y2, x1, y2]])


def record(image_id: int, items: list[Garment]) -> ImageAnnotation:
    return ImageAnnotation(image_id, f"image/{image_id:06d}.jpg", 300, 300, "user", 1, items)


def predicted(item: Garment, offsets: np.ndarray, score: float = 0.9, cat: int | None = None):
    """A detection on the item's box whose landmarks are the GT's moved right by `offsets`."""
    marks = item.landmarks.copy()
    marks[:, 0] += offsets
    marks[:, 2] = 0.8  # the landmark scores: PCK ignores them
    return Detection(0, cat or item.category_id, score, item.bbox, landmarks=marks)


def test_pck_counts_points_within_a_tenth_of_the_box_scale() -> None:
    # a 100 x 100 box: sqrt(area) = 100, so a point is correct within 10 px
    v = np.full(25, 2.0)
    v[20:] = 1  # 5 occluded
    v[24] = 0  # 1 unlabelled: never counted
    top = garment(TOP, (0, 0, 100, 100), v)
    offsets = np.zeros(25)
    offsets[:4] = 9.99  # just inside: correct
    offsets[4:8] = 10.5  # just outside: wrong
    offsets[20:22] = 30.0  # two occluded points wrong
    det = predicted(top, offsets)
    det.image_id = 1
    result = pck([record(1, [top])], [det])
    entry = result["per_category"][CATEGORY_NAMES[TOP]]
    assert result["alpha"] == PCK_ALPHA
    assert (entry["items"], entry["matched"], entry["points"]) == (1, 1, 24)
    assert entry["PCK"] == pytest.approx((24 - 4 - 2) / 24)
    assert entry["PCK_matched"] == entry["PCK"]
    assert entry["PCK_visible"] == pytest.approx((20 - 4) / 20)
    assert result["overall"]["PCK"] == entry["PCK"]
    assert result["per_category"][CATEGORY_NAMES[TROUSERS]]["PCK"] is None  # nothing to count


def test_undetected_items_count_as_misses_except_in_pck_matched() -> None:
    full = np.full(14, 2.0)
    seen = garment(TROUSERS, (0, 0, 50, 200), full)  # sqrt(area) = 100
    unseen = garment(TROUSERS, (150, 0, 200, 200), full)
    wrong_class = predicted(unseen, np.zeros(14), cat=9)  # shorts on the second pair: no match
    det = predicted(seen, np.zeros(14))
    for d in (det, wrong_class):
        d.image_id = 7
    result = pck([record(7, [seen, unseen])], [det, wrong_class])
    entry = result["per_category"][CATEGORY_NAMES[TROUSERS]]
    assert (entry["items"], entry["matched"], entry["points"]) == (2, 1, 28)
    assert entry["PCK"] == pytest.approx(0.5)
    assert entry["PCK_matched"] == pytest.approx(1.0)
    assert entry["PCK_visible"] == pytest.approx(0.5)
    assert entry["PCK_visible_matched"] == pytest.approx(1.0)


def test_each_item_is_judged_by_its_matched_detection() -> None:
    # two detections on one item: the higher-scoring one is the match, even with worse points
    item = garment(TROUSERS, (0, 0, 100, 100), np.full(14, 2.0))
    good = predicted(item, np.zeros(14), score=0.6)
    bad = predicted(item, np.full(14, 50.0), score=0.9)
    for d in (good, bad):
        d.image_id = 1
    assert match_items([record(1, [item])], [good, bad])[(1, 0)] is bad
    assert pck([record(1, [item])], [good, bad])["overall"]["PCK"] == 0.0
    # a detection without landmarks (beyond the landmark stream) gives misses
    bare = Detection(1, TROUSERS, 0.95, item.bbox)
    assert pck([record(1, [item])], [bare, good])["overall"]["PCK"] == 0.0
    # a wider tolerance: alpha = 0.6 accepts 50 px on a 100 px garment
    assert pck([record(1, [item])], [good, bad], alpha=0.6)["overall"]["PCK"] == 1.0


def test_landmark_report_adds_ap_per_category_and_writes_markdown() -> None:
    top = garment(TOP, (10, 10, 110, 110), np.full(25, 2.0))
    trousers = garment(TROUSERS, (150, 10, 250, 210), np.full(14, 2.0))
    dets = [predicted(top, np.zeros(25)), predicted(trousers, np.full(14, 60.0), score=0.8)]
    for d in dets:
        d.image_id = 1
    report = landmark_report([record(1, [top, trousers])], dets)
    top_row = report["per_category"][CATEGORY_NAMES[TOP]]
    trousers_row = report["per_category"][CATEGORY_NAMES[TROUSERS]]
    assert top_row["AP"] == pytest.approx(1.0) and top_row["PCK"] == 1.0
    assert trousers_row["AP"] < 0.5 and trousers_row["PCK"] == 0.0
    assert report["per_category"][CATEGORY_NAMES[2]]["AP"] is None  # no GT of that category
    assert report["overall"]["PCK"] == pytest.approx(25 / 39)
    text = format_landmark_markdown(report)
    assert "| short sleeve top | 1 | 1 | 25 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 |" in text
    assert text.count("\n| ") == 13 + 2  # header, 13 categories, overall
