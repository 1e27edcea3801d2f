"""Benchmark: fashionvision's COCO evaluation against pycocotools on a synthetic validation set.

`synthetic_coco` builds, in memory and in seconds, a DeepFashion2-shaped COCO ground truth (about
1.5 garments per image, ~20-point polygons, 882-number keypoints filled only in the category's
slice, scale/occlusion/zoom_in/viewpoint attributes) and a results list (jittered copies of most
GT items plus false positives) in the format of `detections_to_coco_results`. The tests reuse it.

Usage::

    python benchmarks/bench_eval.py --images 30000 [--tasks bbox segm landmarks] [--subsets]

Both evaluators run in this process on the same inputs; the script checks that every number agrees
to 1e-12 (see TOLERANCE), then prints the times and the speed-up.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import sys
import time
from collections.abc import Collection
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from fashionvision.categories import CATEGORIES, NUM_LANDMARKS, category

# faster-coco-eval's C++ accumulate omits pycocotools' np.spacing(1) in tp / (tp + fp + eps),
# so a precision of exactly 1 can differ by one ulp (2.2e-16); anything larger is a real mismatch.
TOLERANCE = 1e-12


def _polygon(box: np.ndarray, rng: np.random.Generator, points: int) -> list[float]:
    """A star-shaped polygon (flat x,y list) inscribed in the xyxy `box`."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    rx, ry = (box[2] - box[0]) / 2, (box[3] - box[1]) / 2
    angles = np.sort(rng.uniform(0, 2 * np.pi, points))
    radius = rng.uniform(0.6, 1.0, points)
    xs = cx + rx * radius * np.cos(angles)
    ys = cy + ry * radius * np.sin(angles)
    return np.round(np.stack([xs, ys], 1).ravel(), 2).tolist()


def _keypoints(
    box: np.ndarray, category_id: int, rng: np.random.Generator, visibility: bool
) -> list[float]:
    """882 numbers: points inside `box` in the category's slice, zeros elsewhere.

    With `visibility` the third value is a GT flag in {0, 1, 2}, else a detection score in (0, 1).
    """
    cat = category(category_id)
    kps = np.zeros((NUM_LANDMARKS, 3))
    n = cat.num_landmarks
    kps[cat.landmark_slice, 0] = rng.uniform(box[0], box[2], n)
    kps[cat.landmark_slice, 1] = rng.uniform(box[1], box[3], n)
    kps[cat.landmark_slice, :2] = np.round(kps[cat.landmark_slice, :2], 2)
    if visibility:
        kps[cat.landmark_slice, 2] = rng.choice([0, 1, 2], n, p=[0.15, 0.25, 0.6])
    else:
        kps[cat.landmark_slice, 2] = np.round(rng.uniform(0.05, 1.0, n), 3)
    return kps.ravel().tolist()


def _random_box(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """An xyxy box whose size ranges from a few pixels (COCO 'small') to the whole image."""
    kind = rng.random()
    if kind < 0.05:
        return np.array([0.0, 0.0, width, height])
    if kind < 0.15:
        w, h = rng.uniform(2, 30, 2)
    else:
        w, h = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
    x1, y1 = rng.uniform(0, width - w), rng.uniform(0, height - h)
    return np.round(np.array([x1, y1, x1 + w, y1 + h]), 2)


def _gt_annotation(
    ann_id: int, image: dict, box: np.ndarray, rng: np.random.Generator, points: int
) -> dict[str, Any]:
    """One GT garment in the COCO export format of `fashionvision.data.coco_format`."""
    cid = int(rng.integers(1, 14))
    kps = _keypoints(box, cid, rng, visibility=True)
    if rng.random() < 0.05:  # DeepFashion2 has items with an empty landmark list
        kps = [0.0] * (3 * NUM_LANDMARKS)
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    attrs = rng.integers(1, 4, 4)
    return {
        "id": ann_id,
        "image_id": image["id"],
        "category_id": cid,
        "iscrowd": 0,
        "bbox": [float(box[0]), float(box[1]), w, h],
        "area": w * h,
        "segmentation": [_polygon(box, rng, points)],
        "keypoints": kps,
        "num_keypoints": int(np.count_nonzero(np.asarray(kps[2::3]) > 0)),
        "pair_id": image["id"],
        "style": int(rng.integers(0, 3)),
        "source": "user",
        "scale": int(attrs[0]),
        "occlusion": int(attrs[1]),
        "zoom_in": int(attrs[2]),
        "viewpoint": int(attrs[3]),
    }


def _detection(
    image: dict,
    cid: int,
    box: np.ndarray,
    score: float,
    rng: np.random.Generator,
    points: int,
    keypoints: list[float] | None = None,
) -> dict[str, Any]:
    """One result row (bbox xywh, RLE segmentation with str counts, 882 keypoints); `keypoints`
    replaces the random ones (a jittered copy of a GT item's)."""
    rle = mask_utils.merge(
        mask_utils.frPyObjects([_polygon(box, rng, points)], image["height"], image["width"])
    )
    return {
        "image_id": image["id"],
        "category_id": cid,
        "score": score,
        "bbox": [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])],
        "segmentation": {"size": rle["size"], "counts": rle["counts"].decode("ascii")},
        "keypoints": keypoints or _keypoints(box, cid, rng, visibility=False),
    }


def _jitter_keypoints(gt: dict, rng: np.random.Generator) -> list[float]:
    """The GT's labelled points moved by ~4% of the object size, with detection scores."""
    kps = np.asarray(gt["keypoints"], dtype=np.float64).reshape(-1, 3)
    cat = category(gt["category_id"])
    part = kps[cat.landmark_slice]
    part[:, :2] += rng.normal(0, 0.04 * np.sqrt(gt["area"]) + 0.5, (len(part), 2))
    part[:, 2] = rng.uniform(0.05, 1.0, len(part))
    kps[cat.landmark_slice] = np.round(part, 3)
    return kps.ravel().tolist()


def _jitter(box: np.ndarray, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Move each side of `box` by up to 15% of its size, clipped to the image."""
    size = np.array([box[2] - box[0], box[3] - box[1]] * 2)
    out = box + rng.normal(0, 0.07, 4) * size
    out = np.clip(out, 0, [width, height, width, height])
    out[2:] = np.maximum(out[2:], out[:2] + 1)
    return np.round(out, 2)


def synthetic_coco(
    num_images: int,
    seed: int = 0,
    items_per_image: float = 1.5,
    polygon_points: int = 20,
    false_positives: float = 0.4,
    score_decimals: int | None = None,
    crowded_images: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Return (COCO GT dict, results list) for `num_images` synthetic images.

    About 85% of GT items get a jittered detection of the right class (some with a wrong class);
    `false_positives` random detections per image are added on average. `score_decimals` rounds
    scores so that ties occur; the first `crowded_images` images get 150 extra detections so that
    maxDets truncation matters. Images with no GT occur (Poisson item counts).
    """
    rng = np.random.default_rng(seed)
    images, anns, results = [], [], []
    for image_id in range(1, num_images + 1):
        image = {
            "id": image_id,
            "file_name": f"image/{image_id:06d}.jpg",
            "width": int(rng.integers(200, 800)),
            "height": int(rng.integers(200, 800)),
        }
        images.append(image)
        w, h = image["width"], image["height"]
        extra = 150 if image_id <= crowded_images else 0
        for _ in range(rng.poisson(items_per_image)):
            gt = _gt_annotation(len(anns) + 1, image, _random_box(w, h, rng), rng, polygon_points)
            anns.append(gt)
            if rng.random() < 0.85:
                x, y, bw, bh = gt["bbox"]
                cid = gt["category_id"] if rng.random() < 0.9 else int(rng.integers(1, 14))
                box = _jitter(np.array([x, y, x + bw, y + bh]), w, h, rng)
                kps = _jitter_keypoints(gt, rng) if cid == gt["category_id"] else None
                results.append(
                    _detection(
                        image, cid, box, float(rng.uniform(0.3, 1)), rng, polygon_points, kps
                    )
                )
        for _ in range(rng.poisson(false_positives) + extra):
            results.append(
                _detection(
                    image,
                    int(rng.integers(1, 14)),
                    _random_box(w, h, rng),
                    float(rng.uniform(0, 0.8)),
                    rng,
                    polygon_points,
                )
            )
    if score_decimals is not None:
        for r in results:
            r["score"] = round(r["score"], score_decimals)
    categories = [
        {
            "id": c.id,
            "name": c.name,
            "supercategory": "clothes",
            "keypoints": [str(i) for i in range(1, NUM_LANDMARKS + 1)],
            "skeleton": [],
        }
        for c in CATEGORIES
    ]
    return {"images": images, "annotations": anns, "categories": categories}, results


def pycocotools_reference(
    gt: dict,
    results: list[dict],
    task: str,
    ignore_ids: Collection[int] = (),
    cat_ids: list[int] | None = None,
) -> dict[str, float]:
    """The reference: stock pycocotools COCOeval (294 sigmas, maxDets [20] for landmarks).

    `ignore_ids`: GT annotation ids marked ignore after ``_prepare()`` (the subset reference);
    `cat_ids`: evaluate only these categories (``params.catIds``). Empty results are evaluated
    with an empty results set (pycocotools' loadRes cannot load an empty list).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from fashionvision.categories import oks_sigmas
    from fashionvision.evaluation.coco_eval import stat_keys

    class IgnoringCOCOeval(COCOeval):
        def _prepare(self) -> None:
            super()._prepare()
            for gts in self._gts.values():
                for g in gts:
                    if g["id"] in ignore_ids:
                        g["ignore"] = 1

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        if results:
            # What the official per-task result file of this task holds (and nothing else).
            keep = {
                "image_id",
                "category_id",
                "score",
                {"bbox": "bbox", "segm": "segmentation", "landmarks": "keypoints"}[task],
            }
            task_rows = [{k: v for k, v in r.items() if k in keep} for r in results]
            coco_dt = coco_gt.loadRes(copy.deepcopy(task_rows))
        else:
            coco_dt = COCO()
            coco_dt.dataset = dict(copy.deepcopy(gt), annotations=[])
            coco_dt.createIndex()
        ev = IgnoringCOCOeval(coco_gt, coco_dt, "keypoints" if task == "landmarks" else task)
        if task == "landmarks":
            ev.params.kpt_oks_sigmas = oks_sigmas()
            ev.params.maxDets = [20]
        if cat_ids is not None:
            ev.params.catIds = cat_ids
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return dict(zip(stat_keys(task), (float(s) for s in ev.stats), strict=True))


def main(argv: list[str] | None = None) -> int:
    from fashionvision.evaluation.coco_eval import evaluate_coco

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", nargs="+", default=["bbox", "segm", "landmarks"])
    parser.add_argument("--subsets", action="store_true", help="also time the 12 subset APs")
    parser.add_argument("--skip-reference", action="store_true", help="do not run pycocotools")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    gt, results = synthetic_coco(args.images, args.seed)
    print(
        f"generated {len(gt['images'])} images, {len(gt['annotations'])} GT, "
        f"{len(results)} detections in {time.perf_counter() - t0:.1f}s"
    )
    ours_total = ref_total = 0.0
    mismatches = 0
    for task in args.tasks:
        t0 = time.perf_counter()
        ours = evaluate_coco(gt, results, task, subsets=args.subsets)
        t_ours = time.perf_counter() - t0
        ours_total += t_ours
        line = f"{task:9s} fashionvision {t_ours:7.2f}s  AP={ours['AP']:.4f}"
        if not args.skip_reference:
            t0 = time.perf_counter()
            ref = pycocotools_reference(gt, results, task)
            t_ref = time.perf_counter() - t0
            ref_total += t_ref
            worst = max(abs(ref[k] - ours[k]) for k in ref)
            mismatches += worst > TOLERANCE
            line += f" | pycocotools {t_ref:7.2f}s  max |diff| {worst:.1e}"
        print(line, flush=True)
    print(f"total fashionvision {ours_total:.2f}s", end="")
    if not args.skip_reference:
        print(f", pycocotools {ref_total:.2f}s, speed-up x{ref_total / ours_total:.1f}", end="")
    print()
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
