"""The project's error types: user errors carry the file and the field they concern."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class FashionVisionError(Exception):
    """Base class for errors caused by user input; the CLI prints them without a traceback."""


@dataclass(frozen=True)
class Problem:
    """One problem found in one file: `field` is a dotted path such as ``item2.landmarks``."""

    path: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: {self.field}" if self.field else self.path
        return f"{where}: {self.message}"


class AnnotationError(FashionVisionError):
    """A malformed annotation file; holds every problem found in it."""

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("AnnotationError needs at least one problem")
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(cls, path: str | Path, field: str, message: str) -> AnnotationError:
        return cls([Problem(str(path), field, message)])


class ConfigError(FashionVisionError):
    """A bad configuration file or override; the message names the key."""


class IndexCorruptError(FashionVisionError):
    """A gallery index file (manifest, catalogue, vector store) that is unreadable or truncated;
    the message names the file."""


class IndexMismatchError(FashionVisionError):
    """A gallery index opened with a model other than the one that embedded it."""


class ItemNotFound(FashionVisionError, KeyError):
    """An item id that the gallery index does not hold (a KeyError for mapping-style callers)."""

    def __str__(self) -> str:  # KeyError's own str() would quote the message
        return str(self.args[0]) if self.args else "item not found"
