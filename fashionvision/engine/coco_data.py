"""Instance-segmentation data in COCO-style formats for Match R-CNN's detector (fashion parsing):
``data.format`` ``coco`` / ``fashionpedia`` (a COCO or Fashionpedia layout, see
`fashionvision.data.coco_dataset.find_coco_split`) and ``imaterialist`` (Kaggle's ``train.csv``
+ ``label_descriptions.json`` + ``train/`` in `data.root`, converted once to Fashionpedia-format
COCO cached beside it in ``.fashionvision/``).

The network must fit the data's tables: ``model.num_classes`` = categories + 1 and, for an
attribute-aware model, ``model.num_attributes`` = the table's attributes; the landmark and
matching streams need DeepFashion2 and are refused here.
"""

from __future__ import annotations

from pathlib import Path

from fashionvision.config import DataConfig, ModelConfig
from fashionvision.data.coco_dataset import CocoSplit, find_coco_split, load_coco_split
from fashionvision.errors import ConfigError, FashionVisionError
from fashionvision.io_utils import write_json

COCO_FORMATS = ("coco", "fashionpedia", "imaterialist")
IMATERIALIST_CACHE = ".fashionvision/train_coco.json"


def imaterialist_coco(root: Path, strict: bool = True) -> tuple[Path, Path]:
    """(COCO file, image folder) of an iMaterialist root; the conversion is cached and redone
    when ``train.csv`` or ``label_descriptions.json`` is newer than the cache."""
    from fashionvision.data.imaterialist import imaterialist_to_coco, read_imaterialist_csv

    csv, labels, images = root / "train.csv", root / "label_descriptions.json", root / "train"
    for path in (csv, labels, images):
        if not path.exists():
            raise FashionVisionError(f"{path}: not found (an iMaterialist root has train.csv, "
                                     "label_descriptions.json and train/)")  # fmt: skip
    cache = root / IMATERIALIST_CACHE
    newest = max(csv.stat().st_mtime, labels.stat().st_mtime)
    if not cache.is_file() or cache.stat().st_mtime < newest:
        report = read_imaterialist_csv(csv, labels, images, strict=strict)
        write_json(cache, imaterialist_to_coco(report, csv))
    return cache, images


def coco_split_for(data: DataConfig, split: str) -> CocoSplit:
    """The `split` of ``data.root`` in ``data.format`` (iMaterialist has a training split only)."""
    if not data.root:
        raise ConfigError("data.root: not set (pass data.root=/path/to/data)")
    root = Path(data.root)
    if not root.is_dir():
        raise ConfigError(f"data.root: {root} is not a directory")
    if data.format == "imaterialist":
        if split != data.train_split:
            raise FashionVisionError(
                f"{root}: iMaterialist has labels for its training split only (no {split!r})"
            )
        annotation_file, image_dir = imaterialist_coco(root, data.strict)
    else:
        annotation_file, image_dir = find_coco_split(root, split)
    return load_coco_split(annotation_file, image_dir, strict=data.strict)


def check_model_fits(model: ModelConfig, split: CocoSplit, data_format: str, where: str) -> None:
    """ConfigError naming the key when the network's outputs do not fit the data's tables."""
    if model.num_classes != split.num_classes + 1:
        raise ConfigError(
            f"model.num_classes: {model.num_classes}, but {where} has {split.num_classes} "
            f"categories (set model.num_classes={split.num_classes + 1}, background included)"
        )
    if model.num_attributes not in (0, split.num_attributes):
        raise ConfigError(
            f"model.num_attributes: {model.num_attributes}, but {where} has "
            f"{split.num_attributes} attributes (or 0: no attribute head)"
        )
    if model.landmarks or model.matching:
        raise ConfigError(
            "model.landmarks / model.matching: the landmark and matching streams need "
            f"DeepFashion2 data; set both to false for data.format={data_format}"
        )
