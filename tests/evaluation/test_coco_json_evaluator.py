"""CocoJsonEvaluator: model outputs -> Fashionpedia results rows in the file's own ids, and the
box / mask / attribute AP of them; the ground truth fed back as outputs scores 1."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
from torch import nn

from fashionvision.data.coco_dataset import CocoSplit, decode_masks, load_coco_split
from fashionvision.data.synthetic_parsing import annotation_file, generate_fashionpedia
from fashionvision.engine.evaluate import inference_on_dataset
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.coco_eval import stat_keys
from fashionvision.evaluation.coco_json_evaluator import CocoJsonEvaluator
from fashionvision.evaluation.fashionpedia_eval import evaluate_fashionpedia

SIZE = 128


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fp")
    generate_fashionpedia(out, 6, 4, seed=7, size=SIZE)
    # The generator's ids are 0..n-1 in table order, so a label k -> id k - 1 slip would pass
    # unseen: renumber both tables (ids with gaps, tables listed in reverse order).
    path = out / annotation_file("train")
    raw = json.loads(path.read_text())
    raw["categories"] = [{**c, "id": 100 + 3 * c["id"]} for c in reversed(raw["categories"])]
    raw["attributes"] = [{**a, "id": 1000 + 2 * a["id"]} for a in reversed(raw["attributes"])]
    for ann in raw["annotations"]:
        ann["category_id"] = 100 + 3 * ann["category_id"]
        ann["attribute_ids"] = [1000 + 2 * a for a in ann["attribute_ids"]]
    path.write_text(json.dumps(raw))
    return out


@pytest.fixture(scope="module")
def split(root: Path) -> CocoSplit:
    return load_coco_split(root / annotation_file("train"), root / "train")


def perfect_outputs(split: CocoSplit, attributes: bool = True) -> list[dict[str, torch.Tensor]]:
    """The ground truth as model outputs: probabilities 0.7 inside each mask, 0.3 outside (the
    0.5 threshold recovers it), scores 1, attribute scores 0/1."""
    outputs = []
    for record in split.records:
        n = len(record.instances)
        masks = torch.from_numpy(decode_masks(record.instances, record.height, record.width))
        scores = torch.zeros(n, split.num_attributes)
        for row, inst in enumerate(record.instances):
            scores[row, list(inst.attributes)] = 1.0
        output = {
            "boxes": torch.tensor([list(i.bbox) for i in record.instances]).reshape(n, 4),
            "labels": torch.tensor([i.label for i in record.instances], dtype=torch.int64),
            "scores": torch.ones(n),
            "masks": 0.3 + 0.4 * masks[:, None].float(),
        }
        if attributes:
            output["attribute_scores"] = scores
        outputs.append(output)
    return outputs


def _evaluated(split: CocoSplit, outputs: list[dict[str, torch.Tensor]]) -> CocoJsonEvaluator:
    evaluator = CocoJsonEvaluator(split)
    evaluator.process(split.records, outputs)
    return evaluator


def test_the_ground_truth_as_outputs_scores_1(split: CocoSplit) -> None:
    result = _evaluated(split, perfect_outputs(split)).evaluate()
    assert result["num_detections"] == sum(len(r.instances) for r in split.records) > 10
    for task in ("bbox", "segm"):
        assert result[task]["AP"] == pytest.approx(1.0)
        assert result[task]["AP50"] == pytest.approx(1.0)
    attributes = result["attributes"]
    assert attributes["iou_type"] == "segm"
    assert attributes["iou+f1"]["AP"] == pytest.approx(1.0)
    assert attributes["iou"]["AP"] == pytest.approx(1.0)
    assert attributes["AP_grid"] == pytest.approx(1.0)


def test_dropped_attributes_lower_iou_f1_only(split: CocoSplit) -> None:
    outputs = perfect_outputs(split)
    for output in outputs:
        output["attribute_scores"] = torch.zeros_like(output["attribute_scores"])
    result = _evaluated(split, outputs).evaluate()
    assert result["segm"]["AP"] == pytest.approx(1.0)
    assert result["attributes"]["iou"]["AP"] == pytest.approx(1.0)
    assert result["attributes"]["iou+f1"]["AP"] < 0.9
    assert result["attributes"]["AP_grid"] < 0.9
    # no attribute head at all: rows without attribute_ids, which predict none
    bare = _evaluated(split, perfect_outputs(split, attributes=False))
    assert all("attribute_ids" not in row for row in bare.results())
    assert bare.evaluate()["attributes"]["iou+f1"] == result["attributes"]["iou+f1"]


def test_rows_carry_the_files_ids(root: Path, split: CocoSplit) -> None:
    raw = json.loads((root / annotation_file("train")).read_text())
    rows = _evaluated(split, perfect_outputs(split)).results()
    annotations = raw["annotations"]
    assert len(rows) == len(annotations)
    # one row per annotation, in file order (records and instances keep it)
    for row, ann in zip(rows, annotations, strict=True):
        assert row["image_id"] == ann["image_id"]
        assert row["category_id"] == ann["category_id"] >= 100
        assert sorted(row["attribute_ids"]) == sorted(ann["attribute_ids"])
        assert row["bbox"] == pytest.approx(ann["bbox"])
        assert row["score"] == 1.0
        assert row["segmentation"]["size"] == [SIZE, SIZE]
        assert isinstance(row["segmentation"]["counts"], str)
    assert any(row["attribute_ids"] for row in rows)


def test_written_results_are_a_fashionpedia_results_file(
    root: Path, split: CocoSplit, tmp_path: Path
) -> None:
    evaluator = _evaluated(split, perfect_outputs(split))
    path = tmp_path / "out" / "results.json"
    evaluator.write_results(path)
    assert json.loads(path.read_text()) == evaluator.results()
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]  # no temporary left
    scored = evaluate_fashionpedia(root / annotation_file("train"), path)
    assert scored["iou+f1"] == evaluator.evaluate()["attributes"]["iou+f1"]


def test_two_merged_shards_equal_one_run(split: CocoSplit) -> None:
    outputs = perfect_outputs(split)
    for k, output in enumerate(outputs):  # imperfect scores, so the order of rows matters
        output["scores"] = torch.linspace(0.9, 0.2, len(output["scores"])) - 0.01 * k
        output["boxes"] = output["boxes"] + torch.tensor([1.0, 0.0, 2.0, 1.0]) * (k % 3)
    whole = _evaluated(split, outputs)
    shards = []
    for rank in range(2):
        shard = CocoJsonEvaluator(split)
        shard.process(split.records[rank::2], outputs[rank::2])
        shards.append(shard.local_state())
    merged = CocoJsonEvaluator(split)
    merged.merge(shards)
    assert merged.results() == whole.results()
    assert merged.evaluate() == whole.evaluate()
    assert whole.evaluate()["bbox"]["AP"] < 1.0


def test_numbers_are_pycocotools_on_the_annotation_file(root: Path, split: CocoSplit) -> None:
    outputs = perfect_outputs(split)
    for k, output in enumerate(outputs):  # some boxes off by a few pixels, masks by a row
        output["boxes"] = output["boxes"] + torch.tensor([3.0, 0.0, 1.0, 4.0]) * (k % 3)
        output["masks"] = output["masks"].roll(k % 2, dims=-2)
        output["scores"] = torch.linspace(0.9, 0.3, len(output["scores"]))
    evaluator = _evaluated(split, outputs)
    result = evaluator.evaluate()
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(root / annotation_file("train")))
        for task in ("bbox", "segm"):
            ev = COCOeval(gt, gt.loadRes(evaluator.results()), task)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            assert [result[task][k] for k in stat_keys(task)] == pytest.approx(list(ev.stats))
    assert 0.0 < result["bbox"]["AP"] < 1.0 and 0.0 < result["segm"]["AP"] < 1.0


def test_per_category_rows_are_the_files_categories(root: Path, split: CocoSplit) -> None:
    outputs = perfect_outputs(split)
    for k, output in enumerate(outputs):  # imperfect: boxes off by a few pixels, masks by a row
        output["boxes"] = output["boxes"] + torch.tensor([3.0, 0.0, 1.0, 4.0]) * (k % 3)
        output["masks"] = output["masks"].roll(k % 2, dims=-2)
        output["scores"] = torch.linspace(0.9, 0.3, len(output["scores"]))
    evaluator = _evaluated(split, outputs)
    result = evaluator.evaluate()
    # named by the file's table (ids 100 + 3k, listed in reverse), not by DeepFashion2's; in id
    # order, as COCOeval sorts its catIds
    pairs = zip(split.category_ids, split.category_names, strict=True)
    by_id = [name for _, name in sorted(pairs)]
    assert split.category_ids[0] > split.category_ids[-1] and "shirt, blouse" in by_id
    for task in ("bbox", "segm"):
        assert list(result[task]["per_category"]) == by_id
    assert list(result["attributes"]["per_category"]) == by_id
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(root / annotation_file("train")))
        dt = gt.loadRes(evaluator.results())
        for task in ("bbox", "segm"):
            for cat_id, name in zip(split.category_ids, split.category_names, strict=True):
                ev = COCOeval(gt, dt, task)
                ev.params.catIds = [cat_id]
                ev.evaluate()
                ev.accumulate()
                ev.summarize()
                ours = [result[task]["per_category"][name][k] for k in stat_keys(task)]
                assert ours == pytest.approx(list(ev.stats), abs=1e-9), (task, name)
    assert not CocoJsonEvaluator(split, per_category=False).evaluate()["bbox"].get("per_category")


def test_no_detection_scores_0(split: CocoSplit) -> None:
    empty = {
        "boxes": torch.zeros(0, 4),
        "labels": torch.zeros(0, dtype=torch.int64),
        "scores": torch.zeros(0),
        "masks": torch.zeros(0, 1, SIZE, SIZE),
        "attribute_scores": torch.zeros(0, split.num_attributes),
    }
    evaluator = _evaluated(split, [empty] * len(split.records))
    result = evaluator.evaluate()
    assert result["num_detections"] == 0 and evaluator.results() == []
    assert result["bbox"]["AP"] == result["segm"]["AP"] == 0.0
    assert result["attributes"]["iou+f1"]["AP"] == 0.0
    assert CocoJsonEvaluator(split).evaluate()["segm"]["AP"] == 0.0  # nothing processed


def test_bbox_only_and_bad_outputs(split: CocoSplit) -> None:
    outputs = perfect_outputs(split)
    boxes_only = CocoJsonEvaluator(split, tasks=("bbox",))
    boxes_only.process(
        split.records, [{k: v for k, v in o.items() if k != "masks"} for o in outputs]
    )
    result = boxes_only.evaluate()
    assert "segm" not in result and result["attributes"]["iou_type"] == "bbox"
    assert result["attributes"]["iou+f1"]["AP"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="tasks"):
        CocoJsonEvaluator(split, tasks=("landmarks",))
    record, output = split.records[0], outputs[0]
    with pytest.raises(ValueError, match="needs masks"):
        CocoJsonEvaluator(split).process(
            [record], [{k: v for k, v in output.items() if k != "masks"}]
        )
    with pytest.raises(FashionVisionError, match="predicts label 13"):
        bad = dict(output, labels=torch.full_like(output["labels"], 13))
        CocoJsonEvaluator(split).process([record], [bad])
    with pytest.raises(FashionVisionError, match="attribute_scores"):
        bad = dict(output, attribute_scores=output["attribute_scores"][:, :5])
        CocoJsonEvaluator(split).process([record], [bad])


def test_inference_on_dataset_drives_it(split: CocoSplit) -> None:
    outputs = {r.image_id: o for r, o in zip(split.records, perfect_outputs(split), strict=True)}

    def run_batch(records: Any) -> list[dict[str, torch.Tensor]]:
        return [outputs[r.image_id] for r in records]

    result = inference_on_dataset(
        nn.Identity(),
        split.image_dir,
        split.records,
        [CocoJsonEvaluator(split)],
        device=torch.device("cpu"),
        batch_size=4,
        run_batch=run_batch,
    )
    assert result is not None and result["num_images"] == len(split.records)
    assert result["segm"]["AP"] == pytest.approx(1.0)
    assert result["attributes"]["iou+f1"]["AP"] == pytest.approx(1.0)
