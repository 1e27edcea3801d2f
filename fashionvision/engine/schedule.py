"""Learning-rate schedule: linear warm-up, then either ×gamma at each milestone (detectron2's 1x
shape, ``solver.schedule: step``) or a half cosine from the base lr to 0 at the last iteration
(detectron2's WarmupCosineLR, ``solver.schedule: cosine``).

Milestones are given in epochs by the config and converted to iterations with the number of
iterations per epoch, so the same preset works for any data set size and batch size.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

import torch
from torch.optim.lr_scheduler import LRScheduler


def lr_factor(
    iteration: int,
    *,
    warmup_iters: int,
    warmup_factor: float,
    milestones: Sequence[int],
    gamma: float,
    schedule: str = "step",
    max_iters: int = 0,
) -> float:
    """Multiplier of the base lr at `iteration` (0-based, the iteration about to run).

    Warm-up rises linearly from `warmup_factor` at iteration 0 to 1 at `warmup_iters`.  ``step``:
    the decay multiplies by `gamma` once for every milestone <= `iteration` (milestones in
    iterations).  ``cosine``: the decay is ``(1 + cos(pi * iteration / max_iters)) / 2``, counted
    from iteration 0 as detectron2 does (the warm-up multiplies it); milestones are unused.
    """
    if schedule == "cosine":
        if max_iters <= 0:
            raise ValueError("a cosine schedule needs max_iters > 0")
        decay = 0.5 * (1.0 + math.cos(math.pi * min(iteration, max_iters) / max_iters))
    elif schedule == "step":
        decay = gamma ** bisect_right(sorted(milestones), iteration)
    else:
        raise ValueError(f"unknown lr schedule {schedule!r} (step | cosine)")
    if iteration >= warmup_iters or warmup_iters <= 0:
        return decay
    alpha = iteration / warmup_iters
    return decay * (warmup_factor * (1.0 - alpha) + alpha)


def scaled_1x_steps(epochs: int, whole_epochs: bool = False) -> list[float]:
    """The 1x schedule's decays (epochs 8 and 11 of 12) for a run of `epochs` epochs, to 0.01
    epoch.  `whole_epochs` floors them (7 epochs: 4 and 6 instead of 4.67 and 6.42), which cut the
    full-lr phase to 57 % of a 7-epoch run; the FashionNet and parsing benchmarks keep it so their
    recorded figures still reproduce."""
    if whole_epochs:
        return [float(epochs * 8 // 12), float(epochs * 11 // 12)]
    return [round(epochs * 8 / 12, 2), round(epochs * 11 / 12, 2)]


def epochs_to_iters(epochs: Sequence[float], iters_per_epoch: int) -> list[int]:
    """Milestones in epochs -> iterations (whole epochs: the first iteration of that epoch;
    fractional ones rounded to the nearest iteration)."""
    return [round(e * iters_per_epoch) for e in epochs]


class WarmupLR(LRScheduler):
    """``lr = base_lr * lr_factor(iteration)``; call ``step()`` once per iteration.

    All parameters are plain attributes, so ``state_dict()`` round-trips them through a checkpoint.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        milestones: Sequence[int],
        gamma: float = 0.1,
        warmup_iters: int = 500,
        warmup_factor: float = 0.001,
        schedule: str = "step",
        max_iters: int = 0,
        last_epoch: int = -1,
    ):
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = float(gamma)
        self.warmup_iters = int(warmup_iters)
        self.warmup_factor = float(warmup_factor)
        self.schedule = schedule
        self.max_iters = int(max_iters)
        # fail at construction, not at the first step() inside the training loop
        lr_factor(
            0,
            warmup_iters=0,
            warmup_factor=1.0,
            milestones=(),
            gamma=1.0,
            schedule=schedule,
            max_iters=self.max_iters,
        )
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        factor = lr_factor(
            self.last_epoch,
            warmup_iters=self.warmup_iters,
            warmup_factor=self.warmup_factor,
            milestones=self.milestones,
            gamma=self.gamma,
            schedule=self.schedule,
            max_iters=self.max_iters,
        )
        return [base * factor for base in self.base_lrs]
