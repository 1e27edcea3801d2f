"""Benchmark: train the tiny FashionNet from scratch on a synthetic DeepFashion-format set (the
Category and In-shop benchmarks) here, and evaluate its held-out split through the evaluation
pipeline of `fashionvision evaluate --weights` — printed beside the issue's targets and
FashionNet's published numbers (a reference: those are on the real DeepFashion).

    python benchmarks/bench_fashionnet_tiny.py --out /tmp/fn --category 3500 --inshop 1000

Training images = `--category` Category-benchmark images + `--inshop` In-shop training images;
held out: `--val` Category images (category, attributes, landmarks) and `--val` In-shop query
and `--val` gallery images (retrieval).  Steps whose output exists in `--out` are skipped
(data/, run/model_final.pt).  Writes `--out/metrics.json`.  `--eval-train` also scores the
training split, to show the generalisation gap.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from fashionvision.config import load_config
from fashionvision.data.synthetic_deepfashion import generate_deepfashion
from fashionvision.engine.fashionnet import evaluate_fashionnet_checkpoint
from fashionvision.engine.schedule import scaled_1x_steps
from fashionvision.engine.trainer import train
from fashionvision.evaluation.tables import format_fashionnet_report
from fashionvision.io_utils import write_json

# (section, key, target, higher is better) from the FashionNet issue
TARGETS = (
    ("category", "top3", 0.9, True),
    ("attributes", "top5", 0.5, True),
    ("landmarks", "NE", 0.08, False),
    ("retrieval", "top20", 0.7, True),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--category", type=int, default=3500, help="Category training images")
    parser.add_argument("--inshop", type=int, default=1000, help="In-shop training images")
    parser.add_argument("--val", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--config", default="fashionnet_tiny")
    parser.add_argument(
        "--eval-train",
        action="store_true",
        help="also score the training split (category, attributes, landmarks): the "
        "generalisation gap beside the held-out numbers",
    )
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = parser.parse_args()

    data, run = args.out / "data", args.out / "run"
    if not (data / "inshop").is_dir():
        generate_deepfashion(data, args.category, args.val, 0, args.seed, benchmarks=("category",))
        generate_deepfashion(
            data, args.inshop, args.val, args.val, args.seed, benchmarks=("inshop",)
        )
    train_s = None
    if not (run / "model_final.pt").exists():
        overrides = [f"data.root={data}", "train.eval_every=0", "train.progress=false"]
        if args.epochs is not None:
            steps = scaled_1x_steps(args.epochs, whole_epochs=True)
            overrides += [f"solver.epochs={args.epochs}", f"solver.steps={steps}"]
        cfg = load_config(args.config, [*overrides, *args.overrides])
        start = time.perf_counter()
        train(cfg, run)
        train_s = time.perf_counter() - start

    start = time.perf_counter()
    metrics = evaluate_fashionnet_checkpoint(
        run / "model_final.pt", data, "val", device=torch.device("cpu")
    )
    assert metrics is not None  # single process: rank 0
    metrics["eval_s"] = round(time.perf_counter() - start, 1)
    if args.eval_train:
        seen = evaluate_fashionnet_checkpoint(
            run / "model_final.pt", data, "train", device=torch.device("cpu")
        )
        assert seen is not None
        metrics["train_split"] = {k: seen[k] for k in ("category", "attributes", "landmarks")}
    if train_s is not None:
        metrics["train_s"] = round(train_s, 1)
    write_json(args.out / "metrics.json", metrics, indent=2)

    print(format_fashionnet_report(metrics))
    print(f"\n{'metric':<18}{'measured':>10}{'target':>10}  met")
    for section, key, target, higher in TARGETS:
        value = metrics.get(section, {}).get(key)
        if value is None:
            print(f"{section + '.' + key:<18}{'n/a':>10}{target:>10.2f}  no")
            continue
        met = value >= target if higher else value <= target
        print(f"{section + '.' + key:<18}{value:>10.3f}{target:>10.2f}  {'yes' if met else 'no'}")
    if "train_split" in metrics:
        seen = metrics["train_split"]
        print(f"\n{'training vs held-out':<22}{'train':>8}{'val':>8}")
        for section, key in (("category", "top3"), ("attributes", "top5"), ("landmarks", "NE")):
            name, train_value = f"{section}.{key}", seen[section][key]
            print(f"{name:<22}{train_value:>8.3f}{metrics[section][key]:>8.3f}")
    print(f"train {metrics.get('train_s', 'n/a')} s, evaluation {metrics['eval_s']} s")
    print(json.dumps({"metrics_file": str(args.out / "metrics.json")}))


if __name__ == "__main__":
    main()
