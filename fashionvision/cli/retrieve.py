"""`fashionvision retrieve --weights CKPT --split SPLIT_DIR --out R.json`: find shop items.

Every user image of the split is a source of queries and the shop images holding paired items are
the gallery; R.json holds the official result rows (20 gallery image ids and boxes per query).
``--gt-boxes`` takes queries and gallery from the annotated boxes instead of detections.  The
gallery is ranked exactly, by embedding distance (the default: it measured better, see
benchmarks/RESULTS.md) or by the model's similarity network (``--ranking similarity``).  When the
gallery holds fewer than 20 garments each row lists all of them (the command says so; nothing is
repeated to fill a row).  The top-k accuracy under the official protocol is printed; the run goes
through the evaluation pipeline (`fashionvision.engine.evaluate`), so the numbers equal
``fashionvision evaluate --weights``.
"""

from __future__ import annotations

import argparse

from fashionvision.cli.options import (
    add_batch_size,
    add_retrieval_options,
    gallery_threshold,
    output_file,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retrieve",
        help="retrieve shop items for the user images of a split; write official result rows",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--weights", required=True, metavar="CKPT", help="checkpoint (.pt)")
    parser.add_argument("--split", required=True, metavar="SPLIT_DIR", help="annos/ + image/")
    parser.add_argument(
        "--out", required=True, type=output_file, metavar="R.json", help="result file to write"
    )
    parser.add_argument("--gt-boxes", action="store_true", help="use annotated boxes")
    add_retrieval_options(parser)
    add_batch_size(parser)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    parser.add_argument(
        "--lenient", action="store_true", help="skip the bad parts of malformed annotations"
    )
    parser.set_defaults(func=run, parser=parser)


def run(args: argparse.Namespace) -> int:
    from fashionvision.data.deepfashion2 import load_split
    from fashionvision.engine.build import resolve_device
    from fashionvision.engine.evaluate import EVAL_SCORE_THRESHOLD, inference_on_dataset
    from fashionvision.engine.inference import model_from_checkpoint
    from fashionvision.evaluation.retrieval_evaluator import REPORT_KEYS, RetrievalEvaluator
    from fashionvision.evaluation.tables import format_retrieval
    from fashionvision.io_utils import write_json

    threshold = gallery_threshold(args)
    device = resolve_device(args.device, option="--device")
    records = load_split(args.split, strict=not args.lenient)
    model, _ = model_from_checkpoint(args.weights, device)
    mode = "gt_boxes" if args.gt_boxes else "detected"
    evaluator = RetrievalEvaluator(
        records,
        getattr(model.roi_heads, "similarity", None),
        modes=(mode,),
        ranking=args.ranking,
        query_threshold=EVAL_SCORE_THRESHOLD,
        gallery_threshold=threshold,
    )
    metrics = inference_on_dataset(
        model, args.split, records, [evaluator], device=device, batch_size=args.batch_size
    )
    assert metrics is not None  # single process: rank 0
    rows = evaluator.rows[mode]
    write_json(args.out, rows)
    scores = metrics[REPORT_KEYS[mode]]
    print(f"{len(rows)} queries against {scores['gallery_size']} gallery garments -> {args.out}")
    if scores["gallery_size"] < evaluator.top_k:
        print(
            f"note: the gallery holds {scores['gallery_size']} garments, fewer than "
            f"{evaluator.top_k}: each row lists all of them"
            + ("" if args.gt_boxes else f" (shop detections scoring >= {threshold})")
        )
    print(format_retrieval(scores, "GT boxes" if args.gt_boxes else "detected boxes"))
    return 0
