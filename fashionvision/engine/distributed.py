"""Process-group helpers for ``torchrun``: one process per GPU, rank 0 logs and saves.

Without ``WORLD_SIZE`` (or with ``WORLD_SIZE=1``) everything runs in a single process and every
helper degrades to a no-op, so the trainer has one code path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from fashionvision.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


# Collectives wait this long for the slowest rank before the job fails.  PyTorch's own default
# (10 min for NCCL) is shorter than a rank 0 that builds a split index or evaluates a large split
# needs; every long step here is sharded, so the wait is a straggler's, not a whole pass.
DEFAULT_TIMEOUT_MIN = 60


def init_distributed(device_type: str, timeout_min: float = DEFAULT_TIMEOUT_MIN) -> DistInfo:
    """Join the process group described by torchrun's env vars (RANK, WORLD_SIZE, LOCAL_RANK).

    Uses NCCL for CUDA and Gloo otherwise; on CUDA it also selects the local GPU.  `timeout_min`
    bounds how long a collective waits for the other ranks (``train.dist_timeout_min``).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(
            backend="nccl" if device_type == "cuda" else "gloo",
            timeout=timedelta(minutes=timeout_min),
        )
    return DistInfo(rank=rank, world_size=world_size, local_rank=local_rank)


def barrier(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.barrier()


@contextmanager
def main_first(info: DistInfo) -> Iterator[None]:
    """Run the block on rank 0 first, then on the other ranks: for work whose first run leaves a
    cache behind (the split index), so it is built once rather than by every rank at once."""
    if not info.is_main:
        barrier(info)
    yield
    if info.is_main:
        barrier(info)


def gather_to_main(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's picklable `obj`, in rank order, on rank 0 (an empty list on the others).

    A collective: every rank calls it.  Single process: ``[obj]``.
    """
    if not info.distributed:
        return [obj]
    out: list[Any] | None = [None] * info.world_size if info.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out if out is not None else []


def cleanup(info: DistInfo) -> None:
    if info.distributed and dist.is_initialized():
        dist.destroy_process_group()


def per_rank_batch_size(total: int, info: DistInfo) -> int:
    """The total batch split evenly over the processes; ConfigError when it does not divide."""
    if total < 1 or total % info.world_size:
        raise ConfigError(
            f"solver.batch_size: {total} cannot be split evenly over {info.world_size} processes"
        )
    return total // info.world_size


def reduce_mean(values: dict[str, float], info: DistInfo) -> dict[str, float]:
    """Average scalar metrics over the processes (for logging only)."""
    if not info.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.all_reduce(t)
    t /= info.world_size
    return dict(zip(keys, t.cpu().tolist(), strict=True))


def process_group_size() -> int:
    """World size of the default process group; 1 when torch.distributed is unavailable or not
    initialised (a model used outside torchrun, or in a test)."""
    if not (dist.is_available() and dist.is_initialized()):
        return 1
    return dist.get_world_size()


def all_gather_rows(tensors: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[int]]:
    """Every rank's rows of each tensor, concatenated in rank order, without gradient.

    `tensors` are `[n, ...]` with the same row count n on this rank; n may differ between ranks,
    trailing shapes and dtypes must agree.  The row counts are gathered first, each tensor is
    zero-padded to the largest count (all_gather needs equal shapes) and trimmed after.  Every
    rank must call it (a collective), with the same number of tensors.  Returns
    ``([N, ...] per tensor, counts)`` with N = sum(counts) and ``counts[r]`` rank r's row count.
    """
    if not tensors:
        raise ValueError("all_gather_rows needs at least one tensor")
    rows = len(tensors[0])
    if any(len(t) != rows for t in tensors):
        raise ValueError(f"all_gather_rows: row counts differ: {[len(t) for t in tensors]}")
    world = dist.get_world_size()
    device = tensors[0].device
    size = torch.tensor([rows], dtype=torch.int64, device=device)
    sizes = [torch.empty_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    counts = [int(s.item()) for s in sizes]
    most = max(counts)
    gathered: list[torch.Tensor] = []
    for t in tensors:
        if most == 0:  # every rank knows it: no rank enters the second collective
            gathered.append(t.detach().new_empty((0, *t.shape[1:])))
            continue
        padded = t.detach().new_zeros((most, *t.shape[1:]))
        padded[:rows] = t.detach()
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded)
        gathered.append(torch.cat([p[:n] for p, n in zip(parts, counts, strict=True)]))
    return gathered, counts
