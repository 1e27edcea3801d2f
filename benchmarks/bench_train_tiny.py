"""Benchmark: train the tiny Match R-CNN on a synthetic DeepFashion2-format set here and
evaluate all four tasks on its validation split, printed beside the targets of the Match R-CNN issue.

    python benchmarks/bench_train_tiny.py --out /tmp/bench --train 1200 --val 300 --epochs 6

Steps that already have their output in `--out` are skipped (data/, run/model_final.pt), so the
evaluation can be re-run on a finished training.  Writes `--out/metrics.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fashionvision.config import load_config
from fashionvision.data.coco_format import retrieval_ground_truth
from fashionvision.data.deepfashion2 import load_split
from fashionvision.data.synthetic import generate_dataset
from fashionvision.demo import benchmark_metrics, format_tables
from fashionvision.engine.evaluate import detect_records
from fashionvision.engine.inference import Predictor
from fashionvision.engine.retrieval_output import retrieval_results
from fashionvision.engine.trainer import train
from fashionvision.evaluation.retrieval import evaluate_retrieval
from fashionvision.io_utils import write_json

# (metric path, target) from the issue: reached within 30 minutes of CPU training.
TARGETS = (
    (("bbox", "AP50"), 0.85),
    (("segm", "AP50"), 0.75),
    (("landmarks", "AP"), 0.35),
    (("retrieval", "top20"), 0.60),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--train", type=int, default=1200)
    parser.add_argument("--val", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("overrides", nargs="*", help="config overrides key=value")
    args = parser.parse_args()

    data, run = args.out / "data", args.out / "run"
    if not (data / "validation").is_dir():
        generate_dataset(data, args.train, args.val, args.seed)
    train_s = None
    if not (run / "model_final.pt").exists():
        steps = [args.epochs * 8 // 12, args.epochs * 11 // 12]  # the 1x schedule's 8 and 11 of 12
        cfg = load_config(
            "match_rcnn_tiny",
            [f"data.root={data}", f"solver.epochs={args.epochs}", f"solver.steps={steps}",
             "train.eval_every=0", "train.progress=false", *args.overrides],
        )
        start = time.perf_counter()
        train(cfg, run)
        train_s = time.perf_counter() - start

    start = time.perf_counter()
    predictor = Predictor.from_checkpoint(run / "model_final.pt", device="cpu")
    records = load_split(data / "validation")
    detections = detect_records(predictor.model, data / "validation", records, predictor.device)
    metrics = benchmark_metrics(records, detections)
    rows = retrieval_results(predictor.model, data / "validation", records, predictor.device)
    metrics["retrieval"] = evaluate_retrieval(*retrieval_ground_truth(records), rows)
    gt_rows = retrieval_results(
        predictor.model, data / "validation", records, predictor.device, use_gt_boxes=True
    )
    metrics["retrieval_gt_boxes"] = evaluate_retrieval(
        *retrieval_ground_truth(records), gt_rows, use_gt_boxes=True
    )
    metrics["eval_s"] = round(time.perf_counter() - start, 1)
    if train_s is not None:
        metrics["train_s"] = round(train_s, 1)
    write_json(args.out / "metrics.json", metrics, indent=2)

    print(format_tables(metrics))
    gt = metrics["retrieval_gt_boxes"]
    tops = "  ".join(f"top{k}={gt[f'top{k}']:.3f}" for k in (1, 5, 10, 15, 20))
    print(f"Retrieval (GT boxes): {tops}")
    print(f"\n{'metric':<18}{'measured':>10}{'target':>10}{'ratio':>8}")
    for (task, key), target in TARGETS:
        value = metrics.get(task, {}).get(key, float("nan"))
        print(f"{task + '.' + key:<18}{value:>10.3f}{target:>10.2f}{value / target:>8.2f}")
    print(f"train {metrics.get('train_s', 'n/a')} s, evaluation {metrics['eval_s']} s")
    print(json.dumps({"metrics_file": str(args.out / "metrics.json")}))


if __name__ == "__main__":
    main()
