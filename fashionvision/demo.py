"""The end-to-end demo: synthetic data -> tiny Match R-CNN trained on the CPU -> the four
DeepFashion2 benchmarks -> a report folder.

Everything here is composition of the library's parts; the demo adds only the report layout.
Report folder (``OUT/report``): ``metrics.json`` (all numbers), ``tables.md`` (the printed tables),
``predictions.png`` (drawn detections on validation images), ``retrieval.png`` (user-photo queries
with their top-5 shop results, hits framed green), ``index.html`` (the three together).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from fashionvision.config import DemoSettings, load_config
from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine.evaluate import evaluate_model
from fashionvision.engine.inference import Predictor
from fashionvision.engine.trainer import train
from fashionvision.evaluation.retrieval import box_iou_pairwise
from fashionvision.evaluation.tables import format_report
from fashionvision.io_utils import atomic_write, write_json
from fashionvision.structures import Detection, Garment, ImageAnnotation
from fashionvision.viz.draw import draw_annotation, draw_grid

Log = Callable[[str], None]


def run_demo(
    out_dir: str | Path, settings: DemoSettings | None = None, log: Log = print
) -> dict[str, Any]:
    """Run the whole demo into `out_dir`; returns the metrics written to ``report/metrics.json``."""
    settings = settings or DemoSettings()
    out = Path(out_dir)
    data_root, run_dir, report_dir = out / "data", out / "run", out / "report"
    started = time.perf_counter()

    log(f"[1/4] generating {settings.train_images}+{settings.val_images} synthetic images")
    generate_dataset(
        data_root, settings.train_images, settings.val_images, settings.seed, settings.image_size
    )

    log(f"[2/4] training {settings.config} for {settings.epochs} epochs on {data_root}")
    # The 1x schedule's decays at epochs 8 and 11 of 12, scaled to the demo's length.
    steps = [max(1, settings.epochs * 8 // 12), max(1, settings.epochs * 11 // 12)]
    cfg = load_config(
        settings.config,
        [
            f"data.root={data_root}",
            f"solver.epochs={settings.epochs}",
            f"solver.steps={steps}",
            "train.eval_every=0",  # the demo evaluates once, below, with the subset tables
            f"train.seed={settings.seed}",
            *settings.overrides,
        ],
    )
    train(cfg, run_dir)

    log("[3/4] evaluating boxes, masks, landmarks and retrieval on the validation split")
    predictor = Predictor.from_checkpoint(run_dir / "model_final.pt")
    val_dir = data_root / "validation"
    records = load_split(val_dir)
    # A few minutes of CPU training leave shop detections with low scores: keep those >= 0.1 in
    # the retrieval gallery (the evaluation default, 0.5, suits a fully trained model).
    metrics, coco, retrieval = evaluate_model(
        predictor.model, val_dir, records, device=predictor.device, gallery_threshold=0.1
    )
    assert metrics is not None  # single process: rank 0
    rows = retrieval.rows.get("detected", []) if retrieval is not None else []
    metrics["wall_time_s"] = round(time.perf_counter() - started, 1)

    log(f"[4/4] writing the report to {report_dir}")
    write_report(report_dir, val_dir, records, coco.detections, rows, metrics)
    log(format_report(metrics))
    return metrics


def write_report(
    report_dir: Path,
    split_dir: Path,
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    rows: Sequence[dict[str, Any]],
    metrics: dict[str, Any],
    num_images: int = 12,
) -> None:
    """metrics.json, tables.md, predictions.png, retrieval.png and index.html (all atomic)."""
    report_dir.mkdir(parents=True, exist_ok=True)
    write_json(report_dir / "metrics.json", metrics, indent=2)
    tables = format_report(metrics)
    atomic_write(report_dir / "tables.md", lambda f: f.write("```\n" + tables + "\n```\n"))
    grid = prediction_grid(split_dir, records, detections, num_images)
    _save_png(report_dir / "predictions.png", grid)
    _save_png(report_dir / "retrieval.png", retrieval_grid(split_dir, records, rows))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>fashionvision demo</title></head>"
        "<body><h1>fashionvision demo</h1><pre>" + html.escape(tables) + "</pre>"
        "<h2>Predictions (validation)</h2><img src='predictions.png'>"
        "<h2>Retrieval: query, then top-5 shop results (green = hit)</h2>"
        "<img src='retrieval.png'></body></html>"
    )
    atomic_write(report_dir / "index.html", lambda f: f.write(page))


def _save_png(path: Path, image: Image.Image) -> None:
    atomic_write(path, lambda f: image.save(f, format="PNG"), mode="wb")


def prediction_grid(
    split_dir: Path,
    records: Sequence[ImageAnnotation],
    detections: Sequence[Detection],
    num_images: int,
    score_threshold: float = 0.3,
    per_image: int = 4,
) -> Image.Image:
    """Detections scoring >= `score_threshold` (at most `per_image`, best first) drawn on
    `num_images` validation images spread over the split (neighbouring ids share a pair)."""
    by_image: dict[int, list[Detection]] = {}
    for det in sorted(detections, key=lambda d: -d.score):
        kept = by_image.setdefault(det.image_id, [])
        if det.score >= score_threshold and len(kept) < per_image:
            kept.append(det)
    step = max(1, len(records) // num_images)
    tiles = []
    for rec in list(records)[::step][:num_images]:
        image = Image.open(split_dir / rec.file_name).convert("RGB")
        tiles.append(draw_annotation(image, by_image.get(rec.image_id, [])))
    return draw_grid(tiles, ncols=4)


def retrieval_grid(
    split_dir: Path,
    records: Sequence[ImageAnnotation],
    rows: Sequence[dict[str, Any]],
    num_queries: int = 6,
    top: int = 5,
    tile: int = 128,
) -> Image.Image:
    """One line per query: the query crop, then its top-`top` shop crops.

    Green frame: the shop image holds the query's garment (same pair_id and style as the query's
    best-overlapping GT item) — the picture's cue; the protocol's IoU >= 0.5 check is left to
    `evaluate_retrieval`, whose numbers the report prints."""
    by_id = {r.image_id: r for r in records}
    lines = []
    for row in sorted(rows, key=lambda r: -r["query_score"])[:num_queries]:
        query_rec = by_id[row["query_image_id"]]
        truth = _best_item(query_rec, row["query_bbox"])
        crops = [_crop(split_dir, query_rec, row["query_bbox"], tile, (60, 60, 200))]
        for image_id, box in list(zip(row["gallery_image_id"], row["gallery_bbox"], strict=True))[
            :top
        ]:
            shop = by_id[image_id]
            hit = truth is not None and truth.style > 0 and any(
                it.style == truth.style and shop.pair_id == query_rec.pair_id for it in shop.items
            )
            crops.append(_crop(split_dir, shop, box, tile, (40, 180, 40) if hit else (200, 40, 40)))
        lines.append(draw_grid(crops, ncols=len(crops)))
    if not lines:
        return Image.new("RGB", (tile, tile), "white")
    return draw_grid(lines, ncols=1)


def _best_item(rec: ImageAnnotation, box: Sequence[float]) -> Garment | None:
    """The GT item of `rec` overlapping `box` most (the protocol's query assignment)."""
    if not rec.items:
        return None
    gt_boxes = np.asarray([i.bbox for i in rec.items], float)
    ious = box_iou_pairwise(np.asarray(box, float)[None], gt_boxes)  # [n_items]
    return rec.items[int(ious.argmax())]


def _crop(
    split_dir: Path,
    rec: ImageAnnotation,
    box: Sequence[float],
    tile: int,
    colour: tuple[int, int, int],
) -> Image.Image:
    image = Image.open(split_dir / rec.file_name).convert("RGB")
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    crop = image.crop((x1, y1, max(x2, x1 + 1), max(y2, y1 + 1)))
    crop.thumbnail((tile - 6, tile - 6))
    canvas = Image.new("RGB", (tile, tile), colour)
    canvas.paste(crop, ((tile - crop.width) // 2, (tile - crop.height) // 2))
    ImageDraw.Draw(canvas).rectangle((0, 0, tile - 1, tile - 1), outline=colour, width=3)
    return canvas


def load_metrics(report_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(report_dir) / "metrics.json").read_text())
