"""The training loop: SGD + warm-up/multi-step schedule, AMP, DDP, metrics, evaluation, resume,
and optionally an exponential moving average of the weights (``solver.ema``).

Run layout (``RUN_DIR``): ``config.yaml`` (the resolved config), ``metrics.csv`` (one row every
``train.log_every`` iterations: raw and weighted losses, lr, seconds per iteration),
``eval_epochN.json`` (every number of `fashionvision.engine.evaluate` on the validation split,
each rank evaluating its shard), ``last.pt`` (full training
state, every ``train.checkpoint_every`` iterations and at each epoch end) and ``model_final.pt``
(the weights to use: the moving average when ``solver.ema`` > 0).

Determinism and resume: the batches of an epoch are a function of (seed, epoch) only, so resuming
rebuilds the epoch's batch list and skips the ``iter_in_epoch`` batches already done; the
checkpoint also holds the RNG states, so on CPU with ``data.workers=0`` a resumed run takes exactly
the steps of an uninterrupted one.  With workers > 0 the data order is still exact but random
augmentation inside worker processes is not replayed.  Under DDP only rank 0's RNG state is
saved; the other ranks reseed from (seed, rank, iteration) on resume.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset, Sampler

from fashionvision.config import Config, config_to_dict, save_config
from fashionvision.engine import distributed as D
from fashionvision.engine.build import (
    build_network,
    epoch_batches,
    grouped_epoch_batches,
    rank_batches,
    resolve_device,
    split_dir,
)
from fashionvision.engine.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from fashionvision.engine.losses import FASHIONNET_LOSS_GROUPS, weighted_loss
from fashionvision.engine.schedule import WarmupLR, epochs_to_iters
from fashionvision.errors import ConfigError, FashionVisionError
from fashionvision.io_utils import atomic_write, write_json
from fashionvision.structures import ImageAnnotation


def check_balance_fits(cfg: Config) -> None:
    """ConfigError unless ``data.balance`` is ``none`` or the run trains Match R-CNN on
    DeepFashion2-format data.  The balancing counts the garments of `ImageAnnotation` records,
    and its rotated copies get ``area`` = the new box's area (`rotate_target`), DeepFashion2's
    convention, whereas a COCO-format target's area is its mask's pixel count.  Refused rather
    than ignored: FashionNet's data path would otherwise train unbalanced in silence."""
    d = cfg.data
    if d.balance != "none" and (d.format != "deepfashion2" or cfg.arch != "match_rcnn"):
        raise ConfigError(
            f"data.balance: {d.balance!r} is for arch=match_rcnn with data.format=deepfashion2, "
            f"not arch={cfg.arch} with data.format={d.format}; set data.balance=none"
        )


def check_ema_decay(decay: float) -> None:
    if not 0.0 <= decay < 1.0:
        raise ConfigError(f"solver.ema: expected a decay in [0, 1) (0 = off), got {decay}")


def weight_average(model: nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of `model`'s parameters and buffers, updated with
    ``update_parameters`` after each step (None when `decay` is 0: off).  torch's AveragedModel:
    its first update copies the weights, each later one moves the average by ``1 - decay``."""
    check_ema_decay(decay)
    if decay == 0.0:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and CUDA)."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class ListBatchSampler(Sampler[list[int]]):
    """Yields a precomputed list of batches (lets a resumed epoch start mid-way)."""

    def __init__(self, batches: Sequence[list[int]]):
        self.batches = [list(b) for b in batches]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


@dataclass
class TrainState:
    """Where training stands: `iter_in_epoch` batches of epoch `epoch` (0-based) are done."""

    epoch: int = 0
    iter_in_epoch: int = 0
    iteration: int = 0


class MetricsLog:
    """RUN_DIR/metrics.csv, appended one flushed row at a time.

    Appending (rather than rewriting) keeps logging O(1); a crash can cut at most the last line.
    On resume the rows logged after the checkpoint are dropped (atomic rewrite) so the file has
    each iteration once.
    """

    def __init__(self, path: Path, resume_iteration: int | None):
        self.path = path
        self.fieldnames: list[str] | None = None
        if resume_iteration is None or not path.exists():
            path.unlink(missing_ok=True)
            return
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            self.fieldnames = list(reader.fieldnames or [])
            rows = [r for r in reader if int(r["iteration"]) <= resume_iteration]
        atomic_write(path, lambda f: self._write_rows(f, rows, header=True))

    def _write_rows(self, f: Any, rows: list[dict[str, Any]], header: bool) -> None:
        writer = csv.DictWriter(f, fieldnames=self.fieldnames or [], extrasaction="ignore")
        if header:
            writer.writeheader()
        writer.writerows(rows)

    def append(self, row: dict[str, Any]) -> None:
        new_file = self.fieldnames is None
        if new_file:
            self.fieldnames = list(row)
        with open(self.path, "a", newline="") as f:
            self._write_rows(f, [row], header=new_file)
            f.flush()


def tensorboard_writer(log_dir: Path) -> Any | None:
    """A TensorBoard SummaryWriter when the tensorboard package is installed, else None."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(log_dir))


class Trainer:
    """Trains Match R-CNN or FashionNet (``cfg.arch``) as `cfg` says, writing to `out_dir` (see
    the module docstring).

    `model`, `train_dataset` (+ its `train_records`, needed for pair sampling) and `val_records`
    (+ `val_split_dir`) default to what `cfg` describes; tests pass small ones.  The dataset yields
    ``(image FloatTensor [3, H, W], target dict)`` as ``fashionvision.data.dataset`` does.
    """

    def __init__(
        self,
        cfg: Config,
        out_dir: str | Path,
        *,
        model: nn.Module | None = None,
        train_dataset: Dataset | None = None,
        train_records: Sequence[ImageAnnotation] | None = None,
        val_split_dir: str | Path | None = None,
        val_records: Sequence[ImageAnnotation] | None = None,
        on_epoch_end: Callable[[Trainer, float], None] | None = None,
    ):
        self.cfg = cfg
        check_balance_fits(cfg)  # before anything is built or read
        check_ema_decay(cfg.solver.ema)
        # called on every rank after each epoch's training steps with (trainer, seconds they took)
        self.on_epoch_end = on_epoch_end
        self.out_dir = Path(out_dir)
        self.device = resolve_device(cfg.train.device)
        self.dist = D.init_distributed(self.device.type, cfg.train.dist_timeout_min)
        if self.device.type == "cuda" and self.dist.distributed:
            self.device = torch.device("cuda", self.dist.local_rank)
        self.batch_size = D.per_rank_batch_size(cfg.solver.batch_size, self.dist)
        seed_everything(cfg.train.seed + self.dist.rank)
        self.model = (model if model is not None else build_network(cfg)).to(self.device)
        self.fashionnet = cfg.arch == "fashionnet"
        self.repeat_factors: list[float] | None = None
        self.label_names: dict[str, Any] | None = None  # FashionNet's tables, kept in checkpoints
        self.val_fashion: Any = None  # FashionNet's validation DeepFashionSplit
        self.val_coco: Any = None  # a COCO-format validation CocoSplit
        from fashionvision.engine.coco_data import COCO_FORMATS

        if self.fashionnet:
            self.train_dataset, self.train_records = self._fashionnet_data(train_dataset)
            self.val_split_dir, self.val_records = None, None
        elif cfg.data.format in COCO_FORMATS and train_dataset is None:
            self.train_dataset, self.train_records = self._coco_data()
            self.val_split_dir, self.val_records = None, None
        else:
            self.train_dataset, self.train_records = self._train_data(train_dataset, train_records)
            self.val_split_dir, self.val_records = self._val_data(val_split_dir, val_records)
        self.iters_per_epoch = len(self.epoch_plan(0))
        if self.iters_per_epoch == 0:
            raise FashionVisionError("training split is empty: nothing to train on")
        self.ddp_model: nn.Module = self.model
        if self.dist.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # some streams get no loss in a batch (e.g. no positive pair), hence unused parameters
            self.ddp_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=True
            )
        # after the data set-up, which may set model buffers (FashionNet's attribute frequency)
        self.ema = weight_average(self.model, cfg.solver.ema)
        self.optimizer, self.scheduler = self._optimizer()
        self.amp = bool(cfg.solver.amp and self.device.type == "cuda")
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp)
        self.state = TrainState()
        self.history: list[dict[str, Any]] = []
        self.tensorboard: Any | None = None

    # ----------------------------------------------------------------- construction helpers
    def _train_data(
        self, dataset: Dataset | None, records: Sequence[ImageAnnotation] | None
    ) -> tuple[Dataset, list[ImageAnnotation] | None]:
        if dataset is not None:
            return dataset, list(records) if records is not None else None
        from fashionvision.data.dataset import DeepFashion2Dataset
        from fashionvision.data.transforms import RandomHorizontalFlip

        flip = (
            RandomHorizontalFlip(self.cfg.data.flip_prob) if self.cfg.data.flip_prob > 0 else None
        )
        from fashionvision.data.deepfashion2 import load_split

        folder = split_dir(self.cfg.data, self.cfg.data.train_split)
        with D.main_first(self.dist):  # rank 0 builds the cached split index, the others read it
            records = load_split(folder, strict=self.cfg.data.strict)
        ds = DeepFashion2Dataset(records, transforms=flip, split_dir=folder)
        if self.cfg.data.balance == "augment":
            return self._class_balanced(ds)
        if self.cfg.data.balance == "repeat_factor":
            from fashionvision.data.balancing import repeat_factors

            self.repeat_factors = repeat_factors(ds.records, self.cfg.data.repeat_threshold)
            self._print_counts(ds.records, self.epoch_plan_indices(0, ds.records))
        return ds, ds.records

    def _class_balanced(self, ds: Any) -> tuple[Dataset, list[ImageAnnotation]]:
        from fashionvision.data.balancing import (
            BalancedDataset,
            balancing_augment,
            class_balance_plan,
        )

        d = self.cfg.data
        plan = class_balance_plan(
            ds.records, d.balance_cap, self.cfg.train.seed, max_repeat=d.balance_max_repeat
        )
        balanced = BalancedDataset(ds, plan, balancing_augment())
        self._print_counts(ds.records, [i for i, _ in plan])
        return balanced, balanced.records

    def _print_counts(self, records: Sequence[ImageAnnotation], indices: list[int]) -> None:
        """The instances per category before and after balancing (rank 0 prints)."""
        if not self.dist.is_main:
            return
        from fashionvision.data.balancing import category_counts, format_counts

        print(f"data.balance={self.cfg.data.balance}: instances per category (one epoch)")
        print(format_counts(category_counts(records), category_counts(records, indices)))

    def epoch_plan_indices(
        self, epoch: int, records: Sequence[ImageAnnotation] | None = None
    ) -> list[int]:
        """Repeat-factor sampling: the dataset indices of `epoch`, repeats included, shuffled."""
        from fashionvision.data.balancing import balanced_epoch

        records = records if records is not None else self.train_records
        assert records is not None and self.repeat_factors is not None
        return balanced_epoch(records, self.repeat_factors, self.cfg.train.seed, epoch)

    def _fashionnet_data(self, dataset: Dataset | None) -> tuple[Dataset, None]:
        """FashionNet's training set (union of the root's benchmarks), its validation split,
        and the attribute frequencies its rebalanced attribute loss weights by."""
        from fashionvision.engine import fashionnet as F

        if dataset is None:
            with D.main_first(self.dist):
                dataset, split = F.train_dataset(self.cfg)
            freq = F.attribute_frequency(split.samples, self.cfg.fashionnet.num_attributes)
            self.model.set_attribute_frequency(freq.to(self.device))
            self.label_names = F.label_names(split)
        root = self.cfg.data.root
        if root and Path(root).is_dir():
            try:
                self.val_fashion = F.load_split_for(self.cfg.data, self.cfg.data.val_split)
            except FashionVisionError:
                self.val_fashion = None  # no validation split: training goes on unevaluated
        return dataset, None

    def _coco_data(self) -> tuple[Dataset, None]:
        """Instance segmentation from a COCO / Fashionpedia / iMaterialist root (fashion parsing):
        the training split, checked against the model's classes and attributes, and the
        validation split when there is one."""
        from fashionvision.data.coco_dataset import CocoInstanceDataset
        from fashionvision.data.transforms import RandomHorizontalFlip
        from fashionvision.engine.coco_data import check_model_fits, coco_split_for

        d = self.cfg.data
        with D.main_first(self.dist):
            split = coco_split_for(d, d.train_split)
        check_model_fits(self.cfg.model, split, d.format, f"{d.root} ({d.train_split})")
        flip = RandomHorizontalFlip(d.flip_prob) if d.flip_prob > 0 else None
        try:
            self.val_coco = coco_split_for(d, d.val_split)
        except FashionVisionError:
            self.val_coco = None  # no labelled validation split (iMaterialist): no evaluation
        return CocoInstanceDataset(split, transforms=flip), None

    def _val_data(
        self, folder: str | Path | None, records: Sequence[ImageAnnotation] | None
    ) -> tuple[Path | None, list[ImageAnnotation] | None]:
        if records is not None:
            return (Path(folder) if folder is not None else None), list(records)
        if not self.cfg.data.root:
            return None, None
        path = Path(self.cfg.data.root) / self.cfg.data.val_split
        if not path.is_dir():
            return None, None
        from fashionvision.data.deepfashion2 import load_split

        with D.main_first(self.dist):
            return path, load_split(path, strict=self.cfg.data.strict)

    def _optimizer(self) -> tuple[torch.optim.Optimizer, WarmupLR]:
        s = self.cfg.solver
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer: torch.optim.Optimizer
        if s.optimizer == "adamw":
            optimizer = torch.optim.AdamW(params, lr=s.base_lr, weight_decay=s.weight_decay)
        else:
            optimizer = torch.optim.SGD(
                params, lr=s.base_lr, momentum=s.momentum, weight_decay=s.weight_decay
            )
        scheduler = WarmupLR(
            optimizer,
            milestones=epochs_to_iters(s.steps, self.iters_per_epoch),
            gamma=s.gamma,
            warmup_iters=s.warmup_iters,
            warmup_factor=s.warmup_factor,
            schedule=s.schedule,
            # the schedule's length, not train.max_iters (a cap that stops a run early)
            max_iters=self.iters_per_epoch * s.epochs,
        )
        return optimizer, scheduler

    def epoch_plan(self, epoch: int) -> list[list[int]]:
        """This rank's batches (dataset indices) for `epoch`; a function of (seed, epoch) only.

        Pair sampling needs the records; a dataset given without them is plainly shuffled.  With
        pair sampling the ranks' batches at a step are the slices of one global batch of
        ``solver.batch_size`` images, which keeps pairs together for the global pair loss.
        """
        seed = self.cfg.train.seed
        if self.fashionnet and hasattr(self.train_dataset, "groups"):
            return grouped_epoch_batches(
                self.train_dataset.groups(),
                self.batch_size,
                seed,
                epoch,
                self.dist.rank,
                self.dist.world_size,
            )
        if self.repeat_factors is not None:
            indices = self.epoch_plan_indices(epoch)
            return rank_batches(indices, self.batch_size, self.dist.rank, self.dist.world_size)
        if self.cfg.data.pair_sampling and self.train_records is not None:
            from fashionvision.data.dataset import PairBatchSampler

            sampler = PairBatchSampler(
                self.train_records,
                self.batch_size,
                seed=seed,
                num_replicas=self.dist.world_size,
                rank=self.dist.rank,
            )
            sampler.set_epoch(epoch)
            return list(sampler)
        return epoch_batches(
            len(self.train_dataset),  # type: ignore[arg-type]
            self.batch_size,
            seed,
            epoch,
            self.dist.rank,
            self.dist.world_size,
        )

    def _loader(self, batches: list[list[int]], epoch: int) -> DataLoader:
        from fashionvision.data.dataset import collate_fn
        from fashionvision.data.deepfashion_dataset import collate_batch

        # a private generator: creating the loader must not consume the global RNG (resume parity)
        generator = torch.Generator().manual_seed(self.cfg.train.seed * 7919 + epoch)
        return DataLoader(
            self.train_dataset,
            batch_sampler=ListBatchSampler(batches),
            collate_fn=collate_batch if self.fashionnet else collate_fn,
            num_workers=self.cfg.data.workers,
            generator=generator,
            pin_memory=self.device.type == "cuda",
        )

    # ----------------------------------------------------------------------- checkpoints
    @property
    def eval_model(self) -> nn.Module:
        """The weights evaluation and ``model_final.pt`` use: the moving average when kept."""
        return self.ema.module if self.ema is not None else self.model

    def checkpoint_state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "epoch": self.state.epoch,
            "iter_in_epoch": self.state.iter_in_epoch,
            "iteration": self.state.iteration,
            "data_seed": self.cfg.train.seed,
            "config": config_to_dict(self.cfg),
            "rng": rng_state(),
            **({"labels": self.label_names} if self.label_names is not None else {}),
        }

    def save(self, name: str = "last.pt", full: bool = True) -> None:
        """Rank 0 writes the full training state (or only model + config + position) atomically."""
        if not self.dist.is_main:
            return
        state = self.checkpoint_state()
        if not full:
            keep = ("model", "config", "epoch", "iteration", "labels")
            state = {k: state[k] for k in keep if k in state}
            state["model"] = self.eval_model.state_dict()
        save_checkpoint(self.out_dir / name, state)

    def resume(self, path: str | Path | None = None) -> None:
        """Restore model, optimizer, scheduler, scaler, position and RNG from `path` (last.pt)."""
        path = Path(path) if path is not None else self.out_dir / "last.pt"
        keys = ("model", "optimizer", "scheduler", "scaler", "epoch", "iter_in_epoch", "iteration")
        ckpt = load_checkpoint(path, map_location=self.device, required=keys)
        if ckpt.get("data_seed", self.cfg.train.seed) != self.cfg.train.seed:
            raise FashionVisionError(
                f"{path}: data_seed {ckpt['data_seed']} differs from train.seed "
                f"{self.cfg.train.seed}; the data position would not match"
            )
        self.model.load_state_dict(ckpt["model"])
        if self.ema is not None and "ema" in ckpt:
            # without one (EMA newly turned on) the average restarts from the resumed weights
            self.ema.load_state_dict(ckpt["ema"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt["scaler"]:  # empty when saved with AMP off (e.g. a CPU run resumed on CUDA)
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state = TrainState(ckpt["epoch"], ckpt["iter_in_epoch"], ckpt["iteration"])
        if self.dist.is_main and "rng" in ckpt:
            set_rng_state(ckpt["rng"])
        else:
            seed_everything(self.cfg.train.seed + 1000 * self.dist.rank + self.state.iteration)

    # ---------------------------------------------------------------------------- loop
    def _losses(self, images: Any, targets: Any) -> tuple[dict[str, torch.Tensor], Any, Any]:
        """The model's raw losses on a batch, with the loss weights and groups that apply now.

        Match R-CNN: lists of images and target dicts; FashionNet: a batched image tensor and a
        dict of batched targets, pooled and weighted as the current stage says."""
        dev = self.device
        if self.fashionnet:
            from fashionvision.engine.fashionnet import stage_at, stage_weights

            stage = stage_at(self.cfg.stages, self.state.epoch)
            images = images.to(dev, non_blocking=True)
            targets = {k: v.to(dev) for k, v in targets.items()}
            with torch.autocast(dev.type, enabled=self.amp):
                loss_dict = self.ddp_model(images, targets, pool_from=stage.pool_from)
            return loss_dict, stage_weights(stage), FASHIONNET_LOSS_GROUPS
        images = [img.to(dev, non_blocking=True) for img in images]
        targets = [
            {k: v.to(dev) if torch.is_tensor(v) else v for k, v in t.items()} for t in targets
        ]
        with torch.autocast(dev.type, enabled=self.amp):
            loss_dict = self.ddp_model(images, targets)
        return loss_dict, self.cfg.loss, None

    def step(self, images: Any, targets: Any) -> dict[str, float]:
        """One optimisation step; returns raw (``loss_*``) and weighted (``w_loss_*``) losses, the
        gradient norm before clipping (``grad_norm``, when ``solver.clip`` > 0), and with the
        matching stream the pair counts of the pair loss (``pairs_pos``, ``pairs_neg``)."""
        loss_dict, weights, groups = self._losses(images, targets)
        if groups is None:
            total, weighted = weighted_loss(loss_dict, weights)
        else:
            total, weighted = weighted_loss(loss_dict, weights, groups)
        if not torch.isfinite(total):
            raise FloatingPointError(
                f"loss is {total.item()} at iteration {self.state.iteration}: "
                + ", ".join(f"{k}={v.item():.4g}" for k, v in loss_dict.items())
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        grad_norm = None
        if self.cfg.solver.clip > 0:
            self.scaler.unscale_(self.optimizer)
            # the norm before clipping: how often it exceeds solver.clip says whether the cap
            # lowers the effective learning rate
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.solver.clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        metrics = {"loss": total.item()}
        if grad_norm is not None:
            metrics["grad_norm"] = grad_norm.item()
        metrics.update({k: v.item() for k, v in loss_dict.items()})
        metrics.update({f"w_{k}": v.item() for k, v in weighted.items()})
        # pairs behind loss_pair (of the global batch under DDP): statistics, not losses
        pair_counts = getattr(getattr(self.model, "roi_heads", None), "last_pair_counts", None)
        if pair_counts is not None:
            metrics.update(pairs_pos=float(pair_counts[0]), pairs_neg=float(pair_counts[1]))
        return metrics

    def _done(self) -> bool:
        max_iters = self.cfg.train.max_iters
        return max_iters is not None and self.state.iteration >= max_iters

    def planned_epochs(self) -> int:
        """Epochs this run reaches: ``solver.epochs``, or fewer when ``train.max_iters`` stops
        it earlier (the last one possibly cut short)."""
        epochs = self.cfg.solver.epochs
        max_iters = self.cfg.train.max_iters
        if max_iters is None:
            return epochs
        return max(1, min(epochs, -(-max_iters // self.iters_per_epoch)))

    def planned_iterations(self) -> int:
        """Iterations this run reaches: the schedule's, or ``train.max_iters`` when smaller."""
        total = self.iters_per_epoch * self.cfg.solver.epochs
        max_iters = self.cfg.train.max_iters
        return total if max_iters is None else min(total, max_iters)

    def train_epoch(self, log: MetricsLog | None) -> None:
        """Run the rest of epoch ``state.epoch`` (from ``state.iter_in_epoch``), or up to
        ``train.max_iters``; the progress bar counts the iterations this epoch will run."""
        epoch = self.state.epoch
        batches = self.epoch_plan(epoch)[self.state.iter_in_epoch :]
        max_iters = self.cfg.train.max_iters
        if max_iters is not None:
            batches = batches[: max(0, max_iters - self.state.iteration)]
        progress = None
        if self.dist.is_main and self.cfg.train.progress:
            from tqdm import tqdm

            capped = "" if max_iters is None else f" (train.max_iters={max_iters})"
            progress = tqdm(
                total=self.state.iter_in_epoch + len(batches),
                initial=self.state.iter_in_epoch,
                desc=f"epoch {epoch + 1}/{self.planned_epochs()}{capped}",
                dynamic_ncols=True,
            )
        tic = time.perf_counter()
        self.model.train()
        for images, targets in self._loader(batches, epoch):
            lr = self.optimizer.param_groups[0]["lr"]
            metrics = self.step(images, targets)
            self.state.iter_in_epoch += 1
            self.state.iteration += 1
            now = time.perf_counter()
            metrics.update(lr=lr, time=now - tic)
            if self.device.type == "cuda":  # the peak since the start, as detectron2's max_mem
                metrics["max_mem_mb"] = torch.cuda.max_memory_allocated(self.device) / 2**20
            tic = now
            self._log(metrics, log, progress)
            if self.state.iteration % self.cfg.train.checkpoint_every == 0:
                self.save()
            if self._done():
                break
        if progress is not None:
            progress.close()

    def _log(self, metrics: dict[str, float], log: MetricsLog | None, progress: Any) -> None:
        """Progress bar every step (this rank's loss); CSV/TensorBoard rows averaged over ranks."""
        if progress is not None:
            progress.update(1)
            progress.set_postfix(loss=f"{metrics['loss']:.3f}", lr=f"{metrics['lr']:.2g}")
        if self.state.iteration % self.cfg.train.log_every:
            return
        metrics = D.reduce_mean(metrics, self.dist)  # every rank takes part in the all-reduce
        if log is None:
            return
        row = {"epoch": self.state.epoch + 1, "iteration": self.state.iteration, **metrics}
        self.history.append(row)
        log.append(row)
        if self.tensorboard is not None:
            for key, value in metrics.items():
                self.tensorboard.add_scalar(f"train/{key}", value, self.state.iteration)

    def evaluate(self) -> dict[str, Any] | None:
        """Every validation number after epoch ``state.epoch``, written to eval_epochN.json.

        Every rank evaluates its shard of the split (`fashionvision.engine.evaluate`); rank 0
        gathers, scores, writes and returns the report (None on the other ranks).
        """
        from fashionvision.engine.evaluate import ProgressBar, evaluate_model

        show = self.dist.is_main and self.cfg.train.progress
        bar = ProgressBar(f"evaluation after epoch {self.state.epoch}") if show else None
        if self.fashionnet and self.val_fashion is not None:
            from fashionvision.engine.fashionnet import evaluate_fashionnet

            metrics = evaluate_fashionnet(
                self.eval_model,
                self.val_fashion,
                input_size=self.cfg.fashionnet.input_size,
                device=self.device,
                batch_size=self.batch_size,
                dist=self.dist,
                progress=bar,
            )
            return self._write_eval(metrics)
        if self.val_coco is not None:
            from fashionvision.engine.evaluate import inference_on_dataset
            from fashionvision.evaluation.coco_json_evaluator import CocoJsonEvaluator

            metrics = inference_on_dataset(
                self.eval_model,
                self.val_coco.image_dir,
                self.val_coco.records,
                [CocoJsonEvaluator(self.val_coco)],
                device=self.device,
                batch_size=self.batch_size,
                dist=self.dist,
                progress=bar,
            )
            return self._write_eval(metrics)
        if self.val_records is None or self.val_split_dir is None:
            return None
        metrics, _, _ = evaluate_model(
            self.eval_model,
            self.val_split_dir,
            self.val_records,
            device=self.device,
            batch_size=self.batch_size,
            dist=self.dist,
            progress=bar,
        )
        return self._write_eval(metrics)

    def _write_eval(self, metrics: dict[str, Any] | None) -> dict[str, Any] | None:
        if metrics is None:
            return None
        report = {"epoch": self.state.epoch, "iteration": self.state.iteration, **metrics}
        write_json(self.out_dir / f"eval_epoch{self.state.epoch}.json", report, indent=2)
        return report

    def fit(self, resume: bool = False) -> TrainState:
        """Train to the end of the schedule (or ``train.max_iters``); returns the final state.

        Both ends write ``model_final.pt``.  `resume` continues from ``RUN_DIR/last.pt``; a
        missing run directory is an error (it is not created).
        """
        if resume:
            if not (self.out_dir / "last.pt").is_file():
                raise FashionVisionError(
                    f"{self.out_dir / 'last.pt'}: checkpoint not found, nothing to resume "
                    "(start a new run without resuming)"
                )
            self.resume()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        log = None
        if self.dist.is_main:
            save_config(self.cfg, self.out_dir / "config.yaml")
            log = MetricsLog(self.out_dir / "metrics.csv", self.state.iteration if resume else None)
            self.tensorboard = tensorboard_writer(self.out_dir / "tensorboard")
        epochs = self.cfg.solver.epochs
        while self.state.epoch < epochs and not self._done():
            tic = time.perf_counter()
            self.train_epoch(log)
            if self.on_epoch_end is not None:
                self.on_epoch_end(self, time.perf_counter() - tic)
            if self.state.iter_in_epoch < len(self.epoch_plan(self.state.epoch)):
                break  # stopped by max_iters mid-epoch
            self.state.epoch += 1
            self.state.iter_in_epoch = 0
            self.save()
            every = self.cfg.train.eval_every
            if every > 0 and (self.state.epoch % every == 0 or self.state.epoch == epochs):
                self.evaluate()
            D.barrier(self.dist)
        self.save()
        if self.state.epoch >= epochs or self._done():
            self.save("model_final.pt", full=False)
        if self.tensorboard is not None:
            self.tensorboard.close()
        D.barrier(self.dist)
        return self.state


def train(cfg: Config, out_dir: str | Path, resume: bool = False) -> TrainState:
    """Build everything from `cfg` and train; the entry point of ``fashionvision train``."""
    trainer = Trainer(cfg, out_dir)
    try:
        return trainer.fit(resume=resume)
    finally:
        D.cleanup(trainer.dist)
