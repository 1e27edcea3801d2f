"""`fashionvision show SPLIT_DIR [--ids 1 2 3] [--n 16] --out FILE.png`: annotated image grid."""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from fashionvision.cli.options import output_file, positive_float, positive_int
from fashionvision.data.deepfashion2 import annotation_path, image_path, read_annotation
from fashionvision.errors import FashionVisionError
from fashionvision.io_utils import atomic_path
from fashionvision.structures import ImageAnnotation


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("show", help="draw annotated images of a split into a PNG grid")
    p.add_argument("split_dir", help="split directory holding image/ and annos/")
    p.add_argument("--ids", type=positive_int, nargs="+", default=None, help="image ids to draw")
    p.add_argument(
        "--n",
        type=positive_int,
        default=16,
        help="number of images when --ids is not given (default 16)",
    )
    p.add_argument("--ncols", type=positive_int, default=4, help="grid columns (default 4)")
    p.add_argument(
        "--scale", type=positive_float, default=2.0, help="resize factor before drawing (2.0)"
    )
    p.add_argument("--out", required=True, type=output_file, help="output PNG file")
    p.set_defaults(func=run)


def _image_ids(split_dir: Path, ids: list[int] | None, n: int) -> list[int]:
    """The requested ids, or the first `n` ids found in ``split_dir/annos``."""
    annos = split_dir / "annos"
    if not annos.is_dir():
        raise FashionVisionError(f"{annos}: not a directory (expected a DeepFashion2 split)")
    if ids:
        return ids
    found = sorted(int(p.stem) for p in annos.glob("*.json") if p.stem.isdigit())
    if not found:
        raise FashionVisionError(f"{annos}: no annotation files")
    return found[:n]


def _read(split_dir: Path, image_id: int) -> tuple[Image.Image, ImageAnnotation]:
    """One image and its strictly read annotation."""
    img_file = image_path(split_dir, image_id)
    json_path = annotation_path(split_dir, image_id)
    for path in (img_file, json_path):
        if not path.is_file():
            raise FashionVisionError(f"{path}: not found (image id {image_id})")
    with Image.open(img_file) as im:
        image = im.convert("RGB")
    return image, read_annotation(json_path, image_size=image.size)


def run(args: argparse.Namespace) -> int:
    from fashionvision.viz import draw_annotation, draw_grid

    split_dir = Path(args.split_dir)
    tiles = []
    for image_id in _image_ids(split_dir, args.ids, args.n):
        image, ann = _read(split_dir, image_id)
        tiles.append(draw_annotation(image, ann.items, scale=args.scale))
    grid = draw_grid(tiles, args.ncols)
    with atomic_path(args.out) as tmp:
        grid.save(tmp, format="PNG")
    print(f"wrote {args.out} ({grid.width}x{grid.height}, {len(tiles)} images)")
    return 0
