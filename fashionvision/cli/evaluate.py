"""`fashionvision evaluate`: DeepFashion2 box / mask / landmark AP of a COCO results file.

Prints the overall numbers, and with ``--subsets`` the paper's table (rows AP/AP50/AP75, columns
the 12 scale/occlusion/zoom_in/viewpoint subsets and overall), with ``--per-category`` one row per
category; ``--json OUT.json`` writes every number (atomically) under the stable keys of
`fashionvision.evaluation.coco_eval.evaluate_coco`.
"""

from __future__ import annotations

import argparse

from fashionvision.evaluation.coco_eval import TASKS, evaluate_coco, stat_keys
from fashionvision.evaluation.tables import (
    format_overall,
    format_per_category_table,
    format_subset_table,
)
from fashionvision.io_utils import write_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="box / mask / landmark AP of a COCO results file (DeepFashion2 protocol)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--gt", required=True, metavar="GT.json",
                        help="COCO ground truth (fashionvision convert output)")
    parser.add_argument("--results", required=True, metavar="RES.json",
                        help="COCO results list (bbox xywh, segmentation RLE, 882 keypoints)")
    parser.add_argument("--task", required=True, choices=TASKS)
    parser.add_argument("--subsets", action="store_true",
                        help="AP/AP50/AP75 per scale, occlusion, zoom_in and viewpoint value")
    parser.add_argument("--per-category", action="store_true", help="one row per category")
    parser.add_argument("--json", metavar="OUT.json", help="write all numbers to this file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the tables, optionally write the JSON; returns the exit status."""
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
