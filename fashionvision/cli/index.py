"""`fashionvision index build|add|remove|info`: make and maintain a shop-catalogue index.

``build --weights CKPT SHOP_DIR --out INDEX`` embeds every garment detected in the images of
SHOP_DIR (a folder searched recursively, or a DeepFashion2 split: its shop images, with pair_id
and style from the annotations) into a searchable index; rerun on the same INDEX it resumes,
skipping the images already done.  ``add`` indexes more images, ``remove`` drops items by id,
``info`` prints the counts and settings.  Search it with ``fashionvision search --index INDEX``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from fashionvision.cli.options import add_batch_size, positive_int, unit_float


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "index",
        help="build and maintain a shop-catalogue index for `fashionvision search`",
        description=__doc__.splitlines()[0],
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    build = actions.add_parser("build", help="index the garments of a folder of shop images")
    build.add_argument("--weights", required=True, metavar="CKPT", help="checkpoint (.pt)")
    build.add_argument("source", metavar="SHOP_DIR", help="image folder or DeepFashion2 split")
    build.add_argument("--out", required=True, metavar="INDEX", help="index folder")
    build.add_argument("--backend", choices=("faiss", "qdrant"), default="faiss")
    build.add_argument(
        "--kind",
        choices=("flat", "ivfflat", "ivfpq", "hnsw"),
        default="flat",
        help="faiss index: flat (exact, default), ivfflat, ivfpq or hnsw (approximate, large "
        "catalogues)",
    )
    build.add_argument(
        "--ranking",
        choices=("similarity", "distance"),
        default="similarity",
        help="order results by the model's similarity network (default) or embedding distance",
    )
    build.add_argument(
        "--score-threshold",
        type=unit_float,
        default=0.5,
        metavar="S",
        help="detections scoring >= S become catalogue items (default 0.5)",
    )
    build.add_argument("--qdrant-url", metavar="URL", help="Qdrant server (default: in-process)")
    build.add_argument("--qdrant-collection", metavar="NAME", help="collection (fashionvision)")
    build.add_argument(
        "--store-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a vector-store setting, repeatable: nlist, nprobe, rerank (ivfflat); nlist, m, "
        "nbits, nprobe, rerank (ivfpq); M, ef_search, ef_construction (hnsw); shard_number, "
        "replication_factor, on_disk, hnsw_ef (qdrant)",
    )
    _model_options(build)
    build.set_defaults(func=run_build)

    add = actions.add_parser("add", help="index more images")
    add.add_argument("index", metavar="INDEX")
    add.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders")
    _model_options(add)
    add.set_defaults(func=run_add)

    remove = actions.add_parser("remove", help="remove items by id")
    remove.add_argument("index", metavar="INDEX")
    remove.add_argument("item_ids", nargs="+", type=positive_int, metavar="ID")
    remove.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    remove.set_defaults(func=run_remove)

    info = actions.add_parser("info", help="counts and settings of an index")
    info.add_argument("index", metavar="INDEX")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    info.set_defaults(func=run_info)


def _model_options(parser: argparse.ArgumentParser) -> None:
    add_batch_size(parser)
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def store_options(args: argparse.Namespace) -> dict[str, Any]:
    """``--store-option KEY=VALUE`` (values read as YAML scalars) and the Qdrant flags."""
    from fashionvision.errors import FashionVisionError

    options: dict[str, Any] = {}
    for text in args.store_option:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise FashionVisionError(f"--store-option {text!r}: expected KEY=VALUE")
        options[key.strip()] = yaml.safe_load(value)
    for key, value in (("url", args.qdrant_url), ("collection", args.qdrant_collection)):
        if value is not None:
            if args.backend != "qdrant":
                raise FashionVisionError(f"--qdrant-{key} needs --backend qdrant")
            options[key] = value
    return options


def run_build(args: argparse.Namespace) -> int:
    from fashionvision.retrieval.index import GalleryIndex

    index = GalleryIndex.build(
        args.weights,
        args.source,
        args.out,
        backend=args.backend,
        kind=args.kind,
        ranking=args.ranking,
        batch_size=args.batch_size,
        device=args.device,
        score_threshold=args.score_threshold,
        progress=not args.no_progress,
        **store_options(args),
    )
    info = index.info()
    print(f"{info['items']} garments from {info['images']} images -> {args.out}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    from fashionvision.retrieval.index import GalleryIndex

    index = GalleryIndex.open(args.index, device=args.device)
    ids = index.add_images(args.images, batch_size=args.batch_size, progress=not args.no_progress)
    print(f"added {len(ids)} garments; the index holds {len(index)}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from fashionvision.retrieval.index import GalleryIndex

    index = GalleryIndex.open(args.index, device=args.device)
    removed = index.remove(args.item_ids)
    print(f"removed {removed} garments; the index holds {len(index)}")
    return 0


def run_info(args: argparse.Namespace) -> int:
    from fashionvision.retrieval.index import GalleryIndex

    info = GalleryIndex.open(args.index, device=args.device).info()
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"{info['path']}: {info['items']} garments from {info['images']} images", end="")
    print(f" ({info['pending_images']} images pending)" if info["pending_images"] else "")
    for name, count in info["per_category"].items():
        print(f"  {name:<22} {count}")
    for key in ("backend", "kind", "ranking", "dim", "score_threshold", "root", "source",
                "checkpoint", "fingerprint", "created", "updated"):  # fmt: skip
        print(f"{key}: {info[key]}")
    return 0
