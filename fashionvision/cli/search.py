"""`fashionvision search --index INDEX PHOTO...`: find the shop garments worn in photos.

Each photo's garments (detections scoring >= ``--score-threshold``) are searched in the index
built by ``fashionvision index build``; the command prints every garment with its top-k catalogue
matches (item id, similarity logit, shop image, category, pair_id/style when known).  ``--json``
writes the same as JSON (one entry per photo: its garments with box, category, score, landmarks,
mask outline and matches); ``--grid`` draws one row per garment: the query crop (grey frame), then
its matches best first, each framed in its category's colour and labelled with id and score.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fashionvision.cli.options import output_file, positive_int, unit_float

QUERY_FRAME = (90, 90, 90)
GRID_TILE = 128


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search",
        help="search a shop-catalogue index with photos",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--index", required=True, metavar="INDEX", help="index folder")
    parser.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files")
    parser.add_argument("--top-k", type=positive_int, default=20, metavar="K")
    parser.add_argument(
        "--category", metavar="NAME|ID", help="only catalogue garments of this category"
    )
    parser.add_argument(
        "--score-threshold",
        type=unit_float,
        default=0.5,
        metavar="S",
        help="search the garments detected with score >= S (default 0.5)",
    )
    parser.add_argument("--json", type=output_file, metavar="OUT.json", help="write results")
    parser.add_argument("--grid", type=output_file, metavar="OUT.png", help="draw results")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fashionvision.categories import category_id_from_text
    from fashionvision.errors import FashionVisionError
    from fashionvision.io_utils import atomic_path, write_json
    from fashionvision.retrieval.index import GalleryIndex

    category = None
    if args.category is not None:
        try:
            category = category_id_from_text(args.category)
        except ValueError as exc:
            raise FashionVisionError(f"--category: {exc}") from None
    missing = [p for p in args.photos if not Path(p).is_file()]
    if missing:
        raise FashionVisionError(f"{missing[0]}: no such photo")
    index = GalleryIndex.open(args.index, device=args.device)
    results = []
    for photo in args.photos:
        garments = index.search(photo, args.top_k, category, args.score_threshold)
        results.append((photo, garments))
        print(_format(photo, garments))
    if args.json:
        rows = [{"photo": p, "garments": [g.to_dict() for g in gs]} for p, gs in results]
        write_json(args.json, rows, indent=1)
    if args.grid:
        with atomic_path(args.grid) as tmp:
            search_grid(index, results).save(tmp, format="PNG")
    return 0


def _format(photo: str, garments: list[Any]) -> str:
    lines = [f"{photo}: {len(garments)} garment{'s' if len(garments) != 1 else ''}"]
    for n, g in enumerate(garments, 1):
        box = ", ".join(f"{v:.0f}" for v in g.box)
        lines.append(f"  {n}. {g.category_name} {g.score:.2f} at [{box}]")
        for rank, m in enumerate(g.matches, 1):
            pair = f"  pair {m.pair_id} style {m.style}" if m.pair_id is not None else ""
            lines.append(
                f"     {rank:>3}. item {m.item_id:<6} {m.score:9.3f}  {m.image_path}  "
                f"{m.category_name}{pair}"
            )
    return "\n".join(lines)


def search_grid(index: Any, results: list[tuple[str, list[Any]]]) -> Any:
    """One row per garment: its crop from the photo, then its matches' crops, labelled."""
    from PIL import Image

    from fashionvision.viz.draw import category_color, crop_tile, draw_grid, label_below

    rows = []
    for photo, garments in results:
        with Image.open(photo) as image:
            queries = [crop_tile(image, g.box, GRID_TILE, QUERY_FRAME) for g in garments]
        for g, query in zip(garments, queries, strict=True):
            tiles = [label_below(query, f"{g.category_name[:16]} {g.score:.2f}")]
            for m in g.matches:
                with Image.open(index.image_path(m.item_id)) as shop:
                    tile = crop_tile(shop, m.box, GRID_TILE, category_color(m.category))
                tiles.append(label_below(tile, f"#{m.item_id} {m.score:.2f}"))
            rows.append(draw_grid(tiles, ncols=len(tiles)))
    if not rows:
        return label_below(Image.new("RGB", (GRID_TILE * 3, GRID_TILE), "white"), "no garments")
    return draw_grid(rows, ncols=1)
