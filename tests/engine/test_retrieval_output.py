import pytest
import torch
from conftest import SMALL_MODEL

from fashionvision.config import load_config
from fashionvision.data.coco_format import retrieval_ground_truth
from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine.build import build_model
from fashionvision.engine.inference import forward_images, load_image
from fashionvision.engine.retrieval_output import (
    EmbeddedBoxes,
    embed_boxes,
    rank_gallery,
    result_rows,
    retrieval_results,
)
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.retrieval import evaluate_retrieval

SMALL = [*SMALL_MODEL, "model.box_score_thresh=0.0"]

GALLERY = torch.tensor([[3.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.5, 0.0]])


def test_rank_by_distance_then_rerank_and_pad():
    queries = torch.tensor([[0.0, 0.0], [2.1, 0.0]])
    assert rank_gallery(queries, GALLERY, top_k=4).tolist() == [[3, 1, 2, 0], [2, 0, 1, 3]]

    def prefer_far(a, b):  # probabilities growing with the distance
        return torch.cdist(a, b) / 10

    # only the 2 nearest are candidates; the similarity reorders them; 4 results padded
    ranked = rank_gallery(queries[:1], GALLERY, top_k=2, rerank_k=2, similarity=prefer_far)
    assert ranked.tolist() == [[1, 3]]
    assert rank_gallery(queries[:1], GALLERY[:2], top_k=4).tolist() == [[1, 0, 0, 0]]
    assert rank_gallery(torch.zeros(0, 2), GALLERY, top_k=3).shape == (0, 3)
    with pytest.raises(FashionVisionError, match="gallery is empty"):
        rank_gallery(queries, torch.zeros(0, 2))


def test_result_rows_have_the_official_fields():
    def boxes(n):
        return torch.tensor([[i, i, i + 10.5, i + 20.0] for i in range(n)])

    queries = EmbeddedBoxes(
        torch.zeros(1, 2), boxes(1), torch.tensor([7]), torch.tensor([3]), torch.tensor([0.75])
    )
    gallery = EmbeddedBoxes(
        GALLERY, boxes(4), torch.tensor([1, 1, 2, 5]), torch.ones(4), torch.ones(4)
    )
    [row] = result_rows(queries, gallery, torch.tensor([[3, 0, 2]]))
    assert row == {
        "query_image_id": 7,
        "query_bbox": [0.0, 0.0, 10.5, 20.0],
        "query_cls": 3,
        "query_score": 0.75,
        "gallery_image_id": [5, 1, 2],
        "gallery_bbox": [[3.0, 3.0, 13.5, 23.0], [0.0, 0.0, 10.5, 20.0], [2.0, 2.0, 12.5, 22.0]],
    }


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("retrieval")
    generate_dataset(root, train=0, val=8, seed=2, size=64)
    torch.manual_seed(0)
    model = build_model(load_config("match_rcnn_tiny", SMALL).model).eval()
    split_dir = root / "validation"
    return model, split_dir, load_split(split_dir)


def test_embedding_given_boxes_matches_the_eval_forward(split):
    model, split_dir, records = split
    images = [load_image(split_dir / r.file_name) for r in records[:2]]
    outputs = forward_images(model, images, torch.device("cpu"))
    mine = embed_boxes(model, images, [o["boxes"] for o in outputs])
    for out, emb in zip(outputs, mine, strict=True):
        assert emb.shape == out["embeddings"].shape
        torch.testing.assert_close(emb, out["embeddings"], atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("gt_boxes", [True, False])
def test_result_file_is_scored_by_the_official_protocol(split, gt_boxes):
    model, split_dir, records = split
    rows = retrieval_results(
        model, split_dir, records, torch.device("cpu"), use_gt_boxes=gt_boxes,
        query_threshold=0.0, gallery_threshold=0.0,
    )  # fmt: skip
    user_items = [(r.image_id, i) for r in records if r.source == "user" for i in r.items]
    if gt_boxes:
        assert len(rows) == len(user_items)
        assert sorted(r["query_cls"] for r in rows) == sorted(i.category_id for _, i in user_items)
    query_gt, gallery_gt = retrieval_ground_truth(records)
    gallery_ids = {g["gallery_image_id"] for g in gallery_gt}
    for row in rows:
        assert len(row["gallery_image_id"]) == 20 and len(row["gallery_bbox"]) == 20
        assert set(row["gallery_image_id"]) <= gallery_ids
    scores = evaluate_retrieval(query_gt, gallery_gt, rows, use_gt_boxes=gt_boxes)
    assert scores["num_queries"] == sum(1 for _, i in user_items if i.style > 0)
    assert 0.0 <= scores["top1"] <= scores["top20"] <= 1.0


def test_retrieve_command_writes_scored_rows(split, tmp_path, monkeypatch, capsys):
    import json

    import fashionvision.cli as cli
    from fashionvision.config import config_to_dict
    from fashionvision.engine.checkpoint import save_checkpoint

    model, split_dir, records = split
    cfg = config_to_dict(load_config("match_rcnn_tiny", SMALL))
    ckpt = save_checkpoint(tmp_path / "m.pt", {"model": model.state_dict(), "config": cfg})
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("retrieve",))
    out = tmp_path / "r.json"
    argv = ["retrieve", "--weights", str(ckpt), "--split", str(split_dir), "--out", str(out),
            "--gt-boxes", "--device", "cpu"]  # fmt: skip
    assert cli.main(argv) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == sum(len(r.items) for r in records if r.source == "user")
    assert "top20=" in capsys.readouterr().out
