"""`fashionvision analyze --weights CKPT --split DIR --out DIR`: where a checkpoint's AP goes.

Runs the model on the split through the evaluation pipeline (`fashionvision.engine.evaluate`,
the same detections as ``fashionvision evaluate``), then analyses its detections
(`fashionvision.evaluation.error_analysis.analyze_detections`) and writes:

* ``DIR/analysis.json``: every number — the evaluation metrics, and per task (box, mask) the AP50
  and the AP50 gained by fixing each TIDE error type (classification, localization, both,
  duplicate, background, missed; plus all false positives / negatives), with counts, overall and
  per subset (source shop/user, scale, occlusion, zoom_in, viewpoint); the confusion matrix;
  landmark AP and PCK per category; the box classifier's top-1 / top-2 accuracy on the
  ground-truth boxes (``metrics.gt_box_classification``: naming apart from finding);
* ``DIR/errors.png``: bar charts of those gains, overall and per subset;
* ``DIR/confusion.png``: the 13-category box confusion matrix (+ background row, missed column)
  of the detections scoring >= ``--score-threshold`` (default 0.5);
* ``DIR/landmarks.md``: landmark AP and PCK per category;

and prints the box table, the mask overall row, the main confusions and the landmark table.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fashionvision.cli.options import add_batch_size, add_inference_overrides, unit_float


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze",
        help="break a checkpoint's AP down by error type; confusion matrix, landmark PCK",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--weights", required=True, metavar="CKPT", help="checkpoint (.pt)")
    parser.add_argument(
        "--split", required=True, metavar="DIR", help="DeepFashion2-format split (annos/, image/)"
    )
    parser.add_argument(
        "--out", required=True, metavar="DIR", help="output directory (created if needed)"
    )
    parser.add_argument(
        "--score-threshold",
        type=unit_float,
        default=0.5,
        metavar="S",
        help="detections scoring >= S enter the confusion matrix (default 0.5; the AP numbers "
        "use every detection the evaluation keeps)",
    )
    add_batch_size(parser)
    add_inference_overrides(parser)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    parser.add_argument(
        "--lenient", action="store_true", help="skip the bad parts of malformed annotations"
    )
    parser.set_defaults(func=run)


def write_analysis(analysis: Mapping[str, Any], out_dir: str | Path) -> list[Path]:
    """Write ``analysis.json``, ``errors.png``, ``confusion.png`` and (when the analysis has
    landmarks) ``landmarks.md`` into `out_dir` (created); returns the paths written."""
    from fashionvision.evaluation.landmarks import format_landmark_markdown
    from fashionvision.io_utils import atomic_path, atomic_write, write_json
    from fashionvision.viz.plots import draw_analysis_confusion, draw_analysis_errors

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "analysis.json"]
    write_json(written[0], analysis, indent=2)
    for name, image in (
        ("errors.png", draw_analysis_errors(analysis)),
        ("confusion.png", draw_analysis_confusion(analysis)),
    ):
        with atomic_path(out / name) as tmp:
            image.save(tmp, format="PNG")
        written.append(out / name)
    if "landmarks" in analysis:
        text = format_landmark_markdown(analysis["landmarks"])
        atomic_write(out / "landmarks.md", lambda f: f.write(text))
        written.append(out / "landmarks.md")
    return written


def format_summary(analysis: Mapping[str, Any]) -> str:
    """The printed summary: box dAP table, mask overall row, main confusions, landmarks."""
    from fashionvision.evaluation.error_analysis import (
        format_counts,
        format_error_table,
        top_confusions,
    )
    from fashionvision.evaluation.gt_box_classification import REPORT_KEY as GT_BOX_KEY
    from fashionvision.evaluation.gt_box_classification import format_gt_box_classification
    from fashionvision.evaluation.landmarks import format_landmark_table

    parts = []
    for task, title in (("bbox", "Box"), ("segm", "Mask")):
        if task not in analysis:
            continue
        table = format_error_table(analysis, task)
        if task == "segm":  # the overall row only; the JSON and errors.png hold the subsets
            table = "\n".join(table.splitlines()[:2])
        parts.append(
            f"{title} AP50 and AP50 gained by fixing each error type (TIDE, IoU 0.5)\n"
            f"{table}\n{format_counts(analysis, task)}"
        )
    conf = analysis["confusion"]
    top = top_confusions(analysis)
    lines = [f"Main confusions (score >= {conf['score_threshold']:g}; GT -> predicted: count)"]
    lines += [f"  {gt} -> {pred}: {n}" for gt, pred, n in top] or ["  none"]
    parts.append("\n".join(lines))
    gt_box = (analysis.get("metrics") or {}).get(GT_BOX_KEY)
    if gt_box:  # the classifier alone: how often it names a garment given its true box
        parts.append(format_gt_box_classification(gt_box))
    if "landmarks" in analysis:
        alpha = analysis["landmarks"]["alpha"]
        parts.append(
            f"Landmarks per category (OKS AP; PCK@{alpha:g} x sqrt(GT box area))\n"
            + format_landmark_table(analysis["landmarks"])
        )
    return "\n\n".join(parts)


def run(args: argparse.Namespace) -> int:
    from fashionvision.engine.build import resolve_device
    from fashionvision.engine.evaluate import ProgressBar, evaluate_checkpoint
    from fashionvision.evaluation.error_analysis import analyze_detections

    metrics, coco, _ = evaluate_checkpoint(
        args.weights,
        args.split,
        device=resolve_device(args.device, option="--device"),
        batch_size=args.batch_size,
        strict=not args.lenient,
        progress=ProgressBar("inference"),
        overrides=args.overrides,
    )
    analysis = analyze_detections(
        coco.records, coco.detections, score_threshold=args.score_threshold
    )
    analysis = {"metrics": metrics, **analysis}
    written = write_analysis(analysis, args.out)
    print(format_summary(analysis))
    print("\nwrote " + ", ".join(str(p) for p in written))
    return 0
