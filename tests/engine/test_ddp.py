"""DistributedDataParallel through torchrun: two CPU processes (gloo) train the small model."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SMALL_TRAINING

from fashionvision.data.synthetic import generate_dataset
from fashionvision.engine.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow


def test_torchrun_two_processes_train_and_rank0_writes(tmp_path: Path) -> None:
    generate_dataset(tmp_path / "data", train=8, val=2, seed=3, size=64)
    run = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "fashionvision", "train", "match_rcnn_tiny", *SMALL_TRAINING,
        f"data.root={tmp_path / 'data'}", "data.workers=0", "solver.epochs=1",
        "solver.warmup_iters=1", "train.eval_every=0", "--out", str(run),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    state = load_checkpoint(run / "model_final.pt")
    assert "model" in state
    with open(run / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    # 8 images, total batch 2 split over 2 ranks -> 4 iterations, logged once each by rank 0.
    assert [int(r["iteration"]) for r in rows] == [1, 2, 3, 4]
