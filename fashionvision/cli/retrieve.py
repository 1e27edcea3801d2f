"""`fashionvision retrieve --weights CKPT --split SPLIT_DIR --out R.json`: find shop items.

Every user image of the split is a source of queries and the shop images holding paired items are
the gallery; R.json holds the official result rows (20 gallery image ids and boxes per query).
``--gt-boxes`` takes queries and gallery from the annotated boxes instead of detections.  The
top-k accuracy of the file under the official protocol is printed (the split's annotations are
needed anyway, to tell user from shop images).
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retrieve",
        help="retrieve shop items for the user images of a split; write official result rows",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--weights", required=True, metavar="CKPT", help="checkpoint (.pt)")
    parser.add_argument("--split", required=True, metavar="SPLIT_DIR", help="annos/ + image/")
    parser.add_argument("--out", required=True, metavar="R.json", help="result file to write")
    parser.add_argument("--gt-boxes", action="store_true", help="use annotated boxes")
    parser.add_argument("--query-threshold", type=float, default=0.05, metavar="S")
    parser.add_argument("--gallery-threshold", type=float, default=0.5, metavar="S")
    parser.add_argument("--top-k", type=int, default=20, metavar="K")
    parser.add_argument(
        "--rerank",
        type=int,
        default=100,
        metavar="N",
        help="candidates re-ranked by the similarity network",
    )
    parser.add_argument("--batch-size", type=int, default=4, metavar="N")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fashionvision.data.coco_format import retrieval_ground_truth
    from fashionvision.data.deepfashion2 import load_split
    from fashionvision.engine.build import resolve_device
    from fashionvision.engine.inference import model_from_checkpoint
    from fashionvision.engine.retrieval_output import retrieval_results
    from fashionvision.evaluation.retrieval import evaluate_retrieval
    from fashionvision.io_utils import write_json

    device = resolve_device(args.device)
    records = load_split(args.split)
    model, _ = model_from_checkpoint(args.weights, device)
    rows = retrieval_results(
        model,
        args.split,
        records,
        device,
        use_gt_boxes=args.gt_boxes,
        query_threshold=args.query_threshold,
        gallery_threshold=args.gallery_threshold,
        batch_size=args.batch_size,
        top_k=args.top_k,
        rerank_k=args.rerank,
    )
    write_json(args.out, rows)
    print(f"{len(rows)} queries -> {args.out}")
    if args.top_k >= 20:
        query_gt, gallery_gt = retrieval_ground_truth(records)
        scores = evaluate_retrieval(query_gt, gallery_gt, rows, use_gt_boxes=args.gt_boxes)
        print(
            " ".join(
                f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in scores.items()
            )
        )
    return 0
