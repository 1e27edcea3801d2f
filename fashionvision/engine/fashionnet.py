"""FashionNet's pieces of the engine: its data, its stage schedule, its inference and evaluation.

The trainer, ``fashionvision evaluate`` and the benchmark reach FashionNet through these
functions; the sharded loop itself is the one of Match R-CNN
(`fashionvision.engine.evaluate.inference_on_dataset`), fed by `fashionnet_outputs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fashionvision.config import Config, DataConfig, FashionNetConfig, FashionNetStage
from fashionvision.data.deepfashion_dataset import (
    DeepFashionDataset,
    DeepFashionSample,
    DeepFashionSplit,
    crop_box,
    load_deepfashion_split,
    load_input,
    to_original,
)
from fashionvision.engine.distributed import DistInfo
from fashionvision.errors import ConfigError, FashionVisionError


def build_fashionnet_model(cfg: FashionNetConfig) -> nn.Module:
    from fashionvision.models.fashionnet import build_fashionnet

    try:
        return build_fashionnet(**dataclasses.asdict(cfg))
    except (ValueError, KeyError) as exc:  # FashionVisionError (e.g. bad weights) passes as is
        raise ConfigError(f"fashionnet: cannot build FashionNet: {exc}") from exc


def stage_at(stages: Sequence[FashionNetStage], epoch: int) -> FashionNetStage:
    """The stage of 0-based `epoch`: the stage list repeats (stage 1, stage 2, stage 1, ...)."""
    if not stages or any(s.epochs < 1 for s in stages):
        raise ConfigError("stages: need at least one stage, each with epochs >= 1")
    cycle = sum(s.epochs for s in stages)
    position = epoch % cycle
    for stage in stages:
        if position < stage.epochs:
            return stage
        position -= stage.epochs
    raise AssertionError("unreachable")


def stage_weights(stage: FashionNetStage) -> dict[str, float]:
    return {k: v for k, v in dataclasses.asdict(stage).items() if k not in ("epochs", "pool_from")}


def load_split_for(data: DataConfig, split: str) -> DeepFashionSplit:
    if not data.root:
        raise ConfigError("data.root: not set (pass data.root=/path/to/deepfashion)")
    if not Path(data.root).is_dir():
        raise ConfigError(f"data.root: {data.root} is not a directory")
    return load_deepfashion_split(data.root, split, strict=data.strict)


def check_label_space(split: DeepFashionSplit, cfg: FashionNetConfig, where: str) -> None:
    """The data's category and attribute tables must fit the network's outputs."""
    if split.category_names and len(split.category_names) != cfg.num_categories:
        raise ConfigError(
            f"fashionnet.num_categories: {cfg.num_categories}, but {where} lists "
            f"{len(split.category_names)} categories"
        )
    if split.attribute_names and len(split.attribute_names) != cfg.num_attributes:
        raise ConfigError(
            f"fashionnet.num_attributes: {cfg.num_attributes}, but {where} lists "
            f"{len(split.attribute_names)} attributes"
        )


def train_dataset(cfg: Config) -> tuple[DeepFashionDataset, DeepFashionSplit]:
    split = load_split_for(cfg.data, cfg.data.train_split)
    check_label_space(split, cfg.fashionnet, f"{cfg.data.root} ({cfg.data.train_split})")
    ds = DeepFashionDataset(
        split.samples,
        cfg.fashionnet.input_size,
        cfg.fashionnet.num_attributes,
        flip_prob=cfg.data.flip_prob,
    )
    return ds, split


def attribute_frequency(samples: Sequence[DeepFashionSample], num_attributes: int) -> torch.Tensor:
    """Per attribute, the share of positives among the known labels of the samples that carry
    attributes: what the rebalanced attribute loss weights positives and negatives by."""
    from fashionvision.models.fashionnet import positive_frequency

    rows = [
        s.attributes
        for s in samples
        if s.attributes is not None and len(s.attributes) == num_attributes
    ]
    labels = np.stack(rows) if rows else np.zeros((0, num_attributes), np.int8)
    return positive_frequency(torch.from_numpy(labels.astype(np.int64)))


@torch.no_grad()
def fashionnet_outputs(
    model: nn.Module, samples: Sequence[DeepFashionSample], device: torch.device, input_size: int
) -> list[dict[str, np.ndarray]]:
    """One output per sample, numpy, landmarks mapped back to the original image's pixels."""
    images = torch.stack([load_input(s, input_size) for s in samples]).to(device)
    out = {k: v.float().cpu().numpy() for k, v in model(images).items()}
    results = []
    for i, s in enumerate(samples):
        one = {k: v[i] for k, v in out.items()}
        one["landmarks"] = to_original(one["landmarks"], crop_box(s), input_size)
        results.append(one)
    return results


def fashionnet_evaluators(split: DeepFashionSplit) -> list[Any]:
    from fashionvision.evaluation.fashionnet_evaluator import FashionNetEvaluator

    return [
        FashionNetEvaluator(
            attribute_groups=split.attribute_groups or None, retrieval=split.retrieval
        )
    ]


def evaluate_fashionnet(
    model: nn.Module,
    split: DeepFashionSplit,
    *,
    input_size: int,
    device: torch.device,
    batch_size: int = 16,
    dist: DistInfo | None = None,
    progress: Any = None,
) -> dict[str, Any] | None:
    """Every FashionNet number on a split (rank 0; None elsewhere), through the one sharded
    inference loop."""
    from fashionvision.engine.evaluate import inference_on_dataset

    return inference_on_dataset(
        model,
        "",
        split.samples,
        fashionnet_evaluators(split),
        device=device,
        batch_size=batch_size,
        dist=dist,
        progress=progress,
        run_batch=lambda chunk: fashionnet_outputs(model, chunk, device, input_size),
    )


def evaluate_fashionnet_checkpoint(
    weights: str | Path,
    root: str | Path,
    split: str,
    *,
    device: torch.device,
    batch_size: int = 16,
    strict: bool = True,
    dist: DistInfo | None = None,
    progress: Any = None,
) -> dict[str, Any] | None:
    """`evaluate_fashionnet` for a FashionNet checkpoint and a DeepFashion data root."""
    from fashionvision.engine.inference import load_network

    model, cfg = load_network(weights, device)
    if cfg.arch != "fashionnet":
        raise FashionVisionError(f"{weights}: a {cfg.arch} checkpoint, not FashionNet")
    data = load_deepfashion_split(root, split, strict=strict)
    check_label_space(data, cfg.fashionnet, f"{root} ({split})")
    return evaluate_fashionnet(
        model,
        data,
        input_size=cfg.fashionnet.input_size,
        device=device,
        batch_size=batch_size,
        dist=dist,
        progress=progress,
    )


def label_names(split: DeepFashionSplit) -> dict[str, Any]:
    """The label tables a checkpoint keeps so that predictions can be named."""
    return {
        "categories": list(split.category_names),
        "attributes": list(split.attribute_names),
        "attribute_groups": {k: list(v) for k, v in split.attribute_groups.items()},
    }


VISIBILITY_NAMES = ("visible", "occluded", "cut off")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class FashionNetPredictor:
    """Run a trained FashionNet on garment images (see :func:`fashionvision.api.load`)."""

    def __init__(self, model: nn.Module, cfg: Config, labels: dict[str, Any] | None, device: Any):
        self.model = model.eval()
        self.cfg = cfg
        self.device = device
        self.input_size = cfg.fashionnet.input_size
        labels = labels or {}
        self.category_names: list[str] = labels.get("categories") or [
            f"category {k}" for k in range(1, cfg.fashionnet.num_categories + 1)
        ]
        self.attribute_names: list[str] = labels.get("attributes") or [
            f"attribute {k}" for k in range(1, cfg.fashionnet.num_attributes + 1)
        ]
        self.attribute_type: dict[int, str] = {
            col: name for name, cols in labels.get("attribute_groups", {}).items() for col in cols
        }

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | None = None, option: str = "device"
    ) -> FashionNetPredictor:
        from fashionvision.engine.build import resolve_device
        from fashionvision.engine.checkpoint import load_checkpoint
        from fashionvision.engine.inference import load_network

        dev = resolve_device(device, option=option)
        model, cfg = load_network(path, dev)
        if cfg.arch != "fashionnet":
            raise FashionVisionError(f"{path}: a {cfg.arch} checkpoint, not FashionNet")
        labels = load_checkpoint(path, required=("config",)).get("labels")
        return cls(model, cfg, labels, dev)

    @torch.no_grad()
    def predict(
        self,
        images: Any,
        boxes: Sequence[Sequence[float] | None] | None = None,
        top_k: int = 5,
        batch_size: int = 16,
    ) -> list[dict[str, Any]]:
        """Category, attributes, landmarks and embedding of each garment image.

        `images`: one image or a list (paths, PIL images or HxWx3 uint8 arrays), each showing
        one garment; `boxes`: per image the garment's box (x1, y1, x2, y2) to crop with the
        training margin, or None for the whole image.  Returns one dict per image:

        - ``categories``: the `top_k` (name, probability), best first (softmax over 50);
        - ``attributes``: the `top_k` (name, type, probability), by sigmoid score;
        - ``landmarks``: [8, 2] float32 pixels of the input image, the 8-slot layout
          (``fashionvision.data.deepfashion.SLOT_NAMES``); ``visibility``: [8] state names and
          ``visibility_probs`` [8, 3] (visible, occluded, cut off);
        - ``embedding``: float32 [D], unit length (retrieval: nearer = more alike).
        """
        from fashionvision.data.deepfashion_dataset import prepare_input
        from fashionvision.engine.inference import as_image_list, load_image_pil

        items = as_image_list(images)
        boxes = list(boxes) if boxes is not None else [None] * len(items)
        if len(boxes) != len(items):
            raise FashionVisionError(f"boxes: {len(boxes)} given for {len(items)} images")
        results: list[dict[str, Any]] = []
        for start in range(0, len(items), batch_size):
            crops, tensors = [], []
            for k in range(start, min(start + batch_size, len(items))):
                image = load_image_pil(items[k], name=f"image {k}")
                w, h = image.size
                crop: tuple[float, float, float, float] = (0.0, 0.0, float(w), float(h))
                box = boxes[k]
                if box is not None:  # the training crop: the box plus its margin
                    x1, y1, x2, y2 = (float(v) for v in box)
                    crop = crop_box(DeepFashionSample("", Path(), (w, h), (x1, y1, x2, y2)))
                crops.append(crop)
                tensors.append(prepare_input(image, crop, self.input_size))
            out = self.model(torch.stack(tensors).to(self.device))
            out = {k: v.float().cpu().numpy() for k, v in out.items()}
            for i, crop in enumerate(crops):
                results.append(self._result({k: v[i] for k, v in out.items()}, crop, top_k))
        return results

    def _result(self, out: dict[str, np.ndarray], crop: Sequence[float], k: int) -> dict[str, Any]:
        cat = _softmax(out["category_logits"])
        attr = 1 / (1 + np.exp(-out["attribute_logits"]))
        vis = _softmax(out["visibility_logits"])
        top_c = np.argsort(-cat, kind="stable")[:k]
        top_a = np.argsort(-attr, kind="stable")[:k]
        return {
            "categories": [(self.category_names[c], float(cat[c])) for c in top_c],
            "attributes": [
                (self.attribute_names[a], self.attribute_type.get(int(a), ""), float(attr[a]))
                for a in top_a
            ],
            "landmarks": to_original(out["landmarks"], crop, self.input_size).astype(np.float32),
            "visibility": [VISIBILITY_NAMES[int(v)] for v in vis.argmax(-1)],
            "visibility_probs": vis.astype(np.float32),
            "embedding": out["embedding"].astype(np.float32),
        }
