"""A new user's first hour, as one test: the README's documented commands, in order, each as its
own process in a fresh folder, at toy sizes.  Any non-zero exit, any traceback and any Python
warning line (``UserWarning``, ``DeprecationWarning``, ...) in what the user sees fails it."""

import os
import re
import subprocess
import sys
import time

import pytest
from conftest import SMALL_TRAINING

pytestmark = pytest.mark.slow

# Python's own warning lines ("...: UserWarning: ...") and tracebacks; the CLI's plain
# "warning: ..." lines are what users should see instead, and are allowed.
BAD_LINE = re.compile(r"Traceback \(most recent call last\)|\b\w*Warning\b")


def fv(cwd, *args, timeout=240):
    """Run ``python -m fashionvision ARGS`` in `cwd` as a user would; return stdout + stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONWARNINGS")}
    tic = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "fashionvision", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    command = "fashionvision " + " ".join(map(str, args))
    assert proc.returncode == 0, f"{command}: exit {proc.returncode}\n{output}"
    bad = [line for line in output.splitlines() if BAD_LINE.search(line)]
    assert not bad, f"{command}: traceback or Python warning in the output:\n" + "\n".join(bad)
    print(f"{time.perf_counter() - tic:6.1f} s  {command}")
    return output


def test_the_readme_commands_run_cleanly_in_order(tmp_path):
    # Data (README "Data"): synth, validate, show, the three conversions.
    fv(tmp_path, "synth", "data", "--train", 16, "--val", 8, "--seed", 1, "--size", 64)
    fv(tmp_path, "validate", "data/train")
    fv(tmp_path, "show", "data/validation", "--n", 4, "--out", "grid.png")
    fv(tmp_path, "convert", "coco", "data/validation", "val_coco.json")
    fv(tmp_path, "convert", "coco-visible", "data/validation", "val_coco_visible.json")
    fv(tmp_path, "convert", "retrieval-gt", "data/validation", "val_retrieval")
    for name in ("grid.png", "val_coco.json", "val_coco_visible.json",
                 "val_retrieval/query_gt.json", "val_retrieval/gallery_gt.json"):  # fmt: skip
        assert (tmp_path / name).stat().st_size > 0, name

    # Training (README "Training"), a few iterations of the tiny preset; then --resume.
    small = [*SMALL_TRAINING, "train.eval_every=0", "model.box_score_thresh=0.0"]
    fv(tmp_path, "train", "match_rcnn_tiny", "data.root=data", "solver.epochs=2",
       "train.max_iters=3", *small, "--out", "runs/tiny")  # fmt: skip
    fv(tmp_path, "train", "match_rcnn_tiny", "data.root=data", "solver.epochs=2",
       "train.max_iters=4", *small, "--out", "runs/tiny", "--resume")  # fmt: skip
    weights = "runs/tiny/model_final.pt"
    assert (tmp_path / weights).is_file()

    # Evaluation, prediction, retrieval (README "Evaluation", "Prediction ... and retrieval").
    fv(tmp_path, "evaluate", "--weights", weights, "--split", "data/validation",
       "--json", "all.json")  # fmt: skip
    fv(tmp_path, "predict", "--weights", weights, "data/validation/image", "--out", "preds",
       "--score-threshold", "0.05")  # fmt: skip
    assert (tmp_path / "preds" / "results.json").is_file()
    fv(tmp_path, "evaluate", "--gt", "val_coco.json", "--results", "preds/results.json",
       "--task", "bbox", "--subsets", "--per-category", "--json", "box.json")  # fmt: skip
    fv(tmp_path, "evaluate", "--gt", "val_coco_visible.json", "--results",
       "preds/results.json", "--task", "landmarks")  # fmt: skip
    fv(tmp_path, "retrieve", "--weights", weights, "--split", "data/validation",
       "--out", "retrieval.json")  # fmt: skip
    fv(tmp_path, "evaluate-retrieval", "--query-gt", "val_retrieval/query_gt.json",
       "--gallery-gt", "val_retrieval/gallery_gt.json", "--results", "retrieval.json",
       "--json", "r.json")  # fmt: skip

    # The shop-catalogue index (README "Shop-catalogue index and search").
    fv(tmp_path, "index", "build", "--weights", weights, "data/validation", "--out",
       "runs/shop_index", "--score-threshold", "0.05")  # fmt: skip
    fv(tmp_path, "search", "--index", "runs/shop_index", "data/validation/image/000001.jpg",
       "--top-k", 20, "--score-threshold", "0.05", "--json", "runs/search.json", "--grid",
       "runs/search.png")  # fmt: skip
    fv(tmp_path, "index", "info", "runs/shop_index")
    assert (tmp_path / "runs" / "search.png").stat().st_size > 0

    # The demo (README "Set up"), at toy size, with an override as its help shows.
    out = fv(tmp_path, "demo", "--out", "demo_out", "--train", 12, "--val", 6, "--epochs", 1,
             "--size", 64, "--threads", 1, *SMALL_TRAINING, "train.device=cpu")  # fmt: skip
    assert "report: demo_out/report/index.html" in out
    assert (tmp_path / "demo_out" / "report" / "index.html").stat().st_size > 0
    assert not (tmp_path / "train.device=cpu").exists()
