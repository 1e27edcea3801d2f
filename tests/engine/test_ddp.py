"""DistributedDataParallel through torchrun: four CPU processes (gloo) x 2 images train the small
model with evaluation on.  Every step's pair loss has positive and negative pairs (the global
batch), each rank evaluates its shard, and rank 0's gathered numbers must equal the single-process
evaluation of the same checkpoint."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import SMALL_TRAINING

from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine.checkpoint import load_checkpoint
from fashionvision.engine.evaluate import evaluate_checkpoint

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def test_torchrun_four_ranks_train_evaluate_sharded_and_match_one_process(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "data", train=16, val=6, seed=3, size=64)
    run = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "4",
        "-m", "fashionvision", "train", "match_rcnn_tiny", *SMALL_TRAINING,
        f"data.root={tmp_path / 'data'}", "data.workers=0", "solver.epochs=1",
        "solver.batch_size=8", "solver.warmup_iters=1", "train.eval_every=1",
        "model.box_score_thresh=0.0", "--out", str(run),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "model" in load_checkpoint(run / "model_final.pt")
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    # 16 images, total batch 8 = 4 ranks x 2 -> 2 iterations, logged once each by rank 0.
    assert [int(r["iteration"]) for r in rows] == [1, 2]
    # the pair loss sees the global batch of 8, so every step has both kinds of pairs (a rank's
    # own 2 images often hold one pair_id or one source only)
    for row in rows:
        assert float(row["pairs_pos"]) > 0 and float(row["pairs_neg"]) > 0, row

    sharded = json.loads((run / "eval_epoch1.json").read_text())
    single, _, _ = evaluate_checkpoint(
        run / "model_final.pt", tmp_path / "data" / "validation", device=torch.device("cpu")
    )
    assert single is not None and single["num_detections"] > 0
    for key in ("num_detections", "bbox", "segm", "landmarks", "landmarks_visible", "retrieval",
                "retrieval_gt_boxes"):  # fmt: skip
        assert flat(sharded[key]) == pytest.approx(flat(single[key]), abs=1e-9), key


def flat(value: object, prefix: str = "") -> dict[str, float]:
    """Nested dicts of numbers as one {dotted.key: number} dict."""
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in flat(sub, f"{prefix}{key}.").items()}
    return {prefix.rstrip("."): float(value)}  # type: ignore[arg-type]
