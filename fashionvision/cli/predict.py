"""`fashionvision predict --weights CKPT IMAGES... --out DIR`: detect garments in images.

For a FashionNet checkpoint each image is one garment: ``DIR/predictions.json`` lists per image
the top-k categories and attributes (names from the training data's tables), the 8 landmarks with
their visibility and the retrieval embedding; ``DIR/vis/<name>.jpg`` draws the landmarks.

Writes ``DIR/results.json`` (COCO results: one row per detection with image_id, category_id, score,
bbox xywh, segmentation RLE and 882 keypoint numbers), ``DIR/images.json`` (image_id -> input path)
and, unless ``--no-vis``, one drawn image per input, ``DIR/vis/<image_id>.jpg``.

``--score-threshold`` (default 0.5) is a display threshold: it keeps the confident detections.  To
score a results file with COCO AP use 0.05, the evaluation threshold (AP integrates over the
low-score tail), or run ``fashionvision evaluate --weights CKPT --split DIR`` directly.

Image ids: a file named as DeepFashion2 numbers its images (``000123.jpg``, digits only) gets that
number (123); any other name gets the next id after the largest such number, in input order, so
ids never collide.  A directory argument stands for its .jpg/.jpeg/.png files, sorted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fashionvision.cli.options import add_batch_size, unit_float
from fashionvision.errors import FashionVisionError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="run a trained model on images; write COCO results and drawings",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--weights", required=True, metavar="CKPT", help="checkpoint (.pt)")
    parser.add_argument("images", nargs="+", metavar="IMAGES", help="image files or directories")
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output directory (created if needed)"
    )
    parser.add_argument(
        "--score-threshold",
        type=unit_float,
        default=0.5,
        metavar="S",
        help="keep detections scoring >= S (default 0.5, for display; use 0.05 for COCO AP)",
    )
    parser.add_argument("--no-vis", action="store_true", help="do not write drawn images")
    parser.add_argument(
        "--top-k",
        type=int,
        default=5,
        metavar="K",
        help="FashionNet checkpoints: categories and attributes listed per image (default 5)",
    )
    add_batch_size(parser)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    parser.set_defaults(func=run)


def expand_inputs(args: list[str]) -> list[Path]:
    """Files as given, directories as their sorted image files; FashionVisionError if missing."""
    paths: list[Path] = []
    for arg in args:
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FashionVisionError(f"{path}: no .jpg/.jpeg/.png images in this directory")
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            raise FashionVisionError(f"{path}: no such image file or directory")
    return paths


def image_ids(paths: list[Path]) -> list[int]:
    """DeepFashion2 ids from all-digit stems; other names numbered after the largest id."""
    numeric = {i: int(p.stem) for i, p in enumerate(paths) if p.stem.isdigit()}
    seen: dict[int, Path] = {}
    for i, value in numeric.items():
        if value in seen:
            raise FashionVisionError(f"{paths[i]}: image id {value} already used by {seen[value]}")
        seen[value] = paths[i]
    next_id = max(numeric.values(), default=0) + 1
    ids = []
    for i in range(len(paths)):
        if i in numeric:
            ids.append(numeric[i])
        else:
            ids.append(next_id)
            next_id += 1
    return ids


def run(args: argparse.Namespace) -> int:
    from PIL import Image

    from fashionvision.data.coco_format import detections_to_coco_results
    from fashionvision.engine.inference import Predictor, checkpoint_arch
    from fashionvision.io_utils import atomic_path, write_json
    from fashionvision.viz.draw import draw_annotation

    paths = expand_inputs(args.images)
    ids = image_ids(paths)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FashionVisionError(f"--out {out}: exists and is not a directory")
    if checkpoint_arch(args.weights) == "fashionnet":
        return run_fashionnet(args, paths, out)
    predictor = Predictor.from_checkpoint(args.weights, device=args.device, option="--device")
    rows = []
    for start in range(0, len(paths), args.batch_size):
        chunk, chunk_ids = (
            paths[start : start + args.batch_size],
            ids[start : start + args.batch_size],
        )
        per_image = predictor.detections(chunk, chunk_ids, args.score_threshold, args.batch_size)
        for path, image_id, dets in zip(chunk, chunk_ids, per_image, strict=True):
            rows.extend(detections_to_coco_results(dets))
            if args.no_vis:
                continue
            with Image.open(path) as img:
                drawn = draw_annotation(img, dets)
            with atomic_path(out / "vis" / f"{image_id:06d}.jpg") as tmp:
                drawn.save(tmp, format="JPEG", quality=90)
    write_json(out / "results.json", rows)
    write_json(out / "images.json", {str(i): str(p) for i, p in zip(ids, paths, strict=True)})
    print(f"{len(rows)} detections in {len(paths)} images -> {out / 'results.json'}")
    return 0


def run_fashionnet(args: argparse.Namespace, paths: list[Path], out: Path) -> int:
    """FashionNet on whole garment images: DIR/predictions.json and DIR/vis/ (landmarks)."""
    from PIL import Image, ImageDraw

    from fashionvision.engine.fashionnet import FashionNetPredictor
    from fashionvision.io_utils import atomic_path, write_json

    predictor = FashionNetPredictor.from_checkpoint(args.weights, args.device, option="--device")
    rows = []
    for path, r in zip(paths, predictor.predict(paths, top_k=args.top_k), strict=True):
        rows.append(
            {
                "image": str(path),
                "categories": [{"name": n, "probability": p} for n, p in r["categories"]],
                "attributes": [
                    {"name": n, "type": t, "probability": p} for n, t, p in r["attributes"]
                ],
                "landmarks": [
                    {"x": float(x), "y": float(y), "visibility": v}
                    for (x, y), v in zip(r["landmarks"], r["visibility"], strict=True)
                ],
                "embedding": [float(v) for v in r["embedding"]],
            }
        )
        if args.no_vis:
            continue
        with Image.open(path) as img:
            drawn = img.convert("RGB")
        draw = ImageDraw.Draw(drawn)
        for (x, y), v in zip(r["landmarks"], r["visibility"], strict=True):
            if v == "cut off":
                continue
            colour = (0, 200, 0) if v == "visible" else (230, 160, 0)
            draw.ellipse((x - 3, y - 3, x + 3, y + 3), outline=colour, width=2)
        name, p = r["categories"][0]
        draw.text((4, 4), f"{name} {p:.2f}", fill=(255, 0, 0))
        with atomic_path(out / "vis" / f"{path.stem}.jpg") as tmp:
            drawn.save(tmp, format="JPEG", quality=90)
    write_json(out / "predictions.json", rows, indent=2)
    print(f"{len(rows)} garment images -> {out / 'predictions.json'}")
    return 0
