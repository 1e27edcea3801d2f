"""Benchmark: memory of a loaded instance-segmentation split (issue 12, "mini-mask"): the records
of a synthetic Fashionpedia-format split keep their masks as polygons / RLE, against one uint8
full-image bitmap per instance (what decoding every mask up front would hold).

    python benchmarks/bench_parsing_memory.py --images 1000 --out /tmp/parse_mem

Generates the split into `--out` unless it is there, then measures with `tracemalloc` what
`load_coco_split` keeps alive (and its peak while reading), and what one image's training target
costs when `CocoInstanceDataset` decodes that image's masks (the only time bitmaps exist).
"""

from __future__ import annotations

import argparse
import gc
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fashionvision.data.coco_dataset import CocoInstanceDataset, load_coco_split
from fashionvision.data.synthetic_parsing import annotation_file, generate_fashionpedia

T = TypeVar("T")


def traced(fn: Callable[[], T]) -> tuple[T, int, int]:
    """(fn(), bytes it left allocated, its peak in bytes) as tracemalloc counts them."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        result = fn()
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, retained - before, peak - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    train_file = args.out / annotation_file("train")
    if not train_file.is_file():
        generate_fashionpedia(args.out, args.images, 0, seed=args.seed, size=args.size)
    split, retained, peak = traced(lambda: load_coco_split(train_file, args.out / "train"))
    instances = sum(len(r.instances) for r in split.records)
    pixels = sum(r.width * r.height for r in split.records for _ in r.instances)
    dataset = CocoInstanceDataset(split)
    _, one_retained, one_peak = traced(lambda: dataset[0])
    numbers = {
        "images": len(split.records),
        "instances": instances,
        "records_MB": round(retained / 1e6, 2),
        "peak_while_reading_MB": round(peak / 1e6, 2),
        "bitmaps_MB": round(pixels / 1e6, 1),
        "ratio": round(pixels / retained, 1),
        "one_image_target_MB": round(one_retained / 1e6, 2),
        "one_image_peak_MB": round(one_peak / 1e6, 2),
    }
    print(
        f"{numbers['images']} images, {instances} instances: the records hold "
        f"{numbers['records_MB']} MB (peak while reading {numbers['peak_while_reading_MB']} MB); "
        f"one uint8 bitmap per instance would be {numbers['bitmaps_MB']} MB "
        f"({numbers['ratio']}x). One image's training target (its masks decoded): "
        f"{numbers['one_image_target_MB']} MB (peak {numbers['one_image_peak_MB']} MB)."
    )
    print(json.dumps(numbers))


if __name__ == "__main__":
    main()
