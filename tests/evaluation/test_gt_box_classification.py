"""The box classifier's accuracy on the ground-truth boxes: counts checked by hand on built
scores, shard order, and clear errors for outputs that do not fit the split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.gt_box_classification import (
    REPORT_KEY,
    GTBoxClassificationEvaluator,
    format_gt_box_classification,
)
from fashionvision.structures import Garment, ImageAnnotation

NUM_CLASSES = 14  # background + the 13 categories


def _item(category: int, occlusion: int = 1, viewpoint: int = 2) -> Garment:
    return Garment(
        category, (0.0, 0.0, 10.0, 10.0), np.zeros((0, 3)), [], occlusion=occlusion,
        viewpoint=viewpoint,
    )  # fmt: skip


def _scores(*rows: dict[int, float]) -> dict[str, torch.Tensor]:
    """Probabilities [n, 14]: each row gives its non-zero classes; the rest is background."""
    out = torch.zeros(len(rows), NUM_CLASSES)
    for i, row in enumerate(rows):
        for c, p in row.items():
            out[i, c] = p
        out[i, 0] = 1.0 - out[i].sum()
    return {"box_class_scores": out}


@pytest.fixture()
def batch() -> tuple[list[ImageAnnotation], list[dict[str, torch.Tensor]]]:
    records = [
        # shop: a vest dress named right; a skirt whose second choice is right
        ImageAnnotation(1, "image/000001.jpg", 64, 64, "shop", 1, [_item(12), _item(9)]),
        # user: a vest dress named sling dress (second: vest dress), a sling dress named right,
        # a heavily occluded skirt named shorts (skirt only third)
        ImageAnnotation(
            2,
            "image/000002.jpg",
            64,
            64,
            "user",
            1,
            [_item(12, viewpoint=3), _item(13), _item(9, occlusion=3)],
        ),  # fmt: skip
        ImageAnnotation(3, "image/000003.jpg", 64, 64, "user", 0, []),  # no items: no rows
    ]
    outputs = [
        _scores({12: 0.6, 13: 0.3}, {7: 0.5, 9: 0.4}),
        # the background scores highest on the second item: it is no answer, sling dress is
        _scores({13: 0.4, 12: 0.3}, {13: 0.2, 11: 0.1}, {7: 0.3, 8: 0.25, 9: 0.2}),
        _scores(),
    ]
    return records, outputs


def test_counts_by_hand(batch) -> None:
    records, outputs = batch
    ev = GTBoxClassificationEvaluator(records)
    ev.process(records, outputs)
    result = ev.evaluate()[REPORT_KEY]
    # right at top-1: vest dress (shop), sling dress; at top-2 also the shop skirt and the
    # user vest dress; the occluded skirt never
    assert result["num_items"] == 5
    assert result["top1"] == pytest.approx(2 / 5) and result["top2"] == pytest.approx(4 / 5)
    per = result["per_category"]
    assert set(per) == {"skirt", "vest dress", "sling dress"}
    assert per["skirt"] == {"top1": 0.0, "top2": 0.5, "num_items": 2}
    assert per["vest dress"] == {"top1": 0.5, "top2": 1.0, "num_items": 2}
    assert per["sling dress"] == {"top1": 1.0, "top2": 1.0, "num_items": 1}
    source = result["subsets"]["source"]
    assert source["shop"] == {"top1": 0.5, "top2": 1.0, "num_items": 2}
    assert source["user"]["top1"] == pytest.approx(1 / 3)
    assert source["user"]["top2"] == pytest.approx(2 / 3)
    assert result["subsets"]["occlusion"]["heavy"] == {"top1": 0.0, "top2": 0.0, "num_items": 1}
    assert result["subsets"]["viewpoint"]["side or back"]["top1"] == 0.0
    assert result["subsets"]["zoom_in"]["large"] == {"top1": None, "top2": None, "num_items": 0}
    conf = np.asarray(result["confusion"]["matrix"])
    names = result["confusion"]["categories"]
    assert conf.shape == (13, 13) and conf.sum() == 5 and len(names) == 13
    at = {(names[i], names[j]): int(conf[i, j]) for i, j in zip(*np.nonzero(conf), strict=True)}
    assert at == {
        ("vest dress", "vest dress"): 1,
        ("vest dress", "sling dress"): 1,
        ("skirt", "shorts"): 2,
        ("sling dress", "sling dress"): 1,
    }
    text = format_gt_box_classification(result)
    assert "top1=0.400 top2=0.800 items=5" in text
    assert "skirt -> shorts x2" in text and "vest dress -> sling dress x1" in text


def test_merged_shards_equal_one_pass(batch) -> None:
    records, outputs = batch
    one = GTBoxClassificationEvaluator(records)
    one.process(records, outputs)
    ranks = [GTBoxClassificationEvaluator(records) for _ in range(2)]
    # rank 1 holds the first image, rank 0 the others: merged in image-id order all the same
    ranks[1].process(records[:1], outputs[:1])
    ranks[0].process(records[1:], outputs[1:])
    ranks[0].merge([ranks[0].local_state(), ranks[1].local_state()])
    assert ranks[0].evaluate() == one.evaluate()


def test_outputs_that_do_not_fit_the_split_are_refused(batch) -> None:
    records, outputs = batch
    ev = GTBoxClassificationEvaluator(records)
    with pytest.raises(FashionVisionError, match="no box_class_scores"):
        ev.process(records[:1], [{"boxes": torch.zeros(0, 4)}])
    with pytest.raises(FashionVisionError, match=r"1 score rows for the 2 items of image/000001"):
        ev.process(records[:1], [{"box_class_scores": outputs[0]["box_class_scores"][:1]}])
    narrow = GTBoxClassificationEvaluator(records)
    narrow.process(records[:1], [{"box_class_scores": torch.full((2, 10), 0.1)}])
    with pytest.raises(FashionVisionError, match="category 12 in the split, but the model has 9"):
        narrow.evaluate()


def test_an_empty_split_has_no_accuracy() -> None:
    ev = GTBoxClassificationEvaluator([])
    assert ev.evaluate()[REPORT_KEY] == {"top1": None, "top2": None, "num_items": 0}
