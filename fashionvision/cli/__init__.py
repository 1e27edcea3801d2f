"""`fashionvision <command>`: parse arguments, call the library, format the result.

Each command lives in its own module of this package exposing ``register(subparsers)``, which adds
a sub-parser whose ``func(args) -> int`` does the work.  `main` is the one error path of every
command: user errors (`FashionVisionError`, and `OSError` such as a permission denied) are printed
as ``error: ...`` lines with exit code 1 and no traceback; Python warnings and the package's log
warnings raised during a command are printed as plain ``warning: <message>`` lines on stderr
(each message once, no source line); bad option values are argparse usage errors (exit code 2).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import sys
import warnings
from collections.abc import Iterator

from fashionvision.errors import FashionVisionError

COMMAND_MODULES: tuple[str, ...] = (
    "synth",
    "validate",
    "show",
    "convert",
    "evaluate",
    "evaluate_retrieval",
    "analyze",
    "train",
    "predict",
    "retrieve",
    "index",
    "search",
    "demo",
    "serve",
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fashionvision")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fashionvision", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"fashionvision {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"fashionvision.cli.{name}")
        module.register(sub)
    return parser


class _WarningPrinter(logging.Handler):
    """Prints warnings as ``warning: <message>`` on stderr, each distinct message once.

    The same text may come both as a log record and as a Python warning (the library logs and
    warns, for callers that watch either); the user sees it once.
    """

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.seen: set[str] = set()

    def say(self, message: str) -> None:
        if message in self.seen:
            return
        self.seen.add(message)
        print(f"warning: {message}", file=sys.stderr, flush=True)

    def emit(self, record: logging.LogRecord) -> None:
        self.say(record.getMessage())

    def showwarning(self, message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        self.say(str(message))


@contextlib.contextmanager
def plain_warnings() -> Iterator[None]:
    """Route Python warnings and the ``fashionvision`` loggers' warnings to `_WarningPrinter`.

    Deprecation warnings are meant for developers: they stay hidden unless Python was started
    with ``-W`` or ``PYTHONWARNINGS``.
    """
    printer = _WarningPrinter()
    logger = logging.getLogger("fashionvision")
    propagate = logger.propagate
    with warnings.catch_warnings():
        if not sys.warnoptions:
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.showwarning = printer.showwarning
        logger.addHandler(printer)
        logger.propagate = False
        try:
            yield
        finally:
            logger.removeHandler(printer)
            logger.propagate = propagate


def _os_error_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc)


def parse_command_line(
    parser: argparse.ArgumentParser, argv: list[str] | None = None
) -> argparse.Namespace:
    """`parser.parse_args`, except that a command taking ``KEY=VALUE`` overrides also takes them
    after its options (argparse stops filling a positional list at the first option, so
    ``train CONFIG --out RUN a.b=1`` would otherwise be refused)."""
    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    if not hasattr(args, "overrides") or any(a.startswith("-") or "=" not in a for a in extra):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.overrides = [*args.overrides, *extra]
    return args


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse_command_line(parser, argv)
    with plain_warnings():
        try:
            return int(args.func(args) or 0)
        except FashionVisionError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:  # a folder not writable, a disk full: the user's environment
            print(f"error: {_os_error_message(exc)}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
