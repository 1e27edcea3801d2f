"""Subset AP (scale / occlusion / zoom_in / viewpoint) against the pycocotools ignore-reference."""

from __future__ import annotations

import pytest
from conftest import load_benchmark

from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.coco_eval import evaluate_coco
from fashionvision.evaluation.subsets import SUBSET_ATTRIBUTES, iter_subsets, outside_subset

bench = load_benchmark("bench_eval")


@pytest.fixture(scope="module")
def data() -> tuple[dict, list[dict]]:
    return bench.synthetic_coco(80, seed=11, score_decimals=2, crowded_images=1)


def test_twelve_subsets_in_paper_order() -> None:
    subsets = list(iter_subsets())
    assert len(subsets) == 12
    assert subsets[0] == ("scale", 1, "small")
    assert subsets[-1] == ("viewpoint", 3, "side or back")


def test_outside_subset_treats_missing_attribute_as_outside() -> None:
    anns = [{"id": 1, "scale": 1}, {"id": 2, "scale": 2}, {"id": 3}]
    assert outside_subset(anns, "scale", 1) == {2, 3}


@pytest.mark.parametrize("task", ["bbox", "segm", "landmarks"])
def test_subsets_match_ignore_reference(data: tuple[dict, list[dict]], task: str) -> None:
    gt, results = data
    ours = evaluate_coco(gt, results, task, subsets=True)["subsets"]
    assert list(ours) == list(SUBSET_ATTRIBUTES)
    # two subsets per attribute keep the pycocotools reference runs within a few seconds
    for attribute, value, name in list(iter_subsets())[::2]:
        ignore = outside_subset(gt["annotations"], attribute, value)
        ref = bench.pycocotools_reference(gt, results, task, ignore_ids=ignore)
        for key in ("AP", "AP50", "AP75"):
            assert ours[attribute][name][key] == pytest.approx(ref[key], abs=1e-9), (name, key)


def test_subsets_differ_from_dropping_gt(data: tuple[dict, list[dict]]) -> None:
    """Ignoring (not deleting) out-of-subset GT: detections of them are not false positives."""
    gt, results = data
    ours = evaluate_coco(gt, results, "bbox", subsets=True)["subsets"]["scale"]["small"]
    keep = [a for a in gt["annotations"] if a["scale"] == 1]
    dropped = evaluate_coco(dict(gt, annotations=keep), results, "bbox")
    assert ours["AP"] > dropped["AP"] + 0.01


def test_subset_ap_is_overall_ap_when_every_item_is_in_it(
    data: tuple[dict, list[dict]],
) -> None:
    gt, results = data
    same = dict(gt, annotations=[dict(a, viewpoint=2) for a in gt["annotations"]])
    out = evaluate_coco(same, results, "segm", subsets=True)
    assert out["subsets"]["viewpoint"]["frontal"]["AP"] == out["AP"]
    assert out["subsets"]["viewpoint"]["no wear"]["AP"] == -1.0  # no GT in the subset


def test_missing_attribute_is_an_error(data: tuple[dict, list[dict]]) -> None:
    gt, results = data
    anns = [dict(a) for a in gt["annotations"]]
    del anns[4]["zoom_in"]
    with pytest.raises(FashionVisionError, match=r"annotations\[4\]\.zoom_in: missing"):
        evaluate_coco(dict(gt, annotations=anns), results, "bbox", subsets=True)
