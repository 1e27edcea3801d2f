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
from fashionvision.config import Config, ModelConfig
from fashionvision.detections import binary_masks, local_landmarks, output_to_detections
from fashionvision.engine.build import build_network, resolve_device
from fashionvision.engine.checkpoint import CheckpointError, load_checkpoint
from fashionvision.errors import FashionVisionError
from fashionvision.structures import Detection

ImageInput = Image.Image | np.ndarray | str | Path


def as_image_list(images: ImageInput | Sequence[ImageInput]) -> list[ImageInput]:
    """One image (a path, a PIL image, an HxWx3 array) -> ``[image]``; a list or tuple as a list.

    A string is one path, never a sequence of characters; a 3-D array is one image (a 4-D
    ``[N, H, W, 3]`` array is N images).
    """
    if isinstance(images, str | Path | Image.Image):
        return [images]
    if isinstance(images, np.ndarray):
        return list(images) if images.ndim == 4 else [images]
    try:
        return list(images)
    except TypeError:
        raise FashionVisionError(
            f"expected an image (path, PIL image, HxWx3 uint8 array) or a list of them, "
            f"got {type(images).__name__}"
        ) from None


def load_image_pil(image: ImageInput, name: str = "<array>") -> Image.Image:
    """A PIL image, an HxWx3 uint8 array or an image path -> an RGB PIL image."""
    if isinstance(image, str | Path):
        path = Path(image)
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except FileNotFoundError:
            raise FashionVisionError(f"{path}: image file not found") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise FashionVisionError(f"{path}: cannot read image ({exc})") from None
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise FashionVisionError(
                f"{name}: expected an HxWx3 uint8 array, got {image.shape} {image.dtype}"
            )
        return Image.fromarray(image)
    raise FashionVisionError(f"{name}: unsupported image type {type(image).__name__}")


def load_image(image: ImageInput, name: str = "<array>") -> torch.Tensor:
    """A PIL image, an HxWx3 uint8 array or an image path -> FloatTensor [3, H, W] in [0, 1]."""
    if isinstance(image, np.ndarray) and image.ndim == 3 and image.dtype == np.uint8:
        if image.shape[2] == 3:  # straight to a tensor (no PIL round trip)
            return TF.to_tensor(image.copy() if not image.flags.writeable else image)
    return TF.to_tensor(load_image_pil(image, name))


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
    ``box_class_scores`` [n_i, C] and (with a matching stream) ``box_embeddings`` [n_i, D], from
    the same backbone pass (``model.forward_with_boxes``).
    """
    inputs = [img.to(device) for img in images]
    if boxes is None:
        outputs = model(inputs)
    elif hasattr(model, "forward_with_boxes"):
        outputs = model.forward_with_boxes(inputs, [b.to(device) for b in boxes])
    else:
        raise FashionVisionError("this model cannot run on given boxes (no forward_with_boxes)")
    return [{k: v.detach().cpu() for k, v in out.items()} for out in outputs]


def keep_confident(
    output: dict[str, torch.Tensor], score_threshold: float
) -> dict[str, torch.Tensor]:
    """The detections of one output dict whose score is >= `score_threshold`.

    Per-detection tensors may cover only the first n detections (the streams' ``landmarks`` and
    ``embeddings``): they are filtered by the same mask cut to their length.  Tensors not indexed
    by detection (``box_embeddings``, ``box_class_scores``: one row per given box) are kept whole.
    """
    keep = output["scores"] >= score_threshold
    per_detection = (
        "boxes",
        "labels",
        "scores",
        "masks",
        "landmarks",
        "embeddings",
        "attribute_scores",
    )
    return {k: v[keep[: len(v)]] if k in per_detection else v for k, v in output.items()}


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


def load_network(
    path: str | Path, device: torch.device, overrides: Sequence[str] = ()
) -> tuple[nn.Module, Config]:
    """Rebuild the network of a training checkpoint (``model`` + ``config`` entries), in eval
    mode, whichever `arch` it is, with its whole config; `overrides` (``model.KEY=VALUE``) set
    inference options only (`INFERENCE_OPTIONS`: score floor, NMS, detection counts)."""
    from fashionvision.config import check_inference_overrides, config_from_dict

    check_inference_overrides(overrides)
    state = load_checkpoint(path, required=("model", "config"))
    try:
        cfg = config_from_dict(state["config"], source=str(path))
    except FashionVisionError as exc:
        raise CheckpointError(f"{path}: config: {exc}") from exc
    if overrides:  # a bad value is the command line's error, not the checkpoint's
        cfg = config_from_dict(state["config"], source=str(path), overrides=overrides)
    model = build_network(cfg)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: model: weights do not fit the model ({exc})") from exc
    return model.to(device).eval(), cfg


def checkpoint_arch(path: str | Path) -> str:
    """The `arch` a training checkpoint was trained as (``match_rcnn`` for older checkpoints)."""
    config = load_checkpoint(path, required=("config",))["config"]
    return str(config.get("arch", "match_rcnn")) if isinstance(config, dict) else "match_rcnn"


def checkpoint_data_format(path: str | Path) -> str:
    """The ``data.format`` a training checkpoint was trained on (``deepfashion2`` if unset)."""
    config = load_checkpoint(path, required=("config",))["config"]
    data = config.get("data", {}) if isinstance(config, dict) else {}
    return str(data.get("format", "deepfashion2")) if isinstance(data, dict) else "deepfashion2"


def model_from_checkpoint(
    path: str | Path, device: torch.device, overrides: Sequence[str] = ()
) -> tuple[nn.Module, ModelConfig]:
    """The Match R-CNN of a training checkpoint, in eval mode (`overrides` as in
    `load_network`); a FashionNet checkpoint is a CheckpointError naming the file (detection,
    matching and indexing need Match R-CNN)."""
    model, cfg = load_network(path, device, overrides)
    if cfg.arch != "match_rcnn":
        raise CheckpointError(
            f"{path}: a {cfg.arch} checkpoint; this needs a Match R-CNN checkpoint"
        )
    return model, cfg.model


class Predictor:
    """Run a trained Match R-CNN on images (see :func:`fashionvision.api.load`)."""

    def __init__(
        self, model: nn.Module, device: torch.device | str | None = None, option: str = "device"
    ):
        self.device = resolve_device(str(device) if device is not None else None, option=option)
        self.model = model.to(self.device).eval()

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, device: str | None = None, option: str = "device"
    ) -> Predictor:
        """`option` is how the caller gave `device` (``device``, ``--device``), for errors."""
        dev = resolve_device(device, option=option)
        model, _ = model_from_checkpoint(path, dev)
        return cls(model, dev, option=option)

    def raw_outputs(
        self,
        images: ImageInput | Sequence[ImageInput],
        score_threshold: float = 0.5,
        batch_size: int = 4,
    ) -> list[dict[str, torch.Tensor]]:
        """Filtered model output dicts (CPU tensors), one per image, in input order."""
        outputs: list[dict[str, torch.Tensor]] = []
        for chunk in batched(as_image_list(images), batch_size):
            tensors = [
                load_image(img, name=f"image {len(outputs) + i}") for i, img in enumerate(chunk)
            ]
            for out in forward_images(self.model, tensors, self.device):
                outputs.append(keep_confident(out, score_threshold))
        return outputs

    def predict(
        self,
        images: ImageInput | Sequence[ImageInput],
        score_threshold: float = 0.5,
        batch_size: int = 4,
    ) -> list[dict[str, Any]]:
        """Detect garments in `images`: one image or a list of them, each a path (str or Path),
        a PIL image or an HxWx3 uint8 RGB array.  Always returns a list, one dict per image in
        input order (``[result] = predictor.predict("street.jpg")`` for one image).

        `score_threshold` keeps the detections scoring at least that much (0.5 shows the confident
        ones; use 0.05 before scoring with COCO AP, the model's own floor ``box_score_thresh``);
        an image may have none, K = 0.
        The K detections are sorted by decreasing score.  Each dict holds:

        - ``boxes``: float32 [K, 4], (x1, y1, x2, y2) in the input image's pixels;
        - ``labels``: int64 [K], DeepFashion2 category ids 1..13;
        - ``category_names``: list of K names (``short_sleeved_shirt`` ...);
        - ``scores``: float32 [K], detection confidence in [0, 1];
        - ``masks``: bool [K, H, W], the garment's pixels (H, W = the image's size); None when
          the model has no mask stream;
        - ``landmarks``: list of n float64 arrays (m, 3), one per detection, m = the number of
          landmarks of the detected category, rows in the category's own DeepFashion2 numbering
          (row 0 = landmark 1); columns (x, y, score): x, y in image pixels, score = the peak
          logit of that landmark's heatmap (the network's raw, unnormalised confidence that the
          landmark is at x, y: higher is surer, comparable between landmarks of one model but
          not a probability, and *not* DeepFashion2's visibility flag v, which the model does
          not predict); None when the model has no landmark stream;
        - ``embeddings``: float32 [n, D], the matching stream's embedding of each detection (for
          retrieval); None when the model has no matching stream.

        n = K unless the model caps its streams with ``model.stream_detections_per_img`` (then
        the n best detections have landmarks and embeddings).
        """
        return [
            output_to_prediction(o) for o in self.raw_outputs(images, score_threshold, batch_size)
        ]

    def detections(
        self,
        images: ImageInput | Sequence[ImageInput],
        image_ids: Sequence[int],
        score_threshold: float = 0.5,
        batch_size: int = 4,
    ) -> list[list[Detection]]:
        """Per image, its Detection records (RLE masks, local landmarks) tagged with its id."""
        images = as_image_list(images)
        if len(images) != len(image_ids):
            raise ValueError(f"{len(images)} images but {len(image_ids)} image ids")
        outputs = self.raw_outputs(images, score_threshold, batch_size)
        return [output_to_detections(o, i) for o, i in zip(outputs, image_ids, strict=True)]
