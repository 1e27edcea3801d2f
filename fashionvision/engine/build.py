"""Builders that turn config sections into objects: the model and the data-loading pieces.

Only builders read a config; the model builder itself (``fashionvision.models.match_rcnn``) takes
plain keyword arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from fashionvision.config import Config, DataConfig, ModelConfig
from fashionvision.errors import ConfigError


def build_model(model_cfg: ModelConfig) -> nn.Module:
    """Match R-CNN from `model_cfg` (``num_classes`` 14: the 13 DeepFashion2 categories + 1)."""
    from fashionvision.models.match_rcnn import build_match_rcnn

    try:
        return build_match_rcnn(**dataclasses.asdict(model_cfg))
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"model: cannot build Match R-CNN: {exc}") from exc


def build_network(cfg: Config) -> nn.Module:
    """The network `cfg.arch` names: Match R-CNN (section ``model``) or FashionNet
    (section ``fashionnet``)."""
    if cfg.arch == "fashionnet":
        from fashionvision.engine.fashionnet import build_fashionnet_model

        return build_fashionnet_model(cfg.fashionnet)
    return build_model(cfg.model)


def resolve_device(name: str | None, option: str = "train.device") -> torch.device:
    """``auto``/None -> CUDA when available else CPU; otherwise the named device (checked).

    `option` is what the user wrote the device as (a config key or a command-line flag), for the
    error message.
    """
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ConfigError(f"{option}: {exc}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"{option}: {name} requested but CUDA is not available")
    return device


def split_dir(data_cfg: DataConfig, split: str) -> Path:
    """``data.root/<split>``; ConfigError naming data.root when it does not exist."""
    if not data_cfg.root:
        raise ConfigError("data.root: not set (pass data.root=/path/to/deepfashion2)")
    path = Path(data_cfg.root) / split
    if not path.is_dir():
        raise ConfigError(f"data.root: {path} is not a directory")
    return path


def epoch_batches(
    num_items: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1
) -> list[list[int]]:
    """This rank's batches of a shuffled epoch, as a function of (seed, epoch) only.

    Like DistributedSampler: one permutation shared by all ranks, padded by repeating its start so
    that it divides evenly, then rank `rank` takes every `world_size`-th index; the rank's indices
    are cut into batches of `batch_size` (the last may be shorter).
    """
    if num_items == 0:
        return []
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(num_items, generator=generator).tolist()
    return rank_batches(order, batch_size, rank, world_size)


def rank_batches(
    order: Sequence[int], batch_size: int, rank: int = 0, world_size: int = 1
) -> list[list[int]]:
    """Rank `rank`'s batches of an epoch's index order: padded by repeating its start so that every
    rank gets as many indices (and batches) as the others, then every `world_size`-th index."""
    order = list(order)
    pad = (-len(order)) % world_size
    order += order[:pad]
    mine = order[rank::world_size]
    return [mine[i : i + batch_size] for i in range(0, len(mine), batch_size)]


def grouped_epoch_batches(
    groups: Sequence[Sequence[int]],
    batch_size: int,
    seed: int,
    epoch: int,
    rank: int = 0,
    world_size: int = 1,
) -> list[list[int]]:
    """Like `epoch_batches`, but the images of a group (an item's views) stay next to each other,
    so a batch holds positives for the triplet loss; a function of (seed, epoch) only.

    The groups are shuffled and concatenated; the sequence is padded by repeating its start and
    cut into global batches of ``batch_size * world_size``, of which rank `rank` takes the
    `rank`-th contiguous slice (a group is split only where it straddles a cut).
    """
    if not groups:
        return []
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    shuffled = torch.randperm(len(groups), generator=generator).tolist()
    order = [i for g in shuffled for i in groups[g]]
    step = batch_size * world_size
    pad = (-len(order)) % step
    order += (order * (pad // len(order) + 1))[:pad]
    return [
        order[start + rank * batch_size : start + (rank + 1) * batch_size]
        for start in range(0, len(order), step)
    ]
