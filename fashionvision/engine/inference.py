"""Inference: image loading, batched forward passes, decoding to records, and the Predictor.

The model follows torchvision's detection convention: ``model(list of FloatTensor [3, H, W] in
[0, 1])`` in eval mode returns one dict per image with ``boxes`` [K, 4] xyxy in input pixels,
``labels`` [K] (1..13), ``scores`` [K], ``masks`` [K, 1, H, W] probabilities, ``landmarks``
[n, 294, 3] (x, y, score; zero outside the predicted category's slice) and ``embeddings`` [n, D]
for the first n <= K detections (the ones the streams ran on);
``landmarks``/``masks``/``embeddings`` are absent when the model lacks that stream.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import nn
from torchvision.transforms import functional as TF

from fashionvision.categories import CATEGORY_NAMES
from fashionvision.config import ModelConfig
from fashionvision.detections import binary_masks, local_landmarks, output_to_detections
from fashionvision.engine.build import build_model, resolve_device
from fashionvision.engine.checkpoint import CheckpointError, load_checkpoint
from fashionvision.errors import FashionVisionError
from fashionvision.structures import Detection

ImageInput = Image.Image | np.ndarray | str | Path


def load_image(image: ImageInput, name: str = "<array>") -> torch.Tensor:
    """A PIL image, an HxWx3 uint8 array or an image path -> FloatTensor [3, H, W] in [0, 1]."""
    if isinstance(image, str | Path):
        path = Path(image)
        try:
            with Image.open(path) as img:
                image = img.convert("RGB")
        except FileNotFoundError:
            raise FashionVisionError(f"{path}: image file not found") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise FashionVisionError(f"{path}: cannot read image ({exc})") from None
    elif isinstance(image, Image.Image):
        image = image.convert("RGB")
    elif isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise FashionVisionError(
                f"{name}: expected an HxWx3 uint8 array, got {image.shape} {image.dtype}"
            )
        if not image.flags.writeable:  # torch warns on (and may not share) read-only memory
            image = image.copy()
    else:
        raise FashionVisionError(f"{name}: unsupported image type {type(image).__name__}")
    return TF.to_tensor(image)


def batched(items: Sequence[Any], batch_size: int) -> Iterator[Sequence[Any]]:
    if batch_size < 1:
        raise FashionVisionError(f"batch_size must be >= 1, got {batch_size}")
    for start in range(0, len(items), batch_size):
        yield items[start : start + batch_size]


@torch.inference_mode()
def forward_images(
    model: nn.Module,
    images: Sequence[torch.Tensor],
    device: torch.device,
    boxes: Sequence[torch.Tensor] | None = None,
) -> list[dict[str, torch.Tensor]]:
    """One eval forward pass on a batch; outputs moved to the CPU.

    With `boxes` (per image [n_i, 4] xyxy, original pixels) each output also holds
    ``box_embeddings`` [n_i, D], from the same backbone pass (``model.forward_with_boxes``).
    """
    inputs = [img.to(device) for img in images]
    if boxes is None:
        outputs = model(inputs)
    elif hasattr(model, "forward_with_boxes"):
        outputs = model.forward_with_boxes(inputs, [b.to(device) for b in boxes])
    else:
        raise FashionVisionError("model.matching: this model cannot embed given boxes")
    return [{k: v.detach().cpu() for k, v in out.items()} for out in outputs]


def keep_confident(
    output: dict[str, torch.Tensor], score_threshold: float
) -> dict[str, torch.Tensor]:
    """The detections of one output dict whose score is >= `score_threshold`.

    Per-detection tensors may cover only the first n detections (the streams' ``landmarks`` and
    ``embeddings``): they are filtered by the same mask cut to their length.  Tensors not indexed
    by detection (``box_embeddings``, one row per given box) are kept whole.
    """
    keep = output["scores"] >= score_threshold
    per_detection = ("boxes", "labels", "scores", "masks", "landmarks", "embeddings")
    return {
        k: v[keep[: len(v)]] if k in per_detection else v for k, v in output.items()
    }


def output_to_prediction(output: dict[str, torch.Tensor]) -> dict[str, Any]:
    """One image's (already filtered) output -> the Predictor's plain-numpy result dict."""
    labels = output["labels"].numpy().astype(np.int64)
    embeddings = output.get("embeddings")
    return {
        "boxes": output["boxes"].numpy().astype(np.float32),
        "labels": labels,
        "category_names": [CATEGORY_NAMES[int(c)] for c in labels],
        "scores": output["scores"].numpy().astype(np.float32),
        "masks": binary_masks(output),
        "landmarks": local_landmarks(output),
        "embeddings": embeddings.numpy() if embeddings is not None else None,
    }


def model_from_checkpoint(path: str | Path, device: torch.device) -> tuple[nn.Module, ModelConfig]:
    """Rebuild the model of a training checkpoint (``model`` + ``config`` entries), in eval mode."""
    from fashionvision.config import config_from_dict

    state = load_checkpoint(path, required=("model", "config"))
    try:
        cfg = config_from_dict(state["config"], source=str(path))
    except FashionVisionError as exc:
        raise CheckpointError(f"{path}: config: {exc}") from exc
    model = build_model(cfg.model)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: model: weights do not fit the model ({exc})") from exc
    return model.to(device).eval(), cfg.model


class Predictor:
    """Run a trained Match R-CNN on images (see :func:`fashionvision.api.load`)."""

    def __init__(self, model: nn.Module, device: torch.device | str | None = None):
        self.device = resolve_device(str(device) if device is not None else None)
        self.model = model.to(self.device).eval()

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = None) -> Predictor:
        dev = resolve_device(device)
        model, _ = model_from_checkpoint(path, dev)
        return cls(model, dev)

    def raw_outputs(
        self, images: Sequence[ImageInput], score_threshold: float = 0.5, batch_size: int = 4
    ) -> list[dict[str, torch.Tensor]]:
        """Filtered model output dicts (CPU tensors), one per image, in input order."""
        outputs: list[dict[str, torch.Tensor]] = []
        for chunk in batched(list(images), batch_size):
            tensors = [
                load_image(img, name=f"image {len(outputs) + i}") for i, img in enumerate(chunk)
            ]
            for out in forward_images(self.model, tensors, self.device):
                outputs.append(keep_confident(out, score_threshold))
        return outputs

    def predict(
        self, images: Sequence[ImageInput], score_threshold: float = 0.5, batch_size: int = 4
    ) -> list[dict[str, Any]]:
        """Detect garments in `images` (PIL images, HxWx3 uint8 arrays or paths).

        Returns one dict per image: ``boxes`` float32 [K, 4] xyxy pixels, ``labels`` int64 [K]
        (1..13), ``category_names`` list[str], ``scores`` float32 [K], ``masks`` bool [K, H, W],
        ``landmarks`` list of n arrays (m, 3) = (x, y, score) in the category's own numbering, and
        ``embeddings`` float32 [n, D] (None where the model lacks the stream); n = K unless the
        model caps its streams with ``stream_detections_per_img`` (then the n best detections).
        """
        return [
            output_to_prediction(o) for o in self.raw_outputs(images, score_threshold, batch_size)
        ]

    def detections(
        self,
        images: Sequence[ImageInput],
        image_ids: Sequence[int],
        score_threshold: float = 0.5,
        batch_size: int = 4,
    ) -> list[list[Detection]]:
        """Per image, its Detection records (RLE masks, local landmarks) tagged with its id."""
        if len(images) != len(image_ids):
            raise ValueError(f"{len(images)} images but {len(image_ids)} image ids")
        outputs = self.raw_outputs(images, score_threshold, batch_size)
        return [output_to_detections(o, i) for o, i in zip(outputs, image_ids, strict=True)]
