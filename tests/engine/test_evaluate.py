"""The inference -> evaluation pipeline: sharding, the streams' rows, GT-box embeddings and
class scores, ranking.

Independent references: the sharded run against the single-process run of the same model; the
GT-box embeddings against the eval forward's own embeddings; the GT-box class scores against
torchvision's RoIAlign feeding the model's box head; each retrieval row's order against
brute force over the model's `PairSimilarity` module (and `torch.cdist` for distance ranking).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from conftest import SMALL_MODEL
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import MultiScaleRoIAlign

from fashionvision.config import load_config
from fashionvision.data.coco_format import detections_to_coco_results
from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine import evaluate as E
from fashionvision.engine.build import build_model
from fashionvision.engine.distributed import DistInfo
from fashionvision.engine.inference import forward_images, load_image
from fashionvision.evaluation.retrieval_evaluator import RetrievalEvaluator
from fashionvision.models.matching_head import pair_probabilities

# box_score_thresh 0 and 20 detections per image: an untrained model still yields many rows
SMALL = [*SMALL_MODEL, "model.box_score_thresh=0.0", "model.box_detections_per_img=20"]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline")
    generate_dataset(root, train=0, val=10, seed=2, size=64)
    torch.manual_seed(0)
    model = build_model(load_config("match_rcnn_tiny", SMALL).model).eval()
    split_dir = root / "validation"
    return model, split_dir, load_split(split_dir)


def _without_timing(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k != "inference_s"}


def test_sharded_evaluation_equals_the_single_process_one(split, monkeypatch) -> None:
    model, split_dir, records = split
    single, _, _ = E.evaluate_model(model, split_dir, records, device=CPU, batch_size=3)
    assert single is not None and {"bbox", "segm", "landmarks", "landmarks_visible"} <= set(single)
    assert {"retrieval", "retrieval_gt_boxes", "gt_box_classification"} <= set(single)

    # Three ranks in one process: ranks 1 and 2 hand their states over, rank 0 receives them.
    world, handed = 3, []

    def gather(obj: Any, info: DistInfo) -> list[Any]:
        if not info.is_main:
            handed.append(obj)
            return []
        per_evaluator = handed[gather.calls :: 3]  # 3 evaluators: states alternate per rank
        gather.calls += 1
        return [obj, *per_evaluator]

    gather.calls = 0  # type: ignore[attr-defined]
    monkeypatch.setattr(E, "gather_to_main", gather)
    for rank in (1, 2):
        info = DistInfo(rank=rank, world_size=world)
        assert E.evaluate_model(model, split_dir, records, device=CPU, dist=info)[0] is None
    sharded, _, _ = E.evaluate_model(
        model, split_dir, records, device=CPU, dist=DistInfo(rank=0, world_size=world)
    )
    assert sharded is not None
    assert _without_timing(sharded) == _without_timing(single)


def test_box_embeddings_come_from_the_same_forward(split) -> None:
    model, split_dir, records = split
    images = [load_image(split_dir / r.file_name) for r in records[:3]]
    plain = forward_images(model, images, CPU)
    with_boxes = forward_images(model, images, CPU, boxes=[o["boxes"] for o in plain])
    for a, b in zip(plain, with_boxes, strict=True):
        torch.testing.assert_close(a["boxes"], b["boxes"])
        # the detections' own boxes, embedded again, give the eval forward's embeddings
        torch.testing.assert_close(b["box_embeddings"], a["embeddings"], atol=1e-4, rtol=1e-4)


def test_gt_box_class_scores_follow_torchvision_pooling_and_the_box_head(split) -> None:
    model, split_dir, records = split
    assert model.roi_heads.box_roi_pool.__class__.__name__ == "SparseMultiScaleRoIAlign"
    images = [load_image(split_dir / r.file_name) for r in records[:3]]
    boxes = E.gt_boxes(records[:3])
    outs = forward_images(model, images, CPU, boxes=boxes)
    # reference: torchvision's pooler (not the model's sparse one) + the box head + predictor
    pooler = MultiScaleRoIAlign(["0", "1", "2", "3"], 7, sampling_ratio=2)
    with torch.inference_mode():
        image_list, _ = model.transform(images)
        features = model.backbone(image_list.tensors)
        for i, (out, b) in enumerate(zip(outs, boxes, strict=True)):
            scaled = resize_boxes(b, tuple(images[i].shape[-2:]), image_list.image_sizes[i])
            pooled = pooler(
                {k: v[i : i + 1] for k, v in features.items()}, [scaled],
                [image_list.image_sizes[i]],
            )  # fmt: skip
            logits, _ = model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
            assert out["box_class_scores"].shape == (len(b), 14)
            torch.testing.assert_close(
                out["box_class_scores"], logits.softmax(-1), atol=1e-5, rtol=1e-4
            )


def test_gt_box_classification_counts_every_item_without_a_matching_stream(split) -> None:
    _, split_dir, records = split
    torch.manual_seed(0)
    model = build_model(load_config("match_rcnn_tiny", [*SMALL, "model.matching=false"]).model)
    metrics, _, retrieval = E.evaluate_model(model.eval(), split_dir, records, device=CPU)
    assert retrieval is None and metrics is not None and "retrieval" not in metrics
    result = metrics["gt_box_classification"]
    assert result["num_items"] == sum(len(r.items) for r in records) > 0
    assert 0.0 <= result["top1"] <= result["top2"] <= 1.0
    assert np.asarray(result["confusion"]["matrix"]).sum() == result["num_items"]


def test_streams_capped_to_k_detections_leave_no_padded_rows(split) -> None:
    _, split_dir, records = split
    torch.manual_seed(0)
    cfg = load_config("match_rcnn_tiny", [*SMALL, "model.stream_detections_per_img=2"])
    model = build_model(cfg.model).eval()
    images = [load_image(split_dir / r.file_name) for r in records[:4]]
    for out in forward_images(model, images, CPU):
        n = min(2, len(out["boxes"]))
        assert len(out["landmarks"]) == len(out["embeddings"]) == n
    metrics, coco, retrieval = E.evaluate_model(model, split_dir, records, device=CPU)
    rows = detections_to_coco_results(coco.detections)
    per_image: dict[int, int] = {}
    for row in rows:
        if "keypoints" in row:
            per_image[row["image_id"]] = per_image.get(row["image_id"], 0) + 1
    assert max(per_image.values()) == 2 and len(rows) > sum(per_image.values())
    assert retrieval is not None
    gallery_per_image: dict[int, int] = {}
    for part in retrieval.parts["detected"]["gallery"]:
        gallery_per_image[int(part.image_ids[0]) if len(part) else -1] = len(part)
    assert max(gallery_per_image.values()) <= 2


@pytest.mark.parametrize("ranking", ["similarity", "distance"])
def test_retrieval_rows_follow_the_model_over_the_whole_gallery(split, ranking) -> None:
    model, split_dir, records = split
    evaluator = RetrievalEvaluator(
        records,
        model.roi_heads.similarity,
        modes=("detected",),
        ranking=ranking,
        query_threshold=0.0,
        gallery_threshold=0.0,
    )
    metrics = E.inference_on_dataset(model, split_dir, records, [evaluator], device=CPU)
    assert metrics is not None
    from fashionvision.evaluation.retrieval_evaluator import EmbeddedBoxes

    gallery = EmbeddedBoxes.concat(evaluator.parts["detected"]["gallery"])
    queries = EmbeddedBoxes.concat(evaluator.parts["detected"]["query"])
    rows = evaluator.rows["detected"]
    assert len(rows) == len(queries) > 0 and len(gallery) > 20
    with torch.inference_mode():
        if ranking == "similarity":
            score = pair_probabilities(model.roi_heads.similarity, queries.embeddings,
                                       gallery.embeddings)  # fmt: skip
        else:
            score = -torch.cdist(queries.embeddings, gallery.embeddings)
    for q, row in enumerate(rows):
        assert len(row["gallery_image_id"]) == 20
        best = torch.sort(score[q], descending=True, stable=True).values[:20]
        got = []
        for image_id, box in zip(row["gallery_image_id"], row["gallery_bbox"], strict=True):
            hit = (gallery.image_ids == image_id) & (
                (gallery.boxes - torch.tensor(box)).abs().max(dim=1).values < 0.01
            )
            got.append(score[q][hit].max())
        # the returned scores are the 20 best over the whole gallery, in order
        torch.testing.assert_close(torch.stack(got), best, atol=1e-5, rtol=1e-5)
    assert metrics["retrieval"]["gallery_size"] == len(gallery)


def test_a_gallery_smaller_than_k_is_not_padded(split) -> None:
    model, split_dir, records = split
    evaluator = RetrievalEvaluator(records, model.roi_heads.similarity, modes=("gt_boxes",))
    metrics = E.inference_on_dataset(model, split_dir, records, [evaluator], device=CPU)
    assert metrics is not None
    scores = metrics["retrieval_gt_boxes"]
    g = scores["gallery_size"]
    assert 0 < g < 20
    for row in evaluator.rows["gt_boxes"]:
        pairs = list(zip(row["gallery_image_id"], map(tuple, row["gallery_bbox"]), strict=True))
        assert len(pairs) == g == len(set(pairs))  # every gallery item once, nothing repeated
    # with every item returned, top-k for k >= G is the accuracy over the whole ranked gallery
    assert scores["top15"] == scores["top20"]
    assert scores["num_queries"] == sum(
        1 for r in records if r.source == "user" for i in r.items if i.style > 0
    )
