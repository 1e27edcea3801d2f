"""`fashionvision evaluate`: DeepFashion2 numbers of a checkpoint on a split, or of a results file.

Two forms:

* ``fashionvision evaluate --weights CKPT --split DIR [--json OUT]`` runs the model on the split
  and prints every task it supports — box, mask and landmark AP (visible + occluded and visible
  only) with the subset table, and consumer-to-shop retrieval with detected and GT boxes — through
  the same sharded pipeline as training (`fashionvision.engine.evaluate`).  Under
  ``torchrun --nproc_per_node N -m fashionvision evaluate ...`` each process takes 1/N of the
  images and rank 0 prints the gathered numbers.
  A FashionNet checkpoint is evaluated on a DeepFashion (v1) data root instead
  (``--split ROOT [--partition val|test]``): category top-3/5, attribute top-3/5 recall (overall
  and per type), landmark normalized error, In-shop or consumer-to-shop retrieval top-k, beside
  FashionNet's published numbers (`fashionvision.engine.fashionnet`).
* ``fashionvision evaluate --gt GT.json --results RES.json --task bbox|segm|landmarks`` scores a
  COCO results file (ours or the official per-task files, rows with or without ``bbox``);
  ``--task attributes`` scores a Fashionpedia results file (masks + ``attribute_ids``) against a
  Fashionpedia ground truth: AP over IoU and attribute F1, the 10 x 10 grid, and IoU alone.

``--subsets`` adds the paper's scale/occlusion/zoom_in/viewpoint table, ``--per-category`` one row
per category (``--compare deepfashion2|FILE`` beside published rows); ``--json OUT.json``
writes every number (atomically) under stable keys.  Per-category rows are named by the ground
truth's own ``categories``: a checkpoint trained with ``data.format=coco|fashionpedia|imaterialist``
(evaluated on a COCO or Fashionpedia root, ``--partition``) gets its file's categories, with box
AP, mask AP and, where the file has attributes, Fashionpedia's AP over IoU and attribute F1 side
by side.
"""

from __future__ import annotations

import argparse

from fashionvision.cli.options import (
    add_batch_size,
    add_inference_overrides,
    add_retrieval_options,
    gallery_threshold,
    output_file,
)
from fashionvision.evaluation.coco_eval import TASKS

ATTRIBUTES_TASK = "attributes"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="DeepFashion2 numbers of a checkpoint on a split, or of a COCO results file",
        description=__doc__.splitlines()[0],
    )
    model = parser.add_argument_group("a checkpoint on a split")
    model.add_argument("--weights", metavar="CKPT", help="checkpoint (.pt) to evaluate")
    model.add_argument(
        "--split",
        metavar="DIR",
        help="DeepFashion2-format split (annos/, image/); for a FashionNet checkpoint, a "
        "DeepFashion data root (benchmark folders)",
    )
    model.add_argument(
        "--partition",
        default="val",
        choices=("train", "val", "test"),
        help="FashionNet and COCO-format (parsing) checkpoints: which partition of the data "
        "root (default val)",
    )
    model.add_argument(
        "--save-results",
        type=output_file,
        metavar="RES.json",
        help="COCO-format (parsing) checkpoints: write the detections in the Fashionpedia "
        "results format (COCO + attribute_ids)",
    )
    add_batch_size(model)
    add_inference_overrides(model)
    model.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    add_retrieval_options(model)
    model.add_argument(
        "--lenient", action="store_true", help="skip the bad parts of malformed annotations"
    )
    files = parser.add_argument_group("a results file")
    files.add_argument("--gt", metavar="GT.json", help="COCO ground truth (fashionvision convert)")
    files.add_argument(
        "--results",
        metavar="RES.json",
        help="COCO results list (bbox xywh, segmentation RLE, 882 keypoints)",
    )
    files.add_argument(
        "--task",
        choices=(*TASKS, ATTRIBUTES_TASK),
        help="attributes: Fashionpedia's AP over mask IoU and attribute F1 (GT with attributes)",
    )
    parser.add_argument(
        "--subsets",
        action="store_true",
        help="AP/AP50/AP75 per scale, occlusion, zoom_in and viewpoint value "
        "(always on with --weights)",
    )
    parser.add_argument("--per-category", action="store_true", help="one row per category")
    parser.add_argument(
        "--compare",
        metavar="NAME|FILE",
        help="with --weights: box (and mask) AP per category beside published rows: "
        "'deepfashion2' (Match R-CNN, DeepMark++, Aggregation and Finetuning) or a YAML file",
    )
    parser.add_argument(
        "--json", type=output_file, metavar="OUT.json", help="write all numbers to this file"
    )
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the tables, optionally write the JSON; returns the exit status."""
    file_mode = [name for name in ("gt", "results", "task") if getattr(args, name) is not None]
    if args.weights is not None or args.split is not None:
        if file_mode:
            args.parser.error(f"--weights/--split cannot be combined with --{file_mode[0]}")
        if args.weights is None or args.split is None:
            args.parser.error("--weights and --split go together")
        return run_checkpoint(args)
    if len(file_mode) < 3:
        args.parser.error("give --weights CKPT --split DIR, or --gt, --results and --task")
    return run_results_file(args)


def run_checkpoint(args: argparse.Namespace) -> int:
    import torch

    from fashionvision.engine import distributed as D
    from fashionvision.engine.build import resolve_device
    from fashionvision.engine.coco_data import COCO_FORMATS
    from fashionvision.engine.evaluate import ProgressBar, evaluate_checkpoint
    from fashionvision.engine.inference import checkpoint_arch, checkpoint_data_format
    from fashionvision.evaluation.tables import (
        format_per_category_comparison,
        format_report,
        load_published,
    )
    from fashionvision.io_utils import write_json

    threshold = gallery_threshold(args)
    # read before the (long) evaluation so that a bad file fails at once
    published = load_published(args.compare) if args.compare else None
    device = resolve_device(args.device, option="--device")
    dist = D.init_distributed(device.type)
    if dist.distributed and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    try:
        if checkpoint_arch(args.weights) == "fashionnet":
            if args.overrides:
                args.parser.error("--set: a FashionNet checkpoint has no detection options")
            return _run_fashionnet(args, device, dist)
        if checkpoint_data_format(args.weights) in COCO_FORMATS:
            return _run_coco(args, device, dist, published)
        metrics, _, _ = evaluate_checkpoint(
            args.weights,
            args.split,
            device=device,
            batch_size=args.batch_size,
            strict=not args.lenient,
            dist=dist,
            ranking=args.ranking,
            gallery_threshold=threshold,
            progress=ProgressBar("inference") if dist.is_main else None,
            overrides=args.overrides,
        )
    finally:
        D.cleanup(dist)
    if metrics is None:  # not rank 0
        return 0
    print(format_report(metrics, per_category=args.per_category))
    if published is not None:
        print("\nAP by category beside published results\n")
        print(format_per_category_comparison(metrics, published))
    if args.json:
        write_json(args.json, metrics, indent=2)
        print(f"\nwrote {args.json}")
    return 0


def _run_fashionnet(args: argparse.Namespace, device: object, dist: object) -> int:
    from fashionvision.engine.evaluate import ProgressBar
    from fashionvision.engine.fashionnet import evaluate_fashionnet_checkpoint
    from fashionvision.evaluation.tables import format_fashionnet_report
    from fashionvision.io_utils import write_json

    metrics = evaluate_fashionnet_checkpoint(
        args.weights,
        args.split,
        args.partition,
        device=device,  # type: ignore[arg-type]
        batch_size=args.batch_size,
        strict=not args.lenient,
        dist=dist,  # type: ignore[arg-type]
        progress=ProgressBar("inference") if dist.is_main else None,  # type: ignore[attr-defined]
    )
    if metrics is None:  # not rank 0
        return 0
    print(format_fashionnet_report(metrics))
    if args.json:
        write_json(args.json, metrics, indent=2)
        print(f"\nwrote {args.json}")
    return 0


def _run_coco(
    args: argparse.Namespace,
    device: object,
    dist: object,
    published: dict[str, dict[str, float]] | None,
) -> int:
    """A detector trained on COCO / Fashionpedia / iMaterialist data, on a COCO or Fashionpedia
    root's partition: box and mask AP, and AP over IoU and attribute F1; per category (named
    by the annotation file's own table) with ``--per-category`` and ``--compare``."""
    from fashionvision.data.coco_dataset import find_coco_split, load_coco_split
    from fashionvision.engine.evaluate import ProgressBar, inference_on_dataset
    from fashionvision.engine.inference import load_network
    from fashionvision.evaluation.coco_json_evaluator import CocoJsonEvaluator
    from fashionvision.evaluation.tables import (
        format_parsing_report,
        format_per_category_comparison,
    )
    from fashionvision.io_utils import write_json

    model, _ = load_network(args.weights, device, args.overrides)  # type: ignore[arg-type]
    annotation_file, image_dir = find_coco_split(args.split, args.partition)
    split = load_coco_split(annotation_file, image_dir, strict=not args.lenient)
    evaluator = CocoJsonEvaluator(split)
    metrics = inference_on_dataset(
        model,
        split.image_dir,
        split.records,
        [evaluator],
        device=device,  # type: ignore[arg-type]
        batch_size=args.batch_size,
        dist=dist,  # type: ignore[arg-type]
        progress=ProgressBar("inference") if dist.is_main else None,  # type: ignore[attr-defined]
    )
    if metrics is None:  # not rank 0
        return 0
    print(format_parsing_report(metrics, per_category=args.per_category))
    if published is not None:
        print("\nAP by category beside published results\n")
        print(format_per_category_comparison(metrics, published))
    if args.save_results:
        evaluator.write_results(args.save_results)
        print(f"\nwrote {args.save_results}")
    if args.json:
        write_json(args.json, metrics, indent=2)
        print(f"wrote {args.json}")
    return 0


def run_attributes_file(args: argparse.Namespace) -> int:
    """``--task attributes``: the Fashionpedia metric of a results file."""
    from fashionvision.evaluation.fashionpedia_eval import evaluate_fashionpedia
    from fashionvision.evaluation.tables import format_parsing_report
    from fashionvision.io_utils import write_json

    if args.subsets:
        args.parser.error("--subsets is for DeepFashion2 ground truth, not --task attributes")
    result = evaluate_fashionpedia(args.gt, args.results, "segm", per_category=args.per_category)
    metrics: dict = {"attributes": result}
    if "per_category" in result:  # mask AP (IoU alone) per category beside AP over IoU and F1
        rows = {name: r["iou"] for name, r in result["per_category"].items()}
        metrics["segm"] = {**result["iou"], "per_category": rows}
    print(format_parsing_report(metrics, per_category=args.per_category))
    if args.json:
        write_json(args.json, {"task": ATTRIBUTES_TASK, **result}, indent=2)
        print(f"\nwrote {args.json}")
    return 0


def run_results_file(args: argparse.Namespace) -> int:
    if args.task == ATTRIBUTES_TASK:
        return run_attributes_file(args)
    from fashionvision.evaluation.coco_eval import evaluate_coco, stat_keys
    from fashionvision.evaluation.tables import (
        format_overall,
        format_per_category_table,
        format_subset_table,
    )
    from fashionvision.io_utils import write_json

    result = evaluate_coco(
        args.gt, args.results, args.task, subsets=args.subsets, per_category=args.per_category
    )
    keys = stat_keys(args.task)
    print(format_overall(result, keys, title=args.task))
    if args.subsets:
        print()
        print(format_subset_table(result))
    if args.per_category:
        print()
        print(format_per_category_table(result, keys))
    if args.json:
        write_json(args.json, {"task": args.task, **result}, indent=2)
        print(f"\nwrote {args.json}")
    return 0
