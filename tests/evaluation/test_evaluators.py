"""`COCOEvaluator`: perfect outputs score 1, shards merge into the one-pass numbers, and detections
without landmarks stay out of the landmark task."""

from __future__ import annotations

import pytest
import torch

from fashionvision.data.dataset import record_target
from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import generate_dataset
from fashionvision.evaluation.evaluator import COCOEvaluator

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools on numpy 2


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluators")
    generate_dataset(root, train=0, val=6, seed=4, size=64)
    return load_split(root / "validation")


def outputs_from_gt(record, landmarks_for: int | None = None) -> dict[str, torch.Tensor]:
    """The model output a perfect detector would give for `record` (landmarks for the first
    `landmarks_for` detections only, as a model whose streams are capped)."""
    t = record_target(record)
    n = len(t["boxes"])
    keep = n if landmarks_for is None else min(n, landmarks_for)
    return {
        "boxes": t["boxes"],
        "labels": t["labels"],
        "scores": torch.linspace(0.9, 0.5, n),
        "masks": t["masks"][:, None].float(),
        "landmarks": t["keypoints"][:keep],
    }


def test_perfect_outputs_score_one_in_every_task(records) -> None:
    evaluator = COCOEvaluator(records, subsets=True, per_category=True)
    evaluator.process(records[:1], [outputs_from_gt(records[0])])
    evaluator.reset()
    for batch in (records[:4], records[4:]):
        evaluator.process(batch, [outputs_from_gt(r) for r in batch])
    out = evaluator.evaluate()
    assert out["num_detections"] == sum(len(r.items) for r in records)
    for task in ("bbox", "segm", "landmarks", "landmarks_visible"):
        assert out[task]["AP"] == pytest.approx(1.0, abs=1e-6), task
    assert out["bbox"]["subsets"]["viewpoint"]["no wear"]["AP"] in (-1.0, pytest.approx(1.0))


def test_merged_shards_give_the_one_pass_numbers(records) -> None:
    whole = COCOEvaluator(records, tasks=("bbox", "landmarks"))
    whole.process(records, [outputs_from_gt(r, landmarks_for=1) for r in records])
    shards = [COCOEvaluator(records, tasks=("bbox", "landmarks")) for _ in range(3)]
    for rank, shard in enumerate(shards):
        mine = records[rank::3]
        shard.process(mine, [outputs_from_gt(r, landmarks_for=1) for r in mine])
    merged = COCOEvaluator(records, tasks=("bbox", "landmarks"))
    merged.merge([s.local_state() for s in shards])
    assert [d.image_id for d in merged.detections] == sorted(d.image_id for d in whole.detections)
    assert merged.evaluate() == whole.evaluate()


def test_detections_without_landmarks_are_not_landmark_results(records) -> None:
    evaluator = COCOEvaluator(records, tasks=("landmarks",), subsets=False, per_category=False)
    evaluator.process(records, [outputs_from_gt(r, landmarks_for=1) for r in records])
    with_marks = [d for d in evaluator.detections if d.landmarks is not None]
    assert len(with_marks) == len(records) < len(evaluator.detections)
    # the items left without a landmark result are missed: recall falls below the full set's 1.0
    capped = evaluator.evaluate()["landmarks"]
    full = COCOEvaluator(records, tasks=("landmarks",), subsets=False, per_category=False)
    full.process(records, [outputs_from_gt(r) for r in records])
    assert full.evaluate()["landmarks"]["AR"] == pytest.approx(1.0)
    assert 0 < capped["AR"] < 1
