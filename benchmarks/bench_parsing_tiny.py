"""Benchmark: the attribute-aware Mask R-CNN (fashion parsing) trained from scratch on synthetic
Fashionpedia-format (or, with ``--format imaterialist``, iMaterialist-format) data here, scored by
the pipeline of `fashionvision evaluate --weights`: box and mask AP and the Fashionpedia AP over
IoU and attribute F1; per category, the box AP, mask AP and AP over IoU and attribute F1 side by
side (`evaluate --per-category`'s table).

    python benchmarks/bench_parsing_tiny.py --out /tmp/parse --train 600 --val 150 --epochs 5
    python benchmarks/bench_parsing_tiny.py --out /tmp/parse_se --data /tmp/parse/data \
        --epochs 5 model.backbone=se_resnet18
    python benchmarks/bench_parsing_tiny.py --out /tmp/parse_imat --format imaterialist \
        --train 600 --val 150 --epochs 5

iMaterialist has labels for its training split only: the data set is two iMaterialist roots,
``train/`` and ``val/`` (another seed), each with Kaggle's ``train.csv``; training reads the first
through ``data.format=imaterialist``, the evaluation the second's converted COCO file.

The tiny Match R-CNN preset with the landmark and matching streams off, ``model.num_classes`` and
``model.num_attributes`` from the synthetic label table (12 categories, 22 attributes), plus any
overrides.  `--data` reuses an existing data set (the same split for side-by-side runs).  Steps
whose output exists in `--out` are skipped.  Writes `--out/metrics.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from fashionvision.config import load_config
from fashionvision.data.coco_dataset import CocoSplit, find_coco_split, load_coco_split
from fashionvision.data.synthetic_parsing import generate_fashionpedia, generate_imaterialist
from fashionvision.engine.coco_data import imaterialist_coco
from fashionvision.engine.evaluate import inference_on_dataset
from fashionvision.engine.inference import load_network
from fashionvision.engine.schedule import scaled_1x_steps
from fashionvision.engine.trainer import train
from fashionvision.evaluation.coco_json_evaluator import CocoJsonEvaluator
from fashionvision.evaluation.tables import format_parsing_report
from fashionvision.io_utils import write_json


def prepare_data(data: Path, fmt: str, train: int, val: int, seed: int) -> dict[str, str]:
    """Generate the data set unless it exists; the overrides that train on it."""
    if fmt == "imaterialist":
        for split, n, split_seed in (("train", train, seed), ("val", val, seed + 1)):
            if not (data / split / "train.csv").is_file():
                generate_imaterialist(data / split, n, split_seed)
        return {"data.format": "imaterialist", "data.root": str(data / "train")}
    if not (data / "instances_attributes_val2020.json").is_file():
        generate_fashionpedia(data, train, val, seed)
    return {"data.format": "fashionpedia", "data.root": str(data), "data.val_split": "val"}


def load_split(data: Path, fmt: str, split: str) -> CocoSplit:
    if fmt == "imaterialist":
        return load_coco_split(*imaterialist_coco(data / split))
    return load_coco_split(*find_coco_split(data, split))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=None, help="default: OUT/data (generated)")
    parser.add_argument("--train", type=int, default=600)
    parser.add_argument("--val", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--format", choices=("fashionpedia", "imaterialist"), default="fashionpedia"
    )
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = parser.parse_args()

    data = args.data or args.out / "data"
    data_overrides = prepare_data(data, args.format, args.train, args.val, args.seed)
    train_split = load_split(data, args.format, "train")
    run = args.out / "run"
    train_s = None
    if not (run / "model_final.pt").exists():
        steps = scaled_1x_steps(args.epochs, whole_epochs=True)
        cfg = load_config(
            "match_rcnn_tiny",
            [
                *(f"{k}={v}" for k, v in data_overrides.items()),
                "model.landmarks=false", "model.matching=false",
                f"model.num_classes={train_split.num_classes + 1}",
                f"model.num_attributes={train_split.num_attributes}",
                f"solver.epochs={args.epochs}", f"solver.steps={steps}",
                "train.eval_every=0", "train.progress=false", *args.overrides,
            ],
        )  # fmt: skip
        start = time.perf_counter()
        train(cfg, run)
        train_s = time.perf_counter() - start

    start = time.perf_counter()
    cpu = torch.device("cpu")
    model, _ = load_network(run / "model_final.pt", cpu)
    val = load_split(data, args.format, "val")
    evaluator = CocoJsonEvaluator(val)
    metrics = inference_on_dataset(model, val.image_dir, val.records, [evaluator], device=cpu)
    assert metrics is not None
    metrics["eval_s"] = round(time.perf_counter() - start, 1)
    if train_s is not None:
        metrics["train_s"] = round(train_s, 1)
    write_json(args.out / "metrics.json", metrics, indent=2)
    print(format_parsing_report(metrics, per_category=True))
    print(f"train {metrics.get('train_s', 'n/a')} s, evaluation {metrics['eval_s']} s")
    print(json.dumps({"metrics_file": str(args.out / "metrics.json")}))


if __name__ == "__main__":
    main()
