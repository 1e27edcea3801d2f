"""Benchmark: seconds per training iteration of the tiny Match R-CNN under config variants,
side by side on the same batches, as ratios against the preset.

    python benchmarks/bench_train_step.py --data /tmp/bench9b/data --iters 20 \
        --variant "gn=" --variant "bn=model.norm=bn" --variant "channels_last=@channels_last"

Each ``--variant NAME=OVERRIDES`` is a space-separated list of config overrides; ``@channels_last``
(not a config key) also moves the model to channels-last memory format (convolutions then
carry it over to their outputs).  The variants
run in turns (round-robin, ``--rounds`` times) so a load change on the machine hits them alike;
the first ``--warmup`` iterations of each are not timed.  Reported: median seconds per iteration
and its ratio to the first variant.  Also writes ``--out`` (JSON) when given.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from fashionvision.config import load_config
from fashionvision.data.dataset import DeepFashion2Dataset, collate_fn
from fashionvision.data.deepfashion2 import load_split
from fashionvision.engine.build import build_model
from fashionvision.engine.losses import weighted_loss
from fashionvision.engine.trainer import seed_everything
from fashionvision.io_utils import write_json

CHANNELS_LAST = "@channels_last"


class Variant:
    """A model built from the preset plus overrides, with its own SGD optimiser."""

    def __init__(self, name: str, overrides: list[str]):
        self.name = name
        self.channels_last = CHANNELS_LAST in overrides
        self.overrides = [o for o in overrides if o != CHANNELS_LAST]
        self.cfg = load_config("match_rcnn_tiny", self.overrides)
        seed_everything(0)
        self.model = build_model(self.cfg.model)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        s = self.cfg.solver
        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=s.base_lr * 0.1, momentum=s.momentum
        )
        self.times: list[float] = []

    def step(self, images: list[torch.Tensor], targets: list[dict[str, Any]]) -> float:
        tic = time.perf_counter()
        loss, _ = weighted_loss(self.model(images, targets), self.cfg.loss)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.solver.clip)
        self.optimizer.step()
        return time.perf_counter() - tic


def parse_variant(text: str) -> tuple[str, list[str]]:
    name, sep, rest = text.partition("=")
    if not sep or not name:
        raise SystemExit(f"--variant {text!r}: expected NAME=OVERRIDES (OVERRIDES may be empty)")
    return name, rest.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a synthetic data root")
    parser.add_argument("--split", default="train")
    parser.add_argument("--variant", action="append", required=True, type=parse_variant)
    parser.add_argument("--iters", type=int, default=10, help="timed iterations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    records = load_split(args.data / args.split)
    dataset = DeepFashion2Dataset(records, split_dir=args.data / args.split)
    needed = args.batch_size * (args.warmup + args.iters)
    batches = [
        collate_fn([dataset[(i + j) % len(dataset)] for j in range(args.batch_size)])
        for i in range(0, needed, args.batch_size)
    ]
    variants = [Variant(name, overrides) for name, overrides in args.variant]
    for v in variants:
        for images, targets in batches[: args.warmup]:
            v.step(list(images), list(targets))
    for _ in range(args.rounds):
        for v in variants:
            for images, targets in batches[args.warmup :]:
                v.times.append(v.step(list(images), list(targets)))

    base = statistics.median(variants[0].times)
    rows = []
    print(f"torch threads {torch.get_num_threads()}, batch {args.batch_size}")
    print(f"{'variant':<22}{'s/iter':>9}{'ratio':>8}  overrides")
    for v in variants:
        med = statistics.median(v.times)
        rows.append(
            {
                "variant": v.name,
                "overrides": v.overrides,
                "s_per_iter": med,
                "ratio": med / base,
                "channels_last": v.channels_last,
            }
        )
        shown = " ".join(v.overrides + ([CHANNELS_LAST] if v.channels_last else []))
        print(f"{v.name:<22}{med:>9.3f}{med / base:>8.2f}  {shown or '(preset)'}")
    if args.out:
        write_json(args.out, {"threads": torch.get_num_threads(), "rows": rows}, indent=2)
    print(json.dumps({"variants": len(rows)}))


if __name__ == "__main__":
    main()
