"""Typed training/inference configuration: dataclasses, YAML presets and dotted overrides.

A configuration is a :class:`Config` made of five sections (``model``, ``data``, ``solver``,
``loss``, ``train``).  The dataclass defaults are the paper's recipe (Match R-CNN, ResNet-50-FPN,
12 epochs); presets live in ``fashionvision/configs/*.yaml`` and are found by name
(``match_rcnn_r50_fpn_1x``, ``match_rcnn_tiny``) or by path.  Command-line overrides are dotted
``key=value`` strings (``solver.base_lr=0.01 model.norm=gn``) whose values are parsed with
``yaml.safe_load``.  Unknown keys and values of the wrong type raise :class:`ConfigError` naming the
key and where it was given: the YAML file, or ``command line`` for an override.  Only builders
and the CLI read a config; library functions take plain keyword arguments.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from fashionvision.errors import ConfigError
from fashionvision.io_utils import atomic_write

Norm = Literal["frozen_bn", "bn", "gn"]

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
OVERRIDE_SOURCE = "command line"  # what error messages name for a key=value override


@dataclass
class ModelConfig:
    """Architecture of Match R-CNN: every field is a keyword argument of ``build_match_rcnn``.

    `weights` names pretrained backbone weights (a torchvision weights name such as
    ``IMAGENET1K_V1`` or a path to a state dict); None trains from scratch.  `backbone_width`
    scales the ResNet's channels (1.0 = the published network; < 1 a narrower one trained from
    scratch, cheaper per step on a CPU).  Images are resized by
    the model so that the shorter side is `min_size` and the longer at most `max_size`.
    `num_attributes` > 0 adds a multi-label attribute head (sigmoid over that many attributes) on
    the box head's features, trained on targets' ``attributes [N, A]`` multi-hot (an
    attribute-aware Mask R-CNN, for iMaterialist/Fashionpedia-style data); 0 = no attribute head.
    `num_classes` counts the background: 14 = the 13 DeepFashion2 categories + 1; other data sets
    (``data.format: coco``...) set their categories + 1.
    `roi_align`: ``torchvision`` (its RoIAlign kernel everywhere) or ``sparse`` (on the CPU, the
    RoIAlign of all FPN levels as one sparse-matrix product: the same numbers up to float
    rounding, a faster training step; CUDA keeps torchvision's kernel).
    `roi_canonical_scale`: the box side (input pixels) every head's RoIAlign pools from FPN level
    P4, one level per halving or doubling (the FPN paper's 224, made for 800-px inputs).
    `box_roi_context`: the box head pools each RoI enlarged this many times about its centre (its
    surroundings for the classifier), from the FPN level of the RoI's own size; 1 = the RoI.
    `box_cross_class_nms_thresh`: at inference, after the per-class NMS, boxes of different
    classes that overlap by more than this IoU keep only the best-scoring one (null = off, as in
    torchvision and detectron2).
    """

    backbone: str = "resnet50"
    backbone_width: float = 1.0
    norm: Norm = "frozen_bn"
    weights: str | None = None
    trainable_layers: int = 3
    fpn_channels: int = 256
    min_size: int = 800
    max_size: int = 1333
    rpn_batch_size_per_image: int = 256
    rpn_pre_nms_top_n_train: int = 2000
    rpn_post_nms_top_n_train: int = 2000
    rpn_pre_nms_top_n_test: int = 1000
    rpn_post_nms_top_n_test: int = 1000
    box_batch_size_per_image: int = 512
    box_positive_fraction: float = 0.25
    representation_size: int = 1024
    box_score_thresh: float = 0.05
    box_detections_per_img: int = 100
    mask_head_width: int = 256
    landmark_head_width: int = 512
    landmark_convs: int = 8
    matching_width: int = 256
    matching_dim: int = 256
    pair_neg_ratio: int = 3
    pair_same_category_share: float = 0.0
    stream_roi_size: int = 14
    matching_roi_size: int | None = None
    box_roi_size: int = 7
    box_roi_context: float = 1.0
    box_head: Literal["2fc", "4conv1fc"] = "2fc"
    stream_detections_per_img: int | None = None
    roi_align: Literal["torchvision", "sparse"] = "torchvision"
    roi_canonical_scale: int = 224
    box_cross_class_nms_thresh: float | None = None
    masks: bool = True
    landmarks: bool = True
    matching: bool = True
    num_attributes: int = 0
    num_classes: int = 14


@dataclass
class FashionNetConfig:
    """Architecture of FashionNet (``arch: fashionnet``): keyword arguments of
    ``fashionvision.models.fashionnet.build_fashionnet``.

    `backbone`: ``vgg16`` / ``vgg16_bn`` (the paper), ``resnet50``, ``se_resnet50`` /
    ``se_resnet101`` (squeeze-and-excitation), or ``tiny`` (a small VGG-like
    net of base `width` with `norm`, for CPU runs).  `weights` as for Match R-CNN (a torchvision
    weights name or a local file; None = from scratch).  Images are cropped to their box and
    resized to `input_size` squared.
    """

    backbone: str = "vgg16"
    weights: str | None = None
    norm: Literal["bn", "gn"] = "bn"
    width: int = 32
    num_categories: int = 50
    num_attributes: int = 1000
    num_landmarks: int = 8
    fc_dim: int = 4096
    local_dim: int = 1024
    embedding_dim: int = 256
    pool_size: int = 3
    triplet_margin: float = 0.2
    input_size: int = 224


@dataclass
class FashionNetStage:
    """One stage of FashionNet's alternating training: `epochs` epochs with these loss weights,
    landmark pooling at the ground-truth (``gt``) or the predicted landmarks.  The stage list
    repeats until ``solver.epochs`` (the paper: stage 1 weights the landmark and visibility losses
    high, stage 2 trains the fused branches on the predicted landmarks; iterated)."""

    epochs: int = 1
    pool_from: Literal["gt", "predicted"] = "predicted"
    category: float = 1.0
    attribute: float = 1.0
    landmark: float = 1.0
    visibility: float = 1.0
    triplet: float = 1.0


@dataclass
class DataConfig:
    """Where the DeepFashion2-format data lives and how it is sampled.

    `format`: ``deepfashion2`` (Match R-CNN): `root` holds ``<train_split>/{image,annos}`` and
    ``<val_split>/{image,annos}``; ``deepfashion`` (FashionNet): `root` holds DeepFashion (v1)
    benchmark folders (see ``fashionvision.data.deepfashion_dataset``); ``coco`` /
    ``fashionpedia`` / ``imaterialist`` (Match R-CNN's detector with masks and attributes, fashion
    parsing): see ``fashionvision.engine.coco_data``.  With
    `pair_sampling` the user and shop images of one pair_id share a batch (the pair loss needs it).
    `strict=False` skips malformed annotation items with a counted warning instead of failing.
    `balance` (DeepFashion2 format): ``repeat_factor`` repeats images of rare categories by
    LVIS repeat factors (`repeat_threshold`; plain shuffled batches, pairs not kept together);
    ``augment`` adds rotated + noised copies of rare categories' images up to `balance_cap`
    instances per category, at most `balance_max_repeat` copies per image
    (``fashionvision.data.balancing``).  The per-category counts are printed before training.
    """

    format: Literal["deepfashion2", "deepfashion", "coco", "fashionpedia", "imaterialist"] = (
        "deepfashion2"
    )
    root: str = ""
    train_split: str = "train"
    val_split: str = "validation"
    workers: int = 2
    flip_prob: float = 0.5
    pair_sampling: bool = True
    strict: bool = True
    balance: Literal["none", "repeat_factor", "augment"] = "none"
    repeat_threshold: float = 0.001
    balance_cap: int = 10_000
    balance_max_repeat: int = 4


@dataclass
class SolverConfig:
    """SGD (or AdamW), linear warm-up and a multi-step decay; `steps` and `epochs` are in epochs.

    `steps` may be fractional (4.67 = two thirds into epoch 5): a short run keeps the 1x
    schedule's proportions (8 and 11 of 12) instead of flooring them to whole epochs.

    `optimizer`: ``sgd`` (with `momentum`, the 1x recipe) or ``adamw`` (decoupled `weight_decay`;
    `momentum` unused), an option for short from-scratch runs.
    `batch_size` is the total over all processes (divided by the world size under DDP).
    `clip` > 0 clips the gradient norm; `amp` enables mixed precision on CUDA only.
    `schedule`: ``step`` (×`gamma` at each of `steps`) or ``cosine`` (a half cosine from the base
    lr to 0 over `epochs`; `steps` and `gamma` unused), both after the linear warm-up.
    `ema` > 0: keep an exponential moving average of the weights with this decay per iteration
    (e.g. 0.999); the in-training evaluation and ``model_final.pt`` use the average.
    """

    epochs: int = 12
    batch_size: int = 16
    optimizer: Literal["sgd", "adamw"] = "sgd"
    base_lr: float = 0.02
    momentum: float = 0.9
    weight_decay: float = 1e-4
    warmup_iters: int = 500
    warmup_factor: float = 0.001
    steps: tuple[float, ...] = (8, 11)
    gamma: float = 0.1
    schedule: Literal["step", "cosine"] = "step"
    amp: bool = True
    clip: float = 0.0
    ema: float = 0.0


@dataclass
class LossWeights:
    """The paper's λ1..λ5.

    `cls` (λ1) weights both classification terms (RPN objectness and box classifier) and `box`
    (λ2) both regression terms (RPN and box head): the paper writes one Lcls and one Lbox for the
    whole detector, so the RPN terms share its weights.  `pose` (λ3) weights the landmark loss,
    `mask` (λ4) the mask loss and `pair` (λ5) the matching loss.  `attribute` (not in the paper)
    weights the attribute head's loss (``model.num_attributes`` > 0).
    """

    cls: float = 1.0
    box: float = 1.0
    pose: float = 1.0
    mask: float = 1.0
    pair: float = 1.0
    attribute: float = 1.0


@dataclass
class TrainConfig:
    """Run control: seed, evaluation/checkpoint/log periods, device and an optional early stop.

    `max_iters` stops after that many iterations in total (smoke tests, resume tests) without
    changing the schedule, which is always defined by ``solver.epochs``; None runs the schedule.
    `device` is ``auto`` (CUDA when available), ``cpu`` or ``cuda[:N]``.  Under torchrun a
    collective waits at most `dist_timeout_min` minutes for the slowest rank before the job fails.
    """

    seed: int = 0
    eval_every: int = 1  # epochs between validation passes (and after the last); 0 = never
    checkpoint_every: int = 1000
    log_every: int = 20
    device: str = "auto"
    max_iters: int | None = None
    progress: bool = True
    dist_timeout_min: float = 60.0


@dataclass
class Config:
    """The whole configuration of a training run.

    `arch` picks the network: ``match_rcnn`` (section `model`, data in DeepFashion2 format) or
    ``fashionnet`` (sections `fashionnet` and `stages`, ``data.format: deepfashion``).
    """

    arch: Literal["match_rcnn", "fashionnet"] = "match_rcnn"
    model: ModelConfig = field(default_factory=ModelConfig)
    fashionnet: FashionNetConfig = field(default_factory=FashionNetConfig)
    stages: tuple[FashionNetStage, ...] = (FashionNetStage(),)
    data: DataConfig = field(default_factory=DataConfig)
    solver: SolverConfig = field(default_factory=SolverConfig)
    loss: LossWeights = field(default_factory=LossWeights)
    train: TrainConfig = field(default_factory=TrainConfig)


def preset_names() -> list[str]:
    """Names of the presets shipped in ``fashionvision/configs``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str | Path) -> Path:
    """A preset name (``match_rcnn_tiny``) or a YAML path -> the file; ConfigError if neither."""
    candidate = Path(name_or_path)
    if candidate.is_file():
        return candidate
    preset = CONFIG_DIR / f"{name_or_path}.yaml"
    if preset.is_file():
        return preset
    raise ConfigError(
        f"{name_or_path}: no such config file or preset (presets: {', '.join(preset_names())})"
    )


def load_config(name_or_path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Load a preset or YAML file (None = the defaults), then apply ``key=value`` overrides."""
    data: dict[str, Any] = {}
    source = "<defaults>"
    if name_or_path is not None:
        path = resolve_config_path(name_or_path)
        source = str(path)
        try:
            loaded = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read YAML: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: top level must be a mapping of sections")
        data = loaded or {}
    return config_from_dict(data, source, overrides)


def parse_override(item: str) -> tuple[str, Any]:
    """``"solver.base_lr=0.01"`` -> ``("solver.base_lr", 0.01)`` (value parsed as YAML)."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(
            f"{OVERRIDE_SOURCE}: {item!r}: an override must look like section.key=value"
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(
            f"{OVERRIDE_SOURCE}: {key}: cannot parse value {raw!r}: {problem}"
        ) from exc
    return key.strip(), value


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parts[: i + 1])
            raise ConfigError(f"{OVERRIDE_SOURCE}: {key}: {where} is a value, not a section")
        node = child
    node[parts[-1]] = value


class _Source:
    """Where a key was given, for error messages: `name` (a file), or the command line for the
    keys set by overrides (everything below them, and the sections they created)."""

    def __init__(self, name: str, overrides: Sequence[str] = (), file_keys: set[str] = frozenset()):
        self.name = name
        self.overrides = tuple(overrides)
        self.file_keys = file_keys

    def of(self, key: str) -> str:
        key = key.split("[", 1)[0].rstrip(".")
        for given in self.overrides:
            if key == given or key.startswith(given + "."):
                return OVERRIDE_SOURCE
            if given.startswith(key + ".") and key not in self.file_keys:
                return OVERRIDE_SOURCE  # a section that only the override mentions
        return self.name


def _dotted_keys(data: Any, prefix: str = "") -> set[str]:
    """Every dotted key of nested mappings: ``{"a": {"b": 1}}`` -> ``{"a", "a.b"}``."""
    keys: set[str] = set()
    if isinstance(data, Mapping):
        for name, value in data.items():
            keys.add(f"{prefix}{name}")
            keys |= _dotted_keys(value, f"{prefix}{name}.")
    return keys


def config_from_dict(
    data: Mapping[str, Any], source: str = "<dict>", overrides: Sequence[str] = ()
) -> Config:
    """Build a typed Config from nested mappings, checking every key and value type, after the
    ``key=value`` `overrides` (which errors name as the command line's)."""
    data = copy.deepcopy(dict(data))
    file_keys = _dotted_keys(data)
    given: list[str] = []
    for item in overrides:
        key, value = parse_override(item)
        _set_dotted(data, key, value)
        given.append(key)
    return _build_dataclass(Config, data, prefix="", source=_Source(source, given, file_keys))


# Model options that only decode a trained network's outputs (score floor, NMS, how many
# detections and proposals are kept), so a checkpoint can be scored with other values than it
# was trained with; every other option changes the network itself.
INFERENCE_OPTIONS: tuple[str, ...] = (
    "box_score_thresh",
    "box_detections_per_img",
    "box_cross_class_nms_thresh",
    "stream_detections_per_img",
    "rpn_pre_nms_top_n_test",
    "rpn_post_nms_top_n_test",
)


def check_inference_overrides(overrides: Sequence[str]) -> None:
    """A ConfigError naming the first override that is not ``model.<INFERENCE_OPTIONS>=...``."""
    allowed = {f"model.{name}" for name in INFERENCE_OPTIONS}
    for item in overrides:
        key, _ = parse_override(item)
        if key not in allowed:
            raise ConfigError(
                f"{OVERRIDE_SOURCE}: {key}: not an inference option; a trained checkpoint takes "
                f"other values of {', '.join(sorted(allowed))} only"
            )


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain dict (tuples become lists) that YAML/JSON and ``torch.load`` handle."""

    def plain(value: Any) -> Any:
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(cfg))


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the config as YAML, atomically."""
    text = yaml.safe_dump(config_to_dict(cfg), sort_keys=False)
    atomic_write(path, lambda f: f.write(text))


def _build_dataclass(cls: type, data: Mapping[str, Any], prefix: str, source: _Source) -> Any:
    if not isinstance(data, Mapping):
        key = prefix.rstrip(".")
        raise ConfigError(f"{source.of(key)}: {key or '<root>'}: expected a mapping")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    # a misspelt override is named before a key of the file
    unknown = sorted(
        set(data) - names, key=lambda k: (source.of(f"{prefix}{k}") != OVERRIDE_SOURCE, k)
    )
    if unknown:
        key = f"{prefix}{unknown[0]}"
        raise ConfigError(
            f"{source.of(key)}: unknown key '{key}' (known: {', '.join(sorted(names))})"
        )
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build_dataclass(hint, value or {}, f"{key}.", source)
        else:
            kwargs[name] = _coerce(value, hint, key, source)
    return cls(**kwargs)


def _coerce(value: Any, hint: Any, key: str, source: _Source) -> Any:
    """Check `value` against the type `hint`; ints are accepted for floats, lists for tuples."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _coerce(value, option, key, source)
            except ConfigError:
                continue
        raise ConfigError(f"{source.of(key)}: {key}: expected {_type_name(hint)}, got {value!r}")
    if origin is Literal:
        if value in args:
            return value
        raise ConfigError(f"{source.of(key)}: {key}: expected one of {list(args)}, got {value!r}")
    if dataclasses.is_dataclass(hint):
        return _build_dataclass(hint, value, f"{key}.", source)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source.of(key)}: {key}: expected a list, got {value!r}")
        return tuple(_coerce(v, args[0], f"{key}[{i}]", source) for i, v in enumerate(value))
    if hint is type(None):
        if value is None:
            return None
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(value, hint):
        return value
    raise ConfigError(f"{source.of(key)}: {key}: expected {_type_name(hint)}, got {value!r}")


def _type_name(hint: Any) -> str:
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of `fashionvision demo` (here, not in demo.py, so the CLI can show the defaults without
    importing torch).  The defaults' measured wall time, with the command and the machine, is in
    benchmarks/RESULTS.md ("The demo"); the demo prints its own estimate of the time left.

    `threads`: torch's CPU thread count; None = the cores this process may run on
    (``os.sched_getaffinity``), at most `MAX_DEMO_THREADS`."""

    train_images: int = 1600
    val_images: int = 100
    seed: int = 0
    image_size: int = 256
    epochs: int = 6
    config: str = "match_rcnn_tiny"
    overrides: tuple[str, ...] = ()
    threads: int | None = None


# The demo's default thread cap (a choice, not a measurement: the tiny model's convolutions are
# small, and a large machine's other work keeps its cores).
MAX_DEMO_THREADS = 8
