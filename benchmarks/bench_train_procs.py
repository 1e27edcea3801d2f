"""Benchmark: threads or processes on a small CPU machine — seconds per training iteration of
the real trainer (`fashionvision train`) as one process with T threads or as P processes under
torchrun (gloo DDP, the same global batch split over the ranks), side by side.

    python benchmarks/bench_train_procs.py --data /tmp/bench/data --iters 40 --warmup 10 \
        --rounds 2 --variant "threads=1x2" --variant "procs=2x1"

Each ``--variant NAME=PxT[:OVERRIDES]`` runs P processes of T torch threads each
(``OMP_NUM_THREADS``), with optional space-separated config overrides after the colon.  The
variants run in turns (``--rounds`` times) so that a load change on the machine hits them alike.
Every run trains the tiny preset from scratch for ``--iters`` iterations with ``train.log_every=1``;
the per-iteration ``time`` column of its ``metrics.csv`` (data loading included, the mean over
ranks) minus the first ``--warmup`` iterations gives the median seconds per iteration, reported
with images/s and the ratio to the first variant.  Start-up (imports, process group, split
loading) is reported apart, as the whole run's wall time.  Also writes ``--out`` (JSON) when
given.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from fashionvision.config import load_config
from fashionvision.io_utils import write_json


@dataclass
class Variant:
    """P processes x T threads, plus config overrides."""

    name: str
    procs: int
    threads: int
    overrides: list[str]
    per_iter: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)

    @property
    def batch_size(self) -> int:
        """Images per iteration over all ranks (``solver.batch_size`` is the total)."""
        return load_config("match_rcnn_tiny", self.overrides).solver.batch_size


def parse_variant(spec: str) -> Variant:
    """``NAME=PxT[:OVERRIDES]`` -> Variant (ValueError naming the spec when malformed)."""
    name, sep, rest = spec.partition("=")
    shape, _, overrides = rest.partition(":")
    p, x, t = shape.partition("x")
    if not sep or not name or x != "x" or not p.isdigit() or not t.isdigit():
        raise ValueError(f"--variant {spec!r}: expected NAME=PxT[:OVERRIDES], e.g. procs=2x1")
    if int(p) < 1 or int(t) < 1:
        raise ValueError(f"--variant {spec!r}: processes and threads must be >= 1")
    return Variant(name, int(p), int(t), overrides.split())


def command(variant: Variant, data: Path, iters: int, out: Path) -> list[str]:
    """`fashionvision train` for `iters` iterations; under torchrun when the variant has P > 1."""
    train = [
        "-m", "fashionvision", "train", "match_rcnn_tiny",
        f"data.root={data}", f"train.max_iters={iters}", "train.log_every=1",
        "train.eval_every=0", "train.progress=false", f"train.checkpoint_every={10 * iters}",
        *variant.overrides, "--out", str(out),
    ]  # fmt: skip
    if variant.procs == 1:
        return [sys.executable, *train]
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={variant.procs}"]
    return [sys.executable, *launcher, *train]


def iteration_times(metrics_csv: Path) -> list[float]:
    """The per-iteration `time` column of a run logged every iteration."""
    with open(metrics_csv, newline="") as f:
        return [float(r["time"]) for r in csv.DictReader(f)]


def run_once(variant: Variant, data: Path, iters: int, warmup: int) -> None:
    with tempfile.TemporaryDirectory(prefix=f"procs_{variant.name}_") as tmp:
        out = Path(tmp) / "run"
        env = {**os.environ, "OMP_NUM_THREADS": str(variant.threads)}
        tic = time.perf_counter()
        done = subprocess.run(
            command(variant, data, iters, out), env=env, capture_output=True, text=True
        )
        wall = time.perf_counter() - tic
        if done.returncode != 0:
            sys.exit(f"variant {variant.name} failed:\n{done.stderr[-3000:]}")
        times = iteration_times(out / "metrics.csv")
        if len(times) <= warmup:
            sys.exit(f"variant {variant.name}: {len(times)} iterations, need more than {warmup}")
        variant.per_iter.extend(times[warmup:])
        variant.wall.append(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a split root (train/ inside)")
    parser.add_argument("--iters", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variant", action="append", required=True, help="NAME=PxT[:OVERRIDES]")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()
    try:
        variants = [parse_variant(v) for v in args.variant]
    except ValueError as exc:
        sys.exit(str(exc))
    if not (args.data / "train").is_dir():
        sys.exit(f"{args.data / 'train'}: no training split (make one with fashionvision synth)")

    for _ in range(args.rounds):
        for variant in variants:
            run_once(variant, args.data, args.iters, args.warmup)

    base = statistics.median(variants[0].per_iter)
    print(f"{'variant':<14}{'procs x threads':>16}{'s/iter':>9}{'images/s':>10}{'ratio':>8}"
          f"{'run wall s':>12}")  # fmt: skip
    results = []
    for v in variants:
        med = statistics.median(v.per_iter)
        row = {
            "name": v.name,
            "procs": v.procs,
            "threads": v.threads,
            "overrides": v.overrides,
            "s_per_iter": round(med, 4),
            "images_per_s": round(v.batch_size / med, 2),
            "ratio": round(med / base, 3),
            "run_wall_s": [round(w, 1) for w in v.wall],
        }
        results.append(row)
        print(
            f"{v.name:<14}{f'{v.procs} x {v.threads}':>16}{med:>9.3f}{v.batch_size / med:>10.2f}"
            f"{med / base:>8.2f}{statistics.median(v.wall):>12.1f}"
        )
    if args.out is not None:
        write_json(args.out, {"iters": args.iters, "warmup": args.warmup, "results": results})


if __name__ == "__main__":
    main()
