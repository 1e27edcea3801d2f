"""`fashionvision convert`: DeepFashion2-format split -> COCO or retrieval ground truth;
iMaterialist-Fashion train.csv -> Fashionpedia-format COCO."""

from __future__ import annotations

import argparse
from pathlib import Path

from fashionvision.cli.options import check_output_file
from fashionvision.data.coco_format import retrieval_ground_truth, split_to_coco
from fashionvision.errors import FashionVisionError
from fashionvision.io_utils import write_json

QUERY_FILE = "query_gt.json"
GALLERY_FILE = "gallery_gt.json"

_EPILOG = f"""\
formats:
  coco          COCO ground truth as the official deepfashion2_to_coco.py writes it (882 keypoint
                numbers per item, area = box w*h) plus scale/occlusion/zoom_in/viewpoint/source.
  coco-visible  the same with occluded landmarks (v=1) removed: the paper's "visible" landmark AP.
  retrieval-gt  consumer-to-shop retrieval ground truth; OUT is a directory that receives the two
                official files {QUERY_FILE} (every item of every user image) and {GALLERY_FILE}
                (shop items with style > 0); boxes are xyxy.
  imaterialist  INPUT is an iMaterialist-Fashion (Kaggle 2019, or 2020) train.csv; OUT is COCO
                with RLE masks and per-annotation attribute_ids plus the category/attribute
                tables of --labels (the label_descriptions.json of the same competition: the
                2019 and 2020 attribute ids differ), i.e. the Fashionpedia format.

examples:
  fashionvision convert coco data/validation val_coco.json
  fashionvision convert coco --lenient data/validation val_coco.json   # keep what is usable
  fashionvision convert retrieval-gt data/validation val_retrieval/
  fashionvision convert imaterialist train.csv train_coco.json --labels label_descriptions.json
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``convert`` sub-command."""
    parser = subparsers.add_parser(
        "convert",
        help="convert a DeepFashion2-format split (or an iMaterialist CSV) to COCO or retrieval "
        "ground truth",
        description=" ".join(__doc__.split(": ", 1)[1].split()),
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("format", choices=("coco", "coco-visible", "retrieval-gt", "imaterialist"))
    parser.add_argument(
        "source",
        type=Path,
        metavar="INPUT",
        help="split directory holding image/ and annos/ (imaterialist: the train.csv)",
    )
    parser.add_argument(
        "out",
        type=Path,
        help="output JSON file (coco, coco-visible, imaterialist; its folder must exist) or "
        "directory (retrieval-gt; created if needed)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        metavar="JSON",
        help="imaterialist: the competition's label_descriptions.json (names; ids are checked "
        "against it); without it categories must be 0-45 and names are the ids",
    )
    parser.add_argument(
        "--images",
        type=Path,
        metavar="DIR",
        help="imaterialist: folder of the images, to check each image's Height/Width against "
        "its file",
    )
    parser.add_argument(
        "--lenient",
        "--skip-bad",  # the switch's former name, kept working for existing scripts
        dest="lenient",
        action="store_true",
        help="keep what is usable instead of failing on any problem: drop bad polygons, "
        "clear bad landmark lists, drop items whose box, category or attributes are unusable "
        "and skip unreadable files, with one warning that counts each kind "
        "(`fashionvision validate` lists the problems); imaterialist: skip the images that "
        "have a bad row",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the split, convert it, write the output atomically and print a one-line summary."""
    from fashionvision.data import deepfashion2  # imported late: the loader is optional at import

    if args.format == "imaterialist":
        return _run_imaterialist(args)
    for option in ("labels", "images"):
        if getattr(args, option) is not None:
            raise FashionVisionError(f"--{option}: only for the imaterialist format")
    if args.format == "retrieval-gt":
        if args.out.exists() and not args.out.is_dir():
            raise FashionVisionError(f"{args.out}: exists and is not a directory")
    else:
        problem = check_output_file(args.out)
        if problem:
            raise FashionVisionError(f"{args.out}: {problem}")
    records = deepfashion2.load_split(args.source, strict=not args.lenient)
    if args.format == "retrieval-gt":
        query, gallery = retrieval_ground_truth(records)
        write_json(args.out / QUERY_FILE, query)
        write_json(args.out / GALLERY_FILE, gallery)
        print(
            f"{len(records)} images: {len(query)} query items -> {args.out / QUERY_FILE}, "
            f"{len(gallery)} gallery items -> {args.out / GALLERY_FILE}"
        )
        return 0
    coco = split_to_coco(records, visible_only=args.format == "coco-visible")
    write_json(args.out, coco)
    print(f"{len(coco['images'])} images, {len(coco['annotations'])} annotations -> {args.out}")
    return 0


def _run_imaterialist(args: argparse.Namespace) -> int:
    """iMaterialist train.csv -> Fashionpedia-format COCO (strict unless --lenient)."""
    from fashionvision.data.imaterialist import imaterialist_to_coco, read_imaterialist_csv

    problem = check_output_file(args.out)
    if problem:
        raise FashionVisionError(f"{args.out}: {problem}")
    report = read_imaterialist_csv(args.source, args.labels, args.images, strict=not args.lenient)
    coco = imaterialist_to_coco(report, args.source)
    write_json(args.out, coco)
    print(
        f"{report.rows} rows: {len(coco['images'])} images, {len(coco['annotations'])} "
        f"annotations -> {args.out}"
    )
    return 0
