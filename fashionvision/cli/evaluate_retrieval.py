"""`fashionvision evaluate-retrieval`: consumer-to-shop top-k accuracy of a retrieval result file.

    fashionvision evaluate-retrieval --query-gt Q.json --gallery-gt G.json --results R.json \
        [--gt-boxes] [--allow-unknown-gallery] [--json OUT.json]

Q.json / G.json are the official ``query_gt.json`` / ``gallery_gt.json`` lists; a single file
``{"query": [...], "gallery": [...]}`` may be given as --query-gt with --gallery-gt left out.
"""

from __future__ import annotations

import argparse
from typing import Any

from fashionvision.cli.options import output_file
from fashionvision.evaluation.retrieval import (
    evaluate_retrieval,
    load_retrieval_gt,
    load_retrieval_results,
)
from fashionvision.io_utils import write_json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``evaluate-retrieval`` sub-command."""
    parser = subparsers.add_parser(
        "evaluate-retrieval",
        help="consumer-to-shop retrieval top-k accuracy (official DeepFashion2 protocol)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--query-gt", required=True, help="query GT JSON (list, or query+gallery)")
    parser.add_argument("--gallery-gt", help="gallery GT JSON list (default: from --query-gt)")
    parser.add_argument("--results", required=True, help="retrieval result JSON (official format)")
    parser.add_argument(
        "--gt-boxes", action="store_true", help="results were computed from the GT query boxes"
    )
    parser.add_argument(
        "--allow-unknown-gallery",
        action="store_true",
        help="count results in shop images absent from the gallery GT as misses, not errors",
    )
    parser.add_argument(
        "--json",
        dest="json_out",
        type=output_file,
        metavar="OUT.json",
        help="also write the metrics to this JSON file",
    )
    parser.set_defaults(func=run)


def format_table(metrics: dict[str, Any]) -> str:
    """Two-column text table of the metrics: ``top{k}`` as fractions, counts as integers."""
    lines = [f"{'metric':<12}{'value':>10}"]
    for key, value in metrics.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<12}{shown:>10}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Load the three files, evaluate, print the table and optionally write the JSON."""
    gallery_path = args.gallery_gt or args.query_gt
    metrics = evaluate_retrieval(
        load_retrieval_gt(args.query_gt, "query"),
        load_retrieval_gt(gallery_path, "gallery"),
        load_retrieval_results(args.results),
        use_gt_boxes=args.gt_boxes,
        strict_gallery=not args.allow_unknown_gallery,
        query_source=str(args.query_gt),
        gallery_source=str(gallery_path),
        results_source=str(args.results),
    )
    print(format_table(metrics))
    if args.json_out:
        write_json(args.json_out, metrics, indent=2)
    return 0
