"""File and bulk-data helpers: atomic writes of files and folders (a reader never sees a
half-written file, a crash never loses the old one) and pausing the garbage collector while
building many containers."""

from __future__ import annotations

import gc
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from fashionvision.errors import FashionVisionError


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def new_file_mode(path: str | Path) -> int:
    """The permission bits a plain ``open(path, "w")`` would leave: an existing file keeps its
    own, a new one gets ``0o666 & ~umask``."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~_current_umask()


def fsync_path(path: str | Path) -> None:
    """Flush a file's (or a folder's: its entries') data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it over `path`, else delete it.

    The parent folder is created when missing (callers write into folders they own; a command
    checks a file path the user gave first).  The file ends with the permissions a plain
    ``open()`` would give it (`new_file_mode`), not the temporary file's 0600.  `durable` also
    fsyncs the file before the rename and the folder after it, so that a power cut cannot leave
    the new name pointing at unwritten blocks (a killed process alone never can).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, new_file_mode(path))
        if durable:
            fsync_path(tmp_path)
        os.replace(tmp_path, path)
        if durable:
            fsync_path(path.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; on success it replaces `path` (durably).

    Two renames cannot be one atomic step: a crash between them leaves `path` absent (never a
    mix of old and new files), with the previous version at ``.NAME.old``; callers treat a
    missing folder as "rebuild".  On failure the temporary folder is deleted.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = path.with_name(f".{path.name}.old")
    try:
        os.chmod(tmp, 0o777 & ~_current_umask())  # as a plain mkdir, not mkdtemp's 0700
        yield tmp
        for child in tmp.iterdir():
            fsync_path(child)
        fsync_path(tmp)
        shutil.rmtree(old, ignore_errors=True)
        if path.exists():
            os.replace(path, old)
        os.replace(tmp, path)
        fsync_path(path.parent)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def atomic_write(
    path: str | Path, write: Callable[[IO[Any]], None], mode: str = "w", durable: bool = False
) -> None:
    """Call `write(fileobj)` on a temporary file, then rename it to `path` (see `atomic_path`)."""
    with atomic_path(path, durable=durable) as tmp:
        with open(tmp, mode) as f:
            write(f)


def write_json(
    path: str | Path, obj: Any, indent: int | None = None, durable: bool = False
) -> None:
    """Write JSON atomically."""
    atomic_write(path, lambda f: json.dump(obj, f, indent=indent), durable=durable)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many containers at once.

    Bulk construction of lists/dicts triggers collections that re-traverse every live object;
    pausing them makes loading or converting a large split ~2-3x faster (nothing built here forms
    reference cycles, so nothing is leaked).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_json(path: str | Path) -> Any:
    """Read a JSON file; a missing or unparsable file raises FashionVisionError naming it."""
    path = Path(path)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        raise FashionVisionError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise FashionVisionError(f"{path}: is a directory, expected a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FashionVisionError(f"{path}: not valid JSON ({exc})") from None
