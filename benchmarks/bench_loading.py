"""Benchmark split loading: plain ``json.load`` loop vs our validating reader vs the cached index.

    python benchmarks/bench_loading.py --n 20000 [--workers W] [--serial] [--repeat R] [--keep DIR]

Generates N DeepFashion2-format annotation files (1-3 random valid garments each, DeepFashion2-like
polygon sizes) with tiny placeholder JPEGs in a temporary directory, then times:

- ``json loop``: ``json.loads`` of every file, nothing else (the floor for any JSON reader);
- ``cold parse``: `check_split(cache=True)` on a split without an index: parallel parse with full
  validation and image-header reads, plus writing the index;
- ``cached load``: `load_split` again, served by the index.

All timings are with the files in the OS page cache (they were just written).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from PIL import Image

from fashionvision.categories import CATEGORIES
from fashionvision.data.deepfashion2 import check_split, load_split
from fashionvision.data.split_index import INDEX_DIR_NAME

SIZE = 256


def random_item(rng: random.Random) -> dict[str, Any]:
    """One valid DeepFashion2 item inside a SIZE x SIZE image (integer pixel coordinates)."""
    cat = rng.choice(CATEGORIES)
    x1, y1 = rng.randint(0, SIZE // 2), rng.randint(0, SIZE // 2)
    x2, y2 = rng.randint(x1 + 8, SIZE), rng.randint(y1 + 8, SIZE)
    landmarks: list[int] = []
    if rng.random() > 0.05:  # a few items have no landmarks, as in DeepFashion2
        for _ in range(cat.num_landmarks):
            v = rng.choice((0, 1, 2, 2))
            landmarks += [rng.randint(x1, x2), rng.randint(y1, y2), v] if v else [0, 0, 0]
    polygons = [
        [c for _ in range(rng.randint(10, 60)) for c in (rng.randint(x1, x2), rng.randint(y1, y2))]
        for _ in range(rng.choice((1, 1, 2)))
    ]
    return {
        "segmentation": polygons,
        "scale": rng.randint(1, 3),
        "viewpoint": rng.randint(1, 3),
        "zoom_in": rng.randint(1, 3),
        "landmarks": landmarks,
        "style": rng.randint(0, 3),
        "bounding_box": [x1, y1, x2, y2],
        "occlusion": rng.randint(1, 3),
        "category_id": cat.id,
        "category_name": cat.name,
    }


def generate(split: Path, n: int, seed: int = 0) -> None:
    """Write n annotation files and n copies of one tiny SIZE x SIZE JPEG."""
    rng = random.Random(seed)
    buffer = io.BytesIO()
    Image.new("RGB", (SIZE, SIZE), (120, 80, 40)).save(buffer, format="JPEG", quality=50)
    jpeg = buffer.getvalue()
    (split / "annos").mkdir(parents=True)
    (split / "image").mkdir()
    for image_id in range(1, n + 1):
        obj: dict[str, Any] = {"source": rng.choice(("shop", "user")), "pair_id": image_id // 4}
        for k in range(1, rng.randint(1, 3) + 1):
            obj[f"item{k}"] = random_item(rng)
        (split / "annos" / f"{image_id:06d}.json").write_text(json.dumps(obj))
        (split / "image" / f"{image_id:06d}.jpg").write_bytes(jpeg)


def _timed(fn: Any, repeat: int = 1, before: Any = None) -> tuple[float, Any]:
    """Best wall time of `repeat` calls of `fn` (the machine may be shared) and the last result;
    `before` runs untimed before each call."""
    best, result = float("inf"), None
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def run(split: Path, workers: int | None, serial: bool, repeat: int) -> None:
    files = sorted((split / "annos").glob("*.json"))
    t_json, _ = _timed(lambda: [json.loads(p.read_bytes()) for p in files], repeat)
    rows = [("json loop (no validation)", t_json)]
    if serial:
        t_serial, _ = _timed(lambda: check_split(split, cache=False, workers=1), repeat)
        rows.append(("our reader, serial", t_serial))
    t_cold, report = _timed(
        lambda: check_split(split, cache=True, workers=workers),
        repeat,
        before=lambda: shutil.rmtree(split / INDEX_DIR_NAME, ignore_errors=True),
    )
    assert not report.problems, report.problems[:3]  # the generator writes valid files
    rows.append(("cold parse, parallel (+ index write)", t_cold))
    t_cached, records = _timed(lambda: load_split(split, cache=True), repeat)
    rows.append(("cached load", t_cached))
    items = sum(len(r.items) for r in records)
    print(f"{len(files)} files, {items} items; best of {repeat}, ratio = time / json loop")
    for name, seconds in rows:
        print(
            f"  {name:<38} {seconds:8.3f} s   x{seconds / t_json:6.2f}   "
            f"{len(files) / seconds:10.0f} files/s"
        )
    print(
        f"  cold / cached speed-up: {t_cold / t_cached:.1f}x; "
        f"json loop / cached: {t_json / t_cached:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="number of annotation files")
    parser.add_argument("--workers", type=int, default=None, help="parse processes (default: cpus)")
    parser.add_argument("--serial", action="store_true", help="also time the serial reader")
    parser.add_argument("--repeat", type=int, default=3, help="report the best of R runs")
    parser.add_argument("--keep", type=Path, default=None, help="generate into DIR and keep it")
    args = parser.parse_args()
    if args.keep is not None:
        generate(args.keep, args.n)
        run(args.keep, args.workers, args.serial, args.repeat)
        return
    with tempfile.TemporaryDirectory() as tmp:
        split = Path(tmp) / "train"
        t_gen, _ = _timed(lambda: generate(split, args.n))
        print(f"generated in {t_gen:.1f} s")
        run(split, args.workers, args.serial, args.repeat)


if __name__ == "__main__":
    main()
