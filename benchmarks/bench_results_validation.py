"""Benchmark: validating a COCO results file against reading it with ``json.load``.

    python benchmarks/bench_results_validation.py --rows 640000 [--images 32153] [--segm] [--keep F]

Writes a synthetic results file of ROWS detections in the format of `detections_to_coco_results`
(``bbox`` xywh, 882 ``keypoints`` that are zero outside the detection's category slice, with
``--segm`` also an RLE ``segmentation``) for IMAGES images (DeepFashion2 validation has 32,153),
then times, in this process:

- ``json.load``: reading the file, nothing else (the floor for any reader of it);
- ``rows only``: `validate_result_rows` without a ground truth (what `load_coco_results` runs);
- ``against GT``: `validate_results` for the landmarks task (and segm with ``--segm``), which adds
  the image/category lookups and the RLE size check (what `evaluate_coco` runs).

640k rows of 882 numbers is a 3 GB file and about 20 GB of Python objects once loaded: run the
default size on a machine with that much memory.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from fashionvision.categories import CATEGORIES, NUM_LANDMARKS
from fashionvision.data.coco_format import coco_categories, validate_result_rows
from fashionvision.evaluation.coco_eval import validate_results

WIDTH, HEIGHT = 468, 624  # the commonest DeepFashion2 image size


def _rle_texts(rng: np.random.Generator, count: int) -> list[str]:
    """`count` JSON texts of RLE masks of random boxes (reused across rows: encoding one mask per
    row would dominate the file generation)."""
    texts = []
    for _ in range(count):
        x, y = rng.uniform(0, WIDTH / 2), rng.uniform(0, HEIGHT / 2)
        poly = [x, y, x + 100, y, x + 120, y + 200, x - 10, y + 150]
        rle = mask_utils.merge(mask_utils.frPyObjects([poly], HEIGHT, WIDTH))
        texts.append(json.dumps({"size": rle["size"], "counts": rle["counts"].decode("ascii")}))
    return texts


def write_results(path: Path, rows: int, images: int, segm: bool, seed: int = 0) -> None:
    """The synthetic results file (see the module docstring), written row by row as text."""
    rng = np.random.default_rng(seed)
    rles = _rle_texts(rng, 64) if segm else []
    with open(path, "w") as f:
        f.write("[")
        for k in range(rows):
            cat = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
            start, n = cat.landmark_slice.start, cat.num_landmarks
            points = np.column_stack(
                [rng.uniform(0, WIDTH, n), rng.uniform(0, HEIGHT, n), rng.uniform(0, 1, n)]
            ).round(3)
            keypoints = ", ".join(
                ["0.0"] * (3 * start)
                + [repr(v) for v in points.ravel().tolist()]
                + ["0.0"] * (3 * (NUM_LANDMARKS - start - n))
            )
            x, y = rng.uniform(0, WIDTH / 2), rng.uniform(0, HEIGHT / 2)
            box = [round(x, 2), round(y, 2), round(WIDTH / 3, 2), round(HEIGHT / 3, 2)]
            seg = f', "segmentation": {rles[k % len(rles)]}' if segm else ""
            f.write(
                ("," if k else "")
                + f'{{"image_id": {k % images + 1}, "category_id": {cat.id}, '
                + f'"score": {rng.random():.5f}, "bbox": {box}, "keypoints": [{keypoints}]{seg}}}'
            )
        f.write("]")


def _ground_truth(images: int) -> dict[str, Any]:
    return {
        "images": [{"id": i, "width": WIDTH, "height": HEIGHT} for i in range(1, images + 1)],
        "annotations": [],
        "categories": coco_categories(),
    }


def _timed(step: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = step()
    return time.perf_counter() - t0, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=640_000)
    parser.add_argument("--images", type=int, default=32_153)
    parser.add_argument("--segm", action="store_true", help="also write an RLE per row")
    parser.add_argument("--keep", type=Path, help="write the file here and keep it")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "results.json"
        t_write, _ = _timed(lambda: write_results(path, args.rows, args.images, args.segm))
        size_mb = path.stat().st_size / 1e6
        print(f"wrote {args.rows} rows, {size_mb:.0f} MB in {t_write:.1f}s", flush=True)

        def load() -> Any:
            with open(path) as f:
                return json.load(f)

        t_json, rows = _timed(load)
        gt = _ground_truth(args.images)
        steps = [("rows only", lambda: validate_result_rows(rows, str(path)))]
        for task in ("landmarks", "segm") if args.segm else ("landmarks",):
            steps.append(
                (f"against GT, {task}", lambda t=task: validate_results(rows, gt, t, str(path), ""))
            )
        print("\n| step | time | vs json.load | per row |\n|---|---:|---:|---:|")
        print(f"| json.load | {t_json:.2f} s | 1.00x | {t_json / args.rows * 1e6:.1f} us |")
        for name, step in steps:
            t, _ = _timed(step)
            print(f"| {name} | {t:.2f} s | {t / t_json:.2f}x | {t / args.rows * 1e6:.1f} us |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
