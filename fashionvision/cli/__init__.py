"""`fashionvision <command>`: parse arguments, call the library, format the result.

Each command lives in its own module of this package exposing ``register(subparsers)``, which adds
a sub-parser whose ``func(args) -> int`` does the work. User errors (`FashionVisionError`) are
printed as one message per line with exit code 1 and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fashionvision.errors import FashionVisionError

COMMAND_MODULES: tuple[str, ...] = (
    "synth",
    "validate",
    "show",
    "convert",
    "evaluate",
    "evaluate_retrieval",
    "train",
    "predict",
    "retrieve",
    "demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fashionvision", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"fashionvision.cli.{name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FashionVisionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
