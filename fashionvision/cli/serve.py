"""`fashionvision serve --index DIR`: the search web page and JSON API over a gallery index.

Loads the index and its model once, then serves with uvicorn: the page at ``/``, the API
(``POST /search``, ``GET /items/{id}``, ``GET /items/{id}/image``, ``GET /health``,
``GET /categories``) and its docs at ``/docs`` (offline).  The index is opened before the server
starts, so a missing or corrupt index is an ``error:`` line and exit code 1, not a traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from fashionvision.cli.options import nonnegative_int, positive_float, positive_int
from fashionvision.errors import FashionVisionError
from fashionvision.service.settings import ServiceSettings

MIB = 1024 * 1024


def register(subparsers: argparse._SubParsersAction) -> None:
    defaults = ServiceSettings()
    parser = subparsers.add_parser(
        "serve",
        help="serve the search web page and JSON API over a gallery index",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--index", required=True, metavar="DIR", help="gallery index (from `fashionvision index`)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default %(default)s)"
    )
    parser.add_argument(
        "--port", type=positive_int, default=8000, help="port (default %(default)s)"
    )
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: auto)")
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-upload-mb",
        type=positive_float,
        default=defaults.max_upload_bytes / MIB,
        metavar="MB",
        help="largest photo upload in MiB, 413 above (default %(default)g)",
    )
    limits.add_argument(
        "--max-megapixels",
        type=positive_float,
        default=defaults.max_pixels / 1e6,
        metavar="MP",
        help="largest photo in millions of pixels, 413 above (default %(default)g)",
    )
    limits.add_argument(
        "--max-queue",
        type=nonnegative_int,
        default=defaults.max_queue,
        metavar="N",
        help="searches that may wait for a worker; more get 503 (default %(default)s)",
    )
    limits.add_argument(
        "--timeout-s",
        type=positive_float,
        default=defaults.timeout_s,
        metavar="S",
        help="a search taking longer gets 504 (default %(default)g)",
    )
    limits.add_argument(
        "--worker-threads",
        type=positive_int,
        default=defaults.worker_threads,
        metavar="N",
        help="searches running at once (default %(default)s)",
    )
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> ServiceSettings:
    return ServiceSettings(
        max_upload_bytes=max(1, round(args.max_upload_mb * MIB)),
        max_pixels=max(1, round(args.max_megapixels * 1e6)),
        max_queue=args.max_queue,
        worker_threads=args.worker_threads,
        timeout_s=args.timeout_s,
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from fashionvision.service.app import create_app, open_gallery_index

    path = Path(args.index)
    if not path.exists():
        raise FashionVisionError(
            f"--index {path}: no such index (build one with `fashionvision index`)"
        )
    index = open_gallery_index(path, args.device)
    app = create_app(index, settings=settings_from_args(args))
    print(f"serving {len(index)} items from {path} at http://{args.host}:{args.port}/")
    uvicorn.run(app, host=args.host, port=args.port, log_level="info")
    return 0
