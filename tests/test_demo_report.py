"""The demo's report from a small fake metrics dict and generated images (no training): it says
what ran, explains every column, labels the pictures, works offline from its folder, and renders
in a real browser (headless Chromium, when installed)."""

import html
import json
import re
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from fashionvision.categories import CATEGORY_NAMES
from fashionvision.cli.demo import split_out_and_overrides
from fashionvision.config import MAX_DEMO_THREADS
from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import generate_dataset
from fashionvision.demo import (
    COLUMN_EXPLANATIONS,
    _covers,
    available_cores,
    demo_threads,
    judge_detections,
    prediction_grid,
    report_html,
    write_report,
)
from fashionvision.errors import FashionVisionError
from fashionvision.evaluation.coco_eval import stat_keys
from fashionvision.evaluation.gt_box_classification import GTBoxClassificationEvaluator
from fashionvision.evaluation.subsets import iter_subsets
from fashionvision.structures import Detection


def fake_coco(task: str, value: float, subsets: bool = False) -> dict:
    out: dict = {k: value for k in stat_keys(task)}
    if subsets:
        out["subsets"] = {}
        for attr, _, name in iter_subsets():
            out["subsets"].setdefault(attr, {})[name] = {"AP": value, "AP50": -1.0, "AP75": value}
        out["per_category"] = {
            name: {k: (value if i % 2 else -1.0) for k in stat_keys(task)}
            for i, name in enumerate(CATEGORY_NAMES.values())
        }
    return out


def fake_metrics() -> dict:
    retrieval = {"top1": 0.1, "top5": 0.2, "top10": 0.3, "top15": 0.35, "top20": 0.4}
    return {
        "bbox": fake_coco("bbox", 0.081, subsets=True),
        "segm": fake_coco("segm", 0.072),
        "landmarks": fake_coco("landmarks", 0.03),
        "landmarks_visible": fake_coco("landmarks", 0.04),
        "retrieval": {**retrieval, "num_queries": 12, "num_missed": 3, "gallery_size": 9},
        "retrieval_gt_boxes": {**retrieval, "num_queries": 12, "num_missed": 0, "gallery_size": 8},
        "num_images": 16,
        "inference_s": 3.2,
        "wall_time_s": 95.0,
        "run": {
            "data": {
                "kind": "synthetic, DeepFashion2 format (fashionvision synth)",
                "train_images": 40,
                "val_images": 16,
                "image_size": 128,
                "seed": 3,
            },
            "model": {
                "config": "match_rcnn_tiny",
                "backbone": "resnet18",
                "norm": "gn",
                "weights": None,
                "input_size": [128, 128],
            },
            "training": {
                "epochs": 2,
                "iterations": 20,
                "batch_size": 4,
                "base_lr": 0.01,
                "overrides": [],
            },
            "evaluation": {"score_threshold": 0.05, "gallery_threshold": 0.1},
            "machine": {
                "device": "cpu",
                "torch_threads": 2,
                "cores_available": 2,
                "torch": "2.x",
                "python": "3.x",
                "platform": "Linux",
            },
            "times_s": {"data": 1.0, "training": 80.0, "evaluation": 12.0},
        },
    }


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate_dataset(root, 0, 16, seed=3, size=128, workers=1)
    val = root / "validation"
    return val, load_split(val)


def gt_detections(records, image_ids, score=0.9):
    """Detections on the GT boxes of `image_ids` (with landmarks), scored `score`."""
    dets = []
    for rec in records:
        if rec.image_id not in image_ids:
            continue
        for item in rec.items:
            marks = None
            if item.landmarks is not None:
                marks = np.asarray(item.landmarks, float).reshape(-1, 3).copy()
                marks[:, 2] = 1.0
            dets.append(Detection(rec.image_id, item.category_id, score, item.bbox, marks))
    return dets


def retrieval_rows(records):
    users = [r for r in records if r.source == "user" and r.items]
    shops = [r for r in records if r.source == "shop" and r.items]
    rows = []
    for rec in users[:3]:
        gallery = shops[:5]
        rows.append({
            "query_image_id": rec.image_id,
            "query_bbox": list(rec.items[0].bbox),
            "query_cls": rec.items[0].category_id,
            "query_score": 0.8,
            "gallery_image_id": [g.image_id for g in gallery],
            "gallery_bbox": [list(g.items[0].bbox) for g in gallery],
        })  # fmt: skip
    return rows


def write_losses(path, n=30):
    names = ["loss", "loss_classifier", "loss_box_reg", "loss_mask", "loss_landmark", "loss_pair"]
    lines = ["epoch,iteration," + ",".join(names) + ",lr,time"]
    for i in range(1, n + 1):
        values = [f"{(k + 1) * (2.0 - i / n) + 0.1 * np.sin(i):.4f}" for k in range(len(names))]
        lines.append(f"1,{i}," + ",".join(values) + ",0.01,0.5")
    path.write_text("\n".join(lines) + "\n")


def test_prediction_grid_shows_the_images_with_detections_and_its_threshold(split):
    val, records = split
    ids = {records[1].image_id, records[7].image_id, records[12].image_id}
    dets = gt_detections(records, ids) + gt_detections(records, {records[2].image_id}, score=0.2)
    grid, shown = prediction_grid(val, records, dets, num_images=3)
    assert shown["with_detections"] == 3 and shown["images"] == 3
    assert shown["split_with_detections"] == 3 and shown["score_threshold"] == 0.3
    assert grid.width > 3 * 128
    # a weak model's low scores: the threshold goes down (and says so) until tiles show some
    _, shown = prediction_grid(val, records, dets, num_images=6)
    assert shown["score_threshold"] == 0.2 and shown["with_detections"] == 4
    assert shown["images"] == 6 and shown["requested_threshold"] == 0.3


def test_prediction_grid_draws_one_box_per_garment(split):
    val, records = split
    rec = next(r for r in records if 2 <= len(r.items) <= 3)
    dets = gt_detections(records, {rec.image_id}, score=0.9)
    x1, y1, x2, y2 = dets[0].bbox
    nudged = (x1 + 0.02 * (x2 - x1), y1, x2, y2)  # IoU 0.98 with the first garment's box
    other = next(c for c in range(1, 14) if c not in {i.category_id for i in rec.items})
    second_guess = replace(dets[0], category_id=other, score=0.6, bbox=nudged)
    _, shown = prediction_grid(val, records, [*dets, second_guess], num_images=1)
    assert other not in shown["categories"]  # the lower box on the same garment is hidden
    assert set(shown["categories"]) == {i.category_id for i in rec.items}  # the others drawn
    assert _covers(dets[:1], second_guess) and not _covers(dets[:1], dets[1])


def test_each_drawn_detection_is_judged_against_the_ground_truth(split):
    val, records = split
    rec = next(r for r in records if len(r.items) >= 2)
    a, b = gt_detections(records, {rec.image_id}, score=0.9)[:2]
    x1, y1, x2, y2 = a.bbox
    w, h = x2 - x1, y2 - y1
    other = next(c for c in range(1, 14) if c not in {i.category_id for i in rec.items})
    dets = [
        a,  # on garment a, its category: right
        replace(a, score=0.8, bbox=(x1 + 0.1 * w, y1, x2, y2)),  # a again (IoU 0.9): duplicate
        replace(b, score=0.7, category_id=other),  # on garment b, another category
        replace(a, score=0.6, bbox=(x2 + 5 * w, y2 + 5 * h, x2 + 6 * w, y2 + 6 * h)),  # nowhere
        replace(a, score=0.5, bbox=(x1 + 0.6 * w, y1, x2 + 0.6 * w, y2)),  # IoU 0.25: nowhere
    ]
    verdicts = ["right", "duplicate", "wrong category", "no garment", "no garment"]
    assert judge_detections(rec, dets) == verdicts
    # best first whatever the order given: the lower-scoring twin is the duplicate
    assert judge_detections(rec, dets[::-1]) == verdicts
    assert judge_detections(rec, []) == []


def test_prediction_grid_counts_the_verdicts_and_the_garments_found(split):
    val, records = split
    ids = {records[1].image_id, records[7].image_id}
    dets = gt_detections(records, ids)
    n = sum(len(r.items) for r in records if r.image_id in ids)
    wrong = replace(dets[0], category_id=next(c for c in range(1, 14) if c != dets[0].category_id))
    grid, shown = prediction_grid(val, records, [wrong, *dets[1:]], num_images=2)
    assert shown["garments"] == n and shown["garments_found"] == n - 1
    assert shown["verdicts"] == {
        "right": n - 1,
        "wrong category": 1,
        "duplicate": 0,
        "no garment": 0,
    }
    assert grid.width > 2 * 2 * 128  # each image beside its ground truth


def test_report_explains_itself_and_works_offline(split, tmp_path):
    val, records = split
    dets = gt_detections(records, {r.image_id for r in records[::3]})
    csv_path = tmp_path / "metrics.csv"
    write_losses(csv_path)
    report = tmp_path / "report"
    metrics = fake_metrics()
    write_report(report, val, records, dets, retrieval_rows(records), metrics, metrics_csv=csv_path)

    for name in ("metrics.json", "tables.md", "predictions.png", "retrieval.png", "losses.png"):
        assert (report / name).stat().st_size > 0, name
    assert json.loads((report / "metrics.json").read_text())["run"]["model"]["backbone"]
    page = (report / "index.html").read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    text = re.sub(r"\s+", " ", text)
    # what ran
    for phrase in ("synthetic", "16 validation images", "128 × 128 px", "seed 3",
                   "match_rcnn_tiny", "resnet18", "from scratch", "20 iterations",
                   "training 1 min 20 s", "torch 2.x using 2 thread(s)"):  # fmt: skip
        assert phrase in text, phrase
    # headline numbers beside the paper's, said to be not comparable
    for ref in ("0.638", "0.605", "0.529", "0.640", "0.524", "not comparable", "12 epochs"):
        assert ref in text, ref
    assert "real DeepFashion2" in text
    # every column explained
    for term, sentence in COLUMN_EXPLANATIONS:
        assert html.escape(term) in page and html.escape(sentence) in page, term
    for column in ("AP50", "APs", "AR1", "AR100", "missed", "gallery", "top-20", "occlusion",
                   "viewpoint", "per category"):  # fmt: skip
        assert column in text, column
    # the pictures' thresholds and colours
    assert "Score threshold 0.30" in text
    # the verdicts: detections on the GT boxes are all right, and metrics.json says so too
    shown = json.loads((report / "metrics.json").read_text())["predictions_shown"]
    drawn = shown["verdicts"]["right"]
    assert drawn > 0 and sum(shown["verdicts"].values()) == drawn
    assert f"Of the {drawn} detections drawn, {drawn} are right" in text
    assert "left the ground truth" in text
    for colour in ("blue", "Green", "red"):
        assert colour in text, colour
    assert "Box AP by category" in text and "long sleeve outwear" in text
    # offline: relative images that exist, no network reference
    images = re.findall(r"<img[^>]*\ssrc='([^']+)'", page)
    assert set(images) == {"predictions.png", "retrieval.png", "losses.png"}
    for src in images:
        assert (report / src).is_file(), src
    assert "http://" not in page and "https://" not in page
    assert "//" not in "".join(re.findall(r"(?:src|href)='([^']*)'", page))

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium not installed: the browser screenshot is not checked")
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'chromium-profile'}",
         f"--screenshot={shot}", "--window-size=1200,3000", (report / "index.html").as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    image = np.asarray(Image.open(shot).convert("RGB"))
    assert image.shape[:2] == (3000, 1200)
    assert image.std() > 20  # text, tables and pictures, not a blank page
    colours = np.unique(image.reshape(-1, 3)[::97], axis=0)
    assert len(colours) > 100  # the pictures rendered (a text-only page has a few grey levels)


def test_report_says_how_often_the_classifier_names_a_true_box_right(split):
    _, records = split
    evaluator = GTBoxClassificationEvaluator(records)
    outputs = []
    for k, rec in enumerate(records):
        probs = torch.zeros(len(rec.items), 14)
        for i, item in enumerate(rec.items):
            probs[i, item.category_id] = 1.0
        if k == 0 and rec.items:  # the first garment named the next category
            probs[0] = 0.0
            probs[0, rec.items[0].category_id % 13 + 1] = 1.0
        outputs.append({"box_class_scores": probs})
    evaluator.process(records, outputs)
    metrics = {**fake_metrics(), **evaluator.evaluate()}
    result = metrics["gt_box_classification"]
    n = result["num_items"]
    assert n > 1 and result["top1"] == pytest.approx((n - 1) / n)
    page = report_html(metrics, "", {}, has_losses=False, rows=0, has_analysis=True)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    first = records[0].items[0].category_id
    assert f"names {(n - 1) / n:.3f} of the {n} garments right" in text
    wrong = f"{CATEGORY_NAMES[first]} named {CATEGORY_NAMES[first % 13 + 1]} 1×"
    assert f"Most often confused: {html.escape(wrong)}." in text
    # without the evaluator's numbers (older metrics.json) the paragraph is left out
    assert "Naming apart from finding" not in report_html(
        fake_metrics(), "", {}, has_losses=False, rows=0, has_analysis=True
    )


def test_demo_cli_reads_key_value_arguments_as_overrides():
    assert split_out_and_overrides(None, ["train.device=cuda"]) == (
        "demo_out",
        ["train.device=cuda"],
    )
    assert split_out_and_overrides("x", ["a.b=1"]) == ("x", ["a.b=1"])
    assert split_out_and_overrides(None, ["old_out", "a.b=1"]) == ("old_out", ["a.b=1"])
    with pytest.raises(FashionVisionError, match="--out"):
        split_out_and_overrides("x", ["old_out"])
    with pytest.raises(FashionVisionError, match="at most one"):
        split_out_and_overrides(None, ["a", "b"])


def test_demo_threads_follow_the_available_cores():
    assert demo_threads(3) == 3
    assert demo_threads() == max(1, min(available_cores(), MAX_DEMO_THREADS))
    with pytest.raises(ValueError):
        demo_threads(0)
